"""Claims of "Stacking as Accelerated Gradient Descent" (Agarwal, Awasthi, Kale, Zhao; arXiv
2403.04978) on deep linear residual networks (docs/theory.md §§2-3).

The paper's Theorem 3.1 and Figures 4-5 are known to us only by name and caption; the set-up and
the quantitative expectations below are ``reconstructed`` (see docs/theory.md), and each claim says
so. Experiments are cached per scale so that claims and figures share one computation.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from paper_checks.measure import fitted_slope, seeds
from paper_checks.registry import Outcome, claim
from sims.deep_linear import nesterov_reference, train_stagewise, train_stagewise_batch
from sims.problems import deep_linear_problem
from theory.rates import nesterov_beta

PAPER = "Agarwal et al. 2024 (arXiv 2403.04978)"
KAPPAS = (10, 100, 1000, 10000)
TARGET = 1e-6


def _size(scale):
    """(dimension d, number of seeds) per scale."""
    return (8, 3) if scale == "quick" else (16, 5)


def _budget(kappa, init):
    """Stage budget: generous multiples of the predicted stages to 1e-6."""
    return int(30 * kappa + 200) if init == "zero" else int(60 * np.sqrt(kappa) + 200)


@cache
def stages_table(scale: str, sigmas: tuple = (0.01, 0.05, 0.1)) -> dict:
    """Stages to 1e-6 per (sigma, kappa, seed) for stacking (euclidean and functional), zero init
    and the NAG reference, d and seeds by scale. Inf where a run never reached the target."""
    d, n_seeds = _size(scale)
    table = {}
    for sigma in sigmas:
        for kappa in KAPPAS:
            problems = [
                deep_linear_problem(d, kappa, sigma, seed=s) for s in seeds(n_seeds, 1000 + kappa)
            ]
            for label, init, layer_grad in (
                ("stack", "stack", "euclidean"),
                ("stack-functional", "stack", "functional"),
                ("zero", "zero", "euclidean"),
            ):
                if label == "zero" and sigma != 0.05:
                    continue
                runs = train_stagewise_batch(
                    [{"Sigma": s, "W_star": w} for s, w in problems],
                    _budget(kappa, init),
                    init=init,
                    layer_grad=layer_grad,
                    target=TARGET,
                )
                table[(label, sigma, kappa)] = [r.steps_to(TARGET) for r in runs]
            table[("nag", sigma, kappa)] = [
                nesterov_reference(s, w, _budget(kappa, "stack")).steps_to(TARGET)
                for s, w in problems
            ]
    return table


def _median(values):
    return float(np.median(values))


@claim(
    id="stacking.acceleration",
    source=f"{PAPER}, Theorem 3.1 and Figure 4",
    provenance="reconstructed",
    statement="near the identity (sigma = 0.05) stacking needs ~sqrt(kappa) stages to reach 1e-6 "
    "where zero initialisation needs ~kappa",
    expected="log-log slope of median stages to 1e-6 over kappa in {10, 100, 1000, 10000}: "
    "stacking in [0.4, 0.6], zero init in [0.9, 1.1]",
    figures=("deep-linear-inits", "deep-linear-steps-vs-kappa"),
    group="stacking.stages-table",
    minutes=0.1,
)
def _acceleration(scale, rng):
    table = stages_table(scale)
    medians = {
        label: [_median(table[(label, 0.05, k)]) for k in KAPPAS]
        for label in ("stack", "zero", "nag")
    }
    slopes = {label: fitted_slope(KAPPAS, m) for label, m in medians.items()}
    passed = 0.4 <= slopes["stack"] <= 0.6 and 0.9 <= slopes["zero"] <= 1.1
    return Outcome(
        passed,
        {"kappas": list(KAPPAS), "median_stages": medians, "slopes": slopes},
        f"slopes: stack {slopes['stack']:.3f}, zero {slopes['zero']:.3f} "
        f"(NAG {slopes['nag']:.3f}); at kappa=1e4: stack {medians['stack'][-1]:.0f}, "
        f"zero {medians['zero'][-1]:.0f} stages",
    )


@claim(
    id="stacking.matches-nesterov",
    source=f"{PAPER}, Theorem 3.1 (stacking = Nesterov up to error terms)",
    provenance="reconstructed",
    statement="for W* near the identity (sigma <= 0.1) euclidean stacking needs at most 1.3 times "
    "the stages of Nesterov's method on the end-to-end matrix",
    expected="max over sigma in {0.01, 0.05, 0.1}, kappa in {10, ..., 1e4} and seeds of "
    "stages_stack / stages_NAG (to 1e-6) <= 1.3",
    group="stacking.stages-table",
)
def _matches_nesterov(scale, rng):
    table = stages_table(scale)
    ratios = {
        f"sigma={s},kappa={k}": float(
            np.max(np.divide(table[("stack", s, k)], table[("nag", s, k)]))
        )
        for s in (0.01, 0.05, 0.1)
        for k in KAPPAS
    }
    worst_key = max(ratios, key=ratios.get)
    return Outcome(
        ratios[worst_key] <= 1.3,
        {"max_ratio_per_cell": ratios},
        f"worst ratio {ratios[worst_key]:.3f} at {worst_key}",
    )


@claim(
    id="stacking.trainable-beta",
    source=f"{PAPER}, experiments (trainable beta)",
    provenance="secondary",
    statement="making the stacking scale beta trainable (one gradient step per stage, starting at "
    "beta*) does not compromise stacking",
    expected="median stages to 1e-6 with trainable beta <= 1.5 x those with fixed beta*, for "
    "kappa in {10, 100, 1000}, sigma = 0.05",
    group="stacking.stages-table",
)
def _trainable(scale, rng):
    d, n_seeds = _size(scale)
    ratios, drift = {}, 0.0
    for kappa in (10, 100, 1000):
        problems = [
            deep_linear_problem(d, kappa, 0.05, seed=s) for s in seeds(n_seeds, 1000 + kappa)
        ]
        specs = [{"Sigma": s, "W_star": w} for s, w in problems]
        fixed = train_stagewise_batch(specs, _budget(kappa, "stack"), init="stack", target=TARGET)
        learned = train_stagewise_batch(
            specs, _budget(kappa, "stack"), init="trainable", target=TARGET
        )
        ratios[kappa] = _median([b.steps_to(TARGET) for b in learned]) / _median(
            [a.steps_to(TARGET) for a in fixed]
        )
        drift = max(
            drift, max(float(np.max(np.abs(r.betas - nesterov_beta(kappa)))) for r in learned)
        )
    worst = max(ratios.values())
    return Outcome(
        worst <= 1.5,
        {"ratio_trainable_over_fixed": ratios, "max_abs_beta_drift": drift},
        f"worst ratio {worst:.3f}; learned beta moved at most {drift:.2e} from beta*",
    )


def _stacking_matrices(sigma_mat, w_star, stages, beta, layer_grad):
    """Direct transcription of docs/theory.md §3 in matrix form: returns P_0..P_T, W_1..W_T."""
    d = sigma_mat.shape[0]
    eta = 1.0 / np.linalg.eigvalsh(sigma_mat)[-1]
    ps, ws = [np.eye(d)], [np.zeros((d, d))]
    for _ in range(stages):
        p, w = ps[-1], ws[-1]
        y = (np.eye(d) + beta * w) @ p
        grad = (y - w_star) @ sigma_mat
        metric = p.T if layer_grad == "euclidean" else np.linalg.inv(p)
        ws.append(beta * w - eta * grad @ metric)
        ps.append((np.eye(d) + ws[-1]) @ p)
    return ps, ws, eta


@claim(
    id="stacking.error-identities",
    source=f"{PAPER}, §3 (stacking is Nesterov with errors, Lemma 3.1)",
    provenance="reconstructed",
    statement="one stacking stage deviates from one NAG step on P by exactly E1 (I - eta Sigma) + "
    "E2 (euclidean) or E1 (I - eta Sigma) (functional), with E1 = beta W_t^2 P_{t-1}, "
    "E2 = -eta grad R(Y_t)(P_t^T P_t - I); stack with beta = 0 is zero init bit for bit",
    expected="max ||deviation - prediction|| / ||P_{t+1} - P_t|| <= 1e-10 over 30 stages, several "
    "sigma and seeds; the kernel's reported |E1|, |E2| agree with these formulas to 1e-8; "
    "beta = 0 stacking == zero init exactly",
)
def _identities(scale, rng):
    d, n_seeds = _size(scale)
    worst_identity, worst_report, stages = 0.0, 0.0, 30
    for layer_grad in ("euclidean", "functional"):
        for sigma in (0.1, 0.5):
            for seed in seeds(n_seeds, 7):
                sigma_mat, w_star = deep_linear_problem(d, 100, sigma, seed=seed)
                beta = nesterov_beta(100)
                ps, ws, eta = _stacking_matrices(sigma_mat, w_star, stages, beta, layer_grad)
                run = train_stagewise(sigma_mat, w_star, stages, layer_grad=layer_grad)
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
                    predicted = e1 @ (np.eye(d) - eta * sigma_mat) + e2
                    step = np.linalg.norm(ps[t + 1] - p)
                    worst_identity = max(
                        worst_identity, np.linalg.norm(ps[t + 1] - nag_step - predicted) / step
                    )
                    if layer_grad == "euclidean":
                        for reported, formula in ((run.e1[t], e1), (run.e2[t], e2)):
                            exact = np.linalg.norm(formula) / step
                            worst_report = max(worst_report, abs(reported - exact) / exact)
    sigma_mat, w_star = deep_linear_problem(d, 100, 0.3, seed=1)
    bitwise = bool(
        np.array_equal(
            train_stagewise(sigma_mat, w_star, 100, beta=0.0).losses,
            train_stagewise(sigma_mat, w_star, 100, init="zero").losses,
        )
    )
    passed = worst_identity <= 1e-10 and worst_report <= 1e-8 and bitwise
    return Outcome(
        passed,
        {
            "max_identity_residual": worst_identity,
            "max_reported_error_mismatch": worst_report,
            "beta0_equals_zero_init": bitwise,
        },
        f"identity residual {worst_identity:.1e}, reported-E mismatch "
        f"{worst_report:.1e}, beta=0 == zero init: {bitwise}",
    )


FRONTIER_SIGMAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
FRONTIER_KAPPAS = (10, 100, 1000)


@cache
def frontier_runs(scale: str) -> dict:
    """Per (layer_grad, kappa, sigma): the stacking runs and NAG's stages to 1e-6 (per seed)."""
    d, n_seeds = _size(scale)
    out = {}
    for kappa in FRONTIER_KAPPAS:
        budget = 10 * _budget(kappa, "stack")
        for sigma in FRONTIER_SIGMAS:
            problems = [
                deep_linear_problem(d, kappa, sigma, seed=s) for s in seeds(n_seeds, 2000 + kappa)
            ]
            nag = [nesterov_reference(s, w, budget).steps_to(TARGET) for s, w in problems]
            for layer_grad in ("euclidean", "functional"):
                runs = train_stagewise_batch(
                    [{"Sigma": s, "W_star": w} for s, w in problems],
                    budget,
                    layer_grad=layer_grad,
                    target=TARGET,
                )
                out[(layer_grad, kappa, sigma)] = (runs, nag)
    return out


