"""``stagewise check --only P --update``: rerun some claims into a full report, keep the rest."""

import json
from pathlib import Path

import pytest

from paper_checks import catalogue, cli, report

FAST = ("boosting.linear-is-nesterov", "growth.exact", "nesterov.worst-case-bound")
RERUN = "growth.exact"


@pytest.fixture
def three_claims(monkeypatch):
    """A registry of three fast claims, so that a full run takes seconds."""
    chosen = [c for c in catalogue.all_claims() if c.id in FAST]
    assert len(chosen) == len(FAST)
    monkeypatch.setattr(catalogue, "all_claims", lambda: chosen)


def _check(out: Path, *argv) -> int:
    return cli.main(["check", "--out", str(out), "--backend", "inprocess", *argv])


def _rows(markdown: str) -> dict[str, str]:
    return {line.split("`")[1]: line for line in markdown.splitlines() if line.startswith("| [`")}


def _snapshot(root: Path) -> dict:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def full_report(tmp_path, three_claims, capsys):
    out = tmp_path / "docs"
    assert _check(out) == 0
    capsys.readouterr()
    return out


def test_an_update_replaces_the_rerun_entries_and_keeps_the_others_as_they_were(
    full_report, capsys
):
    before = json.loads((full_report / "claims.json").read_text())
    before_md = (full_report / "report.md").read_text()
    kept_figures = {p.name: p.read_bytes() for p in (full_report / "figures").iterdir()}
    assert _check(full_report, "--only", RERUN, "--update") == 0
    out = capsys.readouterr().out
    assert "updated the full report" in out and f"  {RERUN}  " in out
    after = json.loads((full_report / "claims.json").read_text())
    after_md = (full_report / "report.md").read_text()

    old, new = ({e["id"]: e for e in d["claims"]} for d in (before, after))
    assert [e["id"] for e in after["claims"]] == [e["id"] for e in before["claims"]]
    for claim_id in FAST:  # the kept entries read back unchanged; the rerun one is deterministic
        assert new[claim_id] == old[claim_id]
    assert after["selection"] is None and after["summary"] == before["summary"]
    assert [(u["only"], u["claims"]) for u in after["updates"]] == [(RERUN, [RERUN])]

    rows_before, rows_after = _rows(before_md), _rows(after_md)
    for claim_id in set(FAST) - {RERUN}:  # times of the kept claims read back from report.md
        assert rows_after[claim_id] == rows_before[claim_id]
    assert report.recorded_made(after_md) == report.recorded_made(before_md)
    assert "**Updated record**" in after_md and f"`--only {RERUN}` reran {RERUN}" in after_md
    assert f"Updated since its full run: `{RERUN}` rerun alone" in report.readme_table(after)
    assert "Updated since" not in report.readme_table(before)
    for name, data in kept_figures.items():
        assert (full_report / "figures" / name).read_bytes() == data


def test_a_second_update_appends_to_the_list(full_report, capsys):
    for _ in range(2):
        assert _check(full_report, "--only", "nesterov.worst*", "--update") == 0
    capsys.readouterr()
    updates = json.loads((full_report / "claims.json").read_text())["updates"]
    assert [u["claims"] for u in updates] == [["nesterov.worst-case-bound"]] * 2


def _edit(out: Path, change) -> None:
    document = json.loads((out / "claims.json").read_text())
    change(document)
    (out / "claims.json").write_text(json.dumps(document))


def _revise(document):  # the record holds an older revision of a claim not selected
    document["claims"][0]["revision"] += 1


def _drop(document):  # the code has a claim the record lacks
    del document["claims"][0]


def _other_versions(document):
    document["versions"]["numpy"] = "0.0.1"


def _partial(document):
    document["selection"] = "growth"


def _damaged(document):  # an entry kept by the update that cannot be read back
    del document["claims"][0]["arms"]["claim"]["statistics"]


@pytest.mark.parametrize(
    ("change", "argv", "words"),
    [
        (None, ["--only", RERUN, "--scale", "paper"], "quick-scale report, not paper"),
        (None, [], "--update needs --only"),
        (_revise, ["--only", RERUN], "boosting.linear-is-nesterov since"),
        (_drop, ["--only", RERUN], "boosting.linear-is-nesterov since"),
        (_other_versions, ["--only", RERUN], "0.0.1"),
        (_partial, ["--only", RERUN], "no full report"),
        (_damaged, ["--only", RERUN], "boosting.linear-is-nesterov in claims.json cannot be read"),
    ],
)
def test_an_update_that_would_mix_code_or_libraries_is_refused_and_changes_nothing(
    full_report, capsys, change, argv, words
):
    if change is not None:
        _edit(full_report, change)
    before = _snapshot(full_report)
    assert _check(full_report, *argv, "--update") == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1, err
    assert _snapshot(full_report) == before


def test_every_entry_of_the_paper_record_reads_back_unchanged():
    """``recorded_verdict`` on the 45 entries of docs/ (NaN and inf as text, tables, censored
    intervals): the results written again are the results read, and the times are the table's."""
    document = json.loads(report.PAPER_RECORD.read_text())
    markdown = report.PAPER_RECORD.with_name("report.md").read_text()
    timings, rows = report.recorded_timings(markdown), _rows(markdown)
    claims = {c.id: c for c in catalogue.all_claims()}
    results = ("verdict", "reason", "summary", "arms", "seeds_needed", "measured")
    assert len(timings) == len(document["claims"]) > 40
    for entry in document["claims"]:
        verdict = report.recorded_verdict(claims[entry["id"]], "paper", entry, timings)
        again = report.claim_entry(verdict)
        assert {k: again[k] for k in results} == {k: entry[k] for k in results}, entry["id"]
        assert rows[entry["id"]].endswith(f"| {report.timing(verdict).strip()} |")
