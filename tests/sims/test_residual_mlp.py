"""Residual MLP: hand-written gradients against central finite differences, the Numba kernel
against the NumPy reference, bypassed blocks, training, and bad input."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sims import blocks
from sims.families import residual_mlp as rm
from sims.subnetworks import raptr_schedule
from tests.helpers import partial_difference


def _instance(seed, d, width, depth, n):
    rng = np.random.default_rng(seed)
    params = rm.init_params(d, width, depth, seed=seed)
    for key in params:  # move away from LN gains 1 / zero biases so every path is exercised
        params[key] = params[key] + 0.3 * rng.standard_normal(params[key].shape)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    mask = (rng.uniform(size=depth) < 0.7).astype(float)
    scale = rng.uniform(0.5, 2.0, size=depth)
    return rng, params, X, y, mask, scale


def _loss_along(params, key, *args, **options):
    """``v -> loss`` with ``params[key]`` replaced by v."""
    return lambda v: rm.loss_and_grads({**params, key: v}, *args, **options)[0]


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
            fd = partial_difference(
                _loss_along(params, key, X, y, mask, scale, **options), params[key], idx, 1e-6
            )
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


@pytest.mark.parametrize(("dtype", "top"), [(np.float64, 40.0), (np.float32, 14.0)])
def test_gelu_and_its_slope_match_mpmath(dtype, top):
    # exact GELU x Phi(x) and Phi(x) + x phi(x) at 40 digits at numbers of the type, out to where
    # x Phi(x) leaves the type's normal range (|x| = 37.6 in float64, 13.2 in float32); tolerances
    # in units of the type's epsilon (absolute too, as the reference's 1 + erf(x/sqrt 2) has)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    eps = np.finfo(dtype).eps
    grid = np.linspace(-top, top, 4001)
    tiny = np.geomspace(1e-12, top, 400)
    x = np.concatenate([grid, tiny, -tiny, [0.0]]).astype(dtype)
    act, slope = x[None].copy(), np.empty((1, x.size), dtype)
    blocks.activate(act, np.zeros(x.size, dtype), slope, blocks.ACTIVATION_CODES["gelu"])
    exact = np.array(
        [(float(v * mpmath.ncdf(v)), float(mpmath.ncdf(v) + v * mpmath.npdf(v))) for v in
         map(mpmath.mpf, x.astype(float))]
    )  # fmt: skip
    np.testing.assert_allclose(act[0], exact[:, 0], rtol=9 * eps, atol=eps)
    np.testing.assert_allclose(slope[0], exact[:, 1], rtol=0, atol=18 * eps)


ERFCX_SERIES = [  # (K, A, Chebyshev coefficients, top of the range, float type, rtol of erfcx)
    (blocks.ERFCX_K, blocks.ERFCX_A, blocks.ERFCX_CHEBYSHEV, 27.5, np.float64, 1e-14),
    (blocks.ERFCX32_K, blocks.ERFCX32_A, blocks.ERFCX32_CHEBYSHEV, blocks.ERFCX32_TOP, np.float32,
     4 * np.finfo(np.float32).eps),
]  # fmt: skip


@pytest.mark.parametrize(("k", "a", "coefficients", "top", "dtype", "rtol"), ERFCX_SERIES)
def test_erfcx_series_is_recomputed_and_accurate(k, a, coefficients, top, dtype, rtol):
    # the stored Chebyshev coefficients of (1 + 2t) erfcx(t) (float64: degree 20 on [0, 27.5];
    # float32: degree 9 on [0, 9.5]) are the interpolant at the Chebyshev points, recomputed here
    # with mpmath; erfcx itself, in the type, against mpmath on its range
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    from numba import njit
    from numpy.polynomial import chebyshev

    def scaled_erfcx(v):
        s = (mpmath.mpf(v) - (a - 1)) / a
        t = k * (1 + s) / (1 - s)
        return float(mpmath.erfc(t) * mpmath.exp(t * t) * (1 + 2 * t))

    again = chebyshev.chebinterpolate(np.vectorize(scaled_erfcx), coefficients.size - 1)
    np.testing.assert_allclose(again, coefficients, rtol=0, atol=2e-16)
    t = np.concatenate([np.linspace(0, top, 3001), np.geomspace(1e-12, top, 300)]).astype(dtype)
    exact = np.array([float(mpmath.erfc(v) * mpmath.exp(v * v))
                      for v in map(mpmath.mpf, t.astype(float))])  # fmt: skip
    erfcx = njit(lambda v: blocks.erfcx32(v)) if dtype == np.float32 else blocks.erfcx
    got = np.array([erfcx(v) for v in t])
    np.testing.assert_allclose(got, exact, rtol=rtol)


@pytest.mark.parametrize(("dtype", "floor"), [(np.float64, -708.0), (np.float32, -87.0)])
def test_vectorised_exponential_matches_the_math_library(dtype, floor):
    from numba import njit

    exp = njit(lambda a: blocks.exp_nonpositive(a))
    a = np.concatenate([-np.geomspace(1e-300, -floor, 5000), [0.0, -0.5 * np.log(2), floor]])
    a = a.astype(dtype)
    got = np.array([exp(v) for v in a])
    np.testing.assert_allclose(got, np.exp(a.astype(float)), rtol=4 * np.finfo(dtype).eps, atol=0)
    assert exp(dtype(floor - 50)) == pytest.approx(
        np.exp(floor), rel=float(4 * np.finfo(dtype).eps)
    )


def test_training_agrees_between_backends():
    # the Numba kernel and Adam against the NumPy reference and NumPy Adam, through a RaPTr
    # schedule (blocks with their own step counts) and a frozen block, 40 steps of minibatches
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((300, 4)), rng.standard_normal(300)
    params = rm.init_params(4, 6, 4, seed=6)
    schedule = raptr_schedule(4, [2, 3, 4], 40, seed=7)
    for options in ({}, {"activation": "relu", "layernorm": False}):
        runs = [
            rm.train(params, X, y, 40, lr=1e-2, schedule=schedule, trainable=[1, 1, 0, 1],
                     batch_size=64, seed=8, backend=backend, **options)
            for backend in rm.BACKENDS
        ]  # fmt: skip
        np.testing.assert_allclose(runs[0].losses, runs[1].losses, rtol=1e-10)
        for key in rm.PARAM_KEYS:
            np.testing.assert_allclose(
                runs[0].params[key], runs[1].params[key], rtol=1e-9, atol=1e-12
            )
            for moment in ("m", "v"):
                np.testing.assert_allclose(
                    runs[0].optimizer_state[moment][key],
                    runs[1].optimizer_state[moment][key],
                    rtol=1e-9,
                    atol=1e-15,
                )


def test_reused_work_arrays_give_fresh_results():
    # a training loop reuses the kernel's work and gradient arrays: after a step with every block,
    # a step with blocks bypassed must give what a fresh call gives (zeros for those blocks)
    _, params, X, y, _, _ = _instance(2, 3, 4, 3, 7)
    gradient = rm.gradient_function(params, 7, "numba", "gelu", True, True)
    gradient(params, X, y, np.ones(3))
    coef = np.array([0.0, 1.5, 0.0])
    loss, grads = gradient(params, X, y, coef)
    fresh_loss, fresh = rm.loss_and_grads(params, X, y, coef != 0, np.where(coef, coef, 1.0))
    assert loss == fresh_loss
    for key in rm.PARAM_KEYS:
        np.testing.assert_array_equal(grads[key], fresh[key])


@pytest.mark.parametrize("activation", ["relu", "quadratic"])
def test_gradients_match_finite_differences_for_relu_and_quadratic(activation):
    """ReLU away from its kinks; the quadratic (degree-capped blocks) without layer norm, as
    raptr.two-phase uses it, and with it."""
    rng, params, X, y, mask, scale = _instance(3, 4, 4, 3, 6)
    for layernorm in (True, False) if activation == "quadratic" else (True,):
        options = {"activation": activation, "layernorm": layernorm}
        if not layernorm:  # a degree-8 polynomial of the weights: keep its values moderate
            params = {k: 0.5 * v for k, v in params.items()}
        _, grads = rm.loss_and_grads(params, X, y, mask, scale, **options)
        for key in rm.PARAM_KEYS:
            idx = tuple(int(rng.integers(s)) for s in params[key].shape)
            fd = partial_difference(
                _loss_along(params, key, X, y, mask, scale, **options), params[key], idx, 1e-7
            )
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
    assert result.diverged_at is not None and len(result.losses) == result.diverged_at + 1


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
        ({"activation": "tanh", "backend": "numpy"}, "activation"),
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
    schedule = raptr_schedule(3, [2, 3], 4, seed=0)
    for masks, scales in (
        (schedule.masks * 2, schedule.scales),
        (schedule.masks, -schedule.scales),
    ):
        bad = SimpleNamespace(masks=masks, scales=scales)
        with pytest.raises(ValueError, match="schedule"):
            rm.train(params, np.ones((4, 3)), np.ones(4), 4, schedule=bad)
    with pytest.raises(ValueError, match="lr"):
        rm.train(params, np.ones((4, 3)), np.ones(4), 2, lr=0.0)


@pytest.mark.parametrize("activation", rm.ACTIVATIONS)
def test_gradients_match_pytorch_autograd(activation):
    """A third implementation where torch is installed: PyTorch's autograd on the same network
    (``sims.families.residual_mlp.bench.torch_residual_mlp_loss``); skipped without torch."""
    torch = pytest.importorskip("torch")
    from sims.families.residual_mlp.bench import torch_residual_mlp_loss

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


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("activation", rm.ACTIVATIONS)
def test_float32_kernel_and_reference_agree_with_float64(seed, activation):
    # parameters and data that float32 holds exactly: both float32 paths against the float64
    # reference of the same numbers, within 200 float32 epsilons of each array's largest entry
    _, params, X, y, mask, scale = _instance(seed, 3, 5, 3, 40)
    params = {k: v.astype(np.float32).astype(float) for k, v in params.items()}
    X, y = X.astype(np.float32).astype(float), y.astype(np.float32).astype(float)
    scale = scale.astype(np.float32).astype(float)
    options = {"activation": activation, "mask": mask, "scale": scale}
    exact_loss, exact = rm.loss_and_grads(params, X, y, backend="numpy", **options)
    tolerance = float(200 * np.finfo(np.float32).eps)
    for backend in rm.BACKENDS:
        loss, grads = rm.loss_and_grads(params, X, y, backend=backend, dtype="float32", **options)
        assert loss == pytest.approx(exact_loss, rel=tolerance)
        for key in rm.PARAM_KEYS:
            assert grads[key].dtype == np.float32
            np.testing.assert_allclose(grads[key], exact[key], rtol=0,
                                       atol=tolerance * np.abs(exact[key]).max())  # fmt: skip


def test_float32_training_follows_float64_to_float32_accuracy():
    # 40 Adam steps from the same float32-representable start: the loss curves agree to 100
    # float32 epsilons (measured: at most 7), and every array of the float32 run is float32
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4)).astype(np.float32).astype(float)
    y = rng.standard_normal(300).astype(np.float32).astype(float)
    params = {k: v.astype(np.float32).astype(float) for k, v in rm.init_params(4, 6, 3, 4).items()}
    runs = [rm.train(params, X, y, 40, lr=1e-2, batch_size=64, seed=8, dtype=dtype)
            for dtype in ("float64", "float32")]  # fmt: skip
    np.testing.assert_allclose(runs[1].losses, runs[0].losses, rtol=100 * np.finfo(np.float32).eps)
    assert all(v.dtype == np.float32 for v in runs[1].params.values())
    assert all(v.dtype == np.float32 for v in runs[1].optimizer_state["m"].values())
    with pytest.raises(ValueError, match="dtype must be one of"):
        rm.train(params, X, y, 1, dtype="float16")
