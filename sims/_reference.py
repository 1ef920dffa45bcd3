"""Plain NumPy references of the Numba kernels, kept for tests and benchmarks.

They implement the same recursions in the ORIGINAL basis with textbook matrix expressions (the
kernels work in the eigenbasis of Sigma with hand-written loops), so agreement between the two is
a real check of both.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from sims.results import Status


def _norm_forward(v, g, b):
    """Layer norm over the last axis; returns the output and (xhat, 1/std) for the backward pass."""
    centred = v - v.mean(axis=-1, keepdims=True)
    inv = 1 / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + 1e-5)
    return g * centred * inv + b, (centred * inv, inv)


def _norm_backward(dout, g, cache):
    """Gradient with respect to the layer norm's input, and (d gain, d bias) summed over rows."""
    xh, inv = cache
    dx = dout * g
    rows = tuple(range(dout.ndim - 1))
    dv = inv * (dx - dx.mean(-1, keepdims=True) - xh * (dx * xh).mean(-1, keepdims=True))
    return dv, ((dout * xh).sum(rows), dout.sum(rows))


def _gelu(u):
    return 0.5 * u * (1 + erf(u / math.sqrt(2)))


def _gelu_prime(u):
    return 0.5 * (1 + erf(u / math.sqrt(2))) + u * np.exp(-(u**2) / 2) / math.sqrt(2 * math.pi)


def stagewise_reference(
    xp,
    sigma,
    w_star,
    v0,
    stages,
    beta,
    eta,
    beta_lr,
    init,
    functional,
    noise,
    target_rel,
    divergence_rel,
):
    """Stagewise training of a deep linear residual network (the recursion of
    ``sims/kernels/deep_linear.py``) in the original basis, written once against the Python array
    API: NumPy for the reference and the CPU, CuPy on a GPU, array-api-strict in tests. Returns
    host NumPy ``(losses, e1, e2, betas, Status)``."""
    d = sigma.shape[0]

    def risk(p):
        e = p - w_star
        return float(0.5 * xp.sum((e @ sigma) * e))

    def norm(a):
        return float(xp.linalg.vector_norm(a))

    p_prev = p = v0
    w = xp.zeros((d, d), dtype=xp.float64)
    losses, e1, e2, betas = [risk(p)], [], [], []
    threshold = divergence_rel * losses[0] if losses[0] > 0 else np.inf
    beta_t = beta
    status = Status.MAX_STAGES
    with np.errstate(all="ignore"):  # divergence is detected below, not warned about
        for t in range(stages):
            start = noise[t, ...] if init == "random" else beta_t * w
            y = p + start @ p
            g = (y - w_star) @ sigma
            direction = xp.linalg.solve(p.T, g.T).T if functional else g @ p.T  # G P^-1 | G P^T
            beta_next = beta_t
            if init == "trainable":
                beta_next = beta_t - beta_lr * float(xp.sum(direction * w))
                start = beta_next * w
            w = start - eta * direction
            p_next = p + w @ p
            step = norm(p_next - p)
            lookahead_nag = p + beta_t * (p - p_prev)
            e1.append(norm(y - lookahead_nag) / step if step > 0 else np.nan)
            e2.append(norm(p_next - (y - eta * g)) / step if step > 0 else np.nan)
            betas.append(beta_next)
            beta_t = beta_next
            p_prev, p = p, p_next
            losses.append(risk(p))
            if not np.isfinite(losses[-1]) or losses[-1] > threshold:
                status = Status.DIVERGED
                break
            if target_rel > 0 and losses[-1] <= target_rel * losses[0]:
                status = Status.CONVERGED
                break
    return np.array(losses), np.array(e1), np.array(e2), np.array(betas), status


