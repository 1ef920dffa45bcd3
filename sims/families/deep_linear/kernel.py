"""Numba kernel of stagewise training of deep linear residual networks (docs/theory.md §3).

Everything runs in the eigenbasis of ``Sigma = Q diag(lam) Q^T``: with ``X~ = Q^T X Q`` for every
matrix X, products and transposes are preserved and ``R(P) = 1/2 sum_ij (P~ - W*~)_ij^2 lam_j``, so
the gradient ``(Y - W*) Sigma`` is a column scaling and each stage costs three d x d products.
Per stage t (``W_0 = 0``, ``P_0 = V0``, new layer initialised at ``B = beta_t W_t`` or noise ``xi_t``):

    Y_t     = P_t + B P_t,                G_t = grad R(Y_t) = (Y_t - W*) Sigma
    W_{t+1} = B - eta G_t P_t^T           (euclidean)   or   B - eta G_t P_t^{-1}   (functional)
    P_{t+1} = P_t + W_{t+1} P_t

Trainable momentum: the new layer is ``beta W_t + U``; one simultaneous gradient step on (beta, U)
from (beta_t, 0), of size ``beta_lr`` on beta (default eta) and eta on U, gives ``beta_{t+1} =
beta_t - beta_lr <G_t P_t^T, W_t>`` and ``W_{t+1} = beta_{t+1} W_t - eta G_t P_t^T``.

Error terms against Nesterov's step on P (look-ahead ``P_t + beta_t (P_t - P_{t-1})``):
E1 = ``B P_t - beta_t (P_t - P_{t-1})`` (momentum error, = ``beta W_t^2 P_{t-1}`` for stacking) and
E2 = ``P_{t+1} - (Y_t - eta G_t)`` (metric error, ``-eta G_t (P_t^T P_t - I)`` when euclidean, 0 when
functional). The stage then deviates from the NAG step by exactly ``E1 (I - eta Sigma) + E2``.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from sims.results import CONVERGED_CODE, DIVERGED_CODE, MAX_STAGES_CODE

INIT_CODES = {"zero": 0, "random": 1, "stack": 2, "copy": 3, "trainable": 4}


@njit(cache=True)
def _risk(p, w_star, lam):
    total = 0.0
    for i in range(p.shape[0]):
        for j in range(p.shape[1]):
            e = p[i, j] - w_star[i, j]
            total += e * e * lam[j]
    return 0.5 * total


SMALL_SOLVE = 32  # up to this d the functional direction is solved by solve_right, else LAPACK


@njit(cache=True, error_model="numpy")
def solve_right(g, p, lu, out):
    """``out = G P^{-1}`` by Gaussian elimination with partial pivoting on ``P^T X^T = G^T``
    (``lu`` a d x d work array). At small d it is faster than LAPACK through ``np.linalg.solve``,
    which copies, allocates and checks on every call; a zero pivot gives inf/nan (the run is then
    reported diverged) instead of an exception."""
    d = p.shape[0]
    for i in range(d):
        for j in range(d):
            lu[i, j] = p[j, i]
            out[i, j] = g[j, i]
    for k in range(d):
        pivot = k
        for i in range(k + 1, d):
            if abs(lu[i, k]) > abs(lu[pivot, k]):
                pivot = i
        if pivot != k:
            for j in range(d):
                lu[k, j], lu[pivot, j] = lu[pivot, j], lu[k, j]
                out[k, j], out[pivot, j] = out[pivot, j], out[k, j]
        for i in range(k + 1, d):
            f = lu[i, k] / lu[k, k]
            for j in range(k + 1, d):
                lu[i, j] -= f * lu[k, j]
            for j in range(d):
                out[i, j] -= f * out[k, j]
    for k in range(d - 1, -1, -1):  # back substitution; out then holds X^T
        for i in range(k + 1, d):
            f = lu[k, i]
            for j in range(d):
                out[k, j] -= f * out[i, j]
        for j in range(d):
            out[k, j] /= lu[k, k]
    for i in range(d):
        for j in range(i + 1, d):
            out[i, j], out[j, i] = out[j, i], out[i, j]


@njit(cache=True)
def _stage_sums(p, wp_new, bp, p_prev, y, g, w_star, lam, beta_t, eta, p_new, columns):
    """Writes ``P_{t+1} = P_t + W_{t+1} P_t`` into ``p_new`` and returns the squared norms of the
    stage's step ``W_{t+1} P_t``, of E1 and E2, and ``2 R(P_{t+1})``. Each sum runs down the
    columns first (``columns[q, j]``, one SIMD lane per column j, rows i in order), then across
    them in order j: a fixed order of additions, so the results cannot depend on how the kernel
    was compiled."""
    d = p.shape[0]
    columns[:, :] = 0.0
    for i in range(d):
        for j in range(d):
            new = p[i, j] + wp_new[i, j]
            p_new[i, j] = new
            columns[0, j] += wp_new[i, j] * wp_new[i, j]
            m1 = bp[i, j] - beta_t * (p[i, j] - p_prev[i, j])
            columns[1, j] += m1 * m1
            m2 = new - (y[i, j] - eta * g[i, j])
            columns[2, j] += m2 * m2
            r = new - w_star[i, j]
            columns[3, j] += r * r * lam[j]
    step = 0.0
    err1 = 0.0
    err2 = 0.0
    loss = 0.0
    for j in range(d):
        step += columns[0, j]
        err1 += columns[1, j]
        err2 += columns[2, j]
        loss += columns[3, j]
    return step, err1, err2, loss


@njit(cache=True)
def stagewise_one(
    lam,
    w_star,
    v0,
    stages,
    beta,
    eta,
    beta_lr,
    init_code,
    functional,
    noise,
    target_rel,
    divergence_rel,
    losses,
    e1,
    e2,
    betas,
):
    """One run in the eigenbasis; fills ``losses[0..n]``, ``e1/e2/betas[0..n-1]``, returns
    ``(n, status code)`` (``sims.results``)."""
    d = lam.shape[0]
    p = v0.copy()
    p_prev = v0.copy()
    p_new = np.empty((d, d))
    w = np.zeros((d, d))
    b = np.empty((d, d))
    bp = np.empty((d, d))
    y = np.empty((d, d))
    g = np.empty((d, d))
    pt = np.empty((d, d))
    direction = np.empty((d, d))
    wp_new = np.empty((d, d))
    b_work = np.empty((d, d))
    columns = np.empty((4, d))
    loss0 = _risk(p, w_star, lam)
    losses[0] = loss0
    threshold = divergence_rel * loss0 if loss0 > 0 else np.inf
    beta_t = beta
    for t in range(stages):
        if init_code == 1:
            b[:, :] = noise[t]
        else:
            for i in range(d):
                for j in range(d):
                    b[i, j] = beta_t * w[i, j]
        np.dot(b, p, bp)
        for i in range(d):
            for j in range(d):
                y[i, j] = p[i, j] + bp[i, j]
                g[i, j] = (y[i, j] - w_star[i, j]) * lam[j]
                pt[j, i] = p[i, j]
        if functional and d <= SMALL_SOLVE:
            solve_right(g, p, b_work, direction)  # G P^{-1}
        elif functional:
            direction[:, :] = np.linalg.solve(pt, g.T).T
        else:
            np.dot(g, pt, direction)  # G P^T (BLAS: faster than loops from d = 8 up)
        beta_next = beta_t
        if init_code == 4:
            grad_beta = 0.0
            for i in range(d):
                for j in range(d):
                    grad_beta += direction[i, j] * w[i, j]
            beta_next = beta_t - beta_lr * grad_beta
            for i in range(d):
                for j in range(d):
                    b[i, j] = beta_next * w[i, j]
        for i in range(d):
            for j in range(d):
                w[i, j] = b[i, j] - eta * direction[i, j]
        np.dot(w, p, wp_new)
        step, err1, err2, loss = _stage_sums(
            p, wp_new, bp, p_prev, y, g, w_star, lam, beta_t, eta, p_new, columns
        )
        loss *= 0.5
        step = np.sqrt(step)
        e1[t] = np.sqrt(err1) / step if step > 0 else np.nan
        e2[t] = np.sqrt(err2) / step if step > 0 else np.nan
        betas[t] = beta_next
        beta_t = beta_next
        p_prev, p, p_new = p, p_new, p_prev  # rotate the buffers
        losses[t + 1] = loss
        if not np.isfinite(loss) or loss > threshold:
            return t + 1, DIVERGED_CODE
        if target_rel > 0 and loss <= target_rel * loss0:
            return t + 1, CONVERGED_CODE
    return stages, MAX_STAGES_CODE


@njit(cache=True, parallel=True)
def stagewise_batch(
    lam,
    w_star,
    v0,
    stages,
    beta,
    eta,
    beta_lr,
    init_code,
    functional,
    noise,
    target_rel,
    divergence_rel,
    losses,
    e1,
    e2,
    betas,
    n_done,
    status,
    thread,
):
    """``stagewise_one`` over a batch of independent instances, in parallel (``prange``);
    ``thread[k]`` records the Numba thread that ran instance k. A single run calls
    ``stagewise_one`` directly: the serial and parallel paths are distinct compiled functions with
    distinct cache entries, so the order of first calls cannot decide which one runs."""
    for k in prange(lam.shape[0]):
        n, s = stagewise_one(
            lam[k],
            w_star[k],
            v0[k],
            stages,
            beta[k],
            eta[k],
            beta_lr[k],
            init_code[k],
            functional[k],
            noise[k],
            target_rel[k],
            divergence_rel,
            losses[k],
            e1[k],
            e2[k],
            betas[k],
        )
        n_done[k] = n
        status[k] = s
        thread[k] = get_thread_id()
