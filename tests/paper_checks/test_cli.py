"""The stagewise CLI: verdicts, report files, exit statuses and one-line errors."""

import json
import subprocess
import sys

import pytest

from paper_checks import registry
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
    for c in registry.all_claims():
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
        registry._REGISTRY.pop("test.always-fails")


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
        registry._REGISTRY.pop("test.raises")


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
