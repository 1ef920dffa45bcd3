"""`stagewise bench`: wall-time ratios measured in one run (best of repeats, JIT warm).

Each model family times its own kernels against what a user would otherwise write, in its
``bench.py`` (``sims/families/<name>/bench.py``: ``bench(repeats, smoke)`` and its peers, timed
with ``sims.timing``), read through the family table (``sims.families.table``). This module holds
the sections that span families: the stages-to-target table and the sweep backends.

``smoke=True`` runs a section at seconds-long sizes that exercise every code path (``stagewise
bench --smoke``; the test suite runs it, so a section cannot break unnoticed; its timings mean
nothing); the default sizes give the numbers the README quotes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sims.timing import best_time


@dataclass(frozen=True)
class Sizes:
    """The sizes of the sections that span families."""

    rate_kappas: tuple[float, ...]  # condition numbers of the stages-to-target table
    rate_seeds: int
    sweep_seeds: int  # per sigma of the 4-sigma sweep
    sweep_cell_seconds: float


FULL = Sizes(rate_kappas=(10, 100, 1000), rate_seeds=5, sweep_seeds=16, sweep_cell_seconds=0.5)
SMOKE = Sizes(rate_kappas=(10,), rate_seeds=2, sweep_seeds=1, sweep_cell_seconds=0.01)


def rate_table(smoke: bool = False) -> list[dict]:
    """AlgoPerf-style time to result: stages to 1e-6 (relative) per family and kappa, median and
    inter-quartile range over seeds (a run that never reaches the target counts as infinite),
    success rate, fitted per-stage loss factor next to the theory's, and the speed-up of stacking
    over zero init next to the sqrt(kappa) prediction."""
    from sims.families.boosting import train_ensemble
    from sims.families.deep_linear import train_stagewise
    from sims.problems import deep_linear_problem, regression_problem
    from theory.rates import gd_rate, nag_rate

    sizes = SMOKE if smoke else FULL

    def deep_linear(kappa, init, seed):
        s, w = deep_linear_problem(8, kappa, 0.05, seed=seed)
        budget = int(30 * kappa + 200) if init == "zero" else int(60 * np.sqrt(kappa) + 200)
        return train_stagewise(s, w, budget, init=init, target=1e-6).steps_to(1e-6)

    def boosting(kappa, init, seed):
        X, y = regression_problem(200, 10, kappa, 0.0, seed=seed)
        budget = int(30 * kappa + 200) if init == "zero" else int(60 * np.sqrt(kappa) + 200)
        return train_ensemble(X, y, budget, init=init).steps_to(
            1e-6 * np.mean(y**2) / 2, relative=False
        )

    rows = []
    for family, run in (
        ("deep linear (sigma=0.05, d=8)", deep_linear),
        ("boosting, linear learners, squared loss (noiseless)", boosting),
    ):
        for kappa in sizes.rate_kappas:
            steps = {
                init: np.array([run(kappa, init, s) for s in range(sizes.rate_seeds)], dtype=float)
                for init in ("stack", "zero")
            }
            row = {"family": family, "kappa": kappa}
            for init, values in steps.items():
                finite = values[np.isfinite(values)]
                q1, med, q3 = np.percentile(values, [25, 50, 75])
                row[init] = {
                    "median": med,
                    "iqr": [q1, q3],
                    "success": float(np.isfinite(values).mean()),
                    "fitted_loss_factor": float(np.exp(np.log(1e-6) / np.median(finite)))
                    if finite.size
                    else None,
                }
            row["theory_loss_factor"] = {"stack": nag_rate(kappa) ** 2, "zero": gd_rate(kappa) ** 2}
            row["speedup"] = row["zero"]["median"] / row["stack"]["median"]
            row["sqrt_kappa"] = float(np.sqrt(kappa))
            rows.append(row)
    return rows


def sweep_bench(smoke: bool = False, workers: int = 2) -> list[dict]:
    """A 64-cell sweep (16 seeds by 4 sigmas at full size) of cells taking about 0.5 s each: in-process versus ``workers`` local
    processes versus a local Dask cluster of ``workers`` processes; identical rows checked."""
    import tempfile

    import pandas as pd

    from sims import sweep
    from sims.families.deep_linear import train_stagewise
    from sims.problems import deep_linear_problem

    sizes = SMOKE if smoke else FULL

    sigma, w_star = deep_linear_problem(16, 1e4, 0.05, seed=0)
    train_stagewise(sigma, w_star, 2)
    per_stage = best_time(lambda: train_stagewise(sigma, w_star, 2000, init="zero"), 3) / 2000
    stages = max(1, int(sizes.sweep_cell_seconds / per_stage))
    grid = {
        "family": "deep_linear",
        "seeds": sizes.sweep_seeds,
        "parameters": {
            "d": [16],
            "kappa": [1e4],
            "init": ["zero"],
            "target": [0.0],
            "stages": [stages],
            "sigma": [0.05, 0.1, 0.2, 0.3],
        },
    }
    rows, frames = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("inprocess", "processes", "dask"):
            start = time.perf_counter()
            sweep.run_sweep(grid, f"{tmp}/{backend}", backend=backend, workers=workers)
            seconds = time.perf_counter() - start
            frames[backend] = (
                sweep.load_results(f"{tmp}/{backend}")
                .drop(columns="seconds")
                .sort_values("key")
                .reset_index(drop=True)
            )
            rows.append(
                {
                    "benchmark": f"{4 * sizes.sweep_seeds}-cell sweep "
                    f"(~{sizes.sweep_cell_seconds} s per cell), {backend}",
                    "seconds": seconds,
                }
            )
        for row in rows[1:]:
            row["speedup_over_inprocess"] = rows[0]["seconds"] / row["seconds"]
            row["target"] = f">= 1.6x with {workers} workers"
            row["met"] = row["speedup_over_inprocess"] >= 1.6
        for backend in ("processes", "dask"):
            pd.testing.assert_frame_equal(frames["inprocess"], frames[backend])
        rows[0]["identical_rows_across_backends"] = True
    return rows
