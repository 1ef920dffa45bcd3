"""Claims on a small pre-LN transformer (``sims.families.transformer``; docs/theory.md section 6a): the
stacking paper's stacking-vs-random-init experiment (its Figure 2, at our scale), growth operators
at matched FLOPs, MIDAS's reasoning bias and the looped-model connection. The ids keep the
prefixes of the papers (``stacking``, ``growth``).

Everything here is at toy scale: width 16-32, up to 4 blocks. The stacking claims run on the
induction testbed (``sims.induction``), where depth provably matters (an induction circuit needs
two attention layers; ``stacking.transformer-corpus-depth`` measures it and is a precondition of
the Figure 2 analogue); the growth claims on a mixture of a synthetic corpus (typed Dyck
language), induction documents and synthetic primitives (``sims.text``). Sizes, schedules and thresholds are ours
(``reconstructed``), fixed before the runs. Experiments are cached per scale so claims and figures
share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from paper_checks.expect import AtLeast, AtMost, exact, lower_bounded_mean_interval, mean_interval
from paper_checks.measure import (
    NEVER_REACHED,
    REACH_POINTS,
    at_scales,
    log_flops_to_targets,
    planted_shift,
    seeds,
)
from paper_checks.registry import Control, Experiment, Measurement, Revision, claim, figure
from sims import growth, induction, text
from sims.families import transformer
from sims.families.transformer.growth import TransformerFamily
from sims.problems import independent_seeds
from theory import flops

STACKING = "Agarwal et al. 2024 (stacking as accelerated GD, arXiv 2403.04978), Figure 2"
MIDAS = "Saunshi et al. 2024 (MIDAS, arXiv 2409.19044)"
HEADS = 2
STAGES = 4
INITS = ("copy", "copy, beta 0.5", "random", "zero")  # how each new block starts (Figure 2)
INIT_OPERATORS = {"copy": ("gradual", 1.0), "copy, beta 0.5": ("gradual", 0.5),
                  "random": ("random", 1.0), "zero": ("zero", 1.0)}  # fmt: skip
GROWN = ("gradual", "midas", "progressive")


@dataclass(frozen=True)
class StackingSizes:
    """The Figure 2 analogue on the induction testbed: ``stages`` steps per stage (1 -> 4
    blocks, one block per stage); the first-stage study grows 1 -> 2 blocks after each of
    ``first_stages`` steps, then trains ``stages[1]`` steps (``curve_seeds`` seeds)."""

    testbed: induction.Testbed
    width: int
    stages: tuple[int, ...]
    first_stages: tuple[int, ...]
    seeds: int
    curve_seeds: int
    lr: float
    batch: int = 32
    train_rows: int = 2000
    eval_rows: int = 200

    @property
    def eval_every(self) -> int:
        return self.stages[0] // 5


@dataclass(frozen=True)
class Sizes:
    width: int
    context: int
    growth_steps: int  # growth at matched FLOPs: the baseline's steps
    finetune_steps: int
    seeds: int  # every model (growth.transformer-flops, -looped)
    eval_every: int
    lr: float = 3e-3
    batch: int = 16
    eval_rows: int = 200
    probes: int = 100  # held-out prompts per primitive
    reasoning_seeds: int = 0  # baseline and MIDAS only beyond ``seeds`` (the reasoning claim)

    @property
    def train_rows(self) -> int:
        """Pretraining rows: batch x 1.25x the baseline's steps, about what the longest runs draw
        (a grown schedule continued to the baseline's FLOPs: 1.25x its steps for gradual and
        MIDAS, 1.29x for progressive), so that a row is seen about once (one pass over fresh
        text, as in pretraining) and no model can overfit its rows."""
        return self.batch * (self.growth_steps + self.growth_steps // 4)


STACKING_SIZES = {
    "quick": StackingSizes(induction.Testbed(alphabet=10, length=25, shortest=3, longest=8), 16,
                           (100, 200, 100, 100), (0, 400), seeds=3, curve_seeds=1, lr=1e-2),
    "paper": StackingSizes(induction.Testbed(alphabet=31, length=65, shortest=8, longest=24), 32,
                           (250, 1250, 250, 250), (0, 250, 1000), seeds=4, curve_seeds=3, lr=3e-3),
}  # fmt: skip
SIZES = {
    "quick": Sizes(16, 20, 80, 15, seeds=3, eval_every=5, eval_rows=100, probes=50,
                   reasoning_seeds=3),
    "paper": Sizes(32, 32, 4800, 60, seeds=8, eval_every=200, batch=32, probes=400,
                   reasoning_seeds=46),
}  # fmt: skip
# Paper-scale reasoning ran on the 8 seeds of every model until issue 28's fourth round: with a
# spread of about 0.15 over seeds the planted +0.1 control could not be resolved (mis-posed); a
# standalone run of 18 seeds resolved it, so the reasoning claim had 10 more (baseline and MIDAS).
MORE_SEEDS = ("18 seeds at paper scale (was 8; quick scale unchanged): the 10 added train only the "
              "baseline and MIDAS. With 8 the spread of the matched-loss difference over seeds "
              "(sd about 0.14) left the planted +0.1 control inconclusive, so the verdict was "
              "mis-posed; a power calculation from that spread asked for about 18 (issue 28)")  # fmt: skip
# The reasoning claim ran on 18 paper seeds until issue 28's eleventh round: on fresh rows its
# fine-tuned difference straddled 0, and the power calculation asked for 43.
POWERED = ("46 seeds at paper scale (was 18; quick scale unchanged): the 28 added again train only "
           "the baseline and MIDAS, and the first 18 are the same seeds as before. On fresh rows "
           "(revision 6) the fine-tuned difference, +0.0665 [-0.0048, 0.138] with a spread over "
           "seeds of sd about 0.14, straddled 0; a power calculation (80% power to exclude 0 at "
           "95% confidence, normal approximation) asked for 43 seeds, and 46 allow for the t "
           "quantile (2.01 against 1.96, about 6% more seeds) (issue 28)")  # fmt: skip
# The fine-tuning ran at the pretraining's peak rate until issue 28's thirteenth round.
GENTLE = ("each final model is fine-tuned at the pretraining's final learning rate (peak / 10, the "
          "rate the equal-FLOPs continuations use), was the peak rate 3e-3 constant: with fresh "
          "Adam moments the peak rate made the fine-tuning a restart that the models had to "
          "withstand, and the baseline's induction accuracy fell from 0.808 to 0.717 under it (46 "
          "seeds, issue 28, eleventh round); fixed before its run, bands unchanged")  # fmt: skip
# Paper-scale pretraining was 600 steps at batch 16 with 100 probes per primitive until issue 28's
# third round: too short for the four-block baseline to form the induction circuit (its accuracy
# 0.040). At 4800 steps of batch 32 it forms on every seed we tried (0.50-0.77 on 4 seeds).
LONGER = ("paper scale pretrains 4800 steps at batch 32 (was 600 at batch 16), evaluated every "
          "200 steps, with 400 held-out prompts per primitive (was 100): long enough for the "
          "four-block baseline to form the induction circuit (issue 28); quick scale unchanged")  # fmt: skip
THRESHOLD = 0.5  # nats on the counted positions: below every one-block plateau we measured
NOISE = 3.0  # the negative control's noise, in units of each array's root mean square
REFERENCES = ("1 block", "4 blocks")  # trained from scratch as long as the growth
ORACLE_CONFIDENCE = 0.99  # the depth claim's positive control: the induction head's predictor
# Every transformer here trains and is evaluated in float32 (issue 31): 1.5x faster at paper scale,
# and float32 and float64 training agree to float32 round-off (tests/sims/test_transformer.py), far
# below the spread over seeds that decides these claims. The float64 records are in claims-history.
DTYPE = "float32"
# Pretraining drew its batches from 2000 rows until issue 28's ninth round: at paper scale each was
# seen about 77 times, and the grown models overfit them (seed 2: gradual stacking's training loss
# 1.42 -> 1.06 while its held-out loss rose 1.55 -> 1.82 over the continuation to equal FLOPs).
FRESH = ("pretraining draws from as many rows as the longest run needs (a row seen about once: "
         f"{SIZES['paper'].train_rows} at paper scale, was 2000, each seen about 77 times; "
         f"quick scale {SIZES['quick'].train_rows}, was 500), so that no model can overfit its rows (issue 28, ninth round: "
         "gradual stacking overfit the 2000 rows during the continuation to equal FLOPs)")  # fmt: skip
FLOAT32 = (
    "trained and evaluated in float32, not float64 (issue 31: 1.5x faster at paper "
    "scale; the float64 numbers of the previous revision are in docs/claims-history.md)"
)


def _family(data, eval_data, heads, causal, objective, batch, eval_every, checkpoint_every=0):
    return TransformerFamily(
        data, eval_data, heads=heads, causal=causal, objective=objective, batch_size=batch,
        eval_every=eval_every, checkpoint_every=checkpoint_every, dtype=DTYPE,
    )  # fmt: skip


def _start(vocab, width, depth, context, seed):
    params = transformer.init_params(vocab, width, depth, context, seed=seed)
    return TransformerFamily.model(params)


def loss_at(run, step: int) -> float:
    """A run's eval loss after ``step`` steps (at a growth: the one right before it)."""
    return float(run.losses[np.flatnonzero(run.eval_steps == step)[0]])