def accelerates(run, nag_stages) -> bool:
    """A run accelerates when it reaches 1e-6 within twice NAG's stages."""
    return run.steps_to(TARGET) <= 2 * nag_stages


@claim(
    id="stacking.sigma-frontier",
    source=f"{PAPER}, Figure 5 (caption: for higher sigma stacking diverges in early stages)",
    provenance="reconstructed",
    statement="as W* moves away from the identity (sigma grows) euclidean stacking stops "
    "accelerating or diverges; the frontier sigma is measured per kappa (a finding)",
    expected="for each kappa in {10, 100, 1000} some sigma <= 2 at which most seeds of euclidean "
    "stacking fail to reach 1e-6 within 2x NAG's stages (or diverge); frontier reported",
    figures=("deep-linear-sigma",),
    group="stacking.frontier-and-errors",
)
def _sigma_frontier(scale, rng):
    runs = frontier_runs(scale)
    frontier, early_blowup, detail = {}, {}, {}
    for layer_grad in ("euclidean", "functional"):
        for kappa in FRONTIER_KAPPAS:
            found = None
            for sigma in FRONTIER_SIGMAS:
                results, nag = runs[(layer_grad, kappa, sigma)]
                ok = [accelerates(r, n) for r, n in zip(results, nag, strict=True)]
                status = [r.status for r in results]
                rise = max(float(np.max(r.losses[:11]) / r.losses[0]) for r in results)
                detail[f"{layer_grad},kappa={kappa},sigma={sigma}"] = {
                    "accelerating_seeds": int(sum(ok)),
                    "statuses": status,
                    "max_early_loss_rise": rise,
                }
                if found is None and sum(ok) * 2 < len(ok):
                    found = sigma
                    early_blowup[f"{layer_grad},kappa={kappa}"] = rise
            frontier[f"{layer_grad},kappa={kappa}"] = found
    euclid = [frontier[f"euclidean,kappa={k}"] for k in FRONTIER_KAPPAS]
    passed = all(s is not None for s in euclid)
    text = ", ".join(
        f"kappa={k}: {s if s is not None else '> 2'}"
        for k, s in zip(FRONTIER_KAPPAS, euclid, strict=True)
    )
    functional = ", ".join(f"{frontier[f'functional,kappa={k}'] or '> 2'}" for k in FRONTIER_KAPPAS)
    return Outcome(
        passed,
        {
            "frontier_sigma": frontier,
            "max_early_loss_rise_at_frontier": early_blowup,
            "cells": detail,
        },
        f"euclidean frontier sigma {text}; functional: {functional}",
    )


