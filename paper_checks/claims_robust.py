"""Nesterov's method with errors: the potential-function bookkeeping of
``theory/robust_nesterov.py``, the error level that kills acceleration, PEPit's worst cases with
inexact gradients, and where stacking's own errors sit (docs/theory.md §§2 and 4; the
paper's Lemma 3.1 is known only by its name)."""

from __future__ import annotations

from functools import cache

import numpy as np

from paper_checks.claims_stacking import FRONTIER_SIGMAS, accelerates, frontier_runs
from paper_checks.registry import Outcome, claim
from sims.inexact import Quadratic, random_objective, run_inexact_nag
from theory import pep

PAPER = "Agarwal et al. 2024 (arXiv 2403.04978)"
KAPPAS = (10, 100, 1000)
EPS_GRID = tuple(float(e) for e in np.geomspace(1e-3, 1.0, 19))


@claim(
    id="nesterov.potential-decrease",
    source="standard (Nesterov 2004 Thm 2.2.3; potential in theory/robust_nesterov.py)",
    provenance="standard",
    statement="exact constant-momentum NAG decreases Phi = f - f* + mu/2 |z - x*|^2 by at least "
    "the factor 1 - 1/sqrt(kappa) at every step, on quadratics and on a non-quadratic "
    "(quadratic + log-sum-exp) family",
    expected="max over instances and steps of (Phi_{k+1} - (1 - 1/sqrt(kappa)) Phi_k) / Phi_0 "
    "<= 1e-12 (round-off only)",
    figures=("robust-potential",),
    minutes=0.4,
)
def _potential_decrease(scale, rng):
    n = 600 if scale == "quick" else 3000
    worst, count = -np.inf, 0
    for i in range(n):
        d = int(rng.integers(2, 12))
        kappa = float(10 ** rng.uniform(0, 4))
        f = random_objective(rng, d, kappa, quadratic=bool(i % 2))
        run = run_inexact_nag(f, rng.standard_normal(d) * 3, 60)
        worst = max(worst, float(np.max(run.potentials[1:] - run.bounds) / run.potentials[0]))
        count += 1
    return Outcome(
        worst <= 1e-12,
        {"instances": count, "max_violation_over_phi0": worst},
        f"{count} instances, max (Phi_k+1 - bound)/Phi_0 = {worst:.1e}",
    )


@claim(
    id="nesterov.error-bound",
    source=f"{PAPER}, Lemma 3.1 (name only); bound derived in theory/robust_nesterov.py",
    provenance="reconstructed",
    statement="with errors injected in the gradient or in the momentum step (any size, random or "
    "adversarial) the derived potential bound holds at every step",
    expected="max over runs and steps of (Phi_{k+1} - bound_k) / Phi_0 <= 1e-10",
    minutes=0.7,
)
def _error_bound(scale, rng):
    n = 120 if scale == "quick" else 600
    worst = -np.inf
    for i in range(n):
        d = int(rng.integers(2, 12))
        kappa = float(10 ** rng.uniform(0.5, 3.5))
        f = random_objective(rng, d, kappa, quadratic=bool(i % 2))
        for placement in ("gradient", "momentum"):
            for sizing in ("absolute", "relative_progress", "relative_gradient"):
                for direction in ("random", "adversarial"):
                    run = run_inexact_nag(
                        f,
                        rng.standard_normal(d),
                        40,
                        float(rng.choice([0.01, 0.1, 0.5])),
                        placement,
                        sizing,
                        direction,
                        seed=i,
                    )
                    worst = max(
                        worst, float(np.max(run.potentials[1:] - run.bounds) / run.potentials[0])
                    )
    return Outcome(
        worst <= 1e-10,
        {"max_violation_over_phi0": worst},
        f"max (Phi_k+1 - bound)/Phi_0 = {worst:.1e} over {n * 12} runs",
    )


def _test_problem(kappa, d=40, seed=0):
    """Diagonal quadratic, spectrum geometric in [1/kappa, 1], fixed start."""
    rng = np.random.default_rng(seed)
    return Quadratic(np.diag(np.geomspace(1 / kappa, 1, d))), rng.standard_normal(d)


def _gd_steps(f, x0, eps, budget):
    x, gap0 = x0.copy(), f.value(x0) - f.f_star
    for k in range(budget + 1):
        if f.value(x) - f.f_star <= eps * gap0:
            return k
        x = x - f.gradient(x) / f.L
    return np.inf


@cache
def error_sweep(scale: str) -> dict:
    """Stages to 1e-6 of NAG with adversarial errors, per kappa and eps, for gradient errors
    relative to |grad f| and momentum errors relative to the progress |x_k - x_{k-1}|; with exact
    NAG and GD on the same problem, and the critical eps where NAG falls to GD."""
    out = {}
    for kappa in KAPPAS:
        f, x0 = _test_problem(kappa)
        gd = _gd_steps(f, x0, 1e-6, int(40 * kappa + 200))
        budget = gd  # only whether a run needs at least GD's steps matters
        exact = run_inexact_nag(f, x0, budget, target=1e-6).steps_to(1e-6)
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
            critical = next((e for e, s in zip(EPS_GRID, steps, strict=True) if s >= gd), None)
            out[(placement, kappa)] = {
                "steps": steps,
                "gd": gd,
                "nag": exact,
                "critical_eps": critical,
            }
    return out


