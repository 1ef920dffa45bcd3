"""Deep linear stagewise training: the Numba kernel against the NumPy reference, finite
differences, closed-form special cases, divergence handling and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize

from infra.checks import InputError
from sims.families.deep_linear import (
    INITS,
    LAYER_GRADS,
    gd_reference,
    nesterov_reference,
    stacking_line_search,
    train_stagewise,
    train_stagewise_batch,
)
from sims.problems import deep_linear_problem
from tests.helpers import central_difference
from theory import spectral

problems = st.builds(
    deep_linear_problem,
    d=st.integers(1, 12),
    kappa=st.floats(1.0, 1e4),
    sigma=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)


def well_conditioned_length(sigma, w_star, stages, options):
    """Number of leading losses over which the trajectory is well conditioned: a relative
    perturbation of 1e-13 of V0 is amplified at most 10-fold, so that round-off stays inside the
    1e-12 tolerance of assert_same_run (measured with the NumPy reference).

    Beyond that (chaotic euclidean runs with ||P^T P|| > 2, explosions, the round-off floor) the
    recursion amplifies round-off so that no two correct implementations agree to 1e-12."""
    d = sigma.shape[0]
    base = train_stagewise(sigma, w_star, stages, backend="numpy", **options)
    bumped = train_stagewise(
        sigma, w_star, stages, backend="numpy", V0=np.eye(d) * (1 + 1e-13), **options
    )
    n = min(len(base.losses), len(bumped.losses))
    a, b = np.sqrt(base.losses[:n]), np.sqrt(bumped.losses[:n])
    with np.errstate(divide="ignore", invalid="ignore"):
        amplification = np.abs(a - b) / (1e-13 * a)
    bad = np.flatnonzero(~(amplification <= 10))
    return bad[0] if bad.size else n


def assert_same_run(a, b, n):
    """Residual norms sqrt(2 R) agree to 1e-12 relative over the first n losses."""
    floor = 1e-13 * max(np.sqrt(b.losses[0]), 1.0)  # the float64 floor; ||P|| is of order 1
    np.testing.assert_allclose(np.sqrt(a.losses[:n]), np.sqrt(b.losses[:n]), rtol=1e-12, atol=floor)


@given(
    problems,
    st.sampled_from(INITS),
    st.sampled_from(LAYER_GRADS),
    st.integers(0, 40),
    st.integers(0, 1000),
)
def test_numba_kernel_matches_numpy_reference(problem, init, layer_grad, stages, seed):
    sigma, w_star = problem
    options = {"init": init, "layer_grad": layer_grad, "random_scale": 0.05, "seed": seed}
    fast = train_stagewise(sigma, w_star, stages, **options)
    slow = train_stagewise(sigma, w_star, stages, backend="numpy", **options)
    n = well_conditioned_length(sigma, w_star, stages, options)
    assert_same_run(fast, slow, n)
    if n == len(slow.losses):
        assert fast.status == slow.status
        assert len(fast.losses) == len(slow.losses)
    # error sizes relative to the step carry round-off of order 1e-16 ||P|| / step: compare them
    # while the residual (and so the step) is well above that
    meaningful = np.sqrt(slow.losses[: min(n, len(slow.e1))]) > 1e-5
    if meaningful.any():
        k = len(meaningful)
        for ours, theirs in ((fast.e1[:k], slow.e1[:k]), (fast.e2[:k], slow.e2[:k])):
            np.testing.assert_allclose(ours[meaningful], theirs[meaningful], rtol=1e-7, atol=1e-9)
    m = min(n, len(slow.betas))
    # betas are O(1); the two paths' functional solves (the kernel's elimination, LAPACK in the
    # reference) round differently, by up to ~100 eps on beta (seen: 1.6e-14 where beta is round-off)
    np.testing.assert_allclose(fast.betas[:m], slow.betas[:m], rtol=1e-12, atol=1e-13)


def test_stack_with_zero_beta_is_zero_init_bit_for_bit():
    sigma, w_star = deep_linear_problem(6, 50, 0.2, seed=3)
    a = train_stagewise(sigma, w_star, 80, init="stack", beta=0.0)
    b = train_stagewise(sigma, w_star, 80, init="zero")
    assert np.array_equal(a.losses, b.losses)


@given(st.integers(1, 10), st.floats(0.0, 0.5), st.integers(0, 2**32 - 1))
def test_kappa_one_makes_stacking_gd(d, sigma_scale, seed):
    # Sigma = I: beta* = 0, and with V0 = I ... the first stage is a GD step; stacking = zero init
    _, w_star = deep_linear_problem(d, 1.0, sigma_scale, seed=seed)
    sigma = np.eye(d)
    stack = train_stagewise(sigma, w_star, 5, init="stack", layer_grad="functional")
    gd = gd_reference(sigma, w_star, 5)
    assert stack.beta == 0.0
    np.testing.assert_allclose(stack.losses, gd.losses, rtol=1e-10, atol=1e-300)


def test_functional_stacking_first_stage_is_a_gd_step():
    sigma, w_star = deep_linear_problem(5, 30, 0.3, seed=8)
    stack = train_stagewise(sigma, w_star, 1)
    gd = gd_reference(sigma, w_star, 1)
    np.testing.assert_allclose(stack.losses, gd.losses, rtol=1e-12)


def _risk(p, sigma, w_star):
    e = p - w_star
    return 0.5 * np.trace(e @ sigma @ e.T)


@pytest.mark.parametrize("layer_grad", ["euclidean", "functional"])
@pytest.mark.parametrize("seed", range(3))
def test_layer_updates_against_finite_difference_gradients(seed, layer_grad):
    """Three stacking stages rebuilt from finite-difference gradients of the new layer's loss:
    euclidean W_new = B - eta dR/dW; functional W_new = B - eta dR/dW (P P^T)^{-1} (= G P^{-1})."""
    d, beta, eta = 4, 0.6, 0.8
    sigma, w_star = deep_linear_problem(d, 20, 0.3, seed=seed)
    v0 = np.eye(d) + 0.1 * np.random.default_rng(seed).standard_normal((d, d))
    p, w, risks = v0, np.zeros((d, d)), [_risk(v0, sigma, w_star)]
    for _ in range(3):
        start = beta * w
        grad = central_difference(lambda w, p=p: _risk((np.eye(d) + w) @ p, sigma, w_star), start)
        if layer_grad == "functional":
            grad = grad @ np.linalg.inv(p @ p.T)
        w = start - eta * grad
        p = (np.eye(d) + w) @ p
        risks.append(_risk(p, sigma, w_star))
    run = train_stagewise(sigma, w_star, 3, beta=beta, eta=eta, V0=v0, layer_grad=layer_grad)
    np.testing.assert_allclose(run.losses, risks, rtol=1e-7)


def test_nesterov_reference_reaches_accuracy_faster_than_gd():
    sigma, w_star = deep_linear_problem(8, 1000, 0.05, seed=0)
    nag = nesterov_reference(sigma, w_star, 3000)
    gd = gd_reference(sigma, w_star, 30000)
    assert nag.steps_to(1e-6) < gd.steps_to(1e-6) / 5


def _eigen_weights(sigma, w_star):
    """Eigenvalues of Sigma and the squared initial error (P_0 = I) along each eigenvector,
    summed over the error's rows: the risk is 1/2 sum_i lam_i weights_i."""
    lam, q = np.linalg.eigh(sigma)
    return lam, np.sum(((np.eye(len(w_star)) - w_star) @ q) ** 2, axis=0)


