"""Claims of "Stacking as Accelerated Gradient Descent" (Agarwal, Awasthi, Kale, Zhao; arXiv
2403.04978) on deep linear residual networks (docs/theory.md §§2-4).

The paper's Theorem 3.1 and Figures 4-5 are known to us only by name and caption; the set-up and
the quantitative expectations below are ``reconstructed`` (see docs/theory.md), and each claim says
so. Experiments are cached per scale so that claims, controls and figures share one computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from figures import worst_case as wc_figures
from paper_checks.claims.nesterov import error_sweep
from paper_checks.expect import AtLeast, AtMost, Between, Near, exact, pooled_slope
from paper_checks.measure import fitted_slope, planted_power_law, seeds
from paper_checks.registry import Measurement, claim, figure
from sims.deep_linear import (
    gd_reference,
    nesterov_reference,
    train_stagewise,
    train_stagewise_batch,
)
from sims.problems import deep_linear_problem
from theory import spectral
from theory.rates import nesterov_beta

PAPER = "Agarwal et al. 2024 (arXiv 2403.04978)"
KAPPAS = (10, 100, 1000, 10000)
SIGMAS = (0.01, 0.05, 0.1)
TARGET = 1e-6


@dataclass(frozen=True)
class Sizes:
    dimension: int
    seeds: int


SIZES = {"quick": Sizes(dimension=8, seeds=3), "paper": Sizes(dimension=16, seeds=5)}


def problems(scale: str, key: str, kappa: float, sigma: float) -> list:
    """The (Sigma, W*) instances of experiment ``key``, seeded from the key and kappa."""
    size = SIZES[scale]
    return [
        deep_linear_problem(size.dimension, kappa, sigma, seed=s)
        for s in seeds(size.seeds, f"{key}/kappa={kappa:g}")
    ]


def _budget(kappa, init):
    """Stage budget: generous multiples of the predicted stages to 1e-6."""
    return int(30 * kappa + 200) if init == "zero" else int(60 * np.sqrt(kappa) + 200)


def gd_stages(sigma_mat, w_star, kappa) -> float:
    """GD's stages to 1e-6 on R(P) from P_0 = I, in closed form: P_t - W* = (I - W*)(I - eta
    Sigma)^t (theory.spectral.gd_steps_on_quadratic)."""
    lam, q = np.linalg.eigh(sigma_mat)
    weights = np.sum(((np.eye(len(lam)) - w_star) @ q) ** 2, axis=0)
    return spectral.gd_steps_on_quadratic(lam, weights, TARGET, 1 / lam[-1], _budget(kappa, "zero"))


@cache
def stages_table(scale: str) -> dict:
    """Stages to 1e-6 per (method, sigma, kappa), one entry per seed: euclidean and functional
    stacking, zero init, and NAG and GD (closed form) on the end-to-end matrix (GD at sigma = 0.05
    only). Inf
    where a run never reached the target."""
    table = {}
    for sigma in SIGMAS:
        for kappa in KAPPAS:
            instances = problems(scale, "stacking.stages-table", kappa, sigma)
            specs = [{"Sigma": s, "W_star": w} for s, w in instances]
            for label, init, layer_grad in (
                ("stack", "stack", "euclidean"),
                ("stack-functional", "stack", "functional"),
                ("zero", "zero", "euclidean"),
            ):
                runs = train_stagewise_batch(
                    specs, _budget(kappa, init), init=init, layer_grad=layer_grad, target=TARGET
                )
                table[(label, sigma, kappa)] = [r.steps_to(TARGET) for r in runs]
            table[("nag", sigma, kappa)] = [
                nesterov_reference(s, w, _budget(kappa, "stack")).steps_to(TARGET)
                for s, w in instances
            ]
            if sigma == 0.05:
                table[("gd", sigma, kappa)] = [gd_stages(s, w, kappa) for s, w in instances]
    return table


@claim(
    id="stacking.acceleration",
    source=f"{PAPER}, Theorem 3.1 and Figure 4",
    provenance="reconstructed",
    statement="near the identity (sigma = 0.05) stacking needs ~sqrt(kappa) stages to reach 1e-6 "
    "where zero initialisation needs ~kappa",
    measurement="log-log slope (with its linregress interval) of stages to 1e-6 of the initial "
    "loss over kappa in {10, 100, 1000, 10000}, one point per seed",
    expect={"stacking slope": Between(0.4, 0.6), "zero-init slope": Between(0.9, 1.1)},
    positive="exact NAG (as stacking) and GD in closed form (as zero init) on the end-to-end "
    "matrix, same instances",
    negative="beta = 0 (zero init) in place of stacking",
    figures=("deep-linear-inits", "deep-linear-steps-vs-kappa"),
    group="stacking.stages-table",
    minutes=0.1,
)
def _acceleration(scale, arm, rng):
    table = stages_table(scale)
    labels = {"claim": ("stack", "zero"), "positive": ("nag", "gd"), "negative": ("zero", "zero")}
    fast, slow = labels[arm]
    slopes = {
        name: pooled_slope({k: table[(label, 0.05, k)] for k in KAPPAS})
        for name, label in (("stacking slope", fast), ("zero-init slope", slow))
    }
    medians = {label: [float(np.median(table[(label, 0.05, k)])) for k in KAPPAS]
               for label in (fast, slow)}  # fmt: skip
    return Measurement(
        slopes,
        {"kappas": list(KAPPAS), "median_stages": medians,
         "slopes": {k: v.as_dict() for k, v in slopes.items()}},
        f"slopes: {fast} {slopes['stacking slope'].text()}, {slow} "
        f"{slopes['zero-init slope'].text()}; at kappa=1e4: {fast} {medians[fast][-1]:.0f}, "
        f"{slow} {medians[slow][-1]:.0f} stages",
    )  # fmt: skip


@claim(
    id="stacking.matches-nesterov",
    source=f"{PAPER}, Theorem 3.1 (stacking = Nesterov up to error terms)",
    provenance="reconstructed",
    statement="for W* near the identity (sigma <= 0.1) euclidean stacking needs at most 1.3 times "
    "the stages of Nesterov's method on the end-to-end matrix",
    measurement="max over sigma in {0.01, 0.05, 0.1}, kappa in {10, ..., 1e4} and seeds of "
    "stages_stack / stages_NAG to 1e-6 ('worst ratio', a worst case: no interval)",
    expect={"worst ratio": AtMost(1.3)},
    positive="NAG against itself",
    negative="zero init in place of stacking",
    group="stacking.stages-table",
)
def _matches_nesterov(scale, arm, rng):
    table = stages_table(scale)
    label = {"claim": "stack", "positive": "nag", "negative": "zero"}[arm]
    ratios = {
        f"sigma={s},kappa={k}": float(np.max(np.divide(table[(label, s, k)], table[("nag", s, k)])))
        for s in SIGMAS
        for k in KAPPAS
    }
    worst_key = max(ratios, key=ratios.get)
    return Measurement(
        {"worst ratio": exact(ratios[worst_key], SIZES[scale].seeds)},
        {"max_ratio_per_cell": ratios},
        f"worst ratio {ratios[worst_key]:.3f} at {worst_key}",
    )


@cache
def trainable_ratios(scale: str, mode: str) -> tuple[dict, float]:
    """Per kappa in {10, 100, 1000} (sigma = 0.05): median stages to 1e-6 with beta started at
    beta* and trained (``mode`` "trained": gradient steps of size eta; "reversed": steps of size
    -eta, up the gradient; "fixed": not trained) over those with fixed beta*, and the largest
    drift of beta from beta*."""
    ratios, drift = {}, 0.0
    for kappa in (10, 100, 1000):
        specs = [{"Sigma": s, "W_star": w}
                 for s, w in problems(scale, "stacking.trainable-beta", kappa, 0.05)]  # fmt: skip
        budget = _budget(kappa, "stack")
        fixed = train_stagewise_batch(specs, budget, init="stack", target=TARGET)
        learned = fixed
        if mode != "fixed":
            eta = 1 / np.array([np.linalg.eigvalsh(spec["Sigma"])[-1] for spec in specs])
            sign = 1.0 if mode == "trained" else -1.0
            learned = train_stagewise_batch(
                [{**spec, "beta_lr": sign * e} for spec, e in zip(specs, eta, strict=True)],
                budget,
                init="trainable",
                target=TARGET,
            )
        ratios[kappa] = float(
            np.median([b.steps_to(TARGET) for b in learned])
            / np.median([a.steps_to(TARGET) for a in fixed])
        )
        beta_star = nesterov_beta(kappa)
        drift = max(drift, max(float(np.max(np.abs(r.betas - beta_star))) for r in learned))
    return ratios, drift


@claim(
    id="stacking.trainable-beta",
    source=f"{PAPER}, experiments (trainable beta)",
    provenance="secondary",
    statement="making the stacking scale beta trainable (one gradient step per stage, starting at "
    "beta*) does not compromise stacking",
    measurement="max over kappa in {10, 100, 1000} (sigma = 0.05) of median stages to 1e-6 with "
    "trainable beta over those with fixed beta* ('worst ratio')",
    expect={"worst ratio": AtMost(1.5)},
    positive="fixed beta* against itself",
    negative="beta trained the wrong way (steps of size -eta, up the gradient): if training beta "
    "mattered, this would compromise stacking",
    group="stacking.stages-table",
)
def _trainable(scale, arm, rng):
    mode = {"claim": "trained", "positive": "fixed", "negative": "reversed"}[arm]
    ratios, drift = trainable_ratios(scale, mode)
    worst = max(ratios.values())
    return Measurement(
        {"worst ratio": exact(worst, SIZES[scale].seeds)},
        {"ratio_trainable_over_fixed": ratios, "max_abs_beta_drift": drift},
        f"worst ratio {worst:.3f}; beta moved at most {drift:.2e} from beta*",
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
    measurement="over 30 stages, sigma in {0.1, 0.5} and seeds: max ||deviation - prediction|| / "
    "||P_{t+1} - P_t|| ('identity residual'); max relative mismatch of the kernel's reported "
    "|E1|, |E2| and these formulas ('reported-E mismatch'); max |loss difference| of beta = 0 "
    "stacking and zero init ('beta=0 difference')",
    expect={
        "identity residual": AtMost(1e-10),
        "reported-E mismatch": AtMost(1e-8),
        "beta=0 difference": AtMost(0.0),
    },
    positive="the NumPy reference of the recursion (sims/_reference.py), an independent "
    "implementation, in place of the Numba kernel",
    negative="a perturbed prediction (E1 left out) and beta = 0.01 compared with zero init",
    must_hold=True,
)
def _identities(scale, arm, rng):
    d = SIZES[scale].dimension
    backend = "numpy" if arm == "positive" else "numba"
    keep_e1 = 0.0 if arm == "negative" else 1.0
    worst_identity, worst_report, stages = 0.0, 0.0, 30
    for layer_grad in ("euclidean", "functional"):
        for sigma in (0.1, 0.5):
            for sigma_mat, w_star in problems(scale, "stacking.error-identities", 100, sigma):
                beta = nesterov_beta(100)
                ps, ws, eta = _stacking_matrices(sigma_mat, w_star, stages, beta, layer_grad)
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
                    sigma_mat, w_star, 100, beta=0.01 if arm == "negative" else 0.0,
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


PLANTED_SIGMA = 0.5


def frontier_stages(scale: str, arm: str) -> dict:
    """Per (layer_grad, kappa, sigma): (stages to 1e-6 per seed, NAG's per seed). Controls plant
    the answer: ``positive`` gives NAG's stages below sigma = 0.5 and three times them from there
    on (a frontier by construction); ``negative`` NAG's stages everywhere (no frontier)."""
    out = {}
    for key, (runs, nag) in frontier_runs(scale).items():
        if arm == "claim":
            stages = [r.steps_to(TARGET) for r in runs]
        else:
            slow = arm == "positive" and key[2] >= PLANTED_SIGMA
            stages = [3 * n if slow else n for n in nag]
        out[key] = (stages, nag)
    return out


@claim(
    id="stacking.sigma-frontier",
    source=f"{PAPER}, Figure 5 (caption: for higher sigma stacking diverges in early stages)",
    provenance="reconstructed",
    statement="as W* moves away from the identity (sigma grows) euclidean stacking stops "
    "accelerating or diverges; the frontier sigma is measured per kappa (a finding)",
    measurement="the fraction of kappa in {10, 100, 1000} with some sigma <= 2 at which most "
    "seeds of euclidean stacking fail to reach 1e-6 within 2x NAG's stages ('kappas with a "
    "frontier')",
    expect={"kappas with a frontier": AtLeast(1.0)},
    positive="planted stage counts: NAG's below sigma = 0.5, three times NAG's from there on",
    negative="NAG's stage counts at every sigma (no frontier)",
    figures=("deep-linear-sigma",),
    group="stacking.frontier-and-errors",
)
def _sigma_frontier(scale, arm, rng):
    table = frontier_stages(scale, arm)
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
    share = sum(s is not None for s in euclid) / len(euclid)
    text = ", ".join(
        f"kappa={k}: {s if s is not None else '> 2'}"
        for k, s in zip(FRONTIER_KAPPAS, euclid, strict=True)
    )
    functional = ", ".join(f"{frontier[f'functional,kappa={k}'] or '> 2'}" for k in FRONTIER_KAPPAS)
    return Measurement(
        {"kappas with a frontier": exact(share, len(euclid))},
        {"frontier_sigma": frontier, "max_early_loss_rise_at_frontier": early_blowup,
         "cells": detail},
        f"euclidean frontier sigma {text}; functional: {functional}",
    )  # fmt: skip


@claim(
    id="stacking.functional-tracks-nesterov",
    source=f"{PAPER}, §3 (functional geometry removes the metric error E2)",
    provenance="reconstructed",
    statement="functional stacking (layer gradient G P^{-1}) stays within a factor 2 of NAG's loss "
    "at every stage for sigma up to 1 (kappa = 100)",
    measurement="max over stages (until NAG reaches 1e-10), seeds and sigma in {0.01, 0.1, 0.3, "
    "0.5, 1.0} of loss_functional / loss_NAG ('worst loss ratio')",
    expect={"worst loss ratio": AtMost(2.0)},
    positive="NAG against itself",
    negative="functional zero init (beta = 0) in place of functional stacking",
    figures=("deep-linear-sigma",),
    group="stacking.frontier-and-errors",
)
def _functional_tracks(scale, arm, rng):
    worst = {}
    for sigma in (0.01, 0.1, 0.3, 0.5, 1.0):
        ratio = 0.0
        for s, w in problems(scale, "stacking.functional-tracks-nesterov", 100, sigma):
            nag = nesterov_reference(s, w, 400)
            horizon = min(nag.steps_to(1e-10), nag.stages_done)
            if arm == "positive":
                losses = nag.losses[: horizon + 1]
            else:
                init = "zero" if arm == "negative" else "stack"
                losses = train_stagewise(s, w, horizon, init=init, layer_grad="functional").losses
            if len(losses) < horizon + 1:
                ratio = np.inf
                break
            ratio = max(ratio, float(np.max(losses / nag.losses[: horizon + 1])))
        worst[sigma] = ratio
    top = max(worst.values())
    return Measurement(
        {"worst loss ratio": exact(top, SIZES[scale].seeds)},
        {"max_loss_ratio_per_sigma": worst},
        "max loss ratio to NAG per sigma: " + ", ".join(f"{s}: {r:.3g}" for s, r in worst.items()),
    )


RANDOM_SCALES = (1e-3, 3e-3, 1e-2, 3e-2)


@cache
def random_plateaus(scale: str) -> dict:
    """Plateau (mean loss over the last quarter of 400 stages) of random init per noise scale, per
    seed, and zero init's final loss."""
    instances = problems(scale, "stacking.random-init-plateau", 10, 0.05)
    plateaus = {}
    for scale_xi in RANDOM_SCALES:
        runs = train_stagewise_batch(
            [{"Sigma": s, "W_star": w, "seed": k} for k, (s, w) in enumerate(instances)],
            400,
            init="random",
            random_scale=scale_xi,
        )
        plateaus[scale_xi] = [float(np.mean(r.losses[300:])) for r in runs]
    zero = train_stagewise_batch(
        [{"Sigma": s, "W_star": w} for s, w in instances], 400, init="zero"
    )
    plateaus["zero"] = [float(r.losses[-1]) for r in zero]
    return plateaus


@claim(
    id="stacking.random-init-plateau",
    source=f"{PAPER}, §2 (random init = stochastic functional GD on a smoothed loss)",
    provenance="reconstructed",
    statement="random initialisation of the new layer leaves noise in the model: the loss "
    "plateaus, at a level growing like random_scale^2",
    measurement="plateau (mean loss over stages 300-400) per seed for random_scale in {1e-3, "
    "3e-3, 1e-2, 3e-2}: log-log slope over all seeds ('plateau slope', linregress interval), and "
    "the smallest median plateau over zero init's final loss ('plateau / zero init')",
    expect={"plateau slope": Near(2.0, 0.2), "plateau / zero init": AtLeast(100)},
    positive="planted plateaus a s^2 per seed (a: each seed's measured plateau at s = 1e-2 over "
    "1e-4)",
    negative="the noise scale held at 1e-3 for every random_scale (the plateau cannot grow)",
    group="stacking.random-init-plateau",
)
def _random_plateau(scale, arm, rng):
    plateaus = random_plateaus(scale)
    floor = float(np.median(plateaus["zero"]))
    if arm == "positive":
        plateaus = planted_power_law(plateaus[1e-2], 1e-2, RANDOM_SCALES, 2.0)
    elif arm == "negative":  # the same seeds at one scale: identical runs for every s
        plateaus = dict.fromkeys(RANDOM_SCALES, plateaus[RANDOM_SCALES[0]])
    slope = pooled_slope({s: plateaus[s] for s in RANDOM_SCALES})
    medians = [float(np.median(plateaus[s])) for s in RANDOM_SCALES]
    above = min(medians) / floor if floor > 0 else np.inf
    return Measurement(
        {"plateau slope": slope, "plateau / zero init": exact(above, SIZES[scale].seeds)},
        {"scales": list(RANDOM_SCALES), "median_plateau": medians, "zero_init_final_loss": floor},
        f"slope {slope.text()}; smallest plateau / zero-init loss = {above:.3g}",
    )


@claim(
    id="stacking.errors-vs-critical",
    source=f"{PAPER}, §3 (stacking = NAG with errors E1, E2; Figure 5)",
    provenance="reconstructed",
    statement="deep-linear stacking runs that accelerate have relative errors (|E1| + |E2| over "
    "the step) below NAG's critical momentum-error level; runs that stall or diverge "
    "exceed it",
    measurement="kappa = 100, every sigma and seed of the frontier runs: the number of runs whose "
    "median relative error over the first 50 stages falls on the wrong side of eps* (below if "
    "the run accelerates, above if not; eps* from nesterov.error-critical-level) "
    "('misclassified runs')",
    expect={"misclassified runs": AtMost(0)},
    positive="planted errors: eps*/2 for runs that accelerate, 2 eps* for the others",
    negative="the error medians of each layer geometry assigned to the sigmas in reverse order "
    "(no relation left)",
    figures=("robust-stacking-errors",),
    group="stacking.frontier-and-errors",
    minutes=0.5,
)
def _stacking_errors(scale, arm, rng):
    crit = error_sweep(scale)[("momentum", 100)]["critical_eps"]
    runs = frontier_runs(scale)
    wrong, total, crossing, cells = 0, 0, {}, {}
    for layer_grad in ("euclidean", "functional"):
        crossing[layer_grad] = None
        errors = {
            sigma: [float(np.median((r.e1 + r.e2)[:50])) for r in runs[(layer_grad, 100, sigma)][0]]
            for sigma in FRONTIER_SIGMAS
        }
        if arm == "negative":
            errors = dict(zip(FRONTIER_SIGMAS, reversed(list(errors.values())), strict=True))
        for sigma in FRONTIER_SIGMAS:
            results, nag = runs[(layer_grad, 100, sigma)]
            accel = [accelerates(r.steps_to(TARGET), n) for r, n in zip(results, nag, strict=True)]
            medians = (
                [crit / 2 if a else 2 * crit for a in accel] if arm == "positive" else errors[sigma]
            )
            wrong += sum((m < crit) != a for m, a in zip(medians, accel, strict=True))
            total += len(medians)
            cells[f"{layer_grad},sigma={sigma}"] = {
                "median_rel_error": medians,
                "accelerates": accel,
            }
            if crossing[layer_grad] is None and np.median(medians) > crit:
                crossing[layer_grad] = sigma
    return Measurement(
        {"misclassified runs": exact(wrong, total)},
        {"critical_eps": crit, "misclassified": f"{wrong}/{total}",
         "sigma_where_error_crosses": crossing, "cells": cells},
        f"eps* = {crit:.3g}; {wrong} of {total} runs on the wrong side; error crosses eps* at "
        f"sigma {crossing['euclidean']} (euclidean), {crossing['functional']} (functional)",
    )  # fmt: skip


@figure(
    "deep-linear-inits",
    "Deep linear residual network (sigma = 0.05): relative loss versus stage for each"
    " initialisation of the new layer, with NAG and GD on the end-to-end matrix; median and"
    " inter-quartile band over seeds (analogue of the paper's Figure 4).",
)
def _deep_linear_inits(scale):
    from figures.deep_linear import plot_loss_panels

    d, n_seeds = (8, 5) if scale == "quick" else (16, 10)
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

    d, n_seeds = (8, 5) if scale == "quick" else (16, 10)
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
    "Median stages to 1e-6 versus kappa at sigma = 0.05, with fitted log-log slopes.",
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
    "Deep linear stacking (kappa = 100): relative size of the error terms E1 + E2 per stage,"
    " euclidean (solid) and functional (dashed), against NAG's critical momentum-error level.",
)
def _robust_stacking(scale):
    from figures.robust import plot_stacking_errors

    runs = frontier_runs(scale)
    curves = {}
    for layer_grad in ("euclidean", "functional"):
        for sigma in (0.1, 0.3, 0.5, 1.0):
            results, _ = runs[(layer_grad, 100, sigma)]
            n = min(150, min(len(r.e1) for r in results))
            curves[(layer_grad, sigma)] = np.median([(r.e1 + r.e2)[:n] for r in results], axis=0)
    return plot_stacking_errors(curves, error_sweep(scale)[("momentum", 100)]["critical_eps"])
