"""What a user meets in the second hour (issue 29): no run loses a report or a stored result, no
command hangs, every error is one line, and no number is counted twice or counted as reached when
the run diverged. Each test failed on the main of 2026-12-05."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from infra import engine
from paper_checks import cli, report
from sims import growth, sweep
from sims.cells import result_row
from sims.families import residual_mlp
from sims.families.deep_linear.cell import DeepLinearCell
from sims.families.residual_mlp.growth import ResidualMLPFamily
from sims.problems import staircase_task
from sims.results import RunResult, Status
from tests.helpers import stagewise

ROOT = Path(__file__).resolve().parents[1]
CLAIM = "nesterov.worst-case-bound"  # a claim that runs in well under a second
GRID = 'family = "deep_linear"\nseeds = 2\n[parameters]\nkappa = [10.0, 100.0]\nstages = [40]\n'


def _snapshot(root: Path) -> dict:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _full_report(directory: Path, scale: str) -> None:
    """A report directory as a full run of ``scale`` leaves it (claims.json without selection)."""
    (directory / "figures").mkdir(parents=True)
    document = {"scale": scale, "selection": None, "summary": {}, "claims": []}
    (directory / "claims.json").write_text(json.dumps(document))
    (directory / "report.md").write_text("# the full report\n")
    (directory / "figures" / "growth-speed.png").write_bytes(b"a figure of the full run")
    (directory / cli.check.REPORT_MARKER).touch()


# --- data loss ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "argv"),
    [
        ("paper", ["--only", CLAIM]),  # partial quick run into the paper-scale report
        ("quick", ["--only", CLAIM]),  # partial run into the default full report
        ("paper", ["--only", CLAIM, "--scale", "quick"]),
    ],
)
def test_a_partial_or_other_scale_run_never_replaces_a_full_report(
    tmp_path, capsys, existing, argv
):
    out = tmp_path / "docs"
    _full_report(out, existing)
    before = _snapshot(out)
    status = cli.main(["check", *argv, "--out", str(out), "--backend", "inprocess"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1, err
    assert "full" in err and "--force" in err and "--out" in err
    assert _snapshot(out) == before


def test_force_lets_a_partial_run_replace_a_full_report(tmp_path, capsys):
    out = tmp_path / "docs"
    _full_report(out, "paper")
    argv = ["check", "--only", CLAIM, "--out", str(out), "--backend", "inprocess", "--force"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert json.loads((out / "claims.json").read_text())["selection"] == CLAIM
    assert not (out / "figures" / "growth-speed.png").exists()


def test_a_report_whose_claims_json_cannot_be_replaced_is_left_untouched(tmp_path, capsys):
    out = tmp_path / "rep"
    _full_report(out, "quick")
    (out / "claims.json").unlink()
    (out / "claims.json").mkdir()  # cannot be replaced by a file (as root, modes do not stop us)
    before = _snapshot(out)
    status = cli.main(["check", "--only", CLAIM, "--out", str(out), "--backend", "inprocess"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "claims.json" in err and len(err.splitlines()) == 1, err
    assert _snapshot(out) == before  # the old figures are still there


def test_report_writes_through_a_readme_symlink(tmp_path, capsys):
    target = tmp_path / "real.md"
    target.write_text(f"intro\n{report.README_BEGIN}\nold\n{report.README_END}\nend\n")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    claims = ROOT / "docs" / "claims.json"
    assert cli.main(["report", "--readme", str(link), "--claims", str(claims)]) == 0
    capsys.readouterr()
    assert link.is_symlink() and link.resolve() == target
    assert "old" not in target.read_text() and "| claim |" in target.read_text()
    assert cli.main(["report", "--readme", str(link), "--claims", str(claims), "--check"]) == 0


# --- hangs and crashes -------------------------------------------------------------------------


@pytest.fixture
def silent_server():
    """A TCP server on loopback that accepts connections and never answers (not Dask)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    server.close()


