"""What the commands share: the argument parser with one-line errors, path and engine
options, and the check that an output directory is writable."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from infra.checks import InputError


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def one_line(text: str) -> str:
    """``text`` on one line: control characters escaped (a stray one could break the line, or the
    terminal), runs of white space folded to one space."""
    printable = "".join(c if c.isprintable() or c in " \t\n" else ascii(c)[1:-1] for c in text)
    return " ".join(printable.split())


def path_arg(text: str) -> Path:
    """A path argument; an empty one (which would mean the current directory) is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file or directory, got an empty string")
    return Path(text)


def add_engine_options(parser: argparse.ArgumentParser, unit: str) -> None:
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


def engine(args) -> tuple[str, int | None, str | None]:
    """(backend, workers, scheduler) from the engine options, validated."""
    from infra.engine import MAX_WORKERS, check_scheduler

    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if scheduler is not None:
        check_scheduler(scheduler, "--scheduler" if args.scheduler else "DASK_SCHEDULER_ADDRESS")
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise InputError(f"--workers must be between 1 and {MAX_WORKERS}, got {args.workers}")
    if args.backend in ("inprocess", "processes") and args.scheduler:
        raise InputError(f"--scheduler needs --backend dask, not {args.backend}")
    return args.backend or ("dask" if scheduler else "processes"), args.workers, scheduler


def writable_dir(path: Path) -> Path:
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


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("stagewise")
    except metadata.PackageNotFoundError:
        return "(not installed)"
