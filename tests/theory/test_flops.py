"""FLOPs identities of theory/flops.py against brute force: per-step counts of active layers
summed step by step, and RaPTr's expected path length by enumerating every mask."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import flops


def pld_by_summation(depth, total_steps, theta_bar, gamma):
    """DeepSpeed's rule step by step: theta(t) = (1 - theta_bar) e^(-gamma t) + theta_bar, layer
    i (0-based) kept with probability 1 - i (1 - theta(t)) / depth; mean kept fraction."""
    kept = 0.0
    for t in range(total_steps):
        theta = (1 - theta_bar) * math.exp(-gamma * t) + theta_bar
        kept += sum(1 - i * (1 - theta) / depth for i in range(depth)) / depth
    return kept / total_steps


@given(
    st.integers(1, 12),
    st.integers(1, 300),
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1e-3, 0.05, 1.0, 3.0]),
)
def test_pld_closed_form_equals_the_step_by_step_sum(depth, total_steps, theta_bar, gamma):
    assert flops.pld_relative_flops(depth, total_steps, theta_bar, gamma) == pytest.approx(
        pld_by_summation(depth, total_steps, theta_bar, gamma), rel=1e-12, abs=1e-14
    )


def test_pld_extremes():
    assert flops.pld_relative_flops(8, 100, 0.3, 0.0) == 1.0  # no decay: theta stays 1
    assert flops.pld_relative_flops(1, 100, 0.0, 5.0) == 1.0  # one layer is always kept
    # theta_bar = 0 and immediate decay: kept fraction 1 - (L - 1) / (2L) after step 0
    assert flops.pld_relative_flops(4, 1, 0.0, 50.0) == pytest.approx(1.0)
    assert flops.pld_relative_flops(4, 2, 0.0, 50.0) == pytest.approx((1 + 5 / 8) / 2)


@pytest.mark.parametrize("step", [0, 1, 10, 1000])
def test_pld_keep_probabilities_follow_the_rule(step):
    theta = (1 - 0.4) * math.exp(-0.01 * step) + 0.4
    expected = [1 - i * (1 - theta) / 6 for i in range(6)]
    np.testing.assert_allclose(flops.pld_keep_probabilities(6, step, 0.4, 0.01), expected)


def test_stacking_by_counting_layer_steps():
    # 6-9-12 over 10, 20 and 30 steps: 60 + 180 + 360 layer-steps of 12 * 60
    assert flops.stacking_relative_flops([6, 9, 12], [1 / 6, 2 / 6, 3 / 6]) == pytest.approx(
        600 / 720, rel=1e-14
    )
    assert flops.stacking_relative_flops([6, 9, 12]) == pytest.approx(0.75, rel=1e-14)
    assert flops.stacking_relative_flops([5]) == 1.0
    assert flops.stacking_relative_flops([1, 2, 3, 4]) == pytest.approx(10 / 16, rel=1e-14)


def raptr_by_enumeration(depth, n_fixed, length):
    """Expected active layers of one RaPTr step: fixed layers always, each other layer with
    probability p = (length - n_fixed) / (depth - n_fixed), summed over all 2^m masks."""
    m = depth - n_fixed
    p = (length - n_fixed) / m
    expected = 0.0
    for mask in itertools.product((0, 1), repeat=m):
        k = sum(mask)
        expected += p**k * (1 - p) ** (m - k) * (n_fixed + k)
    return expected


@pytest.mark.parametrize(
    ("depth", "n_fixed", "lengths", "fractions"),
    [
        (12, 2, [6, 8, 10, 12], None),
        (8, 0, [2, 5, 8], [0.5, 0.25, 0.25]),
        (10, 1, [1, 10], [0.9, 0.1]),
        (6, 6, [6], None),
    ],
)
def test_raptr_by_enumerating_masks(depth, n_fixed, lengths, fractions):
    weights = np.full(len(lengths), 1 / len(lengths)) if fractions is None else fractions
    expected = sum(
        w * raptr_by_enumeration(depth, n_fixed, n) if depth > n_fixed else w * depth
        for w, n in zip(weights, lengths, strict=True)
    )
    assert flops.raptr_relative_flops(depth, lengths, n_fixed, fractions) == pytest.approx(
        expected / depth, rel=1e-12
    )


def test_raptr_six_eight_ten_twelve_is_three_quarters():
    assert flops.raptr_relative_flops(12, [6, 8, 10, 12]) == pytest.approx(0.75, rel=1e-14)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: flops.pld_relative_flops(0, 10, 0.5, 0.1), "depth"),
        (lambda: flops.pld_relative_flops(4, 0, 0.5, 0.1), "total_steps"),
        (lambda: flops.pld_relative_flops(4, 10, -0.1, 0.1), "theta_bar"),
        (lambda: flops.pld_relative_flops(4, 10, 1.5, 0.1), "theta_bar"),
        (lambda: flops.pld_relative_flops(4, 10, 0.5, -1e-3), "gamma"),
        (lambda: flops.raptr_relative_flops(0, [1]), "depth"),
        (lambda: flops.raptr_relative_flops(4, [3], n_fixed=5), "n_fixed"),
        (lambda: flops.raptr_relative_flops(4, [1, 4]), "path_lengths"),
        (lambda: flops.raptr_relative_flops(4, [2, 5]), "path_lengths"),
        (lambda: flops.raptr_relative_flops(4, [2, 4], fractions=[0.5]), "fractions"),
        (lambda: flops.raptr_relative_flops(4, [2, 4], fractions=[1.5, -0.5]), "fractions"),
        (lambda: flops.raptr_relative_flops(4, [2, 4], fractions=[0.5, 0.6]), "fractions"),
        (lambda: flops.stacking_relative_flops([]), "depths"),
        (lambda: flops.stacking_relative_flops([0, 4]), "depths"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


def test_smallest_valid_arguments_are_accepted():
    assert flops.pld_relative_flops(1, 1, 1.0, 0.0) == 1.0
    assert flops.raptr_relative_flops(1, [1], n_fixed=1) == 1.0
    assert flops.raptr_relative_flops(2, [0, 2], n_fixed=0, fractions=[0.0, 1.0]) == 1.0
