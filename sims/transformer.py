"""A small pre-LN transformer (issue 19; work in progress: NumPy reference only, no kernel yet).

    x_0 = E[tokens] + P[:T]
    x_l = x_{i-1} + a_l Attn_l(LN1_l(x_{i-1})),   x_l <- x_l + a_l MLP_l(LN2_l(x_l))
    logits = LN_f(x_L) W_out + b_out

Attention: H heads of width D/H, ``softmax(q k^T / sqrt(D/H) + mask) v``, the mask -inf above the
diagonal when causal; ``Attn(u) = concat_h(...) W_o + b_o`` with ``q, k, v = u W_q, u W_k, u W_v``.
``MLP(u) = GELU(u W_1 + b_1) W_2 + b_2`` (hidden width 4D, exact GELU). ``a_l`` in {0, 1} is the
block's mask (a bypassed block is the identity). Loss: mean cross-entropy over the positions with
weight 1 (next-token: every position; masked-token: the masked positions).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

BLOCK_KEYS = (
    "ln1_g",
    "ln1_b",
    "wq",
    "wk",
    "wv",
    "wo",
    "bo",
    "ln2_g",
    "ln2_b",
    "w1",
    "b1",
    "w2",
    "b2",
)
LN_EPS = 1e-5


def init_params(vocab: int, width: int, depth: int, context: int, seed=None) -> dict:
    """Normal(0, 0.02) weights, zero biases, unit LN gains; block arrays stacked on axis 0."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return 0.02 * rng.standard_normal(shape)

    d, h = width, 4 * width
    return {
        "tok": normal(vocab, d), "pos": normal(context, d),
        "ln1_g": np.ones((depth, d)), "ln1_b": np.zeros((depth, d)),
        "wq": normal(depth, d, d), "wk": normal(depth, d, d), "wv": normal(depth, d, d),
        "wo": normal(depth, d, d), "bo": np.zeros((depth, d)),
        "ln2_g": np.ones((depth, d)), "ln2_b": np.zeros((depth, d)),
        "w1": normal(depth, d, h), "b1": np.zeros((depth, h)),
        "w2": normal(depth, h, d), "b2": np.zeros((depth, d)),
        "lnf_g": np.ones(d), "lnf_b": np.zeros(d),
        "wout": normal(d, vocab), "bout": np.zeros(vocab),
    }  # fmt: skip


def _ln(x, g, b):
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    inv = 1.0 / np.sqrt((xc * xc).mean(-1, keepdims=True) + LN_EPS)
    xhat = xc * inv
    return xhat * g + b, (xhat, inv)


def _ln_back(dy, g, cache):
    xhat, inv = cache
    dxhat = dy * g
    dx = inv * (
        dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, keepdims=True)
    )
    axes = tuple(range(dy.ndim - 1))
    return dx, (dy * xhat).sum(axes), dy.sum(axes)


def _gelu(u):
    return 0.5 * u * (1 + erf(u / np.sqrt(2)))


def _gelu_prime(u):
    return 0.5 * (1 + erf(u / np.sqrt(2))) + u * np.exp(-(u**2) / 2) / np.sqrt(2 * np.pi)


