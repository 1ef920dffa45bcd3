"""Claims of the growth-operator papers (MIDAS, gradual and progressive stacking, LAG; docs/theory.md
section 6) at toy scale, on deep linear residual networks and on the residual MLP.

The papers' evidence is at the 1B-8B scale and only their abstracts and summaries are available to
us: every size, schedule and threshold below is the project's choice (`reconstructed`), fixed
before the runs, with directional thresholds. Experiments are cached per scale so that claims and
figures share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import numpy as np
from scipy import stats

from paper_checks.expect import AtLeast, AtMost, Between, exact, mean_interval
from paper_checks.measure import planted_shift, seeds
from paper_checks.registry import Measurement, claim, figure
from sims import deep_linear, growth, residual_mlp
from sims.problems import deep_linear_problem, independent_seeds, staircase_task
from theory import flops

MIDAS = "Saunshi et al. 2024 (MIDAS, arXiv 2409.19044)"
LAG = "Landscape-Aware Growing (LAG, arXiv 2406.02469), abstract"
GROWN = ("gradual", "midas", "progressive")
ALPHA = 1.0  # Prop-1 stage lengths
LAG_POOL = (  # (operator, Adam state of copied blocks)
    ("gradual", "copy"), ("gradual", "reset"), ("midas", "copy"), ("midas", "reset"),
    ("copy_noise", "copy"), ("copy_noise", "reset"), ("zero", "copy"), ("random", "copy"),
)  # fmt: skip
ADAPTIVE_CANDIDATES = ("gradual", "midas", "copy_noise", "zero")


@dataclass(frozen=True)
class MLPSizes:
    width: int
    depth: int
    steps: int
    eval_every: int
    eval_samples: int
    lr: float


@dataclass(frozen=True)
class LinearSizes:
    dimension: int
    depth: int
    steps: int


@dataclass(frozen=True)
class Sizes:
    mlp: MLPSizes
    linear: LinearSizes
    seeds: int


SIZES = {
    "quick": Sizes(MLPSizes(16, 4, 800, 20, 500, 1e-2), LinearSizes(16, 8, 600), seeds=5),
    "paper": Sizes(MLPSizes(32, 8, 3000, 50, 1000, 3e-3), LinearSizes(32, 16, 2000), seeds=10),
}


def _mlp_setup(scale, seed):
    m = SIZES[scale].mlp
    width, depth, steps, eval_every, n_eval, lr = (
        m.width, m.depth, m.steps, m.eval_every, m.eval_samples, m.lr
    )  # fmt: skip
    task = staircase_task(20, 6)
    data_seed, eval_seed, init_seed, train_seed = independent_seeds(seed, 4)
    X, y = task.sample(20000, seed=data_seed)
    X_eval, y_eval = task.sample(n_eval, seed=eval_seed)
    family = growth.ResidualMLPFamily(X, y, X_eval, y_eval, width, eval_every=eval_every)
    model = growth.ResidualMLPFamily.model(
        residual_mlp.init_params(20, width, depth, seed=init_seed)
    )
    options = {"lr": lr, "warmup": steps // 20, "seed": train_seed}
    return family, model, depth, steps, options


def _linear_setup(scale, seed):
    lin = SIZES[scale].linear
    d, depth, steps = lin.dimension, lin.depth, lin.steps
    problem_seed, train_seed = independent_seeds(seed, 2)
    sigma, w_star = deep_linear_problem(d, 100, 0.5, seed=problem_seed)
    family = growth.DeepLinearFamily(sigma, w_star)
    model = growth.Model(None, [{"W": np.zeros((d, d))} for _ in range(depth)])
    lr = 1 / (depth * np.linalg.eigvalsh(sigma)[-1])  # stable for the full depth
    return family, model, depth, steps, {"lr": lr, "decay": False, "seed": train_seed}


SETUPS = {"deep linear": _linear_setup, "residual MLP": _mlp_setup}


@cache
def speed_runs(scale: str) -> dict:
    """Per family and seed: the full-depth baseline and gradual, MIDAS and progressive stacking
    grown from one block with Prop-1 stages over the same steps, then as many steps again at the
    full depth and the final learning rate (room to reach the baseline's loss when slower)."""
    out = {}
    for family_name, setup in SETUPS.items():
        out[family_name] = []
        for seed in seeds(SIZES[scale].seeds, "growth.speed-runs"):
            family, model, depth, steps, options = setup(scale, seed)
            runs = {"baseline": growth.train_grown(family, model, None, [steps], **options)}
            for operator in GROWN:
                n_stages = int(np.log2(depth)) + 1 if operator == "progressive" else depth
                runs[operator] = growth.train_grown(
                    family, growth.Model(model.shared, model.layers[:1]), operator,
                    growth.prop_alpha(steps, n_stages, ALPHA), extra_steps=steps, **options,
                )  # fmt: skip
            out[family_name].append(runs)
    return out


def flops_ratios(runs) -> dict:
    """Per operator: FLOPs to reach the baseline's final loss over the baseline's (an operator
    that never gets there within its budget counts its whole budget: a lower bound)."""
    target = runs["baseline"].losses[-1]
    base = runs["baseline"].flops_to(target)
    out = {}
    for operator in GROWN:
        run = runs[operator]
        reached = run.flops_to(target)
        out[operator] = (min(reached, run.flops[-1]) / base, bool(np.isfinite(reached)))
    return out


@claim(
    id="growth.exact",
    source=f"{MIDAS}, Prop-alpha and the middle copy; Gong et al. 2019 and Reddi et al. 2023 "
    "(progressive and gradual stacking)",
    provenance="secondary",
    statement="the operators' index maps follow their definitions for odd and even block counts; "
    "a zero-residual growth leaves the function unchanged; Prop-alpha lengths sum to the budget "
    "and 6 stages with alpha = 1 cost 0.7222 of the full depth's FLOPs",
    measurement="index maps against the ones written out from the definitions ('map "
    "mismatches'); largest output change after a zero growth, both families ('zero-growth "
    "change'); Prop-alpha sums against the budget on a grid ('sum errors'); |relative FLOPs of 6 "
    "stages, alpha = 1 - 91/126| ('FLOPs error')",
    expect={
        "map mismatches": AtMost(0),
        "zero-growth change": AtMost(0.0),
        "sum errors": AtMost(0),
        "FLOPs error": AtMost(1e-12),
    },
    positive="the written maps in place of grow's, the model itself in place of its zero growth, "
    "the relative FLOPs in exact rational arithmetic",
    negative="MIDAS's maps in place of gradual's, a random (not zero) growth, Prop-alpha lengths "
    "rounded down",
    must_hold=True,
)
def _exact(scale, arm, rng):
    written = {  # from the definitions in docs/theory.md §6, by hand
        ("progressive", 3, 1): (0, 1, 2, 0, 1, 2),
        ("gradual", 4, 2): (0, 1, 2, 3, 2, 3),
        ("midas", 3, 1): (0, 1, 1, 2),
        ("midas", 4, 1): (0, 1, 1, 2, 3),
        ("midas", 6, 2): (0, 1, 2, 3, 2, 3, 4, 5),
        ("midas", 8, 2): (0, 1, 2, 3, 2, 3, 4, 5, 6, 7),
    }
    layers = [{"W": rng.standard_normal((2, 2))} for _ in range(8)]
    grown_with = "random" if arm == "negative" else "zero"
    mismatches = 0
    for (op, n, b), expected in written.items():
        if arm == "positive":
            got = expected
        else:
            op = "midas" if arm == "negative" and op == "gradual" else op
            got = growth.grow(layers[:n], op, block_size=b)[1]
        mismatches += got != expected
    family, model, _, _, _ = _mlp_setup("quick", int(rng.integers(2**31)))
    grown, _ = growth.grow(
        model.layers, grown_with, fresh=family.fresh, zero_keys=family.zero_keys, seed=0
    )
    if arm == "positive":
        grown = model.layers
    X = family.X_eval
    mlp_change = float(
        np.max(
            np.abs(
                residual_mlp.forward(family.params(model), X)
                - residual_mlp.forward(family.params(growth.Model(model.shared, grown)), X)
            )
        )
    )
    lin, lin_model, _, _, _ = _linear_setup("quick", int(rng.integers(2**31)))
    lin_layers = [{"W": 0.1 * rng.standard_normal(x["W"].shape)} for x in lin_model.layers]
    lin_grown, _ = growth.grow(lin_layers, grown_with, fresh=lin.fresh, seed=0)
    if arm == "positive":
        lin_grown = lin_layers
    risks = [
        deep_linear.train_layers(lin.sigma, lin.w_star, [x["W"] for x in ls], 0, lr=1.0).losses[0]
        for ls in (lin_layers, lin_grown)
    ]

    def lengths(t, n, a):
        stages = growth.prop_alpha(t, n, a)
        return np.floor(stages * 0.99) if arm == "negative" else stages

    sum_errors = sum(
        lengths(t, n, a).sum() != t
        for t in (7, 100, 1001)
        for n in (1, 3, 6)
        for a in (0.0, 0.5, 1.0, 2.0)
    )
    table = {
        f"alpha={a}": [
            flops.stacking_relative_flops(
                growth.stage_depths("gradual", 1, n),
                growth.prop_alpha(126 * 720, n, a) / (126 * 720),
            )
            for n in (2, 4, 6, 8)
        ]
        for a in (0.0, 0.5, 1.0, 2.0)
    }
    six = table["alpha=1.0"][2]
    if arm == "positive":  # sum over stages of depth x length, in fractions
        stages = growth.prop_alpha(126 * 720, 6, 1.0)
        depths = growth.stage_depths("gradual", 1, 6)
        used = sum(Fraction(int(d)) * Fraction(int(t)) for d, t in zip(depths, stages, strict=True))
        six = used / (max(depths) * 126 * 720)
    change = max(mlp_change, abs(risks[0] - risks[1]))
    return Measurement(
        {
            "map mismatches": exact(mismatches),
            "zero-growth change": exact(change),
            "sum errors": exact(sum_errors),
            "FLOPs error": exact(float(abs(six - Fraction(91, 126)))),
        },
        {
            "index_map_mismatches": mismatches,
            "zero_growth_max_output_change_mlp": mlp_change,
            "zero_growth_risk_change_linear": abs(risks[0] - risks[1]),
            "prop_alpha_sum_errors": sum_errors,
            "relative_flops_stages_2_4_6_8": table,
        },
        f"{mismatches} index maps differ from the definitions; zero growth changes outputs by "
        f"{mlp_change:.1e} (MLP), risk by {abs(risks[0] - risks[1]):.1e} (linear); {sum_errors} "
        f"Prop-alpha sums wrong; 6 stages, alpha = 1: {float(six):.4f}",
    )


@claim(
    id="growth.speed",
    source=f"{MIDAS}, abstract ('up to 40%' faster); gradual and progressive stacking",
    provenance="reconstructed",
    statement="growing by MIDAS reaches the full-depth baseline's final loss with fewer FLOPs "
    "(the paper's headline: up to 40% savings); gradual and progressive stacking reported beside "
    "it",
    measurement="deep linear (d = 16, kappa 100, sigma 0.5, 8 layers, GD) and residual MLP "
    "(staircase degrees 1..6, Adam) grown from one block with Prop-1 stages, 5 seeds (10 at paper "
    "scale): mean over seeds (t interval) of MIDAS's FLOPs to the baseline's final loss over the "
    "baseline's",
    expect={
        "MIDAS FLOPs ratio, deep linear": AtMost(0.999),
        "MIDAS FLOPs ratio, residual MLP": AtMost(0.999),
    },
    positive="planted: the measured per-seed ratios shifted to mean 0.6 (the paper's 40% saving)",
    negative="planted: the measured per-seed ratios shifted to mean 1.4",
    figures=("growth-speed",),
    group="growth.speed-runs",
)
def _speed(scale, arm, rng):
    measured, parts, statistics = {}, [], {}
    for family_name, per_seed in speed_runs(scale).items():
        ratios = [flops_ratios(runs) for runs in per_seed]
        row = {}
        for operator in GROWN:
            values = np.array([r[operator][0] for r in ratios])
            if operator == "midas" and arm != "claim":
                values = planted_shift(values, 0.6 if arm == "positive" else 1.4)
            estimate = mean_interval(values)
            row[operator] = {"estimate": estimate.as_dict(), "per_seed": values.tolist(),
                             "reached": sum(r[operator][1] for r in ratios)}  # fmt: skip
            if operator == "midas":
                statistics[f"MIDAS FLOPs ratio, {family_name}"] = estimate
            parts_text = (
                f"{operator} {estimate.text()} ({row[operator]['reached']}/{len(ratios)} reached)"
            )
            parts.append(f"{family_name}: {parts_text}" if operator == GROWN[0] else parts_text)
        measured[family_name] = row
    return Measurement(
        statistics, measured, "FLOPs ratio to the baseline's loss: " + ", ".join(parts)
    )


@claim(
    id="growth.position",
    source=f"{MIDAS} (copy the middle block, not the top)",
    provenance="reconstructed",
    statement="on deep linear networks (near-identity layers almost commute) copying the middle "
    "or the top block makes little difference; on the residual MLP the middle copy (MIDAS) is "
    "faster than the top copy (gradual stacking)",
    measurement="paired per-seed FLOPs ratio MIDAS/gradual (runs of growth.speed), mean with its "
    "t interval",
    expect={
        "MIDAS/gradual, deep linear": Between(0.9, 1.1),
        "MIDAS/gradual, residual MLP": AtMost(0.999),
    },
    positive="planted: the measured paired ratios shifted to mean 1.0 (deep linear) and 0.7 "
    "(residual MLP)",
    negative="planted: the measured paired ratios shifted to mean 1.5 (deep linear) and 1.3 "
    "(residual MLP)",
    group="growth.speed-runs",
)
def _position(scale, arm, rng):
    plants = {"positive": {"deep linear": 1.0, "residual MLP": 0.7},
              "negative": {"deep linear": 1.5, "residual MLP": 1.3}}  # fmt: skip
    measured, statistics = {}, {}
    for family_name, per_seed in speed_runs(scale).items():
        ratios = [flops_ratios(runs) for runs in per_seed]
        paired = np.array([r["midas"][0] / r["gradual"][0] for r in ratios])
        if arm != "claim":
            paired = planted_shift(paired, plants[arm][family_name])
        statistics[f"MIDAS/gradual, {family_name}"] = mean_interval(paired)
        measured[family_name] = {"per_seed": paired.tolist()}
    return Measurement(
        statistics,
        measured,
        "MIDAS/gradual FLOPs ratio: "
        + "; ".join(f"{k.split(', ')[1]} {e.text()}" for k, e in statistics.items()),
    )


def block_similarity(params) -> np.ndarray:
    """Cosine similarity between blocks' flattened (W1, W2) weights."""
    flat = np.concatenate([params["w1"].reshape(len(params["w1"]), -1),
                           params["w2"].reshape(len(params["w2"]), -1)], axis=1)  # fmt: skip
    flat = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    return flat @ flat.T


def adjacent_similarity(params) -> float:
    """Mean cosine similarity of neighbouring blocks."""
    return float(np.mean(np.diag(block_similarity(params), 1)))


@claim(
    id="growth.looped",
    source=f"{MIDAS} (grown models resemble looped, weight-shared ones)",
    provenance="secondary",
    statement="after training, the blocks of a MIDAS-grown residual MLP are more alike than those "
    "of the baseline, and at least as alike as gradual stacking's",
    measurement="mean cosine similarity of adjacent blocks' weights (runs of growth.speed): paired "
    "per-seed differences MIDAS - baseline and MIDAS - gradual, means with t intervals",
    expect={"MIDAS - baseline": AtLeast(0.0), "MIDAS - gradual": AtLeast(0.0)},
    positive="planted: both measured paired differences shifted to mean +0.1 (spread kept)",
    negative="planted: both measured paired differences shifted to mean -0.1 (spread kept)",
    figures=("growth-looped",),
    group="growth.speed-runs",
)
def _looped(scale, arm, rng):
    per_seed = speed_runs(scale)["residual MLP"]
    sims_ = {
        name: np.array([adjacent_similarity(runs[name].params) for runs in per_seed])
        for name in ("baseline", "gradual", "midas", "progressive")
    }
    differences = {
        "MIDAS - baseline": sims_["midas"] - sims_["baseline"],
        "MIDAS - gradual": sims_["midas"] - sims_["gradual"],
    }
    if arm != "claim":
        shift = 0.1 if arm == "positive" else -0.1
        differences = {k: planted_shift(v, shift) for k, v in differences.items()}
    statistics = {k: mean_interval(v) for k, v in differences.items()}
    means = {n: float(np.mean(v)) for n, v in sims_.items()}
    return Measurement(
        statistics,
        {"adjacent_similarity": {n: v.tolist() for n, v in sims_.items()}, "means": means},
        "mean adjacent-block cosine: "
        + ", ".join(f"{n} {v:.3f}" for n, v in means.items())
        + "; "
        + ", ".join(f"{k} {e.text()}" for k, e in statistics.items()),
    )


@dataclass(frozen=True)
class LagSizes:
    blocks: int  # blocks before growth
    pre_steps: int
    stage: int
    eval_every: int
    lags: tuple[int, ...]


LAG_SIZES = {
    "quick": LagSizes(2, 300, 200, 5, (0, 5, 10, 20, 40, 80, 120, 200)),
    "paper": LagSizes(4, 1000, 600, 10, (0, 10, 20, 40, 80, 160, 300, 450, 600)),
}


@cache
def lag_runs(scale: str) -> dict:
    """Per seed: one checkpoint (a residual MLP of a few blocks), then each strategy of the pool
    grows it by one block and trains one stage (global cosine schedule over that stage, same
    seed); the eval losses at each lag after growth."""
    size = LAG_SIZES[scale]
    blocks, pre_steps, stage, eval_every, lags = (
        size.blocks, size.pre_steps, size.stage, size.eval_every, size.lags
    )  # fmt: skip
    out = []
    for seed in seeds(SIZES[scale].seeds, "growth.lag-ranking"):
        family, model, _, _, options = _mlp_setup(scale, seed)
        family.eval_every = eval_every
        start = growth.Model(model.shared, model.layers[:blocks])
        checkpoint_seed, stage_seed = independent_seeds(options.pop("seed"), 2)
        checkpoint = growth.train_grown(
            family, start, None, [pre_steps], seed=checkpoint_seed, **options
        )
        trained = growth.ResidualMLPFamily.model(checkpoint.params)
        losses = {}
        for operator, state in LAG_POOL:
            run = growth.train_grown(
                family, trained, operator, [0, stage], optimizer_state=state,
                seed=stage_seed, lr=options["lr"],
            )  # fmt: skip
            at = {int(s): loss for s, loss in zip(run.eval_steps, run.losses, strict=True)}
            losses[f"{operator}/{state}"] = [at[k] for k in lags]
        out.append(losses)
    return {"lags": lags, "stage": stage, "runs": out}


@claim(
    id="growth.lag-ranking",
    source=LAG,
    provenance="paper",
    statement="the loss right after growth ranks growth strategies poorly by their final loss; "
    "the loss after a short lag ranks them well",
    measurement="pool of 8 strategies (gradual, MIDAS, copy+noise with Adam state copied or reset;"
    " zero; random) grown from the same residual-MLP checkpoint, 5 seeds (10 at paper scale): "
    "Spearman correlation of the loss right after growth with the loss at the stage's end, mean "
    "over seeds with t interval ('Spearman at k = 0'); the smallest lag k with mean correlation "
    ">= 0.9, as a fraction of the stage ('lag to 0.9 / stage', 1 if none)",
    expect={"Spearman at k = 0": AtMost(0.5), "lag to 0.9 / stage": AtMost(0.25)},
    positive="planted losses: a random order of the strategies at k = 0, the final order from "
    "k = 1/8 of the stage on",
    negative="planted losses: the final order at every lag (the loss right after growth ranks "
    "perfectly)",
    figures=("growth-lag",),
    minutes=15,
)
def _lag_ranking(scale, arm, rng):
    measured = lag_statistics(scale, arm, rng)
    stage = lag_runs(scale)["stage"]
    first = measured["smallest_lag_reaching_0.9"]
    at_zero = mean_interval([r[0] for r in measured["spearman_per_seed"]])
    lag_fraction = 1.0 if first is None else first / stage
    regret = measured["selection_regret_mean"]
    return Measurement(
        {"Spearman at k = 0": at_zero, "lag to 0.9 / stage": exact(lag_fraction)},
        measured,
        f"Spearman at k = 0: {at_zero.text()}; smallest k with >= 0.9: {first} of {stage}; "
        f"regret of picking at k = 0: {regret[0]:.1%}, at k = {measured['lags'][2]}: "
        f"{regret[2]:.1%}",
    )


def lag_statistics(scale: str, arm: str = "claim", rng=None) -> dict:
    """Per lag k: Spearman correlation (per seed and mean) between the strategies' loss k steps
    after growth and at the stage's end, and the regret of picking the best-looking one at k.
    Controls plant the losses (see growth.lag-ranking); ``rng`` draws the positive's random order."""
    data = lag_runs(scale)
    lags = data["lags"]
    rho, regret = [], []
    for losses in data["runs"]:
        table = np.array(list(losses.values()))  # strategies x lags
        final = table[:, -1]
        if arm == "negative":
            table = np.repeat(final[:, None], len(lags), axis=1)
        elif arm == "positive":
            table = np.repeat(final[:, None], len(lags), axis=1)
            early = np.array(lags) < data["stage"] / 8
            table[:, early] = rng.permutation(final)[:, None]
        rho.append([stats.spearmanr(table[:, i], final).statistic for i in range(len(lags))])
        regret.append([final[np.argmin(table[:, i])] / final.min() - 1 for i in range(len(lags))])
    rho_mean = np.nanmean(rho, axis=0)
    regret_mean = np.mean(regret, axis=0)
    good = [k for k, r in zip(lags, rho_mean, strict=True) if r >= 0.9]
    return {
        "lags": list(lags),
        "spearman_mean": rho_mean.tolist(),
        "spearman_per_seed": np.asarray(rho).tolist(),
        "selection_regret_mean": regret_mean.tolist(),
        "smallest_lag_reaching_0.9": good[0] if good else None,
    }


@claim(
    id="growth.adaptive",
    source=f"{LAG} (an adaptive strategy for gradual stacking)",
    provenance="reconstructed",
    statement="gradual stacking that picks each growth by a short probe of the candidates beats "
    "fixed MIDAS and fixed gradual stacking at a modest FLOPs overhead",
    measurement="residual MLP, the schedule of growth.speed, candidates gradual, MIDAS, "
    "copy+noise, zero probed for stage/10 steps each (probe FLOPs counted), 5 seeds (10 at paper "
    "scale): per-seed loss at the end of the schedule, adaptive minus the better (by mean) of "
    "fixed MIDAS and fixed gradual, mean with t interval ('adaptive - best fixed'); mean FLOPs "
    "adaptive over fixed MIDAS ('FLOPs overhead')",
    expect={"adaptive - best fixed": AtMost(0.0), "FLOPs overhead": AtMost(1.25)},
    positive="planted: adaptive's final losses 0.8x the better fixed operator's, per seed",
    negative="planted: adaptive's final losses 1.2x the better fixed operator's, per seed",
    group="growth.speed-runs",
    minutes=30,
)
def _adaptive(scale, arm, rng):
    per_seed = speed_runs(scale)["residual MLP"]
    loss = {"adaptive": [], "midas": [], "gradual": []}
    cost = {"adaptive": [], "midas": [], "gradual": []}
    picks = []
    for seed, runs in zip(seeds(SIZES[scale].seeds, "growth.speed-runs"), per_seed, strict=True):
        family, model, depth, steps, options = _mlp_setup(scale, seed)
        stages = growth.prop_alpha(steps, depth, ALPHA)
        run, chosen = growth.train_adaptive(
            family, growth.Model(model.shared, model.layers[:1]), ADAPTIVE_CANDIDATES, stages,
            max(1, int(stages[1]) // 10), **options,
        )  # fmt: skip
        picks.append(chosen)
        for name, r in (("adaptive", run), ("midas", runs["midas"]), ("gradual", runs["gradual"])):
            at_end = np.flatnonzero(r.eval_steps <= steps)[-1]  # fixed runs go on beyond
            loss[name].append(float(r.losses[at_end]))
            cost[name].append(float(r.flops[at_end]))
    best_name = min(("midas", "gradual"), key=lambda n: np.mean(loss[n]))
    best = np.array(loss[best_name])
    if arm != "claim":
        loss["adaptive"] = list(best * (0.8 if arm == "positive" else 1.2))
    means = {n: float(np.mean(v)) for n, v in loss.items()}
    flops_ = {n: float(np.mean(v)) for n, v in cost.items()}
    overhead = flops_["adaptive"] / flops_["midas"]
    difference = mean_interval(np.array(loss["adaptive"]) - best)
    counts = {c: sum(p.count(c) for p in picks) for c in ADAPTIVE_CANDIDATES}
    return Measurement(
        {"adaptive - best fixed": difference, "FLOPs overhead": exact(overhead)},
        {"final_loss": loss, "mean_final_loss": means, "mean_flops": flops_, "picks": counts},
        f"adaptive - best fixed {difference.text()}; mean final loss adaptive {means['adaptive']:.3g}, MIDAS {means['midas']:.3g}, gradual "
        f"{means['gradual']:.3g}; FLOPs adaptive/fixed {overhead:.2f}; picks "
        + ", ".join(f"{c} {n}" for c, n in counts.items()),
    )


@figure(
    "growth-speed",
    "Loss against training FLOPs (first seed) for the full-depth baseline and for gradual,"
    " MIDAS and progressive stacking grown from one block with Prop-1 stages: deep linear"
    " residual network (excess risk, GD) and residual MLP on the staircase (eval MSE, Adam).",
)
def _growth_speed(scale):
    from figures.growth import plot_speed

    return plot_speed(
        {
            family: {name: (run.flops, run.losses) for name, run in per_seed[0].items()}
            for family, per_seed in speed_runs(scale).items()
        }
    )


@figure(
    "growth-looped",
    "Cosine similarity between the blocks' weights (W1, W2) of the residual MLP after"
    " training (first seed): baseline, gradual stacking, MIDAS.",
)
def _growth_looped(scale):
    from figures.growth import plot_similarity

    runs = speed_runs(scale)["residual MLP"][0]
    return plot_similarity(
        {name: block_similarity(runs[name].params) for name in ("baseline", "gradual", "midas")}
    )


@figure(
    "growth-lag",
    "LAG: Spearman correlation between the loss k steps after growth and the loss at the end"
    " of the stage over a pool of 8 growth strategies (grey: seeds; blue: mean), and the"
    " regret of picking the strategy that looks best at k.",
)
def _growth_lag(scale):
    from figures.growth import plot_lag

    measured = lag_statistics(scale)
    return plot_lag(
        measured["lags"], measured["spearman_per_seed"], measured["selection_regret_mean"]
    )
