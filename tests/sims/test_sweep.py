"""The sweep engine: grid validation, identical rows across backends, resumption after SIGKILL,
errors recorded per cell, and refusal to mix sweeps."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from sims import sweep
from sims.families.deep_linear.cell import DeepLinearCell

FAST = {
    "family": "deep_linear",
    "seeds": 2,
    "parameters": {"kappa": [10, 100], "init": ["stack", "zero"], "stages": [400]},
}


def _rows(directory):
    frame = sweep.load_results(directory).drop(columns=["seconds"])
    return frame.sort_values("key").reset_index(drop=True)


def test_grid_validation():
    with pytest.raises(ValueError, match="family"):
        sweep.parse_grid({"family": "resnet"})
    with pytest.raises(ValueError, match="unknown parameter 'depth'"):
        sweep.parse_grid({"family": "deep_linear", "parameters": {"depth": [3]}})
    with pytest.raises(ValueError, match="non-empty list"):
        sweep.parse_grid({"family": "deep_linear", "parameters": {"kappa": 10}})
    with pytest.raises(ValueError, match="seeds"):
        sweep.parse_grid({"family": "deep_linear", "seeds": -1})
    with pytest.raises(ValueError, match="unknown grid key"):
        sweep.parse_grid({"family": "deep_linear", "sedes": 3})


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"learner": ["tree"]}, "init='stack' with trees needs an explicit beta"),
        ({"learner": ["tree"], "init": ["zero"], "loss": ["logistic"]}, "supports loss='squared'"),
        ({"learner": ["tree"], "init": ["random"]}, "init='random' is not defined for tree"),
        ({"schedule": ["convex"], "init": ["zero"]}, "schedule='convex' applies to init='stack'"),
        ({"init": ["copy"], "beta": [0.5]}, "beta applies to init 'stack', not 'copy'"),
        ({"learner": ["features"]}, "learner 'features' is not swept"),
    ],
)
def test_a_boosting_cell_that_cannot_run_is_refused_when_the_grid_is_read(parameters, message):
    """The cell checks its options with the model's own ``check_options``: before it kept a
    partial copy of them, and these grids were accepted and then failed in every cell."""
    with pytest.raises(ValueError, match=message):
        sweep.parse_grid({"family": "boosting", "parameters": parameters})


def test_the_boosting_cells_a_grid_accepts_run():
    grid = {"learner": ["linear", "tree"], "init": ["zero", "copy"], "stages": [3]}
    for cell in sweep.cells(sweep.parse_grid({"family": "boosting", "parameters": grid})):
        row = sweep.FAMILIES["boosting"](**cell.params).run(cell.seed)
        assert row["stages_done"] == 3


def test_malformed_toml(tmp_path):
    (tmp_path / "g.toml").write_text("family = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        sweep.parse_grid(tmp_path / "g.toml")
    with pytest.raises(ValueError, match="does not exist"):
        sweep.parse_grid(tmp_path / "missing.toml")


def test_cell_keys_and_seeds_are_stable():
    a, b = sweep.cells(sweep.parse_grid(FAST)), sweep.cells(sweep.parse_grid(FAST))
    assert [(c.key, c.seed) for c in a] == [(c.key, c.seed) for c in b]
    assert len({c.key for c in a}) == len(a) == 8


def test_backends_give_identical_rows(tmp_path):
    for backend in ("inprocess", "processes"):
        assert sweep.run_sweep(FAST, tmp_path / backend, backend=backend, workers=2) == 8
    pd.testing.assert_frame_equal(_rows(tmp_path / "inprocess"), _rows(tmp_path / "processes"))


def test_dask_backend_matches(tmp_path):
    pytest.importorskip("distributed")
    sweep.run_sweep(FAST, tmp_path / "local", backend="inprocess")
    sweep.run_sweep(FAST, tmp_path / "dask", backend="dask", workers=2)
    pd.testing.assert_frame_equal(_rows(tmp_path / "local"), _rows(tmp_path / "dask"))


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    start = time.perf_counter()
    with pytest.raises(ValueError, match="cannot reach a Dask scheduler"):
        sweep.run_sweep(FAST, tmp_path / "x", backend="dask", scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 30


def test_rerun_skips_stored_cells(tmp_path):
    assert sweep.run_sweep(FAST, tmp_path, backend="inprocess") == 8
    assert sweep.run_sweep(FAST, tmp_path, backend="inprocess") == 0


def test_a_failing_cell_is_recorded_and_the_sweep_goes_on(tmp_path, plant_cell_failure):
    """A cell that raises while it runs is stored with its error; the others run. (A value that
    validation can refuse, like beta = 1.5, is refused before any cell runs.)"""
    grid = {"family": "deep_linear", "parameters": {"beta": [0.5, 1.5], "stages": [50]}}
    with pytest.raises(ValueError, match="beta must be <= 1"):
        sweep.run_sweep(grid, tmp_path / "refused", backend="inprocess")
    assert not (tmp_path / "refused").exists()
    plant_cell_failure(lambda cell: cell.beta == 0.9)
    grid = {"family": "deep_linear", "parameters": {"beta": [0.5, 0.9], "stages": [50]}}
    assert sweep.run_sweep(grid, tmp_path / "ran", backend="inprocess") == 2
    rows = sweep.load_results(tmp_path / "ran")
    status = dict(zip(rows["param_beta"].astype(float), rows["status"], strict=True))
    assert status == {0.5: "max_stages", 0.9: "error"}
    assert "FloatingPointError: planted failure" in " ".join(rows["error"])


def test_directory_of_another_sweep_is_refused_untouched(tmp_path):
    sweep.run_sweep(FAST, tmp_path, backend="inprocess")
    before = sorted(p.name for p in (tmp_path / "rows").iterdir())
    other = {**FAST, "seeds": 3}
    with pytest.raises(ValueError, match="different sweep"):
        sweep.run_sweep(other, tmp_path, backend="inprocess")
    assert sorted(p.name for p in (tmp_path / "rows").iterdir()) == before
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        sweep.run_sweep(FAST, tmp_path / "foreign", backend="inprocess")


def test_sigkill_halfway_then_resume_gives_the_uninterrupted_rows(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(
        'family = "deep_linear"\nseeds = 6\n[parameters]\nd = [24]\n'
        'kappa = [1000.0, 3000.0]\ninit = ["zero"]\nstages = [6000]\n'
        "target = [1e-12]\n"
    )
    command = [
        sys.executable,
        "-m",
        "paper_checks.cli",
        "sweep",
        str(grid),
        "--out",
        str(tmp_path / "killed"),
        "--backend",
        "inprocess",
        "--batch",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows_dir = tmp_path / "killed" / "rows"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(rows_dir.glob("*.parquet"))) < 3:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stored = len(list(rows_dir.glob("*.parquet")))
    assert 3 <= stored < 12, "the sweep should have been killed halfway"
    ran = sweep.run_sweep(grid, tmp_path / "killed", backend="inprocess")
    assert ran == 12 - stored  # stored cells are not recomputed
    sweep.run_sweep(grid, tmp_path / "clean", backend="inprocess")
    pd.testing.assert_frame_equal(_rows(tmp_path / "killed"), _rows(tmp_path / "clean"))
    assert not list(rows_dir.glob(".*"))


def test_summary_and_figure_from_a_results_directory(tmp_path, capsys):
    from paper_checks.cli import main

    sweep.run_sweep(FAST, tmp_path / "res", backend="inprocess")
    assert (
        main(["sweep", "--summary", str(tmp_path / "res"), "--plot", str(tmp_path / "fig.png")])
        == 0
    )
    printed = capsys.readouterr().out
    assert "param_kappa" in printed and "stages_to_target" in printed
    assert (tmp_path / "fig.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("name", "cells"),
    [
        ("deep_linear_grid.toml", 3 * 2 * 2 * 5),
        ("stacking_frontier_grid.toml", 4 * 5 * 2 * 5),
        ("stacking_practice_grid.toml", 4 * 4 * 5),
    ],
)
def test_example_grids_parse(name, cells):
    from pathlib import Path

    grid = sweep.parse_grid(Path(__file__).parents[2] / "examples" / name)
    assert len(sweep.cells(grid)) == cells


def test_a_diverging_inexact_nag_cell_is_stored_as_diverged(tmp_path):
    """Adversarial gradient errors as large as the gradient make NAG diverge: the row says so
    (it used to read max_stages, as the inexact-NAG result carried no status)."""
    grid = {
        "family": "inexact_nag",
        "parameters": {"eps": [0.0, 3.0], "direction": ["adversarial"], "steps": [500]},
    }
    sweep.run_sweep(grid, tmp_path, backend="inprocess")
    rows = sweep.load_results(tmp_path)
    status = dict(zip(rows["param_eps"].astype(float), rows["status"], strict=True))
    assert status == {0.0: "converged", 3.0: "diverged"}


@pytest.mark.parametrize(
    "family, parameters",
    [
        ("deep_linear", {"init": "random", "random_scale": 0.1, "stages": 5}),
        ("boosting", {"init": "random", "stages": 5}),
        ("inexact_nag", {"steps": 5}),
    ],
)
def test_a_cell_never_feeds_one_seed_to_two_streams(family, parameters, generator_states):
    """The problem and the run (noise, errors) draw from independent streams: no two generators
    made while a cell runs start in the same state (they used to: one integer fed both)."""
    sweep.FAMILIES[family](**parameters).run(12345)
    assert len(generator_states) >= 2
    assert len(set(generator_states)) == len(generator_states)


def test_unreached_targets_are_censored_not_minus_one():
    """A cell that never reaches its target stores inf stages (it used to store -1, which a
    median then took for a small number)."""
    row = DeepLinearCell(kappa=1000.0, init="zero", stages=3).run(0)
    assert row["status"] == "max_stages" and row["stages_to_target"] == float("inf")


REGION_GRIDS = {
    "stacking_region": {"d": [4], "kappa": [10.0, 100.0], "sigma": [0.05, 2.0]},
    "stacking_frontier": {"d": [4], "kappa": [10.0], "criterion": ["nag-1.3", "acceleration"]},
    "stacking_practice": {"d": [4], "beta": ["nesterov", "convex"], "stages": [400]},
}


@pytest.mark.parametrize("family", sorted(REGION_GRIDS))
def test_region_families_run_through_the_engine(tmp_path, family):
    """Each cell is the sims.region function it wraps, on the cell's problem seed."""
    from sims.problems import independent_seeds
    from sims.region import frontier, region_points

    grid = {"family": family, "seeds": 2, "parameters": REGION_GRIDS[family]}
    n = sweep.run_sweep(grid, tmp_path, backend="processes", workers=2)
    frame = sweep.load_results(tmp_path)
    assert n == len(frame) and (frame["status"] != "error").all(), frame.get("error")
    assert not sweep.summary(tmp_path).empty
    cell = sweep.cells(sweep.parse_grid(grid))[0]
    row = frame.set_index("key").loc[cell.key]
    (seed,) = independent_seeds(cell.seed, 1)
    if family == "stacking_region":
        point = region_points(4, cell.params["kappa"], [(cell.params["sigma"], seed)])[0]
        assert row["stack_stages"] == point.stack and row["nag_stages"] == point.nag
    elif family == "stacking_frontier":
        found = frontier(4, cell.params["kappa"], cell.params["criterion"], [seed])
        assert row["frontier_sigma"] == found.sigma[0] and row["runs"] == found.runs
    else:
        assert row["stages_to_target"] <= 400 * 1 and row["nag_stages_to_target"] > 0
