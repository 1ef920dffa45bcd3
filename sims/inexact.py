"""Nesterov's method with injected errors (for the robustness analysis of
``theory/robust_nesterov.py``).

Objectives with known L, mu and minimiser: ``Quadratic`` (any spectrum) and
``QuadraticLogSumExp``, ``f(x) = 1/2 x^T A x + gamma * logsumexp(B x)``, smooth and strongly convex
but not quadratic (``mu = lambda_min(A)``, ``L = lambda_max(A) + gamma ||B||^2``: the Hessian of
logsumexp lies between 0 and I).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, softmax

from infra.checks import (
    MAX_DIMENSION,
    InputError,
    check_array,
    check_choice,
    check_int,
    check_kappa,
    check_real,
    check_steps,
)
from sims.problems import as_generator
from sims.results import DIVERGENCE_FACTOR, RunResult, Status
from theory import robust_nesterov as rn

PLACEMENTS = ("gradient", "momentum")
SIZINGS = ("absolute", "relative_progress", "relative_gradient")
DIRECTIONS = ("random", "adversarial")


class Quadratic:
    """``f(x) = 1/2 (x - x*)^T H (x - x*)`` with H symmetric positive definite."""

    def __init__(self, H, x_star=None):
        H = check_array("H", H, ndim=2)
        if H.shape[0] != H.shape[1] or not np.allclose(H, H.T):
            raise InputError("H must be a symmetric square matrix")
        spectrum = np.linalg.eigvalsh(H)
        if spectrum[0] <= 0:
            raise InputError("H must be positive definite (finite mu > 0)")
        self.H, self.mu, self.L = H, float(spectrum[0]), float(spectrum[-1])
        self.x_star = (
            np.zeros(H.shape[0]) if x_star is None else check_array("x_star", x_star, ndim=1)
        )
        self.f_star = 0.0

    def value(self, x):
        e = x - self.x_star
        return 0.5 * float(e @ self.H @ e)

    def gradient(self, x):
        return self.H @ (x - self.x_star)


class QuadraticLogSumExp:
    """``f(x) = 1/2 x^T A x + gamma logsumexp(B x)``; the minimiser by Newton's method."""

    def __init__(self, A, B, gamma=1.0):
        A = check_array("A", A, ndim=2)
        B = check_array("B", B, ndim=2)
        gamma = check_real("gamma", gamma, low=0.0)
        spectrum = np.linalg.eigvalsh(A)
        if spectrum[0] <= 0:
            raise InputError("A must be positive definite (finite mu > 0)")
        self.A, self.B, self.gamma = A, B, gamma
        self.mu = float(spectrum[0])
        self.L = float(spectrum[-1] + gamma * np.linalg.norm(B, 2) ** 2)
        x = np.zeros(A.shape[0])
        for _ in range(100):
            p = softmax(B @ x)
            hess = A + gamma * B.T @ (np.diag(p) - np.outer(p, p)) @ B
            step = np.linalg.solve(hess, self.gradient(x))
            x = x - step
            if np.linalg.norm(step) <= 1e-15 * max(1.0, np.linalg.norm(x)):
                break
        self.x_star, self.f_star = x, self.value(x)

    def value(self, x):
        return 0.5 * float(x @ self.A @ x) + self.gamma * float(logsumexp(self.B @ x))

    def gradient(self, x):
        return self.A @ x + self.gamma * self.B.T @ softmax(self.B @ x)


def random_objective(rng, d, kappa, quadratic=True):
    """A random member of PEPit's class with L = 1 and mu = 1/kappa (for d >= 2 the objective's
    ``L`` and ``mu`` are exactly 1 and 1/kappa): a quadratic with spectrum in [1/kappa, 1], both
    ends attained, and a random minimiser; or ``1/2 x^T A x + gamma logsumexp(B x)`` with A's
    spectrum in [1/kappa, 1 - c] and ``gamma ||B||^2 = c``, so that the Hessian lies between A and
    ``A + c I`` (c = min(1/4, (1 - 1/kappa)/2)). ``rng``: a Generator or a seed."""
    rng = as_generator(rng)
    d = check_int("d", d, low=1, high=MAX_DIMENSION)
    kappa = check_kappa(kappa)
    c = 0.0 if quadratic else min(0.25, (1 - 1 / kappa) / 2)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    top = 1.0 - c
    spectrum = np.concatenate(
        [[1 / kappa, top], 1 / kappa + (top - 1 / kappa) * rng.uniform(size=d - 2)]
    )[:d]
    H = (q * spectrum) @ q.T
    H = (H + H.T) / 2
    if quadratic:
        return Quadratic(H, rng.standard_normal(d))
    B = rng.standard_normal((5, d))
    gamma = 0.5
    B *= np.sqrt(c / gamma) / np.linalg.norm(B, 2)
    return QuadraticLogSumExp(H, B, gamma=gamma)


