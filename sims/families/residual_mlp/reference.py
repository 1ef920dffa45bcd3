"""The residual MLP's loss and gradients in plain NumPy.

They implement the same recursions as the Numba kernel (``kernel.py`` beside this module) with
textbook whole-array expressions, so agreement between the two is a real check of both."""

from __future__ import annotations

import numpy as np

from sims.blocks_reference import gelu, gelu_prime, norm_backward, norm_forward


def residual_mlp_reference(params, X, target, coef, activation, layernorm, residual):
    """Mean squared error of the pre-LN residual MLP (``sims/families/residual_mlp/kernel.py``) and its
    gradients, with whole-array NumPy expressions and SciPy's erf. Returns ``(loss, grads,
    predictions)`` with ``grads`` keyed like ``params``."""

    def act(h):
        if activation == "quadratic":
            return h**2
        return gelu(h) if activation == "gelu" else np.maximum(h, 0)

    def dact(h):
        if activation == "gelu":
            return gelu_prime(h)
        return 2 * h if activation == "quadratic" else (h > 0).astype(h.dtype)

    def no_norm(v, g, b):
        return v, None

    normalise = norm_forward if layernorm else no_norm
    p = params
    y = X @ p["emb_w"] + p["emb_b"]
    tape = []
    for layer, c in enumerate(coef):
        if c == 0:
            tape.append(None)
            continue
        u, cache = normalise(y, p["ln_g"][layer], p["ln_b"][layer])
        h = u @ p["w1"][layer] + p["b1"][layer]
        m = act(h) @ p["w2"][layer] + p["b2"][layer]
        tape.append((u, cache, h))
        y = y + c * m if residual else c * m
    z, fin_cache = normalise(y, p["fin_g"], p["fin_b"])
    f = z @ p["head_w"] + p["head_b"][0]
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    df = 2 * (f - target) / len(f)
    grads["head_w"], grads["head_b"] = z.T @ df, np.array([df.sum()])
    dy = np.outer(df, p["head_w"])
    if layernorm:
        dy, (grads["fin_g"], grads["fin_b"]) = norm_backward(dy, p["fin_g"], fin_cache)
    for layer in reversed(range(len(coef))):
        if tape[layer] is None:
            continue
        u, cache, h = tape[layer]
        dm = coef[layer] * dy
        grads["w2"][layer], grads["b2"][layer] = act(h).T @ dm, dm.sum(0)
        dh = (dm @ p["w2"][layer].T) * dact(h)
        grads["w1"][layer], grads["b1"][layer] = u.T @ dh, dh.sum(0)
        du = dh @ p["w1"][layer].T
        if layernorm:
            du, (grads["ln_g"][layer], grads["ln_b"][layer]) = norm_backward(
                du, p["ln_g"][layer], cache
            )
        dy = dy + du if residual else du
    grads["emb_w"], grads["emb_b"] = X.T @ dy, dy.sum(0)
    return float(np.mean((f - target) ** 2)), grads, f
