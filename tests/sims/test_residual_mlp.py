"""Residual MLP: hand-written gradients against central finite differences, the Numba kernel
against the NumPy reference, bypassed blocks, training, and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sims import residual_mlp as rm
from sims.subnetworks import raptr_schedule


def _instance(seed, d, width, depth, n):
    rng = np.random.default_rng(seed)
    params = rm.init_params(d, width, depth, seed=seed)
    for key in params:  # move away from LN gains 1 / zero biases so every path is exercised
        params[key] = params[key] + 0.3 * rng.standard_normal(params[key].shape)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    mask = (rng.uniform(size=depth) < 0.7).astype(float)
    scale = rng.uniform(0.5, 2.0, size=depth)
    return rng, params, X, y, mask, scale


def _central_difference(params, key, idx, h, *args, **options):
    """(loss(params + h e_idx) - loss(params - h e_idx)) / 2h for one entry of params[key]."""
    shifted = {k: v.copy() for k, v in params.items()}
    shifted[key][idx] += h
    up, _ = rm.loss_and_grads(shifted, *args, **options)
    shifted[key][idx] -= 2 * h
    down, _ = rm.loss_and_grads(shifted, *args, **options)
    return (up - down) / (2 * h)


OPTIONS = st.fixed_dictionaries(
    {
        "activation": st.sampled_from(rm.ACTIVATIONS),
        "layernorm": st.booleans(),
        "residual": st.booleans(),
    }
)


@settings(max_examples=25)
@given(
    st.integers(0, 2**31),
    st.integers(1, 5),
    st.integers(2, 5),
    st.integers(1, 4),
    st.integers(2, 9),
    st.booleans(),
    st.booleans(),
)
def test_gradients_match_central_finite_differences(seed, d, width, depth, n, layernorm, residual):
    # GELU is smooth; ReLU is checked away from its kinks in the next test
    options = {"activation": "gelu", "layernorm": layernorm, "residual": residual}
    rng, params, X, y, mask, scale = _instance(seed, d, width, depth, n)
    _, grads = rm.loss_and_grads(params, X, y, mask, scale, **options)
    for key in rm.PARAM_KEYS:
        for _ in range(2):
            idx = tuple(int(rng.integers(s)) for s in params[key].shape)
            fd = _central_difference(params, key, idx, 1e-6, X, y, mask, scale, **options)
            assert grads[key][idx] == pytest.approx(fd, rel=1e-5, abs=1e-7)


@settings(max_examples=25)
@given(
    st.integers(0, 2**31),
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(1, 12),
    OPTIONS,
)
def test_numba_kernel_matches_numpy_reference(seed, d, width, depth, n, options):
    _, params, X, y, mask, scale = _instance(seed, d, width, depth, n)
    loss, grads = rm.loss_and_grads(params, X, y, mask, scale, **options)
    ref_loss, ref_grads = rm.loss_and_grads(params, X, y, mask, scale, backend="numpy", **options)
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-14)
    for key in rm.PARAM_KEYS:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-10, atol=1e-12)


def test_relu_gradients_match_finite_differences_away_from_kinks():
    rng, params, X, y, mask, scale = _instance(3, 4, 4, 3, 6)
    _, grads = rm.loss_and_grads(params, X, y, mask, scale, activation="relu")
    for key in rm.PARAM_KEYS:
        idx = tuple(int(rng.integers(s)) for s in params[key].shape)
        fd = _central_difference(params, key, idx, 1e-7, X, y, mask, scale, activation="relu")
        assert grads[key][idx] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_bypassed_block_is_the_identity_and_gets_no_gradient():
    _, params, X, y, _, _ = _instance(1, 3, 4, 3, 5)
    mask = np.array([1.0, 0.0, 1.0])
    two_blocks = {k: (v[[0, 2]] if k in rm.BLOCK_KEYS else v) for k, v in params.items()}
    np.testing.assert_array_equal(rm.forward(params, X, mask), rm.forward(two_blocks, X))
    _, grads = rm.loss_and_grads(params, X, y, mask)
    for key in rm.BLOCK_KEYS:
        assert not np.any(grads[key][1])
    # scale multiplies the block's output: the second layer's scale 2 equals doubling w2 and b2
    scaled = {k: v.copy() for k, v in params.items()}
    scaled["w2"][2] *= 2
    scaled["b2"][2] *= 2
    np.testing.assert_allclose(
        rm.forward(params, X, scale=np.array([1.0, 1.0, 2.0])), rm.forward(scaled, X), rtol=1e-12
    )


def test_training_fits_a_linear_target_and_keeps_frozen_blocks():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5))
    y = X @ rng.standard_normal(5)
    params = rm.init_params(5, 8, 4, seed=1)
    schedule = raptr_schedule(4, [2, 4], 300, seed=2)
    result = rm.train(params, X, y, 300, lr=3e-3, schedule=schedule, X_eval=X, y_eval=y, seed=3)
    assert result.status == "max_stages"
    assert result.eval_losses[-1] < 0.05 * result.eval_losses[0]
    assert result.flops[-1] == pytest.approx(schedule.masks.sum() / 4)
    never = np.flatnonzero(schedule.masks.sum(axis=0) == 0)
    for layer in never:
        np.testing.assert_array_equal(result.params["w1"][layer], params["w1"][layer])


def test_divergence_is_recorded_not_raised():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    y = 1e3 * rng.standard_normal(64)
    params = rm.init_params(3, 4, 2, seed=0)
    result = rm.train(params, X, y, 200, lr=1e3, optimizer="sgd", layernorm=False, seed=1)
    assert result.status == "diverged"
    assert result.diverged_at is not None and len(result.train_losses) == result.diverged_at + 1


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"mask": np.ones(2)}, "mask"),
        ({"mask": np.array([1.0, 0.5, 1.0])}, "mask"),
        ({"scale": np.array([1.0, -1.0, 1.0])}, "scale"),
        ({"X": np.full((4, 3), np.nan)}, "X"),
        ({"X": np.ones((4, 2))}, "X"),
        ({"y": np.ones(3)}, "y"),
        ({"y": np.array([1.0, np.inf, 0.0, 1.0])}, "y"),
        ({"activation": "tanh"}, "activation"),
        ({"backend": "torch"}, "backend"),
    ],
)
def test_bad_input_names_the_argument(change, name):
    args = {"X": np.ones((4, 3)), "y": np.ones(4), "mask": None, "scale": None}
    args.update(change)
    params = rm.init_params(3, 4, 3, seed=0)
    with pytest.raises(ValueError, match=name):
        rm.loss_and_grads(params, **args)


def test_bad_params_and_training_options():
    params = rm.init_params(3, 4, 3, seed=0)
    with pytest.raises(ValueError, match="params"):
        rm.forward({"emb_w": params["emb_w"]}, np.ones((2, 3)))
    broken = dict(params, w2=params["w2"][:, :3])
    with pytest.raises(ValueError, match="w2"):
        rm.forward(broken, np.ones((2, 3)))
    with pytest.raises(ValueError, match="optimizer"):
        rm.train(params, np.ones((4, 3)), np.ones(4), 2, optimizer="lbfgs")
    with pytest.raises(ValueError, match="schedule"):
        rm.train(params, np.ones((4, 3)), np.ones(4), 2, schedule=raptr_schedule(3, [3], 5))
    with pytest.raises(ValueError, match="lr"):
        rm.train(params, np.ones((4, 3)), np.ones(4), 2, lr=0.0)


@pytest.mark.parametrize("activation", rm.ACTIVATIONS)
def test_gradients_match_pytorch_autograd(activation):
    """A third implementation where torch is installed: PyTorch's autograd on the same network
    (``paper_checks.bench.torch_residual_mlp_loss``); skipped without torch."""
    torch = pytest.importorskip("torch")
    from paper_checks.bench import torch_residual_mlp_loss

    rng = np.random.default_rng(5)
    params = rm.init_params(6, 8, 3, seed=4)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
    X, y = rng.standard_normal((32, 6)), rng.standard_normal(32)
    loss, grads = rm.loss_and_grads(params, X, y, activation=activation)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    torch_loss = torch_residual_mlp_loss(tensors, torch.tensor(X), torch.tensor(y), activation)
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for key in rm.PARAM_KEYS:
        np.testing.assert_allclose(grads[key], tensors[key].grad.numpy(), rtol=1e-9, atol=1e-12)
