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


def test_slope_interval_matches_the_t_table_with_n_minus_2_degrees_of_freedom():
    # log-log points (0, 0), (1, 1), (2, 3), (3, 3): least-squares slope Sxy / Sxx = 5.5 / 5
    # = 1.1, its standard error written out below; t_{0.975, 2} = 4.303 (a t table)
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 1.0, 3.0, 3.0])
    slope = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    residuals = y - y.mean() - slope * (x - x.mean())
    stderr = math.sqrt(np.sum(residuals**2) / 2 / np.sum((x - x.mean()) ** 2))
    e = ex.slope_interval(np.exp(x), np.exp(y))
    assert slope == pytest.approx(1.1) and e.value == pytest.approx(1.1)
    assert (e.low, e.high) == pytest.approx((1.1 - 4.303 * stderr, 1.1 + 4.303 * stderr), abs=2e-3)
    assert e.n == 4 and e.method == "linregress"


def test_pooled_slope_uses_every_point_and_counts_seeds_per_x():
    # 3 x values x 2 seeds = 6 points: t_{0.975, 4} = 2.776 (a t table), n = 2 seeds
    per_x = {10.0: [1.0, 2.0], 100.0: [3.0, 5.0], 1000.0: [9.0, 8.0]}
    x = np.log([10, 10, 100, 100, 1000, 1000])
    y = np.log([1.0, 2.0, 3.0, 5.0, 9.0, 8.0])
    slope = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    residuals = y - y.mean() - slope * (x - x.mean())
    stderr = math.sqrt(np.sum(residuals**2) / 4 / np.sum((x - x.mean()) ** 2))
    e = ex.pooled_slope(per_x)
    assert e.value == pytest.approx(slope) and e.n == 2
    assert (e.low, e.high) == pytest.approx((slope - 2.776 * stderr, slope + 2.776 * stderr),
                                            abs=1e-3)  # fmt: skip


def test_mean_interval_uses_n_minus_1_degrees_of_freedom():
    # five values: mean 3, sample sd sqrt(2.5), t_{0.975, 4} = 2.776
    e = ex.mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)
    assert (e.low, e.high) == pytest.approx((3 - half, 3 + half), abs=1e-3)


def test_median_interval_is_the_percentile_bootstrap_of_the_exact_resampling_law():
    """Resampling 9 distinct values, the median is the k-th smallest with a probability that the
    binomial law gives exactly (the median of a resample is <= x_(k) when at least 5 of the 9
    draws are); the 95% percentile interval is read off that law."""
    from scipy.stats import binom

    values = np.array([0.3, 1.1, 2.0, 2.2, 3.5, 4.1, 5.0, 6.6, 8.0])
    cdf = np.array([binom.sf(4, 9, k / 9) for k in range(1, 10)])  # P(median <= x_(k))
    low = values[np.searchsorted(cdf, 0.025)]
    high = values[np.searchsorted(cdf, 0.975)]
    assert np.all(np.abs(cdf - 0.025) > 0.005) and np.all(np.abs(cdf - 0.975) > 0.005)
    e = ex.median_interval(values)
    assert (e.value, e.low, e.high) == (np.median(values), low, high)


def test_an_infinite_or_nan_statistic_is_undecidable():
    for value in (math.inf, -math.inf, math.nan):
        e = ex.Estimate(value, value, value, 5, "t")
        assert ex.undecidable(e)
        for band in (ex.AtMost(1.0), ex.AtLeast(0.0), ex.Between(-1, 1)):
            assert band.decide(e) == "inconclusive"
    censored = ex.Estimate(5.0, 3.0, math.inf, 5, "bootstrap")  # finite value, open interval
    assert not ex.undecidable(censored) and ex.AtLeast(1.0).decide(censored) == "supported"


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


def test_lower_bounded_mean_covers_the_true_mean_from_below_when_values_are_capped():
    """Per-seed values N(mu, 1) of which those above a cap c are replaced by c (a run stopped at
    its budget; only a lower bound is known): the interval's low end must stay a 97.5% lower
    confidence bound for mu (the t interval's one side), whatever the cap, and the interval must
    be one-sided. Checked by simulation against the known mu."""
    rng = np.random.default_rng(7)
    mu, n, trials = 0.3, 8, 4000
    for cap in (-0.5, 0.3, 1.0):
        covered = one_sided = 0
        for _ in range(trials):
            x = mu + rng.standard_normal(n)
            bounded = x > cap
            e = ex.lower_bounded_mean_interval(np.minimum(x, cap), bounded)
            covered += e.low <= mu
            one_sided += e.high == math.inf if bounded.any() else e == ex.mean_interval(x)
        assert covered / trials >= 0.965, cap
        assert one_sided == trials


def test_a_lower_bounded_statistic_can_be_refuted_but_never_placed_below_a_band():
    bounded = ex.lower_bounded_mean_interval([0.5, 0.6, 0.4, 0.7], [True, False, False, True])
    assert bounded.low > 0 and bounded.high == math.inf and not ex.undecidable(bounded)
    assert ex.AtMost(0.0).decide(bounded) == "refuted"
    assert ex.AtLeast(0.0).decide(bounded) == "supported"  # a lower bound above lo suffices
    straddling = ex.lower_bounded_mean_interval([-0.5, 0.6, -0.4, 0.7], [True, False, False, True])
    assert ex.AtMost(0.0).decide(straddling) == "inconclusive"
    below = ex.lower_bounded_mean_interval([-0.5, -0.6, -0.4, -0.7], [True, False, False, False])
    assert ex.AtMost(0.0).decide(below) == "inconclusive"  # mean_interval would say supported
    assert ex.seeds_needed(ex.AtMost(0.0), below) is None


def test_order_median_interval_matches_the_binomial_table():
    # n = 20: P(Binomial(20, 1/2) <= 5) = 0.0207 <= 0.025 < P(<= 6) = 0.0577 (a binomial table),
    # so the 95% interval runs from the 6th smallest to the 6th largest value
    values = np.arange(1.0, 21.0)
    e = ex.order_median_interval(values[::-1])
    assert (e.value, e.low, e.high) == (10.5, 6.0, 15.0)
    assert e.n == 20 and e.method == "order statistics"


def test_order_median_interval_ranks_a_censored_value_last_and_a_nan_adversarially():
    values = np.arange(1.0, 21.0)
    censored = np.where(values == 20.0, math.inf, values)  # the largest run never finished
    assert ex.order_median_interval(censored) == ex.order_median_interval(values)
    unknown = np.where(values == 20.0, math.nan, values)  # its rank is unknown
    e = ex.order_median_interval(unknown)
    # low: the NaN counts as the smallest value, so the 6th smallest is 5; high: as the largest,
    # so the 6th largest is 15; the point value is the median of the 19 known values
    assert (e.value, e.low, e.high) == (10.0, 5.0, 15.0)
    assert ex.decide({"s": ex.AtMost(16.0)}, {"s": e}) == "supported"


def test_order_median_interval_has_no_95_percent_interval_below_six_values():
    # n = 5: P(all five on one side of the median) = 2 / 32 > 0.05
    e = ex.order_median_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert e.value == 3.0 and ex.undecidable(e)


def test_order_median_interval_covers_the_median_of_a_skewed_law_at_least_95_percent():
    rng = np.random.default_rng(1)
    true_median = math.log(2)  # the exponential law's median, in closed form
    hits = sum(
        e.low <= true_median <= e.high
        for e in (ex.order_median_interval(rng.exponential(size=25)) for _ in range(2000))
    )
    assert hits / 2000 >= 0.94  # exact coverage is 0.957 at n = 25; 2000 draws: sd 0.0045
