"""The report of a ``stagewise check`` run: ``report.md`` (claims table, figures) and ``claims.json``.

Every file is written atomically (temp file, then rename). ``claims.json`` holds no timings or
dates, so the same code and seed give a bit-identical file.
"""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import UTC, datetime

import numpy as np

from paper_checks.registry import Verdict
from sims.engine import versions


def plain(value):
    """JSON-safe copy: numpy scalars and arrays to Python, non-finite floats to strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def claims_document(verdicts: list[Verdict], scale: str, selection: str | None = None) -> dict:
    """The content of ``claims.json``; ``selection`` is the ``--only`` pattern of a partial run
    (None: every claim of the scale)."""
    return {
        "scale": scale,
        "selection": selection,
        "versions": versions(),
        "summary": {v: sum(x.verdict == v for x in verdicts) for v in ("pass", "fail", "error")},
        "claims": [
            {
                "id": v.claim.id,
                "source": v.claim.source,
                "provenance": v.claim.provenance,
                "statement": v.claim.statement,
                "expected": v.claim.expected,
                "verdict": v.verdict,
                "summary": v.summary,
                "measured": plain(v.measured),
                "figures": list(v.claim.figures),
            }
            for v in verdicts
        ],
    }


def timing(v: Verdict) -> str:
    """A claim's time; for claims sharing one experiment, the group's time, marked."""
    shared = f" (group of {v.shared_by})" if v.shared_by > 1 else ""
    return f"{v.seconds:6.1f} s{shared}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(
    verdicts: list[Verdict],
    scale: str,
    figures: dict[str, tuple[str, str]],
    selection: str | None = None,
) -> str:
    """``figures[name] = (relative png path, caption)`` for every figure that was drawn."""
    doc = claims_document(verdicts, scale, selection)
    tally = ", ".join(f"{n} {v}" for v, n in doc["summary"].items())
    lines = [
        "# stagewise claims report",
        "",
        f"Scale `{scale}`; {tally}. Made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.machine()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in doc["versions"].items())
        + ".",
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
        "Provenance: `paper` = stated in the paper's abstract, caption or theorem name; "
        "`secondary` = from summaries of the paper; `reconstructed` = derived here to agree with "
        "those, constants may differ from the paper; `standard` = textbook fact.",
        "",
        "| id | source | provenance | statement | measured | expected | verdict | time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        c = v.claim
        lines.append(
            f"| [`{c.id}`](#{c.id.replace('.', '')}) | {_cell(c.source)} | "
            f"{c.provenance} | {_cell(c.statement)} | {_cell(v.summary)} | "
            f"{_cell(c.expected)} | **{v.verdict}** | {timing(v).strip()} |"
        )
    for v in verdicts:
        c = v.claim
        lines += [
            "",
            f"## {c.id}",
            "",
            f"*{c.provenance}*: {c.source}",
            "",
            f"**Statement.** {c.statement}",
            "",
            f"**Expected.** {c.expected}",
            "",
            f"**Verdict: {v.verdict}.** {v.summary}",
            "",
        ]
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
