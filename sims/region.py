"""Where deep linear stacking is Nesterov: stage ratios to NAG, frontiers in sigma, asymptotic
rates, and stacking with the theorem's assumptions relaxed (docs/theory.md §§3c-3d).

Every measurement is on ``sims.problems.deep_linear_problem(d, kappa, sigma, seed)``: for one seed
Sigma and the direction G of ``W* = I + sigma G / sqrt(d)`` are the same at every sigma, so a seed
is a ray in sigma. Stages are counted to the distance target ``distance_target`` (a fraction of
R_0 equal to ``1e-6 (mu/2) ||I - W*||_F^2``). NAG and GD on the end-to-end matrix (the references)
are computed in closed form from Sigma's spectrum (``theory.spectral.momentum_loss_curve``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from infra.checks import InputError, check_choice, check_int, check_real, check_sigma, check_steps
from sims.families.deep_linear import (
    excess_risk,
    layer_descent,
    stacking_line_search,
    train_stagewise,
    train_stagewise_batch,
)
from sims.problems import deep_linear_problem
from sims.results import DIVERGENCE_FACTOR, NEVER, RunResult, Status
from theory.rates import nesterov_beta
from theory.spectral import gd_steps_on_quadratic, momentum_loss_curve
from theory.stacking_tail import predicted_tail_rate

TARGET = 1e-6
CRITERIA = ("nag-1.3", "acceleration")
SCHEDULES = ("zero", "nesterov", "one", "convex", "line-search", "trainable-0", "trainable-1")
LAYERS = ("new", "all", "all-scaled")
TAIL_WINDOW = (1e-12, 1e-24)  # relative losses bounding the window of the asymptotic rate


def distance_target(sigma_mat, w_star) -> float:
    """The target ``R_t <= 1e-6 (mu/2) ||P_0 - W*||_F^2`` (P_0 = I) as a fraction of R_0: relative
    to the distance to the optimum, not to the initial loss (whose slowest direction holds only
    ~1/kappa of R_0, which biased the fitted slopes of revision 1 low)."""
    error = np.eye(len(w_star)) - w_star
    mu = np.linalg.eigvalsh(sigma_mat)[0]
    return TARGET * mu * float(np.sum(error**2)) / float(np.trace(error @ sigma_mat @ error.T))


def window_rate(losses, upper: float, lower: float) -> float:
    """Per-stage decrease of the log loss between the first stages at or below ``upper`` and
    ``lower`` times the initial loss: ``log(L_a / L_b) / (b - a)``; NaN if ``lower`` is never
    reached."""
    losses = np.asarray(losses)
    hits = [np.flatnonzero(losses <= t * losses[0]) for t in (upper, lower)]
    if not hits[1].size:
        return float("nan")
    a, b = hits[0][0], hits[1][0]
    return float(np.log(losses[a] / losses[b]) / (b - a))


def _spectrum(sigma_mat, w_star):
    """Sigma's eigenvalues and the squared initial errors ``||(I - W*) q_j||^2`` along them."""
    lam, q = np.linalg.eigh(sigma_mat)
    return lam, np.sum(((np.eye(len(lam)) - w_star) @ q) ** 2, axis=0)


def reference_stages(sigma_mat, w_star, method: str, limit: int, beta=None) -> float:
    """Stages of NAG (momentum ``beta``, default beta*, step 1/L) or GD (step 1/L) on R(P) from
    P_0 = I to the distance target, in closed form; ``NEVER`` if not within ``limit``. NAG's loss
    is not monotone: the first stage at or below the target counts, as for every run."""
    lam, weights = _spectrum(sigma_mat, w_star)
    target = distance_target(sigma_mat, w_star)
    if method == "gd":  # monotone: bisection on the closed form
        return gd_steps_on_quadratic(lam, weights, target, 1 / lam[-1], limit)
    beta = nesterov_beta(lam[-1] / lam[0]) if beta is None else beta
    horizon = 256
    while True:
        curve = momentum_loss_curve(lam, weights, 1 / lam[-1], beta, min(horizon, limit))
        hit = np.flatnonzero(curve <= target * curve[0])
        if hit.size:
            return float(hit[0])
        if horizon >= limit:
            return NEVER
        horizon *= 4


