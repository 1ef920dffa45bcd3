"""``stagewise pep-refresh``: recompute the stored PEPit worst cases."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from infra.checks import InputError
from paper_checks.cli.common import path_arg, writable_dir

NAME = "pep-refresh"


def add_parser(sub) -> None:
    """The ``pep-refresh`` command and its arguments, on the subparsers ``sub``."""
    pep = sub.add_parser(
        NAME,
        help="recompute theory/data/pep_rates.json with PEPit",
        description="Solve the performance estimation problems behind the "
        "stored PEPit worst cases (needs the 'pep' extra: pip install "
        "'stagewise[pep]'). Several minutes on 2 cores.",
    )
    pep.add_argument(
        "--out",
        metavar="FILE",
        type=path_arg,
        default=None,
        help="where to write (default: the package's theory/data/pep_rates.json)",
    )
    pep.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="solver processes (default: all cores)",
    )


def run(args) -> int:
    import platform

    from tqdm import tqdm

    from infra.engine import versions
    from paper_checks import pep_refresh
    from theory import pep

    if args.jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {args.jobs}")
    try:
        import PEPit  # noqa: F401
    except ImportError:
        raise InputError("pep-refresh needs PEPit: pip install 'stagewise[pep]'") from None
    target = args.out or Path(pep.__file__).parent / "data" / pep.DATA_FILE
    writable_dir(target.parent)
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