def loss_and_grads(params, tokens, targets, weights, heads: int, causal: bool, mask=None):
    """Mean weighted cross-entropy and its gradients (a dict like ``params``)."""
    B, T = tokens.shape
    depth, d = params["ln1_g"].shape
    dh = d // heads
    alpha = np.ones(depth) if mask is None else np.asarray(mask, dtype=float)
    x = params["tok"][tokens] + params["pos"][:T]
    bias = np.where(np.triu(np.ones((T, T)), 1) > 0, -np.inf, 0.0) if causal else np.zeros((T, T))
    caches = []
    for i in range(depth):
        h, c1 = _ln(x, params["ln1_g"][i], params["ln1_b"][i])
        q, k, v = (h @ params[w][i] for w in ("wq", "wk", "wv"))
        split = lambda z: z.reshape(B, T, heads, dh).transpose(0, 2, 1, 3)  # noqa: E731
        qh, kh, vh = split(q), split(k), split(v)
        s = qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(dh) + bias
        s = s - s.max(-1, keepdims=True)
        a = np.exp(s)
        a /= a.sum(-1, keepdims=True)
        o = (a @ vh).transpose(0, 2, 1, 3).reshape(B, T, d)
        attn = o @ params["wo"][i] + params["bo"][i]
        x1 = x + alpha[i] * attn
        h2, c2 = _ln(x1, params["ln2_g"][i], params["ln2_b"][i])
        u = h2 @ params["w1"][i] + params["b1"][i]
        g = _gelu(u)
        m = g @ params["w2"][i] + params["b2"][i]
        caches.append((h, c1, qh, kh, vh, a, o, x1, h2, c2, u, g))
        x = x1 + alpha[i] * m
    hf, cf = _ln(x, params["lnf_g"], params["lnf_b"])
    logits = hf @ params["wout"] + params["bout"]
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    loss = -float((np.take_along_axis(logp, targets[..., None], -1)[..., 0] * w).sum() / total)
    # backward
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, targets[..., None],
                      np.take_along_axis(dlogits, targets[..., None], -1) - 1, -1)  # fmt: skip
    dlogits *= (w / total)[..., None]
    grads["wout"] = hf.reshape(-1, d).T @ dlogits.reshape(-1, dlogits.shape[-1])
    grads["bout"] = dlogits.sum((0, 1))
    dx, grads["lnf_g"], grads["lnf_b"] = _ln_back(dlogits @ params["wout"].T, params["lnf_g"], cf)
    for i in reversed(range(depth)):
        h, c1, qh, kh, vh, a, o, x1, h2, c2, u, g = caches[i]
        dm = alpha[i] * dx
        grads["w2"][i] = g.reshape(-1, g.shape[-1]).T @ dm.reshape(-1, d)
        grads["b2"][i] = dm.sum((0, 1))
        du = (dm @ params["w2"][i].T) * _gelu_prime(u)
        grads["w1"][i] = h2.reshape(-1, d).T @ du.reshape(-1, du.shape[-1])
        grads["b1"][i] = du.sum((0, 1))
        dh2 = du @ params["w1"][i].T
        dx1_ln, grads["ln2_g"][i], grads["ln2_b"][i] = _ln_back(dh2, params["ln2_g"][i], c2)
        dx1 = dx + dx1_ln
        dattn = alpha[i] * dx1
        grads["wo"][i] = o.reshape(-1, d).T @ dattn.reshape(-1, d)
        grads["bo"][i] = dattn.sum((0, 1))
        do = (dattn @ params["wo"][i].T).reshape(B, T, heads, dh).transpose(0, 2, 1, 3)
        da = do @ vh.transpose(0, 1, 3, 2)
        dvh = a.transpose(0, 1, 3, 2) @ do
        ds = a * (da - (da * a).sum(-1, keepdims=True)) / np.sqrt(dh)
        dqh, dkh = ds @ kh, ds.transpose(0, 1, 3, 2) @ qh
        merge = lambda z: z.transpose(0, 2, 1, 3).reshape(B, T, d)  # noqa: E731
        dq, dk, dv = merge(dqh), merge(dkh), merge(dvh)
        hf2 = h.reshape(-1, d)
        dh_ = np.zeros_like(h)
        for key, dz in (("wq", dq), ("wk", dk), ("wv", dv)):
            grads[key][i] = hf2.T @ dz.reshape(-1, d)
            dh_ += dz @ params[key][i].T
        dx0, grads["ln1_g"][i], grads["ln1_b"][i] = _ln_back(dh_, params["ln1_g"][i], c1)
        dx = dx1 + dx0
    np.add.at(grads["tok"], tokens, dx)
    grads["pos"][:T] = dx.sum(0)
    return loss, grads


def grow_blocks(params: dict, index_map) -> dict:
    """The blocks of ``params`` rearranged by ``index_map`` (``sims.growth``'s operators: entry j
    names the old block that block j copies; -1 makes a zero block, whose residual branches output
    0, so the function is unchanged). Non-block arrays are copied as they are."""
    depth = params["ln1_g"].shape[0]
    out = {k: np.array(v) for k, v in params.items() if k not in BLOCK_KEYS}
    for key in BLOCK_KEYS:
        fresh = np.zeros_like(params[key][0])
        if key.endswith("_g"):
            fresh = np.ones_like(fresh)
        rows = [params[key][j] if 0 <= j < depth else fresh for j in index_map]
        out[key] = np.stack(rows).astype(np.float64)
    return out


def mlm_batch(rng, tokens, mask_token: int, vocab: int, rate: float = 0.15):
    """BERT-style masked-token batch: each position is chosen with probability ``rate`` (at least
    one per row); a chosen position becomes ``mask_token`` (80%), a random token (10%) or stays
    (10%). Returns (inputs, targets, weights) with weights 1 at the chosen positions."""
    tokens = np.asarray(tokens)
    chosen = rng.random(tokens.shape) < rate
    chosen[np.arange(len(tokens)), rng.integers(0, tokens.shape[1], len(tokens))] = True
    draw = rng.random(tokens.shape)
    inputs = tokens.copy()
    inputs[chosen & (draw < 0.8)] = mask_token
    swap = chosen & (draw >= 0.8) & (draw < 0.9)
    inputs[swap] = rng.integers(0, vocab, swap.sum())
    return inputs, tokens, chosen * 1.0


def adam_step(params, grads, state, lr, trainable=None, b1=0.9, b2=0.999, eps=1e-8) -> None:
    """One Adam step in place; ``trainable`` (per block, 0/1) freezes blocks: their parameters and
    moments stay as they are."""
    state["t"] = state.get("t", 0) + 1
    t = state["t"]
    for key, g in grads.items():
        m = state.setdefault(("m", key), np.zeros_like(g))
        v = state.setdefault(("v", key), np.zeros_like(g))
        live = np.ones(g.shape[0], bool) if trainable is None or key not in BLOCK_KEYS else (
            np.asarray(trainable) == 1)  # fmt: skip
        if key not in BLOCK_KEYS:
            live = slice(None)
        m[live] = b1 * m[live] + (1 - b1) * g[live]
        v[live] = b2 * v[live] + (1 - b2) * g[live] ** 2
        params[key][live] -= lr * (m[live] / (1 - b1**t)) / (np.sqrt(v[live] / (1 - b2**t)) + eps)
