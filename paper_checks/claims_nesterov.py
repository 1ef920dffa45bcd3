"""Textbook claims about GD and Nesterov's method on quadratics (provenance ``standard``).

They check ``theory/`` against independent references: direct simulation of the methods on
random quadratics, and PEPit's semidefinite worst cases (stored in ``theory/data``).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ortho_group

from paper_checks.measure import fitted_slope
from paper_checks.registry import Outcome, claim
from theory import pep, rates, spectral

WORST_CASE_SOURCE = "standard (Nesterov 2004 §2.1-2.2); exact worst case: theory/spectral.py"


def simulate_ratios(
    method: str,
    kappa: float,
    steps: list[int],
    n_instances: int,
    dim: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Run GD or constant-momentum NAG (step 1/L, ``y_0 = x_0``) on random quadratics
    ``f(x) = 1/2 (x - x*)^T H (x - x*)`` of dimension ``dim`` and return, per step count in
    ``steps`` and per instance, ``(f(x_N) - f*) / (f(x_0) - f* + mu/2 ||x_0 - x*||^2)``.

    Spectra are drawn as ``mu + (L - mu) u^2``, u uniform (denser near mu, where worst cases live),
    eigenvectors from the Haar measure, starts and minimisers Gaussian."""
    mu, L = 1.0 / kappa, 1.0
    beta = rates.nesterov_beta(kappa) if method == "nag" else 0.0
    lam = mu + (L - mu) * rng.uniform(size=(n_instances, dim)) ** 2
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


@claim(
    id="nesterov.worst-case-bound",
    source=WORST_CASE_SOURCE,
    provenance="standard",
    statement="GD and NAG on random quadratics with spectrum in [mu, L] never exceed "
    "worst_case_ratio, and the bound is attained (tight)",
    expected="max simulated/worst_case <= 1 + 1e-9 for every (method, kappa, N); "
    "and >= 0.99 for every (method, kappa, N)",
    figures=("worst-case-vs-steps",),
)
def _worst_case_bound(scale, rng):
    kappas = (10, 100) if scale == "quick" else (10, 100, 1000)
    steps = [1, 5, 10, 20] if scale == "quick" else [1, 5, 10, 20, 50]
    per_dim = (
        {1: 2000, 2: 500, 5: 300, 20: 100}
        if scale == "quick"
        else {1: 8000, 2: 2000, 5: 1000, 20: 300}
    )
    worst_excess, least_tightness, rows = -np.inf, np.inf, []
    for method in ("gd", "nag"):
        for kappa in kappas:
            sims = np.concatenate(
                [simulate_ratios(method, kappa, steps, n, d, rng) for d, n in per_dim.items()],
                axis=1,
            )
            for i, n_steps in enumerate(steps):
                bound = spectral.worst_case_ratio(method, kappa, n_steps)
                top = float(sims[i].max() / bound)
                rows.append(
                    {
                        "method": method,
                        "kappa": kappa,
                        "N": n_steps,
                        "bound": bound,
                        "max_sim_over_bound": top,
                    }
                )
                worst_excess = max(worst_excess, top - 1.0)
                least_tightness = min(least_tightness, top)
    passed = worst_excess <= 1e-9 and least_tightness >= 0.99
    return Outcome(
        passed,
        {
            "max_excess_over_bound": worst_excess,
            "min_tightness": least_tightness,
            "instances_per_cell": sum(per_dim.values()),
            "cells": rows,
        },
        f"max sim/bound - 1 = {worst_excess:.2e}; tightest cell reaches "
        f"{least_tightness:.4f} of the bound",
    )


@claim(
    id="nesterov.worst-case-pep",
    source=WORST_CASE_SOURCE + "; PEPit (Goujaud et al. 2022)",
    provenance="standard",
    statement="worst_case_ratio equals PEPit's tight worst case over quadratics, and the class "
    "of all smooth strongly convex functions is never easier than the quadratics",
    expected="|worst_case_ratio / PEP_quadratic - 1| <= 1e-3 for kappa in {10, 100, 1000}, "
    "N = 1..20, GD and NAG; PEP_smooth >= PEP_quadratic (1 - 1e-3)",
    figures=("worst-case-vs-steps",),
)
def _worst_case_pep(scale, rng):
    worst_rel, worst_order, n = 0.0, np.inf, 0
    for method in ("gd", "nag"):
        for kappa in pep.TABLE_KAPPAS:
            for n_steps in pep.TABLE_STEPS:
                quad = pep.stored_worst_case(method, "quadratic", kappa, n_steps)
                smooth = pep.stored_worst_case(method, "smooth_strongly_convex", kappa, n_steps)
                exact = spectral.worst_case_ratio(method, kappa, n_steps)
                worst_rel = max(worst_rel, abs(exact / quad - 1.0))
                worst_order = min(worst_order, smooth / quad)
                n += 1
    passed = worst_rel <= 1e-3 and worst_order >= 1 - 1e-3
    return Outcome(
        passed,
        {
            "max_rel_diff_quadratic": worst_rel,
            "min_smooth_over_quadratic": worst_order,
            "points": n,
        },
        f"max |exact/PEP - 1| = {worst_rel:.2e} over {n} points; "
        f"min PEP_smooth/PEP_quad = {worst_order:.4f}",
    )


SCALING_KAPPAS = (10, 100, 1000, 10000)


@claim(
    id="nesterov.steps-scaling",
    source="standard (Nesterov 2004 Thm 2.2.3 and §2.1.4)",
    provenance="standard",
    statement="steps to 1e-6 relative accuracy on the worst-case quadratic grow like sqrt(kappa) "
    "for NAG and like kappa for GD",
    expected="fitted log-log slope over kappa in {10, 100, 1000, 10000}: NAG in [0.45, 0.55], "
    "GD in [0.95, 1.05]",
    figures=("steps-vs-kappa",),
)
def _steps_scaling(scale, rng):
    steps = {
        m: [spectral.steps_to_accuracy(m, k, 1e-6) for k in SCALING_KAPPAS] for m in ("gd", "nag")
    }
    slopes = {m: fitted_slope(SCALING_KAPPAS, s) for m, s in steps.items()}
    passed = 0.45 <= slopes["nag"] <= 0.55 and 0.95 <= slopes["gd"] <= 1.05
    return Outcome(
        passed,
        {"kappas": list(SCALING_KAPPAS), "steps": steps, "slopes": slopes},
        f"slopes NAG {slopes['nag']:.3f}, GD {slopes['gd']:.3f}; steps at kappa=1e4: "
        f"NAG {steps['nag'][-1]}, GD {steps['gd'][-1]}",
    )