@pytest.mark.parametrize("restart", [1, 3, 20])
def test_restarted_nag_matches_its_residual_polynomials(restart):
    """Momentum restarted every m steps multiplies the error along eigenvalue lam by NAG's
    residual polynomial p_m(eta lam) per period (theory.spectral, from a fresh start), so after
    j periods the risk is 1/2 sum_i lam_i p_m^(2j) weights_i; m = 1 is gradient descent."""
    sigma, w_star = deep_linear_problem(5, 100, 0.2, seed=3)
    lam, weights = _eigen_weights(sigma, w_star)
    run = nesterov_reference(sigma, w_star, 6 * restart, restart_every=restart)
    eta, beta = 1 / lam[-1], run.beta
    squared = np.array([spectral.momentum_loss_curve(lam[i : i + 1], np.ones(1), eta, beta, restart)[-1]
                        / (0.5 * lam[i]) for i in range(len(lam))])  # fmt: skip
    expected = [0.5 * np.sum(lam * squared**j * weights) for j in range(7)]
    np.testing.assert_allclose(run.losses[::restart], expected, rtol=1e-9)
    if restart == 1:
        np.testing.assert_array_equal(run.losses, gd_reference(sigma, w_star, 6).losses)


def test_gd_with_kept_noise_plateaus_at_its_stationary_risk():
    """Stochastic functional GD with the noise kept: E_{k+1} = (E_k + Xi_k)(I - eta Sigma), so the
    stationary mean risk is s^2/2 sum_i lam_i m_i^2 / (1 - m_i^2), m_i = 1 - eta lam_i (each
    row's covariance c_i solves c_i = m_i^2 (c_i + s^2/d)); the mean over 300 seeds of the risk
    over stages 200-300 agrees within 4 standard errors, and the same draws at 10x the noise give
    100x the plateau (the error is linear in the noise once the start is forgotten)."""
    sigma, w_star = deep_linear_problem(3, 10, 0.3, seed=4)
    lam, _ = _eigen_weights(sigma, w_star)
    m = 1 - lam / lam[-1]
    plateaus = {scale: np.array([np.mean(gd_reference(sigma, w_star, 300, noise_scale=scale,
                                                      seed=k).losses[200:]) for k in range(300)])
                for scale in (1e-3, 1e-2)}  # fmt: skip
    expected = 1e-6 / 2 * np.sum(lam * m**2 / (1 - m**2))
    error = plateaus[1e-3].std(ddof=1) / np.sqrt(300)
    assert abs(plateaus[1e-3].mean() - expected) < 4 * error
    np.testing.assert_allclose(plateaus[1e-2], 100 * plateaus[1e-3], rtol=1e-6)
    assert np.array_equal(gd_reference(sigma, w_star, 50, noise_scale=0.0, seed=1).losses,
                          gd_reference(sigma, w_star, 50).losses)  # fmt: skip


