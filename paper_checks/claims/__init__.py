"""The claims, one module per id prefix (``stacking``, ``boosting``, ``nesterov``, ``raptr``,
``growth``; the stacking prefix has a second module, ``region``, for where Theorem 3.1 holds and
what survives the step to practice, and ``transformer`` holds stacking and growth claims on a
transformer): each holds its claims with their controls, the experiments
they share (sizes per scale as data) and the figure recipes drawn from those experiments. No claim
module imports another (an import-linter contract in pyproject.toml): set-ups that several train on
live in ``paper_checks.setups``, shared measures in ``paper_checks.measure``.

``load()`` imports every module of this package, which registers its claims and figures with
``paper_checks.registry`` (the registry imports no claim module, so there is no import loop).
"""

from __future__ import annotations

import importlib
import pkgutil


def load() -> None:
    """Import every claim module of this package (idempotent)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