def _stacking_seed(scale: str, index: int) -> dict:
    """Seed ``index`` of ``stacking_runs``: on the induction testbed (next-token loss on the counted positions): causal
    models trained in 4 stages, one block added per stage, the new block a copy of the top
    block (beta 1 and 0.5: its output projections scaled), random, zero (function-preserving),
    or a copy plus noise of ``NOISE`` times each array's RMS (the negative control); models of
    1 and 4 blocks trained from scratch as long (and a second one-block model from another
    initialisation, the depth claim's negative control); the induction head's loss on the eval
    documents (``sims.induction.oracle_loss``, its positive control); and, on the first
    ``curve_seeds`` seeds, the first-stage study: 1 -> 2 blocks by copy or random after each of
    ``first_stages`` steps."""
    sizes = STACKING_SIZES[scale]
    bed = sizes.testbed
    seed = seeds(sizes.seeds, "stacking.transformer-runs")[index]
    data_seed, init_seed, train_seed, second_init = independent_seeds(seed, 4)
    rng = np.random.default_rng(data_seed)
    data, eval_data = bed.documents(rng, sizes.train_rows), bed.documents(rng, sizes.eval_rows)

    run = partial(_induction_run, sizes, (data, eval_data), init_seed=init_seed,
                  train_seed=train_seed)  # fmt: skip
    runs = {name: run(1, operator, sizes.stages, beta)
            for name, (operator, beta) in INIT_OPERATORS.items()}  # fmt: skip
    runs["copy + noise"] = run(1, "copy_noise", sizes.stages, noise=NOISE)
    for name in REFERENCES:
        runs[name] = run(int(name[0]), None, [sum(sizes.stages)])
    runs["1 block, second init"] = run(1, None, [sum(sizes.stages)], init_seed=second_init)
    runs["oracle"] = induction.oracle_loss(eval_data, bed.vocab, ORACLE_CONFIDENCE)
    if index < sizes.curve_seeds:
        runs["first stage"] = {
            (first, name): run(1, operator, [first, sizes.stages[1]]).losses[-1]
            for first in sizes.first_stages
            for name, operator in (("copy", "gradual"), ("random", "random"))
        }  # fmt: skip
    return runs