def test_diverging_run_stops_with_status_and_no_warning():
    sigma, w_star = deep_linear_problem(6, 100, 1.0, seed=1)
    for backend in ("numba", "numpy"):
        run = train_stagewise(sigma, w_star, 500, init="copy", eta=3.0, backend=backend)
        assert run.status == "diverged"
        assert run.diverged_at == len(run.losses) - 1
        assert np.all(np.isfinite(run.losses))


def test_target_stops_early_with_status_converged():
    sigma, w_star = deep_linear_problem(6, 10, 0.05, seed=1)
    run = train_stagewise(sigma, w_star, 10_000, target=1e-6)
    assert run.status == "converged"
    assert run.steps_to(1e-6) == len(run.losses) - 1


def test_batch_equals_single_runs():
    problems_ = [
        deep_linear_problem(d, k, 0.1, seed=s)
        for d, k, s in [(4, 10, 0), (6, 100, 1), (4, 1000, 2)]
    ]
    specs = [
        {"Sigma": s, "W_star": w, "init": init}
        for (s, w), init in zip(problems_, ["stack", "zero", "trainable"], strict=True)
    ]
    batch = train_stagewise_batch(specs, 50, layer_grad="functional")
    for spec, run in zip(specs, batch, strict=True):
        single = train_stagewise(
            spec["Sigma"], spec["W_star"], 50, init=spec["init"], layer_grad="functional"
        )
        assert np.array_equal(single.losses, run.losses)


def test_random_init_is_reproducible_from_the_seed():
    sigma, w_star = deep_linear_problem(5, 10, 0.1, seed=0)
    a = train_stagewise(sigma, w_star, 30, init="random", random_scale=0.1, seed=7)
    b = train_stagewise(sigma, w_star, 30, init="random", random_scale=0.1, seed=7)
    c = train_stagewise(sigma, w_star, 30, init="random", random_scale=0.1, seed=8)
    assert np.array_equal(a.losses, b.losses)
    assert not np.array_equal(a.losses, c.losses)


