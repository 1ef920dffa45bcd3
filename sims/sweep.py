"""Resumable parameter sweeps: a grid of cells (model family x parameters x seeds) run in-process,
in local processes (the default) or on a Dask cluster, one Parquet row per cell.

Layout of a results directory: ``grid.json`` (the sweep it belongs to) and ``rows/<task>.parquet``
(one file per finished task of a few cells, written to a temporary file and renamed, so a sweep
killed at any moment leaves only complete files). Re-running skips stored cells. Each cell's seed
comes from ``SeedSequence`` applied to the cell's identity, so every backend gives identical rows;
the cell splits it into independent streams (problem, run) with ``independent_seeds``.

A family is a frozen dataclass of typed parameters with defaults and a ``run(seed) -> row``;
every run's metrics go through one ``result_row`` (``sims.cells``). The model families' cells
come from the family table (``sims.families.table``); the theory half's experiments are here. Execution, atomic writes and version stamps
are the task engine's (``infra.engine``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.checks import (
    MAX_DIMENSION,
    InputError,
    check_choice,
    check_int,
    check_kappa,
    check_real,
    check_sigma,
    check_steps,
)
from infra.engine import (
    BACKENDS,
    atomic_write,
    check_workers,
    directory_lock,
    execute,
    remove_leftovers,
    set_aside,
    versions,
    write_text_atomic,
)
from sims.cells import param, result_row
from sims.families.table import FAMILIES as MODEL_FAMILIES
from sims.problems import independent_seeds

MAX_CELLS = 100_000  # largest grid: parameter combinations times seeds
OBJECTIVES = ("quadratic", "logsumexp")


@dataclass(frozen=True)
class InexactNagCell:
    """NAG with injected errors (``sims.inexact.run_inexact_nag``) on a random quadratic or
    log-sum-exp objective of dimension ``d``; ``target`` relative to the initial gap."""

    d: int = param(20, "dimension")
    kappa: float = param(100.0, "condition number (L = 1, mu = 1/kappa)")
    objective: str = param("quadratic", "quadratic or logsumexp (quadratic + log-sum-exp)")
    eps: float = param(0.1, "size of the injected error")
    placement: str = param(
        "gradient", "where the error enters: gradient or momentum (look-ahead point)"
    )
    sizing: str = param(
        "relative_gradient", "error size absolute, relative to |x_k - x_k-1| or to |grad f(y_k)|"
    )
    direction: str = param("random", "random or adversarial (worst for the potential bound)")
    steps: int = param(2000, "step budget")
    target: float = param(1e-6, "stop once the gap is at most target times the initial gap")

    def __post_init__(self):
        from sims.inexact import check_options

        check_int("d", self.d, low=2, high=MAX_DIMENSION)
        check_kappa(self.kappa)
        check_choice("objective", self.objective, OBJECTIVES)
        check_options(self.steps, self.eps, self.placement, self.sizing, self.direction,
                      self.target)  # fmt: skip
        check_steps("steps", self.steps, low=1)

    def run(self, seed: int) -> dict:
        from sims.inexact import random_objective, run_inexact_nag

        problem_seed, error_seed = independent_seeds(seed, 2)
        rng = np.random.default_rng(problem_seed)
        f = random_objective(rng, self.d, self.kappa, self.objective == "quadratic")
        run = run_inexact_nag(
            f,
            rng.standard_normal(self.d),
            self.steps,
            self.eps,
            self.placement,
            self.sizing,
            self.direction,
            seed=error_seed,
            target=self.target,
        )
        return result_row(run, self.target)


def _check_region_problem(d, kappa, sigma=None) -> None:
    check_int("d", d, low=1, high=MAX_DIMENSION)
    check_kappa(kappa)
    if sigma is not None:
        check_sigma(sigma)


@dataclass(frozen=True)
class StackingRegionCell:
    """One point of the acceleration region (``sims.region.region_points``): euclidean or
    functional stacking with beta* on ``deep_linear_problem(d, kappa, sigma)``, its stages to the
    distance target against NAG's and GD's (closed form), and the spectral prediction of its tail
    rate (``theory.stacking_tail``)."""

    d: int = param(16, "dimension of x, W* and every layer")
    kappa: float = param(100.0, "condition number of Sigma")
    sigma: float = param(0.1, "distance of W* from the identity: W* = I + sigma G / sqrt(d)")
    layer_grad: str = param("euclidean", "euclidean (G P^T) or functional (G P^-1)")
    budget: float = param(4.0, "stage budget as a multiple of NAG's stages (beyond: never)")

    def __post_init__(self):
        from sims.families.deep_linear import LAYER_GRADS

        _check_region_problem(self.d, self.kappa, self.sigma)
        check_choice("layer_grad", self.layer_grad, LAYER_GRADS)
        check_real("budget", self.budget, low=1.0)

    def run(self, seed: int) -> dict:
        from sims.region import region_points

        (problem_seed,) = independent_seeds(seed, 1)
        point = region_points(
            self.d, self.kappa, [(self.sigma, problem_seed)], layer_grad=self.layer_grad,
            budget=self.budget,
        )[0]  # fmt: skip
        return {
            "status": point.status,
            "stack_stages": float(point.stack),
            "nag_stages": float(point.nag),
            "gd_stages": float(point.gd),
            "ratio_to_nag": float(point.ratio),
            "speedup_over_gd": float(point.speedup),
            "predicted_tail_rate": point.predicted_rate,
        }


@dataclass(frozen=True)
class StackingFrontierCell:
    """The largest sigma at which stacking keeps a criterion, by bisection in log sigma along one
    seed's ray (``sims.region.frontier``): ``nag-1.3`` (within 1.3x NAG's stages) or
    ``acceleration`` (at least sqrt(kappa)/2 times fewer stages than GD)."""

    d: int = param(16, "dimension of x, W* and every layer")
    kappa: float = param(100.0, "condition number of Sigma")
    criterion: str = param("nag-1.3", "nag-1.3 or acceleration")
    layer_grad: str = param("euclidean", "euclidean (G P^T) or functional (G P^-1)")
    low: float = param(0.01, "smallest sigma searched")
    high: float = param(4.0, "largest sigma searched")
    resolution: float = param(1.05, "stop when the bracket is within this factor")

    def __post_init__(self):
        from sims.families.deep_linear import LAYER_GRADS
        from sims.region import CRITERIA

        _check_region_problem(self.d, self.kappa)
        check_choice("criterion", self.criterion, CRITERIA)
        check_choice("layer_grad", self.layer_grad, LAYER_GRADS)
        check_real("low", self.low, low=0.0, low_open=True)
        check_real("high", self.high, low=self.low, low_open=True)
        check_sigma(self.high, "high")
        check_real("resolution", self.resolution, low=1.0, low_open=True)

    def run(self, seed: int) -> dict:
        from sims.region import frontier

        (problem_seed,) = independent_seeds(seed, 1)
        found = frontier(
            self.d, self.kappa, self.criterion, [problem_seed], low=self.low, high=self.high,
            resolution=self.resolution, layer_grad=self.layer_grad,
        )  # fmt: skip
        return {
            "status": f"censored {found.censored[0]}" if found.censored[0] else "found",
            "frontier_sigma": found.sigma[0],
            "censored": found.censored[0],
            "runs": found.runs,
        }


@dataclass(frozen=True)
class StackingPracticeCell:
    """Stacking with the theorem's assumptions relaxed (``sims.region.train_stagewise_variant``):
    several gradient steps per stage, all layers trained, other momentum schedules."""

    d: int = param(8, "dimension of x, W* and every layer")
    kappa: float = param(100.0, "condition number of Sigma")
    sigma: float = param(0.05, "distance of W* from the identity")
    beta: str = param(
        "nesterov",
        "new layer = b_t W_t: zero, nesterov (beta*), one (copy), convex ((t-1)/(t+2)), "
        "line-search, trainable-0, trainable-1",
    )
    steps_per_stage: int = param(1, "gradient steps per stage")
    layers: str = param("new", "trained layers: new, all (step 1/L) or all-scaled (1/(L depth))")
    stages: int = param(2000, "stage budget")

    def __post_init__(self):
        from sims.region import SCHEDULES, check_variant

        _check_region_problem(self.d, self.kappa, self.sigma)
        check_choice("beta", self.beta, SCHEDULES)  # named as the grid names it
        check_variant(self.beta, self.steps_per_stage, self.layers)
        check_steps("stages", self.stages, low=1)

    def run(self, seed: int) -> dict:
        from sims.problems import deep_linear_problem
        from sims.region import distance_target, reference_stages, train_stagewise_variant

        (problem_seed,) = independent_seeds(seed, 1)
        sigma_mat, w_star = deep_linear_problem(self.d, self.kappa, self.sigma, seed=problem_seed)
        target = distance_target(sigma_mat, w_star)
        run = train_stagewise_variant(
            sigma_mat, w_star, self.stages, schedule=self.beta,
            steps_per_stage=self.steps_per_stage, layers=self.layers, target=target,
        )  # fmt: skip
        return result_row(run, target) | {
            "gradient_steps_to_target": float(run.steps_to(target)) * self.steps_per_stage,
            "nag_stages_to_target": reference_stages(sigma_mat, w_star, "nag", self.stages),
        }


# The model families' cells (sims.families.table), then the experiments of the theory half.
FAMILIES = {name: f.cell for name, f in MODEL_FAMILIES.items() if f.cell is not None} | {
    "inexact_nag": InexactNagCell,
    "stacking_region": StackingRegionCell,
    "stacking_frontier": StackingFrontierCell,
    "stacking_practice": StackingPracticeCell,
}


def describe_families() -> str:
    """Every family with what it runs, and its parameters with their defaults and meanings."""
    lines = []
    for name, cell in FAMILIES.items():
        lines += [f"{name}: {' '.join(cell.__doc__.split())}"]
        for f in dataclasses.fields(cell):
            lines.append(f"  {f.name} = {f.default!r}: {f.metadata['meaning']}")
        lines.append("")
    return "\n".join(lines).rstrip()


def family_defaults(family: str) -> dict:
    """The parameters of a family with their defaults."""
    return {f.name: f.default for f in dataclasses.fields(FAMILIES[family])}


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
            spec = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"grid file {str(path)!r} does not exist") from None
        except IsADirectoryError:
            raise InputError(f"grid file {str(path)!r} is a directory, not a TOML file") from None
        except OSError as exc:
            raise InputError(f"grid file {str(path)!r} cannot be read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"grid file {str(path)!r} is not text (UTF-8 TOML)") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"grid file {str(path)!r} is not valid TOML: {exc}") from None
    if not isinstance(spec, dict):
        raise InputError("grid must be a dict or a TOML file")
    unknown = set(spec) - {"family", "seeds", "parameters"}
    if unknown:
        raise InputError(
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
        raise InputError("seeds must be a positive count or a non-empty list of integers >= 0")
    _check_distinct("seeds", seeds)
    parameters = spec.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InputError("parameters must be a table of name = [values]")
    defaults = family_defaults(family)
    for name, values in parameters.items():
        if name not in defaults:
            raise InputError(
                f"unknown parameter {name!r} for family {family!r}; known: {', '.join(defaults)}"
            )
        if not isinstance(values, list) or not values:
            raise InputError(f"parameter {name!r} must be a non-empty list of values")
        for value in values:
            _check_grid_value(family, name, value, defaults[name])
        _check_distinct(f"parameter {name!r}", values)
    n_cells = math.prod(len(v) for v in parameters.values()) * len(seeds)
    if n_cells > MAX_CELLS:
        raise InputError(
            f"grid too large: {n_cells:.3g} cells (parameter combinations times seeds), limit "
            f"{MAX_CELLS}; split it into several sweeps"
        )
    grid = {
        "family": family,
        "seeds": seeds,
        "parameters": {k: list(v) for k, v in sorted(parameters.items())},
    }
    for params in _combinations(grid):  # every cell's parameters, checked before any runs
        try:
            FAMILIES[family](**{**defaults, **params})
        except InputError as exc:
            cell = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise InputError(f"{exc} (grid cell {cell})" if cell else str(exc)) from None
    return grid


def _combinations(grid: dict) -> list[dict]:
    """The parameter values of each cell of a parsed grid (without seeds or defaults)."""
    names = list(grid["parameters"])
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*grid["parameters"].values())
    ]


def _check_distinct(name: str, values: list) -> None:
    """A grid lists each value once: a repeated value would run, store and count the same cell
    twice (1 and 1.0 are the same value)."""
    seen, twice = set(), set()
    for value in values:  # a set, not a scan of the earlier values: seeds may number 100000
        (twice if value in seen else seen).add(value)
    repeated = sorted(repr(v) for v in twice)
    if repeated:
        raise InputError(f"{name} lists {', '.join(repeated)} more than once; give each value once")


def _check_grid_value(family: str, name: str, value, default) -> None:
    """A grid value has its default's type (a number where the default is a number or None) and
    numbers are finite; ranges are checked by the cell's own model code."""
    where = f"parameter {name!r} of family {family!r}"
    if isinstance(default, str):
        if not isinstance(value, str):
            raise InputError(f"{where} takes names (strings), got {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where} takes numbers, got {value!r}")
    if not math.isfinite(value):
        raise InputError(f"{where} must be finite, got {value!r}")
    if isinstance(default, int) and not isinstance(value, int):
        raise InputError(f"{where} takes integers, got {value!r}")