stacking_runs = Experiment(
    "stacking.transformer-runs", lambda scale: STACKING_SIZES[scale].seeds, _stacking_seed
)


def _induction_run(sizes, data, depth, operator, stages, beta=1.0, noise=0.1, *, init_seed,
                   train_seed):  # fmt: skip
    """One run of ``stacking_runs`` on ``data`` = (training, eval) documents."""
    family = _family(*data, HEADS, True, "next", sizes.batch, sizes.eval_every)
    start = _start(sizes.testbed.vocab, sizes.width, depth, sizes.testbed.length - 1, init_seed)
    return growth.train_grown(
        family,
        start,
        operator,
        list(stages),
        beta=beta,
        noise=noise,
        lr=sizes.lr,
        warmup=sizes.stages[0] // 4,
        seed=train_seed,
    )


def _stage_ends(scale) -> np.ndarray:
    """Steps at which stages 1-4 end."""
    return np.cumsum(STACKING_SIZES[scale].stages)


def _depth_ratios(per_seed, deep="4 blocks") -> np.ndarray:
    """Per seed log(L_1 block / L_deep) of the final eval loss (``oracle``: the induction head's
    loss)."""
    return np.array([np.log(r["1 block"].losses[-1]
                            / (r[deep] if deep == "oracle" else r[deep].losses[-1]))
                     for r in per_seed])  # fmt: skip


DEPTH_BAND = AtLeast(1.0)  # four blocks beat one by at least e (the depth claim, a precondition)
TESTBED = ("causal pre-LN transformer in float32 on the induction testbed (sims.induction: <bos> "
           "and a segment of distinct tokens repeated; next-token loss on the positions an "
           "induction head determines)")  # fmt: skip


@claim(
    id="stacking.transformer-corpus-depth",
    source="our testbed (issue 28): the positive control that the task needs depth",
    provenance="reconstructed",
    statement="on the induction testbed, a four-block transformer reaches a next-token loss at "
    "least e times lower (log ratio >= 1) than a one-block transformer trained as long: the "
    "testbed needs depth (an induction circuit takes two attention layers)",
    measurement=f"{TESTBED}: paired per-seed log(L_1 block / L_4 blocks) of the final eval "
    "loss (t interval)",
    expect={"log ratio": DEPTH_BAND},
    positive=Control(
        f"the induction head's own predictor (probability {ORACLE_CONFIDENCE} on its "
        "answer, sims.induction.oracle_loss), scored on the same eval documents, in "
        "place of four blocks: a model with the circuit by construction",
        deep="oracle",
    ),
    negative=Control(
        "a second one-block model (another initialisation) in place of four blocks",
        deep="1 block, second init",
    ),
    group="stacking.transformer-runs",
    revisions=(
        Revision(
            2,
            "the corpus is now the induction testbed, not the typed Dyck corpus "
            "(MLM), on which one block beat four (revision 1 refuted at paper "
            "scale: log ratio -0.040 [-0.070, -0.011]); the band is log ratio >= 1, "
            "not >= 0.05; the controls are measured (the induction head's predictor; "
            "a second one-block model), not planted",
        ),
        Revision(3, FLOAT32),
    ),
)
def _corpus_depth(scale, *, deep="4 blocks"):
    """``deep``: the model whose loss is compared with one block's."""
    per_seed = stacking_runs(scale)
    ratios = _depth_ratios(per_seed, deep)
    statistics = {"log ratio": mean_interval(ratios)}
    finals = {k: float(np.mean([r[k].losses[-1] for r in per_seed]))
              for k in (*REFERENCES, "1 block, second init")}  # fmt: skip
    finals["induction head"] = float(np.mean([r["oracle"] for r in per_seed]))
    return Measurement(
        statistics,
        {"final_eval_loss_mean": finals, "log_ratios": ratios.round(4).tolist()},
        "mean final loss: " + ", ".join(f"{k} {v:.3f}" for k, v in finals.items())
        + f"; log(L_1 / L_4) {statistics['log ratio'].text()}",
    )  # fmt: skip


