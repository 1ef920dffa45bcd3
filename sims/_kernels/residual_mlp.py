"""Numba kernel of the pre-LN residual MLP: forward pass and hand-written backward pass.

Per sample (row of X), with ``c_l = mask_l * scale_l`` and LN(v) = g (v - mean v) / sqrt(var v +
LN_EPS) + b:

    y_0 = X W_e + b_e
    u_l = LN_l(y_{l-1}),  h_l = u_l W1_l + b1_l,  a_l = act(h_l),  m_l = a_l W2_l + b2_l
    y_l = y_{l-1} + c_l m_l     (residual)     or     c_l m_l     (no residual; mask 0: y_{l-1})
    f   = LN_f(y_L) . w_o + b_o,      loss = mean (f - y)^2

A block with ``mask_l = 0`` is the identity and costs nothing. Without layer normalisation
``LN(v) = v``. The backward pass is the chain rule through these lines in reverse; the LN
step uses ``dv = (dxhat - mean dxhat - xhat mean(dxhat xhat)) / sqrt(var + LN_EPS)``.
Matrix products go to BLAS (``np.dot``); row-wise steps are fused loops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LN_EPS = 1e-5
ACTIVATION_CODES = {"gelu": 0, "relu": 1}
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def _activate(h, a, cdf, code):
    """``a = act(h)`` elementwise: exact GELU ``h Phi(h)`` (keeping ``Phi(h)`` in cdf) or ReLU."""
    for i in range(h.shape[0]):
        for j in range(h.shape[1]):
            v = h[i, j]
            if code == 0:
                cdf[i, j] = 0.5 * (1.0 + math.erf(v * _INV_SQRT2))
                a[i, j] = v * cdf[i, j]
            else:
                a[i, j] = v if v > 0.0 else 0.0


@njit(cache=True)
def _activate_backward(h, cdf, da, code):
    """``da *= act'(h)`` in place: ``Phi(h) + h phi(h)`` for GELU, ``1[h > 0]`` for ReLU."""
    for i in range(h.shape[0]):
        for j in range(h.shape[1]):
            v = h[i, j]
            if code == 0:
                da[i, j] *= cdf[i, j] + v * _INV_SQRT_2PI * math.exp(-0.5 * v * v)
            elif v <= 0.0:
                da[i, j] = 0.0


@njit(cache=True)
def _layernorm(v, gain, bias, xhat, inv_std, out):
    """``out = gain * xhat + bias`` with ``xhat`` the row-standardised ``v``; keeps xhat, inv_std."""
    n, w = v.shape
    for i in range(n):
        mean = 0.0
        for j in range(w):
            mean += v[i, j]
        mean /= w
        var = 0.0
        for j in range(w):
            var += (v[i, j] - mean) ** 2
        s = 1.0 / math.sqrt(var / w + LN_EPS)
        inv_std[i] = s
        for j in range(w):
            xhat[i, j] = (v[i, j] - mean) * s
            out[i, j] = gain[j] * xhat[i, j] + bias[j]


@njit(cache=True)
def _layernorm_backward(dout, xhat, inv_std, gain, dgain, dbias, dv):
    """Accumulate ``dgain``, ``dbias`` and add the gradient with respect to LN's input to ``dv``."""
    n, w = dout.shape
    for i in range(n):
        mean_dx = 0.0
        mean_dx_x = 0.0
        for j in range(w):
            dx = dout[i, j] * gain[j]
            dgain[j] += dout[i, j] * xhat[i, j]
            dbias[j] += dout[i, j]
            mean_dx += dx
            mean_dx_x += dx * xhat[i, j]
        mean_dx /= w
        mean_dx_x /= w
        for j in range(w):
            dx = dout[i, j] * gain[j]
            dv[i, j] += inv_std[i] * (dx - mean_dx - xhat[i, j] * mean_dx_x)


@njit(cache=True)
def _caches(n, width, depth, hid):
    """Work arrays of one forward pass: the stream y_0..y_L, per-block LN (xhat, 1/std, output),
    pre-activations, activations and Phi (GELU), and the final LN's."""
    return (
        np.empty((depth + 1, n, width)), np.empty((depth, n, width)), np.empty((depth, n)),
        np.empty((depth, n, width)), np.empty((depth, n, hid)), np.empty((depth, n, hid)),
        np.empty((depth, n, hid)), np.empty((n, width)), np.empty(n), np.empty((n, width)),
    )  # fmt: skip


