"""Numba kernel of the pre-LN transformer (``sims/families/transformer/``): one forward and hand-written
backward pass over a batch of token sequences, with the layer norm, GELU and Adam loops of the
residual-MLP kernel (``sims/families/residual_mlp/kernel.py``).

Rows r = b T + t of a (B T, D) stream; per block l with mask ``alpha_l``:

    h = LN1(x),  q, k, v = h Wq, h Wk, h Wv,  per head: A = softmax(q k^T / sqrt(D/H) + causal mask)
    x' = x + alpha_l ((A v) Wo + bo),   x'' = x' + alpha_l (GELU(LN2(x') W1 + b1) W2 + b2)

Loss: ``-sum_r w_r log softmax(LN_f(x_L) Wout + bout)_r[target_r] / sum_r w_r``. Backward through
softmax attention: ``dS = A * (dA - rowsum(dA * A)) / sqrt(D/H)``, ``dq = dS k``, ``dk = dS^T q``,
``dv = A^T d(Av)``. Matrix products go to BLAS (``np.dot``); row-wise steps are loops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sims.blocks import activate, exp_nonpositive, layernorm, layernorm_backward


@njit(cache=True)
def _to_heads(rows, dest, batch, heads):
    """``dest[b, h, t, :] = rows[b T + t, h dh : (h + 1) dh]`` (dest: (B, H, T, dh))."""
    T, dh = dest.shape[2], dest.shape[3]
    for b in range(batch):
        for h in range(heads):
            for t in range(T):
                for j in range(dh):
                    dest[b, h, t, j] = rows[b * T + t, h * dh + j]


@njit(cache=True)
def _softmax_rows(s, causal, packed):
    """Row-wise softmax in place; with ``causal`` entries above the diagonal are 0. The rows'
    entries minus their peaks are packed one after the other into ``packed`` (at least T^2
    long), whose exponentials then run in one loop (in SIMD lanes: loops as short as a causal
    row are not vectorised); each row's sum adds its terms in order."""
    T = s.shape[0]
    n = 0
    for i in range(T):
        top = i + 1 if causal else T
        peak = s[i, 0]
        for j in range(1, top):
            peak = max(peak, s[i, j])
        for j in range(top):
            packed[n + j] = s[i, j] - peak
        n += top
    for j in range(n):
        packed[j] = exp_nonpositive(packed[j])
    n = 0
    for i in range(T):
        top = i + 1 if causal else T
        total = 0.0
        for j in range(top):
            s[i, j] = packed[n + j]
            total += s[i, j]
        for j in range(top):
            s[i, j] /= total
        for j in range(top, T):
            s[i, j] = 0.0
        n += top


@njit(cache=True)
def _residual_add(out, x, alpha, branch, bias):
    """``out = x + alpha (branch + bias)`` row by row."""
    for r in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[r, j] = x[r, j] + alpha * (branch[r, j] + bias[j])


def workspace(batch, T, depth, width, heads, vocab, dtype=np.float64):
    """Work arrays of one forward and backward pass, reused from step to step, in ``dtype`` (the
    parameters' float type): the stream x_0..x_L, per block both LNs' (xhat, 1/std, output), q, k,
    v and A per head, the attention output, the stream after attention, the MLP's activations and
    GELU', then the final LN's, the logits and the backward pass's buffers."""
    n, dh, hid = batch * T, width // heads, 4 * width
    blocks = (depth, n, width)
    heads_shape = (depth, batch, heads, T, dh)
    shapes = (
        (depth + 1, n, width), blocks, (depth, n), blocks, blocks, (depth, n), blocks, heads_shape,
        heads_shape, heads_shape, (depth, batch, heads, T, T), blocks, blocks, (depth, n, hid),
        (depth, n, hid), (n, width), (n, width), (n,), (n, width), (n, vocab), (n, width),
        (n, width), (n, width), (n, width), (n, width), (n, hid), (T, dh),
    )  # fmt: skip
    return tuple(np.empty(shape, dtype) for shape in shapes)


