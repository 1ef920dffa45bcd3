"""Claims of "Efficient Stagewise Pretraining via Progressive Subnetworks" (RaPTr; Panigrahi et
al., arXiv 2402.05913) at CPU scale (docs/theory.md §5).

Only the abstract, the figure captions and summaries are available to us: the toy task's exact
formula, the network sizes and the thresholds below are the project's choices (`reconstructed`),
fixed before the runs. Experiments are cached per scale so that claims and figures share them.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.stats import spearmanr

from paper_checks.measure import fitted_slope, seeds
from paper_checks.registry import Outcome, claim
from sims import residual_mlp, subnetworks
from sims.problems import component_errors, independent_seeds, staircase_task
from theory import flops

PAPER = "Panigrahi et al. 2024 (RaPTr, arXiv 2402.05913)"
BUDGET = 0.8
STAGE_FRACTIONS = (0.3, 0.2, 0.5)  # with path lengths L/2, 3L/4, L: relative FLOPs exactly 0.8
LEARNED = 0.1  # component k counts as learned once e_k <= 0.1 c_k^2


def _toy_size(scale):
    """(width, depth, steps, seeds)."""
    return (16, 8, 2000, 3) if scale == "quick" else (32, 20, 4000, 3)


@cache
def toy_runs(scale: str) -> dict:
    """Baseline, RaPTr (L/2-3L/4-L, fixed first and last layer) and PLD (calibrated to the same
    0.8 FLOPs, gamma = 10 / steps) on the degree-1..10 staircase, d = 20, Adam lr 3e-3, batch
    256, per seed. Eval every steps/40 with predictions kept for the component errors."""
    width, depth, steps, n_seeds = _toy_size(scale)
    task = staircase_task(20, 10)
    gamma = 10 / steps
    theta_bar = subnetworks.calibrate_pld(depth, steps, BUDGET, gamma)
    runs = {"baseline": [], "raptr": [], "pld": []}
    X_eval, y_eval = task.sample(4000, seed=1)
    for seed in seeds(n_seeds, salt=2402):
        data_seed, init_seed, raptr_seed, pld_seed, batch_seed = independent_seeds(seed, 5)
        X, y = task.sample(20000, seed=data_seed)
        params = residual_mlp.init_params(20, width, depth, seed=init_seed)
        schedules = {
            "baseline": None,
            "raptr": subnetworks.raptr_schedule(
                depth,
                [depth // 2, 3 * depth // 4, depth],
                steps,
                fractions=STAGE_FRACTIONS,
                seed=raptr_seed,
            ),
            "pld": subnetworks.pld_schedule(depth, steps, theta_bar, gamma, seed=pld_seed),
        }
        for name, schedule in schedules.items():
            boundaries = () if schedule is None else tuple(int(s) for s in schedule.stage_starts)
            result = residual_mlp.train(
                params, X, y, steps, lr=3e-3, schedule=schedule, X_eval=X_eval, y_eval=y_eval,
                eval_every=steps // 40, record_predictions=True, checkpoints=boundaries,
                seed=batch_seed,
            )  # fmt: skip
            errors = np.array(
                [component_errors(task, X_eval, f)[0] for f in result.eval_predictions]
            )
            runs[name].append({"result": result, "errors": errors, "schedule": schedule})
    return {"runs": runs, "task": task, "X_eval": X_eval, "y_eval": y_eval, "depth": depth}


def _steps_to_learn(run) -> np.ndarray:
    """First eval step at which each component is learned (inf if never)."""
    steps = run["result"].eval_steps
    learned = run["errors"] <= LEARNED
    return np.array([steps[np.argmax(col)] if col.any() else np.inf for col in learned.T])


@claim(
    id="raptr.flops-identities",
    source=f"{PAPER}, §3 (relative FLOPs of 6-8-10-12; PLD as in DeepSpeed)",
    provenance="reconstructed",
    statement="RaPTr 6-8-10-12 on 12 layers (fixed first and last, equal stages) costs 0.75 of "
    "full training, as much as gradual stacking 6-9-12; sampled masks match the expectation; "
    "PLD's active fraction decreases over training while RaPTr's increases",
    expected="closed forms equal the schedule's expected cost to 1e-12; Monte-Carlo active-layer "
    "fraction within 4 standard errors of the expectation (bernoulli and fixed_size samplers, "
    "PLD); expected active fraction strictly increasing over RaPTr's stages and strictly "
    "decreasing over PLD's quarters of training",
)
def _flops_identities(scale, rng):
    steps = 2000 if scale == "quick" else 20000
    raptr_closed = flops.raptr_relative_flops(12, [6, 8, 10, 12])
    stacking_closed = flops.stacking_relative_flops([6, 9, 12])
    schedules = {
        sampler: subnetworks.raptr_schedule(
            12, [6, 8, 10, 12], steps, sampler=sampler, seed=int(rng.integers(2**32))
        )
        for sampler in subnetworks.SAMPLERS
    }
    theta_bar = subnetworks.calibrate_pld(12, steps, 0.9, gamma=5 / steps)
    schedules["pld"] = subnetworks.pld_schedule(
        12, steps, theta_bar, 5 / steps, seed=int(rng.integers(2**32))
    )
    z_scores = {}
    for name, s in schedules.items():
        p = s.keep_probabilities
        se = np.sqrt(np.sum(p * (1 - p))) / p.size
        z_scores[name] = float(abs(s.masks.mean() - p.mean()) / se) if se > 0 else 0.0
    exact = abs(subnetworks.relative_flops(schedules["bernoulli"]) - raptr_closed)
    pld_exact = abs(
        subnetworks.relative_flops(schedules["pld"])
        - flops.pld_relative_flops(12, steps, theta_bar, 5 / steps)
    )
    raptr_stage_means = [
        float(schedules["bernoulli"].keep_probabilities[a:b].mean())
        for a, b in zip(schedules["bernoulli"].stage_starts, [*schedules["bernoulli"].stage_starts[1:], steps], strict=True)
    ]  # fmt: skip
    pld_quarters = [float(q.mean()) for q in np.array_split(schedules["pld"].keep_probabilities, 4)]
    passed = (
        abs(raptr_closed - 0.75) < 1e-12
        and abs(stacking_closed - 0.75) < 1e-12
        and max(exact, pld_exact) < 1e-12
        and max(z_scores.values()) < 4
        and all(np.diff(raptr_stage_means) > 0)
        and all(np.diff(pld_quarters) < 0)
    )
    return Outcome(
        passed,
        {
            "raptr_closed_form": raptr_closed,
            "stacking_closed_form": stacking_closed,
            "schedule_vs_closed_form": max(exact, pld_exact),
            "monte_carlo_z": z_scores,
            "raptr_stage_means": raptr_stage_means,
            "pld_quarter_means": pld_quarters,
        },
        f"RaPTr {raptr_closed:.4f}, stacking {stacking_closed:.4f}; max MC z = "
        f"{max(z_scores.values()):.2f}; RaPTr stages {np.round(raptr_stage_means, 3).tolist()}, "
        f"PLD quarters {np.round(pld_quarters, 3).tolist()}",
    )


@claim(
    id="raptr.toy-polynomial",
    source=f"{PAPER}, Figure 2 (polynomial toy task, caption)",
    provenance="reconstructed",
    statement="at 0.8x the baseline's FLOPs RaPTr reaches the baseline's loss, PLD misses the "
    "high-degree components, and RaPTr learns low degrees first",
    expected="staircase of degrees 1..10, d = 20, >= 3 seeds: mean final eval loss of RaPTr <= "
    "1.1x the baseline's; PLD's mean final error on components k >= 7 larger than RaPTr's; "
    "Spearman correlation of k with RaPTr's median steps to learn k (e_k <= 0.1) > 0.8",
    figures=("raptr-toy",),
    group="raptr.toy-runs",
    minutes=18,
)
def _toy(scale, rng):
    runs = toy_runs(scale)["runs"]
    final = {n: float(np.mean([r["result"].eval_losses[-1] for r in rs])) for n, rs in runs.items()}
    high = {n: float(np.mean([r["errors"][-1, 6:].sum() for r in rs])) for n, rs in runs.items()}
    learn = np.median([_steps_to_learn(r) for r in runs["raptr"]], axis=0)
    rho = float(spearmanr(np.arange(1, 11), learn).statistic)
    ratio = final["raptr"] / final["baseline"]
    flops_used = {n: float(np.mean([r["result"].flops[-1] for r in rs])) for n, rs in runs.items()}
    relative = {n: v / flops_used["baseline"] for n, v in flops_used.items()}
    passed = ratio <= 1.1 and high["pld"] > high["raptr"] and rho > 0.8
    return Outcome(
        passed,
        {
            "final_eval_loss": final,
            "high_degree_error": high,
            "raptr_steps_to_learn": learn.tolist(),
            "spearman": rho,
            "relative_flops": relative,
        },
        f"final eval loss RaPTr/baseline = {ratio:.2f} ({final['raptr']:.3g} vs "
        f"{final['baseline']:.3g}; PLD {final['pld']:.3g}); error on k >= 7: PLD "
        f"{high['pld']:.3g} vs RaPTr {high['raptr']:.3g}; Spearman {rho:.2f}; FLOPs RaPTr "
        f"{relative['raptr']:.3f}, PLD {relative['pld']:.3f}",
    )


def _subnetwork_losses(params, schedule, step, X_eval, y_eval, rng, n=32) -> np.ndarray:
    """Eval losses of n subnetworks drawn from the schedule's distribution at ``step``."""
    keep = schedule.keep_probabilities[step]
    masks = (rng.uniform(size=(n, keep.size)) < keep).astype(float)
    return np.array(
        [
            np.mean((residual_mlp.forward(params, X_eval, m, schedule.scales[step]) - y_eval) ** 2)
            for m in masks
        ]
    )