def cells(grid: dict) -> list[Cell]:
    """Every cell of a parsed grid, keyed by a hash of (family, parameters, seed index)."""
    family = grid["family"]
    out = []
    for values in _combinations(grid):
        params = {**family_defaults(family), **values}
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


def run_cells(batch: list[Cell]) -> list[dict]:
    """Run a task's cells; a cell that raises is recorded with its error, not propagated."""
    rows = []
    for cell in batch:
        start = time.perf_counter()
        try:
            metrics, error = FAMILIES[cell.family](**cell.params).run(cell.seed), ""
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
                **{f"version_{k}": v for k, v in versions().items()},
            }
        )
    return rows


def _write_rows(rows: list[dict], directory: Path) -> None:
    import pandas as pd

    task = hashlib.sha256("".join(r["key"] for r in rows).encode()).hexdigest()[:16]
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].astype(str)
    atomic_write(
        directory / "rows" / f"{task}.parquet", lambda tmp: frame.to_parquet(tmp, index=False)
    )


def load_results(directory) -> pd.DataFrame:  # noqa: F821
    """All stored rows of a results directory as one DataFrame (one row per cell). A file that
    cannot be read is set aside (``infra.engine.set_aside``: renamed, with a warning), so its
    cells count as not run and a resumed sweep runs them again."""
    import pandas as pd

    frames = []
    for path in sorted(Path(directory, "rows").glob("*.parquet")):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # truncated, empty or not Parquet: pyarrow raises several kinds
            set_aside(path, " ".join(f"{type(exc).__name__}: {exc}".split())[:200])
            continue
        if "key" not in frame.columns or "status" not in frame.columns:
            set_aside(path, "no 'key' or 'status' column")
            continue
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def prepare(grid: dict, directory) -> tuple[Path, list[Cell]]:
    """Create or reopen a results directory for ``grid``; return it and the cells still to run.
    A directory holding another sweep is refused (ValueError), nothing in it touched."""
    directory = Path(directory)
    stored = directory / "grid.json"
    if stored.exists():
        try:
            previous = json.loads(stored.read_text())
        except json.JSONDecodeError:
            raise InputError(
                f"{str(stored)!r} is corrupt; not a stagewise results directory"
            ) from None
        if previous != json.loads(json.dumps(grid)):
            raise InputError(
                f"{str(directory)!r} holds the rows of a different sweep; choose "
                "another --out directory"
            )
    elif directory.exists() and not directory.is_dir():
        raise InputError(f"--out: {str(directory)!r} is a file, not a directory")
    elif directory.exists() and any(directory.iterdir()):
        raise InputError(f"{str(directory)!r} is not empty and holds no stagewise sweep")
    try:
        (directory / "rows").mkdir(parents=True, exist_ok=True)
        if not stored.exists():
            write_text_atomic(stored, json.dumps(grid, indent=1))
    except OSError as exc:
        raise InputError(f"cannot write to {str(directory)!r} ({exc.strerror})") from None
    remove_leftovers(directory / "rows")  # a task killed mid-write; its cells run again
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
    check_workers(workers)
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

    with directory_lock(directory, "sweep"):
        execute(run_cells, tasks, record, backend, workers, scheduler)
    return done


