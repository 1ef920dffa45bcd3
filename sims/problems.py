"""Problem generators (the project's conventions; see docs/theory.md §§3 and 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ortho_group

from infra.checks import (
    MAX_DIMENSION,
    InputError,
    check_array,
    check_choice,
    check_int,
    check_kappa,
    check_real,
    check_sigma,
)


def as_generator(seed) -> np.random.Generator:
    """A generator from an int, a ``SeedSequence``, a ``Generator`` or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(seed, int | np.random.SeedSequence):
        raise InputError(f"seed must be an int, a SeedSequence, a Generator or None, got {seed!r}")
    if isinstance(seed, int) and seed < 0:
        raise InputError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(seed)


def independent_seeds(seed, n: int) -> list[np.random.SeedSequence]:
    """``n`` statistically independent seeds derived from ``seed`` (an int >= 0 or a
    ``SeedSequence``) by ``SeedSequence.spawn``: one stream per purpose (problem, initialisation,
    minibatches, noise), so that no integer ever feeds two streams. Deterministic: the same
    ``seed`` always gives the same children (a given ``SeedSequence`` is not advanced)."""
    if isinstance(seed, np.random.SeedSequence):
        root = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
    elif isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        root = np.random.SeedSequence(seed)
    else:
        raise InputError(f"seed must be an int >= 0 or a SeedSequence, got {seed!r}")
    return root.spawn(check_int("n", n, low=1, high=10**6))


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
    d = check_int("d", d, low=1, high=MAX_DIMENSION)
    kappa = check_kappa(kappa)
    sigma = check_sigma(sigma)
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


SUPPORTS = ("nested", "disjoint", "random")
INPUTS = ("boolean", "gaussian")


@dataclass(frozen=True)
class StaircaseTask:
    """Polynomial task ``y = sum_k c_k h_k(x)`` with ``h_k(x) = prod_{j in S_k} x_j`` and
    ``|S_k| = k`` (docs/theory.md §5; the project's choice). Inputs uniform on
    ``{-1, +1}^d`` or standard Gaussian; in both cases the h_k are orthonormal (for Gaussian
    inputs they are products of degree-1 Hermite polynomials)."""

    d: int
    supports: tuple[tuple[int, ...], ...]
    coefficients: np.ndarray
    inputs: str

    def components(self, X: np.ndarray) -> np.ndarray:
        """``H[i, k] = h_{k+1}(X[i])``."""
        return np.stack([np.prod(X[:, list(s)], axis=1) for s in self.supports], axis=1)

    def sample(self, n: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` with n i.i.d. inputs."""
        n = check_int("n", n, low=1)
        rng = as_generator(seed)
        if self.inputs == "boolean":
            X = rng.choice(np.array([-1.0, 1.0]), size=(n, self.d))
        else:
            X = rng.standard_normal((n, self.d))
        return X, self.components(X) @ self.coefficients


def staircase_task(
    d: int = 20,
    degrees: int = 10,
    coefficients=None,
    support: str = "nested",
    inputs: str = "boolean",
    seed=None,
) -> StaircaseTask:
    """The staircase task of degrees 1..``degrees`` on d inputs. ``support``: "nested"
    (``S_k = {0..k-1}``), "disjoint" (consecutive blocks; needs ``d >= degrees (degrees+1)/2``) or
    "random" (k distinct coordinates drawn from ``seed``). Coefficients default to 1."""
    d = check_int("d", d, low=1)
    degrees = check_int("degrees", degrees, low=1)
    check_choice("support", support, SUPPORTS)
    check_choice("inputs", inputs, INPUTS)
    if degrees > d:
        raise InputError(f"degrees must be <= d = {d}, got {degrees}")
    if support == "disjoint" and degrees * (degrees + 1) // 2 > d:
        raise InputError(
            f"degrees = {degrees} with disjoint supports needs d >= {degrees * (degrees + 1) // 2}"
        )
    if coefficients is None:
        coefficients = np.ones(degrees)
    coefficients = check_array("coefficients", coefficients, ndim=1)
    if coefficients.shape != (degrees,):
        raise InputError(f"coefficients must have length degrees = {degrees}")
    if support == "nested":
        supports = [tuple(range(k)) for k in range(1, degrees + 1)]
    elif support == "disjoint":
        supports = [tuple(range(k * (k - 1) // 2, k * (k + 1) // 2)) for k in range(1, degrees + 1)]
    else:
        rng = as_generator(seed)
        supports = [tuple(sorted(rng.choice(d, k, replace=False))) for k in range(1, degrees + 1)]
    supports = tuple(tuple(int(j) for j in s) for s in supports)
    return StaircaseTask(d, supports, coefficients, inputs)


def component_errors(task: StaircaseTask, X, predictions) -> tuple[np.ndarray, float]:
    """``(e, residual)``: ``e[k-1] = (a_k - c_k)^2`` and ``residual = mean (f - sum_k a_k
    h_k)^2``, where ``a`` are the least-squares coefficients of the predictions f on the
    components h_k over held-out ``X``. A predictor in the span of the h_k gets its coefficients
    exactly (the target itself: e = 0), whatever the sample's cross terms ``mean h_j h_k``; in the
    population ``a_k = E f h_k`` (the h_k are orthonormal) and the mean squared error ``E (f -
    y)^2`` is exactly ``sum_k e_k + residual``."""
    X = check_array("X", X, ndim=2)
    predictions = check_array("predictions", predictions, ndim=1)
    if X.shape != (predictions.shape[0], task.d):
        raise InputError(f"X must have shape (len(predictions), {task.d}), got {X.shape}")
    H = task.components(X)
    a = np.linalg.lstsq(H, predictions, rcond=None)[0]
    return (a - task.coefficients) ** 2, float(np.mean((predictions - H @ a) ** 2))
