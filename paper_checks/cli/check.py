"""``stagewise check``: run the claims with their controls, print the verdicts, write the
report."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from infra.checks import InputError
from infra.engine import write_text_atomic
from paper_checks.cli.common import add_engine_options, engine, path_arg, writable_dir
from paper_checks.verdicts import FAILING, legend

NAME = "check"
RESUME_HINT = (
    "; every finished claim group and seed is stored: run the same command again to resume"
)

_VERDICTS_HELP = textwrap.fill(
    f"verdicts: {legend()}.", 99, subsequent_indent="  ", break_on_hyphens=False
)
EPILOG_CHECK = f"""\
examples:
  stagewise check                          every claim at the quick scale (a few minutes)
  stagewise check --only 'nesterov.*'      the claims whose id matches a glob
  stagewise check --scale paper --out docs full-size runs, report written to docs/
  stagewise check --scale paper --out docs --only 'growth.adaptive' --update
                                           rerun one revised claim into that full report
  stagewise check --scheduler tcp://host:8786   the claim groups on a Dask cluster
Claims that share an experiment form a group; groups run as tasks of the sweep engine (local
processes by default, one per core), and the seeds of the longest experiments (the transformers')
as tasks of their own before their group. Finished groups (and seeds) are stored in DIR/.tasks:
run the same command again and only what changed runs. A stored group is reused when the scale,
--only, the libraries, the CPU model, the shared code and the claims module that defines the
group are unchanged: an interrupted run resumes, and after an edit to one claims module only its
groups run again (--fresh runs every group).
Each claim's measurement runs three times: on the claim, on a positive control (where the
statement holds by construction) and on a negative control (where it is false by construction).
{_VERDICTS_HELP}
Exit status 0 if nothing is refuted, mis-posed or in error; 1 otherwise; 2 on bad usage.
"""


def add_parser(sub) -> None:
    """The ``check`` command and its arguments, on the subparsers ``sub``."""
    check = sub.add_parser(
        NAME,
        help="run the claims, print verdicts, write a report",
        description="Run the registered claims and write DIR/report.md "
        "(claims table with figures) and DIR/claims.json.",
        epilog=EPILOG_CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "--scale",
        choices=("quick", "paper"),
        default="quick",
        help="quick: CI-sized runs (default); paper: full-size runs",
    )
    check.add_argument(
        "--only",
        metavar="PATTERN",
        help="run only the claims whose id matches this glob (with * ? [ ]: the whole id) or "
        "contains this text (at least 3 characters); several, comma-separated: 'a*,b.c'",
    )
    check.add_argument(
        "--out",
        metavar="DIR",
        type=path_arg,
        default=Path("stagewise-report"),
        help="output directory (default: ./stagewise-report)",
    )
    check.add_argument(
        "--json",
        action="store_true",
        help="print claims.json to stdout instead of the verdict table",
    )
    check.add_argument(
        "--force",
        action="store_true",
        help="let a partial (--only) or other-scale run replace a full report in --out "
        "(refused without it, so that a quick look never overwrites a full report)",
    )
    check.add_argument(
        "--update",
        action="store_true",
        help="with --only: rerun the selected claims and put their results into the full report "
        "in --out, keeping every other entry (the report lists what each update reran). "
        "Refused unless the report is a full one of the same scale, made with the same library "
        "versions, and every claim the code has revised since (or added) is among those "
        "selected; claims sharing an experiment with a selected one are rerun only if selected",
    )
    check.add_argument(
        "--fresh",
        action="store_true",
        help="run every claim group again, ignoring the results stored in DIR/.tasks by "
        "earlier runs of the same code",
    )
    add_engine_options(check, "claim groups")


REPORT_MARKER = ".stagewise-report"
REPORT_FILES = ("claims.json", "report.md", "figures")


def _report_dir(path: Path, scale: str, selection: str | None, force: bool) -> Path:
    """The output directory of ``check``: new, empty, or a stagewise report (it holds our marker
    file, or a claims.json that ``check`` wrote); anything else is refused untouched. A full
    report (every claim of its scale) is replaced only by a full run of the same scale, unless
    ``force``; and nothing is replaced unless every file of the report can be written."""
    if path.exists() and not path.is_dir():
        raise InputError(f"--out: {str(path)!r} is a file, not a directory")
    ours = {REPORT_MARKER, ".stagewise.lock"}
    if path.is_dir() and any(p.name not in ours for p in path.iterdir()) and not _is_report(path):
        raise InputError(
            f"--out: {str(path)!r} is not empty and holds no stagewise report; choose a new "
            "or empty directory"
        )
    previous = _report_document(path)
    if (
        not force
        and isinstance(previous, dict)
        and previous.get("selection") is None
        and (selection is not None or previous.get("scale") != scale)
    ):
        run = f"this {scale}-scale run" + (f" of --only {selection!r}" if selection else "")
        raise InputError(
            f"--out: {str(path)!r} holds a full {previous.get('scale')}-scale report that {run} "
            "would replace; write elsewhere (--out NEW_DIR) or pass --force to replace it"
        )
    for name in REPORT_FILES:
        target = path / name
        wanted = target.is_dir() if name == "figures" else target.is_file()
        if (target.exists() or target.is_symlink()) and (
            not wanted or not os.access(target, os.W_OK)
        ):
            raise InputError(
                f"--out: cannot replace {str(target)!r} (not a writable "
                f"{'directory' if name == 'figures' else 'file'}); nothing was changed"
            )
    return writable_dir(path)


def _updatable(out: Path, scale: str, selected: list) -> tuple[dict, str, dict]:
    """The full report in ``out`` that ``--update`` may change: its claims.json (parsed), its
    report.md, and the verdicts it records for the claims not ``selected``
    (``report.recorded_verdict``, times from report.md), after checking that its scale and
    library versions are this run's, that every claim the code has revised since it was made, or
    added, is among the ``selected`` claims (so that every entry kept describes the code's
    claim), and that every entry kept reads back; otherwise an ``InputError``."""
    from infra.engine import versions
    from paper_checks import catalogue, report

    document = _report_document(out)
    where = f"--update: {str(out)!r}"
    if not isinstance(document, dict) or document.get("selection", "") is not None:
        raise InputError(f"{where} holds no full report to update; run without --only first")
    if document.get("scale") != scale:
        raise InputError(f"{where} holds a {document.get('scale')}-scale report, not {scale}")
    if document.get("versions") != versions():
        raise InputError(
            f"{where} was made with {document.get('versions')}, this run has {versions()}; "
            "a report mixes no library versions: run every claim again (without --only)"
        )
    recorded = {e.get("id"): e.get("revision", 1) for e in document.get("claims", [])}
    chosen = {c.id for c in selected}
    kept = [c for c in catalogue.select(None, scale) if c.id not in chosen]
    behind = [c.id for c in kept if recorded.get(c.id) != c.revision]
    if behind:
        raise InputError(
            f"{where}: the code has revised or added {', '.join(behind)} since the report was "
            "made; select them too (--only 'a,b' takes several), or run every claim"
        )
    try:
        markdown = (out / "report.md").read_text()
    except OSError as exc:
        raise InputError(f"{where}: cannot read its report.md ({exc.strerror})") from None
    entries = {e.get("id"): e for e in document["claims"]}
    timings = report.recorded_timings(markdown)
    verdicts = {}
    for c in kept:
        try:
            verdicts[c.id] = report.recorded_verdict(c, scale, entries[c.id], timings)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"{where}: the entry of {c.id} in claims.json cannot be read back "
                f"({type(exc).__name__}: {exc}); run every claim again (without --only)"
            ) from None
    return document, markdown, verdicts


def _merged(kept: dict, new: list, drawn: dict, out: Path):
    """The verdicts and figures of a full report after an update: ``new`` verdicts for the claims
    rerun and the report's own (``kept``, by id) for the others, in the order of a full run; the
    update's figures, and the report's for the claims kept."""
    from paper_checks import catalogue

    rerun = {v.claim.id: v for v in new}
    verdicts = [rerun.get(c.id) or kept[c.id] for c in catalogue.select(None, new[0].scale)]
    recipes = catalogue.figures()
    figures = {name: (f"figures/{name}.png", recipes[name].caption)
               for v in kept.values() for name in v.claim.figures
               if name in recipes and (out / "figures" / f"{name}.png").exists()}  # fmt: skip
    return verdicts, {**figures, **drawn}


def _report_document(path: Path):
    """The claims.json of a report directory, parsed; None when there is none or it is damaged."""
    try:
        return json.loads((path / "claims.json").read_text())
    except (OSError, ValueError):
        return None


def _is_report(path: Path) -> bool:
    if (path / REPORT_MARKER).exists():
        return True
    document = _report_document(path)  # a report written before the marker existed
    return isinstance(document, dict) and {"scale", "claims"} <= set(document)


def _remove_stale_figures(figures_dir: Path, drawn) -> None:
    """Delete the gallery figures of an earlier run that this run did not draw."""
    from paper_checks import catalogue

    for name in set(catalogue.figures()) - set(drawn):
        for ext in ("png", "pdf"):
            (figures_dir / f"{name}.{ext}").unlink(missing_ok=True)


def run(args) -> int:
    from tqdm import tqdm

    from infra.engine import directory_lock, remove_leftovers
    from paper_checks import catalogue, report, runner

    claims = catalogue.select(args.only, args.scale)
    backend, workers, scheduler = engine(args)
    if args.update and args.only is None:
        raise InputError("--update needs --only (a run of every claim replaces the report)")
    out = _report_dir(args.out, args.scale, args.only, args.force or args.update)
    with directory_lock(out, "check"):
        previous = _updatable(out, args.scale, claims) if args.update else None
        if args.only is not None:
            print(
                f"stagewise check: --only {args.only!r} matches {len(claims)} claim"
                f"{'s' if len(claims) != 1 else ''}: {', '.join(c.id for c in claims)}",
                file=sys.stderr,
            )
        (out / REPORT_MARKER).touch()
        remove_leftovers(writable_dir(out / "figures"))  # of a run killed mid-write
        if args.fresh:
            shutil.rmtree(out / runner.TASKS_DIR, ignore_errors=True)
        groups = len({c.group for c in claims})
        with tqdm(desc="claim groups and seeds", unit="task", file=sys.stderr) as bar:

            def on_task(label, total):
                bar.total = total
                if label is not None:
                    bar.update()
                    bar.set_postfix_str(label)
                else:
                    bar.refresh()

            verdicts, figures, problems, reused = runner.run_check(
                claims, args.scale, out, backend, workers, scheduler, on_task
            )
        for problem in problems:
            print(f"stagewise: {problem}", file=sys.stderr)
        if reused:
            print(
                f"stagewise: reused {reused} of {groups} claim groups stored in "
                f"{out / runner.TASKS_DIR} by an earlier or interrupted run of the same code "
                "(--fresh runs them again)",
                file=sys.stderr,
            )
        if previous is None:
            _remove_stale_figures(out / "figures", figures)
            document = report.claims_document(verdicts, args.scale, args.only)
            markdown = report.render_markdown(verdicts, document, figures)
        else:
            recorded, old_markdown, kept = previous
            update = {"only": args.only, "claims": [c.id for c in claims],
                      "made": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {runner.cpu_model()} "
                              f"({os.cpu_count()} cores)"}  # fmt: skip
            merged, all_figures = _merged(kept, verdicts, figures, out)
            document = report.claims_document(
                merged, args.scale, None, [*recorded.get("updates", []), update]
            )
            markdown = report.render_markdown(
                merged, document, all_figures, report.recorded_made(old_markdown)
            )
        write_text_atomic(out / "claims.json", json.dumps(document, indent=1) + "\n")
        write_text_atomic(out / "report.md", markdown)
        runner.finish(out)
    if args.json:
        print(json.dumps(document, indent=1))
    else:
        ran = report.claims_document(verdicts, args.scale, args.only)  # this run's claims
        tally = ", ".join(f"{n} {k}" for k, n in ran["summary"].items())
        print(f"{tally} ({len(verdicts)} claims at the {args.scale} scale).\n")
        _print_verdicts(verdicts, ran, report, report.recorded_verdicts(args.scale))
        if previous is not None:
            tally = "updated the full report, now " + ", ".join(
                f"{n} {k}" for k, n in document["summary"].items()
            )
        print(f"\n{tally}. Report: {out / 'report.md'}")
    return 1 if any(v.verdict in FAILING for v in verdicts) else 0


def _print_verdicts(verdicts, document, report, recorded: dict[str, str]) -> None:
    """One block per claim: verdict, id, time; statistics with intervals, bands; both controls;
    and, where the paper-scale record (``recorded``: id -> verdict) says otherwise, that verdict.
    Then the list of claims whose verdict differs from the record."""
    width = max(len(v.claim.id) for v in verdicts)
    differ = []
    for v, entry in zip(verdicts, document["claims"], strict=True):
        print(f"{v.verdict.upper():12}  {v.claim.id:<{width}}  {report.timing(v)}")
        print(f"{'':14}measured: {report.statistics_text(entry)}")
        print(f"{'':14}band:     {report.bands_text(entry)}")
        blind = report.uncalibrated(entry)
        print(
            f"{'':14}controls: positive {report.control_text(entry, 'positive')}, "
            f"negative {report.control_text(entry, 'negative')}"
            + (f" (not refuted by it: {', '.join(blind)})" if blind else "")
        )
        paper = recorded.get(v.claim.id)
        if paper is not None and paper != v.verdict:
            differ.append(v.claim.id)
            print(f"{'':14}paper scale: {paper} (docs/claims.json), not {v.verdict}")
    if differ:
        print(
            f"\n{len(differ)} verdict{'s differ' if len(differ) > 1 else ' differs'} from the "
            f"paper-scale record (docs/claims.json): {', '.join(differ)}"
        )
