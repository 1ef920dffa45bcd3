"""Additive ensembles (boosting) under zero, random and stacking initialisation of the new learner
(docs/theory.md §1): functional GD, stochastic functional GD on a smoothed loss, Nesterov.

``train_ensemble`` adds one learner per stage and takes one gradient step on its parameters
(linear and random-feature learners, exact Nesterov iterates for stacking: see
``kernel.py``), or, for regression trees, fits one tree to the negative gradient at
the look-ahead point ``F_t + beta f_t``: ``f_{t+1} = beta f_t + eta * tree``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infra.checks import InputError, check_array, check_choice, check_int, check_real, check_steps
from sims.families.boosting import kernel
from sims.families.boosting.reference import ensemble_reference
from sims.problems import as_generator
from sims.results import RunResult, Status
from theory.rates import nesterov_beta

LEARNERS = ("linear", "features", "tree")
INITS = tuple(kernel.INIT_CODES)
LOSSES = ("squared", "logistic")
SCHEDULES = ("constant", "convex")
BACKENDS = ("numba", "numpy")


@dataclass(frozen=True)
class EnsembleResult(RunResult):
    """``losses[t]``: training loss after t learners (index 0: the empty ensemble; squared
    loss ``1/(2n) ||F - y||^2``); ``eval_losses`` likewise on the evaluation data (or None);
    ``coef``: the ensemble's total parameter vector for linear and feature learners."""

    eval_losses: np.ndarray | None
    learner: str
    init: str
    beta: float
    eta: float
    coef: np.ndarray | None = None


def random_features(X, n_features: int, seed, bandwidth: float = 1.0):
    """Random Fourier features ``sqrt(2/m) cos(X Omega^T + b)`` of the Gaussian kernel of the given
    bandwidth (Rahimi & Recht 2007); returns the map as a function of X."""
    rng = as_generator(seed)
    omega = rng.standard_normal((n_features, X.shape[1])) / bandwidth
    phase = rng.uniform(0, 2 * np.pi, n_features)
    return lambda data: np.sqrt(2.0 / n_features) * np.cos(data @ omega.T + phase)


