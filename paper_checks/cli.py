"""The ``stagewise`` command line: check claims, list them, draw figures, refresh PEPit tables.

Exit status: 0 when no selected claim is refuted, mis-posed or in error, 1 otherwise, 2 on bad usage
(one line on stderr, no traceback, no file written), 3 on an internal error (a bug of stagewise:
one line on stderr naming a log file with the traceback; ``--debug`` prints it instead).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import textwrap
import warnings
from pathlib import Path

from paper_checks.verdicts import FAILING, legend
from sims.engine import DamagedResultWarning, write_text_atomic
from theory.checks import InputError

_VERDICTS_HELP = textwrap.fill(
    f"verdicts: {legend()}.", 99, subsequent_indent="  ", break_on_hyphens=False
)
EPILOG_CHECK = f"""\
examples:
  stagewise check                          every claim at the quick scale (a few minutes)
  stagewise check --only 'nesterov.*'      the claims whose id matches a glob
  stagewise check --scale paper --out docs full-size runs, report written to docs/
  stagewise check --scheduler tcp://host:8786   the claim groups on a Dask cluster
Claims that share an experiment form a group; groups run as tasks of the sweep engine (local
processes by default, one per core). Interrupted (Ctrl-C, killed)? Run the same command again:
finished groups stored in DIR/.tasks are reused when the code, scale and --only are unchanged.
Each claim's measurement runs three times: on the claim, on a positive control (where the
statement holds by construction) and on a negative control (where it is false by construction).
{_VERDICTS_HELP}
Exit status 0 if nothing is refuted, mis-posed or in error; 1 otherwise; 2 on bad usage.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def one_line(text: str) -> str:
    """``text`` on one line: control characters escaped (a stray one could break the line, or the
    terminal), runs of white space folded to one space."""
    printable = "".join(c if c.isprintable() or c in " \t\n" else ascii(c)[1:-1] for c in text)
    return " ".join(printable.split())


