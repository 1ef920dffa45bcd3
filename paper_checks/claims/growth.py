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

from paper_checks.expect import (
    AtLeast,
    AtMost,
    Between,
    exact,
    lower_bounded_mean_interval,
    mean_interval,
)
from paper_checks.measure import (
    FLOPS_POINTS,
    NEVER_REACHED,
    at_scales,
    log_flops_to_reach,
    log_loss_ratio,
    seeds,
)
from paper_checks.registry import Control, Experiment, Measurement, Revision, claim, figure
from paper_checks.setups import SETUPS, SIZES
from sims import growth
from sims.families import deep_linear, residual_mlp
from sims.families.residual_mlp.growth import ResidualMLPFamily
from sims.problems import independent_seeds, staircase_task
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


@cache
def speed_runs(scale: str) -> dict:
    """Per family and seed: the full-depth baseline and gradual, MIDAS and progressive stacking,
    and zero growth (new blocks that start as the identity: growth without copying), grown from
    one block with Prop-1 stages over the same steps, then half as many steps again at the full
    depth and the final learning rate (room to compare at the baseline's FLOPs and beyond, and to
    reach the baseline's loss when a little slower)."""
    out = {}
    for family_name, setup in SETUPS.items():
        out[family_name] = []
        for seed in seeds(SIZES[scale].seeds, "growth.speed-runs"):
            family, model, depth, steps, options = setup(scale, seed)
            runs = {"baseline": growth.train_grown(family, model, None, [steps], **options)}
            for operator in (*GROWN, "zero"):
                runs[operator] = grown_from_one_block(
                    family, model, depth, steps, operator, options
                )
            out[family_name].append(runs)
    return out


def grown_from_one_block(family, model, depth: int, steps: int, operator: str, options: dict):
    """``model``'s first block grown to ``depth`` blocks by ``operator`` with Prop-1 stage lengths
    over ``steps`` (log2(depth) + 1 doubling stages for progressive stacking, one block per stage
    otherwise), then ``steps // 2`` more at the full depth and the final learning rate."""
    n_stages = int(np.log2(depth)) + 1 if operator == "progressive" else depth
    return growth.train_grown(
        family, growth.Model(model.shared, model.layers[:1]), operator,
        growth.prop_alpha(steps, n_stages, ALPHA), extra_steps=steps // 2, **options,
    )  # fmt: skip


