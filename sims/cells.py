"""What every sweep cell shares (``sims.sweep``): a cell is a frozen dataclass of typed parameters,
each declared with ``param`` (its default and meaning, shown by ``stagewise sweep --families``),
and a ``run(seed) -> row`` whose run metrics go through ``result_row``."""

from __future__ import annotations

import dataclasses
import math

from sims.results import RunResult, Status


def param(default, meaning: str):
    """A family parameter: its default and what it means (``stagewise sweep --families``)."""
    return dataclasses.field(default=default, metadata={"meaning": meaning})


def result_row(run: RunResult, target: float | None = None) -> dict:
    """The metrics of one run, the same for every family: status, stages done, first and last
    loss and, with a (relative) ``target``, the stages to reach it (``inf`` when never reached or
    when the run diverged: a censored value, never a number to average)."""
    row = {
        "status": str(run.status),
        "stages_done": run.stages_done,
        "initial_loss": float(run.losses[0]),
        "final_loss": float(run.losses[-1]),
    }
    if target is not None:  # a diverged run never counts as having reached the target
        diverged = run.status == Status.DIVERGED
        row["stages_to_target"] = math.inf if diverged else float(run.steps_to(target))
    return row
