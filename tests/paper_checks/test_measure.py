"""Measurement helpers against curves whose answer is known in closed form."""

import math

import numpy as np
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


def test_a_target_never_reached_makes_the_ratio_infinite():
    reference = exponential(100.0, 20.0, 101)
    # flat at the initial loss: reaches neither target (the losses at F = 25 and 50)
    stalled = growth.Curve(np.linspace(0.0, 80.0, 5), np.ones(5))
    assert measure.log_flops_to_reach(stalled, reference, 100.0) == (math.inf, 2)
    # twice as fast, but stopped at F = 20: reaches the first target at 12.5, never the second
    stopped = exponential(20.0, 10.0, 161)
    value, missed = measure.log_flops_to_reach(stopped, reference, 100.0)
    assert missed == 1 and value == math.inf