def flops_ratios(runs) -> dict:
    """Per operator: FLOPs to reach the baseline's final loss over the baseline's (an operator
    that never gets there within its budget counts its whole budget: a lower bound)."""
    target = runs["baseline"].losses[-1]
    base = growth.flops_to(runs["baseline"], target)
    out = {}
    for operator in (*GROWN, "zero"):
        run = runs[operator]
        reached = growth.flops_to(run, target)
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
    positive=Control(
        "the written maps in place of grow's, the model itself in place of its zero "
        "growth, the relative FLOPs in exact rational arithmetic",
        maps="written",
        grown_with=None,
        flops_in="fractions",
    ),
    negative=Control(
        "MIDAS's maps in place of gradual's, a random (not zero) growth, Prop-alpha "
        "lengths rounded down",
        maps="midas for gradual",
        grown_with="random",
        lengths="rounded down",
    ),
    must_hold=True,
)
def _exact(scale, *, rng, maps="grow", grown_with="zero", lengths="prop_alpha", flops_in="floats"):
    """``maps``: grow's index maps, the written ones, or MIDAS's asked for gradual's;
    ``grown_with``: the growth compared with the model (None: the model itself); ``lengths``:
    Prop-alpha's stage lengths, or rounded down; ``flops_in``: the relative FLOPs of
    ``theory.flops`` in floats, or summed in exact fractions."""
    written = {  # from the definitions in docs/theory.md §6, by hand
        ("progressive", 3, 1): (0, 1, 2, 0, 1, 2),
        ("gradual", 4, 2): (0, 1, 2, 3, 2, 3),
        ("midas", 3, 1): (0, 1, 1, 2),
        ("midas", 4, 1): (0, 1, 1, 2, 3),
        ("midas", 6, 2): (0, 1, 2, 3, 2, 3, 4, 5),
        ("midas", 8, 2): (0, 1, 2, 3, 2, 3, 4, 5, 6, 7),
    }
    layers = [{"W": rng.standard_normal((2, 2))} for _ in range(8)]
    mismatches = 0
    for (op, n, b), expected in written.items():
        if maps == "written":
            got = expected
        else:
            op = "midas" if maps == "midas for gradual" and op == "gradual" else op
            got = growth.grow(layers[:n], op, block_size=b)[1]
        mismatches += got != expected
    family, model, _, _, _ = SETUPS["residual MLP"]("quick", int(rng.integers(2**31)))
    grown = model.layers
    if grown_with is not None:
        grown = growth.grow(grown, grown_with, fresh=family.fresh, zero_keys=family.zero_keys,
                            seed=0)[0]  # fmt: skip
    X = family.X_eval
    mlp_change = float(
        np.max(
            np.abs(
                residual_mlp.forward(family.params(model), X)
                - residual_mlp.forward(family.params(growth.Model(model.shared, grown)), X)
            )
        )
    )
    lin, lin_model, _, _, _ = SETUPS["deep linear"]("quick", int(rng.integers(2**31)))
    lin_layers = [{"W": 0.1 * rng.standard_normal(x["W"].shape)} for x in lin_model.layers]
    lin_grown = lin_layers
    if grown_with is not None:
        lin_grown = growth.grow(lin_layers, grown_with, fresh=lin.fresh, seed=0)[0]
    risks = [
        deep_linear.train_layers(lin.sigma, lin.w_star, [x["W"] for x in ls], 0, lr=1.0).losses[0]
        for ls in (lin_layers, lin_grown)
    ]

    def stage_lengths(t, n, a):
        stages = growth.prop_alpha(t, n, a)
        return np.floor(stages * 0.99) if lengths == "rounded down" else stages

    sum_errors = sum(
        stage_lengths(t, n, a).sum() != t
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
    if flops_in == "fractions":  # sum over stages of depth x length, in fractions
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
    statement="growing by MIDAS reaches a lower loss than the full-depth baseline at equal "
    "training FLOPs (the paper's headline: the same loss with up to 40% fewer FLOPs); gradual "
    "and progressive stacking and zero growth reported beside it",
    measurement="deep linear ("
    + "; ".join(
        f"d = {SIZES[s].linear.dimension}, {SIZES[s].linear.depth} layers at {s} scale"
        for s in ("quick", "paper")
    )
    + "; kappa 100, sigma 0.5, GD) and residual MLP (staircase degrees 1..6, Adam; "
    + "; ".join(
        f"width {SIZES[s].mlp.width}, depth {SIZES[s].mlp.depth} at {s} scale"
        for s in ("quick", "paper")
    )
    + ") grown from one block with Prop-1 stages: "
    "per seed, log(L_MIDAS / L_baseline) at equal FLOPs, averaged over 1/2, 3/4 and all of the "
    "baseline's budget; mean over seeds with t interval (negative: MIDAS ahead). FLOPs to the "
    "baseline's final loss over the baseline's reported per operator",
    expect={
        "MIDAS log loss ratio, deep linear": AtMost(0.0),
        "MIDAS log loss ratio, residual MLP": AtMost(0.0),
    },
    positive=Control(
        "the paper's effect by construction: per seed, the baseline's own loss curve "
        "reached with 40% fewer FLOPs (L(F) = L_baseline(F / 0.6), capped at the "
        "baseline's final loss) in place of MIDAS's",
        midas_as_baseline=0.6,
    ),
    negative=Control(
        "per seed, the baseline's own loss curve needing 40% more FLOPs (L(F) = "
        "L_baseline(F / 1.4)) in place of MIDAS's",
        midas_as_baseline=1.4,
    ),
    figures=("growth-speed",),
    group="growth.speed-runs",
    revisions=(
        Revision(
            2,
            "FLOPs to the baseline's final loss (on deep linear networks the cost of recovering "
            "from the last copy's loss kick, ten orders of magnitude below the start) replaced by "
            "the paired log loss ratio at equal FLOPs at three points of the budget; zero growth "
            "added as a comparator; sizes in the text per scale",
        ),
    ),
)
def _speed(scale, *, midas_as_baseline=None):
    """``midas_as_baseline``: MIDAS's curve replaced by the baseline's own with its FLOPs
    multiplied by this factor (``growth.rescaled``)."""
    measured, parts, statistics = {}, [], {}
    for family_name, per_seed in speed_runs(scale).items():
        ratios = [flops_ratios(runs) for runs in per_seed]
        row = {}
        for operator in (*GROWN, "zero"):
            if operator == "midas" and midas_as_baseline is not None:
                logs = np.array([log_loss_ratio(growth.rescaled(runs["baseline"], midas_as_baseline),
                                                runs["baseline"], runs["baseline"].flops[-1])
                                 for runs in per_seed])  # fmt: skip
            else:
                logs = np.array([log_loss_ratio(runs[operator], runs["baseline"],
                                                runs["baseline"].flops[-1])
                                 for runs in per_seed])  # fmt: skip
            estimate = mean_interval(logs)
            flops_ratio = [r[operator][0] for r in ratios]
            row[operator] = {"log_loss_ratio": estimate.as_dict(), "per_seed": logs.tolist(),
                             "flops_ratio_to_baseline_loss": flops_ratio,
                             "reached": sum(r[operator][1] for r in ratios)}  # fmt: skip
            if operator == "midas":
                statistics[f"MIDAS log loss ratio, {family_name}"] = estimate
            text = f"{operator} {estimate.text()} (FLOPs ratio {np.mean(flops_ratio):.2f})"
            parts.append(f"{family_name}: {text}" if operator == GROWN[0] else text)
        measured[family_name] = row
    return Measurement(
        statistics, measured, "log loss ratio to the baseline at equal FLOPs: " + ", ".join(parts)
    )


