"""The stagewise CLI: verdicts, report files, exit statuses and one-line errors."""

import json

import pytest

from paper_checks import catalogue, expect, registry
from paper_checks.cli import main
from paper_checks.verdicts import FAILING
from tests.helpers import stagewise

IN_PROCESS = ("--backend", "inprocess")  # claims registered or patched by a test exist only here


def test_list_shows_every_claim_with_provenance():
    out = stagewise("list")
    assert out.returncode == 0
    for c in catalogue.all_claims():
        assert c.id in out.stdout
        assert f"[{c.provenance}]" in out.stdout
        if c.why_planted:  # a planted control says so, and why no measured one exists
            assert f"no measured control: {c.why_planted}" in out.stdout
    assert "positive (planted): " in out.stdout and "negative (measured): " in out.stdout


def test_check_writes_report_and_json(tmp_path, capsys):
    status = main(["check", "--only", "nesterov.worst-case-*", "--out", str(tmp_path)])
    document = json.loads((tmp_path / "claims.json").read_text())
    failing = sum(document["summary"][v] for v in FAILING)
    assert status == (1 if failing else 0)
    assert {c["id"] for c in document["claims"]} == {
        "nesterov.worst-case-bound",
        "nesterov.worst-case-pep",
    }
    for entry in document["claims"]:
        assert set(entry["arms"]) == {"claim", "positive", "negative"}
        assert entry["controls"]["positive"] and entry["controls"]["negative"]
        assert entry["bands"] and entry["revision"] >= 1
    report = (tmp_path / "report.md").read_text()
    assert "nesterov.worst-case-bound" in report and "+ control" in report
    assert (tmp_path / "figures" / "worst-case-vs-steps.png").stat().st_size > 10_000
    assert not list(tmp_path.rglob("*.tmp"))
    printed = capsys.readouterr().out
    assert "nesterov.worst-case-pep" in printed and "controls: positive supported" in printed


def _register(claim_id, measure, band=None, negative_x=1.0):
    """A test claim with statistic ``x`` and band ``x <= 0`` (default); its controls set the
    measure's option ``x`` to 0 and ``negative_x``."""
    return registry.claim(
        id=claim_id,
        source="test",
        provenance="standard",
        statement="a test claim",
        measurement="x",
        expect={"x": band or expect.AtMost(0.0)},
        positive=registry.Control("x = 0", x=0.0),
        negative=registry.Control(f"x = {negative_x}", x=negative_x),
    )(measure)


@pytest.mark.parametrize(
    ("claim_x", "negative_x", "band", "verdict", "status"),
    [
        (1.0, 1.0, None, "refuted", 1),
        (0.0, 1.0, None, "supported", 0),
        (1.0, 0.0, None, "mis-posed", 1),  # the negative control is not refuted
        ((-1.0, 2.0), 1.0, None, "inconclusive", 0),  # an interval straddling the band's edge
    ],
)
def test_verdicts_follow_the_intervals_and_the_controls(
    tmp_path, claim_x, negative_x, band, verdict, status
):
    def measure(scale, *, x=claim_x):
        low, high = x if isinstance(x, tuple) else (x, x)
        estimate = expect.Estimate((low + high) / 2, low, high, 3, "t")
        return registry.Measurement({"x": estimate}, {"x": low}, f"x = {low}")

    _register("test.verdict", measure, band, negative_x)
    try:
        argv = ["check", "--only", "test.verdict", "--out", str(tmp_path), *IN_PROCESS]
        assert main(argv) == status
        entry = json.loads((tmp_path / "claims.json").read_text())["claims"][0]
        assert entry["verdict"] == verdict
        assert entry["arms"]["positive"]["decision"] == "supported"
    finally:
        registry.REGISTRY.pop("test.verdict")


def test_erroring_claim_is_reported_not_raised(tmp_path):
    def _raises(scale, *, x=None):
        raise RuntimeError("boom")

    _register("test.raises", _raises)
    try:
        assert main(["check", "--only", "test.raises", "--out", str(tmp_path), *IN_PROCESS]) == 1
        doc = json.loads((tmp_path / "claims.json").read_text())
        assert doc["claims"][0]["verdict"] == "error"
        assert "boom" in doc["claims"][0]["summary"]
    finally:
        registry.REGISTRY.pop("test.raises")


def test_report_readme_rewrites_only_the_table(tmp_path):
    (tmp_path / "docs").mkdir()
    document = {"scale": "paper", "summary": {"supported": 1}, "claims": [
        {"id": "a.b", "provenance": "paper", "verdict": "supported", "bands": {"x": "x <= 0"},
         "arms": {"claim": {"statistics": {"x": {"value": 0.0, "low": 0.0, "high": 0.0, "n": 1,
                                                 "method": "exact"}}}}}]}  # fmt: skip
    (tmp_path / "docs" / "claims.json").write_text(json.dumps(document))
    from paper_checks.report import README_BEGIN, README_END

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\nold\n{README_END}\noutro\n")
    argv = ["report", "--readme", str(readme), "--claims", str(tmp_path / "docs" / "claims.json")]
    assert main([*argv, "--check"]) == 1
    assert main(argv) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| [`a.b`](docs/report.md#ab) | 1 | paper | x = 0 | x <= 0 | **supported** |" in text
    assert main([*argv, "--check"]) == 0
    readme.write_text("no markers")
    assert main(argv) == 2


def test_the_readme_claims_table_is_current():
    """The README's table is generated from docs/claims.json, never kept by hand."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = stagewise("report", "--check", cwd=root)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    "command", ["check", "list", "figures", "report", "pep-refresh", "bench", "sweep"]
)
def test_every_subcommand_has_help(command):
    out = stagewise(command, "--help")
    assert out.returncode == 0
    assert "usage: stagewise" in out.stdout
    assert len(out.stdout.splitlines()) > 5


def test_a_broken_figure_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    def broken(scale):
        raise KeyError("missing table row")

    monkeypatch.setitem(
        registry.FIGURES, "steps-vs-kappa", registry.Recipe("steps-vs-kappa", "broken", broken)
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
    from infra.checks import InputError
    from paper_checks import cli

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
    targeted = [r for section in ("kernels", "sweep") for r in report[section] if "target" in r]
    assert targeted and all(r["met"] in (True, False, None) for r in targeted)


def test_a_claims_table_is_rendered_in_markdown():
    from paper_checks.report import markdown_table

    lines = markdown_table([{"variant": "a|b", "stages": 12.0}, {"variant": "c", "stages": 1e-7}])
    assert lines == [
        "| variant | stages |",
        "|---|---|",
        "| a\\|b | 12 |",
        "| c | 1e-07 |",
        "",
    ]
    assert markdown_table(None) == [] and markdown_table([]) == []
