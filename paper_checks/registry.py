"""The claims registry: what each claim checks, where it comes from, and how it is measured.

A claim is registered with the ``claim`` decorator on a function ``check(scale, rng) -> Outcome``.
Its verdict is ``pass`` or ``fail`` as the check decides against the registered expectation, or
``error`` when the check raised; either way the measured numbers are kept.
"""

from __future__ import annotations

import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PROVENANCES = ("paper", "secondary", "reconstructed", "standard")
SCALES = ("quick", "paper")
VERDICTS = ("pass", "fail", "error")


@dataclass(frozen=True)
class Outcome:
    """What a check returns: whether the expectation held, the numbers, a one-line summary."""

    passed: bool
    measured: dict[str, Any]
    summary: str


@dataclass(frozen=True)
class Claim:
    """A checkable statement with its source, provenance tag and expectation."""

    id: str
    source: str
    provenance: str
    statement: str
    expected: str
    check: Callable[[str, np.random.Generator], Outcome]
    scales: tuple[str, ...] = SCALES
    figures: tuple[str, ...] = ()
    group: str = ""  # claims of one group share a cached experiment and run in one process
    minutes: float = 0.0  # rough paper-scale cost of the group; long groups are started first

    def rng(self) -> np.random.Generator:
        """The claim's own generator: seeded from its id, so every run gives the same numbers."""
        return np.random.default_rng(np.random.SeedSequence(zlib.crc32(self.id.encode())))


@dataclass(frozen=True)
class Verdict:
    """A claim's result at one scale."""

    claim: Claim
    scale: str
    verdict: str
    measured: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    seconds: float = 0.0
    shared_by: int = 1  # claims of one group share one experiment: seconds is the group's time


REGISTRY: dict[str, Claim] = {}

# how to install what a claim may import beyond the main dependencies
INSTALL_HINTS = {
    "PEPit": "pip install 'stagewise[pep]'",
    "cvxpy": "pip install 'stagewise[pep]'",
    "distributed": "pip install 'stagewise[dist]'",
    "cupy": "pip install 'stagewise[gpu]'",
    "torch": "pip install torch",
}


def claim(
    *,
    id: str,
    source: str,
    provenance: str,
    statement: str,
    expected: str,
    scales: tuple[str, ...] = SCALES,
    figures: tuple[str, ...] = (),
    group: str = "",
    minutes: float = 0.0,
):
    """Register the decorated ``check(scale, rng) -> Outcome`` as a claim. Claims naming the same
    ``group`` share a cached experiment: ``stagewise check`` runs them in one task, one process.
    ``minutes`` (the group's rough cost at paper scale) only orders the tasks, longest first."""
    if provenance not in PROVENANCES:
        raise ValueError(f"provenance must be one of {PROVENANCES}, got {provenance!r}")
    if not set(scales) <= set(SCALES):
        raise ValueError(f"scales must be a subset of {SCALES}, got {scales!r}")

    def register(check):
        if id in REGISTRY:
            raise ValueError(f"claim id {id!r} is registered twice")
        REGISTRY[id] = Claim(
            id, source, provenance, statement, expected, check, tuple(scales), tuple(figures),
            group or id, minutes,
        )  # fmt: skip
        return check

    return register


def run_claim(c: Claim, scale: str) -> Verdict:
    """Run one claim; an exception becomes the verdict ``error`` carrying its message."""
    start = time.perf_counter()
    try:
        outcome = c.check(scale, c.rng())
    except Exception as exc:  # a broken check is a finding, not a crash of the whole run
        last = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            package = exc.name.partition(".")[0]
            message = (
                f"needs the optional package {package!r}, which is not installed: "
                f"{INSTALL_HINTS.get(package, f'pip install {package}')}"
            )
        return Verdict(
            c,
            scale,
            "error",
            {"exception": message, "where": f"{last.filename}:{last.lineno}"},
            message,
            time.perf_counter() - start,
        )
    return Verdict(
        c,
        scale,
        "pass" if outcome.passed else "fail",
        outcome.measured,
        outcome.summary,
        time.perf_counter() - start,
    )