@claim(
    id="stacking.functional-tracks-nesterov",
    source=f"{PAPER}, §3 (functional geometry removes the metric error E2)",
    provenance="reconstructed",
    statement="functional stacking (layer gradient G P^{-1}) stays within a factor 2 of NAG's loss "
    "at every stage for sigma up to 1 (kappa = 100)",
    expected="max over stages (until NAG reaches 1e-10) and seeds of loss_functional / loss_NAG "
    "<= 2 for sigma in {0.01, 0.1, 0.3, 0.5, 1.0}",
    figures=("deep-linear-sigma",),
    group="stacking.frontier-and-errors",
)
def _functional_tracks(scale, rng):
    d, n_seeds = _size(scale)
    worst = {}
    for sigma in (0.01, 0.1, 0.3, 0.5, 1.0):
        ratio = 0.0
        for seed in seeds(n_seeds, 3000):
            s, w = deep_linear_problem(d, 100, sigma, seed=seed)
            nag = nesterov_reference(s, w, 400)
            horizon = min(nag.steps_to(1e-10), nag.stages_done)
            run = train_stagewise(s, w, horizon, layer_grad="functional")
            if len(run.losses) < horizon + 1:
                ratio = np.inf
                break
            ratio = max(ratio, float(np.max(run.losses / nag.losses[: horizon + 1])))
        worst[sigma] = ratio
    top = max(worst.values())
    return Outcome(
        top <= 2.0,
        {"max_loss_ratio_per_sigma": worst},
        "max loss ratio to NAG per sigma: " + ", ".join(f"{s}: {r:.3g}" for s, r in worst.items()),
    )


