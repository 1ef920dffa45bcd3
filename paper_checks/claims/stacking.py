"""Claims of "Stacking as Accelerated Gradient Descent" (Agarwal, Awasthi, Kale, Zhao; arXiv
2403.04978) on deep linear residual networks (docs/theory.md §§2-4).

The paper's Theorem 3.1 and Figures 4-5 are known to us only by name and caption; the set-up and
the quantitative expectations below are ``reconstructed`` (see docs/theory.md), and each claim says
so. Experiments are cached per scale so that claims, controls and figures share one computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from figures import worst_case as wc_figures
from paper_checks.expect import (
    AtLeast,
    AtMost,
    Between,
    Near,
    exact,
    mean_interval,
    median_interval,
    order_median_interval,
    pooled_slope,
)
from paper_checks.measure import at_scales, fitted_slope, seeds
from paper_checks.registry import Control, Measurement, Revision, claim, figure
from sims.families.deep_linear import (
    gd_reference,
    nesterov_reference,
    stacking_line_search,
    train_stagewise,
    train_stagewise_batch,
)
from sims.problems import deep_linear_problem
from sims.region import TARGET, distance_target, window_rate
from sims.robust_paths import bound_along, damped_nag_path, stacking_matrices, stacking_path
from theory import spectral
from theory.rates import nesterov_beta

PAPER = "Agarwal et al. 2024 (arXiv 2403.04978)"
KAPPAS = (10, 100, 1000, 10000)
SIGMAS = (0.01, 0.05, 0.1)

FIGURE_SIZES = {"quick": (8, 5), "paper": (16, 10)}  # (d, seeds) of the deep-linear figures


@dataclass(frozen=True)
class Sizes:
    dimension: int
    seeds: int


SIZES = {"quick": Sizes(dimension=8, seeds=3), "paper": Sizes(dimension=16, seeds=5)}


def problems(scale: str, key: str, kappa: float, sigma: float, count: int | None = None) -> list:
    """The (Sigma, W*) instances of experiment ``key``, seeded from the key and kappa; ``count``
    of them (default the scale's seeds)."""
    size = SIZES[scale]
    return [
        deep_linear_problem(size.dimension, kappa, sigma, seed=s)
        for s in seeds(count or size.seeds, f"{key}/kappa={kappa:g}")
    ]


def _budget(kappa, init):
    """Stage budget: generous multiples of the predicted stages to 1e-6."""
    return int(30 * kappa + 200) if init == "zero" else int(60 * np.sqrt(kappa) + 200)


def tail_rate(losses, target) -> float:
    """Per-stage contraction of the loss over the second half of the run (in log loss), between
    the first stages below ``sqrt(target) L_0`` and ``target L_0`` (``sims.region.window_rate``);
    NaN if the run never reached the target."""
    return window_rate(losses, np.sqrt(target), target)


def gd_stages(sigma_mat, w_star, kappa) -> tuple[float, float]:
    """GD's stages to the distance target on R(P) from P_0 = I and its tail rate, in closed form:
    P_t - W* = (I - W*)(I - eta Sigma)^t (theory.spectral)."""
    lam, q = np.linalg.eigh(sigma_mat)
    weights = np.sum(((np.eye(len(lam)) - w_star) @ q) ** 2, axis=0)
    target, eta, budget = distance_target(sigma_mat, w_star), 1 / lam[-1], _budget(kappa, "zero")
    ends = [spectral.gd_steps_on_quadratic(lam, weights, t, eta, budget)
            for t in (np.sqrt(target), target)]  # fmt: skip
    if not np.isfinite(ends[1]):
        return ends[1], float("nan")
    losses = [spectral.gd_loss_on_quadratic(lam, weights, eta, int(n)) for n in ends]
    return ends[1], float(np.log(losses[0] / losses[1]) / (ends[1] - ends[0]))


@cache
def stages_table(scale: str) -> dict:
    """Stages to the distance target (``distance_target``) per (method, sigma, kappa), one entry
    per seed: euclidean and functional stacking, zero init, and NAG and GD (closed form) on the
    end-to-end matrix (GD at sigma = 0.05 only); inf where a run never reached the target. Under
    ("rate", method, sigma, kappa): the tail rates (``tail_rate``)."""
    table = {}
    for sigma in SIGMAS:
        for kappa in KAPPAS:
            instances = problems(scale, "stacking.stages-table", kappa, sigma)
            targets = [distance_target(s, w) for s, w in instances]
            specs = [{"Sigma": s, "W_star": w, "target": t}
                     for (s, w), t in zip(instances, targets, strict=True)]  # fmt: skip
            runs = {
                label: train_stagewise_batch(
                    specs, _budget(kappa, init), init=init, layer_grad=layer_grad
                )
                for label, init, layer_grad in (
                    ("stack", "stack", "euclidean"),
                    ("stack-functional", "stack", "functional"),
                    ("zero", "zero", "euclidean"),
                )
            }
            runs["nag"] = [nesterov_reference(s, w, _budget(kappa, "stack")) for s, w in instances]
            for label, results in runs.items():
                pairs = list(zip(results, targets, strict=True))
                table[(label, sigma, kappa)] = [r.steps_to(t) for r, t in pairs]
                table[("rate", label, sigma, kappa)] = [tail_rate(r.losses, t) for r, t in pairs]
            if sigma == 0.05:
                gd = [gd_stages(s, w, kappa) for s, w in instances]
                table[("gd", sigma, kappa)] = [n for n, _ in gd]
                table[("rate", "gd", sigma, kappa)] = [r for _, r in gd]
    return table


@claim(
    id="stacking.acceleration",
    source=f"{PAPER}, Theorem 3.1 and Figure 4",
    provenance="reconstructed",
    statement="near the identity (sigma = 0.05) stacking needs ~sqrt(kappa) stages to reach a "
    "fixed accuracy where zero initialisation needs ~kappa",
    measurement="kappa in {10, 100, 1000, 10000}, one point per seed: log-log slope (linregress "
    "interval) of the stages to R_t <= 1e-6 (mu/2) ||P_0 - W*||^2 over kappa ('... slope'), and of "
    "the tail rate (per-stage contraction of the loss over the second half of the run, in log "
    "loss) over kappa ('... tail-rate slope'; -1/2 for NAG, -1 for GD)",
    expect={
        "stacking slope": Between(0.4, 0.6),
        "zero-init slope": Between(0.9, 1.1),
        "stacking tail-rate slope": Between(-0.6, -0.4),
        "zero-init tail-rate slope": Between(-1.1, -0.9),
    },
    positive=Control(
        "exact NAG (as stacking) and GD in closed form (as zero init) on the "
        "end-to-end matrix, same instances",
        methods=("nag", "gd"),
    ),
    negative=Control("beta = 0 (zero init) in place of stacking", methods=("zero", "zero")),
    figures=("deep-linear-inits", "deep-linear-steps-vs-kappa"),
    group="stacking.stages-table",
    minutes=0.1,
    revisions=(
        Revision(
            2,
            "target relative to the distance to the optimum, R_t <= 1e-6 (mu/2) ||P_0 - W*||^2, "
            "instead of 1e-6 R_0 (the slowest direction holds ~1/kappa of R_0, so a target "
            "relative to R_0 biased both slopes low: exact NAG/GD fitted 0.44 and 0.88, the "
            "positive control failed); tail-rate slopes added",
        ),
    ),
)
def _acceleration(scale, *, methods=("stack", "zero")):
    table = stages_table(scale)
    fast, slow = methods
    slopes = {}
    for name, label in (("stacking", fast), ("zero-init", slow)):
        slopes[f"{name} slope"] = pooled_slope({k: table[(label, 0.05, k)] for k in KAPPAS})
        slopes[f"{name} tail-rate slope"] = pooled_slope(
            {k: table[("rate", label, 0.05, k)] for k in KAPPAS}
        )
    medians = {label: [float(np.median(table[(label, 0.05, k)])) for k in KAPPAS]
               for label in (fast, slow)}  # fmt: skip
    return Measurement(
        slopes,
        {"kappas": list(KAPPAS), "median_stages": medians,
         "slopes": {k: v.as_dict() for k, v in slopes.items()}},
        f"stage slopes: {fast} {slopes['stacking slope'].text()}, {slow} "
        f"{slopes['zero-init slope'].text()}; tail-rate slopes: {fast} "
        f"{slopes['stacking tail-rate slope'].text()}, {slow} "
        f"{slopes['zero-init tail-rate slope'].text()}; at kappa=1e4: {fast} "
        f"{medians[fast][-1]:.0f}, {slow} {medians[slow][-1]:.0f} stages",
    )  # fmt: skip


@claim(
    id="stacking.matches-nesterov",
    source=f"{PAPER}, Theorem 3.1 (stacking = Nesterov up to error terms)",
    provenance="reconstructed",
    statement="for W* near the identity (sigma <= 0.1) euclidean stacking needs at most 1.3 times "
    "the stages of Nesterov's method on the end-to-end matrix",
    measurement="max over sigma in {0.01, 0.05, 0.1}, kappa in {10, ..., 1e4} and seeds of "
    "stages_stack / stages_NAG to R_t <= 1e-6 (mu/2) ||P_0 - W*||^2 ('worst ratio', a worst "
    "case: no interval)",
    expect={"worst ratio": AtMost(1.3)},
    positive=Control("NAG against itself", method="nag"),
    negative=Control("zero init in place of stacking", method="zero"),
    group="stacking.stages-table",
    revisions=(
        Revision(
            2,
            "stages to a target relative to the distance to the optimum instead of 1e-6 R_0 (the "
            "experiment it shares with stacking.acceleration changed); the finding stands",
        ),
    ),
)
def _matches_nesterov(scale, *, method="stack"):
    table = stages_table(scale)
    ratios = {
        f"sigma={s},kappa={k}": float(
            np.max(np.divide(table[(method, s, k)], table[("nag", s, k)]))
        )
        for s in SIGMAS
        for k in KAPPAS
    }
    worst_key = max(ratios, key=ratios.get)
    return Measurement(
        {"worst ratio": exact(ratios[worst_key], SIZES[scale].seeds)},
        {"max_ratio_per_cell": ratios},
        f"worst ratio {ratios[worst_key]:.3f} at {worst_key}",
    )


TRAINED_BETAS = ("gradient from 0", "gradient from 1", "line search")


@cache
def trainable_stages(scale: str) -> dict:
    """Per kappa in {10, 100, 1000} (sigma = 0.05) and seed: stages to the distance target with
    beta fixed at beta*, fixed at 0 (zero init), trained by one gradient step of size eta per
    stage started at beta*, at 0 and at 1, and chosen by exact line search per stage; and the
    final beta of each trained run."""
    out = {}
    for kappa in (10, 100, 1000):
        instances = problems(scale, "stacking.trainable-beta", kappa, 0.05)
        specs = [{"Sigma": s, "W_star": w, "target": distance_target(s, w)} for s, w in instances]
        budget = 20 * _budget(kappa, "stack")
        runs = {
            "fixed beta*": train_stagewise_batch(specs, budget, init="stack"),
            "fixed 0": train_stagewise_batch(specs, budget, init="stack", beta=0.0),
            "gradient from beta*": train_stagewise_batch(specs, budget, init="trainable"),
            "gradient from 0": train_stagewise_batch(specs, budget, init="trainable", beta=0.0),
            "gradient from 1": train_stagewise_batch(specs, budget, init="trainable", beta=1.0),
            "line search": [stacking_line_search(s, w, budget, target=spec["target"])
                            for (s, w), spec in zip(instances, specs, strict=True)],
        }  # fmt: skip
        for name, results in runs.items():
            out[(name, kappa)] = [
                (r.steps_to(spec["target"]), float(r.betas[-1]) if r.betas.size else math.nan)
                for r, spec in zip(results, specs, strict=True)
            ]
    return out


@claim(
    id="stacking.trainable-beta",
    source=f"{PAPER}, experiments (trainable beta)",
    provenance="secondary",
    statement="making the stacking scale beta trainable does not compromise stacking",
    measurement="sigma = 0.05, kappa in {10, 100, 1000}: median stages to R_t <= 1e-6 (mu/2) "
    "||P_0 - W*||^2 with beta trained, over those with beta fixed at beta*; the worst over kappa "
    "('worst ratio, <training>') for beta trained by one gradient step of size eta per stage "
    "started at 0 and at 1, and for beta chosen afresh each stage by exact line search on that "
    "stage's loss (sims.families.deep_linear.stacking_line_search); final betas against beta* reported",
    expect={f"worst ratio, {name}": AtMost(1.5) for name in TRAINED_BETAS},
    positive=Control(
        "beta trained by gradient steps started at beta* (training that starts at "
        "the answer) in place of each trained beta",
        stand_in="gradient from beta*",
    ),
    negative=Control(
        "beta fixed at 0 (zero init: training that never moves beta from a start "
        "at 0) in place of each trained beta",
        stand_in="fixed 0",
    ),
    group="stacking.stages-table",
    revisions=(
        Revision(
            2,
            "beta no longer starts at beta* only: started at 0 and at 1 (gradient steps of size "
            "eta) and chosen by exact line search per stage; revision 1 started at beta*, where "
            "beta moved 2.5e-3, so training beta the wrong way gave the same stages (ratio "
            "1.000) and the measurement could not see what training beta does",
        ),
    ),
)
def _trainable(scale, *, stand_in=None):
    """``stand_in``: the training run in place of every trained beta (None: each its own)."""
    table = trainable_stages(scale)
    kappas = sorted({k for _, k in table})
    ratios, finals = {}, {}
    for name in TRAINED_BETAS:
        source = stand_in or name
        ratios[name] = {
            k: float(np.median([n for n, _ in table[(source, k)]])
                     / np.median([n for n, _ in table[("fixed beta*", k)]]))
            for k in kappas
        }  # fmt: skip
        finals[name] = {k: float(np.median([b for _, b in table[(source, k)]])) for k in kappas}
    worst = {name: max(r.values()) for name, r in ratios.items()}
    return Measurement(
        {f"worst ratio, {name}": exact(worst[name], SIZES[scale].seeds) for name in TRAINED_BETAS},
        {"ratio_over_fixed_beta_star": ratios, "median_final_beta": finals,
         "beta_star": {k: nesterov_beta(k) for k in kappas}},
        "; ".join(
            f"{name}: worst ratio {worst[name]:.2f} (final beta at kappa = 1000: "
            f"{finals[name][1000]:.3f})" for name in TRAINED_BETAS
        ) + f"; beta* at kappa = 1000: {nesterov_beta(1000):.3f}",
    )  # fmt: skip


@claim(
    id="stacking.error-identities",
    source=f"{PAPER}, §3 (stacking is Nesterov with errors, Lemma 3.1)",
    provenance="reconstructed",
    statement="one stacking stage deviates from one NAG step on P by exactly E1 (I - eta Sigma) + "
    "E2 (euclidean) or E1 (I - eta Sigma) (functional), with E1 = beta W_t^2 P_{t-1}, "
    "E2 = -eta grad R(Y_t)(P_t^T P_t - I); stack with beta = 0 is zero init bit for bit",
    measurement="over 30 stages, sigma in {0.1, 0.5} and seeds: max ||deviation - prediction|| / "
    "||P_{t+1} - P_t|| ('identity residual'); max relative mismatch of the kernel's reported "
    "|E1|, |E2| and these formulas ('reported-E mismatch'); max |loss difference| of beta = 0 "
    "stacking and zero init ('beta=0 difference')",
    expect={
        "identity residual": AtMost(1e-10),
        "reported-E mismatch": AtMost(1e-8),
        "beta=0 difference": AtMost(0.0),
    },
    positive=Control(
        "the NumPy reference of the recursion (sims/families/deep_linear/reference.py), an independent "
        "implementation, in place of the Numba kernel",
        backend="numpy",
    ),
    negative=Control(
        "a perturbed prediction (E1 left out) and beta = 0.01 compared with zero init",
        keep_e1=0.0,
        beta_against_zero_init=0.01,
    ),
    must_hold=True,
)
def _identities(scale, *, backend="numba", keep_e1=1.0, beta_against_zero_init=0.0):
    """``keep_e1``: the weight of E1 in the predicted step; ``beta_against_zero_init``: the
    constant beta whose run is compared with zero init's."""
    d = SIZES[scale].dimension
    worst_identity, worst_report, stages = 0.0, 0.0, 30
    for layer_grad in ("euclidean", "functional"):
        for sigma in (0.1, 0.5):
            for sigma_mat, w_star in problems(scale, "stacking.error-identities", 100, sigma):
                beta = nesterov_beta(100)
                ps, ws, eta = stacking_matrices(sigma_mat, w_star, stages, beta, layer_grad)
                run = train_stagewise(
                    sigma_mat, w_star, stages, layer_grad=layer_grad, backend=backend
                )
                for t in range(1, stages):
                    p, p_prev, w = ps[t], ps[t - 1], ws[t]
                    look = p + beta * (p - p_prev)
                    nag_step = look - eta * (look - w_star) @ sigma_mat
                    y = (np.eye(d) + beta * w) @ p
                    e1 = beta * w @ w @ p_prev
                    e2 = (
                        -eta * (y - w_star) @ sigma_mat @ (p.T @ p - np.eye(d))
                        if layer_grad == "euclidean"
                        else np.zeros((d, d))
                    )
                    predicted = keep_e1 * e1 @ (np.eye(d) - eta * sigma_mat) + e2
                    step = np.linalg.norm(ps[t + 1] - p)
                    worst_identity = max(
                        worst_identity, np.linalg.norm(ps[t + 1] - nag_step - predicted) / step
                    )
                    if layer_grad == "euclidean":
                        for reported, formula in ((run.e1[t], e1), (run.e2[t], e2)):
                            exact_norm = np.linalg.norm(formula) / step
                            worst_report = max(
                                worst_report, abs(reported - exact_norm) / exact_norm
                            )
    sigma_mat, w_star = problems(scale, "stacking.error-identities", 100, 0.3)[0]
    difference = float(
        np.max(
            np.abs(
                train_stagewise(
                    sigma_mat, w_star, 100, beta=beta_against_zero_init,
                    backend=backend,
                ).losses
                - train_stagewise(sigma_mat, w_star, 100, init="zero", backend=backend).losses
            )
        )
    )  # fmt: skip
    return Measurement(
        {
            "identity residual": exact(worst_identity),
            "reported-E mismatch": exact(worst_report),
            "beta=0 difference": exact(difference),
        },
        {"max_identity_residual": worst_identity, "max_reported_error_mismatch": worst_report,
         "beta0_minus_zero_init": difference},
        f"identity residual {worst_identity:.1e}, reported-E mismatch {worst_report:.1e}, "
        f"beta=0 - zero init: {difference:.1e}",
    )  # fmt: skip


FRONTIER_SIGMAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
FRONTIER_KAPPAS = (10, 100, 1000)


@cache
def frontier_runs(scale: str) -> dict:
    """Per (layer_grad, kappa, sigma): the stacking runs and NAG's stages to 1e-6 (per seed)."""
    out = {}
    for kappa in FRONTIER_KAPPAS:
        budget = 10 * _budget(kappa, "stack")
        for sigma in FRONTIER_SIGMAS:
            instances = problems(scale, "stacking.frontier", kappa, sigma)
            nag = [nesterov_reference(s, w, budget).steps_to(TARGET) for s, w in instances]
            for layer_grad in ("euclidean", "functional"):
                runs = train_stagewise_batch(
                    [{"Sigma": s, "W_star": w} for s, w in instances],
                    budget,
                    layer_grad=layer_grad,
                    target=TARGET,
                )
                out[(layer_grad, kappa, sigma)] = (runs, nag)
    return out


def accelerates(stages, nag_stages) -> bool:
    """A run accelerates when it reaches 1e-6 within twice NAG's stages."""
    return stages <= 2 * nag_stages


def frontier_stages(scale: str, functional: str = "functional stacking") -> dict:
    """Per (layer_grad, kappa, sigma): (stages to 1e-6 per seed, NAG's per seed), all measured;
    ``functional``: whose stages stand for functional stacking's ("exact NAG": it never stops
    accelerating, so any euclidean frontier on the grid lies below it; "euclidean stacking":
    the same frontier)."""
    runs = frontier_runs(scale)
    out = {}
    for (layer_grad, kappa, sigma), (results, nag) in runs.items():
        if functional == "exact NAG" and layer_grad == "functional":
            stages = list(nag)
        elif functional == "euclidean stacking":
            stages = [r.steps_to(TARGET) for r in runs[("euclidean", kappa, sigma)][0]]
        else:
            stages = [r.steps_to(TARGET) for r in results]
        out[(layer_grad, kappa, sigma)] = (stages, nag)
    return out


@claim(
    id="stacking.sigma-frontier",
    source=f"{PAPER}, Figure 5 (caption: for higher sigma stacking diverges in early stages)",
    provenance="reconstructed",
    statement="as W* moves away from the identity (sigma grows) euclidean stacking stops "
    "accelerating or diverges before functional stacking does (the functional layer gradient "
    "removes the metric error E2); the frontier sigma per kappa is a finding",
    measurement="kappa in {10, 100, 1000}, sigma in {0.05, ..., 2}: per geometry, the frontier = "
    "the smallest sigma at which most seeds fail to reach 1e-6 within 2x NAG's stages (none: "
    "beyond 2); the fraction of kappas whose euclidean frontier lies strictly below the "
    "functional one ('kappas with euclidean below functional')",
    expect={"kappas with euclidean below functional": AtLeast(1.0)},
    positive=Control(
        "exact NAG's measured stages in place of functional stacking's (NAG keeps "
        "its rate at every sigma, so it has no frontier on the grid)",
        functional="exact NAG",
    ),
    negative=Control(
        "euclidean stacking's measured stages in place of functional stacking's "
        "(the same frontier, so not strictly below)",
        functional="euclidean stacking",
    ),
    figures=("deep-linear-sigma",),
    group="stacking.frontier-and-errors",
    revisions=(
        Revision(
            2,
            "revision 1 asked only whether some sigma <= 2 breaks euclidean stacking, which sigma "
            "= 2 does for every kappa (the claim could not miss); now the euclidean frontier must "
            "lie below the functional one",
        ),
        Revision(
            3,
            "measured controls (exact NAG's stages, euclidean stacking's stages in place of "
            "functional stacking's) in place of planted stage counts (issue 28); the claim arm is "
            "unchanged",
        ),
    ),
)
def _sigma_frontier(scale, *, functional="functional stacking"):
    table = frontier_stages(scale, functional)
    runs = frontier_runs(scale)
    frontier, early_blowup, detail = {}, {}, {}
    for layer_grad in ("euclidean", "functional"):
        for kappa in FRONTIER_KAPPAS:
            found = None
            for sigma in FRONTIER_SIGMAS:
                stages, nag = table[(layer_grad, kappa, sigma)]
                ok = [accelerates(s, n) for s, n in zip(stages, nag, strict=True)]
                results = runs[(layer_grad, kappa, sigma)][0]
                rise = max(float(np.max(r.losses[:11]) / r.losses[0]) for r in results)
                detail[f"{layer_grad},kappa={kappa},sigma={sigma}"] = {
                    "accelerating_seeds": int(sum(ok)),
                    "statuses": [r.status for r in results],
                    "max_early_loss_rise": rise,
                }
                if found is None and sum(ok) * 2 < len(ok):
                    found = sigma
                    early_blowup[f"{layer_grad},kappa={kappa}"] = rise
            frontier[f"{layer_grad},kappa={kappa}"] = found
    euclid = [frontier[f"euclidean,kappa={k}"] for k in FRONTIER_KAPPAS]
    beyond = 2 * max(FRONTIER_SIGMAS)  # "no frontier on the grid"
    share = sum(
        (frontier[f"euclidean,kappa={k}"] or beyond) < (frontier[f"functional,kappa={k}"] or beyond)
        for k in FRONTIER_KAPPAS
    ) / len(FRONTIER_KAPPAS)
    text = ", ".join(
        f"kappa={k}: {s if s is not None else '> 2'}"
        for k, s in zip(FRONTIER_KAPPAS, euclid, strict=True)
    )
    functional = ", ".join(f"{frontier[f'functional,kappa={k}'] or '> 2'}" for k in FRONTIER_KAPPAS)
    return Measurement(
        {"kappas with euclidean below functional": exact(share, len(euclid))},
        {"frontier_sigma": frontier, "max_early_loss_rise_at_frontier": early_blowup,
         "cells": detail},
        f"euclidean frontier sigma {text}; functional: {functional}",
    )  # fmt: skip


TRACK_SIGMAS = (0.01, 0.1, 0.3, 0.5, 1.0)


@cache
def tracking_runs(scale: str, init: str) -> dict:
    """kappa = 100, per sigma in TRACK_SIGMAS and seed: (stages, tail rate) to the distance
    target of functional stacking (``init`` "stack"; "zero" for beta = 0) and of NAG."""
    out = {}
    budget = 10 * _budget(100, "stack")
    for sigma in TRACK_SIGMAS:
        instances = problems(
            scale, "stacking.functional-tracks-nesterov", 100, sigma, 4 * SIZES[scale].seeds
        )
        targets = [distance_target(s, w) for s, w in instances]
        runs = train_stagewise_batch(
            [{"Sigma": s, "W_star": w, "target": t}
             for (s, w), t in zip(instances, targets, strict=True)],
            budget, init=init, layer_grad="functional",
        )  # fmt: skip
        nag = [nesterov_reference(s, w, budget) for s, w in instances]
        out[sigma] = [
            ((r.steps_to(t), tail_rate(r.losses, t)), (n.steps_to(t), tail_rate(n.losses, t)))
            for r, n, t in zip(runs, nag, targets, strict=True)
        ]
    return out


@claim(
    id="stacking.functional-tracks-nesterov",
    source=f"{PAPER}, §3 (functional geometry removes the metric error E2)",
    provenance="reconstructed",
    statement="functional stacking (layer gradient G P^{-1}) converges at NAG's rate for sigma up "
    "to 1 (kappa = 100), behind it by a bounded delay",
    measurement=f"kappa = 100, sigma in {{{', '.join(map(str, TRACK_SIGMAS))}}}, "
    f"{at_scales({s: 4 * z.seeds for s, z in SIZES.items()}, ' seeds')}: "
    "per seed, the tail rate (per-stage contraction of the log loss over the second half of the "
    "run to R_t <= 1e-6 (mu/2) ||P_0 - W*||^2) over NAG's, and the stages to that target over "
    "NAG's; medians with distribution-free order-statistic intervals per sigma ('tail-rate "
    "ratio, sigma = s'; 'stage ratio, sigma = 1'): a run that never reaches the target has an "
    "infinite stage ratio (ranked last) and an unknown tail rate (NaN, ranked adversarially); "
    "the median stage delay and the runs that never reached the target reported per sigma",
    expect={
        **{f"tail-rate ratio, sigma = {s}": Between(0.8, 1.25) for s in TRACK_SIGMAS},
        "stage ratio, sigma = 1": AtMost(2.0),
    },
    positive=Control("NAG against itself", nag_against_itself=True),
    negative=Control(
        "functional zero init (beta = 0) in place of functional stacking", init="zero"
    ),
    figures=("deep-linear-sigma",),
    group="stacking.frontier-and-errors",
    revisions=(
        Revision(
            2,
            "the maximum over stages of the loss ratio to NAG (which turns a delay of a few "
            "stages into an exponentially large factor: 11.7 at sigma = 1, quick scale) replaced "
            "by the tail-rate ratio and the stage ratio to a distance-relative target, with the "
            "stage delay reported per sigma",
        ),
        Revision(
            3,
            "means with t intervals replaced by medians with order-statistic intervals: at paper "
            "scale 1 of 20 runs at sigma = 1 never reached the target (its loss fell to 1.4e-4 of "
            "the start, then grew by 1e6), which made the mean stage ratio infinite and the mean "
            "tail-rate ratio NaN, so revision 2 was inconclusive for want of a number; a median "
            "needs only ranks. Chosen after seeing revision 2's paper numbers (said in "
            "docs/claims-history.md); the runs that never reached the target are counted in the "
            "summary",
        ),
    ),
)
def _functional_tracks(scale, *, init="stack", nag_against_itself=False):
    runs = tracking_runs(scale, init)
    rate_ratio, stage_ratio, delay, unreached = {}, {}, {}, {}
    for sigma, pairs in runs.items():
        if nag_against_itself:
            pairs = [(nag, nag) for _, nag in pairs]
        rate_ratio[sigma] = order_median_interval([run[1] / nag[1] for run, nag in pairs])
        stage_ratio[sigma] = order_median_interval([run[0] / nag[0] for run, nag in pairs])
        delay[sigma] = float(np.median([run[0] - nag[0] for run, nag in pairs]))
        unreached[sigma] = sum(not np.isfinite(run[0]) for run, _ in pairs)

    return Measurement(
        {**{f"tail-rate ratio, sigma = {s}": e for s, e in rate_ratio.items()},
         "stage ratio, sigma = 1": stage_ratio[1.0]},
        {"tail_rate_ratio": {s: e.as_dict() for s, e in rate_ratio.items()},
         "stage_ratio": {s: e.as_dict() for s, e in stage_ratio.items()},
         "median_stage_delay": delay, "runs_never_reaching_target": unreached},
        "per sigma, tail-rate ratio / stage ratio / median delay to NAG / runs never reaching "
        "the target: "
        + ", ".join(f"{s}: {rate_ratio[s].text()} / {stage_ratio[s].value:.2f} / {delay[s]:+.0f}"
                    f" / {unreached[s]} of {len(runs[s])}" for s in TRACK_SIGMAS),
    )  # fmt: skip


RANDOM_SCALES = (1e-3, 3e-3, 1e-2, 3e-2)
SMOOTHED_SYSTEMS = ("random init", "smoothed functional GD")


@cache
def random_plateaus(scale: str) -> dict:
    """Per system, noise scale and seed: the plateau (mean loss over the last quarter of 400
    stages) and its flatness (that mean over the mean of the quarter before), for random init
    and for stochastic functional GD on the smoothed risk with the noise kept (``gd_reference``
    with ``noise_scale``; the same noise draws); the flatness of zero init's run."""
    instances = problems(scale, "stacking.random-init-plateau", 10, 0.05)
    out = {system: {"plateaus": {}, "flatness": {}} for system in SMOOTHED_SYSTEMS}

    def flat(losses):
        return float(np.mean(losses[300:]) / np.mean(losses[200:300]))

    for scale_xi in RANDOM_SCALES:
        runs = {
            "random init": train_stagewise_batch(
                [{"Sigma": s, "W_star": w, "seed": k} for k, (s, w) in enumerate(instances)],
                400,
                init="random",
                random_scale=scale_xi,
            ),
            "smoothed functional GD": [
                gd_reference(s, w, 400, noise_scale=scale_xi, seed=k)
                for k, (s, w) in enumerate(instances)
            ],
        }
        for system, system_runs in runs.items():
            out[system]["plateaus"][scale_xi] = [
                float(np.mean(r.losses[300:])) for r in system_runs
            ]
            out[system]["flatness"][scale_xi] = [flat(r.losses) for r in system_runs]
    zero = train_stagewise_batch(
        [{"Sigma": s, "W_star": w} for s, w in instances], 400, init="zero"
    )
    out["zero init flatness"] = [flat(r.losses) for r in zero]
    return out


@claim(
    id="stacking.random-init-plateau",
    source=f"{PAPER}, §2 (random init = stochastic functional GD on a smoothed loss)",
    provenance="reconstructed",
    statement="random initialisation of the new layer leaves noise in the model: the loss "
    "plateaus, at a level growing like random_scale^2",
    measurement="kappa = 10, sigma = 0.05, 400 stages, random_scale in {1e-3, 3e-3, 1e-2, 3e-2}: "
    "plateau = mean loss over stages 300-400 per seed, log-log slope over all seeds ('plateau "
    "slope', linregress interval); flatness = that mean over the mean over stages 200-300 at "
    "random_scale 1e-2, median over seeds with bootstrap interval ('flatness', 1 on a plateau; "
    "zero init keeps converging: far below 1)",
    expect={"plateau slope": Near(2.0, 0.2), "flatness": Between(0.5, 2.0)},
    positive=Control(
        "stochastic functional GD on the smoothed risk with the noise kept in the model, "
        "P_{k+1} = P_k + Xi_k - eta grad R(P_k + Xi_k), on the same instances and noise draws "
        "in place of stacking with random init: its error is linear in the noise, so its "
        "plateau is exactly proportional to s^2 (theory: s^2/2 sum_i lam_i m_i^2 / "
        "(1 - m_i^2), m_i = 1 - eta lam_i)",
        system="smoothed functional GD",
    ),
    negative=Control(
        "the noise scale held at 1e-3 for every random_scale (the plateau cannot "
        "grow); zero init's flatness (no noise, no plateau)",
        plateaus="one scale",
        flatness_of="zero",
    ),
    group="stacking.random-init-plateau",
    revisions=(
        Revision(
            2,
            "revision 1's second condition (the smallest plateau at least 100x zero init's final "
            "loss) compared against a loss of ~1e-31 and could not fail; now the flatness of the "
            "loss over the last two quarters, against zero init's",
        ),
        Revision(
            3,
            "measured positive control: stochastic functional GD on the smoothed risk with the "
            "noise kept (the paper's reading of random init, whose plateau is exactly "
            "proportional to s^2 because its error is linear in the noise), on the same "
            "instances and noise draws; was planted plateaus a s^2 beside random init's "
            "measured flatness. Revision 2's reason for planting ('a system with an s^2 plateau "
            "by construction would be the claim's own noise model') mistook what a positive "
            "control is: a reference where the statement holds by construction. Claim arm, "
            "negative control and bands unchanged (issue 28)",
        ),
    ),
)
def _random_plateau(scale, *, system="random init", plateaus="measured", flatness_of=1e-2):
    """``system``: random init or smoothed functional GD; ``plateaus``: measured per
    random_scale, or every scale's runs made at the first one; ``flatness_of``: the
    random_scale whose runs' flatness is taken, or "zero" (zero init's)."""
    data = random_plateaus(scale)
    measured = data[system]["plateaus"]
    plateaus = {
        "measured": measured,
        "one scale": dict.fromkeys(RANDOM_SCALES, measured[RANDOM_SCALES[0]]),
    }[plateaus]
    flatness = data["zero init flatness"] if flatness_of == "zero" else (
        data[system]["flatness"][flatness_of])  # fmt: skip
    slope = pooled_slope({s: plateaus[s] for s in RANDOM_SCALES})
    flat = median_interval(flatness)
    medians = [float(np.median(plateaus[s])) for s in RANDOM_SCALES]
    zero = float(np.median(data["zero init flatness"]))
    return Measurement(
        {"plateau slope": slope, "flatness": flat},
        {"scales": list(RANDOM_SCALES), "median_plateau": medians, "zero_init_flatness": zero},
        f"slope {slope.text()}; flatness at s = 1e-2 {flat.text()} (zero init {zero:.2g})",
    )  # fmt: skip


PATH_HORIZON = 300


@cache
def path_bounds(scale: str, paths: str = "stacking", with_errors: bool = True) -> dict:
    """Per (path, sigma) at kappa = 100, per seed of the frontier instances: the rows of
    :func:`_bound_row` over the stages up to the target or PATH_HORIZON. ``paths``: stacking's
    (both layer geometries), or NAG's with its momentum damped by c = min(1, sigma)
    (:func:`damped_nag_path`, "damped NAG"), which accelerates when it reaches the target
    within twice exact NAG's stages; ``with_errors=False``: the error terms dropped from the
    bound."""
    out = {}
    damped = paths == "damped NAG"
    for (layer_grad, kappa, sigma), (runs, nag) in frontier_runs(scale).items():
        if kappa != 100 or (damped and layer_grad == "functional"):
            continue
        rows = []
        instances = problems(scale, "stacking.frontier", kappa, sigma)
        for (s, w), run, n in zip(instances, runs, nag, strict=True):
            if damped:
                damping = min(1.0, sigma)
                beta = (1 - damping) * nesterov_beta(kappa)
                stages = nesterov_reference(s, w, 2 * n + 1, beta=beta).steps_to(TARGET)
                path = damped_nag_path(s, w, int(min(stages, PATH_HORIZON)), damping)
            else:
                stages = run.steps_to(TARGET)
                with np.errstate(all="ignore"):  # diverging paths overflow; the bound cuts them
                    path = stacking_path(s, w, int(min(stages, PATH_HORIZON)), layer_grad)
            rows.append(_bound_row(s, w, path, with_errors, accelerates(stages, n),
                                   _nag_rate(s, w, n)))  # fmt: skip
        out[("damped NAG" if damped else layer_grad, sigma)] = rows
    return out


def _bound_row(sigma_mat, w_star, path, with_errors, accelerated, nag_rate) -> tuple:
    """(largest slack ``(Phi_{k+1} - bound_k) / Phi_k``, implied rate ``-mean log(bound_k /
    Phi_k)``, measured rate ``-mean log(Phi_{k+1} / Phi_k)``, accelerated, ``nag_rate``) of the
    bound along ``path = (P_0..P_T, Y_0..Y_{T-1}, eta)`` (:func:`bound_along`)."""
    with np.errstate(all="ignore"):  # diverging paths overflow; they are cut there
        phis, bounds = bound_along(sigma_mat, w_star, *path, with_errors)
        k = len(bounds)
        return (float(np.max((phis[1 : k + 1] - bounds) / phis[:k])),
                float(-np.mean(np.log(bounds / phis[:k]))),
                float(-np.mean(np.log(phis[1 : k + 1] / phis[:k]))), accelerated, nag_rate)  # fmt: skip


def _nag_rate(sigma_mat, w_star, nag_stages) -> float:
    """The rate the exact-NAG bound implies along exact NAG's own path, up to its stages to the
    target (at most PATH_HORIZON): the bound's counterpart of NAG's stages."""
    path = damped_nag_path(sigma_mat, w_star, int(min(nag_stages, PATH_HORIZON)), 0.0)
    return _bound_row(sigma_mat, w_star, path, False, True, np.nan)[1]


@claim(
    id="stacking.errors-vs-critical",
    source=f"{PAPER}, §3 and Lemma 3.1 (stacking = NAG with errors E1, E2; robust Nesterov)",
    provenance="reconstructed",
    statement="along stacking's own trajectory, with E1 as the momentum error and the metric "
    "error E2 as a gradient error, the robust-Nesterov potential bound holds at every stage, and "
    "where stacking accelerates the contraction it implies tracks the measured one",
    measurement="kappa = 100, every sigma in {0.05, ..., 2}, layer geometry and seed of the "
    "frontier runs, stages up to the target (at most 300): the largest (Phi_{k+1} - bound_k) / "
    "Phi_k ('bound slack', round-off only if the bound holds); over the runs that accelerate, the "
    "implied rate -mean log(bound_k / Phi_k) over the measured -mean log(Phi_{k+1} / Phi_k), mean "
    "with t interval ('implied / measured rate'; exact NAG: about 1/2, the bound's 1 - tau "
    "against the (1 - tau)^2 a quadratic's slowest mode contracts by); per geometry, the grid "
    "steps between the measured frontier (first sigma at which most seeds fail to reach 1e-6 "
    "within 2x NAG's stages) and the bound's (first sigma at which most seeds' implied rate falls "
    "below half the rate the exact-NAG bound implies along exact NAG's path on the same "
    "instance), the larger of the two geometries ('bound-frontier offset (grid steps)'); the "
    "runs where the bound's verdict on acceleration differs from the run's reported",
    expect={
        "bound slack": AtMost(1e-9),
        "implied / measured rate": Between(0.3, 1.0),
        "bound-frontier offset (grid steps)": AtMost(1),
    },
    positive=Control(
        "NAG with its momentum damped by the factor 1 - c, c = min(1, sigma) over "
        "the sigma grid, in place of stacking: a momentum error of known size that "
        "the bound sees in full, and a frontier on the grid (the damped runs stop "
        "accelerating from c = 0.2)",
        paths="damped NAG",
    ),
    negative=Control(
        "stacking's trajectories with the error terms dropped from the bound (the "
        "exact-NAG bound applied to an inexact method)",
        with_errors=False,
    ),
    figures=("robust-stacking-errors",),
    group="stacking.frontier-and-errors",
    minutes=0.5,
    revisions=(
        Revision(
            2,
            "the critical momentum-error level of nesterov.error-critical-level (another problem "
            "and another definition of the error) replaced by the robust-Nesterov bound evaluated "
            "along stacking's own trajectory; revision 1 counted runs whose median relative error "
            "fell on the wrong side of that level (1 of 54 at quick scale)",
        ),
        Revision(
            3,
            "added the bound-frontier offset: where the bound stops implying acceleration must "
            "coincide with the measured frontier within one step of the sigma grid (issue 18)",
        ),
        Revision(
            4,
            "positive control: NAG with damped momentum (c = min(1, sigma)), whose frontier lies "
            "on the grid, in place of exact NAG (which never stops accelerating, so it could not "
            "test the offset). On it the old threshold of the bound's frontier, implied rate "
            "< tau/2, put that frontier 2 grid steps past the measured one at quick scale "
            "(implied / measured rate is about 0.6, so tau/2 meant a measured rate near 0.08, "
            "while twice NAG's stages means about half NAG's 0.23): the two frontiers used "
            "unmatched thresholds. The bound's frontier is now where its implied rate falls below "
            "half the one it implies along exact NAG's path on the same instance (issue 28)",
        ),
    ),
)
def _stacking_errors(scale, *, paths="stacking", with_errors=True):
    rows = path_bounds(scale, paths, with_errors)
    everything = [r for cell in rows.values() for r in cell]
    slack = max(r[0] for r in everything)
    ratios = [r[1] / r[2] for r in everything if r[3]]
    wrong = {f"{g},sigma={s}": sum(_bound_accelerates(r) != r[3] for r in cell)
             for (g, s), cell in rows.items()}  # fmt: skip
    estimate = mean_interval(ratios)
    offsets = {g: _frontier_offset({s: cell for (h, s), cell in rows.items() if h == g})
               for g in sorted({g for g, _ in rows})}  # fmt: skip
    offset = max(offsets.values())
    return Measurement(
        {"bound slack": exact(slack, len(everything)), "implied / measured rate": estimate,
         "bound-frontier offset (grid steps)": exact(offset, len(everything))},
        {"bound_slack": slack, "implied_over_measured_rate": estimate.as_dict(),
         "frontier_offset_per_path": offsets,
         "misclassified_per_cell": wrong,
         "cells": {f"{g},sigma={s}": [list(r) for r in cell] for (g, s), cell in rows.items()}},
        f"bound slack {slack:.2e} over {len(everything)} runs; implied / measured rate "
        f"{estimate.text()} over {len(ratios)} accelerating runs; the bound's verdict on "
        f"acceleration disagrees with the run's in {sum(wrong.values())} runs; frontier offset "
        f"{offset} grid steps ({', '.join(f'{g} {o}' for g, o in offsets.items())})",
    )  # fmt: skip


def _bound_accelerates(row) -> bool:
    """The bound implies acceleration when its implied rate is at least half the one it implies
    along exact NAG's path on the same instance (as a run accelerates within twice NAG's
    stages)."""
    return row[1] >= row[4] / 2


def _frontier_offset(cells: dict) -> int:
    """Grid steps between two frontiers on the sigma grid of ``cells = {sigma: rows}``: the first
    sigma at which most runs stop accelerating, and the first at which most runs' bound stops
    implying acceleration (:func:`_bound_accelerates`); "none" counts as one step past the
    grid."""
    sigmas = sorted(cells)

    def first(fails) -> int:
        return next((i for i, s in enumerate(sigmas)
                     if 2 * sum(fails(r) for r in cells[s]) > len(cells[s])), len(sigmas))  # fmt: skip

    return abs(first(lambda r: not r[3]) - first(lambda r: not _bound_accelerates(r)))


@figure(
    "deep-linear-inits",
    "Deep linear residual network (sigma = 0.05): relative loss versus stage for each"
    " initialisation of the new layer, with NAG and GD on the end-to-end matrix; median and"
    " inter-quartile band over seeds (analogue of the paper's Figure 4).",
)
def _deep_linear_inits(scale):
    from figures.deep_linear import plot_loss_panels

    d, n_seeds = FIGURE_SIZES[scale]
    panels = {}
    for kappa, horizon in ((10, 120), (100, 300), (1000, 900)):
        problems = [
            deep_linear_problem(d, kappa, 0.05, seed=s)
            for s in seeds(n_seeds, f"deep-linear-inits/kappa={kappa}")
        ]
        specs = [{"Sigma": s, "W_star": w, "seed": k} for k, (s, w) in enumerate(problems)]
        curves = {}
        for label, options in (
            ("zero init", {"init": "zero"}),
            ("random init", {"init": "random", "random_scale": 0.01}),
            ("stack (beta*)", {"init": "stack"}),
            ("copy (beta = 1)", {"init": "copy"}),
            ("stack, functional", {"init": "stack", "layer_grad": "functional"}),
            ("trainable beta", {"init": "trainable"}),
        ):
            runs = train_stagewise_batch(specs, horizon, **options)
            curves[label] = [r.losses / r.losses[0] for r in runs]
        for label, ref in (("NAG on P", nesterov_reference), ("GD on P", gd_reference)):
            curves[label] = [(r := ref(s, w, horizon)).losses / r.losses[0] for s, w in problems]
        panels[f"kappa = {kappa}, sigma = 0.05"] = curves
    return plot_loss_panels(panels)


@figure(
    "deep-linear-sigma",
    "kappa = 100: euclidean versus functional stacking versus NAG as W* moves away from the"
    " identity (analogue of the paper's Figure 5).",
)
def _deep_linear_sigma(scale):
    from figures.deep_linear import plot_loss_panels

    d, n_seeds = FIGURE_SIZES[scale]
    panels = {}
    for sigma in (0.01, 0.1, 0.3, 0.5, 1.0):
        problems = [
            deep_linear_problem(d, 100, sigma, seed=s) for s in seeds(n_seeds, "deep-linear-sigma")
        ]
        specs = [{"Sigma": s, "W_star": w} for s, w in problems]
        curves = {
            label: [
                r.losses / r.losses[0] for r in train_stagewise_batch(specs, 250, layer_grad=grad)
            ]
            for label, grad in (
                ("stack, euclidean", "euclidean"),
                ("stack, functional", "functional"),
            )
        }
        curves["NAG on P"] = [
            (r := nesterov_reference(s, w, 250)).losses / r.losses[0] for s, w in problems
        ]
        panels[f"sigma = {sigma}, kappa = 100"] = curves
    return plot_loss_panels(panels)


@figure(
    "deep-linear-steps-vs-kappa",
    "Median stages to R_t <= 1e-6 (mu/2) ||P_0 - W*||^2 versus kappa at sigma = 0.05, with"
    " fitted log-log slopes.",
)
def _deep_linear_steps(scale):

    table = stages_table(scale)
    steps = {
        name: [float(np.median(table[(label, 0.05, k)])) for k in KAPPAS]
        for name, label in (
            ("stacking (euclidean)", "stack"),
            ("stacking (functional)", "stack-functional"),
            ("NAG on P", "nag"),
            ("zero init", "zero"),
        )
    }
    slopes = {name: fitted_slope(KAPPAS, v) for name, v in steps.items()}
    return wc_figures.plot_steps_vs_kappa(KAPPAS, steps, slopes)


@figure(
    "robust-stacking-errors",
    "Lemma 3.1 along stacking's own path (kappa = 100, first seed): the measured per-stage"
    " contraction of the potential (solid) and the contraction the robust-Nesterov bound with E1 as"
    " momentum error and E2 as gradient error implies (dashed), euclidean and functional layer"
    " gradients, against Nesterov's 1 - 1/sqrt(kappa).",
)
def _robust_stacking(scale):
    from figures.robust import plot_path_bounds

    curves = {}
    for layer_grad in ("euclidean", "functional"):
        for sigma in (0.1, 0.5, 1.0):
            s, w = problems(scale, "stacking.frontier", 100, sigma)[0]
            with np.errstate(all="ignore"):
                phis, bounds = bound_along(s, w, *stacking_path(s, w, 150, layer_grad))
            k = len(bounds)
            curves[(layer_grad, sigma)] = (bounds / phis[:k], phis[1 : k + 1] / phis[:k])
    return plot_path_bounds(curves, 0.1)