@claim(
    id="stacking.transformer-vs-random",
    source=STACKING,
    provenance="paper",
    statement="in stagewise training (4 stages, one block added per stage), initialising the "
    "new block as a copy of the top block (stacking) gives lower loss than random "
    "initialisation after every stage boundary and at the end",
    measurement=f"{TESTBED}, 1 -> 4 blocks: paired per-seed log(L_random / L_copy) of the eval "
    "loss at the end of stages 2, 3 and 4 (t intervals; > 0: stacking ahead); preconditions on "
    "the same runs: four blocks from scratch beat one by log ratio >= 1 ('depth log ratio'), "
    "and growth with zero blocks ends clearly below a one-block model trained as long "
    "('growth used depth': log(L_1 block / L_zero) >= log(1/0.95), i.e. >= 5%)",
    expect={f"stage {s}": AtLeast(0.0) for s in (2, 3, 4)},
    requires={"depth log ratio": DEPTH_BAND, "growth used depth": AtLeast(float(np.log(1 / 0.95)))},
    positive=Control(
        "the four-block model trained from scratch (all its depth from the start) in "
        "place of the copy, at the same steps",
        against="4 blocks",
    ),
    negative=Control(
        f"a copy plus Gaussian noise of {NOISE:g} times each array's RMS (a broken "
        "initialisation) in place of the copy",
        against="copy + noise",
    ),
    figures=("transformer-stacking", "transformer-first-stage"),
    group="stacking.transformer-runs",
    minutes=30.0,
    revisions=(
        Revision(
            2,
            "the testbed is the induction task (next-token, causal), not MLM on "
            "the typed Dyck corpus, where one block beat four so growth could not "
            "show anything (revision 1 refuted at paper scale: +0.002, -0.016, "
            "-0.015); the precondition arms are new (mis-posed when either fails); "
            "the controls are measured (four blocks from scratch; a noisy copy), "
            "not planted shifts of +-0.1",
        ),
        Revision(3, FLOAT32),
    ),
)
def _vs_random(scale, *, against="copy"):
    """``against``: the model whose stage-end losses the random block's are divided by."""
    per_seed = stacking_runs(scale)
    ends = _stage_ends(scale)
    inits = (*INITS, "copy + noise", *REFERENCES)
    loss = {n: np.array([[loss_at(r[n], e) for e in ends] for r in per_seed]) for n in inits}
    ratios = np.log(loss["random"] / loss[against])
    statistics = {f"stage {s}": mean_interval(ratios[:, s - 1]) for s in (2, 3, 4)}
    statistics["depth log ratio"] = mean_interval(_depth_ratios(per_seed))
    statistics["growth used depth"] = mean_interval(
        np.log(loss["1 block"][:, -1] / loss["zero"][:, -1])
    )
    reach = {n: np.array([r[n].steps_to(THRESHOLD, relative=False) for r in per_seed])
             for n in inits}  # fmt: skip
    table = [{"init": n, **{f"stage {s}": float(np.mean(loss[n][:, s - 1])) for s in range(1, 5)},
              f"steps to {THRESHOLD:g} (median)": float(np.median(reach[n])),
              "reached": f"{int(np.sum(np.isfinite(reach[n])))}/{len(per_seed)}"}
             for n in inits]  # fmt: skip
    versus_copy = {n: {f"stage {s}": mean_interval(np.log(loss[n][:, s - 1] / loss["copy"][:, s - 1])).text()
                       for s in (2, 3, 4)} for n in inits if n != "copy"}  # fmt: skip
    return Measurement(
        statistics,
        {"table": table, "log_ratio_over_copy": versus_copy,
         "first_stage": _first_stage_table(scale, per_seed)},
        "mean eval loss at the end of stages 1-4: "
        + "; ".join(f"{row['init']} " + ", ".join(f"{row[f'stage {s}']:.3f}" for s in range(1, 5))
                    for row in table[:4])
        + f"; log(L_random / L_{against}) "
        + ", ".join(f"{k} {e.text()}" for k, e in statistics.items()),
    )  # fmt: skip


