"""The task engine: every batch of independent tasks in the project (sweep cells, claim groups of
``stagewise check``, PEPit table rows) runs through ``execute``, and every result file is written
through ``atomic_write``.

Backends: ``inprocess`` (a plain loop), ``processes`` (local spawned processes, one BLAS/OpenMP/
Numba thread each, so the cores are shared out rather than oversubscribed) and ``dask`` (a Dask
cluster at a scheduler address, or a local one on loopback). Results are handed to ``on_result`` in
this process, in completion order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

from theory.checks import InputError, check_choice, check_int

BACKENDS = ("inprocess", "processes", "dask")
MAX_WORKERS = 1024
VERSIONED_PACKAGES = ("stagewise", "numpy", "scipy", "numba", "pepit")
THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def versions() -> dict[str, str]:
    """Versions of the package and of the numerical libraries it rests on (stamped on every
    stored result)."""
    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def atomic_write(path, write: Callable[[Path], object]) -> Path:
    """Create ``path`` whole or not at all: ``write(tmp)`` fills a temporary file beside it
    (hidden, ending in ``.tmp``), which then replaces ``path`` in one rename. A failing ``write``
    leaves no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path, text: str) -> Path:
    """``atomic_write`` of a text file."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def remove_leftovers(directory) -> None:
    """Delete the temporary files of writes that a killed process left in ``directory``."""
    for leftover in Path(directory).glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def check_workers(workers) -> int:
    """A worker count: None means one per core."""
    if workers is None:
        return os.cpu_count() or 1
    return check_int("workers", workers, low=1, high=MAX_WORKERS)


def execute(
    function: Callable,
    tasks: list,
    on_result: Callable,
    backend: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
) -> None:
    """Call ``function(task)`` for every task: in this process, in ``workers`` local processes
    (spawned, one thread each) or on a Dask cluster (``scheduler`` address, or a local cluster of
    ``workers`` processes). ``on_result(result)`` runs here, in completion order; local processes
    start the tasks in the order given. An exception raised by a task propagates."""
    check_choice("backend", backend, BACKENDS)
    workers = check_workers(workers)
    if backend == "inprocess" or not tasks:
        for task in tasks:
            on_result(function(task))
    elif backend == "processes":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn, not fork: the parent may already run Numba's OpenMP thread pool
        context = multiprocessing.get_context("spawn")
        with (
            one_thread_per_child(),
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
        ):
            for future in as_completed([pool.submit(function, t) for t in tasks]):
                on_result(future.result())
    else:
        client = _dask_client(scheduler, workers)
        try:
            from distributed import as_completed as dask_completed

            for future in dask_completed(client.map(function, tasks, pure=False)):
                on_result(future.result())
        finally:
            client.close()
            if scheduler is None:
                client.cluster.close()


@contextlib.contextmanager
def one_thread_per_child() -> Iterator[None]:
    """Children spawned inside see one BLAS/OpenMP/Numba thread each (the cores are shared out
    between processes, not oversubscribed); this process's environment is restored after."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _dask_client(scheduler: str | None, workers: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(
            "the dask backend needs the 'dist' extra: pip install 'stagewise[dist]'"
        ) from None
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        return Client(cluster)
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {scheduler!r} within 10 s ({type(exc).__name__})"
        ) from None
