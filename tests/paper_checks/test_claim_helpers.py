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
    assert nesterov.gd_steps(f, x0, 1e-6, 10**6, error=error) == expected


def test_the_tolerable_level_of_gd_with_that_error_does_not_shrink_with_kappa():
    """Its stages grow like 1/(1 - eps) at every kappa, so 1.5x its exact stages allows
    eps up to about 1 - 1/1.5 = 1/3 whatever kappa (integer stage counts move it a little)."""
    for kappa in (10, 1000):
        f, x0 = nesterov.diagonal_quadratic(kappa)
        budget = int(np.ceil(nesterov.SLOWDOWN * nesterov.gd_steps(f, x0, 1e-6, 10**6)))
        level = nesterov.tolerable_eps(nesterov.gd_within(f, x0, budget))
        assert level == pytest.approx(1 / 3, abs=0.02)


def test_the_bisection_finds_a_known_threshold():
    assert nesterov.tolerable_eps(lambda eps: eps <= 0.01) == pytest.approx(0.01, rel=2e-3)
    assert nesterov.tolerable_eps(lambda eps: True) == 1.0