def _first_stage_table(scale, per_seed) -> list[dict]:
    """Per first-stage length: mean final loss of 1 -> 2 growth by copy and by random, and the
    per-seed log(L_random / L_copy) with its t interval."""
    rows = []
    curves = [r["first stage"] for r in per_seed if "first stage" in r]
    for first in STACKING_SIZES[scale].first_stages:
        copy = np.array([c[(first, "copy")] for c in curves])
        random = np.array([c[(first, "random")] for c in curves])
        rows.append({"first stage steps": first, "copy": float(np.mean(copy)),
                     "random": float(np.mean(random)),
                     "log(L_random / L_copy)": mean_interval(np.log(random / copy)).text()})  # fmt: skip
    return rows


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
    positive=Control(
        "the loss before each growth in place of the loss after it for the zero "
        "block (no change by construction), and the random block's change in place "
        "of the copy's (a fresh random block changes the function)",
        unchanged=True,
        copy_block="random",
    ),
    negative=Control(
        "the random block's change in place of the zero block's, and the zero "
        "block's in place of the copy's",
        zero_block="random",
        copy_block="zero",
    ),
    group="stacking.transformer-runs",
    revisions=(
        Revision(2, FLOAT32),
        Revision(
            3,
            "measured controls for the copy: the positive takes the random block's "
            "change in place of the copy's (was: planted at 1, while the control was "
            "labelled measured), the negative the zero block's (was: planted at 0); the "
            "claim arm is unchanged",
        ),
    ),
    must_hold=True,
)
def _zero_block(scale, *, zero_block="zero", copy_block="copy", unchanged=False):
    """The largest loss change at a growth of the ``zero_block`` and ``copy_block`` runs;
    ``unchanged``: the zero block's loss before each growth in place of the loss after it."""
    per_seed = stacking_runs(scale)

    def change(name, unchanged=False):
        runs = [r[name] for r in per_seed]
        after = [_before_growth(r) if unchanged else _after_growth(r) for r in runs]
        return float(
            max(np.max(np.abs(a - _before_growth(r))) for a, r in zip(after, runs, strict=True))
        )

    zero = change(zero_block, unchanged)
    copy = change(copy_block)
    statistics = {"zero change": exact(zero, len(per_seed)), "copy change": exact(copy)}
    return Measurement(
        statistics,
        {"zero_change": zero, "copy_change": copy},
        f"largest loss change at a growth: zero block {zero:.2e}, copy {copy:.2e}",
    )


def accuracy(params, probes) -> float:
    """Exact-match accuracy: the argmax next token after each prompt against its answer."""
    batches, answers = probes
    inputs = batches.tokens[:, :-1]
    at = batches.weights.argmax(axis=1)
    scores = transformer.logits(params, inputs, heads=HEADS, causal=True, dtype=DTYPE)
    return float(np.mean(scores[np.arange(len(answers)), at].argmax(axis=1) == answers))