def _path(text: str) -> Path:
    """A path argument; an empty one (which would mean the current directory) is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file or directory, got an empty string")
    return Path(text)


def _add_engine_options(parser: argparse.ArgumentParser, unit: str) -> None:
    """--backend, --workers, --scheduler: how the sweep engine runs the tasks (check and sweep)."""
    parser.add_argument(
        "--backend",
        choices=("inprocess", "processes", "dask"),
        default=None,
        help=f"where the {unit} run: in this process, in local processes (the default) or on "
        "Dask (the default when --scheduler is given)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: all cores); with --backend dask and no --scheduler, "
        "the size of a local Dask cluster on loopback",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (or set DASK_SCHEDULER_ADDRESS)",
    )


def _engine(args) -> tuple[str, int | None, str | None]:
    """(backend, workers, scheduler) from the engine options, validated."""
    from sims.engine import MAX_WORKERS, check_scheduler

    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if scheduler is not None:
        check_scheduler(scheduler, "--scheduler" if args.scheduler else "DASK_SCHEDULER_ADDRESS")
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise InputError(f"--workers must be between 1 and {MAX_WORKERS}, got {args.workers}")
    if args.backend in ("inprocess", "processes") and args.scheduler:
        raise InputError(f"--scheduler needs --backend dask, not {args.backend}")
    return args.backend or ("dask" if scheduler else "processes"), args.workers, scheduler


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("stagewise")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stagewise",
        description=(
            "Numerical verification of claims about stagewise training (stacking as Nesterov's "
            "accelerated gradient descent, progressive subnetworks, growth operators). Each claim "
            "carries its source and a provenance tag (paper, secondary, reconstructed, standard)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an internal error, print the traceback instead of writing it to a log file",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    check = sub.add_parser(
        "check",
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
        "contains this text (at least 3 characters)",
    )
    check.add_argument(
        "--out",
        metavar="DIR",
        type=_path,
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
    _add_engine_options(check, "claim groups")

    lst = sub.add_parser(
        "list",
        help="list the claims with their sources and provenance",
        description="List every registered claim: id, provenance, source, scales and statement.",
    )
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    figs = sub.add_parser(
        "figures",
        help="draw every figure (PNG and PDF)",
        description="Compute and draw every figure of the gallery into DIR.",
    )
    figs.add_argument(
        "--out",
        metavar="DIR",
        type=_path,
        default=Path("stagewise-report/figures"),
        help="output directory (default: ./stagewise-report/figures)",
    )
    figs.add_argument(
        "--only",
        metavar="PATTERN",
        help="only the figures whose name matches this glob or contains this text (>= 3 characters)",
    )
    figs.add_argument(
        "--scale",
        choices=("quick", "paper"),
        default="quick",
        help="size of the runs behind the figures (default quick)",
    )
    _add_engine_options(figs, "figures")

    rep = sub.add_parser(
        "report",
        help="rewrite the README's claims table from a claims.json",
        description="Rewrite the claims table of a README (between its marker comments) from the "
        "verdicts in a claims.json, so that the table is never kept by hand.",
    )
    rep.add_argument(
        "--readme",
        metavar="FILE",
        type=_path,
        default=Path("README.md"),
        help="the README to update (default: ./README.md)",
    )
    rep.add_argument(
        "--claims",
        metavar="FILE",
        type=_path,
        default=Path("docs/claims.json"),
        help="the claims.json to read (default: docs/claims.json, the paper-scale record)",
    )
    rep.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if the table is not current",
    )

    pep = sub.add_parser(
        "pep-refresh",
        help="recompute theory/data/pep_rates.json with PEPit",
        description="Solve the performance estimation problems behind the "
        "stored PEPit worst cases (needs the 'pep' extra: pip install "
        "'stagewise[pep]'). Several minutes on 2 cores.",
    )
    pep.add_argument(
        "--out",
        metavar="FILE",
        type=_path,
        default=None,
        help="where to write (default: the package's theory/data/pep_rates.json)",
    )
    pep.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="solver processes (default: all cores)",
    )
    sweep = sub.add_parser(
        "sweep",
        help="run a parameter grid into a results directory (resumable)",
        description=textwrap.fill(
            "Run every cell of a grid (a TOML file: family = one of "
            f"{', '.join(repr(f) for f in SWEEP_FAMILIES)}; seeds = N or a list of seed indices; and "
            "a [parameters] table of lists, each value listed once) into DIR, one Parquet row per "
            "cell. Re-running skips stored cells; a killed sweep resumes without loss, and a damaged "
            "stored file is set aside and its cells run again. 'stagewise sweep --families' lists "
            "every family's parameters.",
            width=88,
        ),
        epilog='example grid:\n  family = "deep_linear"\n  seeds = 5\n  [parameters]\n'
        '  kappa = [10, 100, 1000]\n  init = ["stack", "zero"]\n\n'
        "  stagewise sweep grid.toml --out results/deep --workers 2\n"
        "  stagewise sweep --summary results/deep",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("grid", nargs="?", type=_path, help="grid file (TOML)")
    sweep.add_argument(
        "--families",
        action="store_true",
        help="list every family with its parameters, their defaults and meaning, and exit",
    )
    sweep.add_argument("--out", metavar="DIR", type=_path, help="results directory")
    sweep.add_argument(
        "--summary",
        metavar="DIR",
        type=_path,
        help="print a table of the rows stored in DIR and exit",
    )
    _add_engine_options(sweep, "cells")
    sweep.add_argument("--batch", type=int, default=4, help="cells per task (default 4)")
    sweep.add_argument(
        "--columns",
        metavar="METRICS",
        help="with --summary: only these metrics (comma-separated, e.g. "
        "stages_to_target,final_loss) beside the parameters and cell counts",
    )
    sweep.add_argument(
        "--plot",
        metavar="PNG",
        type=_path,
        help="with --summary: also draw stages_to_target (or final_loss) against "
        "the first numeric parameter that varies, one line per other setting",
    )
    sweep.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="deep_linear cells on the GPU through CuPy (extra 'gpu')",
    )

    bench = sub.add_parser(
        "bench",
        help="wall-time benchmarks, reported as ratios",
        description="Time the Numba kernels against their NumPy references "
        "(and PyTorch eager, JAX jit, scikit-learn where installed) in one run (best of "
        "--repeats, JIT warm) and report the ratios. Each line names its float type "
        "([float64] or [float32]: the transformer and residual-MLP steps are timed in both) "
        "and ends with its target and whether this run met or missed it.",
    )
    bench.add_argument("--repeats", type=int, default=5, help="timings per case (default 5)")
    bench.add_argument(
        "--section",
        choices=("rates", "kernels", "scaling", "sweep", "all"),
        default="all",
        help="rates: AlgoPerf-style stages-to-target table; "
        "kernels: Numba vs NumPy (and scikit-learn) ratios; scaling: per-d stage "
        "times and the fraction of dgemm throughput; sweep: a 64-cell sweep on 2 workers "
        "(local processes and Dask) against in-process (default: all)",
    )
    bench.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: check that every section runs (about 40 s on 2 cores, most of it the "
        "local Dask cluster and process start-up of the sweep section; timings mean nothing and "
        "targets are not judged)",
    )
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _writable_dir(path: Path) -> Path:
    """``path``, created if need be, once a file could be written in it (a probe of this
    process's own, so that two runs probing one directory at once do not remove each other's)."""
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".stagewise-write-test-"):
            pass
    except OSError as exc:
        raise InputError(f"--out: cannot write to {str(path)!r} ({exc.strerror})") from None
    return path


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
    return _writable_dir(path)


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


def _cmd_check(args) -> int:
    from tqdm import tqdm

    from paper_checks import catalogue, report, runner
    from sims.engine import directory_lock, remove_leftovers

    claims = catalogue.select(args.only, args.scale)
    backend, workers, scheduler = _engine(args)
    out = _report_dir(args.out, args.scale, args.only, args.force)
    with directory_lock(out, "check"):
        if args.only is not None:
            print(
                f"stagewise check: --only {args.only!r} matches {len(claims)} claim"
                f"{'s' if len(claims) != 1 else ''}: {', '.join(c.id for c in claims)}",
                file=sys.stderr,
            )
        (out / REPORT_MARKER).touch()
        remove_leftovers(_writable_dir(out / "figures"))  # of a run killed mid-write
        groups = len({c.group for c in claims})
        with tqdm(total=groups, desc="claim groups", unit="group", file=sys.stderr) as bar:

            def on_task(result):
                bar.update()
                bar.set_postfix_str(", ".join(result["claim_ids"]))

            verdicts, figures, problems, reused = runner.run_check(
                claims, args.scale, out, backend, workers, scheduler, on_task
            )
        for problem in problems:
            print(f"stagewise: {problem}", file=sys.stderr)
        if reused:
            print(
                f"stagewise: resumed: {reused} of {groups} claim groups stored by an "
                "interrupted run",
                file=sys.stderr,
            )
        _remove_stale_figures(out / "figures", figures)
        document = report.claims_document(verdicts, args.scale, args.only)
        markdown = report.render_markdown(verdicts, args.scale, figures, args.only)
        write_text_atomic(out / "claims.json", json.dumps(document, indent=1) + "\n")
        write_text_atomic(out / "report.md", markdown)
        runner.finish(out)
    if args.json:
        print(json.dumps(document, indent=1))
    else:
        tally = ", ".join(f"{n} {k}" for k, n in document["summary"].items())
        print(f"{tally} ({len(verdicts)} claims at the {args.scale} scale).\n")
        _print_verdicts(verdicts, document, report, report.recorded_verdicts(args.scale))
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


def _cmd_list(args) -> int:
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


def _cmd_figures(args) -> int:
    from tqdm import tqdm

    from paper_checks import catalogue
    from paper_checks.runner import draw_figure_task
    from sims.engine import execute

    recipes = catalogue.figures()
    try:
        names = catalogue.matching(args.only, list(recipes), "figure")
    except InputError as exc:
        raise InputError(f"{exc}; figures: {', '.join(recipes)}") from None
    backend, workers, scheduler = _engine(args)
    out = _writable_dir(args.out)
    drawn = {}
    with tqdm(total=len(names), desc="figures", unit="figure", file=sys.stderr) as bar:

        def on_result(result):
            done, problems = result
            drawn.update(done)
            for problem in problems:
                bar.write(f"stagewise: {problem}", file=sys.stderr)
            bar.update()
            bar.set_postfix_str(", ".join(done) or "(failed)")

        tasks = [(name, args.scale, str(out)) for name in names]
        execute(draw_figure_task, tasks, on_result, backend, workers, scheduler)
    for name in names:
        if name in drawn:
            print(f"{args.out / name}.png  (and .pdf)")
    return 0 if len(drawn) == len(names) else 1


def _cmd_pep_refresh(args) -> int:
    import platform

    from tqdm import tqdm

    from paper_checks import pep_refresh
    from sims.engine import versions
    from theory import pep

    if args.jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {args.jobs}")
    try:
        import PEPit  # noqa: F401
    except ImportError:
        raise InputError("pep-refresh needs PEPit: pip install 'stagewise[pep]'") from None
    target = args.out or Path(pep.__file__).parent / "data" / pep.DATA_FILE
    _writable_dir(target.parent)
    keys = pep.table_keys()
    with tqdm(total=len(keys), desc="PEPs", unit="sdp", file=sys.stderr) as bar:
        rows = pep_refresh.compute_table(keys, jobs=args.jobs, progress=lambda _row: bar.update())
    meta = {
        "definition": "sup (f(x_N) - f*) / (f(x_0) - f* + mu/2 ||x_0 - x*||^2), L = 1, "
        "mu = 1/kappa, step 1/L, y_0 = x_0; eps = relative gradient error",
        "generated_by": "stagewise pep-refresh",
        "versions": versions(),
        "python": platform.python_version(),
    }
    pep_refresh.write_table(rows, target, meta)
    print(f"wrote {len(rows)} worst cases to {target}")
    return 0


def _cmd_bench(args) -> int:
    from paper_checks import bench

    if not 1 <= args.repeats <= 1000:
        raise InputError(f"--repeats must be between 1 and 1000, got {args.repeats}")
    sections = (
        ("rates", "kernels", "scaling", "sweep") if args.section == "all" else (args.section,)
    )
    sizes = bench.SMOKE if args.smoke else bench.FULL
    report = {}
    if "rates" in sections:
        report["rates"] = bench.rate_table(sizes)
    if "kernels" in sections:
        report["kernels"] = (
            bench.deep_linear_bench(args.repeats, sizes)
            + bench.boosting_bench(args.repeats, sizes)
            + bench.residual_mlp_bench(args.repeats, sizes)
            + bench.transformer_bench(args.repeats, sizes)
        )
    if "scaling" in sections:
        report["scaling"] = bench.scaling_bench(args.repeats, sizes)
    if "sweep" in sections:
        report["sweep"] = bench.sweep_bench(sizes=sizes)
    if args.json:
        print(json.dumps(report, indent=1, default=float))
        return 0
    for row in report.get("sweep", []):
        speed = (
            f", speed-up {row['speedup_over_inprocess']:.2f}x {_target(row, args.smoke)}"
            if "speedup_over_inprocess" in row
            else ""
        )
        print(f"{row['benchmark']}: {row['seconds']:.1f} s{speed}")
    for row in report.get("rates", []):
        s, z = row["stack"], row["zero"]
        print(
            f"{row['family']}, kappa={row['kappa']}: stages to 1e-6 stack {s['median']:.0f} "
            f"[{s['iqr'][0]:.0f}, {s['iqr'][1]:.0f}] (success {s['success']:.0%}), zero "
            f"{z['median']:.0f} [{z['iqr'][0]:.0f}, {z['iqr'][1]:.0f}] (success "
            f"{z['success']:.0%}); speed-up {row['speedup']:.1f} vs sqrt(kappa) "
            f"{row['sqrt_kappa']:.1f}"
        )
    for row in report.get("kernels", []):
        ratio = f"  speed-up {row['speedup']:.1f}x" if "speedup" in row else ""
        if "ratio_to_sklearn" in row:
            ratio = (
                f", sklearn {row['sklearn_s'] * 1e3:.1f} ms  ratio {row['ratio_to_sklearn']:.2f}"
            )
        numpy_part = f", numpy {row['numpy_s'] * 1e3:.1f} ms" if "numpy_s" in row else ""
        if "ratio_best_peer_to_numba" in row:  # the batch or step against its peers
            best = row["ratio_best_peer_to_numba"]
            numpy_part += "".join(
                f", {name} not installed" if row[f"{name}_s"] is None
                else f", {name} {row[f'{name}_s'] * 1e3:.1f} ms"
                for name in ("torch", "jax")
            ) + ("" if best is None else f" (best peer's time / numba's {best:.2f}: "
                   "numba is that many times faster)")  # fmt: skip
        elif "torch_s" in row:
            numpy_part += (
                ", torch not installed"
                if row["torch_s"] is None
                else f", torch eager {row['torch_s'] * 1e3:.1f} ms (torch/numba "
                f"{row['ratio_to_torch']:.2f})"
            )
        if "threads_used" in row:
            numpy_part += (
                f"; {row['variant']}, ran on {row['threads_used']} of "
                f"{row['threads_available']} threads"
            )
        print(
            f"{row['benchmark']} [{row['dtype']}]: numba {row['numba_s'] * 1e3:.1f} ms"
            f"{numpy_part}{ratio}  {_target(row, args.smoke)}"
        )
    for row in report.get("scaling", []):
        torch_part = (
            f", torch {row['torch_s_per_stage'] * 1e3:.3f} ms"
            if row["torch_s_per_stage"]
            else ", torch not installed"
        )
        dgemm = (
            f"; {row['stage_gflops']:.1f} GFLOP/s = {row['fraction_of_dgemm']:.0%} of dgemm "
            f"({row['dgemm_gflops']:.1f} GFLOP/s)"
            if "dgemm_gflops" in row
            else ""
        )
        print(
            f"deep linear stage, d={row['d']}: numba {row['numba_s_per_stage'] * 1e3:.3f} ms, "
            f"numpy {row['numpy_s_per_stage'] * 1e3:.3f} ms{torch_part}{dgemm}"
        )
    return 0


def _target(row: dict, smoke: bool) -> str:
    """A benchmark's target and whether this run met it (at --smoke sizes: not judged)."""
    if smoke:
        return f"(target {row['target']}: not judged at --smoke sizes)"
    word = {True: "met", False: "missed", None: "not judged: no peer installed"}[row["met"]]
    return f"(target {row['target']}: {word})"