GOOD = deep_linear_problem(3, 10, 0.1, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"Sigma": np.ones((3, 2))}, "Sigma"),
        ({"Sigma": np.array([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]])}, "symmetric"),
        ({"Sigma": -np.eye(3)}, "positive definite"),
        ({"Sigma": np.full((3, 3), np.nan)}, "Sigma"),
        ({"W_star": np.eye(4)}, "W_star"),
        ({"W_star": np.full((3, 3), np.inf)}, "W_star"),
        ({"stages": -1}, "stages"),
        ({"beta": 1.5}, "beta"),
        ({"beta": -0.1}, "beta"),
        ({"init": "zero", "beta": 0.5}, "beta"),
        ({"init": "lucky"}, "init"),
        ({"layer_grad": "natural"}, "layer_grad"),
        ({"eta": 0.0}, "eta"),
        ({"random_scale": -1.0}, "random_scale"),
        ({"V0": np.zeros((3, 3)), "layer_grad": "functional"}, "V0"),
    ],
)
def test_bad_input_is_rejected_before_any_work(kwargs, name):
    args = {"Sigma": GOOD[0], "W_star": GOOD[1], "stages": 5, **kwargs}
    with pytest.raises(ValueError, match=name):
        train_stagewise(**args)


def test_stages_must_be_an_integer():
    with pytest.raises(TypeError, match="stages"):
        train_stagewise(GOOD[0], GOOD[1], 2.5)


@pytest.mark.parametrize("layer_grad", ["euclidean", "functional"])
def test_divergence_is_detected_at_the_same_stage_by_kernel_and_reference(layer_grad):
    """A step size 30x past stability: the kernel and the NumPy reference stop at the same stage
    (the first whose loss exceeds the divergence threshold) with the same losses, warning-free."""
    sigma, w_star = deep_linear_problem(6, 10.0, 0.2, seed=5)
    runs = [
        train_stagewise(
            sigma, w_star, 300, init="stack", eta=30.0, layer_grad=layer_grad, backend=backend
        )
        for backend in ("numba", "numpy")
    ]
    assert runs[0].status == runs[1].status == "diverged"
    assert len(runs[0].losses) == len(runs[1].losses) < 301
    np.testing.assert_allclose(runs[0].losses, runs[1].losses, rtol=1e-8)


@pytest.mark.parametrize("target", [None, 1e-6])
def test_kernel_and_reference_stop_at_the_same_stage(target):
    """A well-conditioned run (no round-off amplification): same status, same number of stages
    and the same losses, with and without an early-stopping target."""
    sigma, w_star = deep_linear_problem(4, 10.0, 0.05, seed=2)
    runs = [
        train_stagewise(sigma, w_star, 400, target=target, backend=backend)
        for backend in ("numba", "numpy")
    ]
    assert runs[0].status == runs[1].status == ("max_stages" if target is None else "converged")
    assert len(runs[0].losses) == len(runs[1].losses)
    assert (len(runs[0].losses) == 401) == (target is None)
    np.testing.assert_allclose(runs[0].losses, runs[1].losses, rtol=1e-9, atol=1e-14)


