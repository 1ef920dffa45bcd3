"""Resumable parameter sweeps: a grid of cells (model family x parameters x seeds) run in-process,
in local processes (the default) or on a Dask cluster, one Parquet row per cell.

Layout of a results directory: ``grid.json`` (the sweep it belongs to) and ``rows/<task>.parquet``
(one file per finished task of a few cells, written to a temporary file and renamed, so a sweep
killed at any moment leaves only complete files). Re-running skips stored cells. Each cell's seed
comes from ``SeedSequence`` applied to the cell's identity, so every backend gives identical rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from theory._checks import check_choice, check_int

BACKENDS = ("inprocess", "processes", "dask")
MAX_WORKERS = 1024


def _deep_linear_cell(p: dict, seed: int) -> dict:
    from sims.deep_linear import nesterov_reference, train_stagewise
    from sims.problems import deep_linear_problem

    sigma_mat, w_star = deep_linear_problem(p["d"], p["kappa"], p["sigma"], seed=seed)
    options = {k: p[k] for k in ("init", "layer_grad", "random_scale") if k in p}
    if p.get("beta") is not None:
        options["beta"] = p["beta"]
    if p.get("device", "cpu") == "gpu":
        from sims.deep_linear_xp import train_stagewise_xp

        run = train_stagewise_xp(
            sigma_mat, w_star, p["stages"], device="gpu", target=p["target"], **options
        )
    else:
        run = train_stagewise(
            sigma_mat, w_star, p["stages"], seed=seed, target=p["target"], **options
        )
    nag = nesterov_reference(sigma_mat, w_star, p["stages"]).stages_to(p["target"])
    reached = run.stages_to(p["target"])
    return {
        "status": run.status,
        "stages_to_target": -1 if reached is None else reached,
        "nag_stages_to_target": -1 if nag is None else nag,
        "final_loss": float(run.losses[-1]),
        "initial_loss": float(run.losses[0]),
    }


def _boosting_cell(p: dict, seed: int) -> dict:
    from sims.boosting import train_ensemble
    from sims.problems import classification_problem, regression_problem

    make = regression_problem if p["loss"] == "squared" else classification_problem
    X, y = make(p["n"], p["p"], p["kappa"], p["noise"], seed=seed)
    options = {k: p[k] for k in ("learner", "init", "loss", "schedule") if k in p}
    if p.get("beta") is not None:
        options["beta"] = p["beta"]
    run = train_ensemble(X, y, p["stages"], seed=seed, **options)
    return {
        "status": run.status,
        "final_loss": float(run.train_losses[-1]),
        "initial_loss": float(run.train_losses[0]),
    }


def _inexact_cell(p: dict, seed: int) -> dict:
    from sims.inexact import random_objective, run_inexact_nag

    rng = np.random.default_rng(seed)
    f = random_objective(rng, p["d"], p["kappa"], p["objective"] == "quadratic")
    run = run_inexact_nag(
        f,
        rng.standard_normal(p["d"]),
        p["steps"],
        p["eps"],
        p["placement"],
        p["sizing"],
        p["direction"],
        seed=seed,
        target=p["target"],
    )
    reached = run.steps_to(p["target"])
    return {
        "status": "converged" if reached is not None else "max_stages",
        "stages_to_target": -1 if reached is None else reached,
        "final_gap": float(run.gaps[-1]),
    }


@dataclass(frozen=True)
class Family:
    """A model family: its parameters with defaults, and the function that runs one cell."""

    defaults: dict
    run: Callable[[dict, int], dict]


FAMILIES = {
    "deep_linear": Family(
        {
            "d": 8,
            "kappa": 100.0,
            "sigma": 0.05,
            "init": "stack",
            "layer_grad": "euclidean",
            "beta": None,
            "random_scale": 0.0,
            "stages": 1000,
            "target": 1e-6,
            "device": "cpu",
        },
        _deep_linear_cell,
    ),
    "boosting": Family(
        {
            "n": 200,
            "p": 10,
            "kappa": 100.0,
            "noise": 0.3,
            "learner": "linear",
            "init": "stack",
            "loss": "squared",
            "schedule": "constant",
            "beta": None,
            "stages": 500,
        },
        _boosting_cell,
    ),
    "inexact_nag": Family(
        {
            "d": 20,
            "kappa": 100.0,
            "objective": "quadratic",
            "eps": 0.1,
            "placement": "gradient",
            "sizing": "relative_gradient",
            "direction": "random",
            "steps": 2000,
            "target": 1e-6,
        },
        _inexact_cell,
    ),
}


@dataclass(frozen=True)
class Cell:
    key: str
    family: str
    params: dict
    seed_index: int
    seed: int


def parse_grid(spec) -> dict:
    """Validate a grid given as a dict or as the path of a TOML file:
    ``family = "..."``, ``seeds = N`` (or a list of ints), ``[parameters]`` name -> list."""
    if isinstance(spec, str | Path):
        path = Path(spec)
        try:
            spec = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"grid file {str(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"grid file {str(path)!r} is not valid TOML: {exc}") from None
    if not isinstance(spec, dict):
        raise ValueError("grid must be a dict or a TOML file")
    unknown = set(spec) - {"family", "seeds", "parameters"}
    if unknown:
        raise ValueError(
            f"unknown grid key(s) {sorted(unknown)}; expected family, seeds, parameters"
        )
    family = check_choice("family", spec.get("family"), tuple(FAMILIES))
    seeds = spec.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(check_int("seeds", seeds, low=1, high=100_000)))
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        raise ValueError("seeds must be a positive count or a non-empty list of integers >= 0")
    parameters = spec.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ValueError("parameters must be a table of name = [values]")
    defaults = FAMILIES[family].defaults
    for name, values in parameters.items():
        if name not in defaults:
            raise ValueError(
                f"unknown parameter {name!r} for family {family!r}; known: {', '.join(defaults)}"
            )
        if not isinstance(values, list) or not values:
            raise ValueError(f"parameter {name!r} must be a non-empty list of values")
        for value in values:
            _check_grid_value(family, name, value, defaults[name])
    return {
        "family": family,
        "seeds": seeds,
        "parameters": {k: list(v) for k, v in sorted(parameters.items())},
    }


def _check_grid_value(family: str, name: str, value, default) -> None:
    """A grid value has its default's type (a number where the default is a number or None) and
    numbers are finite; ranges are checked by the cell's own model code."""
    where = f"parameter {name!r} of family {family!r}"
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"{where} takes names (strings), got {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} takes numbers, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value!r}")
    if isinstance(default, int) and not isinstance(value, int):
        raise ValueError(f"{where} takes integers, got {value!r}")