@claim(
    id="raptr.transitions",
    source=f"{PAPER}, §4 (stability at stage transitions; boxed observation, secondary)",
    provenance="secondary",
    statement="at every RaPTr stage boundary the full model's eval loss is not above the mean "
    "eval loss of the stage's subnetworks, and the loss does not jump when the next stage starts",
    expected="toy runs of raptr.toy-polynomial, 32 subnetworks sampled per boundary: full-model "
    "loss <= mean subnetwork loss, and mean loss under the next stage's distribution - mean "
    "under the ending stage's <= 1 standard error of that difference, at every boundary and seed",
    group="raptr.toy-runs",
)
def _transitions(scale, rng):
    toy = toy_runs(scale)
    X_eval, y_eval = toy["X_eval"], toy["y_eval"]
    cells, ok = [], True
    for run in toy["runs"]["raptr"]:
        schedule = run["schedule"]
        for stage, start in enumerate(schedule.stage_starts[1:], start=1):
            params = run["result"].checkpoints[int(start)]

            before, after = (
                _subnetwork_losses(params, schedule, step, X_eval, y_eval, rng)
                for step in (start - 1, start)
            )
            full = float(np.mean((residual_mlp.forward(params, X_eval) - y_eval) ** 2))
            jump = float(after.mean() - before.mean())
            se = float(np.sqrt(before.var(ddof=1) / 32 + after.var(ddof=1) / 32))
            ok &= full <= before.mean() and jump <= se
            cells.append(
                {"stage": stage, "full": full, "subnetworks": float(before.mean()),
                 "next_stage": float(after.mean()), "jump": jump, "se": se}
            )  # fmt: skip
    worst = max(cells, key=lambda c: c["jump"] / c["se"] if c["se"] > 0 else 0.0)
    above = sum(c["full"] > c["subnetworks"] for c in cells)
    return Outcome(
        bool(ok),
        {"boundaries": cells},
        f"{len(cells)} boundaries: full model above its subnetworks' mean at {above}; largest "
        f"jump {worst['jump']:.3g} ({worst['jump'] / worst['se']:.2f} SE) at stage {worst['stage']}",
    )


