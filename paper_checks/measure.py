"""Measurement helpers shared by the claims, figure recipes and benchmarks."""

from __future__ import annotations

import zlib

import numpy as np

from sims.growth import flops_to, loss_at_flops

FLOPS_POINTS = (0.5, 0.75, 1.0)  # fractions of the baseline's budget where losses are compared
REACH_POINTS = (0.25, 0.5)  # fractions of the baseline's budget whose losses are the targets
# How a claim's text states ``log_flops_to_reach``'s rule for a target never reached.
NEVER_REACHED = (
    "a target never reached is counted at the run's final FLOPs, so that seed's ratio is a lower "
    "bound, and with any such seed the interval is one-sided, [low, inf): it can put the "
    "statistic above the band, never inside it"
)


def seeds(n: int, key: str) -> list[int]:
    """``n`` problem seeds derived from ``key`` (an experiment's or claim's id, with whatever
    distinguishes its sub-experiments, e.g. ``"stacking.stages-table/kappa=100"``): the same on
    every run, different for every key."""
    return [int(s) for s in np.random.SeedSequence(zlib.crc32(key.encode())).generate_state(n)]


def generator(key: str) -> np.random.Generator:
    """A generator seeded from ``key`` (a claim's or experiment's id): the same on every run."""
    return np.random.default_rng(np.random.SeedSequence(zlib.crc32(key.encode())))


def tail_median(values, share: float) -> float:
    """A run's final value robust to a spike at its last evaluations: the median of the last
    ``share`` of ``values`` (its evaluations in order; at least the last one)."""
    values = np.asarray(values, dtype=float)
    return float(np.median(values[-max(1, int(share * len(values))) :]))


def at_scales(sizes: dict, unit: str = "") -> str:
    """A size in a claim's measurement text, rendered from its per-scale table (so the prose
    cannot drift from the code): ``"2 seeds (5 at paper scale)"`` for ``{"quick": 2, "paper":
    5}`` and ``unit=" seeds"``."""
    return f"{sizes['quick']}{unit} ({sizes['paper']} at paper scale)"


def planted_shift(values, mean: float) -> np.ndarray:
    """A control's planted effect: ``values`` shifted to have mean ``mean``, their spread kept."""
    values = np.asarray(values, dtype=float)
    return values - values.mean() + mean


def planted_power_law(reference, at: float, xs, power: float) -> dict:
    """A control's planted effect: per seed, ``c x^power`` for each x in ``xs``, with ``c`` fixed
    by that seed's measured ``reference`` value at ``x = at`` (so the seeds keep their spread)."""
    return {x: [r * (x / at) ** power for r in reference] for x in xs}


def fitted_slope(xs, ys) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (a power law's exponent)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def log_loss_ratio(run, reference, budget: float) -> float:
    """Mean over FLOPS_POINTS of ``log(L_run(F) / L_reference(F))`` at equal FLOPs F, a fraction
    of ``budget`` (negative: ``run`` is ahead at equal compute)."""
    return float(np.mean([np.log(loss_at_flops(run, f * budget) / loss_at_flops(reference,
                                                                                f * budget))
                          for f in FLOPS_POINTS]))  # fmt: skip


def log_flops_to_targets(run, reference, budget: float, points=REACH_POINTS):
    """Per fraction ``f`` in ``points``, ``log(F_run(L*) / F_reference(L*))``, where ``L*`` is
    ``reference``'s loss at ``f * budget`` and ``F_x(L)`` the FLOPs of ``x``'s first evaluation at
    or below ``L`` (``sims.growth.flops_to``): how much compute ``run`` needs for the reference's
    loss (negative: ``run`` is faster); and per target whether ``run`` never reached it. ``run``
    would reach a missed target, if ever, after its last evaluation: that target's ratio is
    counted at ``run``'s final FLOPs, a lower bound (for
    ``paper_checks.expect.lower_bounded_mean_interval``)."""
    logs, missed = [], []
    for target in (loss_at_flops(reference, f * budget) for f in points):
        reached = flops_to(run, target)
        missed.append(not np.isfinite(reached))
        at_least = reached if np.isfinite(reached) else float(run.flops[-1])
        logs.append(np.log(at_least / flops_to(reference, target)))
    return np.array(logs), np.array(missed)


def log_flops_to_reach(run, reference, budget: float, points=REACH_POINTS) -> tuple[float, int]:
    """The mean over ``points`` of ``log_flops_to_targets``, a lower bound if any target was
    missed, and the number of targets missed."""
    logs, missed = log_flops_to_targets(run, reference, budget, points)
    return float(np.mean(logs)), int(np.sum(missed))