RANDOM_SCALES = (1e-3, 3e-3, 1e-2, 3e-2)


@cache
def random_plateaus(scale: str) -> dict:
    """Plateau (mean loss over the last quarter of 400 stages) of random init per noise scale."""
    d, n_seeds = _size(scale)
    problems = [deep_linear_problem(d, 10, 0.05, seed=s) for s in seeds(n_seeds, 4000)]
    plateaus = {}
    for scale_xi in RANDOM_SCALES:
        runs = train_stagewise_batch(
            [{"Sigma": s, "W_star": w, "seed": k} for k, (s, w) in enumerate(problems)],
            400,
            init="random",
            random_scale=scale_xi,
        )
        plateaus[scale_xi] = [float(np.mean(r.losses[300:])) for r in runs]
    zero = train_stagewise_batch([{"Sigma": s, "W_star": w} for s, w in problems], 400, init="zero")
    plateaus["zero"] = [float(r.losses[-1]) for r in zero]
    return plateaus


@claim(
    id="stacking.random-init-plateau",
    source=f"{PAPER}, §2 (random init = stochastic functional GD on a smoothed loss)",
    provenance="reconstructed",
    statement="random initialisation of the new layer leaves noise in the model: the loss "
    "plateaus, at a level growing like random_scale^2",
    expected="median plateau over seeds for random_scale in {1e-3, 3e-3, 1e-2, 3e-2}: log-log "
    "slope 2 +- 0.2, and every plateau above 100x zero init's loss after 400 stages",
)
def _random_plateau(scale, rng):
    plateaus = random_plateaus(scale)
    medians = [float(np.median(plateaus[s])) for s in RANDOM_SCALES]
    slope = fitted_slope(RANDOM_SCALES, medians)
    floor = float(np.median(plateaus["zero"]))
    above = min(medians) / floor if floor > 0 else np.inf
    passed = abs(slope - 2) <= 0.2 and above >= 100
    return Outcome(
        passed,
        {
            "scales": list(RANDOM_SCALES),
            "median_plateau": medians,
            "slope": slope,
            "zero_init_final_loss": floor,
        },
        f"slope {slope:.3f}; smallest plateau / zero-init loss = {above:.3g}",
    )
