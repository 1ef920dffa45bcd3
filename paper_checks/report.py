"""The report of a ``stagewise check`` run: ``report.md`` (claims table, figures) and ``claims.json``.

Every file is written atomically (temp file, then rename). ``claims.json`` holds no timings or
dates, so the same code and seed give a bit-identical file.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

from infra.engine import versions
from paper_checks.expect import Estimate
from paper_checks.registry import (
    CONTROL_EXPECTED,
    PROVENANCES,
    SCALES,
    Claim,
    Verdict,
    plain,
)
from paper_checks.verdicts import VERDICTS, legend


def claim_entry(v: Verdict) -> dict:
    """One claim of ``claims.json``: what it states, how it is measured and controlled, and
    what came out on each arm."""
    c = v.claim
    return {
        "id": c.id,
        "revision": c.revision,
        "revisions": [{"number": r.number, "change": r.change} for r in c.revisions],
        "source": c.source,
        "provenance": c.provenance,
        "statement": c.statement,
        "measurement": c.measurement,
        "expected": c.expected,
        "bands": {name: band.render(name) for name, band in c.expect.items()},
        "preconditions": {name: band.render(name) for name, band in c.requires.items()},
        "controls": {"positive": c.positive, "negative": c.negative},
        "control_kinds": c.control_kinds,
        "why_planted": c.why_planted,
        "verdict": v.verdict,
        "reason": v.reason,
        "summary": v.summary,
        "arms": {arm: result.as_dict() for arm, result in v.arms.items()},
        "seeds_needed": plain(v.seeds_needed),
        "measured": plain(v.measured),
        "figures": list(c.figures),
    }


def claims_document(
    verdicts: list[Verdict], scale: str, selection: str | None = None, updates: list | None = None
) -> dict:
    """The content of ``claims.json``; ``selection`` is the ``--only`` pattern of a partial run
    (None: every claim of the scale); ``updates``, of a full record that ``check --update``
    changed since its full run: per update, its ``--only`` pattern, the claims it reran and when
    (the field is left out of a record no update changed)."""
    return {
        "scale": scale,
        "selection": selection,
        "versions": versions(),
        **({"updates": updates} if updates else {}),
        "summary": {name: sum(x.verdict == name for x in verdicts) for name in VERDICTS},
        "claims": [claim_entry(v) for v in verdicts],
    }


PAPER_RECORD = Path(__file__).resolve().parent.parent / "docs" / "claims.json"


def recorded_verdicts(scale: str, record: Path | None = None) -> dict[str, str]:
    """Claim id -> verdict of the paper-scale record (``record``, default ``PAPER_RECORD``), to
    set beside a run at another ``scale``;
    empty for a paper-scale run, or when the record is missing (an installed package) or
    unreadable."""
    if scale == "paper":
        return {}
    try:
        document = check_claims_document(json.loads((record or PAPER_RECORD).read_text()))
    except (OSError, ValueError):
        return {}
    return {c["id"]: c["verdict"] for c in document["claims"]}


def statistics_text(entry: dict, arm: str = "claim") -> str:
    """``name = value [low, high]`` for each statistic of one arm of a ``claims.json`` entry."""
    stats = (entry.get("arms") or {}).get(arm, {}).get("statistics", {})
    return "; ".join(f"{k} = {Estimate.from_dict(e).text()}" for k, e in stats.items())


def bands_text(entry: dict) -> str:
    """The bands of a ``claims.json`` entry, then its preconditions, as one line."""
    needs = [f"precondition {text}" for text in (entry.get("preconditions") or {}).values()]
    return "; ".join([*(entry.get("bands") or {}).values(), *needs]) or entry.get("expected", "")


def control_text(entry: dict, arm: str) -> str:
    """An arm's decision, marked when it is not what a control must give, and ``(planted)``
    when the control is a planted shift rather than a measured system."""
    decision = (entry.get("arms") or {}).get(arm, {}).get("decision", "-")
    wanted = CONTROL_EXPECTED[arm]
    text = decision if decision in (wanted, "-") else f"{decision} (!)"
    kind = (entry.get("control_kinds") or {}).get(arm, "measured")
    return text if kind == "measured" else f"{text} ({kind})"


def uncalibrated(entry: dict) -> list[str]:
    """Statistics the negative control left unrefuted: the claim's verdict is calibrated as a
    whole, but these parts of it are not shown able to fail."""
    decisions = (entry.get("arms") or {}).get("negative", {}).get("decisions", {})
    preconditions = entry.get("preconditions") or {}
    return [k for k, d in decisions.items() if d != "refuted" and k not in preconditions]


def timing(v: Verdict) -> str:
    """A claim's time; for claims sharing one experiment, the group's time, marked (where the
    experiment's seeds ran as tasks of their own, their times summed); ``-`` when unknown."""
    if not math.isfinite(v.seconds):
        return "     -"
    shared = f" (group of {v.shared_by})" if v.shared_by > 1 else ""
    return f"{v.seconds:6.1f} s{shared}"


TIMING_ROW = re.compile(
    r"^\| \[`(?P<id>[^`]+)`\]\(#[^)]*\) \|.*\| (?P<seconds>[0-9.]+) s"
    r"(?: \(group of (?P<shared>[0-9]+)\))? \|$",
    re.MULTILINE,
)


def recorded_timings(markdown: str) -> dict[str, tuple[float, int]]:
    """Claim id -> (seconds, claims sharing them) read from the claims table of a ``report.md``
    that ``render_markdown`` wrote (the times are kept there, not in ``claims.json``)."""
    return {m["id"]: (float(m["seconds"]), int(m["shared"] or 1))
            for m in TIMING_ROW.finditer(markdown)}  # fmt: skip


def recorded_verdict(claim: Claim, scale: str, entry: dict, timings: dict) -> Verdict:
    """The verdict a ``claims.json`` entry records for ``claim`` (its time from ``timings``,
    ``recorded_timings``; NaN when not there): what ``claim_entry`` wrote, read back."""
    seconds, shared_by = timings.get(claim.id, (math.nan, 1))
    fields = {k: entry[k] for k in ("verdict", "measured", "summary", "reason", "seeds_needed")}
    return Verdict.from_dict(
        claim, scale, {**fields, "arms": entry["arms"], "seconds": seconds, "shared_by": shared_by}
    )


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows) -> list[str]:
    """A claim's ``measured["table"]`` (a list of dicts with the same keys) as Markdown lines,
    followed by a blank line; nothing when there is no table."""
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return []
    keys = list(rows[0])

    def cell(value):
        return _cell(f"{value:.4g}" if isinstance(value, float) else value)

    return [
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
        *("| " + " | ".join(cell(r.get(k, "")) for k in keys) + " |" for r in rows),
        "",
    ]