def _plot_sweep(table, target: Path) -> None:
    import pandas as pd

    from figures.style import save, styled
    from figures.sweep import plot_summary

    varying = [c for c in table.columns if c.startswith("param_")]
    numeric = [c for c in varying if pd.api.types.is_numeric_dtype(table[c])]
    if not numeric:
        raise InputError("--plot needs a numeric parameter that varies across the sweep")
    metric = "stages_to_target" if "stages_to_target_median" in table.columns else "final_loss"
    with styled():
        save(
            plot_summary(table, numeric[0], metric, [c for c in varying if c != numeric[0]]),
            target.with_suffix(""),
        )
    print(f"figure: {target.with_suffix('.png')} (and .pdf)")


SWEEP_FAMILIES = (  # as sims.sweep.FAMILIES has them (tested); named here for --help
    "deep_linear", "boosting", "inexact_nag", "stacking_region", "stacking_frontier",
    "stacking_practice",
)  # fmt: skip


def _summary_columns(table, wanted: str | None) -> list[str]:
    """The columns of a sweep summary to print: all, or the parameters and cell counts with the
    columns of the metrics named in ``wanted`` (comma-separated)."""
    if wanted is None:
        return list(table.columns)
    from sims.sweep import QUARTILES

    suffixes = (*(f"_{q}" for q in QUARTILES), "_reached")
    metrics = list(dict.fromkeys(c.removesuffix(s) for c in table.columns for s in suffixes
                                 if c.endswith(s)))  # fmt: skip
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in metrics]
    if not names or unknown:
        raise InputError(
            f"--columns: {'no metric named' if not names else 'unknown metric ' + repr(unknown[0])}"
            f"; this summary has {', '.join(metrics)}"
        )
    fixed = [c for c in table.columns if c.startswith("param_") or c in ("cells", "errors")]
    return fixed + [
        c for c in table.columns if any(c == f"{n}{s}" for n in names for s in suffixes)
    ]


