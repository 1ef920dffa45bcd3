"""``stagewise figures``: draw the gallery."""

from __future__ import annotations

import sys
from pathlib import Path

from infra.checks import InputError
from paper_checks.cli.common import add_engine_options, engine, path_arg, writable_dir

NAME = "figures"


def add_parser(sub) -> None:
    """The ``figures`` command and its arguments, on the subparsers ``sub``."""
    figs = sub.add_parser(
        NAME,
        help="draw every figure (PNG and PDF)",
        description="Compute and draw every figure of the gallery into DIR.",
    )
    figs.add_argument(
        "--out",
        metavar="DIR",
        type=path_arg,
        default=Path("stagewise-report/figures"),
        help="output directory (default: ./stagewise-report/figures)",
    )
    figs.add_argument(
        "--only",
        metavar="PATTERN",
        help="only the figures whose name matches this glob or contains this text (>= 3 "
        "characters); several, comma-separated",
    )
    figs.add_argument(
        "--scale",
        choices=("quick", "paper"),
        default="quick",
        help="size of the runs behind the figures (default quick)",
    )
    add_engine_options(figs, "figures")


def run(args) -> int:
    from tqdm import tqdm

    from infra.engine import execute
    from paper_checks import catalogue
    from paper_checks.runner import draw_figure_task

    recipes = catalogue.figures()
    try:
        names = catalogue.matching(args.only, list(recipes), "figure")
    except InputError as exc:
        raise InputError(f"{exc}; figures: {', '.join(recipes)}") from None
    backend, workers, scheduler = engine(args)
    out = writable_dir(args.out)
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
