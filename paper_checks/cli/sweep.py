"""``stagewise sweep``: run a parameter grid into a results directory, resumably; summarise
and plot it."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from infra.checks import InputError
from paper_checks.cli.common import add_engine_options, engine, one_line, path_arg, writable_dir

NAME = "sweep"
RESUME_HINT = "; every finished cell is stored: run the same command again to resume"

SWEEP_FAMILIES = (  # as sims.sweep.FAMILIES has them (tested); named here for --help
    "deep_linear", "boosting", "inexact_nag", "stacking_region", "stacking_frontier",
    "stacking_practice",
)  # fmt: skip


def add_parser(sub) -> None:
    """The ``sweep`` command and its arguments, on the subparsers ``sub``."""
    sweep = sub.add_parser(
        NAME,
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
    sweep.add_argument("grid", nargs="?", type=path_arg, help="grid file (TOML)")
    sweep.add_argument(
        "--families",
        action="store_true",
        help="list every family with its parameters, their defaults and meaning, and exit",
    )
    sweep.add_argument("--out", metavar="DIR", type=path_arg, help="results directory")
    sweep.add_argument(
        "--summary",
        metavar="DIR",
        type=path_arg,
        help="print a table of the rows stored in DIR and exit",
    )
    add_engine_options(sweep, "cells")
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
        type=path_arg,
        help="with --summary: also draw stages_to_target (or final_loss) against "
        "the first numeric parameter that varies, one line per other setting",
    )
    sweep.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="deep_linear cells on the GPU through CuPy (extra 'gpu')",
    )


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


def run(args) -> int:
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
            writable_dir(args.plot.parent)  # refused before anything is printed
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
    backend, workers, scheduler = engine(args)
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