@dataclass(frozen=True)
class RegionPoint:
    """One problem: stacking's stages to the distance target (``NEVER`` when not within the
    budget or diverged), NAG's and GD's, and the spectral prediction of stacking's tail rate."""

    stack: float
    nag: float
    gd: float
    status: str
    predicted_rate: float

    @property
    def ratio(self) -> float:
        """Stacking's stages over NAG's (inf when stacking never got there)."""
        return self.stack / self.nag

    @property
    def speedup(self) -> float:
        """GD's stages over stacking's: the acceleration over zero init in the sigma -> 0 limit."""
        return self.gd / self.stack


def region_points(
    d: int, kappa: float, rays, *, layer_grad="euclidean", budget: float = 4.0
) -> list[RegionPoint]:
    """Stacking (beta*, one gradient step on the new layer per stage) on the problem of each
    ``(sigma, seed)`` in ``rays``, run as one batch to the distance target or ``budget`` times
    NAG's stages, whichever comes first."""
    check_int("d", d, low=1)
    check_real("kappa", kappa, low=1.0)
    budget = check_real("budget", budget, low=1.0)
    problems = [
        deep_linear_problem(d, kappa, check_sigma(sigma), seed=seed) for sigma, seed in rays
    ]
    nag = [reference_stages(s, w, "nag", int(400 * math.sqrt(kappa) + 4000)) for s, w in problems]
    gd = [reference_stages(s, w, "gd", int(60 * kappa + 2000)) for s, w in problems]
    targets = [distance_target(s, w) for s, w in problems]
    runs = train_stagewise_batch(
        [
            {"Sigma": s, "W_star": w, "target": t}
            for (s, w), t in zip(problems, targets, strict=True)
        ],
        int(budget * max(nag)) + 1,
        layer_grad=layer_grad,
    )
    points = []
    for (s, w), run, n, g, t in zip(problems, runs, nag, gd, targets, strict=True):
        lam = np.linalg.eigvalsh(s)
        beta, eta = nesterov_beta(lam[-1] / lam[0]), 1 / lam[-1]
        reached = run.steps_to(t)
        points.append(
            RegionPoint(
                reached if reached <= budget * n else NEVER,
                n,
                g,
                str(run.status),
                predicted_tail_rate(s, w, beta, eta, layer_grad),
            )
        )
    return points


def holds(point: RegionPoint, criterion: str, kappa: float) -> bool:
    """``nag-1.3``: stacking within 1.3x NAG's stages. ``acceleration``: stacking beats zero init
    (GD on R, its sigma -> 0 limit) by at least ``sqrt(kappa)/2`` in stages, a fixed fraction of
    the sqrt(kappa)-order factor by which NAG beats it."""
    if criterion == "nag-1.3":
        return point.stack <= 1.3 * point.nag
    return point.speedup >= math.sqrt(kappa) / 2


@dataclass(frozen=True)
class Frontier:
    """Per seed, the largest sigma at which ``criterion`` holds, to the search's resolution:
    ``low`` with censoring "below" when it fails already there, ``high`` with "above" when it
    holds up to there; ``runs``: the stacking runs the search cost."""

    sigma: list
    censored: list
    runs: int


def frontier(
    d: int,
    kappa: float,
    criterion: str,
    seeds,
    *,
    low: float = 0.01,
    high: float = 4.0,
    resolution: float = 1.05,
    layer_grad="euclidean",
) -> Frontier:
    """The largest sigma along each seed's ray where ``holds``, by ``bisect_rays`` with one batch
    of stacking runs per step. A dense grid at that resolution costs ``log(high/low) /
    log(resolution)`` runs per seed, the search about the log2 of that."""
    check_choice("criterion", criterion, CRITERIA)
    seeds = list(seeds)
    budget = 1.3 if criterion == "nag-1.3" else 4.0

    def test(rays) -> list[bool]:
        points = region_points(d, kappa, rays, layer_grad=layer_grad, budget=budget)
        return [holds(p, criterion, kappa) for p in points]

    return bisect_rays(test, seeds, low, high, resolution)