def _cmd_sweep(args) -> int:
    from tqdm import tqdm

    from sims import sweep

    if args.families:
        print(sweep.describe_families())
        return 0
    if args.summary is not None:
        if args.grid is not None or args.out is not None:
            raise InputError("--summary DIR takes no grid file and no --out")
        if not args.summary.is_dir():
            raise InputError(f"--summary: {str(args.summary)!r} is not a directory")
        table = sweep.summary(args.summary)
        shown = _summary_columns(table, args.columns)
        if args.plot is not None:
            _writable_dir(args.plot.parent)  # refused before anything is printed
        print(table[shown].to_string(index=False))
        print(
            "quartiles over seeds; inf: the target was not reached by that fraction of the seeds "
            "(a target never reached counts as infinitely many stages)"
        )
        if args.plot is not None:
            _plot_sweep(table, args.plot)
        return 0
    if args.plot is not None or args.columns is not None:
        raise InputError(f"{'--plot' if args.plot else '--columns'} goes with --summary DIR")
    if args.grid is None or args.out is None:
        raise InputError("give a grid file and --out DIR (or --summary DIR)")
    grid = sweep.parse_grid(args.grid)
    if args.device == "gpu":
        if grid["family"] != "deep_linear":
            raise InputError("--device gpu applies to family 'deep_linear' only")
        grid = sweep.parse_grid({**grid, "parameters": {**grid["parameters"], "device": ["gpu"]}})
    backend, workers, scheduler = _engine(args)
    if args.batch < 1:
        raise InputError(f"--batch must be >= 1, got {args.batch}")
    total = len(sweep.cells(grid))
    _, todo = sweep.prepare(grid, args.out)  # refuses a directory of another sweep, untouched
    with tqdm(
        total=total, initial=total - len(todo), desc="cells", unit="cell", file=sys.stderr
    ) as bar:

        def progress(done, failed, remaining):
            bar.n = total - remaining
            bar.set_postfix(done=done, failed=failed, remaining=remaining)
            bar.refresh()

        ran = sweep.run_sweep(
            grid,
            args.out,
            backend=backend,
            workers=workers,
            scheduler=scheduler,
            batch_size=args.batch,
            progress=progress,
        )
    print(f"ran {ran} cells ({total - ran} already stored) into {args.out}")
    errors = sweep.load_results(args.out).query("status == 'error'")["error"]
    if len(errors):
        print(
            f"stagewise sweep: {len(errors)} of {total} cells failed; their errors:",
            file=sys.stderr,
        )
        for message, count in errors.value_counts().items():
            print(f"  {count} x {one_line(message)}", file=sys.stderr)
        return 1
    return 0