@given(problems, st.floats(-3.0, 3.0), st.sampled_from(["numba", "numpy"]))
def test_trainable_beta_step_follows_its_formula(problem, beta_lr, backend):
    """With a step ``beta_lr`` on beta, ``beta_{t+1} = beta_t - beta_lr <G_t P_t^T, W_t>``, the
    layer gradient evaluated at the stacked start (docs/theory.md §3), written out here in the
    original basis; beta_lr = 0 is stacking with fixed beta, bit for bit."""
    sigma, w_star = problem
    d = sigma.shape[0]
    eta = 1 / np.linalg.eigvalsh(sigma)[-1]
    run = train_stagewise(sigma, w_star, 3, init="trainable", beta=0.5, beta_lr=beta_lr,
                          backend=backend)  # fmt: skip
    p, w, beta = np.eye(d), np.zeros((d, d)), 0.5
    for t in range(min(3, len(run.betas))):
        g = (p + beta * w @ p - w_star) @ sigma
        beta_next = beta - beta_lr * float(np.sum(g @ p.T * w))
        assert run.betas[t] == pytest.approx(beta_next, rel=1e-9, abs=1e-12)
        w = beta_next * w - eta * g @ p.T
        p, beta = p + w @ p, beta_next
    fixed = train_stagewise(sigma, w_star, 20, init="stack", beta=0.5, backend=backend)
    frozen = train_stagewise(sigma, w_star, 20, init="trainable", beta=0.5, beta_lr=0.0,
                             backend=backend)  # fmt: skip
    assert np.array_equal(fixed.losses, frozen.losses)


@given(problems)
def test_line_search_beta_minimises_each_stage_loss(problem):
    """Each stage's beta against a numerical minimisation (scipy, Brent) of that stage's loss,
    written out in the original basis from the same state; the losses follow from those betas."""
    sigma, w_star = problem
    d = sigma.shape[0]
    eta = 1 / np.linalg.eigvalsh(sigma)[-1]
    run = stacking_line_search(sigma, w_star, 4)

    def step(p, w, b):
        w_new = b * w - eta * ((np.eye(d) + b * w) @ p - w_star) @ sigma @ p.T
        return (np.eye(d) + w_new) @ p, w_new

    def risk(p):
        return 0.5 * np.trace((p - w_star) @ sigma @ (p - w_star).T)

    p, w = np.eye(d), np.zeros((d, d))
    for t, beta in enumerate(run.betas):
        if t > 0:
            best = optimize.minimize_scalar(lambda b, p=p, w=w: risk(step(p, w, b)[0]), tol=1e-12)
            assert risk(step(p, w, beta)[0]) <= best.fun * (1 + 1e-9) + 1e-15
        p, w = step(p, w, beta)
        assert run.losses[t + 1] == pytest.approx(risk(p), rel=1e-9, abs=1e-15)


def test_beta_lr_applies_to_trainable_beta_only():
    sigma, w_star = deep_linear_problem(3, 10, 0.1, seed=0)
    with pytest.raises(InputError, match="beta_lr applies to init 'trainable'"):
        train_stagewise(sigma, w_star, 3, init="stack", beta_lr=0.1)
    with pytest.raises(InputError, match="beta_lr"):
        train_stagewise(sigma, w_star, 3, init="trainable", beta_lr=float("nan"))


@given(st.integers(1, 32), st.integers(0, 2**31), st.booleans())
def test_the_functional_direction_solve_matches_lapack(d, seed, permuted):
    # G P^{-1} by the kernel's elimination against NumPy's LAPACK solve; a permuted P has zeros
    # on its diagonal, so only partial pivoting gets it right
    from sims.families.deep_linear.kernel import solve_right

    rng = np.random.default_rng(seed)
    p = rng.standard_normal((d, d)) + 2 * np.sqrt(d) * np.eye(d)
    if permuted:
        p = p[rng.permutation(d)] if d > 1 else p
        p[np.arange(d), np.arange(d)] = 0.0 if d > 1 else p[0, 0]
    g = rng.standard_normal((d, d))
    out = np.empty((d, d))
    solve_right(g, p, np.empty((d, d)), out)
    expected = np.linalg.solve(p.T, g.T).T
    scale = np.linalg.cond(p) * np.abs(expected).max()
    np.testing.assert_allclose(out, expected, rtol=0, atol=100 * np.finfo(float).eps * scale)


def test_the_functional_direction_of_a_singular_layer_product_is_not_finite():
    # no exception from inside the kernel: the direction is inf/nan, so the run's loss is not
    # finite and the run is reported diverged
    from sims.families.deep_linear.kernel import solve_right

    p = np.array([[1.0, 2.0], [2.0, 4.0]])
    out = np.empty((2, 2))
    solve_right(np.eye(2), p, np.empty((2, 2)), out)
    assert not np.all(np.isfinite(out))
