"""The asymptotic rate of deep linear stacking from a spectrum (provenance: ``reconstructed``).

Set-up (docs/theory.md §3c). Euclidean stacking on ``R(P) = 1/2 tr((P - W*) Sigma (P - W*)^T)``:

    Y_t = (I + beta W_t) P_t,   W_{t+1} = beta W_t - eta (Y_t - W*) Sigma P_t^T,   P_{t+1} = (I + W_{t+1}) P_t.

Near convergence ``P_t -> W*`` and ``W_t -> 0`` (the step ``W_{t+1} P_t = P_{t+1} - P_t`` vanishes).
Keeping first-order terms in ``E_t = P_t - W*`` and ``W_t`` (so ``W P ~ W W*`` and ``G P^T ~ G
W*^T``), with ``D_t = W_t W*``:

    D_{t+1} = beta D_t - eta (E_t + beta D_t) Sigma M,      E_{t+1} = E_t + D_{t+1},

where ``M = W*^T W*`` (euclidean layer gradient ``G P^T``) or ``M = I`` (functional ``G P^{-1}``, since
``P^{-1} W* -> I``). With the look-ahead ``Y~_t = E_t + beta D_t`` this is ``E_{t+1} = Y~_t (I - eta
Sigma M)``, ``Y~_{t+1} = E_{t+1} + beta (E_{t+1} - E_t)``: constant-momentum NAG on a quadratic whose
Hessian acts from the right as ``Sigma M``, the metric bent by W*. ``Sigma M`` is similar to the
symmetric positive definite ``Sigma^(1/2) M Sigma^(1/2)``, so its eigenvalues ``nu_i`` are real and
positive, and along the left eigenvector of ``nu`` the error obeys NAG's scalar recursion

    e_{t+1} = (1 + beta) a e_t - beta a e_{t-1},   a = 1 - eta nu,

whose roots solve ``r^2 - (1 + beta) a r + beta a = 0``. The error decays like ``rho^t`` with
``rho = max_i max|r(nu_i)|`` and the loss, quadratic in the error, like ``rho^(2t)``: the predicted
tail rate (per-stage decrease of the log loss) is ``-2 log rho``. Zero init is ``beta = 0`` (GD in
the bent metric, ``rho = max |1 - eta nu_i|``); exact NAG on R is ``M = I``.

Two consequences. (i) Divergence: for ``a < 0`` the root of largest modulus has modulus above 1
once ``eta nu > 1 + 1/(1 + 2 beta)``, so euclidean stacking with ``eta = 1/L`` diverges when
``lambda_max(Sigma W*^T W*) / L`` exceeds ``1 + 1/(1 + 2 beta)`` (-> 4/3 as beta -> 1). (ii) Slow
modes: along ``nu = s mu`` with ``s < 1`` and ``beta = beta*``, writing ``r = 1 - delta`` gives, to
leading order in ``1/sqrt(kappa)``, ``delta^2 - (2/sqrt(kappa)) delta + s/kappa = 0``, so ``delta =
(1 - sqrt(1 - s))/sqrt(kappa)``: NAG's own rate (s = 1) times ``1 - sqrt(1 - s)``.
"""

from __future__ import annotations

import numpy as np

from infra.checks import InputError, check_array, check_choice, check_real

GEOMETRIES = ("euclidean", "functional")


def bent_spectrum(sigma, w_star, layer_grad: str = "euclidean") -> np.ndarray:
    """Eigenvalues ``nu_i`` of ``Sigma M`` (ascending), ``M = W*^T W*`` (euclidean) or I
    (functional), computed as those of the symmetric ``Sigma^(1/2) M Sigma^(1/2)``."""
    sigma = check_array("Sigma", sigma, ndim=2)
    w_star = check_array("W_star", w_star, ndim=2)
    if sigma.shape != w_star.shape or sigma.shape[0] != sigma.shape[1]:
        raise InputError(
            f"Sigma and W_star must be square of one shape, got {sigma.shape}, {w_star.shape}"
        )
    check_choice("layer_grad", layer_grad, GEOMETRIES)
    lam, q = np.linalg.eigh((sigma + sigma.T) / 2)
    if lam[0] <= 0:
        raise InputError(f"Sigma must be positive definite (smallest eigenvalue {lam[0]:.3g})")
    if layer_grad == "functional":
        return lam
    root = (q * np.sqrt(lam)) @ q.T
    m = w_star.T @ w_star
    return np.linalg.eigvalsh(root @ m @ root)


def mode_radius(nu, eta: float, beta: float) -> np.ndarray:
    """Largest modulus of the roots of ``r^2 - (1 + beta) a r + beta a = 0``, ``a = 1 - eta nu``:
    the per-stage contraction of NAG's error along a mode of curvature ``nu``."""
    a = 1.0 - eta * np.asarray(nu, dtype=np.float64)
    b = (1.0 + beta) * a
    disc = b * b - 4.0 * beta * a
    root = np.sqrt(np.abs(disc))
    real = np.maximum(np.abs(b + root), np.abs(b - root)) / 2.0
    complex_ = np.sqrt(np.abs(beta * a))  # |r|^2 = product of the roots when they are conjugate
    return np.where(disc >= 0, real, complex_)


def predicted_tail_rate(sigma, w_star, beta: float, eta: float, layer_grad="euclidean") -> float:
    """``-2 log max_i rho(nu_i)``: the asymptotic per-stage decrease of the log loss of stacking
    with momentum beta and step eta (module docstring); negative when the recursion diverges."""
    beta = check_real("beta", beta, low=0.0, high=1.0)
    eta = check_real("eta", eta, low=0.0, low_open=True)
    rho = float(np.max(mode_radius(bent_spectrum(sigma, w_star, layer_grad), eta, beta)))
    return -2.0 * float(np.log(rho))
