"""The transformer's loss and gradients in plain NumPy.

They implement the same recursions as the Numba kernel (``kernel.py`` beside this module) with
textbook whole-array expressions, so agreement between the two is a real check of both."""

from __future__ import annotations

import math

import numpy as np

from sims.blocks_reference import gelu, gelu_prime, norm_backward, norm_forward


def transformer_reference(params, tokens, targets, weights, heads, causal, alpha):
    """Weighted mean cross-entropy of the pre-LN transformer (``sims/families/transformer/kernel.py``) and
    its gradients, with whole-array NumPy expressions over (batch, position, width) and SciPy's
    erf, in the parameters' float type (constants are Python floats, which never widen an array).
    Returns ``(loss, grads)`` with ``grads`` keyed like ``params``."""
    p = params
    dtype = p["tok"].dtype
    alpha, weights = alpha.astype(dtype), weights.astype(dtype)
    B, T = tokens.shape
    depth, d = p["ln1_g"].shape
    dh = d // heads

    def split(z):
        return z.reshape(B, T, heads, dh).transpose(0, 2, 1, 3)

    def merge(z):
        return z.transpose(0, 2, 1, 3).reshape(B, T, d)

    x = p["tok"][tokens] + p["pos"][:T]
    bias = np.where(np.triu(np.ones((T, T), dtype), 1) > 0, -np.inf, 0.0).astype(dtype)
    if not causal:
        bias[:] = 0.0
    tape = []
    for i in range(depth):
        if alpha[i] == 0:
            tape.append(None)
            continue
        h, c1 = norm_forward(x, p["ln1_g"][i], p["ln1_b"][i])
        qh, kh, vh = (split(h @ p[w][i]) for w in ("wq", "wk", "wv"))
        s = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(dh) + bias
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = merge(a @ vh)
        x1 = x + alpha[i] * (o @ p["wo"][i] + p["bo"][i])
        h2, c2 = norm_forward(x1, p["ln2_g"][i], p["ln2_b"][i])
        u = h2 @ p["w1"][i] + p["b1"][i]
        tape.append((h, c1, qh, kh, vh, a, o, h2, c2, u))
        x = x1 + alpha[i] * (gelu(u) @ p["w2"][i] + p["b2"][i])
    hf, cf = norm_forward(x, p["lnf_g"], p["lnf_b"])
    logits = hf @ p["wout"] + p["bout"]
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    w = weights / weights.sum()
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, targets[..., None], np.exp(picked)[..., None] - 1, -1)
    dlogits *= w[..., None]
    grads["wout"] = hf.reshape(-1, d).T @ dlogits.reshape(B * T, -1)
    grads["bout"] = dlogits.sum((0, 1))
    dx, (grads["lnf_g"], grads["lnf_b"]) = norm_backward(dlogits @ p["wout"].T, p["lnf_g"], cf)

    def weight_grad(inputs, dout):
        return inputs.reshape(B * T, -1).T @ dout.reshape(B * T, -1)

    for i in reversed(range(depth)):
        if tape[i] is None:
            continue
        h, c1, qh, kh, vh, a, o, h2, c2, u = tape[i]
        dm = alpha[i] * dx
        grads["w2"][i], grads["b2"][i] = weight_grad(gelu(u), dm), dm.sum((0, 1))
        du = (dm @ p["w2"][i].T) * gelu_prime(u)
        grads["w1"][i], grads["b1"][i] = weight_grad(h2, du), du.sum((0, 1))
        dx1, (grads["ln2_g"][i], grads["ln2_b"][i]) = norm_backward(
            du @ p["w1"][i].T, p["ln2_g"][i], c2
        )
        dx1 = dx1 + dx
        dattn = alpha[i] * dx1
        grads["wo"][i], grads["bo"][i] = weight_grad(o, dattn), dattn.sum((0, 1))
        do = split(dattn @ p["wo"][i].T)
        da = do @ vh.transpose(0, 1, 3, 2)
        ds = a * (da - (da * a).sum(-1, keepdims=True)) / math.sqrt(dh)
        dqkv = {"wq": ds @ kh, "wk": ds.transpose(0, 1, 3, 2) @ qh,
                "wv": a.transpose(0, 1, 3, 2) @ do}  # fmt: skip
        dh_ = np.zeros_like(h)
        for key, dz in dqkv.items():
            grads[key][i] = weight_grad(h, merge(dz))
            dh_ += merge(dz) @ p[key][i].T
        dx0, (grads["ln1_g"][i], grads["ln1_b"][i]) = norm_backward(dh_, p["ln1_g"][i], c1)
        dx = dx1 + dx0
    np.add.at(grads["tok"], tokens, dx)
    grads["pos"][:T] = dx.sum(0)
    return -float((picked * w).sum()), grads