def test_a_scheduler_address_that_is_not_dask_times_out_with_one_line(
    silent_server, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("distributed")
    monkeypatch.setattr(engine, "CONNECT_SECONDS", 2)
    start = time.monotonic()
    status = cli.main(["sweep", str(_grid(tmp_path)), "--out", str(tmp_path / "r"),
                       "--scheduler", silent_server])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert time.monotonic() - start < 30
    assert status == 2 and "cannot reach a Dask scheduler" in err[-1]


@pytest.mark.parametrize("address", ["not an address", "tcp://host", "tcp://host:99999", "h:p"])
@pytest.mark.parametrize("where", ["--scheduler", "DASK_SCHEDULER_ADDRESS"])
def test_a_malformed_scheduler_address_is_refused_before_anything_is_made(
    tmp_path, capsys, monkeypatch, address, where
):
    monkeypatch.chdir(tmp_path)
    argv = ["check", "--only", CLAIM]
    if where == "--scheduler":
        argv += ["--scheduler", address]
    else:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and repr(address) in err
    assert list(tmp_path.iterdir()) == []


def _grid(directory: Path) -> Path:
    path = directory / "grid.toml"
    path.write_text(GRID)
    return path


def _damage(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:60])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(os.urandom(300))


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage"])
def test_a_damaged_stored_row_is_reported_set_aside_and_recomputed(tmp_path, capsys, how):
    out = tmp_path / "results"
    argv = ["sweep", str(_grid(tmp_path)), "--out", str(out), "--backend", "inprocess"]
    assert cli.main([*argv, "--batch", "1"]) == 0
    complete = sweep.load_results(out).sort_values("key").reset_index(drop=True)
    damaged = sorted((out / "rows").glob("*.parquet"))[0]
    _damage(damaged, how)
    capsys.readouterr()
    assert cli.main(["sweep", "--summary", str(out)]) == 0  # the others are still summarised
    err = capsys.readouterr().err
    assert "damaged" in err and damaged.name in err
    assert (out / "rows" / f"{damaged.name}.damaged").exists()
    assert cli.main([*argv, "--batch", "1"]) == 0
    assert "ran 1 cells (3 already stored)" in capsys.readouterr().out
    again = sweep.load_results(out).sort_values("key").reset_index(drop=True)
    columns = ["key", "status", "stages_to_target", "final_loss"]
    assert again[columns].equals(complete[columns])


def test_a_damaged_stored_claim_group_is_reported_and_run_again(tmp_path, capsys):
    from paper_checks import runner

    out = tmp_path / "rep"
    argv = ["check", "--only", "nesterov.worst-case-*", "--out", str(out), "--backend", "inprocess"]
    assert cli.main(argv) == 0
    expected = (out / "claims.json").read_bytes()
    stored = sorted((out / runner.TASKS_DIR).glob("*.json"))
    stored[0].write_bytes(b"\xff\xfe not UTF-8 \x80")
    capsys.readouterr()
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "damaged" in err and stored[0].name in err and "Traceback" not in err
    assert "reused 1 of 2 claim groups" in err  # the undamaged one
    assert (out / "claims.json").read_bytes() == expected
    assert cli.main([*argv, "--fresh"]) == 0  # every group runs again
    assert "reused" not in capsys.readouterr().err
    assert (out / "claims.json").read_bytes() == expected


