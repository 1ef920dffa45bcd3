"""Claims of "Efficient Stagewise Pretraining via Progressive Subnetworks" (RaPTr; Panigrahi et
al., arXiv 2402.05913) at CPU scale (docs/theory.md §5).

Only the abstract, the figure captions and summaries are available to us: the toy task's exact
formula, the network sizes and the thresholds below are the project's choices (`reconstructed`),
fixed before the runs. Experiments are cached per scale so that claims and figures share them.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
from scipy.stats import spearmanr

from paper_checks.expect import AtLeast, AtMost, Between, exact, mean_interval
from paper_checks.measure import at_scales, fitted_slope, seeds, tail_median
from paper_checks.registry import Control, Experiment, Measurement, Revision, claim, figure
from sims import growth, subnetworks
from sims.families import residual_mlp
from sims.families.residual_mlp.growth import ResidualMLPFamily
from sims.problems import StaircaseTask, component_errors, independent_seeds, staircase_task
from theory import flops

PAPER = "Panigrahi et al. 2024 (RaPTr, arXiv 2402.05913)"
BUDGET = 0.8
STAGE_FRACTIONS = (0.3, 0.2, 0.5)  # with path lengths L/2, 3L/4, L: relative FLOPs exactly 0.8
LEARNED = 0.1  # component k counts as learned once e_k <= 0.1 c_k^2

# sizes per scale
TOY_SIZES = {"quick": (16, 8, 2000, 3), "paper": (32, 12, 3000, 48)}  # (width, depth, steps, seeds)
TAIL = 0.2  # raptr.toy-polynomial: a run's final value is its median over this last share of evals
TOY_LABELS = {"raptr": "RaPTr", "pld": "PLD", "reseeded": "reseeded baseline",
              "degrees 1..6": "degrees-1..6 baseline"}  # fmt: skip
IDENTITY_STEPS = {"quick": 2000, "paper": 20000}  # raptr.flops-identities
TRANSITION_SIZES = {"quick": (4, 600, 10), "paper": (8, 2000, 12)}  # (depth, steps, seeds)
TWO_PHASE_STEPS = {"quick": 2000, "paper": 6000}  # raptr.two-phase
STABILITY_DEPTHS = {"quick": (4, 8, 16, 32, 64, 128), "paper": (4, 8, 16, 32, 64, 128, 256, 512)}


def _toy_size(scale):
    """(width, depth, steps, seeds)."""
    return TOY_SIZES[scale]


def _toy_seed(scale: str, index: int) -> dict:
    """Seed ``index`` of ``toy_runs``: baseline, RaPTr (L/2-3L/4-L, fixed first and last layer)
    and PLD (calibrated to the same 0.8 FLOPs, gamma = 10 / steps) on the degree-1..10 staircase,
    d = 20, Adam with a cosine learning rate from 3e-3 to 3e-4 (``growth.learning_rates``), batch
    256, from one initialisation; and the controls' two runs of the baseline: ``reseeded``
    (another minibatch order) and ``degrees 1..6`` (trained on the target with the components
    k >= 7 removed, evaluated on the full task). Eval every steps/40 with predictions kept for
    the component errors."""
    width, depth, steps, n_seeds = _toy_size(scale)
    task = staircase_task(20, 10)
    gamma = 10 / steps
    X_eval, y_eval = task.sample(4000, seed=1)
    seed = seeds(n_seeds, "raptr.toy-runs")[index]
    data_seed, init_seed, raptr_seed, pld_seed, batch_seed, reseed = independent_seeds(seed, 6)
    X, y = task.sample(20000, seed=data_seed)
    low_degrees = task.components(X)[:, :6] @ task.coefficients[:6]
    params = residual_mlp.init_params(20, width, depth, seed=init_seed)
    lrs = growth.learning_rates(steps, 3e-3)
    setups = {  # name: (schedule, training target, minibatch seed)
        "baseline": (None, y, batch_seed),
        "raptr": (subnetworks.raptr_schedule(depth, [depth // 2, 3 * depth // 4, depth], steps,
                                             fractions=STAGE_FRACTIONS, seed=raptr_seed),
                  y, batch_seed),
        "pld": (subnetworks.pld_schedule(depth, steps, subnetworks.calibrate_pld(
            depth, steps, BUDGET, gamma), gamma, seed=pld_seed), y, batch_seed),
        "reseeded": (None, y, reseed),
        "degrees 1..6": (None, low_degrees, batch_seed),
    }  # fmt: skip
    runs = {}
    for name, (schedule, target, minibatch_seed) in setups.items():
        boundaries = () if schedule is None else tuple(int(s) for s in schedule.stage_starts)
        result = residual_mlp.train(
            params, X, target, steps, lr=lrs, schedule=schedule, X_eval=X_eval, y_eval=y_eval,
            eval_every=steps // 40, record_predictions=True, checkpoints=boundaries,
            seed=minibatch_seed,
        )  # fmt: skip
        errors = np.array([component_errors(task, X_eval, f)[0] for f in result.eval_predictions])
        runs[name] = {"result": result, "errors": errors, "schedule": schedule}
    return runs


toy_runs = Experiment("raptr.toy-runs", lambda scale: _toy_size(scale)[3], _toy_seed)


def _toy_by_method(scale: str) -> dict:
    """``toy_runs`` regrouped: each method's (or control run's) runs, one per seed in seed
    order."""
    return {n: [r[n] for r in toy_runs(scale)] for n in toy_runs(scale)[0]}


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
    positive=Control(
        "masks replaced by their expectations (z = 0 by construction)", masks="expected"
    ),
    negative=Control(
        "the closed form of a 6-8-10-11 schedule against 0.75, RaPTr's stages in reverse order",
        paths=(6, 8, 10, 11),
        stages_reversed=True,
    ),
    must_hold=True,
)
def _flops_identities(scale, *, rng, masks="sampled", paths=(6, 8, 10, 12), stages_reversed=False):
    """``masks``: the sampled masks or their expectations; ``paths``: the schedule whose closed
    form is held to 0.75; ``stages_reversed``: RaPTr's stage means read in reverse order."""
    steps = IDENTITY_STEPS[scale]
    raptr_closed = flops.raptr_relative_flops(12, list(paths))
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
        drawn = p if masks == "expected" else s.masks
        z_scores[name] = float(abs(drawn.mean() - p.mean()) / se) if se > 0 else 0.0
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
    if stages_reversed:
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
    statement="at 0.8x the baseline's FLOPs RaPTr reaches the baseline's loss and PLD misses the "
    "high-degree components; the order in which RaPTr learns the degrees is reported beside the "
    "baseline's (on a nested staircase both learn low degrees first)",
    measurement="staircase of degrees 1..10, d = 20, Adam with a cosine learning rate from 3e-3 "
    f"to 3e-4, {at_scales({s: v[3] for s, v in TOY_SIZES.items()}, ' seeds')}; a run's final "
    f"value is its median over the last {TAIL:.0%} of evaluations: per-seed log of RaPTr's final "
    "eval loss over the baseline's ('log RaPTr/baseline', t interval; the band allows 10%); "
    "per-seed difference of PLD's and RaPTr's final error on components k >= 7, e_k from the "
    "least-squares coefficients on the eval sample ('PLD - RaPTr high-degree error', t "
    "interval); Spearman correlation of k with the median steps to learn k (e_k <= 0.1), RaPTr "
    "and baseline, reported",
    expect={
        "log RaPTr/baseline": AtMost(float(np.log(1.1))),
        "PLD - RaPTr high-degree error": AtLeast(0.0),
    },
    positive=Control(
        "the baseline rerun with another minibatch order as RaPTr (it reaches the baseline's "
        "loss by construction); the baseline trained with degrees 7..10 removed from its target "
        "as PLD (it misses them by construction)",
        as_raptr="reseeded",
        as_pld="degrees 1..6",
    ),
    negative=Control(
        "the baseline trained with degrees 7..10 removed from its target as RaPTr (it cannot "
        "reach the baseline's loss); the baseline rerun with another minibatch order as PLD (it "
        "learns the degrees that this RaPTr misses)",
        as_raptr="degrees 1..6",
        as_pld="reseeded",
    ),
    figures=("raptr-toy",),
    group="raptr.toy-runs",
    minutes=128,
    revisions=(
        Revision(
            2,
            "the learning-order statistic (Spearman of k with RaPTr's steps to learn k, band >= "
            "0.8) could not fail: on a nested staircase every method learns low degrees first "
            "(the baseline too), so it is now reported beside the baseline's, not decided; the "
            "loss ratio is taken in logs (per-seed ratios spread from 0.4 to 15 at 3 seeds); the "
            "high-degree controls plant a fixed margin (1.5x RaPTr's error per seed left the "
            "positive undecided at 3 seeds, paper scale)",
        ),
        Revision(
            3,
            "a run's final loss and high-degree error are its medians over the last 20% of "
            "evaluations (was the last evaluation alone), on 24 seeds at paper scale (was 3): "
            "every method solves the staircase to 0.003-0.015 and Adam spikes now and then, so "
            "the ratio of two last evaluations was mostly spike noise (issue 28, tenth round: "
            "at 8 seeds 0.074 [-2.12, 2.27] on last evaluations, -0.295 [-0.966, 0.377] on the "
            "medians, whose per-seed sd of about 0.8 asks for about 24 seeds)",
        ),
        Revision(
            4,
            "controls measured, were planted (issue 28, thirteenth round): revision 3's loss half "
            "failed the measured positive control, the baseline against itself rerun with another "
            "minibatch order: 0.127 [-0.055, 0.310] on its 24 seeds (per-seed sd 0.43), not inside "
            "log 1.1, so at a constant learning rate of 3e-3 the band could not confirm even equal "
            "methods and revision 3's supported verdict rested on RaPTr's mean lying below the "
            "baseline's; with a cosine learning rate from 3e-3 to 3e-4 the same control gave a "
            "per-seed sd of 0.075 on 12 seeds (about +-0.03 at 24), chosen on the control runs "
            "alone, before any RaPTr or PLD run under it; component errors from least-squares "
            "coefficients, were inner products mean f h_k, whose sample cross terms gave the exact "
            "target an error of 0.0084 on k >= 7, the level RaPTr's and the baseline's errors "
            "sat at (PLD's 0.0092)",
        ),
        Revision(
            5,
            "48 seeds at paper scale, were 24 (the first 24 the same): revision 4 was mis-posed, "
            "its measured positive control 0.0367 [-0.0233, 0.0966] on 24 seeds, the top 0.0013 "
            "above log 1.1 (issue 28, thirteenth round); that control's mean is 0 by symmetry "
            "(two runs that differ only in which of two independent minibatch streams they "
            "draw) and its per-seed sd 0.142, so landing inside log 1.1 with probability 99% "
            "takes about ((1.96 + 2.33) 0.142 / 0.0953)^2 = 41 seeds; 48 keep the first 24. "
            "The claim's own arm (1.32 [1.06, 1.58]) was seen before this choice; more seeds "
            "decide only whether the measurement can read it. Bands, statistics and learning "
            "rate unchanged",
        ),
    ),
)
def _toy(scale, *, as_raptr="raptr", as_pld="pld"):
    """``as_raptr``, ``as_pld``: the toy runs that stand for RaPTr and PLD in the two decided
    statistics (the controls put the baseline's control runs there)."""
    runs = _toy_by_method(scale)
    final = {n: np.array([tail_median(r["result"].eval_losses, TAIL) for r in rs])
             for n, rs in runs.items()}  # fmt: skip
    high = {n: np.array([tail_median(r["errors"][:, 6:].sum(axis=1), TAIL) for r in rs])
            for n, rs in runs.items()}  # fmt: skip
    order = {
        n: float(spearmanr(np.arange(1, 11),
                           np.median([_steps_to_learn(r) for r in runs[n]], axis=0)).statistic)
        for n in ("raptr", "baseline")
    }  # fmt: skip
    ratio = mean_interval(np.log(final[as_raptr] / final["baseline"]))
    gap = mean_interval(high[as_pld] - high[as_raptr])
    flops_used = {n: float(np.mean([r["result"].flops[-1] for r in rs])) for n, rs in runs.items()}
    relative = {n: v / flops_used["baseline"] for n, v in flops_used.items()}
    means = {n: float(np.mean(v)) for n, v in final.items()}
    return Measurement(
        {"log RaPTr/baseline": ratio, "PLD - RaPTr high-degree error": gap},
        {
            "final_eval_loss": means,
            "high_degree_error": {n: float(np.mean(v)) for n, v in high.items()},
            "spearman_degree_vs_steps_to_learn": order,
            "relative_flops": relative,
        },
        f"log final eval loss {TOY_LABELS[as_raptr]}/baseline = {ratio.text()} "
        f"({means[as_raptr]:.3g} vs {means['baseline']:.3g}; {TOY_LABELS[as_pld]} "
        f"{means[as_pld]:.3g}); error on k >= 7, {TOY_LABELS[as_pld]} - {TOY_LABELS[as_raptr]}: "
        f"{gap.text()}; learning order (Spearman) RaPTr {order['raptr']:.2f}, baseline "
        f"{order['baseline']:.2f}; FLOPs RaPTr {relative['raptr']:.3f}, PLD {relative['pld']:.3f}",
    )


