import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import rates

kappas = st.floats(min_value=1.0, max_value=1e8, allow_nan=False)


@given(kappas, kappas)
def test_beta_in_unit_interval_and_increasing(k1, k2):
    lo, hi = sorted((k1, k2))
    assert 0.0 <= rates.nesterov_beta(lo) < 1.0
    assert rates.nesterov_beta(lo) <= rates.nesterov_beta(hi)


def test_beta_closed_values():
    assert rates.nesterov_beta(1.0) == 0.0
    assert rates.nesterov_beta(9.0) == pytest.approx(0.5, rel=1e-15)  # (3-1)/(3+1)
    assert rates.nesterov_beta(100.0) == pytest.approx(9 / 11, rel=1e-15)


@given(kappas)
def test_rates_order(kappa):
    # lower bound <= NAG rate <= GD rate < 1 (faster methods have smaller factors)
    assert rates.lower_bound_rate(kappa) <= rates.nag_rate(kappa) <= rates.gd_rate(kappa) < 1


@given(st.floats(0.0, 0.999999), st.floats(1e-12, 0.99))
def test_steps_for_rate_is_the_smallest_sufficient_count(contraction, eps):
    steps = rates.steps_for_rate(contraction, eps)
    assert contraction**steps <= eps
    assert steps == 0 or contraction ** (steps - 1) > eps


def test_predicted_steps_scale():
    # closed forms: log(1e-6)/log(1 - 1/kappa) ~ 13.8 kappa
    assert rates.predicted_steps("gd", 1e4, 1e-6) == math.ceil(math.log(1e-6) / math.log(1 - 1e-4))
    assert rates.predicted_steps("nag", 1e4, 1e-6) == math.ceil(math.log(1e-6) / math.log(0.99))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: rates.nesterov_beta(0.5), "kappa"),
        (lambda: rates.nesterov_beta(float("nan")), "kappa"),
        (lambda: rates.gd_rate(float("inf")), "kappa"),
        (lambda: rates.predicted_steps("nag", 10, 0.0), "eps"),
        (lambda: rates.predicted_steps("nag", 10, 1.5), "eps"),
        (lambda: rates.predicted_steps("adam", 10, 0.1), "method"),
        (lambda: rates.steps_for_rate(1.0, 0.1), "contraction"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="kappa"):
        rates.nesterov_beta("ten")


@pytest.mark.parametrize(
    ("kappa", "expected"),
    [(1.0, 0.0), (4.0, 1 / 9), (9.0, 1 / 4), (100.0, 81 / 121), (10_000.0, (99 / 101) ** 2)],
)
def test_lower_bound_rate_values(kappa, expected):
    """Nesterov 2004 Thm 2.1.13: no first-order method beats ((sqrt(kappa)-1)/(sqrt(kappa)+1))^2
    per step in function value; the values are worked out by hand."""
    assert rates.lower_bound_rate(kappa) == pytest.approx(expected, rel=1e-14, abs=1e-300)


def smallest_power_below(contraction, eps):
    """Brute force: the first T = 0, 1, 2, ... with contraction^T <= eps."""
    steps = 0
    while contraction**steps > eps:
        steps += 1
    return steps


@given(st.floats(0.0, 0.999), st.floats(1e-12, 0.999))
def test_steps_for_rate_is_the_first_power_below_eps(contraction, eps):
    assert rates.steps_for_rate(contraction, eps) == smallest_power_below(contraction, eps)


def test_rate_dispatches_to_each_bound():
    assert rates.rate("gd", 4.0) == 0.75
    assert rates.rate("nag", 4.0) == 0.5
    assert rates.rate("lower", 4.0) == pytest.approx(1 / 9, rel=1e-15)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: rates.rate("adam", 4.0), "method"),
        (lambda: rates.steps_for_rate(-0.1, 0.5), "contraction"),
        (lambda: rates.steps_for_rate(1.0, 0.5), "contraction"),
        (lambda: rates.steps_for_rate(0.5, 1.0), "eps"),
        (lambda: rates.steps_for_rate(0.5, 0.0), "eps"),
        (lambda: rates.predicted_steps("nag", 10.0, 1.0), "eps must be < 1.0"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


@pytest.mark.parametrize("contraction", [0.3, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("power", [1, 2, 7, 50, 333])
def test_steps_for_rate_at_exact_powers(contraction, power):
    """eps = contraction^k: the logarithms' round-off may put the ratio on either side of k; the
    answer is k (c^k <= eps holds with equality) unless eps underflows the interval."""
    eps = contraction**power
    if not 0 < eps < 1:
        pytest.skip("eps underflows")
    assert rates.steps_for_rate(contraction, eps) == smallest_power_below(contraction, eps)