@pytest.mark.parametrize(
    "argv", [["list"], ["list", "--json"], ["sweep", "--families"]], ids=" ".join
)
def test_a_closed_pipe_ends_quietly(argv, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "paper_checks.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    process.stdout.close()  # the reader is gone before the first line, as after `| head -0`
    err = process.stderr.read().decode()
    process.stderr.close()
    process.wait(timeout=120)
    assert err == "" and process.returncode in (0, 141)


def test_numba_threads_zero_is_bad_usage(tmp_path):
    done = stagewise("list", cwd=tmp_path, env={"NUMBA_NUM_THREADS": "0"})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "NUMBA_NUM_THREADS" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_readme_is_bad_usage(tmp_path, capsys, monkeypatch):
    readme = tmp_path / "README.md"
    text = f"{report.README_BEGIN}\n{report.README_END}\n"
    readme.write_text(text)

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(engine.os, "replace", refuse)
    argv = ["report", "--readme", str(readme), "--claims", str(ROOT / "docs" / "claims.json")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "README.md" in err and "Permission denied" in err
    assert readme.read_text() == text and sorted(tmp_path.iterdir()) == [readme]


@pytest.mark.parametrize("command", ["check", "figures", "sweep"])
def test_an_over_long_path_component_is_bad_usage(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    grid = _grid(tmp_path)
    long = "x" * 300
    argv = {
        "check": ["check", "--only", CLAIM, "--out", long],
        "figures": ["figures", "--only", "worst-case-vs-steps", "--out", long],
        "sweep": ["sweep", str(grid), "--out", long],
    }[command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "name too long" in err.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml"]


def _claims(**changes) -> dict:
    document = json.loads((ROOT / "docs" / "claims.json").read_text())
    first = document["claims"][0]
    for key, value in changes.items():
        if value is KeyError:
            first.pop(key)
        else:
            first[key] = value
    return document


BAD_CLAIMS = [  # (document, a fragment the message must hold)
    (_claims(verdict=KeyError), "'verdict' is missing"),
    (_claims(verdict=3), "'verdict' must be a string"),
    (_claims(verdict="probably"), "'verdict' must be one of"),
    (_claims(id="a\nb"), "an id is"),
    (_claims(id="x <!-- end of claims table -->"), "an id is"),
    (_claims(revision="two"), "'revision'"),
    (_claims(bands=["a"]), "'bands'"),
    (_claims(provenance="rumour"), "'provenance'"),
    (_claims(bands={"x": report.README_END}), "marker"),
    ({"scale": "paper", "summary": {}, "claims": [], "updates": [{"claims": "x"}]}, "updates[0]"),
    ({"scale": "quick", "summary": {}}, "'claims'"),
    ({"scale": 3, "summary": {}, "claims": []}, "'scale'"),
    ([], "JSON object"),
]


@pytest.mark.parametrize(("document", "fragment"), BAD_CLAIMS, ids=[f for _, f in BAD_CLAIMS])
def test_report_refuses_a_malformed_claims_json_naming_the_field(
    tmp_path, capsys, document, fragment
):
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(document))
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n{report.README_BEGIN}\nold\n{report.README_END}\n")
    before = _snapshot(tmp_path)
    for extra in ([], ["--check"]):
        assert cli.main(["report", "--readme", str(readme), "--claims", str(claims), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and fragment in err, err
    assert _snapshot(tmp_path) == before


def test_report_refuses_duplicate_claim_ids(tmp_path, capsys):
    document = _claims()
    document["claims"].append(dict(document["claims"][0]))
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(document))
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.README_BEGIN}\n{report.README_END}\n")
    assert cli.main(["report", "--readme", str(readme), "--claims", str(claims)]) == 2
    assert "appears twice" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("readme", "fragment"),
    [
        (f"{report.README_BEGIN}\n{report.README_END}\n" * 2, "appears 2 times"),
        (f"{report.README_END}\nx\n{report.README_BEGIN}\n", "before its beginning"),
        (f"{report.README_BEGIN}\nno end\n", "end marker"),
        ("no markers\n", "beginning marker"),
    ],
)
def test_report_refuses_readme_markers_that_are_not_one_ordered_pair(
    tmp_path, capsys, readme, fragment
):
    path = tmp_path / "README.md"
    path.write_text(readme)
    claims = str(ROOT / "docs" / "claims.json")
    for extra in ([], ["--check"]):
        assert cli.main(["report", "--readme", str(path), "--claims", claims, *extra]) == 2
        assert fragment in capsys.readouterr().err
    assert path.read_text() == readme


# --- wrong numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"family": "deep_linear", "seeds": [0, 0, 1]}, "seeds lists 0 more than once"),
        (
            {"family": "deep_linear", "parameters": {"kappa": [10.0, 10.0]}},
            "parameter 'kappa' lists 10.0 more than once",
        ),
        ({"family": "deep_linear", "parameters": {"sigma": [1, 1.0]}}, "more than once"),
        ({"family": "boosting", "parameters": {"init": ["zero", "zero"]}}, "'zero'"),
    ],
)
def test_a_grid_listing_a_value_twice_is_refused(spec, fragment):
    with pytest.raises(ValueError, match=fragment):
        sweep.parse_grid(spec)