CENSORED_METRICS = (  # inf: never reached
    "stages_to_target", "nag_stages_to_target", "gradient_steps_to_target", "stack_stages",
    "ratio_to_nag",
)  # fmt: skip
SUMMARY_METRICS = (
    *CENSORED_METRICS, "frontier_sigma", "speedup_over_gd", "final_loss", "seconds",
)  # fmt: skip
QUARTILES = {"q1": 0.25, "median": 0.5, "q3": 0.75}


def censored_quantiles(values) -> dict[str, float]:
    """First quartile, median and third quartile of ``values``, in which ``inf`` stands for a
    target never reached: empirical quantiles (inverted CDF, no interpolation), so a quantile is
    finite exactly when at least that fraction of the values is finite, and an unreached target
    is never averaged with a number."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return dict.fromkeys(QUARTILES, np.nan)
    found = np.quantile(values, list(QUARTILES.values()), method="inverted_cdf")
    return dict(zip(QUARTILES, map(float, found), strict=True))


def summary(directory) -> pd.DataFrame:  # noqa: F821
    """One row per parameter combination (over seeds): for each metric its quartiles
    (``<metric>_q1``, ``_median``, ``_q3``, see ``censored_quantiles``), for the stages to a
    target also how many cells reached it (``<metric>_reached``, "k/n"), and the counts of cells
    and of failed cells (errors are left out of the quantiles)."""
    import pandas as pd

    frame = load_results(directory)
    if frame.empty:
        raise InputError(f"{str(directory)!r} holds no stored rows")
    params = [
        c for c in frame.columns if c.startswith("param_") and frame[c].nunique(dropna=False) > 1
    ]
    metrics = [c for c in SUMMARY_METRICS if c in frame.columns]
    rows = []
    grouped = frame.groupby(params, dropna=False) if params else [((), frame)]
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        ran = part[part["status"] != "error"]
        row = dict(zip(params, key, strict=True))
        row["cells"] = len(part)
        row["errors"] = len(part) - len(ran)
        for metric in metrics:
            values = ran[metric].to_numpy(dtype=float)
            for name, value in censored_quantiles(values).items():
                row[f"{metric}_{name}"] = value
            if metric in CENSORED_METRICS:
                row[f"{metric}_reached"] = f"{int(np.isfinite(values).sum())}/{len(values)}"
        rows.append(row)
    return pd.DataFrame(rows)
