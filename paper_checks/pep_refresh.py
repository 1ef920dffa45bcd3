"""``stagewise pep-refresh``: recompute the stored PEPit table (``theory/data/pep_rates.json``)
row by row on the task engine and write it atomically."""

from __future__ import annotations

import json
from pathlib import Path

from infra.engine import execute, write_text_atomic
from theory import pep


def compute_table(keys, jobs: int = 1, progress=None) -> list[dict]:
    """Solve the PEPs for ``keys`` (in this process, or ``jobs`` local processes); rows in the
    order of ``keys``. ``progress(row)`` is called as each row arrives."""
    keys = list(keys)
    rows = {}

    def collect(row: dict) -> None:
        rows[_key(row)] = row
        if progress is not None:
            progress(row)

    execute(pep.table_row, keys, collect, "inprocess" if jobs == 1 else "processes", jobs)
    return [rows[tuple(k)] for k in keys]


def _key(row: dict) -> tuple:
    return tuple(row[f] for f in ("method", "function_class", "kappa", "n_steps", "eps"))


def write_table(rows: list[dict], path, meta: dict) -> None:
    """Write the table atomically (temp file, then rename)."""
    write_text_atomic(Path(path), json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