@claim(
    id="growth.position",
    source=f"{MIDAS} (copy the middle block, not the top)",
    provenance="reconstructed",
    statement="on deep linear networks (near-identity layers almost commute) copying the middle "
    "or the top block makes little difference (within a factor e^0.25 = 1.28 in loss at equal "
    "FLOPs); on the residual MLP the middle copy (MIDAS) is "
    "ahead of the top copy (gradual stacking)",
    measurement="per seed (runs of growth.speed): deep linear, log(L_MIDAS / L_gradual) at equal "
    "FLOPs, averaged over "
    + ", ".join(f"{f:.0%}" for f in FLOPS_POINTS)
    + " of the baseline's budget; residual MLP, the targets L* = gradual stacking's loss at those "
    "FLOPs and the mean over them of log(F_MIDAS(L*) / F_gradual(L*)), F(L*) the FLOPs at a "
    "run's first evaluation at or below L* (" + NEVER_REACHED + "); means with their t intervals",
    expect={
        "log MIDAS/gradual, deep linear": Between(-0.25, 0.25),
        "log FLOPs MIDAS/gradual, residual MLP": AtMost(0.0),
    },
    positive=Control(
        "per seed, MIDAS's curve replaced by gradual stacking's own (deep linear: no difference "
        "by construction) and by gradual stacking's own reached with 40% fewer FLOPs (residual "
        "MLP: L(F) = L_gradual(F / 0.6), capped at its final loss; its statistic is log 0.6 on "
        "every seed, so it tests the statistic on these curves, not the spread)",
        midas_as_gradual={"deep linear": 1.0, "residual MLP": 0.6},
    ),
    negative=Control(
        "per seed, MIDAS's curve replaced by gradual stacking's own needing 40% more FLOPs "
        "(L(F) = L_gradual(F / 1.4)), on both families (residual MLP: log 1.4 on every seed)",
        midas_as_gradual={"deep linear": 1.4, "residual MLP": 1.4},
    ),
    group="growth.speed-runs",
    revisions=(
        Revision(
            2,
            "the paired ratio of FLOPs to the baseline's final loss replaced by the paired log "
            "loss ratio at equal FLOPs (see growth.speed); 'little difference' made a band of "
            "+-0.25 in log loss (revision 1: +-10% in FLOPs), which 12 seeds can resolve",
        ),
        Revision(
            3,
            "measured controls (were planted: the per-seed log ratios shifted to mean 0 and log "
            "0.7, negative log 1.5 and log 1.3): MIDAS's curve replaced by gradual stacking's own, "
            "as is (deep linear positive), reached with 40% fewer FLOPs (residual MLP positive) "
            "or needing 40% more (negatives), as growth.speed's controls; the claim arm is "
            "unchanged",
        ),
        Revision(
            4,
            "residual-MLP half: the log FLOPs ratio to reach gradual stacking's loss at 50%, 75% "
            "and 100% of the baseline's budget (was the log loss ratio at equal FLOPs there). At "
            "paper scale revision 3's measured negative control, gradual's own curve needing "
            "1.4x its FLOPs, came out ahead of gradual (-0.454 [-0.551, -0.358]): each growth "
            "kicks the MLP's loss up, so a curve read at equal FLOPs is not monotone and a slower "
            "copy can be read before a kick where the curve itself is read after one. The FLOPs "
            "at which a loss is first reached do not depend on later kicks. The band (<= 0) and "
            "the deep-linear half are unchanged",
        ),
        Revision(
            5,
            "residual-MLP half: a target MIDAS never reaches is counted at its run's final FLOPs, "
            "a lower bound, and a mean with such seeds gets a one-sided interval [low, inf) "
            "(expect.lower_bounded_mean_interval); revision 4 made the seed's ratio infinite, "
            "so 4 of 10 paper seeds, all of them slower than gradual stacking, left the half "
            "undecided. The band, targets and controls are unchanged",
        ),
    ),
)
def _position(scale, *, midas_as_gradual=None):
    """``midas_as_gradual``: per family, MIDAS's curve replaced by gradual stacking's own with
    its FLOPs multiplied by this factor (``growth.rescaled``)."""
    measured, statistics = {}, {}
    for family_name, per_seed in speed_runs(scale).items():
        pairs = []
        for runs in per_seed:
            midas = runs["midas"] if midas_as_gradual is None else growth.rescaled(
                runs["gradual"], midas_as_gradual[family_name])  # fmt: skip
            budget = runs["baseline"].flops[-1]
            if family_name == "deep linear":
                pairs.append((log_loss_ratio(midas, runs["gradual"], budget), 0))
            else:
                pairs.append(log_flops_to_reach(midas, runs["gradual"], budget, FLOPS_POINTS))
        paired = np.array([value for value, _ in pairs])
        name = "log MIDAS/gradual" if family_name == "deep linear" else "log FLOPs MIDAS/gradual"
        statistics[f"{name}, {family_name}"] = lower_bounded_mean_interval(
            paired, [m > 0 for _, m in pairs]
        )
        measured[family_name] = {"per_seed": paired.tolist(),
                                 "targets_missed": sum(m for _, m in pairs)}  # fmt: skip
    targets = len(per_seed) * len(FLOPS_POINTS)
    return Measurement(
        statistics,
        measured,
        "MIDAS against gradual: "
        + "; ".join(f"{k} {e.text()}" for k, e in statistics.items())
        + f" ({measured['residual MLP']['targets_missed']} of {targets} targets never reached)",
    )