@claim(
    id="raptr.two-phase",
    source=f"{PAPER}, 2-phase RaPTr result (theorem name, `paper`; statement secondary)",
    provenance="reconstructed",
    statement="on a 2-block residual network with y = h_1 + h_2, phase 1 (one random block per "
    "step) learns the degree-1 component while the degree-2 error stays high; phase 2 (the "
    "full network) then learns the degree-2 component",
    expected="d = 10, width 16, SGD lr 0.02 (small), 3 seeds: after phase 1 e_1 <= 0.1 and "
    "e_2 >= 0.5 (c_k = 1); after phase 2 e_2 <= 0.1",
)
def _two_phase(scale, rng):
    steps = 2000 if scale == "quick" else 6000
    task = staircase_task(10, 2)
    X_eval, _ = task.sample(4000, seed=3)
    rows = []
    for seed in seeds(3, salt=22):
        data_seed, init_seed, schedule_seed, batch_seed = independent_seeds(seed, 4)
        X, y = task.sample(10000, seed=data_seed)
        params = residual_mlp.init_params(10, 16, 2, seed=init_seed)
        schedule = subnetworks.raptr_schedule(
            2, [1, 2], steps, fixed=(), sampler="fixed_size", seed=schedule_seed
        )
        half = int(schedule.stage_starts[1])
        result = residual_mlp.train(
            params, X, y, steps, lr=0.02, optimizer="sgd", schedule=schedule,
            checkpoints=(half, steps), seed=batch_seed,
        )  # fmt: skip
        ends = [
            component_errors(task, X_eval, residual_mlp.forward(result.checkpoints[t], X_eval))[0]
            for t in (half, steps)
        ]
        rows.append({"phase1": ends[0].tolist(), "phase2": ends[1].tolist()})
    passed = all(
        r["phase1"][0] <= 0.1 and r["phase1"][1] >= 0.5 and r["phase2"][1] <= 0.1 for r in rows
    )
    summary = "; ".join(
        f"e1, e2 after phase 1 = {r['phase1'][0]:.3f}, {r['phase1'][1]:.3f}, "
        f"after phase 2 = {r['phase2'][0]:.3f}, {r['phase2'][1]:.3f}"
        for r in rows
    )
    return Outcome(passed, {"seeds": rows}, summary)


