"""Stacking and NAG on deep linear residual networks written as Nesterov's method with errors
(docs/theory.md §3, ``reconstructed``), and the robust-Nesterov bound (Lemma 3.1,
``theory.robust_nesterov``) evaluated along any such path. Plain NumPy, one instance at a time:
the error terms are read off the iterates, which the Numba kernels do not keep."""

from __future__ import annotations

import numpy as np

from sims.families.deep_linear import excess_risk
from theory import robust_nesterov
from theory.rates import nesterov_beta


def stacking_matrices(sigma_mat, w_star, stages, beta, layer_grad):
    """Direct transcription of docs/theory.md §3 in matrix form: returns P_0..P_T, W_1..W_T."""
    d = sigma_mat.shape[0]
    eta = 1.0 / np.linalg.eigvalsh(sigma_mat)[-1]
    ps, ws = [np.eye(d)], [np.zeros((d, d))]
    for _ in range(stages):
        p, w = ps[-1], ws[-1]
        y = (np.eye(d) + beta * w) @ p
        grad = (y - w_star) @ sigma_mat
        metric = p.T if layer_grad == "euclidean" else np.linalg.inv(p)
        ws.append(beta * w - eta * grad @ metric)
        ps.append((np.eye(d) + ws[-1]) @ p)
    return ps, ws, eta


def _potential(sigma_mat, w_star, x, x_prev, kappa, mu):
    """``Phi = R(x) + mu/2 ||z - W*||^2`` with z from x and the previous iterate."""
    z = robust_nesterov.z_sequence(x, x_prev, kappa)
    return robust_nesterov.potential(excess_risk(x, w_star, sigma_mat), z, w_star, mu)


def stacking_path(sigma_mat, w_star, stages, layer_grad):
    """Stacking with beta* written as NAG on R(P) with errors (docs/theory.md §3,
    ``reconstructed``): ``Y_k = P_k + beta (P_k - P_{k-1}) + m_k`` with the momentum error ``m_k =
    beta W_k (P_k - P_{k-1})`` (E1), and ``P_{k+1} = Y_k - eta (grad R(Y_k) + e_k)`` with the
    gradient error ``e_k = grad R(Y_k) (M_k P_k - I)`` of the layer metric M_k (E2; 0 for the
    functional metric). Returns P_0..P_T, Y_0..Y_{T-1} and eta, the path :func:`bound_along`
    reads."""
    beta = nesterov_beta(_kappa(sigma_mat))
    ps, ws, eta = stacking_matrices(sigma_mat, w_star, stages, beta, layer_grad)
    ys = [(np.eye(len(p)) + beta * w) @ p for p, w in zip(ps[:-1], ws[:-1], strict=True)]
    return ps, ys, eta


def damped_nag_path(sigma_mat, w_star, stages, damping):
    """NAG on R(P) from P_0 = I with its momentum shrunk by the factor ``1 - damping``: ``Y_k =
    P_k + (1 - c) beta* (P_k - P_{k-1})``, ``P_{k+1} = Y_k - eta grad R(Y_k)``, i.e. NAG with the
    momentum error ``m_k = -c beta* (P_k - P_{k-1})`` and no gradient error (c = 0: exact NAG).
    Returns P_0..P_T, Y_0..Y_{T-1} and eta = 1/L."""
    beta = (1 - damping) * nesterov_beta(_kappa(sigma_mat))
    eta = 1 / np.linalg.eigvalsh(sigma_mat)[-1]
    ps, ys = [np.eye(len(sigma_mat))], []
    for k in range(stages):
        ys.append(ps[k] + beta * (ps[k] - ps[max(k - 1, 0)]))
        ps.append(ys[k] - eta * (ys[k] - w_star) @ sigma_mat)
    return ps, ys, eta


def _kappa(sigma_mat) -> float:
    lam = np.linalg.eigvalsh(sigma_mat)
    return float(lam[-1] / lam[0])


def bound_along(sigma_mat, w_star, ps, ys, eta, with_errors=True):
    """Lemma 3.1 (robust Nesterov) along any path written as NAG with beta* and errors: iterates
    P_0..P_T and the points Y_0..Y_{T-1} of its gradient steps give the momentum error ``m_k = Y_k
    - P_k - beta (P_k - P_{k-1})`` and the gradient error ``e_k = (Y_k - P_{k+1}) / eta - grad
    R(Y_k)``. The potential ``Phi_k = R(P_k) + mu/2 ||Z_k - W*||^2`` then obeys ``Phi_{k+1} <= (1 -
    tau)(Phi_k + M_k) + G_k`` with M_k, G_k the momentum and gradient error terms of
    theory.robust_nesterov (the gradient-error argument run with the momentum-shifted z-sequence).
    Returns Phi_0..Phi_T and the bounds on Phi_1..Phi_T; ``with_errors=False`` drops the error
    terms (the exact-NAG bound). A diverging path is cut where its potential overflows."""
    lam = np.linalg.eigvalsh(sigma_mat)
    L, mu = lam[-1], lam[0]
    kappa, beta = L / mu, nesterov_beta(L / mu)
    x_star = w_star.ravel()
    phis, bounds = [], []
    for k, y in enumerate(ys):
        p, prev = ps[k], ps[max(k - 1, 0)]
        phis.append(_potential(sigma_mat, w_star, p, prev, kappa, mu))
        grad = (y - w_star) @ sigma_mat
        m, e = y - p - beta * (p - prev), (y - ps[k + 1]) / eta - grad
        if not with_errors:
            m, e = np.zeros_like(m), np.zeros_like(e)
        z = robust_nesterov.z_sequence(p, prev, kappa).ravel()
        momentum = robust_nesterov.momentum_error_term(m.ravel(), z, x_star, kappa, mu)
        gradient = robust_nesterov.gradient_error_term(
            e.ravel(), grad.ravel(), y.ravel(), p.ravel(), x_star, L, mu
        )
        bounds.append(robust_nesterov.contraction(kappa) * (phis[-1] + momentum) + gradient)
        if not np.isfinite(bounds[-1]) or phis[-1] > 1e100:
            return np.array(phis), np.array(bounds[:-1])
    phis.append(_potential(sigma_mat, w_star, ps[len(ys)], ps[len(ys) - 1], kappa, mu))
    return np.array(phis), np.array(bounds)