def test_sigma_is_capped_and_a_diverged_cell_never_counts_as_reached(tmp_path):
    with pytest.raises(ValueError, match="sigma must be <= 1000"):
        sweep.parse_grid({"family": "deep_linear", "parameters": {"sigma": [1e300]}})
    blown = RunResult(np.array([np.inf, np.inf]), Status.DIVERGED)
    assert blown.steps_to(1e-6) == np.inf
    # largest sigma allowed, huge step: the run diverges; its row must say never reached
    cell = DeepLinearCell(d=4, kappa=10.0, sigma=1000.0, stages=30, init="stack", beta=1.0)
    row = cell.run(seed=0)
    assert row["status"] == "diverged" and row["stages_to_target"] == np.inf


def test_summary_counts_a_diverged_cell_as_not_reached(tmp_path, monkeypatch):
    grid = {"family": "deep_linear", "seeds": 1, "parameters": {"stages": [20]}}
    monkeypatch.setattr(
        DeepLinearCell,
        "run",
        lambda self, seed: result_row(RunResult(np.array([1.0, 1e-9]), Status.DIVERGED), 1e-6),
    )
    sweep.run_sweep(grid, tmp_path / "r", backend="inprocess")
    table = sweep.summary(tmp_path / "r")
    assert table["stages_to_target_reached"].tolist() == ["0/1"]


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("?", "matches no claim"),
        (".", "too short"),
        ("ne", "too short"),
        ("*", None),
        ("growth.exact,,nesterov.*", "empty part"),
        ("growth.exact,zzz", "'zzz' matches no claim"),
    ],
)
def test_only_selects_by_glob_or_by_a_substring_of_three_characters(capsys, pattern, fragment):
    from paper_checks import catalogue

    if fragment is None:
        assert len(catalogue.select(pattern, "quick")) == len(catalogue.select(None, "quick"))
        return
    with pytest.raises(ValueError, match=fragment):
        catalogue.select(pattern, "quick")


def test_only_takes_comma_separated_parts_and_keeps_the_registry_order():
    from paper_checks import catalogue

    chosen = [c.id for c in catalogue.select("nesterov.worst*,growth.exact,exact", "quick")]
    expected = [c.id for c in catalogue.select(None, "quick")
                if c.id.startswith("nesterov.worst") or "exact" in c.id]  # fmt: skip
    assert chosen == expected and "growth.exact" in chosen and len(chosen) >= 3


