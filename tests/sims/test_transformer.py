"""The pre-LN transformer: the NumPy reference against central finite differences and PyTorch
autograd, the Numba kernel against the reference, causal masking, bypassed and zero blocks,
frozen blocks, checkpoints and bad input."""

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.checks import InputError
from sims import growth
from sims.families import transformer
from sims.families.transformer import BLOCK_KEYS, init_params
from sims.families.transformer.growth import TransformerFamily
from tests.helpers import partial_difference


def loss_and_grads(params, tokens, targets, weights, heads, causal, mask=None, backend="numpy"):
    return transformer.loss_and_grads(params, tokens, targets, weights, heads=heads,
                                      causal=causal, mask=mask, backend=backend)  # fmt: skip


def _problem(seed, vocab=7, width=8, depth=2, context=6, batch=3):
    rng = np.random.default_rng(seed)
    params = init_params(vocab, width, depth, context, seed=seed)
    for key in params:  # move away from the symmetric initialisation
        params[key] = params[key] + 0.3 * rng.standard_normal(params[key].shape)
    tokens = rng.integers(0, vocab, (batch, context))
    targets = rng.integers(0, vocab, (batch, context))
    weights = (rng.random((batch, context)) < 0.7) * 1.0
    weights[0, 0] = 1.0
    return params, tokens, targets, weights


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10**6), st.booleans(), st.sampled_from([1, 2, 4]))
def test_gradients_match_central_differences(seed, causal, heads):
    params, tokens, targets, weights = _problem(seed)
    _, grads = loss_and_grads(params, tokens, targets, weights, heads, causal)
    rng = np.random.default_rng(seed)
    for key, value in params.items():

        def loss(v, key=key):
            return loss_and_grads({**params, key: v}, tokens, targets, weights, heads, causal)[0]

        for i in rng.choice(value.size, min(3, value.size), replace=False):
            idx = np.unravel_index(i, value.shape)
            assert grads[key][idx] == pytest.approx(partial_difference(loss, value, idx),
                                                    rel=1e-5, abs=1e-8)  # fmt: skip


def test_causal_output_ignores_later_tokens():
    """Changing the last token changes no loss term of earlier positions."""
    params, tokens, targets, _ = _problem(3)
    first = np.zeros(tokens.shape)
    first[:, :-1] = 1.0
    a = loss_and_grads(params, tokens, targets, first, 2, causal=True)[0]
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % 7
    assert loss_and_grads(params, changed, targets, first, 2, causal=True)[0] == a
    assert loss_and_grads(params, changed, targets, first, 2, causal=False)[0] != pytest.approx(
        loss_and_grads(params, tokens, targets, first, 2, causal=False)[0]
    )


def test_a_bypassed_block_is_the_identity():
    params, tokens, targets, weights = _problem(4)
    one = {k: v[:1] if k in BLOCK_KEYS else v for k, v in params.items()}
    full = loss_and_grads(params, tokens, targets, weights, 2, True, mask=[1, 0])[0]
    assert full == pytest.approx(loss_and_grads(one, tokens, targets, weights, 2, True)[0])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_zero_block_growth_leaves_the_loss_bit_identical(backend):
    params, tokens, targets, weights = _problem(5)
    model = TransformerFamily.model(params)

    def fresh(rng):
        return TransformerFamily.model(init_params(7, 8, 1, 6, seed=rng)).layers[0]

    zero_keys = TransformerFamily.zero_keys
    layers, _ = growth.grow(model.layers, "zero", zero_keys=zero_keys, fresh=fresh, seed=0)
    grown = TransformerFamily.params(growth.Model(model.shared, layers))
    assert grown["wq"].shape[0] == 3 and np.any(grown["wq"][2] != 0)
    a = loss_and_grads(params, tokens, targets, weights, 2, True, backend=backend)[0]
    assert loss_and_grads(grown, tokens, targets, weights, 2, True, backend=backend)[0] == a


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10**6), st.booleans(), st.sampled_from([1, 2, 4]), st.integers(1, 3))
def test_kernel_matches_the_reference(seed, causal, heads, depth):
    params, tokens, targets, weights = _problem(seed, depth=depth)
    mask = np.random.default_rng(seed).integers(0, 2, depth)
    a_loss, a = loss_and_grads(params, tokens, targets, weights, heads, causal, mask, "numba")
    b_loss, b = loss_and_grads(params, tokens, targets, weights, heads, causal, mask, "numpy")
    assert a_loss == pytest.approx(b_loss, rel=1e-10)
    for key in params:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-10, atol=1e-10 * np.abs(b[key]).max())


