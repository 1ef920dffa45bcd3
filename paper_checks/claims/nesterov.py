"""Claims about GD and Nesterov's method: textbook facts on quadratics (provenance ``standard``),
checked against direct simulation and PEPit's semidefinite worst cases (stored in
``theory/data``), and Nesterov's method with errors: the potential bookkeeping of
``theory/robust_nesterov.py``, the error level that kills acceleration and PEPit's worst cases with
inexact gradients (docs/theory.md §§2 and 4; the paper's Lemma 3.1 is known only by its name).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.stats import ortho_group

from figures import worst_case as wc_figures
from paper_checks.expect import AtLeast, AtMost, Between, exact, slope_interval
from paper_checks.measure import at_scales, fitted_slope, generator
from paper_checks.registry import Control, Measurement, Revision, claim, figure
from sims.inexact import Quadratic, random_objective, run_inexact_nag
from theory import pep, rates, robust_nesterov, spectral

PAPER = "Agarwal et al. 2024 (arXiv 2403.04978)"
KAPPAS = (10, 100, 1000)
EPS_GRID = tuple(float(e) for e in np.geomspace(1e-3, 1.0, 19))
WORST_CASE_SOURCE = "standard (Nesterov 2004 §2.1-2.2); exact worst case: theory/spectral.py"

# sizes per scale
EXACT_RUNS = {"quick": 600, "paper": 3000}  # random objectives, exact_nag_runs
INEXACT_RUNS = {"quick": 120, "paper": 600}  # random objectives, inexact_runs
PEP_OBJECTIVES = {"quick": 20, "paper": 100}  # objectives per cell, nesterov.errors-vs-pep


def simulate_ratios(
    method: str,
    kappa: float,
    steps: list[int],
    n_instances: int,
    dim: int,
    rng: np.random.Generator,
    eigenvalue: float | None = None,
) -> np.ndarray:
    """Run GD or constant-momentum NAG (step 1/L, ``y_0 = x_0``) on random quadratics
    ``f(x) = 1/2 (x - x*)^T H (x - x*)`` of dimension ``dim`` and return, per step count in
    ``steps`` and per instance, ``(f(x_N) - f*) / (f(x_0) - f* + mu/2 ||x_0 - x*||^2)``.

    Spectra are drawn as ``mu + (L - mu) u^2``, u uniform (denser near mu, where worst cases live),
    eigenvectors from the Haar measure, starts and minimisers Gaussian. ``eigenvalue``: put every
    eigenvalue there instead (the positive control places 1-D instances at the worst case)."""
    mu, L = 1.0 / kappa, 1.0
    beta = rates.nesterov_beta(kappa) if method == "nag" else 0.0
    lam = mu + (L - mu) * rng.uniform(size=(n_instances, dim)) ** 2
    if eigenvalue is not None:
        lam[:] = eigenvalue
    q = (
        ortho_group.rvs(dim, size=n_instances, random_state=rng).reshape(n_instances, dim, dim)
        if dim > 1
        else np.ones((n_instances, 1, 1))
    )
    hess = np.einsum("bij,bj,bkj->bik", q, lam, q)
    x_star = rng.standard_normal((n_instances, dim))
    x = rng.standard_normal((n_instances, dim))

    def gap(z):
        e = z - x_star
        return 0.5 * np.einsum("bi,bij,bj->b", e, hess, e)

    denominator = gap(x) + 0.5 * mu * np.sum((x - x_star) ** 2, axis=1)
    y = x.copy()
    out = np.empty((len(steps), n_instances))
    for n in range(max(steps) + 1):
        if n in steps:
            out[steps.index(n)] = gap(x) / denominator
        x_next = y - np.einsum("bij,bj->bi", hess, y - x_star) / L
        y, x = x_next + beta * (x_next - x), x_next
    return out


@dataclass(frozen=True)
class WorstCaseSizes:
    kappas: tuple[float, ...]
    steps: tuple[int, ...]
    instances_per_dimension: tuple[tuple[int, int], ...]  # (dimension, instances)


WORST_CASE_SIZES = {
    "quick": WorstCaseSizes((10, 100), (1, 5, 10, 20), ((1, 2000), (2, 500), (5, 300), (20, 100))),
    "paper": WorstCaseSizes(
        (10, 100, 1000), (1, 5, 10, 20, 50), ((1, 8000), (2, 2000), (5, 1000), (20, 300))
    ),
}


@claim(
    id="nesterov.worst-case-bound",
    source=WORST_CASE_SOURCE,
    provenance="standard",
    statement="GD and NAG on random quadratics with spectrum in [mu, L] never exceed "
    "worst_case_ratio, and the bound is attained (tight)",
    measurement="per (method, kappa, N), the largest simulated ratio over random quadratics "
    "divided by worst_case_ratio; 'max sim/bound' is its maximum over cells, 'tightness' its "
    "minimum",
    expect={"max sim/bound": AtMost(1 + 1e-7), "tightness": AtLeast(0.99)},
    positive=Control(
        "1-D quadratics placed at the eigenvalue where theory/spectral.py finds the "
        "maximum (they attain the bound by construction)",
        instances="at the maximiser",
    ),
    negative=Control(
        "the same instances against the bound of the easier class kappa/2 (same momentum)",
        bound_kappa_factor=0.5,
    ),
    figures=("worst-case-vs-steps",),
    must_hold=True,
    revisions=(
        Revision(
            2,
            "round-off allowance 1e-7 instead of 1e-9: at paper scale the positive control (1-D "
            "quadratics at the maximising eigenvalue, which attain the bound by construction) came "
            "out at 1 + 2.3e-8, so a band of 1e-9 was tighter than the accuracy of the simulation "
            "and of the maximisation; the claim's own value was 1 - 1.6e-9 at both allowances",
        ),
    ),
)
def _worst_case_bound(scale, *, rng, instances="random", bound_kappa_factor=1.0):
    size = WORST_CASE_SIZES[scale]
    worst, tightness, rows = -np.inf, np.inf, []
    for method in ("gd", "nag"):
        for kappa in size.kappas:
            beta = rates.nesterov_beta(kappa) if method == "nag" else None
            if instances == "at the maximiser":
                sims = np.concatenate(
                    [
                        simulate_ratios(
                            method, kappa, [n], 50, 1, rng,
                            eigenvalue=spectral.worst_case(method, kappa, n).eigenvalue,
                        )
                        for n in size.steps
                    ]
                )  # fmt: skip
            else:
                sims = np.concatenate(
                    [
                        simulate_ratios(method, kappa, list(size.steps), n, d, rng)
                        for d, n in size.instances_per_dimension
                    ],
                    axis=1,
                )
            bound_kappa = kappa * bound_kappa_factor
            for i, n_steps in enumerate(size.steps):
                bound = spectral.worst_case_ratio(method, bound_kappa, n_steps, beta)
                top = float(sims[i].max() / bound)
                rows.append({"method": method, "kappa": kappa, "N": n_steps, "bound": bound,
                             "max_sim_over_bound": top})  # fmt: skip
                worst, tightness = max(worst, top), min(tightness, top)
    instances = sum(n for _, n in size.instances_per_dimension)
    return Measurement(
        {"max sim/bound": exact(worst, instances), "tightness": exact(tightness, instances)},
        {"instances_per_cell": instances, "cells": rows},
        f"max sim/bound - 1 = {worst - 1:.2e}; tightest cell reaches {tightness:.4f} of the bound",
    )


@claim(
    id="nesterov.worst-case-pep",
    source=WORST_CASE_SOURCE + "; PEPit (Goujaud et al. 2022)",
    provenance="standard",
    statement="worst_case_ratio equals PEPit's tight worst case over quadratics, and the class "
    "of all smooth strongly convex functions is never easier than the quadratics",
    measurement="over GD and NAG, kappa in {10, 100, 1000}, N = 1..20: 'max |exact/PEP - 1|' "
    "compares worst_case_ratio with PEPit's quadratic class, 'min smooth/quadratic' compares "
    "PEPit's two classes",
    expect={"max |exact/PEP - 1|": AtMost(1e-3), "min smooth/quadratic": AtLeast(1 - 1e-3)},
    positive=Control(
        "the stored PEPit values replaced by a dense-grid maximum of g_N(lam) (a "
        "second evaluation of the closed form), the smooth class compared with "
        "itself",
        reference="dense grid",
    ),
    negative=Control(
        "worst_case_ratio at N + 1 steps against PEPit at N, and the smooth class at "
        "N + 1 against the quadratic class at N (an off-by-one recursion)",
        off_by=1,
    ),
    figures=("worst-case-vs-steps",),
    must_hold=True,
)
def _worst_case_pep(scale, *, reference="PEPit", off_by=0):
    worst_rel, worst_order, n = 0.0, np.inf, 0
    for method in ("gd", "nag"):
        for kappa in pep.TABLE_KAPPAS:
            beta = rates.nesterov_beta(kappa) if method == "nag" else 0.0
            for n_steps in pep.TABLE_STEPS[: len(pep.TABLE_STEPS) - off_by]:
                exact_ratio = spectral.worst_case_ratio(method, kappa, n_steps + off_by)
                if reference == "dense grid":
                    grid = 1 / kappa + (1 - 1 / kappa) * np.linspace(0, 1, 200_001) ** 2
                    quad = float(np.max(spectral.ratio_at(grid, n_steps, kappa, beta)))
                    order = 1.0
                else:
                    quad = pep.stored_worst_case(method, "quadratic", kappa, n_steps)
                    smooth = pep.stored_worst_case(
                        method, "smooth_strongly_convex", kappa, n_steps + off_by
                    )
                    order = smooth / quad
                worst_rel = max(worst_rel, abs(exact_ratio / quad - 1.0))
                worst_order = min(worst_order, order)
                n += 1
    return Measurement(
        {"max |exact/PEP - 1|": exact(worst_rel, n), "min smooth/quadratic": exact(worst_order, n)},
        {"points": n},
        f"max |exact/PEP - 1| = {worst_rel:.2e} over {n} points; "
        f"min PEP_smooth/PEP_quad = {worst_order:.4f}",
    )


SCALING_KAPPAS = (10, 100, 1000, 10000)


@cache
def steps_table(count) -> dict:
    """``count(method, kappa, 1e-6)`` for GD and NAG per kappa in SCALING_KAPPAS."""
    return {m: [count(m, k, 1e-6) for k in SCALING_KAPPAS] for m in ("gd", "nag")}


@claim(
    id="nesterov.steps-scaling",
    source="standard (Nesterov 2004 Thm 2.2.3 and §2.1.4)",
    provenance="standard",
    statement="steps to 1e-6 relative accuracy on the worst-case quadratic grow like sqrt(kappa) "
    "for NAG and like kappa for GD",
    measurement="fitted log-log slope over kappa in {10, 100, 1000, 10000} of the exact "
    "worst-case steps to 1e-6 (theory/spectral.py)",
    expect={"NAG slope": Between(0.45, 0.55), "GD slope": Between(0.95, 1.05)},
    positive=Control(
        "the textbook rate counts log(1e-6)/log(1 - 1/sqrt(kappa)) and "
        "log(1e-6)/log(1 - 1/kappa) (rates.predicted_steps)",
        count=rates.predicted_steps,
    ),
    negative=Control("the two methods' counts swapped", swapped=True),
    figures=("steps-vs-kappa",),
    must_hold=True,
)
def _steps_scaling(scale, *, count=spectral.steps_to_accuracy, swapped=False):
    steps = steps_table(count)
    if swapped:
        steps = {"gd": steps["nag"], "nag": steps["gd"]}
    slopes = {m: fitted_slope(SCALING_KAPPAS, s) for m, s in steps.items()}
    return Measurement(
        {"NAG slope": exact(slopes["nag"]), "GD slope": exact(slopes["gd"])},
        {"kappas": list(SCALING_KAPPAS), "steps": steps, "slopes": slopes},
        f"slopes NAG {slopes['nag']:.3f}, GD {slopes['gd']:.3f}; steps at kappa=1e4: "
        f"NAG {steps['nag'][-1]}, GD {steps['gd'][-1]}",
    )


@cache
def exact_nag_runs(scale: str, kappa_one: bool) -> tuple:
    """Exact NAG, 60 steps, on random objectives (alternately quadratic and quadratic +
    log-sum-exp, d in 2..11, kappa log-uniform in [1, 1e4]); ``kappa_one``: quadratics with
    kappa = 1 instead (one step of size 1/L reaches x*). Returns (run, kappa) pairs."""
    rng = generator("nesterov.potential-decrease")
    out = []
    for i in range(EXACT_RUNS[scale]):
        d = int(rng.integers(2, 12))
        kappa = 1.0 if kappa_one else float(10 ** rng.uniform(0, 4))
        f = random_objective(rng, d, kappa, quadratic=kappa_one or bool(i % 2))
        out.append((run_inexact_nag(f, rng.standard_normal(d) * 3, 60), f.L / f.mu))
    return tuple(out)


@claim(
    id="nesterov.potential-decrease",
    source="standard (Nesterov 2004 Thm 2.2.3; potential in theory/robust_nesterov.py)",
    provenance="standard",
    statement="exact constant-momentum NAG decreases Phi = f - f* + mu/2 |z - x*|^2 by at least "
    "the factor 1 - 1/sqrt(kappa) at every step, on quadratics and on a non-quadratic "
    "(quadratic + log-sum-exp) family",
    measurement="max over instances and steps of (Phi_{k+1} - (1 - 1/sqrt(kappa)) Phi_k) / Phi_0 "
    f"('violation'; {at_scales(EXACT_RUNS, ' instances')})",
    expect={"violation": AtMost(1e-12)},
    positive=Control(
        "quadratics with kappa = 1, where one step reaches x* (Phi_1 = 0)", kappa_one=True
    ),
    negative=Control("the same runs held to twice the rate, 1 - 2/sqrt(kappa)", speed=2.0),
    figures=("robust-potential",),
    minutes=0.4,
    must_hold=True,
)
def _potential_decrease(scale, *, kappa_one=False, speed=1.0):
    worst, runs = -np.inf, exact_nag_runs(scale, kappa_one)
    for run, kappa in runs:
        factor = 1.0 - speed * (1.0 - robust_nesterov.contraction(kappa))
        phi = run.potentials
        worst = max(worst, float(np.max(phi[1:] - factor * phi[:-1]) / phi[0]))
    return Measurement(
        {"violation": exact(worst, len(runs))},
        {"instances": len(runs), "max_violation_over_phi0": worst},
        f"{len(runs)} instances, max (Phi_k+1 - bound)/Phi_0 = {worst:.1e}",
    )


@cache
def inexact_runs(scale: str, with_errors: bool) -> tuple:
    """NAG, 40 steps, on random objectives with errors of size 0.01, 0.1 or 0.5 in the gradient
    or the momentum step (absolute, relative to the progress or to the gradient; random or
    adversarial); without errors (``with_errors=False``) one exact run per objective."""
    rng = generator("nesterov.error-bound")
    out = []
    for i in range(INEXACT_RUNS[scale]):
        d = int(rng.integers(2, 12))
        kappa = float(10 ** rng.uniform(0.5, 3.5))
        f = random_objective(rng, d, kappa, quadratic=bool(i % 2))
        x0 = rng.standard_normal(d)
        for placement in ("gradient", "momentum"):
            for sizing in ("absolute", "relative_progress", "relative_gradient"):
                for direction in ("random", "adversarial"):
                    eps = float(rng.choice([0.01, 0.1, 0.5]))  # drawn either way: same objectives
                    if with_errors:
                        run = run_inexact_nag(f, x0, 40, eps, placement, sizing, direction, seed=i)
                        out.append((run, f.L / f.mu))
        if not with_errors:
            out.append((run_inexact_nag(f, x0, 40), f.L / f.mu))
    return tuple(out)


@claim(
    id="nesterov.error-bound",
    source=f"{PAPER}, Lemma 3.1 (name only); bound derived in theory/robust_nesterov.py",
    provenance="reconstructed",
    statement="with errors injected in the gradient or in the momentum step (any size, random or "
    "adversarial) the derived potential bound holds at every step",
    measurement="max over runs and steps of (Phi_{k+1} - bound_k) / Phi_0 ('violation'; "
    f"{at_scales(INEXACT_RUNS, ' objectives')} x 12 error settings)",
    expect={"violation": AtMost(1e-10)},
    positive=Control(
        "the same objectives without errors (the bound is then the textbook contraction)",
        with_errors=False,
    ),
    negative=Control(
        "the runs with errors held to the bound without its error terms, (1 - 1/sqrt(kappa)) Phi_k",
        bound="without error terms",
    ),
    minutes=0.7,
    must_hold=True,
)
def _error_bound(scale, *, with_errors=True, bound="derived"):
    runs = inexact_runs(scale, with_errors)
    worst = -np.inf
    for run, kappa in runs:
        phi = run.potentials
        held_to = run.bounds
        if bound == "without error terms":
            held_to = robust_nesterov.contraction(kappa) * phi[:-1]
        worst = max(worst, float(np.max(phi[1:] - held_to) / phi[0]))
    return Measurement(
        {"violation": exact(worst, len(runs))},
        {"max_violation_over_phi0": worst, "runs": len(runs)},
        f"max (Phi_k+1 - bound)/Phi_0 = {worst:.1e} over {len(runs)} runs",
    )


def diagonal_quadratic(kappa, d=40, seed=0):
    """Diagonal quadratic, spectrum geometric in [1/kappa, 1], fixed start."""
    rng = np.random.default_rng(seed)
    return Quadratic(np.diag(np.geomspace(1 / kappa, 1, d))), rng.standard_normal(d)


def momentum_steps(f, x0, target, budget, beta=0.0, error=0.0):
    """Steps to ``f - f* <= target (f_0 - f*)`` of constant-momentum NAG with step (1 - error)/L:
    ``x_{k+1} = y_k - (1 - error) grad f(y_k) / L``, ``y_{k+1} = x_{k+1} + beta (x_{k+1} - x_k)``,
    ``y_0 = x_0``. ``beta = 0`` is gradient descent; ``error`` is a gradient error
    ``-error grad f``, which shrinks the step. inf if not reached within ``budget`` steps (or once
    the gap is no longer finite)."""
    x_prev, x, y = x0.copy(), x0.copy(), x0.copy()
    gap0 = f.value(x0) - f.f_star
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(budget + 1):
            gap = f.value(x) - f.f_star
            if gap <= target * gap0:
                return k
            if not np.isfinite(gap):
                return np.inf
            x_prev, x = x, y - (1.0 - error) * f.gradient(y) / f.L
            y = x + beta * (x - x_prev)
    return np.inf


@cache
def error_sweep(scale: str) -> dict:
    """Stages to 1e-6 of NAG with adversarial errors, per kappa and eps, for gradient errors
    relative to |grad f| and momentum errors relative to the progress |x_k - x_{k-1}|; with exact
    NAG and GD on the same problem (the figure robust-rate-vs-eps)."""
    out = {}
    for kappa in KAPPAS:
        f, x0 = diagonal_quadratic(kappa)
        gd = momentum_steps(f, x0, 1e-6, int(40 * kappa + 200))
        budget = gd  # only whether a run needs at least GD's steps matters
        exact_nag = run_inexact_nag(f, x0, budget, target=1e-6).steps_to(1e-6)
        for placement, sizing in (
            ("gradient", "relative_gradient"),
            ("momentum", "relative_progress"),
        ):
            steps = [
                run_inexact_nag(
                    f, x0, budget, eps, placement, sizing, "adversarial", seed=0, target=1e-6
                ).steps_to(1e-6)
                for eps in EPS_GRID
            ]
            out[(placement, kappa)] = {
                "steps": steps,
                "gd": gd,
                "nag": exact_nag,
            }
    return out


TOLERANCE_KAPPAS = (10, 30, 100, 300, 1000, 3000)
SLOWDOWN = 1.5  # "keeps its rate": at most this many times exact NAG's stages


def tolerable_eps(within) -> float:
    """The largest error level eps at which ``within(eps)`` (the method still reaches its target
    within SLOWDOWN times its exact stages) holds: bisection on log eps in [1e-5, 1] (stages
    grow with eps), 14 halvings (0.1% in eps); 1 when even eps = 1 stays within."""
    low, high = np.log(1e-5), 0.0
    if within(1.0):
        return 1.0
    for _ in range(14):
        middle = (low + high) / 2
        low, high = (middle, high) if within(np.exp(middle)) else (low, middle)
    return float(np.exp(low))


def nag_within(f, x0, budget, placement, sizing):
    """eps -> whether NAG with adversarial errors of level eps reaches 1e-6 within ``budget``."""
    return lambda eps: np.isfinite(
        run_inexact_nag(
            f, x0, budget, eps, placement, sizing, "adversarial", seed=0, target=1e-6
        ).steps_to(1e-6)
    )


def gd_within(f, x0, budget):
    """eps -> whether GD with the gradient error -eps grad f reaches 1e-6 within ``budget``."""
    return lambda eps: np.isfinite(momentum_steps(f, x0, 1e-6, budget, error=eps))


def coefficient_within(f, x0, budget):
    """eps -> whether NAG with its momentum coefficient off by the relative error eps, both
    beta*(1 - eps) and beta*(1 + eps), reaches 1e-6 within ``budget`` (the worse sign decides)."""
    beta = rates.nesterov_beta(f.L / f.mu)
    return lambda eps: all(
        np.isfinite(momentum_steps(f, x0, 1e-6, budget, beta=beta * (1 + sign * eps)))
        for sign in (-1, 1)
    )


@cache
def tolerable_levels() -> dict:
    """Per placement and kappa in TOLERANCE_KAPPAS: ``tolerable_eps`` of NAG with adversarial
    errors on the diagonal test quadratic (gradient errors relative to |grad f|, momentum errors
    relative to the progress), of gradient descent with the gradient error ``-eps grad f``
    (placement "gd") and of NAG with the relative error eps in its momentum coefficient
    (placement "coefficient"), each against SLOWDOWN times its own exact stages to 1e-6."""
    out = {}
    for kappa in TOLERANCE_KAPPAS:
        f, x0 = diagonal_quadratic(kappa)
        limit = int(40 * kappa + 200)
        budget = int(np.ceil(SLOWDOWN * run_inexact_nag(f, x0, limit, target=1e-6).steps_to(1e-6)))
        for placement, sizing in (("gradient", "relative_gradient"),
                                  ("momentum", "relative_progress")):  # fmt: skip
            out[(placement, kappa)] = tolerable_eps(nag_within(f, x0, budget, placement, sizing))
        gd_budget = int(np.ceil(SLOWDOWN * momentum_steps(f, x0, 1e-6, limit)))
        out[("gd", kappa)] = tolerable_eps(gd_within(f, x0, gd_budget))
        beta = rates.nesterov_beta(kappa)
        nag_budget = int(np.ceil(SLOWDOWN * momentum_steps(f, x0, 1e-6, limit, beta=beta)))
        out[("coefficient", kappa)] = tolerable_eps(coefficient_within(f, x0, nag_budget))
    return out


@claim(
    id="nesterov.error-critical-level",
    source=f"{PAPER}, Lemma 3.1 (robustness of NAG; statement unavailable)",
    provenance="reconstructed",
    statement="the relative momentum error NAG tolerates while keeping its rate shrinks with "
    "kappa like about kappa^(-1/2), as the potential bound predicts; the gradient-error exponent "
    "is reported beside it (a finding)",
    measurement="diagonal quadratic (d = 40, spectrum geometric in [1/kappa, 1]), adversarial "
    "errors, kappa in {10, 30, 100, 300, 1000, 3000}: eps_1.5 = the largest error level keeping "
    "NAG within 1.5x of exact NAG's stages to 1e-6 (bisection); log-log slope of eps_1.5 over "
    "kappa with its linregress interval, momentum errors relative to the progress ('momentum "
    "exponent'); the same for gradient errors relative to |grad f| reported",
    expect={"momentum exponent": Between(-0.65, -0.35)},
    positive=Control(
        "NAG with the relative error eps in its momentum coefficient, beta*(1 - eps) and "
        "beta*(1 + eps), the worse sign deciding, in place of the momentum errors: raising the "
        "coefficient by delta slows NAG's slowest mode (spectral radius sqrt(beta (1 - 1/kappa))) "
        "from a rate of about kappa^(-1/2) to about kappa^(-1/2) - delta/2, so 1.5x its stages "
        "allows delta up to about (2/3) kappa^(-1/2): a level shrinking like kappa^(-1/2) "
        "(theory.spectral's residual polynomials count its stages exactly)",
        system="coefficient",
    ),
    negative=Control(
        "gradient descent with the gradient error -eps grad f in place of NAG: its step shrinks "
        "to (1 - eps)/L, so its stages grow like 1/(1 - eps) at every kappa and its tolerable "
        "level (about 1/3 for 1.5x) does not shrink with kappa",
        system="gd",
    ),
    figures=("robust-rate-vs-eps",),
    group="stacking.frontier-and-errors",
    revisions=(
        Revision(
            2,
            "revision 1 assumed a sharp threshold (within 1.5x of NAG at eps*/4, no faster than "
            "GD above eps*) that the potential bound does not predict: the tolerable level shrinks "
            "with kappa while the 'as slow as GD' level barely moves. Now the tolerable level is "
            "measured per kappa by bisection and its exponent fitted",
        ),
        Revision(
            3,
            "measured negative control: gradient descent with the gradient error -eps grad f, "
            "whose tolerable level does not shrink with kappa (its stages scale like 1/(1 - eps)); "
            "was planted levels with exponent 0. The positive control stays planted (reason in "
            "why_planted)",
        ),
        Revision(
            4,
            "measured positive control: NAG with a relative error in its momentum coefficient "
            "(either sign, the worse deciding), whose tolerable level shrinks like kappa^(-1/2) "
            "by NAG's spectral radius; was planted levels 0.3 kappa^(-1/2) times the measured "
            "levels' scatter (revision 3's reason, 'no inexact method is known to tolerate errors "
            "shrinking like kappa^(-1/2)', overlooked this one). Claim arm, negative control and "
            "band unchanged (issue 28)",
        ),
    ),
)
def _critical_level(scale, *, system="nag"):
    levels = tolerable_levels()
    kappas = np.array(TOLERANCE_KAPPAS, dtype=float)
    fits, per_placement = {}, {}
    for placement in ("momentum", "gradient"):
        measured = system if system != "nag" and placement == "momentum" else placement
        eps = np.array([levels[(measured, k)] for k in TOLERANCE_KAPPAS])
        fits[placement] = slope_interval(kappas, eps)
        per_placement[placement] = dict(zip(TOLERANCE_KAPPAS, eps.tolist(), strict=True))
    return Measurement(
        {"momentum exponent": fits["momentum"]},
        {"tolerable_eps": per_placement,
         "exponents": {p: e.as_dict() for p, e in fits.items()}},
        f"eps_1.5 exponent: momentum {fits['momentum'].text()}, gradient "
        f"{fits['gradient'].text()}; eps_1.5 at kappa = 10 / 3000: momentum "
        f"{per_placement['momentum'][10]:.3g} / {per_placement['momentum'][3000]:.3g}, gradient "
        f"{per_placement['gradient'][10]:.3g} / {per_placement['gradient'][3000]:.3g}",
    )  # fmt: skip


PEP_STEPS = (5, 10, 20)


@claim(
    id="nesterov.errors-vs-pep",
    source="standard (PEPit, Goujaud et al. 2022) with relative gradient errors",
    provenance="standard",
    statement="measured worst ratios of NAG with relative gradient errors never exceed PEPit's "
    "worst case over smooth strongly convex functions for the same kappa, eps and N",
    measurement="max over random and adversarial runs (quadratics and quadratic + log-sum-exp, "
    f"{at_scales(PEP_OBJECTIVES, ' objectives')} per cell) of ratio / PEP, kappa in "
    "{10, 100, 1000}, N in {5, 10, 20}, eps in {0.05, 0.1, 0.2, 0.3}; 1e-3 is the solver tolerance",
    expect={"max ratio/PEP": AtMost(1 + 1e-3)},
    positive=Control(
        "the same objectives without errors against PEPit's exact-gradient worst case",
        with_errors=False,
    ),
    negative=Control(
        "the runs at N = 5 and 10 steps against PEPit's worst case for 10 and 20 steps",
        bound_steps_later=True,
    ),
    must_hold=True,
)
def _errors_vs_pep(scale, *, rng, with_errors=True, bound_steps_later=False):
    worst, n = 0.0, PEP_OBJECTIVES[scale]
    for kappa in KAPPAS:
        for eps in (0.05, 0.1, 0.2, 0.3):
            run_eps = eps if with_errors else 0.0
            later = PEP_STEPS[1:] if bound_steps_later else PEP_STEPS
            pairs = zip(PEP_STEPS[: len(later)], later, strict=True)
            bounds = {
                n_steps: pep.stored_worst_case("nag", "smooth_strongly_convex", kappa, m, run_eps)
                for n_steps, m in pairs
            }
            for i in range(n):
                d = int(rng.integers(2, 10))
                f = random_objective(rng, d, kappa, quadratic=bool(i % 2))
                x0 = rng.standard_normal(d)
                denominator = f.value(x0) - f.f_star + f.mu / 2 * np.sum((x0 - f.x_star) ** 2)
                for direction in ("random", "adversarial"):
                    run = run_inexact_nag(
                        f, x0, 20, run_eps, "gradient", "relative_gradient", direction, seed=i
                    )
                    for n_steps, bound in bounds.items():
                        worst = max(worst, run.losses[n_steps] / denominator / bound)
    return Measurement(
        {"max ratio/PEP": exact(worst, n)},
        {"max_ratio_over_pep": worst},
        f"max measured / PEPit = {worst:.4f}",
    )


@figure(
    "worst-case-vs-steps",
    "Exact worst case over quadratics (lines, theory/spectral.py) against PEPit (markers:"
    " quadratic class o, all smooth strongly convex functions x).",
)
def _worst_case_vs_steps(scale):
    kappas = (10, 100, 1000)
    steps = list(range(41))
    curves = {
        (m, k): (steps, [spectral.worst_case_ratio(m, k, n) for n in steps])
        for m in ("gd", "nag")
        for k in kappas
    }
    points = {}
    for row in pep.stored_table()["rows"]:
        if row["eps"] == 0.0:
            key = (row["method"], row["function_class"], row["kappa"])
            points.setdefault(key, ([], []))
            points[key][0].append(row["n_steps"])
            points[key][1].append(row["ratio"])
    return wc_figures.plot_worst_case_vs_steps(curves, points)


@figure(
    "steps-vs-kappa",
    "Steps to 1e-6 on the worst-case quadratic versus kappa, with fitted log-log slopes.",
)
def _steps_vs_kappa(scale):
    steps = {
        "NAG (exact worst case)": [
            spectral.steps_to_accuracy("nag", k, 1e-6) for k in SCALING_KAPPAS
        ],
        "GD (exact worst case)": [
            spectral.steps_to_accuracy("gd", k, 1e-6) for k in SCALING_KAPPAS
        ],
        "lower bound (any first-order method)": [
            rates.predicted_steps("lower", k, 1e-6) for k in SCALING_KAPPAS
        ],
    }
    slopes = {label: fitted_slope(SCALING_KAPPAS, v) for label, v in steps.items()}
    return wc_figures.plot_steps_vs_kappa(SCALING_KAPPAS, steps, slopes)


@figure(
    "robust-rate-vs-eps",
    "NAG with adversarial errors: steps to 1e-6 versus the relative error size, with exact GD"
    " and NAG, and the rate implied by PEPit's worst case with relative gradient errors (all"
    " smooth strongly convex functions).",
)
def _robust_rate(scale):
    from figures.robust import plot_steps_vs_eps

    sweep = error_sweep(scale)
    panels = {}
    for kappa in KAPPAS:
        pep_eps, pep_steps = [], []
        for eps in pep.TABLE_EPS:
            w10 = pep.stored_worst_case("nag", "smooth_strongly_convex", kappa, 10, eps)
            w20 = pep.stored_worst_case("nag", "smooth_strongly_convex", kappa, 20, eps)
            per_step = (w20 / w10) ** 0.1
            if eps > 0 and per_step < 1:
                pep_eps.append(eps)
                pep_steps.append(np.log(1e-6) / np.log(per_step))
        panels[kappa] = {
            "curves": {
                "gradient errors (rel. |grad f|)": sweep[("gradient", kappa)]["steps"],
                "momentum errors (rel. progress)": sweep[("momentum", kappa)]["steps"],
            },
            "gd": sweep[("gradient", kappa)]["gd"],
            "nag": sweep[("gradient", kappa)]["nag"],
            "pep": (pep_eps, pep_steps),
        }
    return plot_steps_vs_eps(EPS_GRID, panels)


@figure(
    "robust-potential",
    "The potential Phi_k along exact and perturbed NAG runs on a quadratic + log-sum-exp"
    " objective; dots: the derived upper bound for each step.",
)
def _robust_potential(scale):
    from figures.robust import plot_potentials
    from sims.inexact import QuadraticLogSumExp, run_inexact_nag

    rng = np.random.default_rng(0)
    d = 20
    f = QuadraticLogSumExp(
        np.diag(np.geomspace(0.01, 1, d)), rng.standard_normal((5, d)) / np.sqrt(d), 0.5
    )
    x0 = rng.standard_normal(d)
    runs = {}
    for label, options in (
        ("exact", {}),
        ("gradient errors 0.2, adversarial", {"eps": 0.2, "direction": "adversarial"}),
        (
            "momentum errors 0.2 of progress, adversarial",
            {
                "eps": 0.2,
                "placement": "momentum",
                "sizing": "relative_progress",
                "direction": "adversarial",
            },
        ),
    ):
        run = run_inexact_nag(f, x0, 250, **options)
        runs[label] = (run.potentials, run.bounds)
    return plot_potentials(runs)
