"""The potential bookkeeping of theory/robust_nesterov.py against direct simulation (sims/inexact)
and closed-form facts."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.inexact import Quadratic, random_objective, run_inexact_nag
from theory import robust_nesterov as rn
from theory.rates import nesterov_beta


@given(st.integers(2, 10), st.floats(1.0, 1e4), st.integers(0, 2**31), st.booleans())
def test_exact_nag_contracts_the_potential(d, kappa, seed, quadratic):
    rng = np.random.default_rng(seed)
    f = random_objective(rng, d, kappa, quadratic)
    run = run_inexact_nag(f, 3 * rng.standard_normal(d), 50)
    factor = 1 - 1 / np.sqrt(f.L / f.mu)
    assert np.all(run.potentials[1:] <= factor * run.potentials[:-1] + 1e-12 * run.potentials[0])


@given(
    st.integers(2, 8),
    st.floats(2.0, 1e3),
    st.integers(0, 2**31),
    st.booleans(),
    st.sampled_from(["gradient", "momentum"]),
    st.sampled_from(["absolute", "relative_progress", "relative_gradient"]),
    st.sampled_from(["random", "adversarial"]),
    st.floats(0.0, 2.0),
)
def test_error_bound_holds_at_every_step(
    d, kappa, seed, quadratic, placement, sizing, direction, eps
):
    rng = np.random.default_rng(seed)
    f = random_objective(rng, d, kappa, quadratic)
    run = run_inexact_nag(
        f, rng.standard_normal(d), 30, eps, placement, sizing, direction, seed=seed
    )
    assert len(run.bounds) == len(run.potentials) - 1  # one bound per step taken
    slack = 1e-10 * (run.potentials[0] + np.abs(run.bounds))  # round-off only
    assert np.all(run.potentials[1:] <= run.bounds + slack)


def test_z_sequence_makes_the_lookahead_a_convex_combination():
    # y_k = (x_k + tau z_k) / (1 + tau) for NAG's look-ahead y_k = x_k + beta (x_k - x_{k-1})
    rng = np.random.default_rng(0)
    x, x_prev, kappa = rng.standard_normal(5), rng.standard_normal(5), 37.0
    tau = 1 / np.sqrt(kappa)
    y = x + nesterov_beta(kappa) * (x - x_prev)
    z = rn.z_sequence(x, x_prev, kappa)
    np.testing.assert_allclose(y, (x + tau * z) / (1 + tau), rtol=1e-13)


def test_error_terms_vanish_without_errors_and_grow_quadratically():
    rng = np.random.default_rng(1)
    z, x_star = rng.standard_normal(4), rng.standard_normal(4)
    m = rng.standard_normal(4)
    assert rn.momentum_error_term(np.zeros(4), z, x_star, 50, 0.1) == 0
    # along a direction orthogonal to z - x*, only the quadratic part remains
    m -= (m @ (z - x_star)) / np.sum((z - x_star) ** 2) * (z - x_star)
    t1 = rn.momentum_error_term(m, z, x_star, 50, 0.1)
    t2 = rn.momentum_error_term(2 * m, z, x_star, 50, 0.1)
    assert t2 == pytest.approx(4 * t1, rel=1e-12)


def test_diverging_run_stops_without_warnings():
    f = Quadratic(np.diag([0.01, 1.0]))
    run = run_inexact_nag(f, np.ones(2), 5000, 3.0, "gradient", "relative_gradient", "adversarial")
    assert len(run.losses) < 5001
    assert np.all(np.isfinite(run.losses))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"eps": -0.1}, "eps"),
        ({"placement": "hessian"}, "placement"),
        ({"sizing": "huge"}, "sizing"),
        ({"direction": "sideways"}, "direction"),
        ({"steps": -2}, "steps"),
    ],
)
def test_bad_input(kwargs, name):
    args = {"objective": Quadratic(np.eye(2)), "x0": np.ones(2), "steps": 5, **kwargs}
    with pytest.raises(ValueError, match=name):
        run_inexact_nag(**args)


def test_objective_without_finite_constants_is_rejected():
    class Flat:
        mu, L, x_star, f_star = 0.0, 1.0, np.zeros(2), 0.0

        def value(self, x):
            return 0.0

        def gradient(self, x):
            return np.zeros(2)

    with pytest.raises(ValueError, match="mu"):
        run_inexact_nag(Flat(), np.ones(2), 3)
    with pytest.raises(ValueError, match="kappa"):
        rn.contraction(0.5)
    with pytest.raises(ValueError, match="positive definite"):
        Quadratic(-np.eye(2))


@pytest.mark.parametrize("c", [0.25, 3.0])
def test_potential_and_error_terms_scale_with_the_objective(c):
    """Multiplying f by c multiplies L, mu, gradients and gradient errors by c and leaves the
    iterates of NAG (step 1/L) unchanged, so Phi and both error terms scale by c."""
    rng = np.random.default_rng(7)
    e, g, y, x, x_star, z, m = rng.standard_normal((7, 5))
    L, mu, kappa = 2.5, 0.1, 25.0
    assert rn.gradient_error_term(c * e, c * g, y, x, x_star, c * L, c * mu) == pytest.approx(
        c * rn.gradient_error_term(e, g, y, x, x_star, L, mu), rel=1e-12
    )
    assert rn.potential(c * 0.7, z, x_star, c * mu) == pytest.approx(
        c * rn.potential(0.7, z, x_star, mu), rel=1e-12
    )
    assert rn.momentum_error_term(m, z, x_star, kappa, c * mu) == pytest.approx(
        c * rn.momentum_error_term(m, z, x_star, kappa, mu), rel=1e-12
    )


@given(st.floats(1.0, 1e4), st.floats(1e-3, 10.0), st.integers(0, 2**31))
def test_momentum_error_term_is_the_change_of_the_z_term(kappa, mu, seed):
    """A momentum error m moves the look-ahead point y = (x + tau z)/(1 + tau) by m, hence z by
    (1 + tau)/tau m; the term is mu/2 (|z' - x*|^2 - |z - x*|^2), computed here from the
    three-sequence relation rather than the module's closed form."""
    rng = np.random.default_rng(seed)
    x, x_prev, x_star, m = rng.standard_normal((4, 3))
    tau = 1 / np.sqrt(kappa)
    z = x + (np.sqrt(kappa) - 1) * (x - x_prev)
    y = (x + tau * z) / (1 + tau)
    z_moved = ((1 + tau) * (y + m) - x) / tau
    change = mu / 2 * (np.sum((z_moved - x_star) ** 2) - np.sum((z - x_star) ** 2))
    scale = mu / 2 * (np.sum((z_moved - x_star) ** 2) + np.sum((z - x_star) ** 2))
    assert rn.momentum_error_term(m, z, x_star, kappa, mu) == pytest.approx(
        change, rel=1e-9, abs=1e-12 * scale
    )


@pytest.mark.parametrize(("kappa", "factor"), [(1.0, 0.0), (4.0, 0.5), (100.0, 0.9), (1e4, 0.99)])
def test_contraction_and_decrease_bound_values(kappa, factor):
    assert rn.contraction(kappa) == pytest.approx(factor, rel=1e-15, abs=1e-300)
    assert rn.decrease_bound(2.0, kappa) == pytest.approx(2 * factor, abs=1e-15)
    assert rn.decrease_bound(2.0, kappa, 0.5) == pytest.approx(2 * factor + 0.5, abs=1e-15)
    assert rn.decrease_bound(2.0, kappa, 0.5, "momentum") == pytest.approx(2.5 * factor, abs=1e-15)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: rn.potential(1.0, [0.0], [0.0], 0.0), "mu"),
        (lambda: rn.potential(1.0, [0.0], [0.0], -1.0), "mu"),
        (lambda: rn.gradient_error_term([1.0], [1.0], [0.0], [0.0], [0.0], 1.0, 0.0), "mu"),
        (lambda: rn.gradient_error_term([1.0], [1.0], [0.0], [0.0], [0.0], 0.5, 1.0), "L"),
        (lambda: rn.momentum_error_term([1.0], [0.0], [0.0], 0.5, 1.0), "kappa"),
        (lambda: rn.decrease_bound(1.0, 10.0, 0.0, "hessian"), "placement"),
        (lambda: rn.z_sequence([1.0], [0.0], 0.0), "kappa"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


def test_kappa_one_is_accepted():
    zero, one = np.zeros(1), np.ones(1)
    assert rn.gradient_error_term(zero, one, zero, zero, zero, 1.0, 1.0) == 0.0


@given(st.floats(0.1, 10.0), st.integers(0, 2**31))
def test_gradient_error_bound_is_an_identity_for_an_isotropic_quadratic(L, seed):
    """For f = L/2 |x - x*|^2 (mu = L, tau = 1) smoothness, both convexity inequalities and
    Jensen's hold with equality, so Phi_{k+1} equals the bound exactly: computed here by taking
    the inexact step, z_{k+1} = y - d/mu, and evaluating the potential directly."""
    rng = np.random.default_rng(seed)
    x, y, x_star, e = rng.standard_normal((4, 4))
    g = L * (y - x_star)
    x_next = y - (g + e) / L
    z_next = y - (g + e) / L  # (1 - tau) z' + tau (y - d/mu) with tau = 1, mu = L
    phi_next = L / 2 * np.sum((x_next - x_star) ** 2) + L / 2 * np.sum((z_next - x_star) ** 2)
    bound = rn.decrease_bound(123.0, 1.0, rn.gradient_error_term(e, g, y, x, x_star, L, L))
    assert bound == pytest.approx(phi_next, rel=1e-10, abs=1e-12)
