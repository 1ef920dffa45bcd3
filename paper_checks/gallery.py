"""Figure recipes: each computes its data (with ``theory`` and ``sims``) and draws it with ``figures``.

``stagewise figures`` renders every recipe; ``stagewise check`` renders those its claims name and
embeds them in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from figures import worst_case as wc_figures
from paper_checks.claims_nesterov import SCALING_KAPPAS
from paper_checks.measure import fitted_slope, seeds
from theory import pep, rates, spectral


@dataclass(frozen=True)
class Recipe:
    name: str
    caption: str
    draw: Callable[[str], object]  # scale -> matplotlib Figure


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


RECIPES = {
    r.name: r
    for r in (
        Recipe(
            "worst-case-vs-steps",
            "Exact worst case over quadratics (lines, theory/spectral.py) against PEPit "
            "(markers: quadratic class o, all smooth strongly convex functions x).",
            _worst_case_vs_steps,
        ),
        Recipe(
            "steps-vs-kappa",
            "Steps to 1e-6 on the worst-case quadratic versus kappa, with fitted log-log slopes.",
            _steps_vs_kappa,
        ),
    )
}


def _deep_linear_inits(scale):
    from figures.deep_linear import plot_loss_panels
    from sims.deep_linear import gd_reference, nesterov_reference, train_stagewise_batch
    from sims.problems import deep_linear_problem

    d, n_seeds = (8, 5) if scale == "quick" else (16, 10)
    panels = {}
    for kappa, horizon in ((10, 120), (100, 300), (1000, 900)):
        problems = [
            deep_linear_problem(d, kappa, 0.05, seed=s) for s in seeds(n_seeds, 5000 + kappa)
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


def _deep_linear_sigma(scale):
    from figures.deep_linear import plot_loss_panels
    from sims.deep_linear import nesterov_reference, train_stagewise_batch
    from sims.problems import deep_linear_problem

    d, n_seeds = (8, 5) if scale == "quick" else (16, 10)
    panels = {}
    for sigma in (0.01, 0.1, 0.3, 0.5, 1.0):
        problems = [deep_linear_problem(d, 100, sigma, seed=s) for s in seeds(n_seeds, 6000)]
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


def _deep_linear_steps(scale):
    from paper_checks.claims_stacking import KAPPAS, stages_table

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


RECIPES.update(
    {
        r.name: r
        for r in (
            Recipe(
                "deep-linear-inits",
                "Deep linear residual network (sigma = 0.05): relative loss versus stage for each "
                "initialisation of the new layer, with NAG and GD on the end-to-end matrix; median and "
                "inter-quartile band over seeds (analogue of the paper's Figure 4).",
                _deep_linear_inits,
            ),
            Recipe(
                "deep-linear-sigma",
                "kappa = 100: euclidean versus functional stacking versus NAG as W* moves away from "
                "the identity (analogue of the paper's Figure 5).",
                _deep_linear_sigma,
            ),
            Recipe(
                "deep-linear-steps-vs-kappa",
                "Median stages to 1e-6 versus kappa at sigma = 0.05, with fitted log-log slopes.",
                _deep_linear_steps,
            ),
        )
    }
)


def _boosting_inits(scale):
    from figures.boosting import plot_gap_panels
    from sims.boosting import train_ensemble
    from sims.problems import regression_problem

    panels = {}
    for kappa in (100, 10000):
        X, y = regression_problem(200, 10, kappa, 0.3, seed=kappa)
        coef = np.linalg.lstsq(X, y, rcond=None)[0]
        optimum = np.sum((X @ coef - y) ** 2) / 400
        curves = {}
        for label, options in (
            ("zero init", {"init": "zero"}),
            ("random init", {"init": "random", "random_scale": 0.01, "seed": 0}),
            ("stack", {"init": "stack"}),
            ("copy (beta = 1)", {"init": "copy"}),
        ):
            losses = train_ensemble(X, y, 600, **options).losses
            curves[label] = (losses - optimum) / (losses[0] - optimum)
        panels[f"linear learners, kappa = {kappa:g}"] = curves
    return plot_gap_panels(panels)


def _boosting_logistic(scale):
    from figures.boosting import plot_logistic_rates
    from paper_checks.claims_boosting import logistic_gaps

    gaps = dict(logistic_gaps(scale))
    gaps.pop("optimum")
    return plot_logistic_rates(gaps)


def _boosting_trees(scale):
    from figures.boosting import plot_tree_comparison
    from paper_checks.claims_boosting import tree_comparison

    return plot_tree_comparison(tree_comparison(scale))


RECIPES.update(
    {
        r.name: r
        for r in (
            Recipe(
                "boosting-inits",
                "Boosting with linear learners (squared loss): relative suboptimality gap versus stage "
                "for zero, random, stacking (beta*) and copy (beta = 1) initialisation.",
                _boosting_inits,
            ),
            Recipe(
                "boosting-logistic-rate",
                "Logistic loss, non-separable data: gap versus stage, stacking with "
                "beta_t = (t-1)/(t+2) against zero init, with 1/T and 1/T^2 guides.",
                _boosting_logistic,
            ),
            Recipe(
                "boosting-trees",
                "Regression-tree boosting, each method at its own best shrinkage (and beta): rounds to "
                "a training-loss target and best held-out loss, one dot per seed, bar = median.",
                _boosting_trees,
            ),
        )
    }
)


def _robust_rate(scale):
    from figures.robust import plot_steps_vs_eps
    from paper_checks.claims_robust import EPS_GRID, KAPPAS, error_sweep

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


def _robust_stacking(scale):
    from figures.robust import plot_stacking_errors
    from paper_checks.claims_robust import error_sweep
    from paper_checks.claims_stacking import frontier_runs

    runs = frontier_runs(scale)
    curves = {}
    for layer_grad in ("euclidean", "functional"):
        for sigma in (0.1, 0.3, 0.5, 1.0):
            results, _ = runs[(layer_grad, 100, sigma)]
            n = min(150, min(len(r.e1) for r in results))
            curves[(layer_grad, sigma)] = np.median([(r.e1 + r.e2)[:n] for r in results], axis=0)
    return plot_stacking_errors(curves, error_sweep(scale)[("momentum", 100)]["critical_eps"])


RECIPES.update(
    {
        r.name: r
        for r in (
            Recipe(
                "robust-rate-vs-eps",
                "NAG with adversarial errors: steps to 1e-6 versus the relative error size, with exact "
                "GD and NAG, and the rate implied by PEPit's worst case with relative gradient errors "
                "(all smooth strongly convex functions).",
                _robust_rate,
            ),
            Recipe(
                "robust-potential",
                "The potential Phi_k along exact and perturbed NAG runs on a quadratic + log-sum-exp "
                "objective; dots: the derived upper bound for each step.",
                _robust_potential,
            ),
            Recipe(
                "robust-stacking-errors",
                "Deep linear stacking (kappa = 100): relative size of the error terms E1 + E2 per "
                "stage, euclidean (solid) and functional (dashed), against NAG's critical "
                "momentum-error level.",
                _robust_stacking,
            ),
        )
    }
)


def _raptr_toy(scale):
    from figures.raptr import plot_toy
    from paper_checks.claims_raptr import toy_runs

    runs = toy_runs(scale)["runs"]
    curves = {}
    for name, rs in runs.items():
        result = rs[0]["result"]
        x = np.concatenate([[0.0], result.flops])[result.eval_steps]
        curves[name] = (x, np.median([r["result"].eval_losses for r in rs], axis=0))
    first = runs["raptr"][0]
    steps = first["result"].eval_steps
    errors = np.median([r["errors"] for r in runs["raptr"]], axis=0)
    degrees = {k + 1: (steps, errors[:, k]) for k in range(errors.shape[1])}
    return plot_toy(curves, degrees, first["schedule"].stage_starts)


def _raptr_stability(scale):
    from figures.raptr import plot_stability
    from paper_checks.claims_raptr import stability_table

    table = stability_table(scale)
    return plot_stability(table["depths"], table["gaps"])


RECIPES.update(
    {
        r.name: r
        for r in (
            Recipe(
                "raptr-toy",
                "Staircase of degrees 1..10 (d = 20): full-model eval loss against training FLOPs "
                "for the baseline, RaPTr and PLD at 0.8x FLOPs (medians over seeds; x from the "
                "first seed), and RaPTr's component errors e_k over training with its stage "
                "boundaries.",
                _raptr_toy,
            ),
            Recipe(
                "raptr-stability",
                "Linear residual networks (d = 100, 100 unit-sphere inputs, layers sqrt(tau) A + "
                "sqrt(1 - tau) G_l): mean relative change of the output when one layer is "
                "dropped, against depth, with and without layer normalisation and residual.",
                _raptr_stability,
            ),
        )
    }
)


def _growth_speed(scale):
    from figures.growth import plot_speed
    from paper_checks.claims_growth import speed_runs

    return plot_speed(
        {
            family: {name: (run.flops, run.losses) for name, run in per_seed[0].items()}
            for family, per_seed in speed_runs(scale).items()
        }
    )


def _growth_looped(scale):
    from figures.growth import plot_similarity
    from paper_checks.claims_growth import block_similarity, speed_runs

    runs = speed_runs(scale)["residual MLP"][0]
    return plot_similarity(
        {name: block_similarity(runs[name].params) for name in ("baseline", "gradual", "midas")}
    )


def _growth_lag(scale):
    from figures.growth import plot_lag
    from paper_checks.claims_growth import lag_statistics

    measured = lag_statistics(scale)
    return plot_lag(
        measured["lags"], measured["spearman_per_seed"], measured["selection_regret_mean"]
    )


RECIPES.update(
    {
        r.name: r
        for r in (
            Recipe(
                "growth-speed",
                "Loss against training FLOPs (first seed) for the full-depth baseline and for "
                "gradual, MIDAS and progressive stacking grown from one block with Prop-1 stages: "
                "deep linear residual network (excess risk, GD) and residual MLP on the staircase "
                "(eval MSE, Adam).",
                _growth_speed,
            ),
            Recipe(
                "growth-looped",
                "Cosine similarity between the blocks' weights (W1, W2) of the residual MLP after "
                "training (first seed): baseline, gradual stacking, MIDAS.",
                _growth_looped,
            ),
            Recipe(
                "growth-lag",
                "LAG: Spearman correlation between the loss k steps after growth and the loss at "
                "the end of the stage over a pool of 8 growth strategies (grey: seeds; blue: "
                "mean), and the regret of picking the strategy that looks best at k.",
                _growth_lag,
            ),
        )
    }
)