def _check_data(X, y, loss, name_x="X", name_y="y"):
    X = check_array(name_x, X, ndim=2)
    y = check_array(name_y, y, ndim=1)
    if X.shape[0] != y.shape[0]:
        raise InputError(
            f"{name_x} and {name_y} have mismatched lengths: {X.shape[0]} rows "
            f"versus {y.shape[0]} labels"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{name_x} must have at least one row and one column, got {X.shape}")
    if loss == "logistic" and not np.all(np.abs(y) == 1):
        raise InputError(f"{name_y} must hold labels in {{-1, +1}} for loss='logistic'")
    return X, y


def check_options(stages, learner="linear", init="stack", beta=None, loss="squared",
                  schedule="constant") -> None:  # fmt: skip
    """The checks of ``train_ensemble``'s options that need no data (``InputError`` naming the
    first wrong one); the sweep cell runs them when a grid is read, so that a cell that cannot run
    is refused before anything runs."""
    check_choice("learner", learner, LEARNERS)
    check_choice("init", init, INITS)
    check_choice("loss", loss, LOSSES)
    check_choice("schedule", schedule, SCHEDULES)
    check_steps("stages", stages)
    if schedule == "convex" and init != "stack":
        raise InputError("schedule='convex' applies to init='stack' only")
    if beta is not None and init != "stack":
        raise InputError(f"beta applies to init 'stack', not {init!r}")
    if beta is not None:
        check_real("beta", beta, low=0.0, high=1.0)
    if learner == "tree":
        if loss != "squared":
            raise InputError("learner='tree' supports loss='squared' only")
        if init == "random":
            raise InputError("init='random' is not defined for tree learners")
        if init == "stack" and beta is None:
            raise InputError(
                "init='stack' with trees needs an explicit beta (no kappa to derive it)"
            )


def train_ensemble(
    X,
    y,
    stages,
    learner="linear",
    init="stack",
    beta=None,
    eta=None,
    loss="squared",
    schedule="constant",
    n_features=None,
    random_scale=0.0,
    seed=None,
    X_eval=None,
    y_eval=None,
    *,
    tree_options=None,
    coef0=None,
    backend="numba",
) -> EnsembleResult:
    """Boost ``stages`` learners on (X, y); see the module docstring.

    learner: "linear" (``f(x) = a . x``), "features" (linear in ``n_features`` random Fourier
    features) or "tree" (``sklearn`` regression tree; ``tree_options`` are passed to it, default
    ``max_depth=3``). init: "zero" | "random" (``N(0, random_scale^2/p)`` parameters; trees: not
    available) | "stack" (``beta f_t``) | "copy" (beta = 1). schedule: "constant" beta (default
    ``nesterov_beta(kappa)`` of ``Z^T Z / n``) or "convex" (``beta_t = (t-1)/(t+2)``). eta: step
    size, default ``1/L`` (``L = lambda_max(Z^T Z/n)``, divided by 4 for logistic loss); for trees
    the shrinkage, default 0.1. coef0: initial model ``F_0 = coef0 . z(x)`` (linear and feature
    learners; default 0).
    """
    if coef0 is not None and learner == "tree":
        raise InputError("coef0 applies to linear and feature learners only")
    check_options(stages, learner, init, beta, loss, schedule)
    check_choice("backend", backend, BACKENDS)
    stages = int(stages)
    X, y = _check_data(X, y, loss)
    has_eval = X_eval is not None or y_eval is not None
    if has_eval:
        if X_eval is None or y_eval is None:
            raise InputError("X_eval and y_eval must be given together")
        X_eval, y_eval = _check_data(X_eval, y_eval, loss, "X_eval", "y_eval")
        if X_eval.shape[1] != X.shape[1]:
            raise InputError(f"X_eval must have {X.shape[1]} columns like X, got {X_eval.shape[1]}")
    beta = None if beta is None else float(beta)
    random_scale = check_real("random_scale", random_scale, low=0.0)
    if learner == "tree":
        return _train_trees(
            X, y, stages, init, beta, eta, loss, X_eval, y_eval, seed, tree_options or {}
        )
    if tree_options is not None:
        raise InputError("tree_options applies to learner='tree' only")
    if learner == "features":
        if n_features is None:
            raise InputError("n_features is required for learner='features'")
        n_features = check_int("n_features", n_features, low=1)
        feature_map = random_features(X, n_features, seed)
        Z, Ze = feature_map(X), (feature_map(X_eval) if has_eval else None)
    else:
        if n_features is not None:
            raise InputError("n_features applies to learner='features' only")
        Z, Ze = X, X_eval
    n, p = Z.shape
    coef0 = np.zeros(p) if coef0 is None else check_array("coef0", coef0, ndim=1)
    if coef0.shape != (p,):
        raise InputError(
            f"coef0 must have length {p} (the learner's parameters), got {coef0.shape}"
        )
    H = Z.T @ Z / n
    spectrum = np.linalg.eigvalsh(H)
    L = spectrum[-1] / (4.0 if loss == "logistic" else 1.0)
    if L <= 0:
        raise InputError("X must not be identically zero")
    eta = 1.0 / L if eta is None else check_real("eta", eta, low=0.0, low_open=True)
    if init == "copy":
        beta = 1.0
    elif init == "stack" and schedule == "constant" and beta is None:
        if spectrum[0] <= 1e-12 * spectrum[-1]:
            raise InputError("Z^T Z / n is singular: pass beta explicitly for init='stack'")
        beta = nesterov_beta(spectrum[-1] / spectrum[0])
    beta = 0.0 if beta is None else beta
    noise = (
        as_generator(seed).standard_normal((stages, p)) * (random_scale / np.sqrt(p))
        if init == "random"
        else np.zeros((1, p))
    )
    if backend == "numpy":
        losses, eval_losses, coef, status = ensemble_reference(
            Z,
            y,
            Ze,
            y_eval,
            stages,
            loss == "logistic",
            schedule == "convex",
            beta,
            eta,
            init,
            noise,
            coef0,
        )
    else:
        losses, eval_losses, coef, status = _run_kernel(
            Z, y, Ze, y_eval, stages, loss, schedule, beta, eta, init, noise, coef0
        )
    return EnsembleResult(losses, status, eval_losses, learner, init, beta, eta, coef)


def _gram(Z, y):
    n = Z.shape[0]
    return Z.T @ Z / n, Z.T @ y / n, float(y @ y / (2 * n))


def _run_kernel(Z, y, Ze, ye, stages, loss, schedule, beta, eta, init, noise, coef0):
    has_eval = Ze is not None
    H, b, c = _gram(Z, y)
    He, be, ce = _gram(Ze, ye) if has_eval else (H, b, c)
    Ze, ye = (Ze, ye) if has_eval else (Z, y)
    losses = np.full((1, stages + 1), np.nan)
    eval_losses = np.full((1, stages + 1), np.nan)
    coef = coef0[None].copy()
    n_done, status = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    kernel.ensemble_batch(
        Z[None],
        y[None],
        H[None],
        b[None],
        np.array([c]),
        Ze[None],
        ye[None],
        He[None],
        be[None],
        np.array([ce]),
        has_eval,
        stages,
        loss == "logistic",
        schedule == "convex",
        np.array([beta]),
        np.array([eta]),
        np.array([kernel.INIT_CODES[init]]),
        noise[None],
        losses,
        eval_losses,
        coef,
        n_done,
        status,
    )
    m = n_done[0] + 1
    return (
        losses[0, :m],
        eval_losses[0, :m] if has_eval else None,
        coef[0],
        Status.from_code(status[0]),
    )


def _train_trees(X, y, stages, init, beta, eta, loss, X_eval, y_eval, seed, tree_options):
    from sklearn.tree import DecisionTreeRegressor

    beta = {"zero": 0.0, "copy": 1.0}.get(init, beta)
    eta = 0.1 if eta is None else check_real("eta", eta, low=0.0, low_open=True)
    if not isinstance(tree_options, dict):
        raise InputError(f"tree_options must be a dict, got {type(tree_options).__name__}")
    options = {"max_depth": 3, **tree_options}
    try:  # scikit-learn checks an estimator's options when it is built and when it is fitted
        DecisionTreeRegressor(**options).fit(X[:2], y[:2])
    except (TypeError, ValueError) as exc:
        raise InputError(f"tree_options: {exc}") from None
    # one RandomState drawn from by every tree, as scikit-learn's GradientBoostingRegressor does
    if isinstance(seed, np.random.SeedSequence):
        seed = int(seed.generate_state(1)[0])
    random_state = np.random.RandomState(seed if isinstance(seed, int) else None)
    X32 = X.astype(np.float32)
    Xe32 = None if X_eval is None else X_eval.astype(np.float32)
    F, f = np.zeros_like(y), np.zeros_like(y)
    Fe = None if X_eval is None else np.zeros_like(y_eval)
    fe = None if X_eval is None else np.zeros_like(y_eval)
    losses = [float(np.mean((F - y) ** 2) / 2)]
    eval_losses = None if X_eval is None else [float(np.mean((Fe - y_eval) ** 2) / 2)]
    for _ in range(stages):
        residual = y - (F + beta * f)  # negative gradient of 1/2 (F - y)^2 at the look-ahead
        tree = DecisionTreeRegressor(random_state=random_state, **options)
        tree.fit(X32, residual, check_input=False)
        f = beta * f + eta * tree.predict(X32, check_input=False)
        F = F + f
        losses.append(float(np.mean((F - y) ** 2) / 2))
        if eval_losses is not None:
            fe = beta * fe + eta * tree.predict(Xe32, check_input=False)
            Fe = Fe + fe
            eval_losses.append(float(np.mean((Fe - y_eval) ** 2) / 2))
    return EnsembleResult(
        np.array(losses),
        Status.MAX_STAGES,
        None if eval_losses is None else np.array(eval_losses),
        "tree",
        init,
        beta,
        eta,
        None,
    )