def expected_subnetwork_loss(params, keep, scale, X, y) -> float:
    """Eval MSE averaged exactly over the subnetwork distribution: layer i kept independently with
    probability ``keep[i]`` (layers with keep 0 or 1 are fixed), kept outputs scaled by
    ``scale[i]``; all 2^(uncertain layers) masks enumerated with their probabilities."""
    uncertain = np.flatnonzero((keep > 0) & (keep < 1))
    total = 0.0
    for bits in itertools.product((0.0, 1.0), repeat=uncertain.size):
        mask = (keep >= 1).astype(float)
        mask[uncertain] = bits
        weight = float(np.prod(np.where(mask[uncertain] == 1, keep[uncertain],
                                        1 - keep[uncertain])))  # fmt: skip
        total += weight * float(np.mean((residual_mlp.forward(params, X, mask, scale) - y) ** 2))
    return total


def _transition_size(scale):
    """(depth, steps, seeds): RaPTr path lengths L/2, 3L/4, L with the first and last layer
    fixed; gradual stacking grows 1 -> L blocks."""
    return TRANSITION_SIZES[scale]


@cache
def transition_runs(scale: str) -> dict:
    """Per output scaling and seed: RaPTr on the degree-1..6 staircase (d = 20, width 16, Adam lr
    1e-2, batch 128) and, per seed, gradual stacking on the same data; at each RaPTr boundary the
    loss averaged exactly over the ending stage's subnetworks (``before``), over the next stage's
    (``after``), over the next stage's with every second layer dropped (``thin``), and the full
    model's loss; at each growth the eval loss before and right after it."""
    depth, steps, n_seeds = _transition_size(scale)
    task = staircase_task(20, 6)
    X_eval, y_eval = task.sample(1000, seed=2)
    out = {"raptr": {s: [] for s in subnetworks.SCALES}, "gradual": []}
    for seed in seeds(n_seeds, "raptr.transitions"):
        data_seed, init_seed, schedule_seed, batch_seed = independent_seeds(seed, 4)
        X, y = task.sample(10000, seed=data_seed)
        params = residual_mlp.init_params(20, 16, depth, seed=init_seed)
        for scaling in subnetworks.SCALES:
            schedule = subnetworks.raptr_schedule(
                depth, [depth // 2, 3 * depth // 4, depth], steps, scale=scaling,
                seed=schedule_seed,
            )  # fmt: skip
            starts = [int(t) for t in schedule.stage_starts[1:]]
            result = residual_mlp.train(
                params, X, y, steps, lr=1e-2, batch_size=128, schedule=schedule,
                checkpoints=tuple(starts), seed=batch_seed,
            )  # fmt: skip
            boundaries = []
            for t in starts:
                at = result.checkpoints[t]
                thin = schedule.keep_probabilities[t].copy()
                thin[1::2] = 0.0
                boundaries.append(
                    {
                        name: expected_subnetwork_loss(
                            at, keep, schedule.scales[step], X_eval, y_eval
                        )
                        for name, keep, step in (
                            ("before", schedule.keep_probabilities[t - 1], t - 1),
                            ("after", schedule.keep_probabilities[t], t),
                            ("thin", thin, t),
                        )
                    }
                    | {"full": float(np.mean((residual_mlp.forward(at, X_eval) - y_eval) ** 2))}
                )
            out["raptr"][scaling].append(boundaries)
        family = ResidualMLPFamily(X, y, X_eval, y_eval, 16, eval_every=steps // 20)
        start = ResidualMLPFamily.model(params)
        run = growth.train_grown(
            family, growth.Model(start.shared, start.layers[:1]), "gradual",
            growth.prop_alpha(steps, depth, 1.0), lr=1e-2, seed=batch_seed,
        )  # fmt: skip
        jumps = []
        for i in range(1, len(run.losses)):
            if run.eval_steps[i] == run.eval_steps[i - 1]:  # the evaluation right after a growth
                jumps.append((float(run.losses[i - 1]), float(run.losses[i])))
        out["gradual"].append(jumps)
    return out


def _relative_jumps(boundaries, after="after") -> float:
    """Mean over a run's boundaries of (L_after - L_before) / L_before."""
    return float(np.mean([(b[after] - b["before"]) / b["before"] for b in boundaries]))


@claim(
    id="raptr.transitions",
    source=f"{PAPER}, §4 (stability at stage transitions; boxed observation, secondary)",
    provenance="secondary",
    statement="when a RaPTr stage ends and the next (longer) subnetworks start, the loss does not "
    "jump, for each output scaling; gradual stacking's jump at growth on the same task is "
    "reported beside it",
    measurement="staircase degrees 1..6, residual MLP of depth "
    f"{at_scales({s: v[0] for s, v in TRANSITION_SIZES.items()})}, RaPTr path lengths L/2, 3L/4, "
    f"L, {at_scales({s: v[2] for s, v in TRANSITION_SIZES.items()}, ' seeds')}: per seed, the relative jump (L_next - "
    "L_ending) / L_ending of the loss averaged exactly over the subnetwork distribution, at the "
    "same parameters, mean over boundaries; mean over seeds with t interval per output scaling "
    "('relative jump, <scaling>'); gradual stacking's relative jump at growth, the paired "
    "difference RaPTr - gradual, and the full model against its subnetworks reported",
    expect={f"relative jump, {s}": AtMost(0.1) for s in subnetworks.SCALES},
    positive=Control(
        "no jump by construction: the ending stage's distribution in place of the next stage's",
        after="before",
    ),
    negative=Control("the next stage's subnetworks with every second layer dropped", after="thin"),
    group="raptr.transitions",
    revisions=(
        Revision(
            2,
            "revision 1 required every boundary's jump within 1 standard error of 32 sampled "
            "subnetworks (a rule that fails ~65% of the time with no jump at all) on 3 seeds; now "
            "the relative jump of the exactly averaged loss, a t interval over 10 seeds, per "
            "output scaling, with gradual stacking's jump on the same task for comparison",
        ),
    ),
)
def _transitions(scale, *, after="after"):
    """``after``: the loss a boundary is left with, under the next stage's distribution
    ("after"), the ending one's ("before") or the next one's with every second layer dropped
    ("thin")."""
    runs = transition_runs(scale)
    statistics, measured = {}, {}
    gradual = np.array([np.mean([(b - a) / a for a, b in jumps]) for jumps in runs["gradual"]])
    for scaling, per_seed in runs["raptr"].items():
        jumps = np.array([_relative_jumps(boundaries, after) for boundaries in per_seed])
        statistics[f"relative jump, {scaling}"] = mean_interval(jumps)
        above = sum(b["full"] > b["before"] for boundaries in per_seed for b in boundaries)
        measured[scaling] = {
            "relative_jump_per_seed": jumps.tolist(),
            "raptr_minus_gradual": mean_interval(jumps - gradual).as_dict(),
            "full_above_subnetworks": f"{above}/{sum(map(len, per_seed))}",
        }
    measured["gradual_relative_jump"] = mean_interval(gradual).as_dict()
    return Measurement(
        statistics,
        measured,
        "relative jump at RaPTr boundaries: "
        + ", ".join(f"{k.split(', ')[1]} {e.text()}" for k, e in statistics.items())
        + f"; gradual stacking at growth: {mean_interval(gradual).text()}; full model above its "
        + "subnetworks at "
        + ", ".join(f"{s}: {m['full_above_subnetworks']}" for s, m in measured.items()
                    if s in subnetworks.SCALES),
    )  # fmt: skip


DEGREE_CAPPED = {"activation": "quadratic", "layernorm": False}  # a block has degree 2


@claim(
    id="raptr.two-phase",
    source=f"{PAPER}, 2-phase RaPTr result (theorem name, `paper`; statement secondary)",
    provenance="reconstructed",
    statement="on a 2-block residual network whose single blocks cannot represent the target's "
    "high-degree part (blocks of degree 2, y = h_2 + h_4), phase 1 (one random block per step) "
    "learns the degree-2 component while the degree-4 error stays high; phase 2 (the full "
    "network) then learns the degree-4 component",
    measurement="d = 10, boolean inputs, h_2 = x1 x2, h_4 = x1 x2 x3 x4 (orthonormal), width 16, "
    "quadratic activation without layer norm (one block: degree 2, two: degree 4), Adam lr 3e-3, "
    f"{at_scales(TWO_PHASE_STEPS, ' steps')}, 4 seeds: component errors of the function phase 1 trains "
    "(its subnetworks' mean prediction) at the phase boundary, and of the full network at the "
    "end; worst seed ('phase-1 e2', 'phase-1 e4', 'phase-2 e4')",
    expect={"phase-1 e2": AtMost(0.1), "phase-1 e4": AtLeast(0.5), "phase-2 e4": AtMost(0.1)},
    positive=Control(
        "the task's own components as predictors: h_2 after phase 1, h_2 + h_4 after phase 2",
        predictor="the task's components",
    ),
    negative=Control(
        "the full network trained from the start (no phase 1), scored as the "
        "function it trains (the full network) at the same step",
        phase_one=False,
    ),
    revisions=(
        Revision(
            2,
            "revision 1 used pre-LN GELU blocks, one of which can already represent the degree-2 "
            "term of a degree-1 + degree-2 target, so the theorem's premise was missing; now "
            "degree-capped blocks (quadratic activation, no layer norm) on degrees 2 and 4, and "
            "phase 1 scored as the function it trains (the subnetworks' mean) instead of the full "
            "network",
        ),
        Revision(
            3,
            "component errors from least-squares coefficients on the eval sample, were inner "
            "products mean f h_k, which a sample's cross terms mean h_j h_k bias (issue 28, "
            "thirteenth round; found on raptr.toy-polynomial); bands unchanged",
        ),
    ),
)
def _two_phase(scale, *, predictor="trained", phase_one=True):
    steps = TWO_PHASE_STEPS[scale]
    task = StaircaseTask(10, ((0, 1), (0, 1, 2, 3)), np.ones(2), "boolean")
    X_eval, _ = task.sample(4000, seed=3)
    rows = []
    for seed in seeds(4, "raptr.two-phase"):
        data_seed, init_seed, schedule_seed, batch_seed = independent_seeds(seed, 4)
        X, y = task.sample(10000, seed=data_seed)
        params = residual_mlp.init_params(10, 16, 2, seed=init_seed)
        schedule = subnetworks.raptr_schedule(
            2, [1, 2], steps, fixed=(), sampler="fixed_size", seed=schedule_seed
        )
        half = int(schedule.stage_starts[1])
        if predictor == "the task's components":
            parts = task.components(X_eval) * task.coefficients
            ends = [component_errors(task, X_eval, parts[:, :k].sum(axis=1))[0] for k in (1, 2)]
            rows.append({"phase1": ends[0].tolist(), "phase2": ends[1].tolist()})
            continue
        if not phase_one:
            schedule = None
        result = residual_mlp.train(
            params, X, y, steps, lr=3e-3, schedule=schedule, checkpoints=(half, steps),
            seed=batch_seed, **DEGREE_CAPPED,
        )  # fmt: skip
        first = result.checkpoints[half]
        if schedule is None:
            phase1 = residual_mlp.forward(first, X_eval, **DEGREE_CAPPED)
        else:  # one of the two blocks, each with probability 1/2
            phase1 = np.mean([residual_mlp.forward(first, X_eval, np.array(m), **DEGREE_CAPPED)
                              for m in ([1.0, 0.0], [0.0, 1.0])], axis=0)  # fmt: skip
        phase2 = residual_mlp.forward(result.checkpoints[steps], X_eval, **DEGREE_CAPPED)
        ends = [component_errors(task, X_eval, f)[0] for f in (phase1, phase2)]
        rows.append({"phase1": ends[0].tolist(), "phase2": ends[1].tolist()})
    statistics = {
        "phase-1 e2": exact(max(r["phase1"][0] for r in rows), len(rows)),
        "phase-1 e4": exact(min(r["phase1"][1] for r in rows), len(rows)),
        "phase-2 e4": exact(max(r["phase2"][1] for r in rows), len(rows)),
    }
    summary = "; ".join(
        f"e2, e4 after phase 1 = {r['phase1'][0]:.3f}, {r['phase1'][1]:.3f}, "
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
    depths = STABILITY_DEPTHS[scale]
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
    positive=Control(
        "planted power laws: gaps L^-1/2 (tau = 0), L^-1 (tau > 0), L^0 (no LN, no "
        "residual); norms l^1/2 (tau = 0) and l (tau >= 0.5)",
        data="planted power laws",
    ),
    negative=Control(
        "the variants' labels swapped: no-LN data as tau = 0 and the reverse, tau = "
        "0 norms as tau >= 0.5",
        data="labels swapped",
    ),
    why_planted="no finite-depth linear residual network is known in closed form to give exactly these exponents; the negative control (the variants' labels swapped) is measured",
    figures=("raptr-stability",),
    minutes=2,
)
def _stability(scale, *, rng, data="measured"):
    table = stability_table(scale)
    depths = np.array(table["depths"], dtype=float)
    gaps, norms = dict(table["gaps"]), dict(table["norms"])
    if data == "planted power laws":
        powers = {"tau=0": -0.5, "tau=0.5": -1.0, "tau=1": -1.0, "tau=0, no LN": 0.0,
                  "tau=0, no residual": 0.0}  # fmt: skip
        gaps = {n: depths**p for n, p in powers.items()}
        layers = np.arange(1.0, len(norms["tau=0"]) + 1)
        norms = {"tau=0": layers**0.5, "tau=0.5": layers, "tau=1": layers}
    elif data == "labels swapped":
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

    runs = _toy_by_method(scale)
    curves = {}
    for name in ("baseline", "raptr", "pld"):
        result = runs[name][0]["result"]
        x = np.concatenate([[0.0], result.flops])[result.eval_steps]
        curves[name] = (x, np.median([r["result"].eval_losses for r in runs[name]], axis=0))
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