def bisect_rays(test, seeds, low: float, high: float, resolution: float) -> Frontier:
    """Bisection in log sigma on [low, high], all rays in lockstep: ``test(rays)`` says for each
    ``(sigma, seed)`` whether the criterion holds there. Returns, per seed, the largest sigma where
    it holds to within a factor ``resolution``, assuming it fails from some sigma on (where it
    does not, one crossing)."""
    low = check_real("low", low, low=0.0, low_open=True)
    high = check_real("high", high, low=low, low_open=True)
    resolution = check_real("resolution", resolution, low=1.0, low_open=True)
    seeds = list(seeds)
    if not seeds:
        raise InputError("seeds must name at least one seed")

    def run(log_sigmas, which) -> list[bool]:
        return test([(float(np.exp(log_sigmas[i])), seeds[i]) for i in which])

    everyone = range(len(seeds))
    lo, hi = np.full(len(seeds), math.log(low)), np.full(len(seeds), math.log(high))
    at_low, at_high = run(lo, everyone), run(hi, everyone)
    runs = 2 * len(seeds)
    while True:
        which = [i for i in everyone if at_low[i] and not at_high[i]
                 and hi[i] - lo[i] > math.log(resolution)]  # fmt: skip
        if not which:
            break
        mid = (lo + hi) / 2
        for i, ok in zip(which, run(mid, which), strict=True):
            lo[i], hi[i] = (mid[i], hi[i]) if ok else (lo[i], mid[i])
        runs += len(which)
    sigma, censored = [], []
    for i in everyone:
        if not at_low[i]:
            sigma.append(low), censored.append("below")
        elif at_high[i]:
            sigma.append(high), censored.append("above")
        else:
            sigma.append(float(np.exp(lo[i]))), censored.append("")
    return Frontier(sigma, censored, runs)


def spectral_keeps(d: int, kappa: float, sigma: float, seed, factor: float = 1.3) -> bool:
    """Whether the spectral tail rate of euclidean stacking (``theory.stacking_tail``) on the
    problem of ``(sigma, seed)`` is at least NAG's over ``factor``: the asymptotic theory's
    version of the ``nag-1.3`` criterion."""
    s, w = deep_linear_problem(d, kappa, sigma, seed=seed)
    lam = np.linalg.eigvalsh(s)
    beta, eta = nesterov_beta(lam[-1] / lam[0]), 1 / lam[-1]
    return (
        predicted_tail_rate(s, w, beta, eta)
        >= predicted_tail_rate(s, np.eye(d), beta, eta) / factor
    )


def coefficient_keeps(d: int, kappa: float, sigma: float, seed, factor: float = 1.3) -> bool:
    """Whether NAG with its momentum coefficient off by the relative error sigma, beta*(1 + sigma),
    reaches the distance target on the problem of ``(sigma, seed)`` within ``factor`` times exact
    NAG's stages: the ``nag-1.3`` criterion for a system whose frontier shrinks like
    kappa^(-1/2) (docs/theory.md section 4). A coefficient of 1 or more does not: the slowest
    mode's characteristic roots multiply to beta (1 - 1/kappa) >= 1 - 1/kappa, so it contracts
    by at most about 1/(2 kappa) a stage, where NAG's rate is about kappa^(-1/2)."""
    s, w = deep_linear_problem(d, kappa, check_sigma(sigma), seed=seed)
    lam = np.linalg.eigvalsh(s)
    beta = nesterov_beta(lam[-1] / lam[0]) * (1 + sigma)
    if beta >= 1:
        return False
    nag = reference_stages(s, w, "nag", int(400 * math.sqrt(kappa) + 4000))
    return reference_stages(s, w, "nag", int(factor * nag) + 1, beta=beta) <= factor * nag


@dataclass(frozen=True)
class TailPoint:
    """Measured asymptotic rate (``window_rate`` over ``TAIL_WINDOW``; NaN when the run did not
    get that far) and the spectral prediction (``theory.stacking_tail``), per stage in log loss."""

    measured: float
    predicted: float
    status: str


def tail_points(d: int, kappa: float, rays, *, layer_grad="euclidean") -> list[TailPoint]:
    """Stacking (beta*) run deep into its tail, on the problem of each ``(sigma, seed)``."""
    problems = [deep_linear_problem(d, kappa, sigma, seed=seed) for sigma, seed in rays]
    runs = train_stagewise_batch(
        [{"Sigma": s, "W_star": w} for s, w in problems],
        int(150 * math.sqrt(kappa) + 400),  # 1e-26 R_0 at up to ~3x NAG's stages
        layer_grad=layer_grad,
        target=TAIL_WINDOW[1] / 100,
    )
    out = []
    for (s, w), run in zip(problems, runs, strict=True):
        lam = np.linalg.eigvalsh(s)
        beta, eta = nesterov_beta(lam[-1] / lam[0]), 1 / lam[-1]
        out.append(
            TailPoint(
                window_rate(run.losses, *TAIL_WINDOW),
                predicted_tail_rate(s, w, beta, eta, layer_grad),
                str(run.status),
            )
        )
    return out


