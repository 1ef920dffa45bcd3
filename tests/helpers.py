"""Oracles several test modules share."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def partial_difference(f, x, idx, h=1e-6) -> float:
    """The central difference ``(f(x + h e_idx) - f(x - h e_idx)) / 2h`` of the scalar function
    ``f`` at the array ``x`` along its entry ``idx`` (``x`` itself is left unchanged)."""
    step = np.zeros_like(x)
    step[idx] = h
    return (f(x + step) - f(x - step)) / (2 * h)


def central_difference(f, x, h=1e-6) -> np.ndarray:
    """Every entry's :func:`partial_difference`: a finite-difference gradient of ``f`` at ``x``."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        grad[idx] = partial_difference(f, x, idx, h)
    return grad


ROOT = Path(__file__).resolve().parents[1]


def stagewise(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    """``stagewise args`` in a fresh Python process (this checkout on its path; ``env`` added to
    the environment), its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "paper_checks.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
