"""The stagewise CLI: verdicts, report files, exit statuses and one-line errors."""

import json
import subprocess
import sys

import pytest

from paper_checks import catalogue, registry
from paper_checks.cli import main

IN_PROCESS = ("--backend", "inprocess")  # claims registered or patched by a test exist only here


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "paper_checks.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_list_shows_every_claim_with_provenance():
    out = run_cli("list")
    assert out.returncode == 0
    for c in catalogue.all_claims():
        assert c.id in out.stdout
        assert f"[{c.provenance}]" in out.stdout


def test_check_writes_report_and_json(tmp_path, capsys):
    status = main(["check", "--only", "nesterov.worst-case-*", "--out", str(tmp_path)])
    document = json.loads((tmp_path / "claims.json").read_text())
    assert status == (0 if document["summary"]["pass"] == len(document["claims"]) else 1)
    assert {c["id"] for c in document["claims"]} == {
        "nesterov.worst-case-bound",
        "nesterov.worst-case-pep",
    }
    report = (tmp_path / "report.md").read_text()
    assert "| `nesterov.worst-case-bound`" in report or "nesterov.worst-case-bound" in report
    assert (tmp_path / "figures" / "worst-case-vs-steps.png").stat().st_size > 10_000
    assert not list(tmp_path.rglob("*.tmp"))
    printed = capsys.readouterr().out
    assert "nesterov.worst-case-pep" in printed


def test_failing_claim_gives_exit_status_1(tmp_path, monkeypatch):
    @registry.claim(
        id="test.always-fails",
        source="test",
        provenance="standard",
        statement="a claim that does not hold",
        expected="never",
    )
    def _fails(scale, rng):
        return registry.Outcome(False, {"x": 1.0}, "x = 1.0")

    try:
        assert (
            main(["check", "--only", "test.always-fails", "--out", str(tmp_path), *IN_PROCESS]) == 1
        )
        doc = json.loads((tmp_path / "claims.json").read_text())
        assert doc["claims"][0]["verdict"] == "fail"
    finally:
        registry.REGISTRY.pop("test.always-fails")


def test_erroring_claim_is_reported_not_raised(tmp_path):
    @registry.claim(
        id="test.raises",
        source="test",
        provenance="standard",
        statement="a broken check",
        expected="anything",
    )
    def _raises(scale, rng):
        raise RuntimeError("boom")

    try:
        assert main(["check", "--only", "test.raises", "--out", str(tmp_path), *IN_PROCESS]) == 1
        doc = json.loads((tmp_path / "claims.json").read_text())
        assert doc["claims"][0]["verdict"] == "error"
        assert "boom" in doc["claims"][0]["summary"]
    finally:
        registry.REGISTRY.pop("test.raises")


@pytest.mark.parametrize("command", ["check", "list", "figures", "pep-refresh", "bench", "sweep"])
def test_every_subcommand_has_help(command):
    out = run_cli(command, "--help")
    assert out.returncode == 0
    assert "usage: stagewise" in out.stdout
    assert len(out.stdout.splitlines()) > 5


def test_a_broken_figure_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    from paper_checks import gallery

    def broken(scale):
        raise KeyError("missing table row")

    monkeypatch.setitem(
        gallery.RECIPES, "steps-vs-kappa", gallery.Recipe("steps-vs-kappa", "broken", broken)
    )
    status = main(
        ["check", "--only", "nesterov.steps-scaling", "--out", str(tmp_path), *IN_PROCESS]
    )
    assert status == 0
    assert "could not be drawn" in capsys.readouterr().err
    assert (tmp_path / "report.md").exists()


@pytest.mark.parametrize("bug", [ValueError("an internal bug"), TypeError("another"), KeyError(3)])
def test_a_library_bug_is_an_internal_error_not_bad_usage(bug, monkeypatch, capsys):
    """Only ``InputError`` (argument validation) means bad usage, exit 2; any other exception,
    ValueError included, is a bug of the library: exit 3, one line naming the traceback's log."""
    from paper_checks import cli

    def broken(args):
        raise bug

    monkeypatch.setitem(cli.COMMANDS, "list", broken)
    assert main(["list"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error" in err and "--debug" in err
    log = err.split("traceback in ")[1].split(" ")[0]
    with open(log) as f:
        assert type(bug).__name__ in f.read()
    with pytest.raises(type(bug)):
        main(["--debug", "list"])


def test_bad_input_is_exit_2_and_one_line(monkeypatch, capsys):
    from paper_checks import cli
    from theory.checks import InputError

    def refuses(args):
        raise InputError("kappa must be >= 1, got 0.5")

    monkeypatch.setitem(cli.COMMANDS, "list", refuses)
    assert main(["list"]) == 2
    assert capsys.readouterr().err.strip() == "stagewise list: error: kappa must be >= 1, got 0.5"


def test_bench_smoke_runs_every_section(capsys):
    """``stagewise bench --smoke`` runs every section at tiny sizes (a section that cannot run,
    like the scaling section that imported a removed function, fails here)."""
    assert main(["bench", "--smoke", "--repeats", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"rates", "kernels", "scaling", "sweep"}
    assert all(report[section] for section in report)
    batch = next(r for r in report["kernels"] if "threads_used" in r)
    assert 1 <= batch["threads_used"] <= batch["threads_available"]
