"""Measurement helpers against curves whose answer is known in closed form."""

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paper_checks import measure
from sims import growth


def exponential(budget: float, scale: float, points: int) -> growth.Curve:
    """Losses ``exp(-F / scale)`` evaluated at ``points`` equally spaced costs up to ``budget``."""
    flops = np.linspace(0.0, budget, points)
    return growth.Curve(flops, np.exp(-flops / scale))


@given(st.floats(0.4, 2.5), st.sampled_from([measure.REACH_POINTS, measure.FLOPS_POINTS]))
def test_a_method_c_times_as_fast_needs_log_c_to_reach_the_reference_loss(speed, points):
    # the reference reaches its losses at F = 100 f for f in points (its grid holds them exactly);
    # a run with losses exp(-F c / 20) reaches them at 100 f / c, or at its next evaluation, at
    # most 0.05 / c later: each log ratio is -log c plus at most log(1 + 0.05 / (100 min f))
    reference = exponential(100.0, 20.0, 101)
    run = exponential(110.0 / speed, 20.0 / speed, 2201)  # past the last target: round-off
    value, missed = measure.log_flops_to_reach(run, reference, 100.0, points)
    assert missed == 0
    slack = math.log(1 + 0.05 / (100 * min(points)))
    assert -1e-12 <= value + math.log(speed) <= slack + 1e-12


def test_a_target_never_reached_counts_at_the_runs_final_flops_a_lower_bound():
    reference = exponential(100.0, 20.0, 101)  # reaches its targets at F = 25 and 50
    # flat at the initial loss up to F = 80: reaches neither target, counted at 80 each
    stalled = growth.Curve(np.linspace(0.0, 80.0, 5), np.ones(5))
    value, missed = measure.log_flops_to_reach(stalled, reference, 100.0)
    assert missed == 2 and value == pytest.approx((math.log(80 / 25) + math.log(80 / 50)) / 2)
    # twice as fast, but stopped at F = 20: the first target at 12.5, the second counted at 20
    stopped = exponential(20.0, 10.0, 161)
    value, missed = measure.log_flops_to_reach(stopped, reference, 100.0)
    assert missed == 1 and value == pytest.approx((math.log(12.5 / 25) + math.log(20 / 50)) / 2)
    # target by target: the second one flagged as missed
    logs, flags = measure.log_flops_to_targets(stopped, reference, 100.0)
    np.testing.assert_allclose(logs, [math.log(12.5 / 25), math.log(20 / 50)], rtol=1e-12)
    assert flags.tolist() == [False, True]


@given(st.lists(st.floats(0, 1e3), min_size=1, max_size=60), st.floats(0, 1))
def test_the_tail_median_is_the_median_of_the_last_share_of_evaluations(values, share):
    last = values[-max(1, int(share * len(values))) :]
    assert measure.tail_median(values, share) == statistics.median(last)


def test_one_spike_at_the_last_evaluation_does_not_move_the_tail_median():
    losses = [1.0 / (t + 1) for t in range(40)] + [0.5]  # converging to 0.025, then a spike
    assert measure.tail_median(losses, 0.2) == statistics.median(losses[-8:]) < 0.04