RESUME_HINTS = {
    "check": "; every finished claim group is stored: run the same command again to resume",
    "sweep": "; every finished cell is stored: run the same command again to resume",
}


def _cmd_report(args) -> int:
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


COMMANDS = {
    "check": _cmd_check,
    "report": _cmd_report,
    "list": _cmd_list,
    "figures": _cmd_figures,
    "pep-refresh": _cmd_pep_refresh,
    "bench": _cmd_bench,
    "sweep": _cmd_sweep,
}


def _check_thread_variables() -> None:
    """Thread counts from the environment are positive integers (Numba refuses to import
    otherwise, deep inside the first kernel)."""
    from sims.engine import THREAD_VARIABLES

    for name in THREAD_VARIABLES:
        value = os.environ.get(name)
        if value is not None and not (value.strip().isdigit() and int(value) >= 1):
            raise InputError(
                f"environment variable {name} must be a whole number >= 1, got {value!r}"
            )


def _one_line_warnings(default):
    """A ``warnings.showwarning`` that prints damaged stored results as one line each and hands
    any other warning to ``default``."""

    def show(message, category, *rest, **options):
        if issubclass(category, DamagedResultWarning):
            print(f"stagewise: warning: {one_line(str(message))}", file=sys.stderr)
        else:
            default(message, category, *rest, **options)

    return show


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    with warnings.catch_warnings():  # the caller's warning settings are restored after
        warnings.filterwarnings("always", category=DamagedResultWarning)
        warnings.showwarning = _one_line_warnings(warnings.showwarning)
        return _run_command(args)


