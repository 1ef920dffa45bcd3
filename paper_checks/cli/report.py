"""``stagewise report``: rewrite the README's claims table from a claims.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

from infra.checks import InputError
from infra.engine import write_text_atomic
from paper_checks.cli.common import path_arg

NAME = "report"


def add_parser(sub) -> None:
    """The ``report`` command and its arguments, on the subparsers ``sub``."""
    rep = sub.add_parser(
        NAME,
        help="rewrite the README's claims table from a claims.json",
        description="Rewrite the claims table of a README (between its marker comments) from the "
        "verdicts in a claims.json, so that the table is never kept by hand.",
    )
    rep.add_argument(
        "--readme",
        metavar="FILE",
        type=path_arg,
        default=Path("README.md"),
        help="the README to update (default: ./README.md)",
    )
    rep.add_argument(
        "--claims",
        metavar="FILE",
        type=path_arg,
        default=Path("docs/claims.json"),
        help="the claims.json to read (default: docs/claims.json, the paper-scale record)",
    )
    rep.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if the table is not current",
    )


def run(args) -> int:
    from paper_checks import report

    try:
        document = json.loads(args.claims.read_text())
        readme = args.readme.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(f"{args.claims} is not a claims.json ({exc})") from None
    try:
        report.check_claims_document(document)
    except ValueError as exc:
        raise InputError(
            f"{args.claims} is not a claims.json of 'stagewise check': {exc}"
        ) from None
    link = os.path.relpath(args.claims.with_name("report.md"), args.readme.resolve().parent)
    try:
        updated = report.replace_readme_table(readme, report.readme_table(document, link))
    except ValueError as exc:
        raise InputError(f"{args.readme}: {exc}") from None
    if args.check:
        current = updated == readme
        print(f"{args.readme}: claims table {'is current' if current else 'is out of date'}")
        return 0 if current else 1
    write_text_atomic(args.readme, updated)
    print(f"{args.readme}: claims table written from {args.claims}")
    return 0
