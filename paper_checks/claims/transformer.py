"""Claims on a small pre-LN transformer (``sims.transformer``; docs/theory.md section 6a): the
stacking paper's stacking-vs-random-init experiment (its Figure 2, at our scale), growth operators
at matched FLOPs, MIDAS's reasoning bias and the looped-model connection. The ids keep the
prefixes of the papers (``stacking``, ``growth``).

Everything here is at toy scale: width 16-32, up to 4 blocks, a synthetic corpus (typed Dyck
language) and synthetic primitives (``sims.text``). Sizes, schedules and thresholds are ours
(``reconstructed``), fixed before the runs. Experiments are cached per scale so claims and figures
share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from paper_checks.claims.growth import block_similarity, log_loss_ratio
from paper_checks.expect import AtLeast, AtMost, exact, mean_interval
from paper_checks.measure import planted_shift, seeds
from paper_checks.registry import Measurement, claim, figure
from sims import growth, text, transformer
from sims.problems import independent_seeds

STACKING = "Agarwal et al. 2024 (stacking as accelerated GD, arXiv 2403.04978), Figure 2"
MIDAS = "Saunshi et al. 2024 (MIDAS, arXiv 2409.19044)"
HEADS = 2
STAGES = 4
INITS = ("copy", "copy, beta 0.5", "random", "zero")  # how each new block starts (Figure 2)
INIT_OPERATORS = {"copy": ("gradual", 1.0), "copy, beta 0.5": ("gradual", 0.5),
                  "random": ("random", 1.0), "zero": ("zero", 1.0)}  # fmt: skip
GROWN = ("gradual", "midas", "progressive")


@dataclass(frozen=True)
class Sizes:
    width: int
    context: int
    stage_steps: int  # Figure 2 analogue: steps per stage
    growth_steps: int  # growth at matched FLOPs: the baseline's steps
    finetune_steps: int
    seeds: int
    lr: float = 3e-3
    batch: int = 16
    train_rows: int = 2000
    eval_rows: int = 200
    probes: int = 100  # held-out prompts per primitive


SIZES = {
    "quick": Sizes(16, 20, 20, 80, 15, seeds=3, train_rows=500, eval_rows=100, probes=50),
    "paper": Sizes(32, 32, 200, 600, 60, seeds=8),
}


def _family(data, eval_data, sizes, causal, objective, checkpoint_every=0):
    return growth.TransformerFamily(
        data, eval_data, heads=HEADS, causal=causal, objective=objective, batch_size=sizes.batch,
        eval_every=max(sizes.stage_steps // 4, 1), checkpoint_every=checkpoint_every,
    )  # fmt: skip


def _start(sizes, depth, seed):
    params = transformer.init_params(text.VOCAB, sizes.width, depth, sizes.context, seed=seed)
    return growth.TransformerFamily.model(params)


def _end_of_stage_losses(run) -> np.ndarray:
    """Eval loss at the end of each stage (right before the next growth, and at the end)."""
    return np.array([*_before_growth(run), run.losses[-1]])


@cache
def stacking_runs(scale: str) -> list[dict]:
    """Per seed: a bidirectional model trained with MLM on the corpus in 4 stages, one block added
    per stage, the new block a copy of the top block (beta 1 and 0.5: its output projections
    scaled) or random or zero (function-preserving); and one-block and four-block models trained
    as long (the corpus's positive control: depth must help)."""
    sizes = SIZES[scale]
    out = []
    for seed in seeds(sizes.seeds, "stacking.transformer-runs"):
        data_seed, init_seed, train_seed = independent_seeds(seed, 3)
        rng = np.random.default_rng(data_seed)
        data = text.dyck(rng, sizes.train_rows, sizes.context)
        family = _family(data, text.dyck(rng, sizes.eval_rows, sizes.context), sizes, False, "mlm")
        options = {"lr": sizes.lr, "warmup": sizes.stage_steps // 4, "seed": train_seed}
        runs = {}
        for name, (operator, beta) in INIT_OPERATORS.items():
            runs[name] = growth.train_grown(
                family, _start(sizes, 1, init_seed), operator, [sizes.stage_steps] * STAGES,
                beta=beta, **options,
            )  # fmt: skip
        for depth in (1, STAGES):
            runs[f"{depth} block(s)"] = growth.train_grown(
                family, _start(sizes, depth, init_seed), None, [sizes.stage_steps * STAGES],
                **options,
            )  # fmt: skip
        out.append(runs)
    return out


@claim(
    id="stacking.transformer-vs-random",
    source=STACKING,
    provenance="paper",
    statement="in stagewise training of a BERT-like model (4 stages, one block added per "
    "stage), initialising the new block as a copy of the top block (stacking) gives lower loss "
    "than random initialisation after every stage boundary and at the end",
    measurement="bidirectional pre-LN transformer, MLM (15%) on the typed Dyck corpus, 1 -> 4 "
    "blocks: paired per-seed log(L_random / L_copy) of the eval loss at the end of stages 2, 3 "
    "and 4 (t intervals; > 0: stacking ahead)",
    expect={f"stage {s}": AtLeast(0.0) for s in (2, 3, 4)},
    positive="planted: the per-seed log ratios shifted to mean +0.1 (spread kept)",
    negative="planted: the per-seed log ratios shifted to mean -0.1",
    figures=("transformer-stacking",),
    group="stacking.transformer-runs",
    minutes=15.0,
)
def _vs_random(scale, arm, rng):
    per_seed = stacking_runs(scale)
    ends = {n: np.array([_end_of_stage_losses(r[n]) for r in per_seed]) for n in INITS}
    ratios = np.log(ends["random"] / ends["copy"])
    statistics = {}
    for s in (2, 3, 4):
        values = ratios[:, s - 1]
        if arm != "claim":
            values = planted_shift(values, 0.1 if arm == "positive" else -0.1)
        statistics[f"stage {s}"] = mean_interval(values)
    table = [{"init": n, **{f"stage {s}": float(np.mean(ends[n][:, s - 1])) for s in range(1, 5)},
              "after last growth": float(np.mean([_after_growth(r[n])[-1] for r in per_seed]))}
             for n in INITS]  # fmt: skip
    return Measurement(
        statistics,
        {"table": table, "log_ratio_random_over_copy": ratios.round(4).tolist()},
        "mean eval loss at the end of stages 1-4: "
        + "; ".join(f"{row['init']} " + ", ".join(f"{row[f'stage {s}']:.3f}" for s in range(1, 5))
                    for row in table)
        + "; log(L_random / L_copy) "
        + ", ".join(f"{k} {e.text()}" for k, e in statistics.items()),
    )  # fmt: skip


def _after_growth(run) -> np.ndarray:
    """Eval loss right after each growth (a stage's evaluations start with one at its step 0,
    so each boundary step appears twice: the previous stage's last, then this one)."""
    out = []
    for start in run.stage_starts[1:]:
        at = np.flatnonzero(run.eval_steps == start)
        out.append(run.losses[at[-1]] if at.size else np.nan)
    return np.array(out)


def _before_growth(run) -> np.ndarray:
    """Eval loss right before each growth."""
    out = []
    for start in run.stage_starts[1:]:
        at = np.flatnonzero(run.eval_steps == start)
        out.append(run.losses[at[0]] if at.size > 1 else np.nan)
    return np.array(out)


@claim(
    id="stacking.transformer-zero-block",
    source=f"{STACKING} (the zero block as the function-preserving control)",
    provenance="reconstructed",
    statement="a new block with zero output projections leaves the transformer's function, hence "
    "its loss, unchanged at every growth; a copied block (beta = 1) does not",
    measurement="runs of stacking.transformer-vs-random: largest |eval loss right after a growth "
    "- right before| over boundaries and seeds, for the zero block ('zero change') and for the "
    "copy ('copy change')",
    expect={"zero change": AtMost(1e-12), "copy change": AtLeast(1e-6)},
    positive="the loss before each growth in place of the loss after it, for both inits",
    negative="the random block's change in place of the zero block's, and 0 in place of the copy's",
    group="stacking.transformer-runs",
    must_hold=True,
)
def _zero_block(scale, arm, rng):
    per_seed = stacking_runs(scale)

    def change(name):
        runs = [r[name] for r in per_seed]
        after = [_before_growth(r) if arm == "positive" else _after_growth(r) for r in runs]
        return float(
            max(np.max(np.abs(a - _before_growth(r))) for a, r in zip(after, runs, strict=True))
        )

    zero = change("random" if arm == "negative" else "zero")
    copy = 0.0 if arm == "negative" else change("copy")
    if arm == "positive":
        copy = 1.0  # the copy's change is not a control of the identity; planted above the band
    statistics = {"zero change": exact(zero, len(per_seed)), "copy change": exact(copy)}
    return Measurement(
        statistics,
        {"zero_change": zero, "copy_change": copy},
        f"largest loss change at a growth: zero block {zero:.2e}, copy {copy:.2e}",
    )


@claim(
    id="stacking.transformer-corpus-depth",
    source="our corpus (issue 19): the positive control that the task needs depth",
    provenance="reconstructed",
    statement="on the typed Dyck corpus, a four-block transformer reaches clearly (>= 5%) lower "
    "MLM loss than a one-block transformer trained as long",
    measurement="paired per-seed log(L_1 block / L_4 blocks) of the final eval loss (t interval)",
    expect={"log ratio": AtLeast(0.05)},
    positive="planted: the log ratios shifted to mean 0.2",
    negative="the one-block model against itself (log ratio 0)",
    group="stacking.transformer-runs",
)
def _corpus_depth(scale, arm, rng):
    per_seed = stacking_runs(scale)
    deep = "1 block(s)" if arm == "negative" else f"{STAGES} block(s)"
    ratios = np.array([np.log(r["1 block(s)"].losses[-1] / r[deep].losses[-1]) for r in per_seed])
    if arm == "positive":
        ratios = planted_shift(ratios, 0.2)
    statistics = {"log ratio": mean_interval(ratios)}
    finals = {k: float(np.mean([r[k].losses[-1] for r in per_seed]))
              for k in ("1 block(s)", f"{STAGES} block(s)")}  # fmt: skip
    return Measurement(
        statistics,
        {"final_eval_loss_mean": finals, "log_ratios": ratios.round(4).tolist()},
        "mean final MLM loss: " + ", ".join(f"{k} {v:.3f}" for k, v in finals.items())
        + f"; log ratio {statistics['log ratio'].text()}",
    )  # fmt: skip


def accuracy(params, probes) -> float:
    """Exact-match accuracy: the argmax next token after each prompt against its answer."""
    batches, answers = probes
    inputs = batches.tokens[:, :-1]
    at = batches.weights.argmax(axis=1)
    scores = transformer.logits(params, inputs, heads=HEADS, causal=True)
    return float(np.mean(scores[np.arange(len(answers)), at].argmax(axis=1) == answers))


@cache
def growth_runs(scale: str) -> list[dict]:
    """Per seed: a causal model trained with next-token loss on the mixture (corpus and
    primitive episodes): full depth (4 blocks) against gradual, MIDAS and progressive stacking
    grown from one block with Prop-1 stages over the same steps; checkpoints for the isoplots;
    held-out primitive prompts and a short fine-tuning on each primitive at the end."""
    sizes = SIZES[scale]
    out = []
    for seed in seeds(sizes.seeds, "growth.transformer-runs"):
        data_seed, init_seed, train_seed, probe_seed = independent_seeds(seed, 4)
        rng = np.random.default_rng(data_seed)
        length = sizes.context + 1
        data, eval_data = text.mixture(rng, sizes.train_rows, length), text.mixture(
            rng, sizes.eval_rows, length)  # fmt: skip
        probe_rng = np.random.default_rng(probe_seed)
        probes = {
            p: text.primitive_set(probe_rng, p, sizes.probes, length) for p in text.PRIMITIVES
        }
        tune = {p: text.primitive_set(probe_rng, p, 4 * sizes.probes, length)[0]
                for p in text.PRIMITIVES}  # fmt: skip
        runs = {}
        for name in ("baseline", *GROWN):
            family = _family(data, eval_data, sizes, True, "next",
                             checkpoint_every=max(sizes.growth_steps // 8, 1))  # fmt: skip
            if name == "baseline":
                run = growth.train_grown(family, _start(sizes, STAGES, init_seed), None,
                                         [sizes.growth_steps], lr=sizes.lr, seed=train_seed)  # fmt: skip
            else:
                n_stages = 3 if name == "progressive" else STAGES
                run = growth.train_grown(
                    family, _start(sizes, 1, init_seed), name,
                    growth.prop_alpha(sizes.growth_steps, n_stages, 1.0), lr=sizes.lr,
                    seed=train_seed,
                )  # fmt: skip
            points = []
            for _, params in family.checkpoints:
                loss = transformer.evaluation(params, eval_data, heads=HEADS, causal=True)(params)
                points.append((loss, {p: accuracy(params, probes[p]) for p in text.PRIMITIVES}))
            tuned = {}
            for p in text.PRIMITIVES:
                result = transformer.train(run.params, tune[p], sizes.finetune_steps, heads=HEADS,
                                           causal=True, lr=sizes.lr, seed=train_seed)  # fmt: skip
                tuned[p] = accuracy(result.params, probes[p])
            runs[name] = {"run": run, "isoplot": points, "tuned": tuned}
        out.append(runs)
    return out


@claim(
    id="growth.transformer-flops",
    source=f"{MIDAS}; Reddi et al. 2023 (gradual stacking); Gong et al. 2019 (progressive)",
    provenance="secondary",
    statement="on a transformer, gradual stacking, MIDAS and progressive stacking reach lower "
    "loss than full-depth training at equal training FLOPs",
    measurement="causal transformer, next-token loss on the mixture (corpus and primitive "
    "episodes), grown from 1 to 4 blocks with Prop-1 stages (progressive: 1, 2, 4) against the "
    "4-block baseline, same steps and learning rates: paired per-seed mean over 50%, 75% and "
    "100% of the baseline's FLOPs of log(L_grown(F) / L_baseline(F)) (t intervals; < 0: the "
    "grown model is ahead)",
    expect={name: AtMost(0.0) for name in GROWN},
    positive="planted: the per-seed log ratios shifted to mean log 0.8 (spread kept)",
    negative="planted: the per-seed log ratios shifted to mean log 1.25",
    figures=("transformer-growth",),
    group="growth.transformer-runs",
    minutes=18.0,
)
def _flops(scale, arm, rng):
    per_seed = growth_runs(scale)
    statistics, means = {}, {}
    for name in GROWN:
        ratios = np.array([
            log_loss_ratio(r[name]["run"], r["baseline"]["run"], r["baseline"]["run"].flops[-1])
            for r in per_seed
        ])  # fmt: skip
        means[name] = float(np.mean(ratios))
        if arm != "claim":
            ratios = planted_shift(ratios, np.log(0.8 if arm == "positive" else 1.25))
        statistics[name] = mean_interval(ratios)
    finals = {n: float(np.mean([r[n]["run"].losses[-1] for r in per_seed]))
              for n in ("baseline", *GROWN)}  # fmt: skip
    return Measurement(
        statistics,
        {"mean_log_ratio": means, "final_eval_loss_mean": finals},
        "final eval loss " + ", ".join(f"{k} {v:.3f}" for k, v in finals.items())
        + "; log(L_grown / L_baseline) at equal FLOPs "
        + ", ".join(f"{k} {e.text()}" for k, e in statistics.items()),
    )  # fmt: skip


def accuracy_at_loss(points, level: float) -> float:
    """Mean primitive accuracy interpolated at pretraining loss ``level`` along a run's
    checkpoints (``points``: (loss, {primitive: accuracy}) in training order)."""
    losses = np.array([loss for loss, _ in points])
    accuracies = np.array([np.mean(list(acc.values())) for _, acc in points])
    order = np.argsort(losses)
    return float(np.interp(level, losses[order], accuracies[order]))


@claim(
    id="growth.transformer-reasoning",
    source=f"{MIDAS} (stacking's inductive bias towards reasoning)",
    provenance="secondary",
    statement="at matched pretraining loss, a MIDAS-grown model is more accurate on reasoning "
    "primitives (induction copying, variable assignment at depths 0-2) than the full-depth "
    "baseline, with and without a short fine-tuning on each primitive",
    measurement="runs of growth.transformer-flops; per seed, the level L* = the larger of the two "
    "runs' final pretraining losses (both reach it); exact-match accuracy on held-out prompts "
    "(mean over the 4 primitives) interpolated at L* along each run's checkpoints: paired "
    "difference MIDAS - baseline ('matched loss', t interval); after fine-tuning each final "
    "model on each primitive: paired difference of accuracy ('fine-tuned', t interval; the "
    "final losses differ, see the table)",
    expect={"matched loss": AtLeast(0.0), "fine-tuned": AtLeast(0.0)},
    positive="planted: the paired differences shifted to mean +0.1 (spread kept)",
    negative="planted: the paired differences shifted to mean -0.1",
    figures=("transformer-reasoning",),
    group="growth.transformer-runs",
)
def _reasoning(scale, arm, rng):
    per_seed = growth_runs(scale)
    matched, tuned, table = [], [], []
    for r in per_seed:
        midas, base = r["midas"], r["baseline"]
        level = max(midas["run"].losses[-1], base["run"].losses[-1])
        matched.append(accuracy_at_loss(midas["isoplot"], level)
                       - accuracy_at_loss(base["isoplot"], level))  # fmt: skip
        tuned.append(np.mean(list(midas["tuned"].values())) - np.mean(list(base["tuned"].values())))
    for name in ("baseline", "midas"):
        row = {"model": name, "final loss": float(np.mean([r[name]["run"].losses[-1]
                                                           for r in per_seed]))}  # fmt: skip
        for p in text.PRIMITIVES:
            row[f"{p} (pretrained)"] = float(
                np.mean([r[name]["isoplot"][-1][1][p] for r in per_seed])
            )
            row[f"{p} (fine-tuned)"] = float(np.mean([r[name]["tuned"][p] for r in per_seed]))
        table.append(row)
    if arm != "claim":
        shift = 0.1 if arm == "positive" else -0.1
        matched, tuned = planted_shift(matched, shift), planted_shift(tuned, shift)
    statistics = {"matched loss": mean_interval(matched), "fine-tuned": mean_interval(tuned)}
    return Measurement(
        statistics,
        {"table": table},
        "accuracy MIDAS - baseline: " + ", ".join(f"{k} {e.text()}" for k, e in statistics.items())
        + "; final loss baseline {:.3f}, MIDAS {:.3f}".format(table[0]["final loss"],
                                                             table[1]["final loss"]),
    )  # fmt: skip


def copy_pair(index_maps) -> int:
    """Index j of the adjacent pair (j, j + 1) made by the last growth: a block and its copy."""
    last = list(index_maps[-1])
    for j in range(len(last) - 1):
        if last[j] == last[j + 1]:
            return j
    raise ValueError("the last growth made no adjacent copy")


@claim(
    id="growth.transformer-looped",
    source=f"{MIDAS} (grown models resemble looped, weight-shared ones)",
    provenance="secondary",
    statement="after MIDAS growth and training, the similarity of adjacent blocks' weights "
    "peaks at the pair the last growth made (a block and its copy)",
    measurement="runs of growth.transformer-flops: cosine similarity of adjacent blocks' (W1, "
    "W2); per seed the similarity of the copied pair minus the largest of the other adjacent "
    "pairs (t interval; > 0: the peak is at the copy)",
    expect={"copy pair - others": AtLeast(0.0)},
    positive="the trained MIDAS model with the copied block reset to its source (an exact copy)",
    negative="the trained MIDAS model with the copied block replaced by a fresh random block",
    figures=("transformer-similarity",),
    group="growth.transformer-runs",
)
def _transformer_looped(scale, arm, rng):
    per_seed = growth_runs(scale)
    gaps = []
    for r in per_seed:
        run = r["midas"]["run"]
        j = copy_pair(_midas_maps(len(run.depths)))
        layers = list(run.layers)
        if arm == "positive":  # the copied pair made identical: the copy exactly as made
            layers[j + 1] = layers[j]
        elif arm == "negative":  # the copy replaced by a fresh random block: no copy there
            vocab, width = run.params["tok"].shape
            fresh = transformer.init_params(vocab, width, 1, 1, seed=rng)
            layers[j + 1] = growth.TransformerFamily.model(fresh).layers[0]
        params = growth.TransformerFamily.params(growth.Model(run.model.shared, layers))
        profile = np.diag(block_similarity(params), 1)
        gaps.append(profile[j] - np.max(np.delete(profile, j)))
    statistics = {"copy pair - others": mean_interval(gaps)}
    return Measurement(
        statistics,
        {"gaps": np.round(gaps, 4).tolist()},
        f"adjacent similarity at the copied pair minus the largest other: {statistics['copy pair - others'].text()}",
    )


def _midas_maps(n_stages: int) -> list:
    """MIDAS's index maps growing one block to ``n_stages`` blocks."""
    return [growth.OPERATORS["midas"].index_map(n, 1) for n in range(1, n_stages)]


@figure(
    "transformer-stacking",
    "The stacking paper's Figure 2 at our scale: MLM eval loss of a bidirectional transformer "
    "trained in 4 stages (dotted lines: a block added), the new block initialised as a copy of "
    "the top block (beta 1 and 0.5), randomly, or as a zero block; median over seeds.",
)
def _figure_stacking(scale):
    from figures.transformer import plot_stages

    per_seed = stacking_runs(scale)
    first = per_seed[0]["copy"]
    curves = {n: (first.eval_steps, np.median([r[n].losses for r in per_seed], axis=0))
              for n in INITS}  # fmt: skip
    return plot_stages(curves, first.stage_starts[1:])


@figure(
    "transformer-growth",
    "Next-token eval loss against training FLOPs (full-depth steps) on the mixture corpus: the "
    "4-block baseline and gradual, MIDAS and progressive stacking grown from one block (first "
    "seed).",
)
def _figure_growth(scale):
    from figures.growth import plot_speed

    runs = growth_runs(scale)[0]
    return plot_speed({"transformer": {n: (runs[n]["run"].flops, runs[n]["run"].losses)
                                       for n in ("baseline", *GROWN)}},
                      {"transformer": "next-token eval loss (cross-entropy, nats)"})  # fmt: skip


@figure(
    "transformer-reasoning",
    "Reasoning isoplots: exact-match accuracy on held-out primitive prompts against pretraining "
    "loss over checkpoints (faint: one line per seed; bold: median over seeds, checkpoint by "
    "checkpoint), and after a short fine-tuning on each primitive (crosses, final models), "
    "baseline and MIDAS.",
)
def _figure_reasoning(scale):
    from figures.transformer import plot_isoplots

    per_seed = growth_runs(scale)
    return plot_isoplots(
        {name: [(r[name]["isoplot"], r[name]["run"].losses[-1], r[name]["tuned"]) for r in per_seed]
         for name in ("baseline", "midas")},
        text.PRIMITIVES,
    )  # fmt: skip


@figure(
    "transformer-similarity",
    "Cosine similarity between the transformer blocks' MLP weights (W1, W2) after training "
    "(first seed): baseline, gradual stacking, MIDAS.",
)
def _figure_similarity(scale):
    from figures.growth import plot_similarity

    runs = growth_runs(scale)[0]
    return plot_similarity({n: block_similarity(runs[n]["run"].params)
                            for n in ("baseline", "gradual", "midas")})  # fmt: skip
