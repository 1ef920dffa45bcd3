"""``stagewise list``: every claim with its source, provenance and controls."""

from __future__ import annotations

import json

NAME = "list"


def add_parser(sub) -> None:
    """The ``list`` command and its arguments, on the subparsers ``sub``."""
    lst = sub.add_parser(
        NAME,
        help="list the claims with their sources and provenance",
        description="List every registered claim: id, provenance, source, scales and statement.",
    )
    lst.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from paper_checks import catalogue

    claims = catalogue.all_claims()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": c.id,
                        "source": c.source,
                        "provenance": c.provenance,
                        "statement": c.statement,
                        "measurement": c.measurement,
                        "expected": c.expected,
                        "positive_control": c.positive,
                        "negative_control": c.negative,
                        "control_kinds": c.control_kinds,
                        "why_planted": c.why_planted,
                        "revision": c.revision,
                        "scales": list(c.scales),
                    }
                    for c in claims
                ],
                indent=1,
            )
        )
        return 0
    for c in claims:
        print(
            f"{c.id}  [{c.provenance}]  scales: {', '.join(c.scales)}\n"
            f"    source:    {c.source}\n    statement: {c.statement}\n"
            f"    expected:  {c.expected}\n"
            f"    controls:  positive ({c.control_kinds['positive']}): {c.positive}; "
            f"negative ({c.control_kinds['negative']}): {c.negative}"
            + (f"\n    no measured control: {c.why_planted}" if c.why_planted else "")
        )
    return 0