def test_logits_of_a_causal_model_ignore_later_tokens():
    params, tokens, _, _ = _problem(8)
    changed = tokens.copy()
    changed[:, 3:] = (changed[:, 3:] + 1) % 7
    a = transformer.logits(params, tokens, heads=2, causal=True)
    b = transformer.logits(params, changed, heads=2, causal=True)
    assert np.array_equal(a[:, :3], b[:, :3]) and not np.allclose(a[:, 3:], b[:, 3:])


def _corpus(seed, rows=40, length=6):
    return np.random.default_rng(seed).integers(0, 6, (rows, length))


def test_training_lowers_the_loss_and_frozen_blocks_do_not_move():
    params = _problem(6)[0]
    data = _corpus(1)
    result = transformer.train(params, data, 30, heads=2, causal=True, lr=1e-2, batch_size=8,
                               trainable=[0, 1], eval_data=data, eval_every=10, checkpoints=[0, 30],
                               seed=2)  # fmt: skip
    assert result.eval_losses[-1] < result.eval_losses[0]
    assert list(result.eval_steps) == [0, 10, 20, 30]
    assert np.array_equal(result.params["wq"][0], params["wq"][0])
    assert not np.array_equal(result.params["wq"][1], params["wq"][1])
    assert np.array_equal(result.checkpoints[0]["tok"], params["tok"])
    assert np.array_equal(result.checkpoints[30]["tok"], result.params["tok"])


