"""What a new user meets in the first hour: Ctrl-C that stops at once and loses nothing, locks on
output directories, partial reports that say so, sweeps that report their failures, summaries
that treat an unreached target as censored, and errors that name the missing package."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from infra.engine import directory_lock
from paper_checks import cli, expect, registry
from sims import sweep
from tests.helpers import stagewise

ROOT = Path(__file__).resolve().parents[1]
SLOW_GRID = (
    'family = "deep_linear"\nseeds = 12\n[parameters]\nd = [24]\n'
    'kappa = [1000.0, 3000.0]\ninit = ["zero"]\nstages = [6000]\ntarget = [1e-12]\n'
)


def _as_terminal_job() -> None:
    """In the child: Ctrl-C at its default, as in a terminal's foreground job. A test suite run
    as a background job (``pytest &`` in a script) inherits SIGINT ignored, and would pass that on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args, cwd):
    """``stagewise args`` in a new session (its own process group, as a terminal job is)."""
    return subprocess.Popen(
        [sys.executable, "-m", "paper_checks.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_as_terminal_job,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_for(predicate, seconds=300):
    deadline = time.time() + seconds
    while time.time() < deadline and not predicate():
        time.sleep(0.05)
    assert predicate(), "timed out"


def _ctrl_c(process, times=1):
    """Send SIGINT to the whole process group, as a terminal's Ctrl-C does; return how long the
    run took to exit, its status and its stderr."""
    start = time.perf_counter()
    for _ in range(times):
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.2)
    _, err = process.communicate(timeout=60)
    return time.perf_counter() - start, process.returncode, err


def _sigterm(process):
    """Send SIGTERM to the parent process alone, as ``kill PID`` or a job scheduler does; return
    how long the run took to exit, its status and its stderr."""
    start = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    return time.perf_counter() - start, process.returncode, err


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc``)."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()]  # fmt: skip


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has finished: only its exit status is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("stop", "status", "says"),
    [(_ctrl_c, 130, "interrupted"), (_sigterm, 128 + signal.SIGTERM, "stopped by SIGTERM")],
    ids=["ctrl-c", "sigterm-to-the-parent"],
)
def test_a_stopped_sweep_stops_its_workers_at_once_and_the_rerun_resumes(
    tmp_path, stop, status, says
):
    # SIGTERM reaches the parent alone: before, it died at once (status -15) and left its workers
    # computing without it; now it stops as on Ctrl-C
    (tmp_path / "grid.toml").write_text(SLOW_GRID)
    args = ["sweep", "grid.toml", "--out", "res", "--workers", "2", "--batch", "1"]
    process = _start(args, tmp_path)
    rows = tmp_path / "res" / "rows"
    _wait_for(lambda: len(list(rows.glob("*.parquet"))) >= 2)
    workers = _children(process.pid)
    assert len(workers) >= 2
    seconds, code, err = stop(process)
    assert code == status and seconds < 10
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert says in last and "run the same command again to resume" in last
    _wait_for(lambda: not any(_running(pid) for pid in workers), seconds=10)
    stored = len(list(rows.glob("*.parquet")))
    assert 2 <= stored < 24
    assert not list(rows.glob(".*.tmp"))
    ran = sweep.run_sweep(tmp_path / "grid.toml", tmp_path / "res", backend="inprocess")
    assert ran == 24 - stored  # nothing stored was lost or recomputed


