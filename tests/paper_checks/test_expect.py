"""Intervals, bands and decisions, against values from statistical tables and by construction."""

import math

import numpy as np
import pytest

from paper_checks import expect as ex


def test_mean_interval_matches_the_t_table():
    # mean 2, standard error 1/sqrt(3), t_{0.975, 2} = 4.303 (any t table)
    e = ex.mean_interval([1.0, 2.0, 3.0])
    assert e.value == 2.0 and e.n == 3 and e.method == "t"
    assert e.low == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-3)
    assert e.high == pytest.approx(2 + 4.303 / math.sqrt(3), abs=1e-3)


def test_slope_interval_is_exact_on_a_power_law_and_covers_a_noisy_one():
    xs = np.geomspace(10, 1e4, 4)
    e = ex.slope_interval(xs, 3 * xs**0.5)
    assert e.value == pytest.approx(0.5) and e.high - e.low < 1e-9
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        ys = xs**0.5 * np.exp(0.3 * rng.standard_normal(xs.size))
        s = ex.slope_interval(xs, ys)
        covered += s.low <= 0.5 <= s.high
    assert 180 <= covered <= 200  # 95% coverage: 190 expected, binomial sd 3
    assert ex.slope_interval(xs, [1, 2, np.inf, 4]).value == math.inf
    assert math.isnan(ex.slope_interval(xs, [1, 2, 0, 4]).value)


def test_median_interval_contains_the_median_and_is_reproducible():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    a, b = ex.median_interval(values), ex.median_interval(values)
    assert a == b and a.low <= np.median(values) <= a.high and a.method == "bootstrap"


@pytest.mark.parametrize(
    ("band", "low", "high", "decision"),
    [
        (ex.Between(0.4, 0.6), 0.45, 0.55, "supported"),
        (ex.Between(0.4, 0.6), 0.35, 0.45, "inconclusive"),
        (ex.Between(0.4, 0.6), 0.7, 0.8, "refuted"),
        (ex.AtMost(1.3), 1.31, 1.4, "refuted"),
        (ex.AtLeast(0.0), -0.1, 0.1, "inconclusive"),
        (ex.Near(2.0, 0.2), 1.9, 2.1, "supported"),
        (ex.Near(2.0, 0.2), float("nan"), 2.1, "inconclusive"),
    ],
)
def test_band_decisions_read_the_interval(band, low, high, decision):
    assert band.decide(ex.Estimate((low + high) / 2, low, high, 3, "t")) == decision


def test_bands_render_what_they_decide_and_combine():
    assert ex.AtMost(1.3).render("r") == "r <= 1.3"
    assert ex.Near(0.5, 0.1).render("s") == "s within 0.1 of 0.5"
    bands = {"a": ex.AtMost(1.0), "b": ex.AtLeast(0.0)}
    assert ex.render(bands) == "a <= 1; b >= 0"
    assert ex.decide(bands, {"a": ex.exact(0.5), "b": ex.exact(2.0)}) == "supported"
    assert ex.decide(bands, {"a": ex.exact(2.0), "b": ex.exact(2.0)}) == "refuted"
    straddle = ex.Estimate(0.0, -1.0, 1.0, 3, "t")
    assert ex.decide(bands, {"a": ex.exact(0.5), "b": straddle}) == "inconclusive"
    with pytest.raises(KeyError):
        ex.decide(bands, {"a": ex.exact(0.5)})


def test_seeds_needed_grows_as_the_margin_shrinks():
    band = ex.AtMost(1.0)
    wide = ex.Estimate(0.8, 0.6, 1.0, 5, "t")  # half-width 0.2, margin 0.2
    narrow_margin = ex.Estimate(0.95, 0.75, 1.15, 5, "t")
    # n (1 + z_0.8 / z_0.975)^2 (0.2 / 0.2)^2 = 5 x 1.43^2 = 10.2
    assert ex.seeds_needed(band, wide) == 11
    assert ex.seeds_needed(band, narrow_margin) > ex.seeds_needed(band, wide)
    assert ex.seeds_needed(band, ex.exact(0.5)) is None
