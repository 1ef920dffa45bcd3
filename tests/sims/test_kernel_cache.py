"""The on-disk kernel cache (``sims/__init__.py``). The serial and parallel deep-linear kernels
are distinct compiled functions with distinct cache entries: whichever is compiled first, a batch
runs on every Numba thread (they used to share one entry, so a single run compiled first made
every later batch serial). An edit of any source file of ``sims`` starts a fresh cache. And a
kernel gives the same bits whether compiled in the process or loaded from the cache."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


FORWARD = """
import numpy as np
from sims.families import residual_mlp
params = residual_mlp.init_params(3, 4, 1, seed=0)
print(repr(float(residual_mlp.forward(params, np.ones((2, 3)))[0])))
"""


def test_an_edit_of_a_called_function_in_another_file_reaches_the_cached_kernel(tmp_path):
    """The residual MLP's cached kernel calls ``sims.blocks.layernorm`` (another file). Numba's
    own cache would keep the old machine code after ``LN_EPS`` changes there (it checks only the
    kernel's file); the cache folder named by the package's fingerprint must not."""
    for package in ("sims", "infra", "theory"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
                   "PYTHONPATH": str(tmp_path)}  # fmt: skip

    def output() -> float:
        done = subprocess.run([sys.executable, "-c", FORWARD], capture_output=True, text=True,
                              env=environment, timeout=600, check=True, cwd=tmp_path)  # fmt: skip
        return float(done.stdout.strip().splitlines()[-1])

    before = output()
    assert output() == before  # the same code again, from the cache
    blocks = tmp_path / "sims" / "blocks.py"
    text = blocks.read_text()
    assert "\nLN_EPS = 1e-5\n" in text
    blocks.write_text(text.replace("\nLN_EPS = 1e-5\n", "\nLN_EPS = 10.0\n"))
    assert output() != before


RESULTS = """
import numpy as np
from sims.families import transformer
from sims.families.deep_linear import train_stagewise
from sims.problems import deep_linear_problem
rng = np.random.default_rng(0)
params = transformer.init_params(20, 32, 2, 32, seed=1)
tokens = rng.integers(0, 20, size=(8, 32))
loss, grads = transformer.loss_and_grads(params, tokens, np.roll(tokens, -1, 1), np.ones((8, 32)),
                                         heads=2, causal=True)
run = train_stagewise(*deep_linear_problem(16, 64, 0.1, seed=0), 50)
values = [loss, *(np.abs(g).sum() for g in grads.values()), *run.losses, *run.e1, *run.e2]
print(" ".join(repr(float(v)) for v in values))
"""


def test_a_kernel_loaded_from_the_cache_computes_the_same_bits_as_when_compiled(tmp_path):
    """The first run of a kernel compiles it and writes the disk cache; the second loads it. Their
    results must agree to the last bit. Reassociated sums (fastmath ``reassoc``) broke this: the
    transformer's layer-norm gradients differed in their last bits between the two runs."""
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def results() -> str:
        done = subprocess.run([sys.executable, "-c", RESULTS], capture_output=True, text=True,
                              env=environment, timeout=600, check=True)  # fmt: skip
        return done.stdout.strip().splitlines()[-1]

    compiled = results()
    assert results() == compiled


def test_the_cache_folder_needs_no_home_directory(monkeypatch):
    import sims

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    for name in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    folder = sims.kernel_cache_dir()
    assert folder.parent == Path(tempfile.gettempdir()) / "stagewise" / "numba"
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert sims.kernel_cache_dir().parent == Path("/somewhere/stagewise/numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/elsewhere")
    assert sims.kernel_cache_dir() == Path("/elsewhere") / folder.name
