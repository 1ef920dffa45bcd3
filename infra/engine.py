"""The task engine: every batch of independent tasks in the project (sweep cells, claim groups of
``stagewise check``, PEPit table rows) runs through ``execute``, and every result file is written
through ``atomic_write``.

Backends: ``inprocess`` (a plain loop), ``processes`` (local spawned processes, one BLAS/OpenMP/
Numba thread each, so the cores are shared out rather than oversubscribed) and ``dask`` (a Dask
cluster at a scheduler address, or a local one on loopback). Results are handed to ``on_result`` in
this process, in completion order.

Interruption: workers ignore SIGINT (a Ctrl-C in a terminal reaches the whole process group), so
only this process sees it. It then stops at once: pending tasks are dropped, running workers are
terminated, and ``KeyboardInterrupt`` propagates. Every result handed to ``on_result`` before that
is kept (callers store each as it arrives), so a second run with the same arguments resumes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

from infra.checks import InputError, check_choice, check_int

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
    leaves no temporary file behind. A symbolic link at ``path`` is written through (its target
    is replaced), never replaced by a regular file."""
    path = Path(path)
    if path.is_symlink():  # write through the link: the link stays, its target gets the text
        path = path.resolve()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # about the file asked for, not our temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path, text: str) -> Path:
    """``atomic_write`` of a text file."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


class DamagedResultWarning(UserWarning):
    """A stored result could not be read: it was set aside and its work runs again."""


def set_aside(path, reason: str) -> Path:
    """Rename the damaged stored result ``path`` to ``<name>.damaged`` beside it (kept for
    inspection, no longer read) and warn (``DamagedResultWarning``) naming it and ``reason``."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.damaged")
    os.replace(path, aside)
    warnings.warn(
        f"stored result {str(path)!r} is damaged ({reason}); set aside as {aside.name!r}, its "
        "next run of the same command recomputes it",
        DamagedResultWarning,
        stacklevel=2,
    )
    return aside


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

        # spawn, not fork: the parent may already run Numba's OpenMP thread pool
        context = multiprocessing.get_context("spawn")
        with one_thread_per_child():
            pool = context.Pool(min(workers, len(tasks)), initializer=_ignore_sigint)
        try:
            for result in pool.imap_unordered(function, tasks, chunksize=1):
                on_result(result)
            pool.close()
        finally:
            with sigint_ignored():  # a second Ctrl-C must not cut the clean-up short
                pool.terminate()  # at once: after an exception or a Ctrl-C nothing else runs
                pool.join()
    else:
        client = _dask_client(scheduler, workers)
        futures = []
        try:
            from distributed import as_completed as dask_completed

            futures = client.map(function, tasks, pure=False)
            for future in dask_completed(futures):
                on_result(future.result())
        finally:
            client.cancel(futures)
            client.close()
            if scheduler is None:
                client.cluster.close()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C inside the block (in the main thread; elsewhere signals never arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def directory_lock(directory, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (the file ``.stagewise.lock`` in it) while the
    block runs: a second stagewise run writing into the same directory is refused at once with an
    ``InputError`` instead of interleaving its files with ours. The lock goes with the process
    (a killed run leaves no stale lock)."""
    path = Path(directory) / ".stagewise.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise InputError(
                f"{str(directory)!r} is in use by another stagewise {what} ({holder}); wait for "
                "it to finish or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


SCHEDULER_ADDRESS = re.compile(
    r"(?:(?P<scheme>tcp|tls|ws|wss|ucx)://)?(?P<host>[A-Za-z0-9.\-_]+|\[[0-9A-Fa-f:.]+\])"
    r":(?P<port>[0-9]{1,5})"
)
CONNECT_SECONDS = 10


def check_scheduler(address, name: str = "--scheduler") -> str:
    """A Dask scheduler address ``[tcp|tls|ws|wss|ucx://]HOST:PORT`` with a port in 1..65535."""
    match = SCHEDULER_ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise InputError(
            f"{name} must be a Dask scheduler address such as tcp://10.0.0.5:8786 "
            f"([tcp|tls|ws|wss|ucx://]HOST:PORT, port 1-65535); got {address!r}"
        )
    return address


def _connect(scheduler: str):
    """A Dask client of the scheduler at ``scheduler``, or an ``InputError`` after
    ``CONNECT_SECONDS``. Dask's own timeout covers the TCP connection but not the handshake that
    follows, which waits for ever on a server that accepts and never answers (not a Dask
    scheduler): the client is therefore made in a daemon thread that is abandoned on time-out."""
    from distributed import Client

    made: dict = {}

    def connect():
        try:
            made["client"] = Client(scheduler, timeout=f"{CONNECT_SECONDS}s")
        except BaseException as exc:  # handed to the waiting thread
            made["error"] = exc

    thread = threading.Thread(target=connect, name="stagewise-dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_SECONDS + 1)
    error = made.get("error")
    if "client" in made:
        return made["client"]
    if error is not None and not isinstance(error, OSError | TimeoutError):
        raise error
    raise InputError(
        f"cannot reach a Dask scheduler at {scheduler!r} within {CONNECT_SECONDS} s "
        f"({type(error).__name__ if error else 'no answer'}); is a Dask scheduler listening there?"
    )


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
    return _connect(check_scheduler(scheduler, "scheduler"))
