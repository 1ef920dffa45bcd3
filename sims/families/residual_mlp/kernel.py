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
Matrix products go to BLAS (``np.dot`` into work arrays that a training loop allocates once);
row-wise steps are fused loops. The forward pass keeps ``act'(h_l)`` for the backward pass, and
the activations, layer norm and Adam's update are the shared ``sims.blocks``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sims.blocks import activate, layernorm, layernorm_backward


def workspace(n, width, depth, hid, dtype=np.float64):
    """Work arrays of one forward and backward pass on n rows in ``dtype`` (the parameters' float
    type), reused from step to step: the stream y_0..y_L, per block LN (xhat, 1/std, output),
    activations and act', the final LN's, and four row buffers (block outputs / dm, dy, du, da)."""
    shapes = (
        (depth + 1, n, width), (depth, n, width), (depth, n), (depth, n, width), (depth, n, hid),
        (depth, n, hid), (n, width), (n,), (n, width), (n, width), (n, width), (n, width), (n, hid),
    )  # fmt: skip
    return tuple(np.empty(shape, dtype) for shape in shapes)


@njit(cache=True)
def forward_pass(
    X, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act, norm, res,
    work,
):  # fmt: skip
    """Fill the work arrays (``stream[l] = y_l``, LN and MLP intermediates) and return f(X)."""
    stream, xhat, inv_std, normed, activ, slope, fin_xhat, fin_inv, fin_out, m = work[:10]
    depth = coef.shape[0]
    np.dot(X, emb_w, stream[0])
    stream[0] += emb_b
    for layer in range(depth):
        y = stream[layer]
        if coef[layer] == 0.0:
            stream[layer + 1] = y
            continue
        if norm:
            layernorm(y, ln_g[layer], ln_b[layer], xhat[layer], inv_std[layer], normed[layer])
        else:
            normed[layer] = y
        np.dot(normed[layer], w1[layer], activ[layer])
        activate(activ[layer], b1[layer], slope[layer], act)
        np.dot(activ[layer], w2[layer], m)
        if res:
            stream[layer + 1] = y + coef[layer] * (m + b2[layer])
        else:
            stream[layer + 1] = coef[layer] * (m + b2[layer])
    if norm:
        layernorm(stream[depth], fin_g, fin_b, fin_xhat, fin_inv, fin_out)
    else:
        fin_out[:, :] = stream[depth]
    return np.dot(fin_out, head_w) + head_b[0]


@njit(cache=True)
def loss_and_grads(
    X, target, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act,
    norm, res, work, grads,
):  # fmt: skip
    """Mean squared error; its gradients with respect to every parameter array are written to
    ``grads`` (arrays shaped like the parameters, in the same order; bypassed blocks get 0)."""
    n = X.shape[0]
    depth = w1.shape[0]
    _, xhat, inv_std, normed, activ, slope, fin_xhat, fin_inv, fin_out, dm, dy, du, da = work
    (g_emb_w, g_emb_b, g_ln_g, g_ln_b, g_w1, g_b1, g_w2, g_b2, g_fin_g, g_fin_b, g_head_w,
     g_head_b) = grads  # fmt: skip
    f = forward_pass(
        X, emb_w, emb_b, ln_g, ln_b, w1, b1, w2, b2, fin_g, fin_b, head_w, head_b, coef, act, norm,
        res, work,
    )  # fmt: skip
    resid = f - target
    loss = np.mean(resid * resid)
    df = np.empty_like(resid)  # in the parameters' float type
    df[:] = 2.0 * resid / n
    np.dot(fin_out.T, df, g_head_w)
    g_head_b[0] = df.sum()
    g_fin_g[:] = 0.0
    g_fin_b[:] = 0.0
    dy[:, :] = 0.0
    if norm:
        layernorm_backward(np.outer(df, head_w), fin_xhat, fin_inv, fin_g, g_fin_g, g_fin_b, dy)
    else:
        dy += np.outer(df, head_w)
    for layer in range(depth - 1, -1, -1):
        g_ln_g[layer] = 0.0
        g_ln_b[layer] = 0.0
        if coef[layer] == 0.0:
            g_w1[layer] = 0.0
            g_b1[layer] = 0.0
            g_w2[layer] = 0.0
            g_b2[layer] = 0.0
            continue
        dm[:, :] = coef[layer] * dy
        np.dot(activ[layer].T, dm, g_w2[layer])
        g_b2[layer] = dm.sum(axis=0)
        np.dot(dm, w2[layer].T, da)
        da *= slope[layer]
        np.dot(normed[layer].T, da, g_w1[layer])
        g_b1[layer] = da.sum(axis=0)
        np.dot(da, w1[layer].T, du)
        if not res:
            dy[:, :] = 0.0
        if norm:
            layernorm_backward(
                du, xhat[layer], inv_std[layer], ln_g[layer], g_ln_g[layer], g_ln_b[layer], dy
            )
        else:
            dy += du
    np.dot(X.T, dy, g_emb_w)
    g_emb_b[:] = dy.sum(axis=0)
    return loss
