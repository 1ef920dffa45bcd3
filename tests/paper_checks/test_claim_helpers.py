"""Helpers of individual claims against independent oracles (closed forms in ``theory/``)."""

import numpy as np
import pytest

from paper_checks.claims import nesterov
from theory import spectral


@pytest.mark.parametrize("kappa", [10, 300])
@pytest.mark.parametrize("error", [0.0, 0.2, 0.5])
def test_gd_with_a_shrinking_gradient_error_matches_the_closed_form(kappa, error):
    """The negative control of nesterov.error-critical-level: GD with the error -eps grad f is
    GD at step (1 - eps)/L, whose stages theory.spectral counts from the spectrum alone."""
    f, x0 = nesterov.diagonal_quadratic(kappa)
    lam = np.diag(f.H)
    expected = spectral.gd_steps_on_quadratic(lam, x0**2, 1e-6, (1 - error) / f.L, 10**6)
    assert nesterov.momentum_steps(f, x0, 1e-6, 10**6, error=error) == expected


def test_the_tolerable_level_of_gd_with_that_error_does_not_shrink_with_kappa():
    """Its stages grow like 1/(1 - eps) at every kappa, so 1.5x its exact stages allows
    eps up to about 1 - 1/1.5 = 1/3 whatever kappa (integer stage counts move it a little)."""
    for kappa in (10, 1000):
        f, x0 = nesterov.diagonal_quadratic(kappa)
        budget = int(np.ceil(nesterov.SLOWDOWN * nesterov.momentum_steps(f, x0, 1e-6, 10**6)))
        level = nesterov.tolerable_eps(nesterov.gd_within(f, x0, budget))
        assert level == pytest.approx(1 / 3, abs=0.02)


def test_the_bisection_finds_a_known_threshold():
    assert nesterov.tolerable_eps(lambda eps: eps <= 0.01) == pytest.approx(0.01, rel=2e-3)
    assert nesterov.tolerable_eps(lambda eps: True) == 1.0


def _closed_form_steps(lam, weights, beta, limit):
    """NAG's stages to 1e-6 within ``limit`` from theory.spectral's residual polynomials (step
    1/L = 1). With beta >= 1 the slowest mode's characteristic roots multiply to
    beta (1 - 1/kappa) >= 1 - 1/kappa: it contracts by at most about 1/(2 kappa) a step, far too
    slowly for the limits here (1.5x NAG's stages), so such runs are not within them."""
    if beta >= 1:
        return np.inf
    curve = spectral.momentum_loss_curve(lam, weights, 1.0, beta, limit)
    reached = np.flatnonzero(curve <= 1e-6 * curve[0])
    return float(reached[0]) if reached.size else np.inf


@pytest.mark.parametrize("kappa", [10, 300])
@pytest.mark.parametrize("factor", [0.5, 0.9, 1.0, 1.05, 1.1])
def test_nag_with_an_erroneous_momentum_coefficient_matches_the_closed_form(kappa, factor):
    """The positive control of nesterov.error-critical-level simulates NAG with the coefficient
    beta*(1 +- eps); its stages are the residual polynomials' of theory.spectral."""
    f, x0 = nesterov.diagonal_quadratic(kappa)
    lam = np.diag(f.H)
    beta = factor * (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    expected = _closed_form_steps(lam, x0**2, beta, 20 * kappa)
    assert nesterov.momentum_steps(f, x0, 1e-6, 20 * kappa, beta=beta) == expected


def test_the_tolerable_coefficient_error_shrinks_like_kappa_to_the_minus_half():
    """From the closed form alone: bisection on the worse sign of beta*(1 +- eps) at 1.5x NAG's
    stages gives the claim's levels; they shrink with kappa, and raising the coefficient by
    delta costs NAG's slowest mode about delta/2 of its rate kappa^(-1/2), so beyond the
    smallest kappa the level stays within a factor 2.5 of (2/3) kappa^(-1/2)."""
    levels = nesterov.tolerable_levels()
    for kappa in nesterov.TOLERANCE_KAPPAS:
        f, x0 = nesterov.diagonal_quadratic(kappa)
        lam, beta = np.diag(f.H), (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
        budget = int(np.ceil(nesterov.SLOWDOWN * _closed_form_steps(lam, x0**2, beta, 40 * kappa)))

        def within(eps, lam=lam, beta=beta, budget=budget, x0=x0):
            return all(np.isfinite(_closed_form_steps(lam, x0**2, beta * (1 + s * eps), budget))
                       for s in (-1, 1))  # fmt: skip

        assert levels[("coefficient", kappa)] == pytest.approx(nesterov.tolerable_eps(within),
                                                               rel=1e-12)  # fmt: skip
        if kappa >= 30:
            assert 1 / 2.5 < levels[("coefficient", kappa)] / (2 / 3 / np.sqrt(kappa)) < 2.5
