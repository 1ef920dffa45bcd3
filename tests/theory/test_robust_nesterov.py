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
    assert len(run.gaps) < 5001
    assert np.all(np.isfinite(run.gaps))


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