def _growth_seed(scale: str, index: int) -> dict:
    """Seed ``index`` of ``growth_runs``: a causal model trained with next-token loss on the
    mixture (corpus and primitive episodes): full depth (4 blocks) against gradual, MIDAS and progressive stacking
    grown from one block with Prop-1 stages over the same steps; for the baseline and MIDAS,
    checkpoints for the isoplots, held-out primitive prompts and a short fine-tuning on each
    primitive at the end, at the pretraining's final learning rate (peak / 10) with fresh Adam
    moments. The first ``seeds`` seeds train every model; the ones after, up to
    ``reasoning_seeds``, the baseline and MIDAS only."""
    sizes = SIZES[scale]
    seed = seeds(sizes.reasoning_seeds, "growth.transformer-runs")[index]
    data_seed, init_seed, train_seed, probe_seed, more_seed = independent_seeds(seed, 5)
    rng = np.random.default_rng(data_seed)
    length = sizes.context + 1
    data, eval_data = text.mixture(rng, sizes.train_rows, length), text.mixture(
        rng, sizes.eval_rows, length)  # fmt: skip
    probe_rng = np.random.default_rng(probe_seed)
    probes = {p: text.primitive_set(probe_rng, p, sizes.probes, length) for p in text.PRIMITIVES}
    tune = {p: text.primitive_set(probe_rng, p, 4 * sizes.probes, length)[0]
            for p in text.PRIMITIVES}  # fmt: skip
    final_lr = growth.learning_rates(sizes.growth_steps, sizes.lr)[-1]  # pretraining's last rate
    runs = {}
    for name in ("baseline", *GROWN) if index < sizes.seeds else ("baseline", "midas"):
        start = partial(_start, text.VOCAB, sizes.width, context=sizes.context, seed=init_seed)
        family = _family(data, eval_data, HEADS, True, "next", sizes.batch, sizes.eval_every,
                         checkpoint_every=max(sizes.growth_steps // 8, 1))  # fmt: skip
        if name == "baseline":
            run = growth.train_grown(family, start(STAGES), None,
                                     [sizes.growth_steps], lr=sizes.lr, seed=train_seed)  # fmt: skip
        else:
            n_stages = 3 if name == "progressive" else STAGES
            run = growth.train_grown(
                family, start(1), name,
                growth.prop_alpha(sizes.growth_steps, n_stages, 1.0), lr=sizes.lr,
                seed=train_seed,
            )  # fmt: skip
        runs[name] = {"run": run}
        if name in GROWN and index < sizes.seeds:  # on to the baseline's FLOPs
            more = round(runs["baseline"]["run"].flops[-1] - run.flops[-1])
            runs[name]["equal_flops"] = growth.continued(
                _family(data, eval_data, HEADS, True, "next", sizes.batch, sizes.eval_every),
                run, more, lr=final_lr, seed=more_seed,
            )  # fmt: skip
        if name not in ("baseline", "midas"):
            continue
        points = []
        for _, params in family.checkpoints:
            loss = transformer.evaluation(params, eval_data, heads=HEADS, causal=True,
                                          dtype=DTYPE)(params)  # fmt: skip
            points.append((loss, {p: accuracy(params, probes[p]) for p in text.PRIMITIVES}))
        tuned = {}
        for p in text.PRIMITIVES:
            result = transformer.train(run.params, tune[p], sizes.finetune_steps, heads=HEADS,
                                       causal=True, lr=final_lr, seed=train_seed,
                                       dtype=DTYPE)  # fmt: skip
            tuned[p] = accuracy(result.params, probes[p])
        runs[name] |= {"isoplot": points, "tuned": tuned}
    return runs


growth_runs = Experiment(
    "growth.transformer-runs", lambda scale: SIZES[scale].reasoning_seeds, _growth_seed
)


SLOWER = 2.5  # the negative control's FLOPs factor: it misses the 50% target within the budget


def _target(name: str, fraction: float) -> str:
    """The statistic of grown model ``name`` at the target set at ``fraction`` of the budget."""
    return f"{name}, {fraction:.0%} target"


def _grown_flops(depths) -> float:
    """A grown model's FLOPs over the baseline's at paper scale: stage depths ``depths``, Prop-1
    stage lengths (``theory.flops.stacking_relative_flops``)."""
    stages = growth.prop_alpha(SIZES["paper"].growth_steps, len(depths), 1.0)
    return flops.stacking_relative_flops(depths, stages / stages.sum())


@claim(
    id="growth.transformer-flops",
    source=f"{MIDAS}; Reddi et al. 2023 (gradual stacking); Gong et al. 2019 (progressive)",
    provenance="secondary",
    statement="on a transformer, gradual stacking, MIDAS and progressive stacking reach lower "
    "loss than full-depth training at equal training FLOPs",
    measurement="causal transformer in float32, next-token loss on the mixture (corpus and primitive "
    "episodes), grown from 1 to 4 blocks with Prop-1 stages (progressive: 1, 2, 4) against the "
    "4-block baseline, same steps and learning rates (so the grown models spend "
    + " and ".join(f"{_grown_flops(depths):.2f}x" for depths in ((1, 2, 3, 4), (1, 2, 4)))
    + " the baseline's FLOPs), then each grown model trained on at full depth and the "
    "schedule's final learning rate to the baseline's FLOPs (equal FLOPs); pretraining rows "
    "fresh (a row seen about once): per seed, the targets L* = the baseline's loss at "
    + " and ".join(f"{f:.0%}" for f in REACH_POINTS)
    + " of its FLOPs, and per target log(F_grown(L*) / F_baseline(L*)), F(L*) the FLOPs at a "
    "run's first evaluation at or below L* (the paper's 'the same loss with fewer FLOPs'; "
    + NEVER_REACHED
    + "); t intervals over seeds, one band per grown model and target (< 0: "
    "the grown model is faster)",
    expect={_target(name, f): AtMost(0.0) for name in GROWN for f in REACH_POINTS},
    positive=Control(
        "per seed, the baseline's own loss curve reached with 40% fewer FLOPs (L(F) = "
        "L_baseline(F / 0.6)) in place of each grown model's: a method 1.67x as fast, whose "
        "statistic is log 0.6 on every seed (it tests the statistic on these curves, not the "
        "spread, which is the claim arm's own)",
        grown_as_baseline=0.6,
    ),
    negative=Control(
        f"per seed, the baseline's own loss curve needing {SLOWER:g}x its FLOPs (L(F) = "
        f"L_baseline(F / {SLOWER:g})), stopped at the baseline's FLOPs as the grown models are, in "
        f"place of each grown model's: log {SLOWER:g} at the 25% target on every seed; the 50% "
        f"target it would reach only at {SLOWER * 0.5:.0%} of the budget, so it misses it and "
        "that target's interval is the one-sided lower bound",
        grown_as_baseline=SLOWER,
    ),
    figures=("transformer-growth",),
    group="growth.transformer-runs",
    revisions=(
        Revision(2, FLOAT32),
        Revision(3, LONGER),
        Revision(
            4,
            "measured controls (were planted: the per-seed log ratios shifted to mean log 0.8 "
            "and log 1.25): each grown model's curve replaced by the baseline's own, reached "
            "with 40% fewer (positive) or needing 40% more (negative) FLOPs, as growth.speed's "
            "controls; the claim arm is unchanged",
        ),
        Revision(
            5,
            "statistic: the log FLOPs ratio to reach the baseline's loss at 25% and 50% of its "
            "FLOPs (was the log loss ratio at equal FLOPs at 50%, 75% and 100%). At paper scale "
            "the baseline's curve is nearly flat over its second half, so a method 1.67x as fast "
            "moved the loss ratio by only about 0.02 and revision 4's positive control came out "
            "inconclusive (mis-posed); a FLOPs ratio reads a speed factor off a flat curve. A "
            "target a grown run never reaches makes its ratio infinite (a first version counted "
            "the run's whole budget, a lower bound, and averaged it in: see claims-history)",
        ),
        Revision(
            6,
            "a target never reached is counted at the grown run's final FLOPs again, a lower "
            "bound, but a mean with such seeds now gets a one-sided interval [low, inf) "
            "(expect.lower_bounded_mean_interval), which can refute 'faster' and never support "
            "it (revision 5's first version gave such means a two-sided t interval, and could "
            "support; revision 5 made them infinite, undecided). Targets, band and controls "
            "are unchanged",
        ),
        Revision(
            7,
            "each grown model is trained on after its schedule, at full depth and the schedule's "
            "final learning rate, to the baseline's FLOPs: the statement compares methods at "
            "equal FLOPs, while revisions 2-6 stopped the grown models at the baseline's step "
            "count (0.75x and 0.80x its FLOPs). At paper scale 5 of 8 seeds' grown runs had not "
            "reached the baseline's 50%-budget loss by then, so their ratios were lower bounds "
            "below 0 and revision 6 was inconclusive. The scheduled runs, which the reasoning "
            "and similarity claims use, are unchanged (the continuation is a separate run from "
            "their final model and Adam state, sims.growth.continued); targets, band and "
            "controls are unchanged",
        ),
        Revision(
            8,
            "one band per grown model and target (was one per model on the mean over the two "
            "targets, which let revision 7's early gain at the 25% target hide its miss of the "
            "50% target); "
            + FRESH
            + f"; the negative control needs {SLOWER:g}x the FLOPs and stops at "
            "the budget (was 1.4x, unstopped, which reached every target), so that it exercises "
            "the one-sided interval of a missed target; the positive control is unchanged. Fixed "
            "before the run",
        ),
    ),
    minutes=142.0,
)
def _flops(scale, *, grown_as_baseline=None):
    """``grown_as_baseline``: each grown model's curve replaced by the baseline's own with its
    FLOPs multiplied by this factor and stopped at the baseline's FLOPs (``growth.rescaled``)."""
    per_seed = growth_runs(scale)[: SIZES[scale].seeds]
    statistics, per_target, missed = {}, {}, {}
    for name in GROWN:
        pairs = []
        for r in per_seed:
            baseline = r["baseline"]["run"]
            budget = baseline.flops[-1]
            curve = (r[name]["equal_flops"] if grown_as_baseline is None
                     else growth.rescaled(baseline, grown_as_baseline, budget))  # fmt: skip
            pairs.append(log_flops_to_targets(curve, baseline, budget))
        logs = np.array([p[0] for p in pairs])  # (seeds, targets)
        flags = np.array([p[1] for p in pairs])
        for j, f in enumerate(REACH_POINTS):
            key = _target(name, f)
            per_target[key] = logs[:, j].round(4).tolist()
            missed[key] = int(flags[:, j].sum())
            statistics[key] = lower_bounded_mean_interval(logs[:, j], flags[:, j])
    finals = {"baseline": float(np.mean([r["baseline"]["run"].losses[-1] for r in per_seed]))}
    finals |= {n: float(np.mean([r[n]["equal_flops"].losses[-1] for r in per_seed]))
               for n in GROWN}  # fmt: skip
    return Measurement(
        statistics,
        {"per_seed_log_flops_ratio": per_target, "seeds_missing_the_target": missed,
         "final_eval_loss_mean": finals},
        "final eval loss at equal FLOPs " + ", ".join(f"{k} {v:.3f}" for k, v in finals.items())
        + "; log(F_grown / F_baseline) to the baseline's loss at "
        + ", ".join(f"{k} {e.text()} ({missed[k]} of {len(per_seed)} seeds missed it)"
                    for k, e in statistics.items()),
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
    measurement="runs of growth.transformer-flops, baseline and MIDAS, on "
    f"{at_scales({s: z.reasoning_seeds for s, z in SIZES.items()}, ' seeds')}; per seed, the "
    "level L* = the larger of the two "
    "runs' final pretraining losses (both reach it); exact-match accuracy on held-out prompts "
    "(mean over the 4 primitives) interpolated at L* along each run's checkpoints: paired "
    "difference MIDAS - baseline ('matched loss', t interval); after fine-tuning each final "
    "model on each primitive: paired difference of accuracy ('fine-tuned', t interval; the "
    "final losses differ, see the table); precondition: the baseline's final exact-match "
    "accuracy on held-out induction prompts is at least 0.5 (chance about 0.1), i.e. it formed "
    "the circuit (the mixture holds a quarter of induction documents for that)",
    revisions=(
        Revision(
            2,
            "a quarter of the pretraining mixture is now induction documents "
            "(sims.induction), so that the baseline can form the circuit; the "
            "precondition on the baseline's induction accuracy is new (revision 1 "
            "was inconclusive at paper scale with primitives near chance)",
        ),
        Revision(3, FLOAT32),
        Revision(4, LONGER),
        Revision(5, MORE_SEEDS),
        Revision(6, FRESH),
        Revision(7, POWERED),
        Revision(8, GENTLE),
    ),
    expect={"matched loss": AtLeast(0.0), "fine-tuned": AtLeast(0.0)},
    requires={"baseline induction accuracy": AtLeast(0.5)},
    positive=Control(
        "planted: the paired differences shifted to mean +0.1 (spread kept)", planted_mean=0.1
    ),
    negative=Control("planted: the paired differences shifted to mean -0.1", planted_mean=-0.1),
    why_planted="no pretraining method is known to add (or remove) 0.1 accuracy on the primitives at matched loss; the precondition (the baseline forms the induction circuit) is decided first and is measured",
    figures=("transformer-reasoning",),
    group="growth.transformer-runs",
)
def _reasoning(scale, *, planted_mean=None):
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
    if planted_mean is not None:
        matched, tuned = planted_shift(matched, planted_mean), planted_shift(tuned, planted_mean)
    statistics = {"matched loss": mean_interval(matched), "fine-tuned": mean_interval(tuned),
                  "baseline induction accuracy": mean_interval(
                      [r["baseline"]["isoplot"][-1][1]["induction"] for r in per_seed])}  # fmt: skip
    return Measurement(
        statistics,
        {"table": table},
        "accuracy MIDAS - baseline: " + ", ".join(f"{k} {e.text()}" for k, e in statistics.items())
        + "; final loss baseline {:.3f}, MIDAS {:.3f}".format(table[0]["final loss"],
                                                             table[1]["final loss"]),
    )  # fmt: skip


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
    positive=Control(
        "the trained MIDAS model with the copied block reset to its source (an exact copy)",
        copied_block="reset to its source",
    ),
    negative=Control(
        "the trained MIDAS model with the copied block replaced by a fresh random block",
        copied_block="fresh random",
    ),
    figures=("transformer-similarity",),
    revisions=(Revision(2, FLOAT32), Revision(3, LONGER), Revision(4, FRESH)),
    group="growth.transformer-runs",
)
def _transformer_looped(scale, *, rng, copied_block="trained"):
    per_seed = growth_runs(scale)[: SIZES[scale].seeds]
    gaps = []
    for r in per_seed:
        run = r["midas"]["run"]
        j = growth.copy_pair(growth.grown_maps("midas", len(run.depths)))
        layers = list(run.layers)
        if copied_block == "reset to its source":  # the copied pair identical: the copy as made
            layers[j + 1] = layers[j]
        elif copied_block == "fresh random":  # no copy there
            vocab, width = run.params["tok"].shape
            fresh = transformer.init_params(vocab, width, 1, 1, seed=rng)
            layers[j + 1] = TransformerFamily.model(fresh).layers[0]
        params = TransformerFamily.params(growth.Model(run.model.shared, layers))
        profile = np.diag(growth.block_similarity(params), 1)
        gaps.append(profile[j] - np.max(np.delete(profile, j)))
    statistics = {"copy pair - others": mean_interval(gaps)}
    return Measurement(
        statistics,
        {"gaps": np.round(gaps, 4).tolist()},
        f"adjacent similarity at the copied pair minus the largest other: {statistics['copy pair - others'].text()}",
    )


@figure(
    "transformer-stacking",
    "The stacking paper's Figure 2 at our scale, on the induction testbed: next-token eval loss "
    "on the counted positions of a causal transformer trained in 4 stages (dotted lines: a block "
    "added), the new block a copy of the top block (beta 1 and 0.5), random, zero, or a copy "
    "plus large noise (the negative control); grey: 1, 2 and 4 blocks trained from scratch as "
    "long; median over seeds, log scale.",
)
def _figure_stacking(scale):
    from figures.transformer import plot_stages

    per_seed = stacking_runs(scale)
    first = per_seed[0]["copy"]
    names = (*INITS, "copy + noise")
    curves = {n: (first.eval_steps, np.median([r[n].losses for r in per_seed], axis=0))
              for n in names}  # fmt: skip
    scratch = per_seed[0]["1 block"]
    references = {n: (scratch.eval_steps, np.median([r[n].losses for r in per_seed], axis=0))
                  for n in REFERENCES}  # fmt: skip
    return plot_stages(
        curves,
        first.stage_starts[1:],
        "eval loss (nats, counted positions)",
        references=references,
        log=True,
    )


@figure(
    "transformer-first-stage",
    "How long the first stage trains before the 1 -> 2 growth, and what the copy then does "
    "against a random block: final eval loss after the second stage (faint: one seed each; "
    "bold: median), induction testbed.",
)
def _figure_first_stage(scale):
    from figures.transformer import plot_first_stage

    curves = [r["first stage"] for r in stacking_runs(scale) if "first stage" in r]
    firsts = STACKING_SIZES[scale].first_stages
    finals = {name: np.array([[c[(f, name)] for f in firsts] for c in curves])
              for name in ("copy", "random")}  # fmt: skip
    return plot_first_stage(firsts, finals)


@figure(
    "transformer-growth",
    "Next-token eval loss against training FLOPs (full-depth steps) on the mixture corpus: the "
    "4-block baseline and gradual, MIDAS and progressive stacking grown from one block, each "
    "trained on after its schedule to the baseline's FLOPs (first seed).",
)
def _figure_growth(scale):
    from figures.growth import plot_speed

    runs = growth_runs(scale)[0]
    curves = {"baseline": runs["baseline"]["run"]} | {n: runs[n]["equal_flops"] for n in GROWN}
    return plot_speed({"transformer": {n: (c.flops, c.losses) for n, c in curves.items()}},
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
    return plot_similarity({n: growth.block_similarity(runs[n]["run"].params)
                            for n in ("baseline", "gradual", "midas")})  # fmt: skip