def peak_position(profile) -> float:
    """Where a profile of adjacent-block similarities peaks, from 0 (the first pair) to 1 (the
    top pair)."""
    return float(np.argmax(profile) / max(len(profile) - 1, 1))


def last_copy_reset(run, operator: str, family) -> dict:
    """A grown run's trained parameters (of ``family``, a block family class) with the block its
    last growth made reset to its source (an exact copy, as made)."""
    j = growth.copy_pair(growth.grown_maps(operator, len(run.depths)))
    layers = list(run.layers)
    layers[j + 1] = layers[j]
    return family.params(growth.Model(run.model.shared, layers))


@claim(
    id="growth.looped",
    source=f"{MIDAS} (grown models resemble looped, weight-shared ones)",
    provenance="secondary",
    statement="after training, the blocks of a MIDAS-grown residual MLP are more alike than those "
    "of the baseline, and their similarity peaks where the copies were made: mid-stack for MIDAS "
    "(middle copies), at the top for gradual stacking (top copies)",
    measurement="cosine similarity of adjacent blocks' weights (runs of growth.speed): paired "
    "per-seed difference of the mean, MIDAS - baseline ('MIDAS - baseline', t interval); per "
    "seed the position of the most similar adjacent pair, 0 = bottom, 1 = top ('MIDAS peak', "
    "'gradual peak', t intervals)",
    expect={
        "MIDAS - baseline": AtLeast(0.0),
        "MIDAS peak": Between(0.25, 0.75),
        "gradual peak": AtLeast(0.75),
    },
    positive=Control(
        "the trained MIDAS and gradual models with the block their last growth made "
        "reset to its source (an exact copy, where the copy was made)",
        copies_reset=True,
    ),
    negative=Control(
        "the measured profiles of MIDAS and gradual swapped, and baseline - MIDAS in "
        "place of MIDAS - baseline (the roles swapped)",
        roles_swapped=True,
    ),
    figures=("growth-looped",),
    group="growth.speed-runs",
    revisions=(
        Revision(
            2,
            "revision 1 compared only mean similarities (MIDAS - gradual was 0.004: no shape); now "
            "the position of the similarity peak, which the copy position should set",
        ),
        Revision(
            3,
            "measured controls: the positive resets the last copy of each trained model to its "
            "source (was: planted profiles and a +0.1 shift), the negative swaps the roles of "
            "MIDAS and the baseline (was: a -0.1 shift) (issue 28); the claim arm is unchanged",
        ),
    ),
)
def _looped(scale, *, copies_reset=False, roles_swapped=False):
    per_seed = speed_runs(scale)["residual MLP"]
    profiles = {
        name: np.array(
            [np.diag(growth.block_similarity(runs[name].params), 1) for runs in per_seed]
        )
        for name in ("baseline", "gradual", "midas", "progressive")
    }
    peaks = {name: profiles[name] for name in ("midas", "gradual")}
    if copies_reset:
        peaks = {name: np.array([np.diag(growth.block_similarity(
            last_copy_reset(runs[name], name, ResidualMLPFamily)), 1)
                                 for runs in per_seed]) for name in peaks}  # fmt: skip
    difference = peaks["midas"].mean(axis=1) - profiles["baseline"].mean(axis=1)
    if roles_swapped:
        peaks = {"midas": profiles["gradual"], "gradual": profiles["midas"]}
        difference = -difference
    positions = {n: [peak_position(p) for p in v] for n, v in peaks.items()}
    statistics = {
        "MIDAS - baseline": mean_interval(difference),
        "MIDAS peak": mean_interval(positions["midas"]),
        "gradual peak": mean_interval(positions["gradual"]),
    }
    means = {n: v.mean(axis=0).round(3).tolist() for n, v in profiles.items()}
    return Measurement(
        statistics,
        {"adjacent_similarity_profile_mean": means, "peak_positions": positions},
        "mean adjacent-block cosine profile (bottom to top): "
        + "; ".join(f"{n} {v}" for n, v in means.items())
        + "; "
        + ", ".join(f"{k} {e.text()}" for k, e in statistics.items()),
    )