@dataclass(frozen=True)
class InexactRun(RunResult):
    """``losses[k] = f(x_k) - f*`` (the gap), ``potentials[k] = Phi_k``, ``bounds[k]``: the derived
    upper bound on ``Phi_{k+1}`` from step k (``theory/robust_nesterov.py``), ``error_norms[k]``;
    status: converged (gap at most ``target`` times the first), diverged (gap above
    ``DIVERGENCE_FACTOR`` times the first, or not finite) or max_stages."""

    potentials: np.ndarray
    bounds: np.ndarray
    error_norms: np.ndarray


def check_options(steps, eps=0.0, placement="gradient", sizing="relative_gradient",
                  direction="random", target=0.0) -> None:  # fmt: skip
    """The checks of ``run_inexact_nag``'s options that need no objective (``InputError`` naming
    the first wrong one); the sweep cell runs them when a grid is read."""
    check_steps("steps", steps)
    check_real("eps", eps, low=0.0)
    check_real("target", target, low=0.0, high=1.0)
    check_choice("placement", placement, PLACEMENTS)
    check_choice("sizing", sizing, SIZINGS)
    check_choice("direction", direction, DIRECTIONS)


def run_inexact_nag(
    objective,
    x0,
    steps: int,
    eps: float = 0.0,
    placement="gradient",
    sizing="relative_gradient",
    direction="random",
    seed=None,
    target: float = 0.0,
) -> InexactRun:
    """Constant-momentum NAG (beta*, step 1/L, ``y_0 = x_0``) with an error of size ``eps``
    (absolute, or relative to ``||x_k - x_{k-1}||`` or to ``||grad f(y_k)||``) injected at every
    step into the gradient or into the look-ahead point, in a random direction or adversarially
    (along the direction that increases the potential bound most). Stops early once
    ``f(x_k) - f* <= target * (f(x_0) - f*)``, or when the gap exceeds 1e6 times its start
    (divergence, recorded without overflow)."""
    for attribute in ("mu", "L", "x_star", "f_star", "value", "gradient"):
        if not hasattr(objective, attribute):
            raise InputError(f"objective must provide {attribute!r} (finite L and mu and x*)")
    mu, L = objective.mu, objective.L
    if not (np.isfinite(mu) and np.isfinite(L) and 0 < mu <= L):
        raise InputError(f"objective must have finite 0 < mu <= L, got mu={mu}, L={L}")
    x0 = check_array("x0", x0, ndim=1)
    if np.shape(objective.x_star) != x0.shape:
        raise InputError(
            f"x0 must have the objective's dimension {np.size(objective.x_star)}, got {x0.size}"
        )
    check_options(steps, eps, placement, sizing, direction, target)
    steps, eps, target = int(steps), float(eps), float(target)
    rng = as_generator(seed)
    kappa = L / mu
    tau = 1 / np.sqrt(kappa)
    beta = (1 - tau) / (1 + tau)
    x_star = objective.x_star

    x_prev = x = x0.copy()
    y = x0.copy()
    gaps, potentials, bounds, norms = [], [], [], []
    for _ in range(steps + 1):
        z = rn.z_sequence(x, x_prev, kappa)
        gaps.append(objective.value(x) - objective.f_star)
        potentials.append(rn.potential(gaps[-1], z, x_star, mu))
        converged = gaps[-1] <= target * gaps[0]
        diverged = not gaps[-1] <= DIVERGENCE_FACTOR * max(gaps[0], 1e-300)
        if len(gaps) == steps + 1 or converged or diverged:
            break
        # momentum error: perturb the look-ahead point y_k
        m = np.zeros_like(x)
        if placement == "momentum":
            m = _error(
                eps,
                sizing,
                direction,
                rng,
                np.linalg.norm(x - x_prev),
                np.linalg.norm(objective.gradient(y)),
                z - x_star,
            )
            y = y + m
        g = objective.gradient(y)
        e = np.zeros_like(x)
        if placement == "gradient":
            drift = g / L - (y - (1 - tau) * x - tau * x_star)
            e = _error(
                eps, sizing, direction, rng, np.linalg.norm(x - x_prev), np.linalg.norm(g), drift
            )
            term = rn.gradient_error_term(e, g, y, x, x_star, L, mu)
        else:
            term = rn.momentum_error_term(m, z, x_star, kappa, mu)
        bounds.append(rn.decrease_bound(potentials[-1], kappa, term, placement))
        norms.append(float(np.linalg.norm(e + m)))
        x_prev, x = x, y - (g + e) / L
        y = x + beta * (x - x_prev)
    status = Status.DIVERGED if diverged else Status.CONVERGED if converged else Status.MAX_STAGES
    return InexactRun(
        np.array(gaps), status, np.array(potentials), np.array(bounds), np.array(norms)
    )


def _error(eps, sizing, direction, rng, progress, grad_norm, worst_direction):
    size = {
        "absolute": eps,
        "relative_progress": eps * progress,
        "relative_gradient": eps * grad_norm,
    }[sizing]
    if direction == "adversarial" and np.linalg.norm(worst_direction) > 0:
        unit = worst_direction / np.linalg.norm(worst_direction)
    else:
        unit = rng.standard_normal(worst_direction.shape)
        unit /= np.linalg.norm(unit)
    return size * unit