def cells(grid: dict) -> list[Cell]:
    """Every cell of a parsed grid, keyed by a hash of (family, parameters, seed index)."""
    family = grid["family"]
    names = list(grid["parameters"])
    out = []
    for values in itertools.product(*grid["parameters"].values()):
        params = {**FAMILIES[family].defaults, **dict(zip(names, values, strict=True))}
        for seed_index in grid["seeds"]:
            identity = json.dumps(
                {"family": family, "params": params, "seed": seed_index},
                sort_keys=True,
                default=str,
            )
            digest = hashlib.sha256(identity.encode()).digest()
            seed = int(
                np.random.SeedSequence(int.from_bytes(digest[:16], "little")).generate_state(
                    1, dtype=np.uint32
                )[0]
            )
            out.append(Cell(digest.hex()[:16], family, params, seed_index, seed))
    return out


def versions() -> dict:
    out = {}
    for name in ("stagewise", "numpy", "numba", "scipy"):
        try:
            out[f"version_{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[f"version_{name}"] = "not installed"
    return out


def run_cells(batch: list[Cell]) -> list[dict]:
    """Run a task's cells; a cell that raises is recorded with its error, not propagated."""
    rows = []
    for cell in batch:
        start = time.perf_counter()
        try:
            metrics, error = FAMILIES[cell.family].run(cell.params, cell.seed), ""
        except Exception as exc:  # recorded as a finding of the sweep, not a crash
            metrics, error = {"status": "error"}, f"{type(exc).__name__}: {exc}"
        rows.append(
            {
                "key": cell.key,
                "family": cell.family,
                "seed_index": cell.seed_index,
                "cell_seed": cell.seed,
                **{f"param_{k}": v for k, v in cell.params.items()},
                **metrics,
                "error": error,
                "seconds": time.perf_counter() - start,
                **versions(),
            }
        )
    return rows


def _write_rows(rows: list[dict], directory: Path) -> None:
    import pandas as pd

    task = hashlib.sha256("".join(r["key"] for r in rows).encode()).hexdigest()[:16]
    final = directory / "rows" / f"{task}.parquet"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype(str)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, final)