@dataclass(frozen=True)
class LagSizes:
    blocks: int  # blocks before growth
    pre_steps: int
    stage: int
    eval_every: int
    lags: tuple[
        int, ...
    ]  # steps after growth at which the pool is ranked (the stage's end excluded)
    seeds: int  # checkpoints
    replicates: int  # runs of each strategy per checkpoint (minibatch order, noise)


LAG_SIZES = {
    "quick": LagSizes(2, 300, 200, 5, (0, 5, 10, 20, 40, 80, 120), seeds=5, replicates=3),
    "paper": LagSizes(4, 1000, 400, 10, (0, 10, 20, 40, 80, 160, 300), seeds=8, replicates=3),
}


@cache
def lag_runs(scale: str) -> dict:
    """Per checkpoint (a residual MLP of a few blocks trained for ``pre_steps``, Adam state
    kept): each strategy of the pool grows it by one block and trains one stage (global cosine
    schedule over the stage), ``replicates`` times with independent minibatch and noise seeds;
    the eval losses at each lag after growth and at the stage's end."""
    size = LAG_SIZES[scale]
    out = []
    for seed in seeds(size.seeds, "growth.lag-ranking"):
        family, model, _, _, options = SETUPS["residual MLP"](scale, seed)
        family.eval_every = size.eval_every
        start = growth.Model(model.shared, model.layers[: size.blocks])
        checkpoint_seed, *stage_seeds = independent_seeds(options.pop("seed"), 1 + size.replicates)
        checkpoint = growth.train_grown(
            family, start, None, [size.pre_steps], seed=checkpoint_seed, **options
        )
        replicates = []
        for stage_seed in stage_seeds:
            losses = {}
            for operator, state in LAG_POOL:
                run = growth.train_grown(
                    family, checkpoint.model, operator, [0, size.stage], optimizer_state=state,
                    seed=stage_seed, lr=options["lr"],
                )  # fmt: skip
                at = {int(s): loss for s, loss in zip(run.eval_steps, run.losses, strict=True)}
                losses[f"{operator}/{state}"] = [at[k] for k in (*size.lags, size.stage)]
            replicates.append(losses)
        out.append(replicates)
    return {"lags": size.lags, "stage": size.stage, "runs": out}


