"""What every benchmark shares (``stagewise bench``, ``sims/families/<name>/bench.py``): best-of
wall time, the bench line against a NumPy reference with its target, and a fresh process for
peers whose library threads make a later fork unsafe."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time

import numpy as np


def best_time(fn, repeats: int) -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def versus_numpy(benchmark: str, dtype: str, times: dict, at_least: float) -> dict:
    """A bench line timing the Numba kernel against its NumPy reference (``times["numba"]``,
    ``times["numpy"]``), with the target ``speedup >= at_least`` and whether this run met it."""
    speedup = times["numpy"] / times["numba"]
    return {"benchmark": benchmark, "dtype": dtype, "numba_s": times["numba"],
            "numpy_s": times["numpy"], "speedup": speedup, "target": f">= {at_least:g}x",
            "met": speedup >= at_least}  # fmt: skip


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a freshly spawned process (``fn`` defined at module level), which leaves
    no library threads behind in this one: JAX's make a later ``os.fork`` of it unsafe."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(fn, *args).result()


def torch_adam_step_seconds(loss, params: dict, inputs: tuple, repeats: int) -> float | None:
    """Best time of one PyTorch eager training step on the CPU: ``loss(tensors, *inputs)``
    forward and backward, then ``torch.optim.Adam`` (betas 0.9, 0.999, eps 1e-8), on tensors of
    the arrays ``params`` and of the arrays among ``inputs``, in their float type; None without
    torch."""
    try:
        import torch
    except ImportError:
        return None
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    given = tuple(torch.tensor(a) if isinstance(a, np.ndarray) else a for a in inputs)
    optimiser = torch.optim.Adam(tensors.values(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def step():
        optimiser.zero_grad()
        loss(tensors, *given).backward()
        optimiser.step()

    step()
    return best_time(step, repeats)