def load_results(directory) -> pd.DataFrame:  # noqa: F821
    """All stored rows of a results directory as one DataFrame (one row per cell)."""
    import pandas as pd

    files = sorted(Path(directory, "rows").glob("*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def prepare(grid: dict, directory) -> tuple[Path, list[Cell]]:
    """Create or reopen a results directory for ``grid``; return it and the cells still to run.
    A directory holding another sweep is refused (ValueError), nothing in it touched."""
    directory = Path(directory)
    stored = directory / "grid.json"
    if stored.exists():
        try:
            previous = json.loads(stored.read_text())
        except json.JSONDecodeError:
            raise ValueError(
                f"{str(stored)!r} is corrupt; not a stagewise results directory"
            ) from None
        if previous != json.loads(json.dumps(grid)):
            raise ValueError(
                f"{str(directory)!r} holds the rows of a different sweep; choose "
                "another --out directory"
            )
    elif directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{str(directory)!r} is not empty and holds no stagewise sweep")
    try:
        (directory / "rows").mkdir(parents=True, exist_ok=True)
        if not stored.exists():
            tmp = stored.with_name(".grid.json.tmp")
            tmp.write_text(json.dumps(grid, indent=1))
            os.replace(tmp, stored)
    except OSError as exc:
        raise ValueError(f"cannot write to {str(directory)!r} ({exc.strerror})") from None
    for leftover in (directory / "rows").glob(".*.tmp"):
        leftover.unlink()  # a task killed mid-write; its cells run again
    done = set(load_results(directory).get("key", []))
    return directory, [c for c in cells(grid) if c.key not in done]


def batches(todo: list[Cell], batch_size: int) -> list[list[Cell]]:
    return [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]


def run_sweep(
    spec,
    directory,
    backend: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    batch_size: int = 4,
    progress=None,
) -> int:
    """Run the cells of ``spec`` not yet stored in ``directory``; returns how many ran.
    ``progress(done, failed, remaining)`` is called after each task."""
    grid = parse_grid(spec)
    check_choice("backend", backend, BACKENDS)
    batch_size = check_int("batch_size", batch_size, low=1)
    if workers is not None:
        check_int("workers", workers, low=1, high=MAX_WORKERS)
    directory, todo = prepare(grid, directory)
    tasks = batches(todo, batch_size)
    done = failed = 0

    def record(rows):
        nonlocal done, failed
        _write_rows(rows, directory)
        done += len(rows)
        failed += sum(r["status"] == "error" for r in rows)
        if progress is not None:
            progress(done, failed, len(todo) - done)

    execute(run_cells, tasks, record, backend, workers, scheduler)
    return done


def execute(function, tasks, on_result, backend="processes", workers=None, scheduler=None):
    """Call ``function(task)`` for every task: in this process, in ``workers`` local processes
    (spawned, one BLAS/Numba thread each) or on a Dask cluster (``scheduler`` address, or a local
    cluster of ``workers`` processes). ``on_result(result)`` runs here, in completion order; local
    processes start the tasks in the order given."""
    check_choice("backend", backend, BACKENDS)
    workers = (
        os.cpu_count() or 1
        if workers is None
        else check_int("workers", workers, low=1, high=MAX_WORKERS)
    )
    if backend == "inprocess" or not tasks:
        for task in tasks:
            on_result(function(task))
    elif backend == "processes":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn, not fork: the parent may already run Numba's OpenMP thread pool
        context = multiprocessing.get_context("spawn")
        with (
            _one_thread_per_child(),
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
        ):
            for future in as_completed([pool.submit(function, t) for t in tasks]):
                on_result(future.result())
    else:
        client = _dask_client(scheduler, workers)
        try:
            from distributed import as_completed as dask_completed

            for future in dask_completed(client.map(function, tasks, pure=False)):
                on_result(future.result())
        finally:
            client.close()
            if scheduler is None:
                client.cluster.close()


THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


@contextlib.contextmanager
def _one_thread_per_child():
    """Children spawned inside see one BLAS/OpenMP/Numba thread each (the cores are shared out
    between processes, not oversubscribed); this process's environment is restored after."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _dask_client(scheduler: str | None, workers: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError(
            "the dask backend needs the 'dist' extra: pip install 'stagewise[dist]'"
        ) from None
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        return Client(cluster)
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(
            f"cannot reach the Dask scheduler at {scheduler!r} within 10 s ({type(exc).__name__})"
        ) from None


def summary(directory) -> pd.DataFrame:  # noqa: F821
    """Medians of the metrics per parameter combination (over seeds), with counts and failures."""
    frame = load_results(directory)
    if frame.empty:
        raise ValueError(f"{str(directory)!r} holds no stored rows")
    params = [
        c for c in frame.columns if c.startswith("param_") and frame[c].nunique(dropna=False) > 1
    ]
    metrics = [
        c
        for c in ("stages_to_target", "nag_stages_to_target", "final_loss", "final_gap", "seconds")
        if c in frame.columns
    ]
    grouped = frame.groupby(params, dropna=False) if params else frame.groupby(lambda _: "all")
    table = grouped[metrics].median()
    table["cells"] = grouped.size()
    table["errors"] = grouped["status"].apply(lambda s: int((s == "error").sum()))
    return table.reset_index()