@njit(cache=True, nogil=True)
def loss_and_grads(
    tokens, targets, weights, tok, pos, ln1_g, ln1_b, wq, wk, wv, wo, bo, ln2_g, ln2_b, w1, b1, w2,
    b2, lnf_g, lnf_b, wout, bout, alpha, heads, causal, work, grads, backward, logits_out,
):  # fmt: skip
    """Weighted mean cross-entropy (module docstring). With ``backward`` its gradients are written
    to ``grads`` (19 arrays shaped like the parameters, in the order of the arguments tok .. bout;
    bypassed blocks get 0). ``work``: the arrays of ``workspace``. A ``logits_out`` of shape (B T, vocab) receives the logits (pass an
    empty (0, vocab) array to skip)."""
    (g_tok, g_pos, g_ln1_g, g_ln1_b, g_wq, g_wk, g_wv, g_wo, g_bo, g_ln2_g, g_ln2_b, g_w1, g_b1,
     g_w2, g_b2, g_lnf_g, g_lnf_b, g_wout, g_bout) = grads  # fmt: skip
    B, T = tokens.shape
    depth, d = ln1_g.shape
    dh = d // heads
    scale = 1.0 / math.sqrt(dh)
    (stream, xhat1, inv1, h1, xhat2, inv2, h2, q, k, v, att, o, mid, act, slope, proj, xhatf, invf,
     hf, logits, dx, dbranch, dq, dk, dv, du, dhead) = work  # fmt: skip
    packed = np.empty(T * T, stream.dtype)  # the softmax's exponentials
    for b in range(B):
        for t in range(T):
            stream[0, b * T + t] = tok[tokens[b, t]] + pos[t]
    for layer in range(depth):
        x = stream[layer]
        a_l = alpha[layer]
        if a_l == 0.0:
            mid[layer] = x
            stream[layer + 1] = x
            continue
        layernorm(x, ln1_g[layer], ln1_b[layer], xhat1[layer], inv1[layer], h1[layer])
        np.dot(h1[layer], wq[layer], proj)
        _to_heads(proj, q[layer], B, heads)
        np.dot(h1[layer], wk[layer], proj)
        _to_heads(proj, k[layer], B, heads)
        np.dot(h1[layer], wv[layer], proj)
        _to_heads(proj, v[layer], B, heads)
        for b in range(B):
            for h in range(heads):
                s = att[layer, b, h]
                np.dot(q[layer, b, h], k[layer, b, h].T, s)
                s *= scale
                _softmax_rows(s, causal, packed)
                np.dot(s, v[layer, b, h], dhead)
                o[layer, b * T : (b + 1) * T, h * dh : (h + 1) * dh] = dhead
        np.dot(o[layer], wo[layer], proj)
        _residual_add(mid[layer], x, a_l, proj, bo[layer])
        layernorm(mid[layer], ln2_g[layer], ln2_b[layer], xhat2[layer], inv2[layer], h2[layer])
        np.dot(h2[layer], w1[layer], act[layer])
        activate(act[layer], b1[layer], slope[layer], 0)
        np.dot(act[layer], w2[layer], proj)
        _residual_add(stream[layer + 1], mid[layer], a_l, proj, b2[layer])
    layernorm(stream[depth], lnf_g, lnf_b, xhatf, invf, hf)
    np.dot(hf, wout, logits)
    vocab = logits.shape[1]
    total = 0.0
    for b in range(B):
        for t in range(T):
            total += weights[b, t]
    loss = 0.0
    for b in range(B):
        for t in range(T):
            r = b * T + t
            peak = -np.inf
            for j in range(vocab):
                logits[r, j] += bout[j]
                peak = max(peak, logits[r, j])
                if logits_out.shape[0]:
                    logits_out[r, j] = logits[r, j]
            z = 0.0
            for j in range(vocab):
                logits[r, j] = math.exp(logits[r, j] - peak)
                z += logits[r, j]
            c = weights[b, t] / total
            loss -= c * (math.log(logits[r, targets[b, t]] / z))
            for j in range(vocab):  # logits becomes d loss / d logits
                logits[r, j] *= c / z
            logits[r, targets[b, t]] -= c
    if not backward:
        return loss
    np.dot(hf.T, logits, g_wout)
    g_bout[:] = logits.sum(axis=0)
    g_lnf_g[:] = 0.0
    g_lnf_b[:] = 0.0
    dx[:, :] = 0.0
    np.dot(logits, wout.T, dbranch)
    layernorm_backward(dbranch, xhatf, invf, lnf_g, g_lnf_g, g_lnf_b, dx)
    for layer in range(depth - 1, -1, -1):
        for g in (g_ln1_g, g_ln1_b, g_ln2_g, g_ln2_b, g_bo, g_b2):
            g[layer] = 0.0
        a_l = alpha[layer]
        if a_l == 0.0:
            for g in (g_wq, g_wk, g_wv, g_wo):
                g[layer] = 0.0
            g_w1[layer] = 0.0
            g_b1[layer] = 0.0
            g_w2[layer] = 0.0
            continue
        # MLP branch: x'' = x' + alpha (GELU(LN2(x') W1 + b1) W2 + b2)
        dbranch[:, :] = a_l * dx
        np.dot(act[layer].T, dbranch, g_w2[layer])
        g_b2[layer] = dbranch.sum(axis=0)
        np.dot(dbranch, w2[layer].T, du)
        du *= slope[layer]
        np.dot(h2[layer].T, du, g_w1[layer])
        g_b1[layer] = du.sum(axis=0)
        np.dot(du, w1[layer].T, proj)
        layernorm_backward(
            proj, xhat2[layer], inv2[layer], ln2_g[layer], g_ln2_g[layer], g_ln2_b[layer], dx
        )
        # attention branch: x' = x + alpha ((A v) Wo + bo)
        dbranch[:, :] = a_l * dx
        np.dot(o[layer].T, dbranch, g_wo[layer])
        g_bo[layer] = dbranch.sum(axis=0)
        np.dot(dbranch, wo[layer].T, proj)
        for b in range(B):
            for h in range(heads):
                rows, cols = slice(b * T, (b + 1) * T), slice(h * dh, (h + 1) * dh)
                dhead[:, :] = proj[rows, cols]
                a = att[layer, b, h]
                da = np.dot(dhead, v[layer, b, h].T)
                dv[rows, cols] = np.dot(a.T, dhead)
                for i in range(T):
                    inner = 0.0
                    for j in range(T):
                        inner += da[i, j] * a[i, j]
                    for j in range(T):
                        da[i, j] = a[i, j] * (da[i, j] - inner) * scale
                dq[rows, cols] = np.dot(da, k[layer, b, h])
                dk[rows, cols] = np.dot(da.T, q[layer, b, h])
        np.dot(h1[layer].T, dq, g_wq[layer])
        np.dot(h1[layer].T, dk, g_wk[layer])
        np.dot(h1[layer].T, dv, g_wv[layer])
        np.dot(dq, wq[layer].T, dbranch)
        np.dot(dk, wk[layer].T, proj)
        dbranch += proj
        np.dot(dv, wv[layer].T, proj)
        dbranch += proj
        layernorm_backward(
            dbranch, xhat1[layer], inv1[layer], ln1_g[layer], g_ln1_g[layer], g_ln1_b[layer], dx
        )
    g_tok[:, :] = 0.0
    g_pos[:, :] = 0.0
    for b in range(B):
        for t in range(T):
            g_tok[tokens[b, t]] += dx[b * T + t]
            g_pos[t] += dx[b * T + t]
    return loss
