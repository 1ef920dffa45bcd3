"""Claims of the growth-operator papers (MIDAS, gradual and progressive stacking, LAG; docs/theory.md
section 6) at toy scale, on deep linear residual networks and on the residual MLP.

The papers' evidence is at the 1B-8B scale and only their abstracts and summaries are available to
us: every size, schedule and threshold below is the project's choice (`reconstructed`), fixed
before the runs, with directional thresholds. Experiments are cached per scale so that claims and
figures share them.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import stats

from paper_checks.measure import seeds
from paper_checks.registry import Outcome, claim
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


def _sizes(scale):
    if scale == "quick":
        return {"mlp": (16, 4, 800, 20, 500, 1e-2), "linear": (16, 8, 600), "seeds": 5}
    return {"mlp": (32, 8, 3000, 50, 1000, 3e-3), "linear": (32, 16, 2000), "seeds": 10}


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and its 95% Student-t confidence interval."""
    values = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(values.mean() - half), float(values.mean() + half)


def _mlp_setup(scale, seed):
    width, depth, steps, eval_every, n_eval, lr = _sizes(scale)["mlp"]
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
    d, depth, steps = _sizes(scale)["linear"]
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
        for seed in seeds(_sizes(scale)["seeds"], salt=2024):
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
    expected="index maps equal the ones written out from the definitions; outputs after zero "
    "growth bit-identical (both families); Prop-alpha sums exact on a grid; relative FLOPs of 6 "
    "stages, alpha = 1 equal 91/126 = 0.7222 to 1e-12",
)
def _exact(scale, rng):
    written = {  # from the definitions in docs/theory.md §6, by hand
        ("progressive", 3, 1): (0, 1, 2, 0, 1, 2),
        ("gradual", 4, 2): (0, 1, 2, 3, 2, 3),
        ("midas", 3, 1): (0, 1, 1, 2),
        ("midas", 4, 1): (0, 1, 1, 2, 3),
        ("midas", 6, 2): (0, 1, 2, 3, 2, 3, 4, 5),
        ("midas", 8, 2): (0, 1, 2, 3, 2, 3, 4, 5, 6, 7),
    }
    layers = [{"W": rng.standard_normal((2, 2))} for _ in range(8)]
    maps_ok = all(
        growth.grow(layers[:n], op, block_size=b)[1] == expected
        for (op, n, b), expected in written.items()
    )
    family, model, _, _, _ = _mlp_setup("quick", int(rng.integers(2**31)))
    grown, _ = growth.grow(model.layers, "zero", fresh=family.fresh, zero_keys=family.zero_keys)
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
    lin_grown, _ = growth.grow(lin_layers, "zero")
    risks = [
        deep_linear.train_layers(lin.sigma, lin.w_star, [x["W"] for x in ls], 0, lr=1.0).losses[0]
        for ls in (lin_layers, lin_grown)
    ]
    sums_ok = all(
        growth.prop_alpha(t, n, a).sum() == t
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
    passed = maps_ok and mlp_change == 0.0 and risks[0] == risks[1] and sums_ok
    passed = passed and abs(six - 91 / 126) <= 1e-12
    return Outcome(
        passed,
        {
            "index_maps_as_written": maps_ok,
            "zero_growth_max_output_change_mlp": mlp_change,
            "zero_growth_risk_change_linear": abs(risks[0] - risks[1]),
            "prop_alpha_sums_exact": sums_ok,
            "relative_flops_stages_2_4_6_8": table,
        },
        f"index maps {'as written' if maps_ok else 'DIFFER'}; zero growth changes outputs by "
        f"{mlp_change:.1e} (MLP), risk by {abs(risks[0] - risks[1]):.1e} (linear); sums "
        f"{'exact' if sums_ok else 'WRONG'}; 6 stages, alpha = 1: {six:.4f}",
    )


@claim(
    id="growth.speed",
    source=f"{MIDAS}, abstract ('up to 40%' faster); gradual and progressive stacking",
    provenance="reconstructed",
    statement="growing by MIDAS reaches the full-depth baseline's final loss with fewer FLOPs "
    "(the paper's headline: up to 40% savings); gradual and progressive stacking reported beside "
    "it",
    expected="deep linear (d = 16, kappa 100, sigma 0.5, 8 layers, GD) and residual MLP (staircase "
    "degrees 1..6, Adam) grown from one block with Prop-1 stages, >= 5 seeds: the 95% CI of "
    "MIDAS's FLOPs ratio (to the baseline's final loss) lies below 1 on both families",
    figures=("growth-speed",),
    group="growth.speed-runs",
)
def _speed(scale, rng):
    measured, parts, passed = {}, [], True
    for family_name, per_seed in speed_runs(scale).items():
        ratios = [flops_ratios(runs) for runs in per_seed]
        row = {}
        for operator in GROWN:
            values = [r[operator][0] for r in ratios]
            mean, low, high = mean_ci(values)
            row[operator] = {
                "mean": mean, "ci95": [low, high], "per_seed": values,
                "reached": sum(r[operator][1] for r in ratios),
            }  # fmt: skip
        measured[family_name] = row
        passed = passed and row["midas"]["ci95"][1] < 1
        parts.append(
            f"{family_name}: "
            + ", ".join(
                f"{op} {row[op]['mean']:.3f} [{row[op]['ci95'][0]:.3f}, {row[op]['ci95'][1]:.3f}]"
                f" ({row[op]['reached']}/{len(ratios)} reached)"
                for op in GROWN
            )
        )
    return Outcome(passed, measured, "FLOPs ratio to the baseline's loss: " + "; ".join(parts))


@claim(
    id="growth.position",
    source=f"{MIDAS} (copy the middle block, not the top)",
    provenance="reconstructed",
    statement="on deep linear networks (near-identity layers almost commute) copying the middle "
    "or the top block makes little difference; on the residual MLP the middle copy (MIDAS) is "
    "faster than the top copy (gradual stacking)",
    expected="paired FLOPs ratio MIDAS/gradual over seeds (runs of growth.speed): mean within "
    "[0.9, 1.1] on deep linear; 95% CI below 1 on the residual MLP",
    group="growth.speed-runs",
)
def _position(scale, rng):
    measured = {}
    for family_name, per_seed in speed_runs(scale).items():
        ratios = [flops_ratios(runs) for runs in per_seed]
        paired = [r["midas"][0] / r["gradual"][0] for r in ratios]
        mean, low, high = mean_ci(paired)
        measured[family_name] = {"mean": mean, "ci95": [low, high], "per_seed": paired}
    lin, mlp = measured["deep linear"], measured["residual MLP"]
    passed = 0.9 <= lin["mean"] <= 1.1 and mlp["ci95"][1] < 1
    return Outcome(
        passed,
        measured,
        "MIDAS/gradual FLOPs ratio: "
        + "; ".join(
            f"{n} {m['mean']:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]"
            for n, m in measured.items()
        ),
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
    expected="mean cosine similarity of adjacent blocks' weights (runs of growth.speed): paired "
    "difference MIDAS - baseline with 95% CI above 0, and MIDAS's mean >= gradual's",
    figures=("growth-looped",),
    group="growth.speed-runs",
)
def _looped(scale, rng):
    per_seed = speed_runs(scale)["residual MLP"]
    sims_ = {
        name: [adjacent_similarity(runs[name].params) for runs in per_seed]
        for name in ("baseline", "gradual", "midas", "progressive")
    }
    diff = mean_ci(np.subtract(sims_["midas"], sims_["baseline"]))
    means = {n: float(np.mean(v)) for n, v in sims_.items()}
    passed = diff[1] > 0 and means["midas"] >= means["gradual"]
    return Outcome(
        passed,
        {"adjacent_similarity": sims_, "means": means, "midas_minus_baseline": list(diff)},
        "mean adjacent-block cosine: "
        + ", ".join(f"{n} {v:.3f}" for n, v in means.items())
        + f"; MIDAS - baseline {diff[0]:.3f} [{diff[1]:.3f}, {diff[2]:.3f}]",
    )


def _lag_sizes(scale):
    """(blocks before growth, pre-training steps, stage steps, eval every, lags)."""
    if scale == "quick":
        return 2, 300, 200, 5, (0, 5, 10, 20, 40, 80, 120, 200)
    return 4, 1000, 600, 10, (0, 10, 20, 40, 80, 160, 300, 450, 600)


@cache
def lag_runs(scale: str) -> dict:
    """Per seed: one checkpoint (a residual MLP of a few blocks), then each strategy of the pool
    grows it by one block and trains one stage (global cosine schedule over that stage, same
    seed); the eval losses at each lag after growth."""
    blocks, pre_steps, stage, eval_every, lags = _lag_sizes(scale)
    out = []
    for seed in seeds(_sizes(scale)["seeds"], salt=31):
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
    expected="pool of 8 strategies (gradual, MIDAS, copy+noise with Adam state copied or reset; "
    "zero; random) grown from the same residual-MLP checkpoint, >= 5 seeds: mean Spearman "
    "correlation of the loss k steps after growth with the loss at the stage's end < 0.5 at k = "
    "0, and >= 0.9 from some k <= a quarter of the stage",
    figures=("growth-lag",),
    minutes=15,
)
def _lag_ranking(scale, rng):
    measured = lag_statistics(scale)
    rho_mean, regret_mean = measured["spearman_mean"], measured["selection_regret_mean"]
    lags, first = measured["lags"], measured["smallest_lag_reaching_0.9"]
    stage = lag_runs(scale)["stage"]
    passed = rho_mean[0] < 0.5 and first is not None and first <= stage / 4
    return Outcome(
        passed,
        measured,
        f"Spearman at k = 0: {rho_mean[0]:.2f}; smallest k with >= 0.9: {first} of {stage}; "
        f"regret of picking at k = 0: {regret_mean[0]:.1%}, at k = {lags[2]}: "
        f"{regret_mean[2]:.1%}",
    )


