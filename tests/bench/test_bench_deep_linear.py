"""Wall-time benchmarks of the deep linear kernels (run with --benchmark-enable to time them;
by default each runs once as a smoke test). Ratios are reported by `stagewise bench`."""

import pytest

from sims.families.deep_linear import train_stagewise, train_stagewise_batch
from sims.problems import deep_linear_problem

pytestmark = pytest.mark.bench

PROBLEM = deep_linear_problem(16, 100, 0.05, seed=0)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("layer_grad", ["euclidean", "functional"])
def test_single_run_d16_2000_stages(benchmark, backend, layer_grad):
    train_stagewise(*PROBLEM, 2, layer_grad=layer_grad, backend=backend)  # JIT warm
    result = benchmark(train_stagewise, *PROBLEM, 2000, layer_grad=layer_grad, backend=backend)
    assert len(result.losses) == 2001


def test_batch_1000_instances_d16_500_stages(benchmark):
    specs = [
        {"Sigma": s, "W_star": w}
        for s, w in (deep_linear_problem(16, 100, 0.05, seed=k) for k in range(1000))
    ]
    train_stagewise_batch(specs[:2], 2)
    results = benchmark.pedantic(train_stagewise_batch, args=(specs, 500), rounds=1, iterations=1)
    assert len(results) == 1000


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("d", [8, 64, 256])
def test_stage_time_by_dimension(benchmark, backend, d):
    sigma, w_star = deep_linear_problem(d, 100, 0.05, seed=0)
    train_stagewise(sigma, w_star, 1, backend=backend)
    result = benchmark(train_stagewise, sigma, w_star, 5, backend=backend)
    assert len(result.losses) == 6


@pytest.mark.parametrize("peer", ["numpy", "torch"])
def test_batch_peers(benchmark, peer):
    """What a user would otherwise write for the batch (``sims.families.deep_linear.bench``), on 200 instances
    and 100 stages (the 1000 x 500 comparison is ``stagewise bench``'s); each must reproduce the
    kernel's losses. JAX's peer runs in ``stagewise bench`` only, in a process of its own (its
    threads make the test suite's later forks unsafe)."""
    import numpy as np

    from sims.families.deep_linear import bench

    if peer != "numpy":
        pytest.importorskip(peer)
    run = bench.STACKING_PEERS[peer]
    specs = [
        {"Sigma": s, "W_star": w}
        for s, w in (deep_linear_problem(16, 100, 0.05, seed=k) for k in range(200))
    ]
    arrays = bench.eigenbasis_batch(specs)
    losses = benchmark(run, *arrays, 100)
    ours = np.array([r.losses for r in train_stagewise_batch(specs, 100)])
    np.testing.assert_allclose(losses[:, :20], ours[:, :20], rtol=1e-8)
