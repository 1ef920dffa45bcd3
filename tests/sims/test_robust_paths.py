"""The paths the robust-Nesterov bound is read along (stacking.errors-vs-critical), against the
project's NAG reference and against the bound's own error-free form."""

import numpy as np
import pytest

from sims.families.deep_linear import nesterov_reference
from sims.problems import deep_linear_problem
from sims.robust_paths import bound_along, damped_nag_path
from theory.rates import nesterov_beta


def _risk(sigma_mat, w_star, p) -> float:
    error = p - w_star
    return 0.5 * float(np.trace(error @ sigma_mat @ error.T))


@pytest.mark.parametrize("damping", [0.0, 0.3, 1.0])
def test_damped_nag_path_is_nag_with_the_damped_momentum(damping):
    """R(P_k) along the path equals sims' NAG reference run with momentum (1 - c) beta*."""
    sigma_mat, w_star = deep_linear_problem(6, 100, 0.5, seed=3)
    ps, ys, eta = damped_nag_path(sigma_mat, w_star, 40, damping)
    kappa = np.linalg.cond(sigma_mat)
    run = nesterov_reference(sigma_mat, w_star, 40, beta=(1 - damping) * nesterov_beta(kappa))
    risks = [_risk(sigma_mat, w_star, p) for p in ps]
    np.testing.assert_allclose(risks, run.losses, rtol=1e-10, atol=1e-14)
    assert len(ys) == 40 and eta == pytest.approx(1 / np.linalg.eigvalsh(sigma_mat)[-1])


def test_bound_along_exact_nag_sees_no_errors_and_damped_nag_obeys_it():
    """On exact NAG's path the errors are round-off, so the bound with errors is the exact-NAG
    bound; on a damped path the bound (Lemma 3.1) holds at every stage, and dropping its
    momentum error term makes it fail somewhere."""
    sigma_mat, w_star = deep_linear_problem(6, 100, 0.5, seed=4)
    exact = damped_nag_path(sigma_mat, w_star, 60, 0.0)
    phis, with_errors = bound_along(sigma_mat, w_star, *exact)
    _, without = bound_along(sigma_mat, w_star, *exact, with_errors=False)
    np.testing.assert_allclose(with_errors, without, rtol=1e-8)
    damped = damped_nag_path(sigma_mat, w_star, 60, 0.5)
    phis, bounds = bound_along(sigma_mat, w_star, *damped)
    assert np.all(phis[1:] <= bounds * (1 + 1e-9))
    phis, bounds = bound_along(sigma_mat, w_star, *damped, with_errors=False)
    assert np.any(phis[1:] > bounds * (1 + 1e-6))


@pytest.mark.parametrize("layer_grad", ["euclidean", "functional"])
def test_stacking_path_is_the_kernels_stacking(layer_grad):
    """R(P_k) along the matrix transcription equals the Numba kernel's stacking run (a second
    implementation), and each Y_k is the point of the k-th gradient step (I + beta W_k) P_k."""
    from sims.families.deep_linear import train_stagewise
    from sims.robust_paths import stacking_path

    sigma_mat, w_star = deep_linear_problem(5, 50, 0.3, seed=4)
    ps, ys, eta = stacking_path(sigma_mat, w_star, 30, layer_grad)
    run = train_stagewise(sigma_mat, w_star, 30, init="stack", layer_grad=layer_grad)
    risks = [_risk(sigma_mat, w_star, p) for p in ps]
    np.testing.assert_allclose(risks, run.losses, rtol=1e-9, atol=1e-14)
    assert len(ys) == 30 and eta == pytest.approx(1 / np.linalg.eigvalsh(sigma_mat)[-1])
