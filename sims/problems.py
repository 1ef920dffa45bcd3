"""Problem generators (the project's conventions; see BACKGROUND.md section 3)."""

from __future__ import annotations

import numpy as np
from scipy.stats import ortho_group

from theory._checks import check_int, check_kappa, check_real


def as_generator(seed) -> np.random.Generator:
    """A generator from an int, a ``SeedSequence``, a ``Generator`` or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(seed, int | np.random.SeedSequence):
        raise TypeError(f"seed must be an int, a SeedSequence, a Generator or None, got {seed!r}")
    if isinstance(seed, int) and seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(seed)


def spd_matrix(d: int, kappa: float, rng: np.random.Generator) -> np.ndarray:
    """``Q diag(s) Q^T`` with Q Haar-random orthogonal and s geometric from 1 down to 1/kappa."""
    spectrum = np.geomspace(1.0, 1.0 / kappa, d)
    q = ortho_group.rvs(d, random_state=rng) if d > 1 else np.ones((1, 1))
    sigma = (q * spectrum) @ q.T
    return (sigma + sigma.T) / 2


def deep_linear_problem(d: int, kappa: float, sigma: float, seed=None):
    """``(Sigma, W_star)``: input covariance ``Sigma = Q diag(s) Q^T`` (s geometric from 1 to
    1/kappa, so L = 1 and mu = 1/kappa) and target ``W_star = I + sigma G / sqrt(d)``, G standard
    normal."""
    d = check_int("d", d, low=1, high=4096)
    kappa = check_kappa(kappa)
    sigma = check_real("sigma", sigma, low=0.0)
    rng = as_generator(seed)
    covariance = spd_matrix(d, kappa, rng)
    w_star = np.eye(d) + sigma * rng.standard_normal((d, d)) / np.sqrt(d)
    return covariance, w_star


def conditioned_design(n: int, p: int, kappa: float, rng: np.random.Generator) -> np.ndarray:
    """An n x p design whose ``X^T X / n`` has eigenvalues geometric from 1 down to 1/kappa."""
    n = check_int("n", n, low=1)
    p = check_int("p", p, low=1, high=n)
    kappa = check_kappa(kappa)
    u, _ = np.linalg.qr(rng.standard_normal((n, p)))
    v = ortho_group.rvs(p, random_state=rng) if p > 1 else np.ones((1, 1))
    return np.sqrt(n) * (u * np.sqrt(np.geomspace(1.0, 1.0 / kappa, p))) @ v.T


def regression_problem(n: int, p: int, kappa: float, noise: float, seed=None):
    """``(X, y)``: conditioned design, ``y = X w* + noise * N(0, 1)`` with ``w*`` standard normal."""
    rng = as_generator(seed)
    X = conditioned_design(n, p, kappa, rng)
    noise = check_real("noise", noise, low=0.0)
    return X, X @ rng.standard_normal(p) + noise * rng.standard_normal(n)


def classification_problem(n: int, p: int, kappa: float, flip: float = 0.1, seed=None):
    """``(X, y)``: conditioned design, labels ``sign(X w*)`` with a fraction ``flip`` flipped at
    random, so that the data are not separable (the logistic risk has a finite minimiser)."""
    rng = as_generator(seed)
    X = conditioned_design(n, p, kappa, rng)
    flip = check_real("flip", flip, low=0.0, high=0.5)
    y = np.sign(X @ rng.standard_normal(p))
    y[y == 0] = 1.0
    y[rng.uniform(size=n) < flip] *= -1
    return X, y
