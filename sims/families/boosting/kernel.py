"""Numba kernel of boosting with learners linear in their parameters (docs/theory.md §1).

With design Z (the inputs, or random features of them), the ensemble after t stages is
``F_t(x) = w_t . z(x)``, ``w_t = a_1 + ... + a_t``. Stage t+1 initialises the new learner at
``s_t`` (0, noise ``xi_t``, or ``beta_t a_t``), takes one gradient step of size eta on it:

    v_t = w_t + s_t,   a_{t+1} = s_t - eta grad R(v_t),   w_{t+1} = w_t + a_{t+1},

which for ``s_t = beta_t a_t = beta_t (w_t - w_{t-1})`` is exactly Nesterov's method on
``w -> R(Z w)``. Squared loss ``R(w) = 1/(2n) ||Z w - y||^2`` runs on the Gram form
``1/2 w^T H w - b^T w + c`` (``H = Z^T Z / n``, O(p^2) per stage); logistic loss
``R(w) = 1/n sum log(1 + exp(-y_i z_i . w))`` makes a pass over Z: the margins ``Z w`` and the
gradient ``Z^T r`` by BLAS, the exponentials and logarithms row by row in SIMD lanes
(``sims.blocks``: ``exp_nonpositive``, ``log1p_unit``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sims.blocks import exp_nonpositive, log1p_unit
from sims.results import DIVERGED_CODE, MAX_STAGES_CODE

INIT_CODES = {"zero": 0, "random": 1, "stack": 2, "copy": 3}


@njit(cache=True)
def _quadratic_value(H, b, c, w):
    total = c
    for i in range(w.shape[0]):
        hw = 0.0
        for j in range(w.shape[0]):
            hw += H[i, j] * w[j]
        total += w[i] * (0.5 * hw - b[i])
    return total


@njit(cache=True, error_model="numpy")
def _logistic_value(Z, y, w):
    """``1/n sum softplus(y_i z_i . w)`` with ``softplus(u) = log(1 + exp(-u))`` written as
    ``max(-u, 0) + log1p(exp(-|u|))``, stable for both signs of u."""
    terms = np.dot(Z, w)
    for i in range(terms.shape[0]):  # no reduction here, so the loop runs in SIMD lanes
        u = y[i] * terms[i]
        terms[i] = max(-u, 0.0) + log1p_unit(exp_nonpositive(-abs(u)))
    return terms.sum() / Z.shape[0]


@njit(cache=True, error_model="numpy")
def _gradient(Z, y, H, b, logistic, v, out):
    """``grad R(v)`` into ``out``: logistic ``Z^T r / n`` with ``r_i = -y_i / (1 + exp(u_i))``,
    ``u_i = y_i z_i . v`` (as ``-y_i e / (1 + e)`` or ``-y_i / (1 + e)``, ``e = exp(-|u_i|)``);
    squared ``H v - b``."""
    p = v.shape[0]
    if logistic:
        n = Z.shape[0]
        r = np.dot(Z, v)
        for i in range(n):  # no reduction here, so the loop runs in SIMD lanes
            u = y[i] * r[i]
            e = exp_nonpositive(-abs(u))
            r[i] = -y[i] * (e if u >= 0.0 else 1.0) / (1.0 + e) / n
        np.dot(Z.T, r, out)
    else:
        for i in range(p):
            total = -b[i]
            for j in range(p):
                total += H[i, j] * v[j]
            out[i] = total


@njit(cache=True)
def ensemble_one(
    Z,
    y,
    H,
    b,
    c,
    Ze,
    ye,
    He,
    be,
    ce,
    has_eval,
    stages,
    logistic,
    convex,
    beta,
    eta,
    init_code,
    noise,
    losses,
    eval_losses,
    w,
):
    """One boosting run from the initial coefficients in ``w`` (the model F_0); fills
    ``losses[0..n]`` (and ``eval_losses``), leaves the final coefficients in ``w``; returns
    ``(n, status)`` with status 0 max_stages, 2 diverged."""
    p = w.shape[0]
    a = np.zeros(p)
    v = np.empty(p)
    grad = np.empty(p)
    losses[0] = _logistic_value(Z, y, w) if logistic else _quadratic_value(H, b, c, w)
    if has_eval:
        eval_losses[0] = _logistic_value(Ze, ye, w) if logistic else _quadratic_value(He, be, ce, w)
    threshold = 1e6 * losses[0] if losses[0] > 0 else np.inf
    for t in range(stages):
        beta_t = beta
        if convex:
            beta_t = (t - 1.0) / (t + 2.0) if t >= 1 else 0.0
        for j in range(p):
            if init_code == 1:
                a[j] = noise[t, j]
            elif init_code == 0:
                a[j] = 0.0
            else:
                a[j] = beta_t * a[j]  # the previous learner, scaled
            v[j] = w[j] + a[j]
        _gradient(Z, y, H, b, logistic, v, grad)
        for j in range(p):
            a[j] -= eta * grad[j]
            w[j] += a[j]
        loss = _logistic_value(Z, y, w) if logistic else _quadratic_value(H, b, c, w)
        losses[t + 1] = loss
        if has_eval:
            eval_losses[t + 1] = (
                _logistic_value(Ze, ye, w) if logistic else _quadratic_value(He, be, ce, w)
            )
        if not np.isfinite(loss) or loss > threshold:
            return t + 1, DIVERGED_CODE
    return stages, MAX_STAGES_CODE


@njit(cache=True)
def ensemble_batch(
    Z,
    y,
    H,
    b,
    c,
    Ze,
    ye,
    He,
    be,
    ce,
    has_eval,
    stages,
    logistic,
    convex,
    beta,
    eta,
    init_code,
    noise,
    losses,
    eval_losses,
    w,
    n_done,
    status,
):
    """``ensemble_one`` over a batch of independent instances of equal shapes (serially: one run
    is microseconds per stage, and sweeps parallelise across cells)."""
    for k in range(Z.shape[0]):
        n, s = ensemble_one(
            Z[k],
            y[k],
            H[k],
            b[k],
            c[k],
            Ze[k],
            ye[k],
            He[k],
            be[k],
            ce[k],
            has_eval,
            stages,
            logistic,
            convex,
            beta[k],
            eta[k],
            init_code[k],
            noise[k],
            losses[k],
            eval_losses[k],
            w[k],
        )
        n_done[k] = n
        status[k] = s
