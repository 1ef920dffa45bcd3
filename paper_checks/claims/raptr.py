"""Claims of "Efficient Stagewise Pretraining via Progressive Subnetworks" (RaPTr; Panigrahi et
al., arXiv 2402.05913) at CPU scale (docs/theory.md §5).

Only the abstract, the figure captions and summaries are available to us: the toy task's exact
formula, the network sizes and the thresholds below are the project's choices (`reconstructed`),
fixed before the runs. Experiments are cached per scale so that claims and figures share them.
"""

from __future__ import annotations

import functools
from functools import cache

import numpy as np
from scipy.stats import spearmanr

from paper_checks.expect import AtLeast, AtMost, Between, exact, mean_interval
from paper_checks.measure import fitted_slope, generator, seeds
from paper_checks.registry import Measurement, claim, figure
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
    for seed in seeds(n_seeds, "raptr.toy-runs"):
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
    measurement="'closed-form error': largest of |closed forms - 0.75| and |schedule's expected "
    "cost - closed form| (RaPTr, PLD); 'max |z|': Monte-Carlo active-layer fraction against its "
    "expectation (bernoulli and fixed_size samplers, PLD); 'monotone': 1 when the expected active "
    "fraction strictly increases over RaPTr's stages and strictly decreases over PLD's quarters",
    expect={"closed-form error": AtMost(1e-12), "max |z|": AtMost(4.0), "monotone": AtLeast(1)},
    positive="masks replaced by their expectations (z = 0 by construction)",
    negative="the closed form of a 6-8-10-11 schedule against 0.75, RaPTr's stages in reverse "
    "order",
    must_hold=True,
)
def _flops_identities(scale, arm, rng):
    steps = 2000 if scale == "quick" else 20000
    paths = [6, 8, 10, 11] if arm == "negative" else [6, 8, 10, 12]
    raptr_closed = flops.raptr_relative_flops(12, paths)
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
        masks = p if arm == "positive" else s.masks
        z_scores[name] = float(abs(masks.mean() - p.mean()) / se) if se > 0 else 0.0
    exact_error = abs(
        subnetworks.relative_flops(schedules["bernoulli"])
        - flops.raptr_relative_flops(12, [6, 8, 10, 12])
    )
    pld_exact = abs(
        subnetworks.relative_flops(schedules["pld"])
        - flops.pld_relative_flops(12, steps, theta_bar, 5 / steps)
    )
    raptr_stage_means = [
        float(schedules["bernoulli"].keep_probabilities[a:b].mean())
        for a, b in zip(schedules["bernoulli"].stage_starts, [*schedules["bernoulli"].stage_starts[1:], steps], strict=True)
    ]  # fmt: skip
    pld_quarters = [float(q.mean()) for q in np.array_split(schedules["pld"].keep_probabilities, 4)]
    if arm == "negative":
        raptr_stage_means.reverse()
    error = max(abs(raptr_closed - 0.75), abs(stacking_closed - 0.75), exact_error, pld_exact)
    monotone = bool(all(np.diff(raptr_stage_means) > 0) and all(np.diff(pld_quarters) < 0))
    return Measurement(
        {
            "closed-form error": exact(error),
            "max |z|": exact(max(z_scores.values())),
            "monotone": exact(float(monotone)),
        },
        {
            "raptr_closed_form": raptr_closed,
            "stacking_closed_form": stacking_closed,
            "schedule_vs_closed_form": max(exact_error, pld_exact),
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
    measurement="staircase of degrees 1..10, d = 20, 3 seeds: per-seed ratio of RaPTr's final "
    "eval loss to the baseline's ('RaPTr/baseline', t interval); per-seed difference of PLD's and "
    "RaPTr's final error on components k >= 7 ('PLD - RaPTr high-degree error', t interval); "
    "Spearman correlation of k with RaPTr's median steps to learn k, e_k <= 0.1 ('Spearman')",
    expect={
        "RaPTr/baseline": AtMost(1.1),
        "PLD - RaPTr high-degree error": AtLeast(0.0),
        "Spearman": AtLeast(0.8),
    },
    positive="planted: the baseline's runs as RaPTr, PLD's high-degree error 1.5x RaPTr's, "
    "component k learned at step 100 k",
    negative="planted: RaPTr's loss twice the baseline's, PLD's high-degree error equal to "
    "RaPTr's, components learned in reverse order",
    figures=("raptr-toy",),
    group="raptr.toy-runs",
    minutes=18,
)
def _toy(scale, arm, rng):
    runs = toy_runs(scale)["runs"]
    final = {n: np.array([r["result"].eval_losses[-1] for r in rs]) for n, rs in runs.items()}
    high = {n: np.array([r["errors"][-1, 6:].sum() for r in rs]) for n, rs in runs.items()}
    learn = np.median([_steps_to_learn(r) for r in runs["raptr"]], axis=0)
    if arm == "positive":
        final["raptr"], high["pld"] = final["baseline"], 1.5 * high["raptr"]
        learn = 100.0 * np.arange(1, 11)
    elif arm == "negative":
        final["raptr"], high["pld"] = 2 * final["baseline"], high["raptr"]
        learn = 100.0 * np.arange(10, 0, -1)
    rho = float(spearmanr(np.arange(1, 11), learn).statistic)
    ratio = mean_interval(final["raptr"] / final["baseline"])
    gap = mean_interval(high["pld"] - high["raptr"])
    flops_used = {n: float(np.mean([r["result"].flops[-1] for r in rs])) for n, rs in runs.items()}
    relative = {n: v / flops_used["baseline"] for n, v in flops_used.items()}
    means = {n: float(np.mean(v)) for n, v in final.items()}
    return Measurement(
        {
            "RaPTr/baseline": ratio,
            "PLD - RaPTr high-degree error": gap,
            "Spearman": exact(rho, len(final["raptr"])),
        },
        {
            "final_eval_loss": means,
            "high_degree_error": {n: float(np.mean(v)) for n, v in high.items()},
            "raptr_steps_to_learn": learn.tolist(),
            "spearman": rho,
            "relative_flops": relative,
        },
        f"final eval loss RaPTr/baseline = {ratio.text()} ({means['raptr']:.3g} vs "
        f"{means['baseline']:.3g}; PLD {means['pld']:.3g}); error on k >= 7, PLD - RaPTr: "
        f"{gap.text()}; Spearman {rho:.2f}; FLOPs RaPTr {relative['raptr']:.3f}, PLD "
        f"{relative['pld']:.3f}",
    )


def _subnetwork_losses(
    params, schedule, step, *, X_eval, y_eval, rng, n=32, thin=False
) -> np.ndarray:
    """Eval losses of n subnetworks drawn from the schedule's distribution at ``step``; ``thin``:
    with every second layer dropped as well (a negative control)."""
    keep = schedule.keep_probabilities[step]
    masks = (rng.uniform(size=(n, keep.size)) < keep).astype(float)
    if thin:
        masks[:, 1::2] = 0.0
    return np.array(
        [
            np.mean((residual_mlp.forward(params, X_eval, m, schedule.scales[step]) - y_eval) ** 2)
            for m in masks
        ]
    )


@cache
def boundary_samples(scale: str) -> list[dict]:
    """Per RaPTr run of raptr.toy-polynomial and stage boundary: eval losses of 32 subnetworks
    from the ending stage's distribution (``before``), 32 from the next stage's (``after``), 32
    more from the ending stage's (``same``: no jump by construction), 32 from the next stage's
    with every second layer dropped (``thin``), and the full model's loss."""
    toy = toy_runs(scale)
    X_eval, y_eval = toy["X_eval"], toy["y_eval"]
    rng = generator("raptr.transitions")
    out = []
    for run in toy["runs"]["raptr"]:
        schedule = run["schedule"]
        for stage, start in enumerate(schedule.stage_starts[1:], start=1):
            params = run["result"].checkpoints[int(start)]
            sample = functools.partial(_subnetwork_losses, params, schedule, X_eval=X_eval,
                                       y_eval=y_eval, rng=rng)  # fmt: skip
            out.append({
                "stage": stage,
                "before": sample(int(start) - 1),
                "after": sample(int(start)),
                "same": sample(int(start) - 1),
                "thin": sample(int(start), thin=True),
                "full": float(np.mean((residual_mlp.forward(params, X_eval) - y_eval) ** 2)),
            })  # fmt: skip
    return out


@claim(
    id="raptr.transitions",
    source=f"{PAPER}, §4 (stability at stage transitions; boxed observation, secondary)",
    provenance="secondary",
    statement="at every RaPTr stage boundary the full model's eval loss is not above the mean "
    "eval loss of the stage's subnetworks, and the loss does not jump when the next stage starts",
    measurement="toy runs of raptr.toy-polynomial, 32 subnetworks sampled per boundary: the "
    "number of boundaries (over stages and seeds) where the full model's loss is above the mean "
    "subnetwork loss ('full above subnetworks'); the largest jump of the mean loss from the ending "
    "stage's distribution to the next stage's, in standard errors of that difference ('worst "
    "jump / SE')",
    expect={"full above subnetworks": AtMost(0), "worst jump / SE": AtMost(1.0)},
    positive="no jump by construction: both samples drawn from the ending stage's distribution, "
    "the full model scored as the best subnetwork",
    negative="the next stage's subnetworks with every second layer dropped, the full model "
    "scored as the worst subnetwork",
    group="raptr.toy-runs",
)
def _transitions(scale, arm, rng):
    cells = []
    for b in boundary_samples(scale):
        before = b["before"]
        after = b[{"claim": "after", "positive": "same", "negative": "thin"}[arm]]
        full = {"claim": b["full"], "positive": float(before.min()),
                "negative": float(before.max())}[arm]  # fmt: skip
        jump = float(after.mean() - before.mean())
        se = float(np.sqrt(before.var(ddof=1) / 32 + after.var(ddof=1) / 32))
        cells.append(
            {"stage": b["stage"], "full": full, "subnetworks": float(before.mean()),
             "next_stage": float(after.mean()), "jump": jump, "se": se}
        )  # fmt: skip
    worst = max(cells, key=lambda c: c["jump"] / c["se"] if c["se"] > 0 else 0.0)
    worst_z = worst["jump"] / worst["se"] if worst["se"] > 0 else 0.0
    above = sum(c["full"] > c["subnetworks"] for c in cells)
    return Measurement(
        {
            "full above subnetworks": exact(above, len(cells)),
            "worst jump / SE": exact(worst_z, len(cells)),
        },
        {"boundaries": cells},
        f"{len(cells)} boundaries: full model above its subnetworks' mean at {above}; largest "
        f"jump {worst['jump']:.3g} ({worst_z:.2f} SE) at stage {worst['stage']}",
    )


@claim(
    id="raptr.two-phase",
    source=f"{PAPER}, 2-phase RaPTr result (theorem name, `paper`; statement secondary)",
    provenance="reconstructed",
    statement="on a 2-block residual network with y = h_1 + h_2, phase 1 (one random block per "
    "step) learns the degree-1 component while the degree-2 error stays high; phase 2 (the "
    "full network) then learns the degree-2 component",
    measurement="d = 10, width 16, SGD lr 0.02 (small), 3 seeds, c_k = 1: the worst seed's e_1 "
    "and e_2 after phase 1 and e_2 after phase 2",
    expect={"phase-1 e1": AtMost(0.1), "phase-1 e2": AtLeast(0.5), "phase-2 e2": AtMost(0.1)},
    positive="the task's own components as predictors: h_1 after phase 1, h_1 + h_2 after phase 2",
    negative="the full network trained from the start (no phase 1)",
)
def _two_phase(scale, arm, rng):
    steps = 2000 if scale == "quick" else 6000
    task = staircase_task(10, 2)
    X_eval, _ = task.sample(4000, seed=3)
    rows = []
    for seed in seeds(3, "raptr.two-phase"):
        data_seed, init_seed, schedule_seed, batch_seed = independent_seeds(seed, 4)
        X, y = task.sample(10000, seed=data_seed)
        params = residual_mlp.init_params(10, 16, 2, seed=init_seed)
        schedule = subnetworks.raptr_schedule(
            2, [1, 2], steps, fixed=(), sampler="fixed_size", seed=schedule_seed
        )
        half = int(schedule.stage_starts[1])
        if arm == "positive":
            parts = task.components(X_eval) * task.coefficients
            ends = [component_errors(task, X_eval, parts[:, :k].sum(axis=1))[0] for k in (1, 2)]
            rows.append({"phase1": ends[0].tolist(), "phase2": ends[1].tolist()})
            continue
        if arm == "negative":
            schedule = None
        result = residual_mlp.train(
            params, X, y, steps, lr=0.02, optimizer="sgd", schedule=schedule,
            checkpoints=(half, steps), seed=batch_seed,
        )  # fmt: skip
        ends = [
            component_errors(task, X_eval, residual_mlp.forward(result.checkpoints[t], X_eval))[0]
            for t in (half, steps)
        ]
        rows.append({"phase1": ends[0].tolist(), "phase2": ends[1].tolist()})
    statistics = {
        "phase-1 e1": exact(max(r["phase1"][0] for r in rows), len(rows)),
        "phase-1 e2": exact(min(r["phase1"][1] for r in rows), len(rows)),
        "phase-2 e2": exact(max(r["phase2"][1] for r in rows), len(rows)),
    }
    summary = "; ".join(
        f"e1, e2 after phase 1 = {r['phase1'][0]:.3f}, {r['phase1'][1]:.3f}, "
        f"after phase 2 = {r['phase2'][0]:.3f}, {r['phase2'][1]:.3f}"
        for r in rows
    )
    return Measurement(statistics, {"seeds": rows}, summary)


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
    measurement="fitted log-log slopes over L of the drop-one-layer gap (per variant) and, at the "
    "largest L, of the activation norm over the upper 7/8 of the layers; the identity "
    "F_{-l}(x) = G_l(y_{l-1}) as a relative residual",
    expect={
        "tau=0 gap slope": Between(-0.6, -0.4),
        "tau>0 slope - tau=0 slope": AtMost(-1e-9),
        "largest |slope| without LN or residual": AtMost(0.1),
        "tau=0 norm slope": Between(0.4, 0.6),
        "largest |norm slope - 1| at tau >= 0.5": AtMost(0.2),
        "identity residual": AtMost(1e-12),
    },
    positive="planted power laws: gaps L^-1/2 (tau = 0), L^-1 (tau > 0), L^0 (no LN, no residual);"
    " norms l^1/2 (tau = 0) and l (tau >= 0.5)",
    negative="the variants' labels swapped: no-LN data as tau = 0 and the reverse, tau = 0 norms "
    "as tau >= 0.5",
    figures=("raptr-stability",),
    minutes=2,
)
def _stability(scale, arm, rng):
    table = stability_table(scale)
    depths = np.array(table["depths"], dtype=float)
    gaps, norms = dict(table["gaps"]), dict(table["norms"])
    if arm == "positive":
        powers = {"tau=0": -0.5, "tau=0.5": -1.0, "tau=1": -1.0, "tau=0, no LN": 0.0,
                  "tau=0, no residual": 0.0}  # fmt: skip
        gaps = {n: depths**p for n, p in powers.items()}
        layers = np.arange(1.0, len(norms["tau=0"]) + 1)
        norms = {"tau=0": layers**0.5, "tau=0.5": layers, "tau=1": layers}
    elif arm == "negative":
        gaps["tau=0"], gaps["tau=0, no LN"] = gaps["tau=0, no LN"], gaps["tau=0"]
        norms["tau=0.5"] = norms["tau=1"] = norms["tau=0"]
    slopes = {name: fitted_slope(depths, g) for name, g in gaps.items()}
    norm_slopes = {}
    for name in ("tau=0", "tau=0.5", "tau=1"):
        layers = np.arange(1, len(norms[name]) + 1)
        upper = layers > len(norms[name]) // 8
        norm_slopes[name] = fitted_slope(layers[upper], norms[name][upper])
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
    statistics = {
        "tau=0 gap slope": exact(slopes["tau=0"]),
        "tau>0 slope - tau=0 slope": exact(
            max(slopes["tau=0.5"], slopes["tau=1"]) - slopes["tau=0"]
        ),
        "largest |slope| without LN or residual": exact(
            max(abs(slopes["tau=0, no LN"]), abs(slopes["tau=0, no residual"]))
        ),
        "tau=0 norm slope": exact(norm_slopes["tau=0"]),
        "largest |norm slope - 1| at tau >= 0.5": exact(
            max(abs(norm_slopes[n] - 1) for n in ("tau=0.5", "tau=1"))
        ),
        "identity residual": exact(identity),
    }
    return Measurement(
        statistics,
        {
            "gap_slopes": slopes,
            "norm_slopes": norm_slopes,
            "identity_residual": identity,
            "gaps": {n: list(g) for n, g in gaps.items()},
            "depths": list(table["depths"]),
        },
        "gap slopes "
        + ", ".join(f"{n}: {s:.2f}" for n, s in slopes.items())
        + "; norm slopes "
        + ", ".join(f"{n}: {norm_slopes[n]:.2f}" for n in ("tau=0", "tau=0.5", "tau=1"))
        + f"; identity {identity:.1e}",
    )


@figure(
    "raptr-toy",
    "Staircase of degrees 1..10 (d = 20): full-model eval loss against training FLOPs for the"
    " baseline, RaPTr and PLD at 0.8x FLOPs (medians over seeds; x from the first seed), and"
    " RaPTr's component errors e_k over training with its stage boundaries.",
)
def _raptr_toy(scale):
    from figures.raptr import plot_toy

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


@figure(
    "raptr-stability",
    "Linear residual networks (d = 100, 100 unit-sphere inputs, layers sqrt(tau) A + sqrt(1 -"
    " tau) G_l): mean relative change of the output when one layer is dropped, against depth,"
    " with and without layer normalisation and residual.",
)
def _raptr_stability(scale):
    from figures.raptr import plot_stability

    table = stability_table(scale)
    return plot_stability(table["depths"], table["gaps"])