def check_variant(schedule: str, steps_per_stage, layers: str) -> int:
    """Validate a variant of ``train_stagewise_variant`` (raising ``InputError`` naming what is
    wrong); returns the steps per stage."""
    check_choice("schedule", schedule, SCHEDULES)
    steps = check_steps("steps_per_stage", steps_per_stage, low=1)
    check_choice("layers", layers, LAYERS)
    if schedule in ("line-search", "trainable-0", "trainable-1") and (
        steps != 1 or layers != "new"
    ):
        raise InputError(
            f"schedule {schedule!r} is defined for one step on the new layer only "
            f"(steps_per_stage=1, layers='new'), got steps_per_stage={steps}, layers={layers!r}"
        )
    return steps


def train_stagewise_variant(
    Sigma, W_star, stages: int, *, schedule="nesterov", steps_per_stage=1, layers="new", target=None
) -> RunResult:
    """Stacking with the assumptions of Theorem 3.1 relaxed (docs/theory.md §3d). Stage t adds a
    layer initialised at ``b_t W_t`` and takes ``steps_per_stage`` gradient steps of size
    ``eta = 1/L`` on the new layer only (``layers="new"``), on every layer (``"all"``,
    ``sims.families.deep_linear.layer_descent``, the loop of ``train_layers``), or on every layer with step ``eta / depth``
    (``"all-scaled"``, so that the end-to-end step stays about eta). Schedules: ``zero`` (b = 0), ``nesterov`` (beta*),
    ``one`` (copy, b = 1), ``convex`` (``b_t = (t - 1)/(t + 2)``, the schedule of the convex
    analysis), and, for one step on the new layer only, ``line-search`` (exact per-stage line
    search, ``stacking_line_search``) and ``trainable-0`` / ``trainable-1`` (beta a trainable
    scalar from 0 or 1, one gradient step of size eta per stage). ``target``: stop at ``target``
    times the initial loss."""
    steps = check_variant(schedule, steps_per_stage, layers)
    stages = check_steps("stages", stages, low=1)
    if schedule == "line-search":
        return stacking_line_search(Sigma, W_star, stages, target=target)
    if schedule.startswith("trainable"):
        beta = float(schedule[-1])
        return train_stagewise(Sigma, W_star, stages, "trainable", beta=beta, target=target)
    if schedule in ("nesterov", "zero", "one") and steps == 1 and layers == "new":
        init = {"nesterov": "stack", "zero": "zero", "one": "copy"}[schedule]
        return train_stagewise(Sigma, W_star, stages, init, target=target)
    return variant_loop(Sigma, W_star, stages, schedule, steps, layers, target)


def variant_loop(Sigma, W_star, stages, schedule, steps, layers, target) -> RunResult:
    """The stage loop of ``train_stagewise_variant`` in NumPy: the new layer takes ``steps``
    steps ``W <- W - eta ((I + W) P - W*) Sigma P^T`` with P the product of the layers below, or
    every layer takes them (``layer_descent``); arguments as ``train_stagewise_variant`` checks them."""
    sigma_mat = np.asarray(Sigma, dtype=float)
    w_star = np.asarray(W_star, dtype=float)
    lam = np.linalg.eigvalsh(sigma_mat)
    eta, beta_star = 1 / lam[-1], nesterov_beta(lam[-1] / lam[0])
    target = 0.0 if target is None else check_real("target", target, low=0.0, high=1.0)
    eye = np.eye(len(lam))

    def risk(p):
        return excess_risk(p, w_star, sigma_mat)

    p, ws, losses, status = eye, [], [risk(eye)], Status.MAX_STAGES
    with np.errstate(all="ignore"):
        for t in range(1, stages + 1):
            b = {"zero": 0.0, "nesterov": beta_star, "one": 1.0, "convex": (t - 1) / (t + 2)}[
                schedule
            ]
            new = b * ws[-1] if ws else np.zeros_like(eye)
            if layers == "new":
                for _ in range(steps):
                    new = new - eta * ((eye + new) @ p - w_star) @ sigma_mat @ p.T
                p = (eye + new) @ p
                ws.append(new)
                losses.append(risk(p))
            else:
                lr = eta if layers == "all" else eta / (len(ws) + 1)
                ws.append(new)
                trained = layer_descent(sigma_mat, w_star, ws, steps, lr, np.ones(len(ws), bool))
                losses.append(float(trained.losses[-1]))
            if not np.isfinite(losses[-1]) or losses[-1] > DIVERGENCE_FACTOR * losses[0]:
                status = Status.DIVERGED
                break
            if target > 0 and losses[-1] <= target * losses[0]:
                status = Status.CONVERGED
                break
    return RunResult(np.array(losses), status)