def test_mlm_training_and_a_checkpoint_round_trip(tmp_path):
    params = _problem(10)[0]
    result = transformer.train(params, _corpus(3, length=5), 5, heads=2, causal=False,
                               objective="mlm", batch_size=4, seed=4)  # fmt: skip
    path = tmp_path / "model.npz"
    transformer.save_checkpoint(path, result.params, result.optimizer_state)
    loaded, state = transformer.load_checkpoint(path)
    assert all(np.array_equal(loaded[k], result.params[k]) for k in result.params)
    assert state["shared_steps"] == 5 and list(tmp_path.iterdir()) == [path]
    again = transformer.train(loaded, _corpus(3, length=5), 2, heads=2, causal=False,
                              objective="mlm", batch_size=4, optimizer_state=state, seed=5)  # fmt: skip
    assert again.optimizer_state["shared_steps"] == 7


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda p, t: (p, t[:, :2], t), "targets"),
        (lambda p, t: (p, t + 7, t + 7), "tokens"),
        (lambda p, t: (p, t, t), "heads"),
        (lambda p, t: ({**p, "wq": p["wq"] * np.nan}, t, t), "params['wq']"),
        (lambda p, t: ({**p, "w1": p["w1"][:, :3]}, t, t), "params['w1']"),
        (lambda p, t: (p, t.astype(float), t), "tokens"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(change, named):
    params, tokens, _, weights = _problem(11)
    p, t, g = change(params, tokens)
    heads = 3 if named == "heads" else 2
    with pytest.raises(InputError, match=re.escape(named)) as info:
        transformer.loss_and_grads(p, t, g, weights, heads=heads, causal=True)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("causal", [True, False])
def test_gradients_match_pytorch_autograd(causal):
    """The same model written in PyTorch (``sims.families.transformer.bench.torch_transformer_loss``: its own
    softmax, layer norm and GELU), differentiated by autograd; skipped without torch."""
    torch = pytest.importorskip("torch")
    from sims.families.transformer.bench import torch_transformer_loss

    params, tokens, targets, weights = _problem(7)
    for backend in ("numba", "numpy"):
        _, grads = loss_and_grads(params, tokens, targets, weights, 2, causal, backend=backend)
        p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        torch_transformer_loss(p, torch.tensor(tokens), torch.tensor(targets),
                               torch.tensor(weights), 2, causal).backward()  # fmt: skip
        for key, value in p.items():
            np.testing.assert_allclose(grads[key], value.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_an_evaluation_refuses_a_model_of_another_depth():
    """It used to crash the interpreter (exit 139): the workspace fits one depth only."""
    params = _problem(3, depth=1)[0]
    loss = transformer.evaluation(params, _corpus(3, length=6), heads=2, causal=True)
    deeper = _problem(3, depth=2)[0]
    with pytest.raises(InputError, match="another depth"):
        loss(deeper)
    assert np.isfinite(loss(params))


def _in_float32(arrays: dict) -> dict:
    """The same arrays rounded to float32 numbers and held in float64."""
    return {k: v.astype(np.float32).astype(float) for k, v in arrays.items()}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("causal", [True, False])
def test_float32_kernel_and_reference_agree_with_float64(seed, causal):
    # both float32 paths against the float64 reference at the same float32 numbers, within 200
    # float32 epsilons of each array's largest entry (measured on 180 cases: at most 25); the
    # loss of at least one case shows float32 rounding, so float32 really ran
    params, tokens, targets, weights = _problem(seed, depth=1 + seed % 3)
    params = _in_float32(params)
    exact_loss, exact = loss_and_grads(params, tokens, targets, weights, 2, causal)
    tolerance = float(200 * np.finfo(np.float32).eps)
    errors = []
    for backend in transformer.BACKENDS:
        loss, grads = transformer.loss_and_grads(params, tokens, targets, weights, heads=2,
                                                 causal=causal, backend=backend, dtype="float32")  # fmt: skip
        assert loss == pytest.approx(exact_loss, rel=tolerance)
        errors.append(abs(loss / exact_loss - 1))
        for key in params:
            assert grads[key].dtype == np.float32
            np.testing.assert_allclose(grads[key], exact[key], rtol=0,
                                       atol=tolerance * np.abs(exact[key]).max())  # fmt: skip
    assert max(errors) > 1e3 * np.finfo(float).eps


def test_float32_training_follows_float64_to_float32_accuracy():
    # 40 Adam steps from the same float32 numbers: the loss curves agree to 100 float32 epsilons
    # (measured on 5 seeds: at most 1.1), and parameters, Adam's moments and the evaluation stay
    # float32
    params = _in_float32(_problem(0)[0])
    data = _corpus(0, rows=40, length=7)
    runs = [transformer.train(params, data, 40, heads=2, causal=True, lr=1e-2, batch_size=8,
                              eval_data=data, seed=2, dtype=dtype)
            for dtype in ("float64", "float32")]  # fmt: skip
    np.testing.assert_allclose(runs[1].losses, runs[0].losses, rtol=100 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(runs[1].eval_losses, runs[0].eval_losses, rtol=1e-5)
    assert all(v.dtype == np.float32 for v in runs[1].params.values())
    assert all(v.dtype == np.float32 for v in runs[1].optimizer_state["v"].values())
    logits = transformer.logits(runs[1].params, data[:2, :6], heads=2, causal=True,
                                dtype="float32")  # fmt: skip
    assert logits.dtype == np.float32
    with pytest.raises(InputError, match="dtype must be one of"):
        transformer.train(params, data, 1, heads=2, causal=True, dtype="half")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_is_bit_identical_whether_the_parts_run_on_threads_or_in_turn(monkeypatch, dtype):
    # a batch of 32 x 16 predicted positions is cut into 2 parts; with NUMBA_NUM_THREADS 1 (the
    # sweep engine's workers) they run one after the other, with 2 on two threads: the same sums
    params = init_params(7, 8, 2, 16, seed=0)
    data = np.random.default_rng(1).integers(0, 7, (64, 17))
    assert transformer.PARTS * transformer.PART_POSITIONS <= 32 * 16 and transformer.PARTS == 2
    pools = []

    def pool(workers):
        pools.append(workers)
        return ThreadPoolExecutor(workers)

    monkeypatch.setattr(transformer, "ThreadPoolExecutor", pool)
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(transformer.numba.config, "NUMBA_NUM_THREADS", threads)
        runs.append(transformer.train(params, data, 5, heads=2, causal=True, lr=1e-2,
                                      batch_size=32, seed=3, dtype=dtype))  # fmt: skip
    assert pools == [2] * 5  # only the run with 2 threads used them, once per step
    assert np.array_equal(runs[0].losses, runs[1].losses)
    assert all(np.array_equal(runs[0].params[k], runs[1].params[k]) for k in runs[0].params)
