"""Wall-time benchmark of transformer training steps (run with --benchmark-enable): the issue-19
size (width 64, 4 heads, depth 8, context 64, batch 32, vocabulary 64, Adam) in float64 and
float32, the Numba kernel and PyTorch eager; JAX ``jit`` is timed by ``stagewise bench`` in a
spawned process."""

import numpy as np
import pytest

from sims.families import transformer
from sims.families.transformer import bench

pytestmark = pytest.mark.bench


def _problem():
    params = transformer.init_params(64, 64, 8, 64, seed=1)
    data = np.random.default_rng(0).integers(0, 64, (128, 65))
    return params, data


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ten_numba_training_steps(benchmark, dtype):
    params, data = _problem()
    run = benchmark(transformer.train, params, data, 10, heads=4, causal=True, batch_size=32,
                    dtype=dtype)  # fmt: skip
    assert run.status == "max_stages" and np.all(np.isfinite(run.losses))
    assert run.params["wq"].dtype == dtype


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_torch_eager_training_step(benchmark, dtype):
    torch = pytest.importorskip("torch")
    params, data = _problem()
    tensors = {k: torch.tensor(v.astype(dtype), requires_grad=True) for k, v in params.items()}
    weights = torch.ones(32, 64, dtype=getattr(torch, dtype))
    batch = (torch.tensor(data[:32, :-1]), torch.tensor(data[:32, 1:]), weights)
    optimiser = torch.optim.Adam(tensors.values(), lr=1e-3)

    def step():
        optimiser.zero_grad()
        loss = bench.torch_transformer_loss(tensors, *batch, 4, True)
        loss.backward()
        optimiser.step()
        return float(loss.detach())

    assert np.isfinite(benchmark(step))