@claim(
    id="growth.lag-ranking",
    source=LAG,
    provenance="paper",
    statement="the loss right after growth ranks growth strategies poorly by their final loss; "
    "the loss after a short lag ranks them well",
    measurement="pool of 8 strategies (gradual, MIDAS, copy+noise with Adam state copied or reset;"
    " zero; random) grown from a trained residual-MLP checkpoint (its Adam state kept), each run 3 "
    "times (independent minibatch and noise seeds), "
    f"{at_scales({s: z.seeds for s, z in LAG_SIZES.items()}, ' checkpoints')}. Per "
    "checkpoint, Spearman correlation of one replicate's losses k steps after growth with another "
    "replicate's losses at the stage's end, mean over ordered pairs of replicates; its ceiling is "
    "the same correlation between two replicates' final losses (run-to-run reproducibility of the "
    "final ranking). Statistics: per checkpoint, half the ceiling minus the correlation at k = 0 "
    "(positive when the loss right after growth ranks at most half as well as a rerun), mean "
    "with t interval ('half ceiling - Spearman at k = 0'); the smallest lag k (the stage's end "
    "excluded) whose mean correlation reaches 0.9 of the mean ceiling, as a fraction of the stage "
    "('lag to 0.9 ceiling / stage', 1 if none)",
    expect={
        "half ceiling - Spearman at k = 0": AtLeast(0.0),
        "lag to 0.9 ceiling / stage": AtMost(0.25),
    },
    positive=Control(
        "planted losses: each replicate's own final losses from k = 1/8 of the "
        "stage on, their reverse order before",
        planted="final from stage/8",
    ),
    negative=Control(
        "planted losses: each replicate's own final losses at every lag (the loss "
        "right after growth ranks as well as the final loss of a rerun)",
        planted="final at every lag",
    ),
    why_planted="the claim is about how well early losses rank a pool; a pool whose early losses rank it perfectly (or not at all) by construction is made of the replicates' own losses, as planted here",
    figures=("growth-lag",),
    minutes=15,
    revisions=(
        Revision(
            2,
            "Adam state kept at the checkpoint (before, it was rebuilt from the parameters, so "
            "every copy-state run equalled its reset-state twin and the pool held 5 strategies, "
            "not 8); 3 replicates per strategy; correlations taken across replicates and compared "
            "with the ceiling of run-to-run reproducibility; the stage's end left out of the lags "
            "(it correlates 1.0 with itself); normalised regret reported",
        ),
    ),
)
def _lag_ranking(scale, *, planted=None):
    measured = lag_statistics(scale, planted)
    stage = lag_runs(scale)["stage"]
    first = measured["smallest_lag_reaching_0.9_ceiling"]
    at_zero = mean_interval(
        [c / 2 - rho[0] for c, rho in zip(measured["ceiling_per_seed"],
                                          measured["spearman_per_seed"], strict=True)]
    )  # fmt: skip
    lag_fraction = 1.0 if first is None else first / stage
    regret = measured["normalised_regret_mean"]
    return Measurement(
        {
            "half ceiling - Spearman at k = 0": at_zero,
            "lag to 0.9 ceiling / stage": exact(lag_fraction),
        },
        measured,
        f"half ceiling - Spearman at k = 0: {at_zero.text()} (Spearman at k = 0 "
        f"{measured['spearman_mean'][0]:.2f}, ceiling "
        f"{measured['ceiling_mean']:.2f}); smallest k reaching 0.9 of the ceiling: {first} of "
        f"{stage}; normalised regret of picking at k = 0: {regret[0]:.2f}, at k = "
        f"{measured['lags'][2]}: {regret[2]:.2f}; copy/reset twins identical: "
        f"{measured['identical_copy_reset_twins']}",
    )


def lag_statistics(scale: str, planted: str | None = None) -> dict:
    """Per checkpoint and lag k: Spearman correlation between the strategies' losses k steps after
    growth in one replicate and their final losses in another (mean over ordered pairs), its
    ceiling (final against final), and the normalised regret of picking the best-looking strategy
    at k, ``(L_final[pick] - min L_final) / (max L_final - min L_final)`` within a replicate.
    ``planted``: each replicate's own final losses in place of its losses at every lag ("final
    at every lag"), or from stage/8 on with their reverse order before ("final from stage/8")."""
    data = lag_runs(scale)
    lags, stage = data["lags"], data["stage"]
    rho, ceiling, regret, twins = [], [], [], 0
    for replicates in data["runs"]:
        tables = [np.array(list(losses.values())) for losses in replicates]  # strategies x lags
        twins += sum(
            losses[f"{op}/copy"] == losses[f"{op}/reset"]
            for losses in replicates
            for op in ("gradual", "midas", "copy_noise")
        )
        finals = [t[:, -1] for t in tables]
        if planted is not None:
            tables = [np.repeat(f[:, None], len(lags), axis=1) for f in finals]
            if planted == "final from stage/8":
                early = np.array(lags) < stage / 8
                for t, f in zip(tables, finals, strict=True):
                    t[:, early] = -f[:, None]
        pairs = [(a, b) for a in range(len(tables)) for b in range(len(tables)) if a != b]
        rho.append([
            np.mean([stats.spearmanr(tables[a][:, i], finals[b]).statistic for a, b in pairs])
            for i in range(len(lags))
        ])  # fmt: skip
        ceiling.append(np.mean([stats.spearmanr(finals[a], finals[b]).statistic for a, b in pairs]))
        regret.append([
            np.mean([(f[np.argmin(t[:, i])] - f.min()) / np.ptp(f) for t, f in zip(tables, finals,
                                                                                   strict=True)])
            for i in range(len(lags))
        ])  # fmt: skip
    rho, ceiling = np.asarray(rho), np.asarray(ceiling)
    rho_mean, ceiling_mean = rho.mean(axis=0), float(ceiling.mean())
    good = [k for k, r in zip(lags, rho_mean, strict=True) if r >= 0.9 * ceiling_mean]
    return {
        "lags": list(lags),
        "spearman_mean": rho_mean.tolist(),
        "spearman_per_seed": rho.tolist(),
        "ceiling_per_seed": ceiling.tolist(),
        "ceiling_mean": ceiling_mean,
        "normalised_regret_mean": np.mean(regret, axis=0).tolist(),
        "smallest_lag_reaching_0.9_ceiling": good[0] if good else None,
        "identical_copy_reset_twins": int(twins),
    }


