"""Potential-function analysis of constant-momentum NAG, exact and with errors.

Provenance: the potential and the exact contraction are ``standard`` (Nesterov 2004, Thm 2.2.3;
Bansal & Gupta 2019; d'Aspremont, Scieur & Taylor 2021, §4.5). The error terms below are
``reconstructed``: derived here; the paper's Lemma 3.1 ("robustness of Nesterov's accelerated
gradient method") is known to us only by name.

Set-up. f is L-smooth and mu-strongly convex, ``tau = sqrt(mu/L) = 1/sqrt(kappa)``,
``beta = (1 - tau)/(1 + tau)``. NAG with step 1/L and ``y_0 = x_0``:

    x_{k+1} = y_k - d_k / L,    y_{k+1} = x_{k+1} + beta (x_{k+1} - x_k) + m_{k+1},

with ``d_k = grad f(y_k) + e_k`` (gradient error e) and ``m`` a momentum error (exact: e = m = 0).

The z-sequence. ``z_k = x_k + (sqrt(kappa) - 1)(x_k - x_{k-1})`` (``x_{-1} = x_0``), so that
``y_k = (x_k + tau z_k)/(1 + tau) + m_k``. Then ``z_{k+1} = (1 - tau) z'_k + tau (y_k - d_k/mu)``
with ``z'_k = z_k + (1 + tau)/tau m_k``: the familiar three-sequence form of the method (check:
substituting ``tau^2/mu = 1/L`` gives ``tau z_{k+1} = x_{k+1} - (1 - tau) x_k``).

Potential. ``Phi_k = f(x_k) - f* + mu/2 ||z_k - x*||^2``.

Exact decrease. With ``g = grad f(y_k)``: smoothness gives ``f(x_{k+1}) <= f(y_k) - |g|^2/(2L)``;
expanding ``mu/2 |z_{k+1} - x*|^2`` with ``|(1-tau) a + tau b|^2 <= (1-tau)|a|^2 + tau |b|^2``,
and using convexity ``<g, x_k - y_k> <= f(x_k) - f(y_k)`` and strong convexity
``<g, x* - y_k> <= f* - f(y_k) - mu/2 |y_k - x*|^2``, every f(y_k), |y_k - x*|^2 and |g|^2 term
cancels (the last because ``tau^2/mu = 1/L``), leaving ``Phi_{k+1} <= (1 - tau) Phi_k``.

Gradient error (m = 0, d = g + e). Smoothness now gives ``f(y) - |g|^2/(2L) + |e|^2/(2L)`` and the
z-term gains ``-tau <e, c> + <g, e>/L + |e|^2/(2L)`` with ``tau c = y_k - (1 - tau) x_k - tau x*``:

    Phi_{k+1} <= (1 - tau) Phi_k + |e|^2/L + <e, g/L - (y_k - (1 - tau) x_k - tau x*)>.

Momentum error (e = 0). The exact argument applies with ``z'_k`` in place of ``z_k``:

    Phi_{k+1} <= (1 - tau) (Phi_k + mu (sqrt(kappa) + 1) <m, z_k - x*>
                                  + mu/2 (sqrt(kappa) + 1)^2 |m|^2).

Both bounds are tight to first order in the error and need x*: they are bookkeeping identities
for simulations, where x* is known, rather than a priori guarantees.
"""

from __future__ import annotations

import numpy as np

from infra.checks import InputError, check_kappa, check_real


def z_sequence(x, x_prev, kappa: float) -> np.ndarray:
    """``z_k = x_k + (sqrt(kappa) - 1)(x_k - x_{k-1})``."""
    return np.asarray(x) + (np.sqrt(check_kappa(kappa)) - 1.0) * (np.asarray(x) - x_prev)


def potential(f_gap: float, z, x_star, mu: float) -> float:
    """``Phi = f(x) - f* + mu/2 ||z - x*||^2``."""
    mu = check_real("mu", mu, low=0.0, low_open=True)
    return float(f_gap + 0.5 * mu * np.sum((np.asarray(z) - x_star) ** 2))


def contraction(kappa: float) -> float:
    """Exact per-step factor ``1 - 1/sqrt(kappa)`` of the potential."""
    return 1.0 - 1.0 / np.sqrt(check_kappa(kappa))


def gradient_error_term(e, grad, y, x, x_star, L: float, mu: float) -> float:
    """Additive term of the bound for a gradient error e at look-ahead y (previous iterate x):
    ``|e|^2/L + <e, g/L - (y - (1 - tau) x - tau x*)>``."""
    tau = np.sqrt(check_real("mu", mu, low=0.0, low_open=True) / check_real("L", L, low=mu))
    e = np.asarray(e)
    drift = grad / L - (y - (1 - tau) * x - tau * x_star)
    return float(e @ e / L + e @ drift)


def momentum_error_term(m, z, x_star, kappa: float, mu: float) -> float:
    """Additive term (before the factor 1 - tau) for a momentum error m in the look-ahead point:
    ``mu (sqrt(kappa)+1) <m, z - x*> + mu/2 (sqrt(kappa)+1)^2 |m|^2``."""
    r = np.sqrt(check_kappa(kappa)) + 1.0
    m = np.asarray(m)
    return float(mu * r * (m @ (np.asarray(z) - x_star)) + 0.5 * mu * r * r * (m @ m))


def decrease_bound(
    phi: float, kappa: float, error_term: float = 0.0, placement: str = "gradient"
) -> float:
    """Upper bound on ``Phi_{k+1}`` given ``Phi_k``: ``(1 - tau) Phi_k + error_term`` for gradient
    errors, ``(1 - tau)(Phi_k + error_term)`` for momentum errors."""
    phi = check_real("phi", phi, low=0.0)
    error_term = check_real("error_term", error_term)  # may be negative (an error that helps)
    factor = contraction(kappa)
    if placement == "gradient":
        return factor * phi + error_term
    if placement == "momentum":
        return factor * (phi + error_term)
    raise InputError(f"placement must be 'gradient' or 'momentum', got {placement!r}")
