"""The spectral prediction of stacking's asymptotic rate (theory/stacking_tail.py), against
independent references: the companion matrix's eigenvalues (NumPy), the eigenvalues of the
non-symmetric Sigma W*^T W*, and a direct simulation of the linearised recursion."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from infra.checks import InputError
from sims.problems import deep_linear_problem
from theory.rates import nesterov_beta
from theory.stacking_tail import bent_spectrum, mode_radius, predicted_tail_rate


@given(st.floats(0.0, 2.5), st.floats(0.01, 1.0), st.floats(0.0, 1.0))
def test_mode_radius_is_the_companion_matrix_spectral_radius(nu, eta, beta):
    a = 1.0 - eta * nu
    companion = np.array([[(1 + beta) * a, -beta * a], [1.0, 0.0]])
    expected = np.max(np.abs(np.linalg.eigvals(companion)))
    assert mode_radius(nu, eta, beta) == pytest.approx(expected, rel=1e-7, abs=1e-7)


@given(st.integers(2, 12), st.floats(1.0, 1e4), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_bent_spectrum_is_the_spectrum_of_sigma_times_m(d, kappa, sigma, seed):
    s, w = deep_linear_problem(d, kappa, sigma, seed=seed)
    expected = np.sort(np.linalg.eigvals(s @ w.T @ w).real)
    assert bent_spectrum(s, w) == pytest.approx(expected, rel=1e-7, abs=1e-12)
    assert bent_spectrum(s, w, "functional") == pytest.approx(np.linalg.eigvalsh(s))


def simulate_linearised(s, w, beta, eta, stages):
    """``E_{t+1} = Y_t (I - eta Sigma M)``, ``Y_{t+1} = E_{t+1} + beta (E_{t+1} - E_t)``
    from ``E_0 = I - W*``; the loss ``1/2 tr(E Sigma E^T)`` per stage."""
    a = np.eye(len(s)) - eta * s @ w.T @ w
    e_prev = e = y = np.eye(len(s)) - w
    losses = []
    for _ in range(stages):
        e_prev, e = e, y @ a
        y = e + beta * (e - e_prev)
        losses.append(0.5 * np.trace(e @ s @ e.T))
    return np.array(losses)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.floats(2.0, 200.0), st.floats(0.01, 0.4), st.integers(0, 10**6),
       st.floats(0.0, 0.95))  # fmt: skip
def test_prediction_is_the_decay_rate_of_the_linearised_recursion(d, kappa, sigma, seed, beta):
    """Far into a direct simulation, the loss decays by exp(-rate) per stage (up to the
    polynomial factor of a near-double root, which fades as 1/t)."""
    s, w = deep_linear_problem(d, kappa, sigma, seed=seed)
    eta = 1 / np.linalg.eigvalsh(s)[-1]
    rate = predicted_tail_rate(s, w, beta, eta)
    assume(0.02 < rate < 1)  # slower: no asymptote within the horizon; faster: too few stages
    stages = int(200 / rate)  # the linear recursion has no round-off floor: e^-200 is fine
    losses = simulate_linearised(s, w, beta, eta, stages)
    envelope = np.maximum.accumulate(losses[::-1])[::-1]
    late = slice(stages // 2, stages)
    measured = -np.log(envelope[late][-1] / envelope[late][0]) / (stages - 1 - stages // 2)
    assert measured == pytest.approx(rate, rel=0.15, abs=0.15 * rate + 4 / stages)


def test_exact_nag_and_gd_rates():
    """W* = I: NAG with beta* contracts like (1 - 1/sqrt(kappa))^2 per stage in the loss (the
    critically damped slowest mode), GD like (1 - 1/kappa)^2."""
    kappa = 100.0
    s = np.diag(np.geomspace(1.0, 1 / kappa, 5))
    eye = np.eye(5)
    assert predicted_tail_rate(s, eye, nesterov_beta(kappa), 1.0) == pytest.approx(
        -2 * np.log(1 - 1 / np.sqrt(kappa)), rel=1e-6
    )
    assert predicted_tail_rate(s, eye, 0.0, 1.0) == pytest.approx(-2 * np.log(1 - 1 / kappa))


def test_divergence_threshold():
    """For a < 0 the recursion diverges exactly once eta nu > 1 + 1/(1 + 2 beta)."""
    beta = 0.8
    edge = 1 + 1 / (1 + 2 * beta)
    assert mode_radius(edge * 0.999, 1.0, beta) < 1 < mode_radius(edge * 1.001, 1.0, beta)


def test_bad_input():
    s, w = deep_linear_problem(3, 10, 0.1, seed=0)
    with pytest.raises(InputError, match="W_star"):
        bent_spectrum(s, w[:2])
    with pytest.raises(InputError, match="layer_grad"):
        bent_spectrum(s, w, "riemannian")
    with pytest.raises(InputError, match="beta"):
        predicted_tail_rate(s, w, 1.5, 1.0)
    with pytest.raises(InputError, match="positive definite"):
        bent_spectrum(-s, w)
