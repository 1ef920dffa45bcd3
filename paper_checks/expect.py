"""Statistics with intervals, the bands claims expect them in, and the decisions they give.

A claim measures named statistics, each an :class:`Estimate` (value and 95% interval over the
seeds or instances it was computed from), and states a :class:`Band` for each. The decision reads
the interval, not the point value: inside the band -> ``supported``, disjoint from it ->
``refuted``, straddling an edge -> ``inconclusive``. Exact statistics (identities to round-off,
closed forms) have a zero-width interval, so they are decided by the band alone. Each band renders
the text the report prints, so the prose of an expectation and the code deciding it are one object.

Intervals come from SciPy (``stats.t`` for means, ``stats.bootstrap`` for medians,
``stats.linregress`` standard errors for slopes); none is written by hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
POWER = 0.8
DECISIONS = ("supported", "refuted", "inconclusive")
BOOTSTRAP_RESAMPLES = 4000


@dataclass(frozen=True)
class Estimate:
    """A statistic: point value, interval [low, high], the number of seeds or instances ``n``
    behind it and how the interval was made (``exact``, ``t``, ``bootstrap``, ``linregress``)."""

    value: float
    low: float
    high: float
    n: int
    method: str

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        return cls(*(float(d[k]) for k in ("value", "low", "high")), int(d["n"]), d["method"])

    def text(self, digits: int = 3) -> str:
        value = f"{self.value:.{digits}g}"
        if self.method == "exact":
            return value
        return f"{value} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


def exact(value: float, n: int = 1) -> Estimate:
    """A statistic without sampling error (a closed form, a maximum residual, a count)."""
    value = float(value)
    return Estimate(value, value, value, n, "exact")


def mean_interval(values) -> Estimate:
    """Mean with its Student-t interval (``scipy.stats.t``)."""
    x = np.asarray(values, dtype=float)
    mean = float(np.mean(x))
    if x.size < 2 or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        return Estimate(mean, mean, mean, x.size, "exact" if x.size < 2 else "t")
    low, high = stats.t.interval(CONFIDENCE, x.size - 1, loc=mean, scale=stats.sem(x))
    return Estimate(mean, float(low), float(high), x.size, "t")


def lower_bounded_mean_interval(values, bounded) -> Estimate:
    """Mean of per-seed values of which those flagged in ``bounded`` are only lower bounds (a run
    that never reached its target within its budget: the true value is at least the budget's).
    Without any, ``mean_interval``. With some, the interval is ``[low, inf)``, ``low`` the t
    interval's lower end of the values as given: they are a sample of the statistic capped from
    above, whose mean is at most the statistic's, so ``low`` is still a valid lower confidence
    bound for it, and no upper bound exists. Such an estimate can put the statistic above a band
    (refuted, or supported for an ``AtLeast`` band) but never below one."""
    e = mean_interval(values)
    if not np.any(bounded):
        return e
    return Estimate(e.value, e.low, math.inf, e.n, "t, lower-bounded")


def median_interval(values) -> Estimate:
    """Median with a percentile bootstrap interval (``scipy.stats.bootstrap``, fixed generator,
    so the same values give the same interval on every run)."""
    x = np.asarray(values, dtype=float)
    median = float(np.median(x))
    if x.size < 2 or np.all(x == x[0]):
        return Estimate(median, median, median, x.size, "exact" if x.size < 2 else "bootstrap")
    with np.errstate(invalid="ignore"):
        ci = stats.bootstrap(
            (x,),
            np.median,
            confidence_level=CONFIDENCE,
            method="percentile",
            n_resamples=BOOTSTRAP_RESAMPLES,
            rng=np.random.default_rng(0),
        ).confidence_interval
    return Estimate(median, float(ci.low), float(ci.high), x.size, "bootstrap")


def order_median_interval(values) -> Estimate:
    """Median with the distribution-free order-statistic interval (``scipy.stats.quantile_test``
    at p = 1/2: the interval between the k-th smallest and k-th largest value, k from the
    binomial(n, 1/2) quantile). Needs only each value's rank, so it decides where a mean cannot:
    ``+inf`` (a target never reached, censored from above) ranks last; a NaN (a run whose rank is
    unknown, e.g. a rate through a diverged run) is placed adversarially, below every value for
    the interval's low end and above every value for its high end. The point value is the median
    of the values that are not NaN. With fewer than 6 values no 95% interval exists (NaN)."""
    x = np.asarray(values, dtype=float)
    known = x[~np.isnan(x)]
    median = float(np.median(known)) if known.size else math.nan

    def interval(fill: float):
        filled = np.where(np.isnan(x), fill, x)
        return stats.quantile_test(filled, q=0.0, p=0.5).confidence_interval(CONFIDENCE)

    low, high = interval(-math.inf).low, interval(math.inf).high
    return Estimate(median, float(low), float(high), x.size, "order statistics")


def slope_interval(xs, ys, n: int | None = None) -> Estimate:
    """Least-squares slope of ``log y`` on ``log x`` with its t interval from ``linregress``'s
    standard error (``len(xs) - 2`` degrees of freedom). ``n``: the seeds behind each point (the
    unit a power calculation scales), default the number of points. An infinite y (a run that
    never reached its target within its budget) makes the slope infinite and a y <= 0 or NaN
    leaves it undefined (NaN): either is ``undecidable``, so the claim is inconclusive with that
    reason."""
    x, y = np.log(np.asarray(xs, dtype=float)), np.asarray(ys, dtype=float)
    n = len(x) if n is None else n
    if np.any(np.isnan(y)) or np.any(y <= 0):
        return Estimate(math.nan, math.nan, math.nan, n, "linregress")
    if not np.all(np.isfinite(y)):
        return Estimate(math.inf, math.inf, math.inf, n, "linregress")
    fit = stats.linregress(x, np.log(y))
    if len(x) < 3 or fit.stderr == 0:
        return Estimate(float(fit.slope), float(fit.slope), float(fit.slope), n, "linregress")
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 2) * fit.stderr
    return Estimate(
        float(fit.slope), float(fit.slope - half), float(fit.slope + half), n, "linregress"
    )


def pooled_slope(per_x: dict) -> Estimate:
    """``slope_interval`` over every pair of ``per_x = {x: [y, one per seed]}``, with ``n`` the
    number of seeds per x."""
    xs = [x for x, ys in per_x.items() for _ in ys]
    ys = [y for values in per_x.values() for y in values]
    return slope_interval(xs, ys, min(len(v) for v in per_x.values()))


def undecidable(e: Estimate) -> bool:
    """A statistic that cannot be read against a band: its value is NaN or infinite (say, a
    slope through a target never reached), or an end of its interval is NaN. An interval with
    one infinite end around a finite value (censored data) still decides."""
    return not math.isfinite(e.value) or math.isnan(e.low) or math.isnan(e.high)


@dataclass(frozen=True)
class Band:
    """The closed interval [lo, hi] a statistic is expected in (either end may be infinite)."""

    lo: float = -math.inf
    hi: float = math.inf

    def decide(self, e: Estimate) -> str:
        """supported if the interval lies in the band, refuted if disjoint from it, else
        inconclusive. A statistic whose value is NaN or infinite decides nothing (inconclusive,
        see ``undecidable``): the measurement did not produce a number to compare."""
        if undecidable(e):
            return "inconclusive"
        if self.lo <= e.low and e.high <= self.hi:
            return "supported"
        if e.high < self.lo or e.low > self.hi:
            return "refuted"
        return "inconclusive"

    def margin(self, e: Estimate) -> float:
        """Distance from the point value to the nearest edge of the band."""
        return min(abs(e.value - self.lo), abs(e.value - self.hi))

    def render(self, name: str) -> str:
        return f"{name} in [{self.lo:g}, {self.hi:g}]"


@dataclass(frozen=True)
class Between(Band):
    pass


@dataclass(frozen=True)
class AtMost(Band):
    def __init__(self, hi: float):
        object.__setattr__(self, "lo", -math.inf)
        object.__setattr__(self, "hi", float(hi))

    def render(self, name: str) -> str:
        return f"{name} <= {self.hi:g}"


@dataclass(frozen=True)
class AtLeast(Band):
    def __init__(self, lo: float):
        object.__setattr__(self, "lo", float(lo))
        object.__setattr__(self, "hi", math.inf)

    def render(self, name: str) -> str:
        return f"{name} >= {self.lo:g}"


@dataclass(frozen=True)
class Near(Band):
    """Approximately equal: within ``tolerance`` of ``center``."""

    center: float = 0.0
    tolerance: float = 0.0

    def __init__(self, center: float, tolerance: float):
        object.__setattr__(self, "center", float(center))
        object.__setattr__(self, "tolerance", float(tolerance))
        object.__setattr__(self, "lo", self.center - self.tolerance)
        object.__setattr__(self, "hi", self.center + self.tolerance)

    def render(self, name: str) -> str:
        return f"{name} within {self.tolerance:g} of {self.center:g}"


def render(expect: dict[str, Band]) -> str:
    """The expectation as text: one clause per statistic."""
    return "; ".join(band.render(name) for name, band in expect.items())


def decide(expect: dict[str, Band], statistics: dict[str, Estimate]) -> str:
    """One decision for all of a claim's statistics: refuted if any is refuted, supported if all
    are supported, inconclusive otherwise."""
    missing = set(expect) - set(statistics)
    if missing:
        raise KeyError(f"statistics {sorted(missing)} were not measured")
    decisions = [band.decide(statistics[name]) for name, band in expect.items()]
    if "refuted" in decisions:
        return "refuted"
    return "supported" if all(d == "supported" for d in decisions) else "inconclusive"


def seeds_needed(band: Band, e: Estimate) -> float | None:
    """How many seeds (the unit of ``e.n``) an interval of the measured spread needs to exclude the
    nearest band edge with probability ``POWER`` (normal approximation: the half-width shrinks
    like 1/sqrt(n), and must fall below ``margin * z_conf / (z_conf + z_power)``). None for exact
    statistics; inf when the value sits on an edge."""
    if e.method == "exact" or e.n < 2 or not math.isfinite(e.high - e.low):
        return None
    half = (e.high - e.low) / 2
    if half == 0:
        return float(e.n)
    margin = band.margin(e)
    if margin == 0:
        return math.inf
    z_conf, z_power = stats.norm.ppf(0.5 + CONFIDENCE / 2), stats.norm.ppf(POWER)
    return float(max(2, math.ceil(e.n * ((z_conf + z_power) / z_conf * half / margin) ** 2)))
