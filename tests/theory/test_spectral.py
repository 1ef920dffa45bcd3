"""Exact quadratic worst cases, checked against independent references: GD's closed form, a
brute-force maximisation over a dense grid, direct simulation of the methods in x/y form, and the
textbook rate guarantees."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from theory import rates, spectral
from theory.spectral import numerical_worst_case

kappas = st.floats(min_value=1.0, max_value=1e4)
steps = st.integers(min_value=0, max_value=60)


def simulate_1d(method, kappa, lam, n_steps):
    """Run the method in its textbook x/y form on f(x) = lam/2 x^2 from x_0 = 1."""
    beta = rates.nesterov_beta(kappa) if method == "nag" else 0.0
    x = y = 1.0
    for _ in range(n_steps):
        x_next = y - lam * y  # step 1/L = 1
        y = x_next + beta * (x_next - x)
        x = x_next
    return (lam / 2 * x * x) / (lam / 2 + 1 / (2 * kappa))


@given(kappas, steps, st.sampled_from(["gd", "nag"]))
def test_worst_case_is_attained_by_a_direct_simulation(kappa, n_steps, method):
    wc = spectral.worst_case(method, kappa, n_steps)
    assert 1 / kappa <= wc.eigenvalue <= 1.0
    # near kappa = 1 the ratio is a power of 1 - lam ~ 1 - 1/kappa, known only to eps/(1 - 1/kappa)
    # relative accuracy from a rounded lam: the tolerance follows that conditioning
    conditioning = 2 * n_steps * np.finfo(float).eps * kappa / (kappa - 1) if kappa > 1 else 0.0
    assert simulate_1d(method, kappa, wc.eigenvalue, n_steps) == pytest.approx(
        wc.ratio, rel=1e-9 + 4 * conditioning, abs=1e-300
    )


@given(kappas, steps, st.sampled_from(["gd", "nag"]))
def test_worst_case_at_least_its_value_at_mu(kappa, n_steps, method):
    at_mu = simulate_1d(method, kappa, 1 / kappa, n_steps)
    assert spectral.worst_case_ratio(method, kappa, n_steps) >= at_mu * (1 - 1e-12)


@given(st.floats(4.0, 1e4), st.integers(5, 60))
def test_nag_worst_case_below_gd(kappa, n_steps):
    assert spectral.worst_case_ratio("nag", kappa, n_steps) <= spectral.worst_case_ratio(
        "gd", kappa, n_steps
    )


@given(kappas, st.integers(0, 200))
def test_numerical_maximum_with_zero_momentum_matches_gd_closed_form(kappa, n_steps):
    closed = spectral.worst_case("gd", kappa, n_steps)
    numeric = numerical_worst_case(kappa, n_steps, 0.0)
    assert numeric.ratio == pytest.approx(closed.ratio, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("kappa", [2.0, 10.0, 100.0, 1000.0])
@pytest.mark.parametrize("n_steps", [1, 3, 10, 25, 60])
@pytest.mark.parametrize("method", ["gd", "nag"])
def test_brute_force_grid_never_beats_and_nearly_reaches_the_worst_case(kappa, n_steps, method):
    mu = 1 / kappa
    lam = np.concatenate([np.linspace(mu, 1, 200_001), mu + np.geomspace(1e-14, 1 - mu, 200_001)])
    beta = rates.nesterov_beta(kappa) if method == "nag" else 0.0
    brute = np.max(spectral.ratio_at(lam, n_steps, kappa, beta))
    exact = spectral.worst_case_ratio(method, kappa, n_steps)
    assert brute <= exact * (1 + 1e-10)
    assert brute >= exact * (1 - 1e-6)  # 6 significant digits


def test_maximiser_is_not_always_mu():
    # GD at kappa = 100, N = 10: the maximiser is the interior root of 2N lam^2 + mu(2N+1) lam - mu
    wc = spectral.worst_case("gd", 100, 10)
    mu = 0.01
    root = (-mu * 21 + np.sqrt((mu * 21) ** 2 + 80 * mu)) / 40
    assert wc.eigenvalue == pytest.approx(root, rel=1e-12)
    assert wc.eigenvalue > 1.7 * mu


@given(st.floats(1.0, 1e4), st.integers(0, 300))
@example(1.0000000000000002, 1)  # found by hypothesis: the rate's cancellation, not the bound
def test_worst_case_obeys_the_textbook_guarantees(kappa, n_steps):
    # Nesterov 2004: f(x_N) - f* <= (1 - 1/sqrt(kappa))^N Phi_0 for NAG with beta*, and
    # f(x_N) - f* <= (1 - 1/kappa)^N (f(x_0) - f*) for GD; both denominators are <= Phi_0. The
    # rates written without cancellation: at kappa = 1 + 2e-16, 1 - 1/sqrt(kappa) rounds to 0.
    nag = (kappa - 1) / (kappa + math.sqrt(kappa))
    gd = (kappa - 1) / kappa
    assert spectral.worst_case_ratio("nag", kappa, n_steps) <= nag**n_steps * (1 + 1e-9)
    assert spectral.worst_case_ratio("gd", kappa, n_steps) <= gd**n_steps * (1 + 1e-9)


@given(st.floats(1.0, 3000.0), st.sampled_from(["gd", "nag"]), st.sampled_from([1e-2, 1e-4, 1e-6]))
def test_steps_to_accuracy_is_the_first_hit(kappa, method, eps):
    n = spectral.steps_to_accuracy(method, kappa, eps)
    assert spectral.worst_case_ratio(method, kappa, n) <= eps
    assert all(spectral.worst_case_ratio(method, kappa, m) > eps for m in range(max(0, n - 3), n))
    assert n <= rates.predicted_steps(method, kappa, eps)


def test_kappa_one_solves_in_one_step():
    assert spectral.worst_case_ratio("nag", 1.0, 1) == 0.0
    assert spectral.worst_case_ratio("gd", 1.0, 0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"method": "nag", "kappa": 0.5, "n_steps": 3}, "kappa"),
        ({"method": "nag", "kappa": float("nan"), "n_steps": 3}, "kappa"),
        ({"method": "nag", "kappa": 10, "n_steps": -1}, "n_steps"),
        ({"method": "heavy-ball", "kappa": 10, "n_steps": 3}, "method"),
        ({"method": "nag", "kappa": 10, "n_steps": 3, "beta": 1.5}, "beta"),
        ({"method": "gd", "kappa": 10, "n_steps": 3, "beta": 0.5}, "beta"),
    ],
)
def test_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        spectral.worst_case_ratio(**kwargs)


def test_non_integer_steps_is_a_type_error():
    with pytest.raises(TypeError, match="n_steps"):
        spectral.worst_case_ratio("nag", 10, 2.5)


@pytest.mark.parametrize("kappa", [10.0, 100.0])
def test_nag_without_momentum_needs_as_many_steps_as_gd(kappa):
    assert spectral.steps_to_accuracy("nag", kappa, 1e-4, beta=0.0) == spectral.steps_to_accuracy(
        "gd", kappa, 1e-4
    )


@given(
    st.integers(1, 6),
    st.floats(1.0, 300.0),
    st.floats(1e-8, 0.5),
    st.integers(0, 2**32 - 1),
)
def test_gd_steps_on_quadratic_match_a_direct_run(dim, kappa, eps, seed):
    """Against gradient descent run step by step on the matrix (no eigen-decomposition)."""
    rng = np.random.default_rng(seed)
    lam = np.geomspace(1.0 / kappa, 1.0, dim)
    q = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    hessian, x = q @ np.diag(lam) @ q.T, rng.standard_normal(dim)
    weights = (q.T @ x) ** 2
    n = spectral.gd_steps_on_quadratic(lam, weights, eps, 1.0, 20_000)
    gap0, steps = 0.5 * x @ hessian @ x, 0
    while 0.5 * x @ hessian @ x > eps * gap0 and steps < 20_000:
        x, steps = x - hessian @ x, steps + 1
    gap = spectral.gd_loss_on_quadratic(lam, weights, 1.0, steps)
    assert gap == pytest.approx(0.5 * x @ hessian @ x, rel=1e-8, abs=1e-14 * gap0)
    reached = 0.5 * x @ hessian @ x <= eps * gap0
    if reached and abs(0.5 * x @ hessian @ x - eps * gap0) > 1e-9 * eps * gap0:  # not on the edge
        assert n == steps
    assert spectral.gd_steps_on_quadratic([0.01, 1.0], [1.0, 1.0], 1e-3, 1.0, 5) == np.inf