def test_check_says_how_many_claims_its_pattern_matched(tmp_path, capsys):
    argv = ["check", "--only", "worst-case", "--out", str(tmp_path / "r"), "--backend", "inprocess"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "--only 'worst-case' matches 2 claims: nesterov.worst-case-bound" in err


def test_training_that_explodes_finitely_is_diverged():
    task = staircase_task(4, 2)
    X, y = task.sample(64, seed=0)
    family = ResidualMLPFamily(X, y, X, y, 5, batch_size=32, eval_every=5)
    start = ResidualMLPFamily.model(residual_mlp.init_params(4, 8, 3, seed=0))
    run = growth.train_grown(family, start, "gradual", [20, 20], lr=1e6, seed=1)
    assert run.status == Status.DIVERGED
    healthy = growth.train_grown(family, start, "gradual", [20, 20], lr=1e-2, seed=1)
    assert healthy.status == Status.MAX_STAGES


def test_internal_error_logs_share_one_bounded_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with mock.patch.dict(cli.COMMANDS, {"list": lambda args: 1 / 0}):
        for _ in range(cli.ERROR_LOGS + 5):
            assert cli.main(["list"]) == 3
    capsys.readouterr()
    logs = list((tmp_path / "stagewise-errors").iterdir())
    assert len(logs) == cli.ERROR_LOGS
    assert [p.name for p in tmp_path.iterdir()] == ["stagewise-errors"]
    assert "ZeroDivisionError" in logs[0].read_text()


# --- what a reader sees ------------------------------------------------------------------------


def test_the_verdict_table_starts_with_totals_and_flags_verdicts_unlike_the_paper_record(
    tmp_path, capsys, monkeypatch
):
    record = tmp_path / "paper-claims.json"
    document = json.loads((ROOT / "docs" / "claims.json").read_text())
    for entry in document["claims"]:
        if entry["id"] == CLAIM:
            entry["verdict"] = "refuted"  # as if the paper scale had decided otherwise
    record.write_text(json.dumps(document))
    monkeypatch.setattr(report, "PAPER_RECORD", record)
    argv = ["check", "--only", "worst-case", "--out", str(tmp_path / "r"), "--backend", "inprocess"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0].startswith("2 supported, 0 refuted") and "2 claims at the quick scale" in lines[0]
    )
    assert any("paper scale: refuted (docs/claims.json), not supported" in line for line in lines)
    assert f"1 verdict differs from the paper-scale record (docs/claims.json): {CLAIM}" in lines


def test_sweep_help_names_every_family(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(repr(family) in text for family in sweep.FAMILIES)
    # named in the CLI for --help without importing sims.sweep
    assert tuple(sweep.FAMILIES) == cli.sweep.SWEEP_FAMILIES


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "results"
    grid = {"family": "deep_linear", "seeds": 2,
            "parameters": {"kappa": [10.0, 100.0], "init": ["stack", "zero"], "stages": [400]}}  # fmt: skip
    sweep.run_sweep(grid, out, backend="inprocess")
    return out


def test_summary_columns_keep_the_named_metrics(small_sweep, capsys):
    assert cli.main(["sweep", "--summary", str(small_sweep), "--columns", "stages_to_target"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["param_kappa", "param_init", "cells", "errors", "stages_to_target_q1",
                      "stages_to_target_median", "stages_to_target_q3",
                      "stages_to_target_reached"]  # fmt: skip
    assert cli.main(["sweep", "--summary", str(small_sweep), "--columns", "stage"]) == 2
    assert "unknown metric 'stage'" in capsys.readouterr().err


def test_the_summary_plot_draws_nag_as_a_reference(small_sweep):
    from figures.sweep import plot_summary

    table = sweep.summary(small_sweep)
    figure = plot_summary(table, "param_kappa", "stages_to_target", ["param_init"])
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    nag = lines["NAG (reference)"]
    expected = table.groupby("param_kappa")["nag_stages_to_target_median"].median()
    assert list(nag.get_xdata()) == list(expected.index)
    assert list(nag.get_ydata()) == list(expected)


def test_bench_text_says_met_or_missed_and_what_the_ratio_means(capsys):
    assert cli.main(["bench", "--smoke", "--section", "kernels", "--repeats", "1"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "(target" in line]
    assert lines and all(line.endswith("not judged at --smoke sizes)") for line in lines)
    assert not any("(best peer / numba" in line for line in lines)
    # each line names its float type; the transformer and MLP steps are timed in both
    assert all(re.search(r" \[float(64|32)\]: numba ", line) for line in lines)
    for name in ("transformer training step", "residual MLP training step"):
        assert {t for line in lines if name in line for t in re.findall(r"float\d\d", line)} == {
            "float64",
            "float32",
        }


def test_two_runs_probing_one_output_directory_do_not_trip_each_other(tmp_path):
    """Two `stagewise figures` started together into a new directory: the second failed with
    "cannot write ... (No such file or directory)" when the first removed the write probe that
    both had named the same."""
    errors = []

    def probe():
        for _ in range(300):
            try:
                cli.common.writable_dir(tmp_path / "figures")
            except ValueError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=probe) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and list((tmp_path / "figures").iterdir()) == []
