"""Wall-time benchmark of residual-MLP training steps (run with --benchmark-enable): ten steps per
round, as `stagewise bench` times them, so a training run's one-off set-up is amortised."""

import pytest

from sims.families import residual_mlp
from sims.problems import staircase_task

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", residual_mlp.BACKENDS)
@pytest.mark.parametrize("activation", residual_mlp.ACTIVATIONS)
def test_ten_training_steps_width64_depth20_batch256(benchmark, backend, activation, dtype):
    X, y = staircase_task(20, 10).sample(256, seed=0)
    params = residual_mlp.init_params(20, 64, 20, seed=1)
    run = benchmark(residual_mlp.train, params, X, y, 10, activation=activation, backend=backend,
                    dtype=dtype)  # fmt: skip
    assert run.status == "max_stages" and len(run.losses) == 10
    assert run.params["w1"].dtype == dtype
