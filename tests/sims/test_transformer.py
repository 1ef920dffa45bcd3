"""The pre-LN transformer's NumPy reference (work in progress for issue 19): gradients against
central finite differences, causal masking, and bypassed blocks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sims.transformer import BLOCK_KEYS, init_params, loss_and_grads


def _problem(seed, vocab=7, width=8, depth=2, context=5, batch=3):
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
        flat = value.reshape(-1)
        for i in rng.choice(flat.size, min(3, flat.size), replace=False):
            old, eps = flat[i], 1e-6
            flat[i] = old + eps
            up = loss_and_grads(params, tokens, targets, weights, heads, causal)[0]
            flat[i] = old - eps
            down = loss_and_grads(params, tokens, targets, weights, heads, causal)[0]
            flat[i] = old
            assert grads[key].reshape(-1)[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5,
                                                              abs=1e-8)  # fmt: skip


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


def test_zero_block_growth_leaves_the_loss_bit_identical():
    from sims.transformer import grow_blocks

    params, tokens, targets, weights = _problem(5)
    grown = grow_blocks(params, [0, 1, -1])
    assert grown["wq"].shape[0] == 3
    a = loss_and_grads(params, tokens, targets, weights, 2, True)[0]
    assert loss_and_grads(grown, tokens, targets, weights, 2, True)[0] == a


def test_frozen_blocks_do_not_move():
    from sims.transformer import adam_step

    params, tokens, targets, weights = _problem(6)
    before = {k: v.copy() for k, v in params.items()}
    _, grads = loss_and_grads(params, tokens, targets, weights, 2, True)
    adam_step(params, grads, {}, 1e-2, trainable=[0, 1])
    assert np.array_equal(params["wq"][0], before["wq"][0])
    assert not np.array_equal(params["wq"][1], before["wq"][1])
    assert not np.array_equal(params["tok"], before["tok"])


@pytest.mark.parametrize("causal", [True, False])
def test_gradients_match_pytorch_autograd(causal):
    """The same model written in PyTorch (its own softmax, layer norm and GELU), differentiated
    by autograd."""
    torch = pytest.importorskip("torch")
    params, tokens, targets, weights = _problem(7)
    heads = 2
    _, grads = loss_and_grads(params, tokens, targets, weights, heads, causal)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    B, T = tokens.shape
    depth, d = params["ln1_g"].shape
    fn = torch.nn.functional
    x = p["tok"][torch.tensor(tokens)] + p["pos"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(depth):
        h = fn.layer_norm(x, (d,), p["ln1_g"][i], p["ln1_b"][i], eps=1e-5)
        q, k, v = ((h @ p[w][i]).reshape(B, T, heads, d // heads).transpose(1, 2)
                   for w in ("wq", "wk", "wv"))  # fmt: skip
        s = q @ k.transpose(-1, -2) / (d // heads) ** 0.5
        if causal:
            s = s.masked_fill(mask, float("-inf"))
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ p["wo"][i] + p["bo"][i]
        h2 = fn.layer_norm(x, (d,), p["ln2_g"][i], p["ln2_b"][i], eps=1e-5)
        x = x + fn.gelu(h2 @ p["w1"][i] + p["b1"][i]) @ p["w2"][i] + p["b2"][i]
    logits = fn.layer_norm(x, (d,), p["lnf_g"], p["lnf_b"], eps=1e-5) @ p["wout"] + p["bout"]
    nll = fn.cross_entropy(logits.reshape(B * T, -1), torch.tensor(targets).reshape(-1),
                           reduction="none")  # fmt: skip
    w = torch.tensor(weights).reshape(-1)
    ((nll * w).sum() / w.sum()).backward()
    for key, value in p.items():
        np.testing.assert_allclose(grads[key], value.grad.numpy(), rtol=1e-9, atol=1e-12)