def lag_statistics(scale: str) -> dict:
    """Per lag k: Spearman correlation (per seed and mean) between the strategies' loss k steps
    after growth and at the stage's end, and the regret of picking the best-looking one at k."""
    data = lag_runs(scale)
    lags = data["lags"]
    rho, regret = [], []
    for losses in data["runs"]:
        table = np.array(list(losses.values()))  # strategies x lags
        final = table[:, -1]
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
    expected="residual MLP, the schedule of growth.speed, candidates gradual, MIDAS, copy+noise, "
    "zero probed for stage/10 steps each (probe FLOPs counted), >= 5 seeds: mean loss at the "
    "end of the schedule <= the better of fixed MIDAS's and fixed gradual's, with <= 1.25x "
    "their FLOPs",
    group="growth.speed-runs",
    minutes=30,
)
def _adaptive(scale, rng):
    per_seed = speed_runs(scale)["residual MLP"]
    loss = {"adaptive": [], "midas": [], "gradual": []}
    cost = {"adaptive": [], "midas": [], "gradual": []}
    picks = []
    for seed, runs in zip(seeds(_sizes(scale)["seeds"], salt=2024), per_seed, strict=True):
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
    means = {n: float(np.mean(v)) for n, v in loss.items()}
    flops_ = {n: float(np.mean(v)) for n, v in cost.items()}
    best = min(means["midas"], means["gradual"])
    overhead = flops_["adaptive"] / flops_["midas"]
    passed = means["adaptive"] <= best and overhead <= 1.25
    counts = {c: sum(p.count(c) for p in picks) for c in ADAPTIVE_CANDIDATES}
    return Outcome(
        passed,
        {"final_loss": loss, "mean_final_loss": means, "mean_flops": flops_, "picks": counts},
        f"mean final loss adaptive {means['adaptive']:.3g}, MIDAS {means['midas']:.3g}, gradual "
        f"{means['gradual']:.3g}; FLOPs adaptive/fixed {overhead:.2f}; picks "
        + ", ".join(f"{c} {n}" for c, n in counts.items()),
    )