ADAPTIVE_SEEDS = {"quick": SIZES["quick"].seeds, "paper": 60}  # the first: growth.speed's
FIXED_OPERATORS = ("midas", "gradual", "zero")  # growth.adaptive's comparators


def _adaptive_seed(scale: str, index: int) -> tuple:
    """Seed ``index`` of growth.adaptive (the residual MLP of growth.speed, its seeds extended):
    the adaptive run (gradual stacking choosing each growth among ADAPTIVE_CANDIDATES by a probe
    of stage/10 steps, scored on a selection set of 500 fresh samples) with its choices, and the
    fixed operators' runs (``grown_from_one_block``, as growth.speed trains them)."""
    seed = seeds(ADAPTIVE_SEEDS[scale], "growth.speed-runs")[index]
    family, model, depth, steps, options = SETUPS["residual MLP"](scale, seed)
    X_select, y_select = staircase_task(20, 6).sample(500, seed=independent_seeds(seed, 5)[4])

    def score(grown):
        prediction = residual_mlp.forward(family.params(grown), X_select)
        return float(np.mean((prediction - y_select) ** 2))

    stages = growth.prop_alpha(steps, depth, ALPHA)
    run, chosen = growth.train_adaptive(
        family, growth.Model(model.shared, model.layers[:1]), ADAPTIVE_CANDIDATES, stages,
        max(1, int(stages[1]) // 10), score=score, **options,
    )  # fmt: skip
    fixed = {op: grown_from_one_block(family, model, depth, steps, op, options)
             for op in FIXED_OPERATORS}  # fmt: skip
    return run, chosen, fixed


adaptive_runs = Experiment(
    "growth.adaptive-runs", lambda scale: ADAPTIVE_SEEDS[scale], _adaptive_seed
)


@claim(
    id="growth.adaptive",
    source=f"{LAG} (an adaptive strategy for gradual stacking)",
    provenance="reconstructed",
    statement="gradual stacking that picks each growth by a short probe of the candidates beats "
    "fixed MIDAS, fixed gradual stacking and fixed zero growth at equal FLOPs, at a modest FLOPs "
    "overhead",
    measurement="residual MLP, the schedule of growth.speed, "
    f"{at_scales(ADAPTIVE_SEEDS, ' seeds')} (the first those of growth.speed); candidates "
    "gradual, MIDAS, "
    "copy+noise, zero probed for stage/10 steps each (probe FLOPs counted) and chosen by their "
    "loss on a selection set of 500 fresh samples (apart from the evaluation set that scores "
    "them): per seed, log(L_adaptive / L_fixed) with the fixed run's loss taken at the adaptive "
    "run's FLOPs (the fixed runs continue past their schedule), against the best fixed operator "
    "by mean; mean with t interval ('log adaptive / best fixed'); mean FLOPs of the adaptive "
    "schedule over a fixed one ('FLOPs overhead')",
    expect={"log adaptive / best fixed": AtMost(0.0), "FLOPs overhead": AtMost(1.25)},
    positive=Control(
        "per seed, the best fixed operator's own loss curve reached with 40% fewer FLOPs (L(F) "
        "= L_fixed(F / 0.6), capped at its final loss) in place of the adaptive run's, at the "
        "adaptive run's FLOPs",
        adaptive_as_fixed=0.6,
    ),
    negative=Control(
        "per seed, the best fixed operator's own loss curve needing 40% more FLOPs (L(F) = "
        "L_fixed(F / 1.4)) in place of the adaptive run's, at the adaptive run's FLOPs",
        adaptive_as_fixed=1.4,
    ),
    group="growth.adaptive-runs",
    minutes=22,  # 1298 s of seeds at paper scale on one core (2026-12-07)
    revisions=(
        Revision(
            2,
            "probes scored on a selection set apart from the evaluation set (revision 1 chose on "
            "the set that scored the result); fixed zero growth added to the comparators; "
            "compared at equal FLOPs by a paired log loss ratio; 12 seeds at quick scale (a "
            "planted 20% effect was not resolved by 5)",
        ),
        Revision(
            3,
            "measured controls (were planted: the per-seed log ratios shifted to mean log 0.5 "
            "and log 2): the adaptive run's loss replaced by the best fixed operator's own curve "
            "reached with 40% fewer (positive) or needing 40% more (negative) FLOPs, as "
            "growth.speed's controls; the claim arm is unchanged",
        ),
        Revision(
            4,
            "60 paper seeds (were growth.speed's 10; those are the first 10): revision 3 was "
            "inconclusive at 0.0632 [-0.0419, 0.168], and a power calculation from its spread "
            "asks 57 for 80% power at the band's edge; the fixed operators are trained beside "
            "the adaptive run per seed (an experiment of its own: growth.adaptive-runs), as "
            "growth.speed trains them. Quick scale unchanged (its 12 seeds are growth.speed's)",
        ),
    ),
)
def _adaptive(scale, *, adaptive_as_fixed=None):
    """``adaptive_as_fixed``: the adaptive run's loss replaced by the best fixed operator's own
    curve with its FLOPs multiplied by this factor (``growth.rescaled``), at the same FLOPs."""
    steps = SIZES[scale].mlp.steps
    logs = {name: [] for name in FIXED_OPERATORS}
    overheads, picks, spents, per_seed = [], [], [], []
    for run, chosen, runs in adaptive_runs(scale):
        per_seed.append(runs)
        picks.append(chosen)
        spent = float(run.flops[-1])
        spents.append(spent)
        for name in FIXED_OPERATORS:
            logs[name].append(np.log(run.losses[-1] / growth.loss_at_flops(runs[name], spent)))
        at_end = np.flatnonzero(runs["midas"].eval_steps <= steps)[-1]
        overheads.append(spent / float(runs["midas"].flops[at_end]))
    best = max(FIXED_OPERATORS, key=lambda n: np.mean(logs[n]))  # the lowest fixed loss
    paired = np.array(logs[best])
    if adaptive_as_fixed is not None:
        paired = np.array([
            np.log(growth.loss_at_flops(growth.rescaled(runs[best], adaptive_as_fixed), spent)
                   / growth.loss_at_flops(runs[best], spent))
            for runs, spent in zip(per_seed, spents, strict=True)
        ])  # fmt: skip
    difference = mean_interval(paired)
    overhead = float(np.mean(overheads))
    counts = {c: sum(p.count(c) for p in picks) for c in ADAPTIVE_CANDIDATES}
    means = {n: float(np.mean(v)) for n, v in logs.items()}
    return Measurement(
        {"log adaptive / best fixed": difference, "FLOPs overhead": exact(overhead)},
        {"log_ratio_per_fixed": {n: list(map(float, v)) for n, v in logs.items()},
         "best_fixed": best, "picks": counts, "flops_overhead": overhead},
        f"log adaptive / best fixed ({best}) {difference.text()}; mean log ratio to "
        + ", ".join(f"{n} {v:+.2f}" for n, v in means.items())
        + f"; FLOPs overhead {overhead:.2f}; picks "
        + ", ".join(f"{c} {n}" for c, n in counts.items()),
    )  # fmt: skip


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
        },
        {"deep linear": "excess risk R(P) - R*", "residual MLP": "eval MSE"},
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
        {
            name: growth.block_similarity(runs[name].params)
            for name in ("baseline", "gradual", "midas")
        }
    )


@figure(
    "growth-lag",
    "LAG: Spearman correlation between the loss k steps after growth in one run and the loss"
    " at the end of the stage in a rerun, over a pool of 8 growth strategies (grey: checkpoints;"
    " blue: mean; dashed: the ceiling set by reproducibility of the final ranking), and the"
    " normalised regret of picking the strategy that looks best at k.",
)
def _growth_lag(scale):
    from figures.growth import plot_lag

    measured = lag_statistics(scale)
    return plot_lag(
        measured["lags"], measured["spearman_per_seed"], measured["ceiling_mean"],
        measured["normalised_regret_mean"],
    )  # fmt: skip
