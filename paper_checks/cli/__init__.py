"""The ``stagewise`` command line: check claims, list them, draw figures, refresh PEPit tables.

Exit status: 0 when no selected claim is refuted, mis-posed or in error, 1 otherwise, 2 on bad usage
(one line on stderr, no traceback, no file written), 3 on an internal error (a bug of stagewise:
one line on stderr naming a log file with the traceback; ``--debug`` prints it instead), 128 + the
signal when stopped: 130 by Ctrl-C, 143 by SIGTERM (``kill PID``, a job scheduler), 129 by SIGHUP
(a closed terminal). All three stop alike: the workers are terminated, every finished result kept.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from infra.checks import InputError
from infra.engine import DamagedResultWarning
from paper_checks.cli import bench, check, figures, listing, pep_refresh, report, sweep
from paper_checks.cli.common import Parser, one_line, version

MODULES = (check, listing, figures, report, pep_refresh, sweep, bench)  # one per command
COMMANDS = {module.NAME: module.run for module in MODULES}  # command -> run(args) -> exit status
RESUME_HINTS = {m.NAME: m.RESUME_HINT for m in MODULES if hasattr(m, "RESUME_HINT")}


def build_parser() -> argparse.ArgumentParser:
    """The ``stagewise`` parser: global options and one subcommand per module of ``MODULES``."""
    parser = Parser(
        prog="stagewise",
        description=(
            "Numerical verification of claims about stagewise training (stacking as Nesterov's "
            "accelerated gradient descent, progressive subnetworks, growth operators). Each claim "
            "carries its source and a provenance tag (paper, secondary, reconstructed, standard)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an internal error, print the traceback instead of writing it to a log file",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in MODULES:
        module.add_parser(sub)
    return parser


def _check_thread_variables() -> None:
    """Thread counts from the environment are positive integers (Numba refuses to import
    otherwise, deep inside the first kernel)."""
    from infra.engine import THREAD_VARIABLES

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


STOPPING = (signal.SIGTERM, signal.SIGHUP)  # stopped as a Ctrl-C is, not killed outright


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the main thread runs (as Python raises KeyboardInterrupt on
    SIGINT), so that the workers are terminated rather than left running without their parent."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _stopped_as_by_ctrl_c():
    """Inside the block, SIGTERM and SIGHUP raise ``Stopped`` once (later ones are ignored, so
    the clean-up runs to its end); the previous handlers are restored after it."""
    if threading.current_thread() is not threading.main_thread():  # signals reach only the main
        yield
        return

    def stop(signum, frame):
        for s in STOPPING:
            signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {s: signal.signal(s, stop) for s in STOPPING}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(), _stopped_as_by_ctrl_c():
        # the caller's warning settings and signal handlers are restored after
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
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: a second Ctrl-C waits
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {exc}"
        print(f"stagewise {args.command}: {how}{RESUME_HINTS.get(args.command, '')}",
              file=sys.stderr)  # fmt: skip
        return 128 + signum
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
