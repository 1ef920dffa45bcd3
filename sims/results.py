"""The result contract shared by every model family.

Every run (deep linear stagewise training, boosting, inexact NAG, the residual MLP, grown
training) returns a frozen ``RunResult`` or a subclass of it: the loss curve, a ``Status``, and the
derived quantities every consumer needs, each with one meaning:

* ``stages_done``: how many stages (steps, rounds) the curve covers, ``len(losses) - 1``;
* ``diverged_at``: the last stage recorded when the run diverged, else None;
* ``steps_to(target, relative=...)``: the first stage whose loss is at most ``target`` (absolute)
  or ``target * losses[0]`` (relative), and ``NEVER`` (infinity) when no stage reaches it. An
  unreached target counts as infinitely many steps, as in time-to-result benchmarks (AlgoPerf),
  so medians over seeds treat it as censored rather than as a number.

The Numba kernels return integer status codes; ``Status.from_code`` is the only place that reads
them, and the kernels use the named constants below.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from infra.checks import check_real

NEVER = math.inf  # steps to a target that was never reached
DIVERGENCE_FACTOR = 1e6  # a loss above this multiple of the run's first loss: diverged


def blew_up(loss: float, first: float) -> bool:
    """Whether a training loss marks divergence: not finite, or above ``DIVERGENCE_FACTOR`` times
    the run's first loss (at least 1, so that a run starting near 0 is not flagged by noise): a
    finite but exploding run is not a result to report as trained."""
    return not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(abs(first), 1.0)


# The status codes the Numba kernels return (module constants are compile-time constants there).
MAX_STAGES_CODE = 0
CONVERGED_CODE = 1
DIVERGED_CODE = 2


class Status(enum.StrEnum):
    """How a run ended: it used its whole budget, reached its target, or diverged (a non-finite
    loss, or one above a family's divergence factor times the initial loss)."""

    MAX_STAGES = "max_stages"
    CONVERGED = "converged"
    DIVERGED = "diverged"

    @property
    def meaning(self) -> str:
        """What the status says about the run, in words (``max_stages`` is no failure: a run
        without a target always uses its whole budget)."""
        return {
            Status.MAX_STAGES: "used its whole budget",
            Status.CONVERGED: "stopped at its target",
            Status.DIVERGED: "diverged",
        }[self]

    @classmethod
    def from_code(cls, code: int) -> Status:
        """The status of a kernel's integer code."""
        return _BY_CODE[int(code)]


_BY_CODE = {
    MAX_STAGES_CODE: Status.MAX_STAGES,
    CONVERGED_CODE: Status.CONVERGED,
    DIVERGED_CODE: Status.DIVERGED,
}


@dataclass(frozen=True)
class RunResult:
    """One run: ``losses[t]`` after t stages (index 0: before the first), and how it ended."""

    losses: np.ndarray
    status: Status

    @property
    def stages_done(self) -> int:
        return len(self.losses) - 1

    @property
    def diverged_at(self) -> int | None:
        """The last stage recorded, when the run diverged; else None."""
        return self.stages_done if self.status == Status.DIVERGED else None

    def stage_axis(self) -> np.ndarray:
        """The stage (step) count at which each loss was recorded: 0, 1, 2, ... unless a family
        records its losses at other steps."""
        return np.arange(len(self.losses))

    def first_reaching(self, target: float, *, relative: bool = True) -> int | None:
        """Index of the first loss ``<= target`` (times ``losses[0]`` when relative), else None."""
        target = check_real("target", target, low=0.0 if relative else None)
        threshold = target * self.losses[0] if relative else target
        if not math.isfinite(threshold):  # a run that starts non-finite has no relative target
            return None
        hits = np.flatnonzero(self.losses <= threshold)
        return int(hits[0]) if hits.size else None

    def steps_to(self, target: float, *, relative: bool = True) -> float:
        """Stages until the loss is at most ``target`` (relative: ``target * losses[0]``); an
        integer, or ``NEVER`` when no recorded stage reaches it."""
        index = self.first_reaching(target, relative=relative)
        return NEVER if index is None else int(self.stage_axis()[index])