def ensemble_reference(Z, y, Ze, ye, stages, logistic, convex, beta, eta, init, noise, coef0):
    """Boosting with a linear-in-parameters learner, residual form (see
    ``sims/kernels/boosting.py``). Returns ``(losses, eval_losses or None, coef, Status)``."""
    n = Z.shape[0]

    def risk(design, labels, w):
        margins = design @ w
        if logistic:
            return float(np.mean(np.logaddexp(0.0, -labels * margins)))
        return float(np.sum((margins - labels) ** 2) / (2 * design.shape[0]))

    def gradient(v):
        margins = Z @ v
        if logistic:
            return Z.T @ (-y / (1.0 + np.exp(y * margins))) / n
        return Z.T @ (margins - y) / n

    w = coef0.copy()
    a = np.zeros_like(w)
    losses = [risk(Z, y, w)]
    eval_losses = None if Ze is None else [risk(Ze, ye, w)]
    with np.errstate(all="ignore"):
        for t in range(stages):
            if init == "zero":
                start = np.zeros_like(w)
            elif init == "random":
                start = noise[t]
            else:
                beta_t = ((t - 1) / (t + 2) if t >= 1 else 0.0) if convex else beta
                start = beta_t * a
            a = start - eta * gradient(w + start)
            w = w + a
            losses.append(risk(Z, y, w))
            if eval_losses is not None:
                eval_losses.append(risk(Ze, ye, w))
            if not np.isfinite(losses[-1]) or (losses[0] > 0 and losses[-1] > 1e6 * losses[0]):
                return np.array(losses), eval_losses and np.array(eval_losses), w, Status.DIVERGED
    return np.array(losses), eval_losses and np.array(eval_losses), w, Status.MAX_STAGES


def residual_mlp_reference(params, X, target, coef, activation, layernorm, residual):
    """Mean squared error of the pre-LN residual MLP (``sims/kernels/residual_mlp.py``) and its
    gradients, with whole-array NumPy expressions and SciPy's erf. Returns ``(loss, grads,
    predictions)`` with ``grads`` keyed like ``params``."""

    def act(h):
        if activation == "quadratic":
            return h**2
        return _gelu(h) if activation == "gelu" else np.maximum(h, 0)

    def dact(h):
        if activation == "gelu":
            return _gelu_prime(h)
        return 2 * h if activation == "quadratic" else (h > 0).astype(h.dtype)

    def no_norm(v, g, b):
        return v, None

    normalise = _norm_forward if layernorm else no_norm
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
        dy, (grads["fin_g"], grads["fin_b"]) = _norm_backward(dy, p["fin_g"], fin_cache)
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
            du, (grads["ln_g"][layer], grads["ln_b"][layer]) = _norm_backward(
                du, p["ln_g"][layer], cache
            )
        dy = dy + du if residual else du
    grads["emb_w"], grads["emb_b"] = X.T @ dy, dy.sum(0)
    return float(np.mean((f - target) ** 2)), grads, f


def transformer_reference(params, tokens, targets, weights, heads, causal, alpha):
    """Weighted mean cross-entropy of the pre-LN transformer (``sims/kernels/transformer.py``) and
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
        h, c1 = _norm_forward(x, p["ln1_g"][i], p["ln1_b"][i])
        qh, kh, vh = (split(h @ p[w][i]) for w in ("wq", "wk", "wv"))
        s = qh @ kh.transpose(0, 1, 3, 2) / math.sqrt(dh) + bias
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = merge(a @ vh)
        x1 = x + alpha[i] * (o @ p["wo"][i] + p["bo"][i])
        h2, c2 = _norm_forward(x1, p["ln2_g"][i], p["ln2_b"][i])
        u = h2 @ p["w1"][i] + p["b1"][i]
        tape.append((h, c1, qh, kh, vh, a, o, h2, c2, u))
        x = x1 + alpha[i] * (_gelu(u) @ p["w2"][i] + p["b2"][i])
    hf, cf = _norm_forward(x, p["lnf_g"], p["lnf_b"])
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
    dx, (grads["lnf_g"], grads["lnf_b"]) = _norm_backward(dlogits @ p["wout"].T, p["lnf_g"], cf)

    def weight_grad(inputs, dout):
        return inputs.reshape(B * T, -1).T @ dout.reshape(B * T, -1)

    for i in reversed(range(depth)):
        if tape[i] is None:
            continue
        h, c1, qh, kh, vh, a, o, h2, c2, u = tape[i]
        dm = alpha[i] * dx
        grads["w2"][i], grads["b2"][i] = weight_grad(_gelu(u), dm), dm.sum((0, 1))
        du = (dm @ p["w2"][i].T) * _gelu_prime(u)
        grads["w1"][i], grads["b1"][i] = weight_grad(h2, du), du.sum((0, 1))
        dx1, (grads["ln2_g"][i], grads["ln2_b"][i]) = _norm_backward(
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
        dx0, (grads["ln1_g"][i], grads["ln1_b"][i]) = _norm_backward(dh_, p["ln1_g"][i], c1)
        dx = dx1 + dx0
    np.add.at(grads["tok"], tokens, dx)
    grads["pos"][:T] = dx.sum(0)
    return -float((picked * w).sum()), grads
