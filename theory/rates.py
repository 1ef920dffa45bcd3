"""Textbook convergence rates of gradient descent and Nesterov's method (provenance: ``standard``).

Notation: ``L``-smooth, ``mu``-strongly convex objective, ``kappa = L / mu >= 1``, step ``1/L``.

* GD: ``f(x_k) - f* <= (1 - 1/kappa)^k (f(x_0) - f*)`` (Nesterov 2004, Thm 2.1.15 and its
  function-value corollary); on a quadratic, ``1 - 1/kappa`` is also the spectral radius of the
  iteration ``x -> (I - H/L) x``.
* Constant-momentum NAG with ``beta* = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)``: the potential
  ``f(x_k) - f* + mu/2 ||z_k - x*||^2`` contracts by ``1 - 1/sqrt(kappa)`` per step
  (Nesterov 2004, Thm 2.2.3; d'Aspremont, Scieur, Taylor 2021, Thm 4.14).
* Lower bound (Nesterov 2004, Thm 2.1.13): for any first-order method on (infinite-dimensional)
  quadratics, ``||x_k - x*||^2 >= q^(2k) ||x_0 - x*||^2`` with ``q = (sqrt(kappa) - 1)/(sqrt(kappa) + 1)``.
"""

from __future__ import annotations

import math

from infra.checks import check_choice, check_eps, check_kappa, check_real

METHODS = ("gd", "nag")


def nesterov_beta(kappa: float) -> float:
    """Momentum ``beta* = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)`` of constant-momentum NAG."""
    root = math.sqrt(check_kappa(kappa))
    return (root - 1.0) / (root + 1.0)


def gd_rate(kappa: float) -> float:
    """Per-step contraction ``1 - 1/kappa`` of GD with step ``1/L`` (function-value gap)."""
    return 1.0 - 1.0 / check_kappa(kappa)


def nag_rate(kappa: float) -> float:
    """Per-step contraction ``1 - 1/sqrt(kappa)`` of NAG's potential with ``beta*`` and step ``1/L``."""
    return 1.0 - 1.0 / math.sqrt(check_kappa(kappa))


def lower_bound_rate(kappa: float) -> float:
    """Per-step factor ``q^2`` of Nesterov's lower bound, ``q = (sqrt(kappa)-1)/(sqrt(kappa)+1)``."""
    return nesterov_beta(kappa) ** 2


def rate(method: str, kappa: float) -> float:
    """Contraction factor of ``method`` in {"gd", "nag", "lower"} at condition number ``kappa``."""
    check_choice("method", method, (*METHODS, "lower"))
    return {"gd": gd_rate, "nag": nag_rate, "lower": lower_bound_rate}[method](kappa)


def steps_for_rate(contraction: float, eps: float) -> int:
    """Smallest ``T >= 0`` with ``contraction^T <= eps``: ``ceil(log eps / log contraction)``."""
    contraction = check_real("contraction", contraction, low=0.0, high=1.0, high_open=True)
    eps = check_eps(eps)
    if contraction == 0.0:
        return 1
    steps = math.ceil(math.log(eps) / math.log(contraction))
    # guard the ceiling against round-off in the two logarithms
    while steps > 0 and contraction ** (steps - 1) <= eps:
        steps -= 1
    while contraction**steps > eps:
        steps += 1
    return steps


def predicted_steps(method: str, kappa: float, eps: float) -> int:
    """Steps that the rate bound of ``method`` ("gd", "nag" or "lower") needs to reach accuracy ``eps``."""
    return steps_for_rate(rate(method, kappa), eps)