def _needed(entry: dict) -> str:
    needed = {k: n for k, n in (entry.get("seeds_needed") or {}).items() if n is not None}
    return "; ".join(f"{k}: {n if isinstance(n, str) else int(n)}" for k, n in needed.items())


def made_here(doc: dict) -> str:
    """``Made <now> UTC on <machine>, <versions>.``: where and when a report was written."""
    return (
        f"Made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
        f"({os.cpu_count()} cores), Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in doc["versions"].items())
        + "."
    )


MADE = re.compile(r"^Scale `[^`]*`; [^.]*\. (?P<made>Made .*)$", re.MULTILINE)


def recorded_made(markdown: str) -> str | None:
    """The ``made_here`` sentence of a ``report.md`` that ``render_markdown`` wrote."""
    match = MADE.search(markdown)
    return match["made"] if match else None


def render_markdown(
    verdicts: list[Verdict],
    doc: dict,
    figures: dict[str, tuple[str, str]],
    made: str | None = None,
) -> str:
    """``report.md`` for ``verdicts`` and their ``claims_document``, ``doc``;
    ``figures[name] = (relative png path, caption)`` for every figure that was drawn; ``made``:
    the header's where-and-when sentence (default ``made_here``; an updated record keeps its
    full run's)."""
    scale, selection = doc["scale"], doc["selection"]
    tally = ", ".join(f"{n} {v}" for v, n in doc["summary"].items())
    lines = [
        "# stagewise claims report",
        "",
        f"Scale `{scale}`; {tally}. {made or made_here(doc)}",
        "",
        *(
            [
                f"**Partial run**: only the {len(verdicts)} claims matching `--only "
                f"{selection}` were run; the other claims are not in this report.",
                "",
            ]
            if selection is not None
            else []
        ),
        *(
            [
                "**Updated record**: after the full run, the claims below were rerun alone "
                "(`stagewise check --only PATTERN --update`), with the same library versions; "
                "every other entry is the full run's, and its claim's revision is the code's.",
                "",
                *(
                    f"* {u['made']}: `--only {u['only']}` reran {', '.join(u['claims'])}"
                    for u in doc.get("updates", [])
                ),
                "",
            ]
            if doc.get("updates")
            else []
        ),
        VERDICT_LEGEND,
        "",
        "Provenance: `paper` = stated in the paper's abstract, caption or theorem name; "
        "`secondary` = from summaries of the paper; `reconstructed` = derived here to agree with "
        "those, constants may differ from the paper; `standard` = textbook fact.",
        "",
        "| id | rev. | provenance | statistic [95% interval] | band | verdict | + control | "
        "- control | time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v, entry in zip(verdicts, doc["claims"], strict=True):
        c = v.claim
        lines.append(
            f"| [`{c.id}`](#{c.id.replace('.', '')}) | {c.revision} | {c.provenance} | "
            f"{_cell(statistics_text(entry))} | {_cell(bands_text(entry))} | "
            f"**{v.verdict}** | {control_text(entry, 'positive')} | "
            f"{control_text(entry, 'negative')} | {timing(v).strip()} |"
        )
    for v, entry in zip(verdicts, doc["claims"], strict=True):
        c = v.claim
        lines += [
            "",
            f"## {c.id}",
            "",
            f"*{c.provenance}*, revision {c.revision}: {c.source}",
            "",
            f"**Statement.** {c.statement}",
            "",
            f"**Measurement.** {c.measurement}.",
            "",
            f"**Bands.** {'; '.join(entry['bands'].values())}.",
            "",
            *(
                [
                    f"**Preconditions** (else mis-posed). {'; '.join(entry['preconditions'].values())}.",
                    "",
                ]
                if entry["preconditions"]
                else []
            ),
            f"**Verdict: {v.verdict}** ({v.reason}). {v.summary}",
            "",
            f"* claim: {entry['arms'].get('claim', {}).get('decision', '-')}: "
            f"{statistics_text(entry)}",
            f"* positive control, {c.control_kinds['positive']} ({c.positive}): "
            f"{control_text(entry, 'positive')}: {statistics_text(entry, 'positive')}",
            f"* negative control, {c.control_kinds['negative']} ({c.negative}): "
            f"{control_text(entry, 'negative')}: {statistics_text(entry, 'negative')}",
        ]
        if c.why_planted:
            lines.append(f"* no measured control: {c.why_planted}")
        blind = uncalibrated(entry)
        if blind:
            lines.append(
                f"* not refuted by the negative control (this part of the measurement is not "
                f"shown able to fail): {', '.join(blind)}"
            )
        if _needed(entry):
            lines.append(f"* seeds a power calculation asks for (80% power): {_needed(entry)}")
        for r in c.revisions:
            lines.append(f"* revision {r.number}: {r.change}")
        lines.append("")
        lines += markdown_table(v.measured.get("table"))
        for name in c.figures:
            if name in figures:
                png, caption = figures[name]
                lines += [f"![{name}]({png})", "", f"*{caption}*", ""]
        lines += [
            "<details><summary>measured numbers</summary>",
            "",
            "```json",
            json.dumps(plain(v.measured), indent=1),
            "```",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


VERDICT_LEGEND = (
    f"Verdicts: {legend('`')}. A control marked "
    "`(planted)` is the claim's own numbers shifted by a constant (`(partly planted)`: some of "
    "its statistics are): it tests the band arithmetic and the spread, not whether the experiment "
    "can detect the effect; unmarked controls are measured (the same measurement applied to a "
    "second system)."
)

README_BEGIN = "<!-- claims table: generated by 'stagewise report --readme', do not edit -->"
README_END = "<!-- end of claims table -->"


def readme_table(document: dict, report_link: str = "docs/report.md") -> str:
    """The README's claims table from a ``claims.json`` document (between the markers)."""
    claims = document["claims"]
    tally = ", ".join(f"{n} {v}" for v, n in document["summary"].items() if n)
    rerun = sorted({c for u in document.get("updates", []) for c in u["claims"]})
    updated = (
        f" Updated since its full run: {', '.join(f'`{c}`' for c in rerun)} rerun alone "
        f"(`check --update`; when and where: [the report]({report_link}))."
        if rerun
        else ""
    )
    lines = [
        README_BEGIN,
        f"Scale `{document['scale']}`: {tally}.{updated}",
        "",
        "| claim | rev. | provenance | statistic [95% interval] | band | verdict | + / - control |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in claims:
        bands = bands_text(e)
        stats = statistics_text(e) or e.get("summary", "")
        controls = f"{control_text(e, 'positive')} / {control_text(e, 'negative')}"
        lines.append(
            f"| [`{e['id']}`]({report_link}#{e['id'].replace('.', '')}) | "
            f"{e.get('revision', 1)} | {e['provenance']} | {_cell(stats)} | {_cell(bands)} | "
            f"**{e['verdict']}** | {controls} |"
        )
    return "\n".join([*lines, README_END])


CLAIM_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


def check_claims_document(document) -> dict:
    """``document`` if it has the shape of a ``claims.json`` that ``stagewise check`` wrote, as
    far as the README table reads it; otherwise a ``ValueError`` naming the first field that is
    missing or wrong (the claim's index and id where there is one)."""
    if not isinstance(document, dict):
        raise ValueError(f"must hold a JSON object, not {type(document).__name__}")
    for key, kind in (("scale", str), ("summary", dict), ("claims", list)):
        if key not in document:
            raise ValueError(f"has no field {key!r}")
        if not isinstance(document[key], kind):
            raise ValueError(f"field {key!r} must be a {kind.__name__}")
    if document["scale"] not in SCALES:
        raise ValueError(
            f"field 'scale' must be one of {', '.join(SCALES)}, got {document['scale']!r}"
        )
    for index, update in enumerate(document.get("updates", [])):
        if not isinstance(update, dict) or not (
            isinstance(update.get("claims"), list)
            and all(isinstance(c, str) for c in update["claims"])
        ):
            raise ValueError(f"updates[{index}] must be an object whose 'claims' lists ids")
    seen = set()
    for index, entry in enumerate(document["claims"]):
        where = f"claims[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object")
        for key in ("id", "provenance", "verdict"):
            if not isinstance(entry.get(key), str):
                problem = "is missing" if key not in entry else "must be a string"
                raise ValueError(f"{where} field {key!r} {problem}")
        where = f"{where} ({entry['id']!r})"
        if not CLAIM_ID.fullmatch(entry["id"]):
            raise ValueError(f"{where}: an id is lower-case letters, digits, '.', '-' and '_'")
        if entry["id"] in seen:
            raise ValueError(f"{where}: the id appears twice")
        seen.add(entry["id"])
        if entry["verdict"] not in VERDICTS:
            raise ValueError(
                f"{where} field 'verdict' must be one of {', '.join(VERDICTS)}, got {entry['verdict']!r}"
            )
        if entry["provenance"] not in PROVENANCES:
            raise ValueError(
                f"{where} field 'provenance' must be one of {', '.join(PROVENANCES)}, got {entry['provenance']!r}"
            )
        revision = entry.get("revision", 1)
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
            raise ValueError(f"{where} field 'revision' must be an integer >= 1, got {revision!r}")
        for key in ("bands", "arms", "seeds_needed"):
            if not isinstance(entry.get(key, {}), dict):
                raise ValueError(f"{where} field {key!r} must be an object")
        if not all(isinstance(b, str) for b in entry.get("bands", {}).values()):
            raise ValueError(f"{where} field 'bands' must map names to text")
        for key in ("summary", "expected"):
            if not isinstance(entry.get(key, ""), str):
                raise ValueError(f"{where} field {key!r} must be a string")
    return document


def replace_readme_table(readme: str, table: str) -> str:
    """``readme`` with the text between the claims-table markers replaced by ``table``. The
    README must hold each marker exactly once, the end after the beginning (``ValueError``)."""
    for marker, name in ((README_BEGIN, "beginning"), (README_END, "end")):
        count = readme.count(marker)
        if count != 1:
            raise ValueError(
                f"the claims-table {name} marker {marker!r} appears {count} times (must be once)"
            )
    if table.count(README_BEGIN) != 1 or table.count(README_END) != 1:
        raise ValueError("the claims.json's text holds a claims-table marker")
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    if end < start:
        raise ValueError("the claims-table end marker comes before its beginning marker")
    return readme[:start] + table + readme[end + len(README_END) :]