def _unit_sphere(rng, n, d):
    X = rng.standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@cache
def stability_table(scale: str) -> dict:
    """Mean drop-one-layer gap per (variant, depth) and activation norms at the largest depth,
    d = 100, 100 inputs on the unit sphere."""
    depths = (4, 8, 16, 32, 64, 128) if scale == "quick" else (4, 8, 16, 32, 64, 128, 256, 512)
    variants = {
        "tau=0": (0.0, True, True),
        "tau=0.5": (0.5, True, True),
        "tau=1": (1.0, True, True),
        "tau=0, no LN": (0.0, False, True),
        "tau=0, no residual": (0.0, True, False),
    }
    X = _unit_sphere(np.random.default_rng(5), 100, 100)
    gaps, norms = {}, {}
    for name, (tau, layernorm, residual) in variants.items():
        gaps[name] = []
        for depth in depths:
            layers = subnetworks.linear_ln_layers(100, depth, tau, seed=depth)
            with np.errstate(over="ignore"):
                gaps[name].append(
                    float(subnetworks.drop_one_gaps(layers, X, layernorm, residual).mean())
                )
        with np.errstate(over="ignore"):
            stream = subnetworks.linear_ln_stream(layers, X, layernorm=layernorm, residual=residual)
        norms[name] = np.linalg.norm(stream[1:], axis=2).mean(axis=1)
    return {"depths": depths, "gaps": gaps, "norms": norms}


@claim(
    id="raptr.stability",
    source=f"{PAPER}, Figure 4 (caption `paper`: d = 100, 100 unit-sphere inputs, layers "
    "sqrt(tau) A + sqrt(1 - tau) G_l); O(1/sqrt(L)) gap (secondary)",
    provenance="secondary",
    statement="for linear residual networks with layer normalisation the drop-one-layer gap "
    "decays like L^-1/2 at tau = 0 and faster for tau > 0; without LN or without the residual "
    "connection it stays of order 1; activation norms grow like l^1/2 at tau = 0 and about "
    "linearly for tau >= 0.5; F_{-l}(x) = G_l(y_{l-1}) exactly",
    expected="fitted log-log slope of the gap over L: tau = 0 in [-0.6, -0.4], tau = 0.5 and 1 "
    "below the tau = 0 slope, no LN and no residual within 0.1 of 0; activation-norm slope over "
    "the upper 7/8 of the layers at the largest L: tau = 0 in [0.4, 0.6], tau >= 0.5 in "
    "[0.8, 1.2]; identity residual <= 1e-12 relative",
    figures=("raptr-stability",),
    minutes=2,
)
def _stability(scale, rng):
    table = stability_table(scale)
    depths = table["depths"]
    slopes = {name: fitted_slope(depths, g) for name, g in table["gaps"].items()}
    norm_slopes = {}
    for name, norms in table["norms"].items():
        layers = np.arange(1, len(norms) + 1)
        upper = layers > len(norms) // 8
        norm_slopes[name] = fitted_slope(layers[upper], norms[upper])
    layers = subnetworks.linear_ln_layers(100, 16, 0.0, seed=7)
    X = _unit_sphere(rng, 20, 100)
    stream = subnetworks.linear_ln_stream(layers, X)
    identity = 0.0
    for layer in range(16):
        mask = np.ones(16)
        mask[layer] = 0
        dropped = subnetworks.linear_ln_stream(layers, X, mask=mask)[-1]
        above = subnetworks.linear_ln_stream(layers, stream[layer], layer + 1)[-1]
        identity = max(identity, float(np.max(np.abs(dropped - above)) / np.max(np.abs(dropped))))
    passed = (
        -0.6 <= slopes["tau=0"] <= -0.4
        and max(slopes["tau=0.5"], slopes["tau=1"]) < slopes["tau=0"]
        and abs(slopes["tau=0, no LN"]) <= 0.1
        and abs(slopes["tau=0, no residual"]) <= 0.1
        and 0.4 <= norm_slopes["tau=0"] <= 0.6
        and all(0.8 <= norm_slopes[n] <= 1.2 for n in ("tau=0.5", "tau=1"))
        and identity <= 1e-12
    )
    return Outcome(
        passed,
        {
            "gap_slopes": slopes,
            "norm_slopes": norm_slopes,
            "identity_residual": identity,
            "gaps": table["gaps"],
            "depths": list(depths),
        },
        "gap slopes "
        + ", ".join(f"{n}: {s:.2f}" for n, s in slopes.items())
        + "; norm slopes "
        + ", ".join(f"{n}: {norm_slopes[n]:.2f}" for n in ("tau=0", "tau=0.5", "tau=1"))
        + f"; identity {identity:.1e}",
    )
