"""Measurement helpers shared by the claims, figure recipes and benchmarks."""

from __future__ import annotations

import numpy as np


def seeds(n: int, salt: int) -> list[int]:
    """``n`` problem seeds drawn from ``SeedSequence(salt)``: the same on every run."""
    return [int(s) for s in np.random.SeedSequence(salt).generate_state(n)]


def fitted_slope(xs, ys) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (a power law's exponent)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])