@claim(
    id="nesterov.error-critical-level",
    source=f"{PAPER}, Lemma 3.1 (robustness of NAG; statement unavailable)",
    provenance="reconstructed",
    statement="acceleration survives small errors and dies at large ones: below the critical "
    "error level NAG keeps its rate, above it it is no faster than GD",
    expected="per kappa in {10, 100, 1000} and placement (gradient errors relative to |grad f|, "
    "momentum errors relative to the progress), adversarial: stages to 1e-6 at "
    "eps* / 4 within 1.5x exact NAG's; at every grid eps >= eps*, no fewer than GD's",
    figures=("robust-rate-vs-eps",),
    group="stacking.frontier-and-errors",
)
def _critical_level(scale, rng):
    sweep = error_sweep(scale)
    ok, rows = True, {}
    for (placement, kappa), r in sweep.items():
        crit = r["critical_eps"]
        if crit is None:
            ok = False
            rows[f"{placement},kappa={kappa}"] = {"critical_eps": None}
            continue
        below = max(s for e, s in zip(EPS_GRID, r["steps"], strict=True) if e <= crit / 4)
        above = min(s for e, s in zip(EPS_GRID, r["steps"], strict=True) if e >= crit)
        rows[f"{placement},kappa={kappa}"] = {
            "critical_eps": crit,
            "steps_below_over_nag": below / r["nag"],
            "min_steps_above_over_gd": above / r["gd"],
        }
        ok &= below <= 1.5 * r["nag"] and above >= r["gd"]
    text = "; ".join(
        f"{k}: eps*={v['critical_eps']:.3g}" if v["critical_eps"] else f"{k}: none"
        for k, v in rows.items()
    )
    return Outcome(bool(ok), {"cells": rows}, text)


@claim(
    id="nesterov.errors-vs-pep",
    source="standard (PEPit, Goujaud et al. 2022) with relative gradient errors",
    provenance="standard",
    statement="measured worst ratios of NAG with relative gradient errors never exceed PEPit's "
    "worst case over smooth strongly convex functions for the same kappa, eps and N",
    expected="max over random and adversarial runs (quadratics and quadratic + log-sum-exp) of "
    "ratio / PEP <= 1 + 1e-3 (solver tolerance), kappa in {10, 100, 1000}, N in "
    "{5, 10, 20}, eps in {0.05, 0.1, 0.2, 0.3}",
)
def _errors_vs_pep(scale, rng):
    worst, n = 0.0, (20 if scale == "quick" else 100)
    for kappa in KAPPAS:
        for eps in (0.05, 0.1, 0.2, 0.3):
            bounds = {
                N: pep.stored_worst_case("nag", "smooth_strongly_convex", kappa, N, eps)
                for N in (5, 10, 20)
            }
            for i in range(n):
                d = int(rng.integers(2, 10))
                f = random_objective(rng, d, kappa, quadratic=bool(i % 2))
                x0 = rng.standard_normal(d)
                denominator = f.value(x0) - f.f_star + f.mu / 2 * np.sum((x0 - f.x_star) ** 2)
                for direction in ("random", "adversarial"):
                    run = run_inexact_nag(
                        f, x0, 20, eps, "gradient", "relative_gradient", direction, seed=i
                    )
                    for N, bound in bounds.items():
                        worst = max(worst, run.losses[N] / denominator / bound)
    return Outcome(
        worst <= 1 + 1e-3, {"max_ratio_over_pep": worst}, f"max measured / PEPit = {worst:.4f}"
    )


@claim(
    id="stacking.errors-vs-critical",
    source=f"{PAPER}, §3 (stacking = NAG with errors E1, E2; Figure 5)",
    provenance="reconstructed",
    statement="deep-linear stacking runs that accelerate have relative errors (|E1| + |E2| over "
    "the step) below NAG's critical momentum-error level; runs that stall or diverge "
    "exceed it",
    expected="kappa = 100: for every sigma and seed, median relative error over the first 50 "
    "stages < eps* if the run accelerates, > eps* if it does not (eps*: adversarial "
    "momentum errors relative to progress, from nesterov.error-critical-level)",
    figures=("robust-stacking-errors",),
    group="stacking.frontier-and-errors",
    minutes=0.5,
)
def _stacking_errors(scale, rng):
    crit = error_sweep(scale)[("momentum", 100)]["critical_eps"]
    runs = frontier_runs(scale)
    agree, total, crossing, cells = 0, 0, {}, {}
    for layer_grad in ("euclidean", "functional"):
        crossing[layer_grad] = None
        for sigma in FRONTIER_SIGMAS:
            results, nag = runs[(layer_grad, 100, sigma)]
            medians = [float(np.median((r.e1 + r.e2)[:50])) for r in results]
            accel = [accelerates(r, n) for r, n in zip(results, nag, strict=True)]
            agree += sum((m < crit) == a for m, a in zip(medians, accel, strict=True))
            total += len(medians)
            cells[f"{layer_grad},sigma={sigma}"] = {
                "median_rel_error": medians,
                "accelerates": accel,
            }
            if crossing[layer_grad] is None and np.median(medians) > crit:
                crossing[layer_grad] = sigma
    return Outcome(
        agree == total,
        {
            "critical_eps": crit,
            "agreement": f"{agree}/{total}",
            "sigma_where_error_crosses": crossing,
            "cells": cells,
        },
        f"eps* = {crit:.3g}; classification agrees in {agree}/{total} runs; error "
        f"crosses eps* at sigma {crossing['euclidean']} (euclidean), "
        f"{crossing['functional']} (functional)",
    )
