"""Measurement helpers shared by the claims, figure recipes and benchmarks."""

from __future__ import annotations

import zlib

import numpy as np


def seeds(n: int, key: str) -> list[int]:
    """``n`` problem seeds derived from ``key`` (an experiment's or claim's id, with whatever
    distinguishes its sub-experiments, e.g. ``"stacking.stages-table/kappa=100"``): the same on
    every run, different for every key."""
    return [int(s) for s in np.random.SeedSequence(zlib.crc32(key.encode())).generate_state(n)]


def fitted_slope(xs, ys) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (a power law's exponent)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])
