"""The serial and parallel deep-linear kernels are distinct compiled functions with distinct
on-disk cache entries: whichever is compiled first, a batch runs on every Numba thread. (They
used to share one cache entry, so a single run compiled first made every later batch serial.)"""

import json
import os
import subprocess
import sys

import pytest

ORDERS = {
    "serial first": "single(); print(json.dumps(batch()))",
    "batch first": "print(json.dumps(batch())); single()",
}
SCRIPT = """
import json
from sims.families.deep_linear import train_stagewise, train_stagewise_batch
from sims.problems import deep_linear_problem
problems = [deep_linear_problem(4, 10, 0.1, seed=k) for k in range(16)]
def single():
    train_stagewise(*problems[0], 5)
def batch():
    runs = train_stagewise_batch([{"Sigma": s, "W_star": w} for s, w in problems], 5)
    return sorted({r.thread for r in runs})
"""


def _threads_used(order: str, cache_dir) -> list[int]:
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT + ORDERS[order]],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("order", list(ORDERS))
def test_batch_uses_every_thread_whatever_compiled_first(order, tmp_path):
    assert _threads_used(order, tmp_path) == [0, 1]  # compiled in this process
    assert _threads_used("serial first", tmp_path) == [0, 1]  # loaded from the disk cache
