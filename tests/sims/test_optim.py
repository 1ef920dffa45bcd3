"""Adam and SGD (``sims.optim``): the first step's closed form, PyTorch's Adam over several steps,
per-block step counts, float types, and bad state."""

import numpy as np
import pytest

from infra.checks import InputError
from sims import optim

BLOCKS = ("w",)


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = {"w": rng.standard_normal((3, 4, 2)).astype(dtype),
              "head": rng.standard_normal(5).astype(dtype)}  # fmt: skip
    grads = [{k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
             for _ in range(6)]  # fmt: skip
    return params, grads


def _run(params, grads, active, backend, lr=1e-2):
    p = {k: v.copy() for k, v in params.items()}
    state = optim.init_state(p, BLOCKS)
    for g in grads:
        state["block_steps"][active] += 1
        state["shared_steps"] += 1
        optim.update(p, g, state, active, lr, "adam", backend, BLOCKS)
    return p, state


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_first_adam_step_is_lr_times_g_over_abs_g(backend, dtype):
    # after one step the bias-corrected moments are g and g^2: p1 = p0 - lr g / (|g| + eps)
    params, grads = _problem(dtype)
    active = np.ones(3, dtype=bool)
    p, state = _run(params, grads[:1], active, backend)
    for key, g in grads[0].items():
        g = g.astype(float)
        expected = params[key].astype(float) - 1e-2 * g / (np.abs(g) + 1e-8)
        np.testing.assert_allclose(p[key], expected, rtol=8 * np.finfo(dtype).eps)
        assert p[key].dtype == dtype and state["m"][key].dtype == dtype


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_adam_matches_pytorch_over_six_steps(backend):
    torch = pytest.importorskip("torch")
    params, grads = _problem(np.float64, seed=3)
    p, _ = _run(params, grads, np.ones(3, dtype=bool), backend)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    adam = torch.optim.Adam(tensors.values(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    for g in grads:
        for k, t in tensors.items():
            t.grad = torch.tensor(g[k])
        adam.step()
    for k, t in tensors.items():
        np.testing.assert_allclose(p[k], t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_an_inactive_block_keeps_its_rows_moments_and_count():
    params, grads = _problem(np.float64, seed=5)
    active = np.array([True, False, True])
    p, state = _run(params, grads, active, "numba")
    assert np.array_equal(p["w"][1], params["w"][1])
    assert not np.any(state["m"]["w"][1]) and not np.any(state["v"]["w"][1])
    assert list(state["block_steps"]) == [6, 0, 6] and state["shared_steps"] == 6
    # the active blocks move exactly as in a run where every block is active
    everyone, _ = _run(params, grads, np.ones(3, dtype=bool), "numba")
    assert np.array_equal(p["w"][[0, 2]], everyone["w"][[0, 2]])


def test_sgd_is_a_plain_step():
    params, grads = _problem(np.float64)
    p = {k: v.copy() for k, v in params.items()}
    state = optim.init_state(p, BLOCKS)
    optim.update(p, grads[0], state, np.ones(3, dtype=bool), 0.5, "sgd", "numba", BLOCKS)
    for k in params:
        np.testing.assert_array_equal(p[k], params[k] - 0.5 * grads[0][k])


@pytest.mark.parametrize(
    ("state", "named"),
    [
        ({"m": {}}, "keys m, v, shared_steps, block_steps"),
        ("bad", "keys m, v, shared_steps, block_steps"),
        (lambda s: {**s, "block_steps": np.zeros(2)}, "one count per block"),
        (lambda s: {**s, "m": {**s["m"], "w": np.zeros(2)}}, "optimizer_state['m']"),
        (lambda s: {**s, "shared_steps": -1}, "shared_steps"),
    ],
)
def test_a_state_that_does_not_fit_is_refused(state, named):
    params, _ = _problem(np.float64)
    if callable(state):
        state = state(optim.init_state(params, BLOCKS))
    with pytest.raises(InputError, match=named.replace("[", r"\[").replace("]", r"\]")):
        optim.check_state(state, params, BLOCKS)


def test_rates_are_one_per_step():
    assert np.array_equal(optim.per_step_rates(0.1, 3), [0.1, 0.1, 0.1])
    with pytest.raises(InputError, match="lr must be"):
        optim.per_step_rates([0.1, 0.2], 3)
    with pytest.raises(InputError, match="lr"):
        optim.per_step_rates(-1.0, 3)