@njit(cache=True)
def forward_pass(
    X, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act, norm, res,
    caches,
):  # fmt: skip
    """Fill the caches (``stream[l] = y_l``, LN and MLP intermediates) and return f(X)."""
    stream, xhat, inv_std, normed, hidden, activ, cdf, fin_xhat, fin_inv, fin_out = caches
    depth = coef.shape[0]
    stream[0] = np.dot(X, emb_w) + emb_b
    for layer in range(depth):
        y = stream[layer]
        if coef[layer] == 0.0:
            stream[layer + 1] = y
            continue
        if norm:
            _layernorm(y, ln_g[layer], ln_b[layer], xhat[layer], inv_std[layer], normed[layer])
        else:
            normed[layer] = y
        hidden[layer] = np.dot(normed[layer], w1[layer]) + b1[layer]
        _activate(hidden[layer], activ[layer], cdf[layer], act)
        m = np.dot(activ[layer], w2[layer]) + b2[layer]
        if res:
            stream[layer + 1] = y + coef[layer] * m
        else:
            stream[layer + 1] = coef[layer] * m
    if norm:
        _layernorm(stream[depth], fin_g, fin_b, fin_xhat, fin_inv, fin_out)
    else:
        fin_out[:, :] = stream[depth]
    return np.dot(fin_out, head_w) + head_b[0]


@njit(cache=True)
def loss_and_grads(
    X, target, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act,
    norm, res,
):  # fmt: skip
    """Mean squared error and its gradients with respect to every parameter array."""
    n, width = X.shape[0], emb_w.shape[1]
    depth, hid = w1.shape[0], w1.shape[2]
    caches = _caches(n, width, depth, hid)
    _, xhat, inv_std, normed, hidden, activ, cdf, fin_xhat, fin_inv, fin_out = caches
    f = forward_pass(
        X, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act, norm,
        res, caches,
    )  # fmt: skip
    resid = f - target
    loss = np.mean(resid * resid)
    df = 2.0 * resid / n
    g_head_w = np.dot(fin_out.T, df)
    g_head_b = np.array([df.sum()])
    g_fin_g = np.zeros(width)
    g_fin_b = np.zeros(width)
    d_fin = np.outer(df, head_w)
    dy = np.zeros((n, width))
    if norm:
        _layernorm_backward(d_fin, fin_xhat, fin_inv, fin_g, g_fin_g, g_fin_b, dy)
    else:
        dy += d_fin
    g_ln_g = np.zeros_like(ln_g)
    g_ln_b = np.zeros_like(ln_b)
    g_w1 = np.zeros_like(w1)
    g_b1 = np.zeros_like(b1)
    g_w2 = np.zeros_like(w2)
    g_b2 = np.zeros_like(b2)
    for layer in range(depth - 1, -1, -1):
        if coef[layer] == 0.0:
            continue
        dm = coef[layer] * dy
        g_w2[layer] = np.dot(activ[layer].T, dm)
        g_b2[layer] = dm.sum(axis=0)
        da = np.dot(dm, w2[layer].T)
        _activate_backward(hidden[layer], cdf[layer], da, act)
        g_w1[layer] = np.dot(normed[layer].T, da)
        g_b1[layer] = da.sum(axis=0)
        du = np.dot(da, w1[layer].T)
        if not res:
            dy = np.zeros((n, width))
        if norm:
            _layernorm_backward(
                du, xhat[layer], inv_std[layer], ln_g[layer], g_ln_g[layer], g_ln_b[layer], dy
            )
        else:
            dy += du
    g_emb_w = np.dot(X.T, dy)
    g_emb_b = dy.sum(axis=0)
    grads = (g_emb_w, g_emb_b, g_ln_g, g_ln_b, g_w1, g_b1, g_w2, g_b2, g_fin_g, g_fin_b, g_head_w,
             g_head_b)  # fmt: skip
    return loss, grads


@njit(cache=True)
def predict(X, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act,
            norm, res):  # fmt: skip
    """f(X) without keeping the caches of the backward pass beyond this call."""
    n, width = X.shape[0], emb_w.shape[1]
    depth, hid = w1.shape[0], w1.shape[2]
    return forward_pass(
        X, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act, norm,
        res, _caches(n, width, depth, hid),
    )  # fmt: skip
