"""Boosting: the Numba kernel against the NumPy reference, closed-form special cases, scikit-learn
for trees, and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.families.boosting import INITS, random_features, train_ensemble
from sims.problems import classification_problem, regression_problem


@given(
    st.integers(5, 60),
    st.integers(1, 6),
    st.floats(1.0, 1e4),
    st.sampled_from(INITS),
    st.sampled_from(["squared", "logistic"]),
    st.sampled_from(["constant", "convex"]),
    st.integers(0, 60),
    st.integers(0, 2**31),
)
def test_numba_kernel_matches_numpy_reference(n, p, kappa, init, loss, schedule, stages, seed):
    p = min(p, n)
    make = regression_problem if loss == "squared" else classification_problem
    X, y = make(n, p, kappa, 0.3, seed=seed)
    if schedule == "convex" and init != "stack":
        schedule = "constant"
    options = {
        "init": init,
        "loss": loss,
        "schedule": schedule,
        "random_scale": 0.1,
        "seed": seed,
        "X_eval": X[: n // 2 + 1],
        "y_eval": y[: n // 2 + 1],
    }
    if init == "stack" and schedule == "constant":
        options["beta"] = 0.7  # the default needs a nonsingular design
    fast = train_ensemble(X, y, stages, **options)
    slow = train_ensemble(X, y, stages, backend="numpy", **options)
    assert fast.status == slow.status
    np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.eval_losses, slow.eval_losses, rtol=1e-9, atol=1e-12)
    scale = max(1.0, np.linalg.norm(slow.coef))
    np.testing.assert_allclose(fast.coef, slow.coef, rtol=1e-9, atol=1e-10 * scale)


def test_zero_init_is_gradient_descent_and_stack_is_nesterov():
    X, y = regression_problem(100, 5, 100, 0.1, seed=0)
    spectrum = np.linalg.eigvalsh(X.T @ X / 100)
    eta = 1 / spectrum[-1]
    beta = (np.sqrt(100) - 1) / (np.sqrt(100) + 1)
    for init, momentum in (("zero", 0.0), ("stack", beta)):
        w_prev = w = np.zeros(5)
        for _ in range(50):
            look = w + momentum * (w - w_prev)
            w_prev, w = w, look - eta * X.T @ (X @ look - y) / 100
        run = train_ensemble(X, y, 50, init=init)
        np.testing.assert_allclose(run.coef, w, rtol=1e-11)
        assert run.beta == pytest.approx(momentum, rel=1e-6)


def test_feature_learner_is_the_linear_learner_on_the_features():
    X, y = regression_problem(80, 3, 10, 0.1, seed=1)
    phi = random_features(X, 40, 5)
    a = train_ensemble(X, y, 30, learner="features", n_features=40, seed=5, beta=0.5)
    b = train_ensemble(phi(X), y, 30, learner="linear", beta=0.5)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-12)


def test_zero_init_trees_are_sklearn_gradient_boosting():
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = make_friedman1(n_samples=200, noise=1.0, random_state=0)
    gbr = GradientBoostingRegressor(
        loss="squared_error",
        n_estimators=40,
        learning_rate=0.2,
        max_depth=2,
        random_state=4,
        init="zero",
    ).fit(X, y)
    expected = [np.mean(y**2) / 2] + [np.mean((y - p) ** 2) / 2 for p in gbr.staged_predict(X)]
    ours = train_ensemble(
        X, y, 40, learner="tree", init="zero", eta=0.2, seed=4, tree_options={"max_depth": 2}
    )
    np.testing.assert_allclose(ours.losses, expected, rtol=1e-12)


def test_stacked_trees_follow_the_lookahead_rule():
    # with beta = 1 and eta = 1 a depth-limited tree cannot fit exactly, but the first stage is
    # a plain tree fit and the training loss never blows up on this easy problem
    X, y = regression_problem(100, 3, 10, 0.1, seed=2)
    run = train_ensemble(
        X, y, 20, learner="tree", init="stack", beta=0.5, eta=0.3, seed=0, X_eval=X, y_eval=y
    )
    np.testing.assert_allclose(run.losses, run.eval_losses, rtol=1e-6)
    assert run.losses[-1] < run.losses[0]


def test_divergence_is_reported():
    X, y = regression_problem(50, 3, 10, 0.1, seed=3)
    for backend in ("numba", "numpy"):
        run = train_ensemble(X, y, 300, init="zero", eta=5.0, backend=backend)
        assert run.status == "diverged"
        assert np.all(np.isfinite(run.losses))


X0, Y0 = regression_problem(20, 3, 10, 0.1, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"y": Y0[:-1]}, "mismatched"),
        ({"X": np.full((20, 3), np.nan)}, "X"),
        ({"y": np.full(20, np.inf)}, "y"),
        ({"loss": "logistic"}, "labels"),
        ({"stages": -1}, "stages"),
        ({"learner": "forest"}, "learner"),
        ({"init": "lucky"}, "init"),
        ({"loss": "hinge"}, "loss"),
        ({"schedule": "cosine"}, "schedule"),
        ({"beta": 1.5}, "beta"),
        ({"init": "zero", "beta": 0.5}, "beta"),
        ({"learner": "features"}, "n_features"),
        ({"learner": "tree", "init": "random"}, "random"),
        ({"learner": "tree", "init": "stack"}, "beta"),
        ({"learner": "tree", "init": "zero", "tree_options": {"max_depth": -3}}, "tree_options"),
        ({"X_eval": X0}, "together"),
        ({"coef0": np.ones(5)}, "coef0"),
    ],
)
def test_bad_input(kwargs, name):
    args = {"X": X0, "y": Y0, "stages": 5, **kwargs}
    with pytest.raises(ValueError, match=name):
        train_ensemble(**args)


@pytest.mark.parametrize("init", INITS)
def test_divergence_is_detected_at_the_same_stage_by_kernel_and_reference(init):
    """A step size 50x past stability: both paths stop at the first stage whose training loss
    exceeds 1e6 times the initial one, and agree on every loss up to there."""
    X, y = regression_problem(50, 4, 10.0, 0.3, seed=3)
    options = {"init": init, "eta": 50.0, "random_scale": 0.1, "seed": 3}
    if init == "stack":
        options["beta"] = 0.5
    fast = train_ensemble(X, y, 200, **options)
    slow = train_ensemble(X, y, 200, backend="numpy", **options)
    assert fast.status == slow.status == "diverged"
    assert len(fast.losses) == len(slow.losses) < 201
    assert slow.losses[-1] > 1e6 * slow.losses[0]
    assert np.all(slow.losses[1:-1] <= 1e6 * slow.losses[0])
    np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-9)


def test_without_evaluation_data_there_are_no_evaluation_losses():
    X, y = regression_problem(30, 3, 10.0, 0.3, seed=1)
    for backend in ("numba", "numpy"):
        assert train_ensemble(X, y, 5, backend=backend).eval_losses is None


def test_a_failure_inside_the_tree_loop_is_not_blamed_on_tree_options(monkeypatch):
    """Bad tree options are input errors naming ``tree_options``; an error raised while the trees
    are fitted (here: planted) surfaces as what it is, not relabelled as bad input."""
    from sklearn.tree import DecisionTreeRegressor

    from infra.checks import InputError

    X, y = regression_problem(50, 3, 10, 0.1, seed=0)
    with pytest.raises(InputError, match="tree_options"):
        train_ensemble(X, y, 3, learner="tree", init="zero", tree_options={"max_depth": -3})
    with pytest.raises(InputError, match="tree_options"):
        train_ensemble(X, y, 3, learner="tree", init="zero", tree_options={"depth": 3})

    def broken_predict(self, X, check_input=True):
        raise ValueError("planted failure")

    monkeypatch.setattr(DecisionTreeRegressor, "predict", broken_predict)
    with pytest.raises(ValueError, match="planted failure") as raised:
        train_ensemble(X, y, 3, learner="tree", init="zero")
    assert not isinstance(raised.value, InputError)
    assert "tree_options" not in str(raised.value)  # it used to be relabelled as bad options


def test_random_init_noise_has_the_documented_spread():
    """One stage from F_0 = 0 with the new learner at xi ~ N(0, s^2/p I):
    coef_1 = (I - eta Sigma) xi + eta b (Sigma = X^T X / n, b = X^T y / n), so over seeds its
    mean is eta b and its covariance (I - eta Sigma) (s^2/p) (I - eta Sigma)^T."""
    n, p, s, eta, runs = 60, 5, 0.3, 0.5, 4000
    X, y = regression_problem(n, p, 10.0, 0.1, seed=2)
    coefs = np.array([
        train_ensemble(X, y, 1, init="random", random_scale=s, eta=eta, seed=seed).coef
        for seed in range(runs)
    ])  # fmt: skip
    sigma, b = X.T @ X / n, X.T @ y / n
    m = np.eye(p) - eta * sigma
    covariance = m @ m.T * s**2 / p
    measured = np.cov(coefs, rowvar=False)
    # a sample covariance of 4000 draws: entries within 5 standard errors, trace within 10%
    assert np.trace(measured) == pytest.approx(np.trace(covariance), rel=0.1)
    standard_error = np.sqrt((covariance**2 + np.outer(np.diag(covariance), np.diag(covariance)))
                             / runs)  # fmt: skip
    assert np.all(np.abs(measured - covariance) < 5 * standard_error)
    mean_error = np.sqrt(np.diag(covariance) / runs)
    assert np.all(np.abs(coefs.mean(axis=0) - eta * b) < 5 * mean_error)


def test_vectorised_log1p_matches_mpmath():
    # log(1 + e) on [0, 1] (the logistic loss's log1p(exp(-|u|))) against 40-digit mpmath
    mpmath = pytest.importorskip("mpmath")
    from numba import njit

    from sims.blocks import log1p_unit

    mpmath.mp.dps = 40
    e = np.concatenate([np.linspace(0, 1, 2001), np.geomspace(1e-300, 1, 600)])
    log1p = njit(lambda v: log1p_unit(v))
    got = np.array([log1p(v) for v in e])
    exact = np.array([float(mpmath.log1p(mpmath.mpf(v))) for v in e])
    np.testing.assert_allclose(got, exact, rtol=4 * np.finfo(float).eps, atol=0)