def test_ctrl_c_twice_stops_a_check_at_once_and_the_rerun_resumes(tmp_path):
    args = ["check", "--only", "nesterov.*", "--out", "rep", "--workers", "2"]
    process = _start(args, tmp_path)
    tasks = tmp_path / "rep" / ".tasks"
    _wait_for(lambda: tasks.is_dir() and any(tasks.glob("*.json")))
    seconds, status, err = _ctrl_c(process, times=2)
    assert status == 130 and seconds < 10
    assert "Traceback" not in err
    stored = len(list(tasks.glob("*.json")))
    assert stored >= 1
    done = stagewise(*args, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert f"reused {stored} of" in done.stderr


def test_a_second_run_into_a_locked_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    with directory_lock(out, "check"):
        status = cli.main(["check", "--only", "nesterov.worst-case-bound", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "in use by another stagewise check" in err and f"pid {os.getpid()}" in err
    assert [p.name for p in out.iterdir()] == [".stagewise.lock"]  # the holder's; nothing else


def test_a_partial_run_says_so_and_leaves_no_figure_of_another_run(tmp_path, capsys):
    out = tmp_path / "rep"
    (out / "figures").mkdir(parents=True)
    (out / "claims.json").write_text(json.dumps({"scale": "quick", "claims": []}))
    for stale in ("growth-speed.png", "growth-speed.pdf"):
        (out / "figures" / stale).write_text("from a full run")
    (out / "figures" / "my-notes.txt").write_text("not a figure of ours")
    argv = [
        "check",
        "--only",
        "nesterov.worst-case-*",
        "--out",
        str(out),
        "--backend",
        "inprocess",
        "--force",
    ]  # the full report is replaced on purpose (without --force: refused)
    assert cli.main(argv) == 0
    capsys.readouterr()
    document = json.loads((out / "claims.json").read_text())
    assert document["selection"] == "nesterov.worst-case-*"
    assert "**Partial run**" in (out / "report.md").read_text()
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert "growth-speed.png" not in figures and "my-notes.txt" in figures
    assert "worst-case-vs-steps.png" in figures


def test_a_sweep_with_failing_cells_says_which_errors_and_exits_1(
    tmp_path, plant_cell_failure, capsys
):
    grid = tmp_path / "grid.toml"
    grid.write_text('family = "deep_linear"\nseeds = 2\n[parameters]\nsigma = [0.1, 0.5]\n')
    plant_cell_failure(lambda cell: cell.sigma == 0.5)
    argv = ["sweep", str(grid), "--out", str(tmp_path / "res"), "--backend", "inprocess"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "2 of 4 cells failed" in err
    assert "2 x FloatingPointError: planted failure" in err


def test_summary_treats_unreached_targets_as_censored(tmp_path, capsys):
    """Zero init at kappa = 100 within a budget that about half of the seeds need: the summary
    counts who reached the target and never averages an unreached seed in (the old summary took
    the 'never reached' value -1 for a small number)."""
    grid = {
        "family": "deep_linear",
        "seeds": 9,
        "parameters": {"init": ["zero"], "stages": [420], "target": [1e-6]},
    }
    sweep.run_sweep(grid, tmp_path / "res", backend="inprocess")
    rows = sweep.load_results(tmp_path / "res")
    reached = rows["stages_to_target"].to_numpy(dtype=float)
    assert 0 < np.isfinite(reached).sum() < len(reached)  # the test needs some of each
    table = sweep.summary(tmp_path / "res").iloc[0]
    assert table["stages_to_target_reached"] == f"{np.isfinite(reached).sum()}/9"
    ordered = np.sort(reached)  # the inverted-CDF median of 9 values is the 5th
    assert table["stages_to_target_median"] == ordered[4]
    assert table["stages_to_target_q3"] == ordered[6]
    assert (-1 not in reached) and table["stages_to_target_median"] > 0
    assert cli.main(["sweep", "--summary", str(tmp_path / "res")]) == 0
    printed = capsys.readouterr().out
    assert f"{np.isfinite(reached).sum()}/9" in printed and "not reached" in printed


def test_summary_plot_into_an_unwritable_place_fails_before_printing(tmp_path, capsys):
    sweep.run_sweep({"family": "deep_linear", "parameters": {"stages": [5]}}, tmp_path / "res")
    (tmp_path / "blocker").write_text("a file")
    argv = ["sweep", "--summary", str(tmp_path / "res"), "--plot", str(tmp_path / "blocker/f.png")]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "cannot write" in captured.err


def test_a_missing_optional_package_is_named_with_its_install_command():
    def needs_pepit(scale):
        raise ModuleNotFoundError("No module named 'PEPit'", name="PEPit")

    claim = registry.Claim(
        "test.needs-pepit", "test", "standard", "s", "m", {"x": expect.AtMost(0)}, "p", "n",
        needs_pepit,
    )  # fmt: skip
    verdict = registry.run_claim(claim, "quick")
    assert verdict.verdict == "error"
    assert verdict.summary == (
        "claim arm: needs the optional package 'PEPit', which is not installed: "
        "pip install 'stagewise[pep]'"
    )


def test_the_main_job_needs_no_extra():
    """scikit-learn, which two boosting claims import, is a main dependency (the README's first
    command installs no extra); the claims' other optional imports are named by their error."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("scikit-learn") for d in project["dependencies"])
    assert not any(d.startswith("scikit-learn") for d in project["optional-dependencies"]["test"])


def test_version_and_license(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("stagewise ")
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_sweep_families_lists_every_parameter_with_its_meaning(capsys):
    assert cli.main(["sweep", "--families"]) == 0
    listing = capsys.readouterr().out
    for family in sweep.FAMILIES:
        assert f"{family}:" in listing
        for name in sweep.family_defaults(family):
            assert f"  {name} = " in listing


def test_the_readme_lists_the_sweep_families_as_the_code_has_them():
    listing = sweep.describe_families()
    assert listing in (ROOT / "README.md").read_text()


README_PROGRAMS = [  # the README's complete Python examples (a fragment starts without imports)
    block.split("```")[0]
    for block in (ROOT / "README.md").read_text().split("```python\n")[1:]
    if block.startswith(("import ", "from "))
]


@pytest.mark.parametrize(
    "program", README_PROGRAMS, ids=[f"example {i + 1}" for i in range(len(README_PROGRAMS))]
)
def test_the_readmes_python_examples_run(program, tmp_path):
    """A newcomer copies them first; one named an attribute that does not exist
    (``run.eval_losses``) until this test ran them."""
    assert len(README_PROGRAMS) >= 2
    result = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600, env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
