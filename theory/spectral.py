"""Exact worst cases of fixed-coefficient methods on quadratics (provenance: ``standard``).

On ``f(x) = 1/2 (x - x*)^T H (x - x*)`` with the spectrum of ``H`` in ``[mu, L] = [1/kappa, 1]``, a
method with fixed coefficients acts on the eigen-direction of eigenvalue ``lam`` through a residual
polynomial ``p_N(lam)``: ``x_N - x* = p_N(H) (x_0 - x*)``. For constant-momentum NAG with step 1/L,
``y_0 = x_0``, ``x_{k+1} = y_k - grad f(y_k)``, ``y_{k+1} = x_{k+1} + beta (x_{k+1} - x_k)``:

    p_0 = 1,   p_1 = a,   p_{k+1} = a ((1 + beta) p_k - beta p_{k-1}),   a = 1 - lam,

and GD is the case ``beta = 0`` (``p_N = a^N``). With ``c_i`` the coordinates of ``x_0 - x*``,

    (f(x_N) - f*) / (f(x_0) - f* + mu/2 ||x_0 - x*||^2)
        = sum_i lam_i p_N(lam_i)^2 c_i^2 / sum_i (lam_i + mu) c_i^2,

a weighted mean of ``g_N(lam) = lam p_N(lam)^2 / (lam + mu)``, so the worst case over all quadratics
with spectrum in ``[mu, L]`` (any dimension, any start) is ``max_{lam in [mu, L]} g_N(lam)``, attained
by a one-dimensional quadratic.

* GD: ``g_N' = 0`` reduces to ``2N lam^2 + mu (2N + 1) lam - mu = 0``, so the maximum is the largest of
  ``g_N`` at ``mu``, at ``L`` and at that root: a closed form.
* NAG: ``g_N`` oscillates (about N/2 zeros of ``p_N`` in ``[mu, L]``, crowding near ``mu`` where the
  characteristic roots are double for ``beta*``). We evaluate it on a grid uniform in
  ``s = sqrt((lam - mu)/(L - mu))`` (uniform in the oscillation phase near ``mu``) with at least 32
  points per zero of ``p_N``, and polish every grid maximum within a factor 2 of the best by bounded
  Brent search to ``|ds| <= 1e-13``: relative accuracy better than 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from infra.checks import (
    InputError,
    check_array,
    check_choice,
    check_eps,
    check_int,
    check_kappa,
    check_real,
)
from theory.rates import METHODS, nesterov_beta

L_SMOOTH = 1.0  # the project's normalisation: L = 1, mu = 1/kappa

MAX_MOMENTUM_STEPS = 10_000  # largest N of an exact worst case with momentum


@dataclass(frozen=True)
class WorstCase:
    """Worst-case ratio over quadratics and the eigenvalue ``lam`` of a 1-D quadratic attaining it."""

    ratio: float
    eigenvalue: float


def _momentum(method: str, kappa: float, beta) -> float:
    check_choice("method", method, METHODS)
    if method == "gd":
        if beta is not None:
            raise InputError("beta applies to method 'nag' only; leave it None for 'gd'")
        return 0.0
    if beta is None:
        return nesterov_beta(kappa)
    return check_real("beta", beta, low=0.0, high=1.0)


def residual_polynomial(lam, n_steps: int, beta: float) -> np.ndarray:
    """``p_N(lam)`` of constant-momentum NAG (GD for ``beta = 0``) with step 1/L = 1, per eigenvalue."""
    n_steps = check_int("n_steps", n_steps, low=0)
    beta = check_real("beta", beta, low=0.0, high=1.0)
    a = 1.0 - np.asarray(lam, dtype=np.float64)
    prev, cur = np.ones_like(a), np.ones_like(a)  # p_{-1} := p_0 makes p_1 = a
    for _ in range(n_steps):
        prev, cur = cur, a * ((1.0 + beta) * cur - beta * prev)
    return cur


def ratio_at(lam, n_steps: int, kappa: float, beta: float) -> np.ndarray:
    """``g_N(lam) = lam p_N(lam)^2 / (lam + mu)``: the ratio on the 1-D quadratic of curvature ``lam``."""
    lam = np.asarray(lam, dtype=np.float64)
    mu = 1.0 / check_kappa(kappa)
    return lam * residual_polynomial(lam, n_steps, beta) ** 2 / (lam + mu)


def _gd_worst_case(kappa: float, n_steps: int) -> WorstCase:
    mu = 1.0 / kappa
    n = float(n_steps)
    # positive root of 2N lam^2 + mu(2N+1) lam - mu = 0, in cancellation-free form
    root = 2.0 * mu / (mu * (2 * n + 1) + math.sqrt((mu * (2 * n + 1)) ** 2 + 8 * n * mu))
    candidates = np.array([mu, L_SMOOTH, min(max(root, mu), L_SMOOTH)])
    values = ratio_at(candidates, n_steps, kappa, 0.0)
    best = int(np.argmax(values))
    return WorstCase(float(values[best]), float(candidates[best]))


def _grid(kappa: float, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    mu = 1.0 / kappa
    s = np.linspace(0.0, 1.0, n_points)
    return s, mu + (L_SMOOTH - mu) * s * s


def numerical_worst_case(kappa: float, n_steps: int, beta: float) -> WorstCase:
    """``max_{lam in [1/kappa, 1]} g_N(lam)`` for any momentum ``beta``, numerically: the
    maximum over a grid dense near ``mu = 1/kappa``, each local peak polished by a bounded scalar
    search. ``worst_case`` uses it when beta > 0 (at beta = 0 it has a closed form)."""
    mu = 1.0 / kappa
    s, lam = _grid(kappa, max(2049, 32 * n_steps + 1))
    g = ratio_at(lam, n_steps, kappa, beta)
    padded = np.concatenate(([-np.inf], g, [-np.inf]))
    is_peak = (padded[1:-1] >= padded[:-2]) & (padded[1:-1] >= padded[2:])
    peaks = np.flatnonzero(is_peak & (g >= 0.5 * g.max()))
    best = WorstCase(float(g.max()), float(lam[np.argmax(g)]))

    def negative_ratio(si: float) -> float:
        return -float(ratio_at(mu + (L_SMOOTH - mu) * si * si, n_steps, kappa, beta))

    for i in peaks:
        lo, hi = s[max(i - 1, 0)], s[min(i + 1, len(s) - 1)]
        res = minimize_scalar(
            negative_ratio, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13}
        )
        if -res.fun > best.ratio:
            best = WorstCase(float(-res.fun), float(mu + (L_SMOOTH - mu) * res.x**2))
    return best


def worst_case(method: str, kappa: float, n_steps: int, beta: float | None = None) -> WorstCase:
    """Exact ``max_{lam in [1/kappa, 1]} g_N(lam)`` and its maximiser; see the module docstring."""
    kappa = check_kappa(kappa)
    beta = _momentum(method, kappa, beta)
    if beta == 0.0:  # a closed form at any N
        return _gd_worst_case(kappa, check_int("n_steps", n_steps, low=0, high=10**12))
    # the maximum over a grid of a degree-N polynomial: seconds at N = 10^4, growing like N^2
    n_steps = check_int("n_steps", n_steps, low=0, high=MAX_MOMENTUM_STEPS)
    return numerical_worst_case(kappa, n_steps, beta)


def worst_case_ratio(method: str, kappa: float, n_steps: int, beta: float | None = None) -> float:
    """Worst case of ``(f(x_N) - f*) / (f(x_0) - f* + mu/2 ||x_0 - x*||^2)`` over quadratics with
    spectrum in ``[1/kappa, 1]``, for ``method`` in {"gd", "nag"} with step 1/L and ``y_0 = x_0``;
    ``beta`` defaults to ``nesterov_beta(kappa)`` for "nag"."""
    return worst_case(method, kappa, n_steps, beta).ratio


def _smallest_n(reached, limit: int | None = None) -> int | None:
    """Smallest integer ``n >= 0`` with ``reached(n)``, for a ``reached`` that stays true once
    true: doubling, then bisection. None if it is still false at ``limit``."""
    hi = 1
    while not reached(hi):
        if limit is not None and hi >= limit:
            return None
        hi = 2 * hi if limit is None else min(2 * hi, limit)
    lo = hi // 2  # reached(lo) is false unless lo == 0 is already enough
    if reached(lo):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reached(mid) else (mid, hi)
    return hi


def gd_steps_on_quadratic(lam, weights, eps: float, eta: float, limit: int) -> float:
    """Steps of gradient descent with step ``eta`` on a quadratic to ``f - f* <= eps (f_0 - f*)``,
    from its eigen-decomposition alone: the error along the eigenvector of ``lam_j`` shrinks by
    ``1 - eta lam_j`` per step, so ``f_N - f* = 1/2 sum_j lam_j (1 - eta lam_j)^(2N) weights_j``
    (``weights_j``: the squared initial error along that eigenvector), decreasing in N when
    ``eta <= 1 / max lam``. inf if not reached within ``limit`` steps."""
    lam = check_array("lam", lam, ndim=1)
    weights = check_array("weights", weights, ndim=1)
    eta = check_real("eta", eta, low=0.0, high=1.0 / float(np.max(lam)), low_open=True)
    eps = check_eps(eps)
    initial = gd_loss_on_quadratic(lam, weights, eta, 0)

    def reached(n: int) -> bool:
        return gd_loss_on_quadratic(lam, weights, eta, n) <= eps * initial

    n = _smallest_n(reached, check_int("limit", limit, low=1))
    return math.inf if n is None else float(n)


def gd_loss_on_quadratic(lam, weights, eta: float, n: int) -> float:
    """``f_n - f* = 1/2 sum_j lam_j (1 - eta lam_j)^(2n) weights_j``: gradient descent's excess
    loss after n steps on a quadratic with eigenvalues ``lam`` and squared initial errors
    ``weights`` along its eigenvectors."""
    lam, weights = np.asarray(lam, dtype=float), np.asarray(weights, dtype=float)
    return 0.5 * float(np.sum(lam * weights * (1.0 - eta * lam) ** (2 * n)))


def momentum_loss_curve(lam, weights, eta: float, beta: float, n: int) -> np.ndarray:
    """``f_k - f*`` for k = 0..n of constant-momentum NAG (GD for ``beta = 0``) with step ``eta``
    and ``y_0 = x_0`` on a quadratic with eigenvalues ``lam`` and squared initial errors
    ``weights`` along its eigenvectors: the error along eigenvector j is ``p_k(eta lam_j)`` times
    its initial value, with ``p_{k+1} = a ((1 + beta) p_k - beta p_{k-1})``, ``a = 1 - eta lam``
    (module docstring, at step eta instead of 1/L), so ``f_k - f* = 1/2 sum_j lam_j p_k^2 weights_j``."""
    lam = check_array("lam", lam, ndim=1)
    weights = check_array("weights", weights, ndim=1)
    eta = check_real("eta", eta, low=0.0, low_open=True)
    beta = check_real("beta", beta, low=0.0, high=1.0)
    n = check_int("n", n, low=0)
    a = 1.0 - eta * lam
    prev, cur = np.ones_like(a), np.ones_like(a)
    out = np.empty(n + 1)
    out[0] = 0.5 * float(np.sum(lam * weights))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, n + 1):
            prev, cur = cur, a * ((1.0 + beta) * cur - beta * prev)
            out[k] = 0.5 * float(np.sum(lam * weights * cur * cur))
    return out


def steps_to_accuracy(method: str, kappa: float, eps: float, beta: float | None = None) -> int:
    """Smallest ``N`` with ``worst_case_ratio(method, kappa, N, beta) <= eps``.

    GD's worst case decreases in N (``g_N`` does, pointwise), so bisection on the closed form
    is exact. For NAG the grid maximum is a lower bound of the worst case at every N; the
    first N where it falls below ``eps`` is a lower bound of the answer, from which we step
    forward with the polished worst case.
    """
    kappa = check_kappa(kappa)
    eps = check_eps(eps)
    beta = _momentum(method, kappa, beta)
    if beta == 0.0:
        return _smallest_n(lambda n: _gd_worst_case(kappa, n).ratio <= eps)
    n_max = 64
    while True:
        _, lam = _grid(kappa, max(2049, 32 * n_max + 1))
        weight = lam / (lam + 1.0 / kappa)
        a = 1.0 - lam
        prev, cur = np.ones_like(a), np.ones_like(a)
        for n in range(n_max + 1):
            if n > 0:
                prev, cur = cur, a * ((1.0 + beta) * cur - beta * prev)
            if np.max(weight * cur * cur) <= eps:
                while worst_case_ratio("nag", kappa, n, beta) > eps:
                    n += 1
                return n
        if n_max > 10**6:
            raise InputError(f"beta={beta} does not reach eps={eps} within 1e6 steps")
        n_max *= 4