def _run_command(args) -> int:
    """The command's exit status; errors mapped to the statuses of the module docstring."""
    try:
        _check_thread_variables()
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"stagewise {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (stagewise list | head): stop quietly
        with contextlib.suppress(OSError, ValueError):  # stdout may be no file (captured)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the final flush
        return 128 + signal.SIGPIPE
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave: a bug, reported below
            return _internal_error(args, exc)
        print(
            f"stagewise {args.command}: error: cannot use {str(exc.filename)!r}: "
            f"{exc.strerror or type(exc).__name__}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: a second Ctrl-C waits
        print(f"stagewise {args.command}: interrupted{RESUME_HINTS.get(args.command, '')}",
              file=sys.stderr)  # fmt: skip
        return 130
    except Exception as exc:
        return _internal_error(args, exc)


def _internal_error(args, exc: Exception) -> int:
    """A bug of the library, not bad input: one line naming the log with the traceback."""
    if args.debug:
        raise exc
    log = _write_traceback_log()
    print(
        f"stagewise {args.command}: internal error (a bug in stagewise, not your input): "
        f"{one_line(f'{type(exc).__name__}: {exc}')}; traceback in {log} "
        "(or rerun with --debug)",
        file=sys.stderr,
    )
    return 3


ERROR_LOGS = 20  # internal-error logs kept (the newest) in the log directory


def _write_traceback_log() -> str:
    """Write the traceback being handled to a new file in ``<temp>/stagewise-errors/``, keeping
    the newest ``ERROR_LOGS`` logs there; its path."""
    import tempfile
    import traceback

    directory = Path(tempfile.gettempdir()) / "stagewise-errors"
    try:
        directory.mkdir(exist_ok=True)
    except OSError:  # a file of that name, or not ours: the temporary folder itself
        directory = Path(tempfile.gettempdir())
    with tempfile.NamedTemporaryFile(
        "w", prefix="stagewise-error-", suffix=".log", dir=directory, delete=False
    ) as log:
        traceback.print_exc(file=log)
    logs = sorted(directory.glob("stagewise-error-*.log"), key=lambda p: p.stat().st_mtime_ns)
    for old in logs[:-ERROR_LOGS]:
        old.unlink(missing_ok=True)
    return log.name


if __name__ == "__main__":
    sys.exit(main())
