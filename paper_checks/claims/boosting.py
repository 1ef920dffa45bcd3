"""Claims about additive ensembles (boosting) from "Stacking as Accelerated Gradient Descent"
(Agarwal et al.; arXiv 2403.04978, which says its theory "also covers ... additive ensembles
constructed in boosting methods"; docs/theory.md §1).

Oracles: Nesterov's and gradient descent's iterates written out here in residual form,
scikit-learn's GradientBoostingRegressor, SciPy's L-BFGS for the logistic optimum, Gauss-Hermite
quadrature for the smoothed loss, and least squares for the squared-loss optimum.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.optimize import minimize

from paper_checks.expect import AtMost, Near, exact, median_interval, pooled_slope
from paper_checks.measure import at_scales, fitted_slope, generator, planted_power_law, seeds
from paper_checks.registry import Control, Measurement, Revision, claim, figure
from sims.families.boosting import train_ensemble
from sims.problems import classification_problem, regression_problem
from theory import spectral
from theory.rates import nesterov_beta

PAPER = "Agarwal et al. 2024 (arXiv 2403.04978)"
KAPPAS = (10, 100, 1000, 10000)

# sizes per scale
LINEAR_SEEDS = {"quick": 2, "paper": 5}  # seeds per kappa, boosting.linear-is-nesterov
TREE_STAGES = {"quick": 100, "paper": 300}  # boosting.trees-are-gradient-boosting
SMOOTHING_DRAWS = {"quick": 8000, "paper": 20000}  # random-init stages, smoothed_stage
LOGISTIC_STAGES = {"quick": 400, "paper": 1000}  # logistic_gaps
SCALING_SEEDS = {"quick": 3, "paper": 5}  # seeds per kappa, boosting.strongly-convex-scaling
TREE_BUDGET = {"quick": (100, 3), "paper": (300, 5)}  # (tree fits, seeds), tree_comparison


def _nag_weights(X, y, stages, beta, eta):
    """Nesterov's method on w -> 1/(2n)||X w - y||^2, residual form; beta = 0 gives GD."""
    n = X.shape[0]
    w_prev = w = np.zeros(X.shape[1])
    losses = [np.sum(y**2) / (2 * n)]
    for _ in range(stages):
        look = w + beta * (w - w_prev)
        w_prev, w = w, look - eta * X.T @ (X @ look - y) / n
        losses.append(np.sum((X @ w - y) ** 2) / (2 * n))
    return np.array(losses), w


def _nag_velocity_form(X, y, stages, beta, eta):
    """The same method written with a velocity: ``v_{k+1} = beta v_k - eta grad(w_k + beta
    v_k)``, ``w_{k+1} = w_k + v_{k+1}`` (an independent transcription of Nesterov's method)."""
    n = X.shape[0]
    w, v = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    losses = [np.sum(y**2) / (2 * n)]
    for _ in range(stages):
        v = beta * v - eta * X.T @ (X @ (w + beta * v) - y) / n
        w = w + v
        losses.append(np.sum((X @ w - y) ** 2) / (2 * n))
    return np.array(losses), w


@claim(
    id="boosting.linear-is-nesterov",
    source=f"{PAPER}, §2 (zero init = functional GD, stacking init = Nesterov)",
    provenance="paper",
    statement="with linear learners, zero-init boosting is gradient descent and stacking-init "
    "boosting is Nesterov's method on w -> R(Xw), exactly",
    measurement="max relative difference of losses and final coefficients over 200 stages, "
    f"kappa(X^T X / n) in {{10, 100, 1000, 10000}}, {at_scales(LINEAR_SEEDS, ' seeds')}",
    expect={"max relative difference": AtMost(1e-10)},
    positive=Control(
        "the velocity form of Nesterov's method (an independent transcription) in "
        "place of boosting",
        model="velocity form",
    ),
    negative=Control(
        "boosting compared with Nesterov's method at 0.9 beta* (a perturbed recursion)",
        reference_beta=0.9,
    ),
    figures=("boosting-inits",),
    must_hold=True,
)
def _linear_is_nesterov(scale, *, model="boosting", reference_beta=None):
    """Boosting (or ``model``) against Nesterov's method with the run's momentum, or with
    ``reference_beta`` beta* for every run."""
    worst = 0.0
    for kappa in KAPPAS:
        for seed in seeds(LINEAR_SEEDS[scale], f"boosting.linear-is-nesterov/{kappa}"):
            X, y = regression_problem(200, 10, kappa, 0.3, seed=seed)
            spectrum = np.linalg.eigvalsh(X.T @ X / 200)
            eta, beta = 1 / spectrum[-1], nesterov_beta(spectrum[-1] / spectrum[0])
            for init, momentum in (("zero", 0.0), ("stack", beta)):
                if model == "velocity form":
                    run_losses, run_coef = _nag_velocity_form(X, y, 200, momentum, eta)
                else:
                    run = train_ensemble(X, y, 200, init=init)
                    run_losses, run_coef = run.losses, run.coef
                if reference_beta is not None:
                    momentum = reference_beta * beta
                losses, w = _nag_weights(X, y, 200, momentum, eta)
                worst = max(
                    worst,
                    float(np.max(np.abs(run_losses / losses - 1))),
                    float(np.linalg.norm(run_coef - w) / np.linalg.norm(w)),
                )
    return Measurement(
        {"max relative difference": exact(worst)},
        {"max_relative_difference": worst},
        f"max relative difference {worst:.1e}",
    )


def _sklearn_staged(X, y, stages, eta, depth, seed):
    from sklearn.ensemble import GradientBoostingRegressor

    gbr = GradientBoostingRegressor(
        loss="squared_error",
        subsample=1.0,
        n_estimators=stages,
        learning_rate=eta,
        max_depth=depth,
        random_state=seed,
        init="zero",
    )
    gbr.fit(X, y)
    return np.array(
        [np.mean(y**2) / 2] + [np.mean((y - p) ** 2) / 2 for p in gbr.staged_predict(X)]
    )


def _ill_conditioned_regression(n, seed):
    """Correlated features (kappa 1e4) and a nonlinear target: hard for trees and linear fits."""
    X, _ = regression_problem(n, 8, 1e4, 0.0, seed=seed)
    target = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3]
    return X, target + 0.3 * np.random.default_rng(seed).standard_normal(n)


def _friedman(n, seed):
    from sklearn.datasets import make_friedman1

    return make_friedman1(n_samples=n, noise=1.0, random_state=seed)


@claim(
    id="boosting.trees-are-gradient-boosting",
    source=f"{PAPER}, §2 (zero init = functional gradient descent = gradient boosting)",
    provenance="paper",
    statement="zero-init boosting with regression trees is scikit-learn's gradient boosting",
    measurement=f"max relative difference of the staged train MSE ({at_scales(TREE_STAGES, ' stages')}) and that of "
    "GradientBoostingRegressor(loss='squared_error', subsample=1.0, init='zero') with the same "
    "depth, learning rate 0.1 and seed (Friedman #1 and an ill-conditioned problem, 2 seeds)",
    expect={"max relative difference": AtMost(1e-10)},
    positive=Control(
        "scikit-learn against itself, fitted twice with the same seed", model="scikit-learn"
    ),
    negative=Control(
        "zero-init boosting at learning rate 0.11 against scikit-learn at 0.1", eta=0.11
    ),
    must_hold=True,
)
def _trees_are_gbr(scale, *, model="boosting", eta=0.1):
    worst, stages = 0.0, TREE_STAGES[scale]
    for make in (_friedman, _ill_conditioned_regression):
        for seed in seeds(2, "boosting.trees-are-gradient-boosting"):
            X, y = make(300, seed % 1000)
            theirs = _sklearn_staged(X, y, stages, 0.1, 3, seed % 1000)
            if model == "scikit-learn":
                ours = _sklearn_staged(X, y, stages, 0.1, 3, seed % 1000)
            else:
                ours = train_ensemble(
                    X, y, stages, learner="tree", init="zero",
                    eta=eta, seed=seed % 1000,
                    tree_options={"max_depth": 3},
                ).losses  # fmt: skip
            worst = max(worst, float(np.max(np.abs(ours / theirs - 1))))
    return Measurement(
        {"max relative difference": exact(worst)},
        {"max_relative_difference": worst},
        f"max relative difference of staged train MSE {worst:.1e}",
    )


def smoothed_logistic_gradient(X, y, w, scale, nodes=80):
    """Gradient of ``E_xi R(w + xi)``, ``xi ~ N(0, scale^2/p I)``, for the logistic risk, by
    Gauss-Hermite quadrature of each sample's margin ``y_i x_i.(w + xi) ~ N(m_i, s_i^2)``."""
    n, p = X.shape
    t, weights = np.polynomial.hermite_e.hermegauss(nodes)  # probabilists' Hermite
    weights = weights / weights.sum()
    mean = y * (X @ w)
    sd = scale * np.linalg.norm(X, axis=1) / np.sqrt(p)
    margins = mean[:, None] + sd[:, None] * t[None, :]
    expected_sigmoid = (1.0 / (1.0 + np.exp(margins))) @ weights  # E sigma(-m)
    return -(X * (y * expected_sigmoid)[:, None]).sum(axis=0) / n


@cache
def smoothed_stage(scale: str) -> dict:
    """One random-init stage of logistic boosting from w0, repeated over draws (8000; 20000 at
    paper scale); the smoothed gradient step it should equal in expectation (Gauss-Hermite); and
    the direct Monte-Carlo estimate of that step, ``-eta grad R(w0 + xi)`` over the same number of
    draws of xi."""
    draws = SMOOTHING_DRAWS[scale]
    X, y = classification_problem(200, 5, 10, 0.1, seed=5)
    w0, noise_scale = 0.5 * np.ones(5), 0.5
    updates = np.array(
        [
            train_ensemble(
                X, y, 1, init="random", loss="logistic", random_scale=noise_scale, seed=k, coef0=w0
            ).coef
            - w0
            for k in range(draws)
        ]
    )
    eta = 1 / (np.linalg.eigvalsh(X.T @ X / 200)[-1] / 4)
    rng = generator("boosting.random-init-smoothed-gd")
    xi = rng.standard_normal((draws, 5)) * noise_scale / np.sqrt(5)
    direct = -eta * np.array([smoothed_logistic_gradient(X, y, w0 + x, 0.0, nodes=1) for x in xi])
    return {
        "updates": updates,
        "direct": direct,
        "smoothed": -eta * smoothed_logistic_gradient(X, y, w0, noise_scale),
        "unsmoothed": -eta * smoothed_logistic_gradient(X, y, w0, 0.0, nodes=1),
    }


@cache
def boosting_plateaus(scale: str) -> dict:
    """Squared loss, linear learners: per random_scale, the plateau (mean excess loss over stages
    400-600 above zero init's final loss) of 5 seeds."""
    Xr, yr = regression_problem(200, 10, 10, 0.1, seed=6)
    floor = train_ensemble(Xr, yr, 600, init="zero").losses[-1]
    return {
        s: [
            float(
                np.mean(
                    train_ensemble(Xr, yr, 600, init="random", random_scale=s, seed=k).losses[400:]
                )
                - floor
            )
            for k in range(5)
        ]
        for s in RANDOM_SCALES
    }


RANDOM_SCALES = (1e-3, 3e-3, 1e-2, 3e-2)


@claim(
    id="boosting.random-init-smoothed-gd",
    source=f"{PAPER}, §2 (random init = stochastic functional GD on the smoothed loss)",
    provenance="paper",
    statement="with random initialisation one stage is, in expectation, a gradient step on the "
    "smoothed loss E R(F + xi), and the noise stays in the model: the loss plateaus at "
    "a level growing like random_scale^2",
    measurement="largest |z| over the 5 coordinates of the Monte-Carlo mean of one stage's update "
    f"(logistic loss, {at_scales(SMOOTHING_DRAWS, ' draws')}) against -eta grad R~ (Gauss-Hermite) "
    "('max |z|'); log-log slope over random_scale of the squared-loss plateau, 5 seeds "
    "('plateau slope')",
    expect={"max |z|": AtMost(4.0), "plateau slope": Near(2.0, 0.2)},
    positive=Control(
        "the smoothed step estimated directly as the mean of -eta grad R(w0 + xi) "
        "over draws of xi; planted plateaus a s^2 per seed",
        draws="direct",
        plateaus="planted s^2",
    ),
    negative=Control(
        "the unsmoothed step -eta grad R(w0) as the expectation; the noise scale "
        "held at 1e-3 for every random_scale (the plateau cannot grow)",
        expectation="unsmoothed",
        plateaus="one scale",
    ),
    why_planted="the plateau's s^2 law is what the claim tests, and with the squared loss and "
    "linear learners random-init boosting is itself a recursion linear in the noise, "
    "F_{t+1} = F_t + xi_t - eta grad R(F_t + xi_t), whose plateau is exactly proportional to "
    "s^2: the reference a measured positive control would use is the claim arm's own system, so "
    "the plateau half keeps a planted positive (the update half is measured)",
    revisions=(
        Revision(
            2,
            "8000 Monte-Carlo draws at quick scale instead of 2000: with 2000 the unsmoothed step "
            "gave |z| = 3.11, inside the band, so the z statistic could not tell smoothed from "
            "unsmoothed",
        ),
    ),
)
def _random_init(scale, *, draws="updates", expectation="smoothed", plateaus="measured"):
    """``draws``: boosting's stage updates or the direct smoothed step; ``expectation``: what
    their mean is compared with; ``plateaus``: measured per random_scale, planted a s^2, or
    every scale's runs made at the first one."""
    stage = smoothed_stage(scale)
    draws, expected = stage[draws], stage[expectation]
    z = (draws.mean(axis=0) - expected) / (draws.std(axis=0, ddof=1) / np.sqrt(len(draws)))
    measured = boosting_plateaus(scale)
    plateaus = {
        "measured": measured,
        "planted s^2": planted_power_law(measured[1e-2], 1e-2, RANDOM_SCALES, 2.0),
        "one scale": dict.fromkeys(RANDOM_SCALES, measured[RANDOM_SCALES[0]]),
    }[plateaus]
    slope = pooled_slope(plateaus)
    top = float(np.max(np.abs(z)))
    return Measurement(
        {"max |z|": exact(top, len(draws)), "plateau slope": slope},
        {
            "z_scores": z.tolist(),
            "median_plateau_excess": [float(np.median(plateaus[s])) for s in RANDOM_SCALES],
        },
        f"max |z| = {top:.2f} over {len(z)} coordinates; plateau slope {slope.text()}",
    )


def logistic_optimum(X, y) -> tuple[float, np.ndarray]:
    """Minimum and minimiser of the logistic risk: SciPy's L-BFGS, then Newton steps to machine
    precision."""
    n = X.shape[0]

    def risk(w):
        return np.mean(np.logaddexp(0, -y * (X @ w)))

    def grad(w):
        return -(X * (y / (1 + np.exp(y * (X @ w))))[:, None]).sum(0) / n

    w = minimize(
        risk,
        np.zeros(X.shape[1]),
        jac=grad,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "maxiter": 100000},
    ).x
    for _ in range(30):
        s = 1 / (1 + np.exp(-y * (X @ w)))
        hessian = (X * (s * (1 - s))[:, None]).T @ X / n
        w = w - np.linalg.solve(hessian, grad(w))
    return float(risk(w)), w


@cache
def logistic_gaps(scale: str) -> dict:
    """Suboptimality gaps per stage of logistic boosting (linear learners, step 1/L), convex
    schedule (stack) and zero init; the optimum, L = lambda_max(X^T X / n) / 4 and ||w_0 - w*||^2
    (w_0 = 0)."""
    stages = LOGISTIC_STAGES[scale]
    X, y = classification_problem(500, 20, 1e4, 0.1, seed=21)
    optimum, w_star = logistic_optimum(X, y)
    gaps = {}
    for label, options in (
        ("stack (convex schedule)", {"init": "stack", "schedule": "convex"}),
        ("zero init", {"init": "zero"}),
    ):
        run = train_ensemble(X, y, stages, loss="logistic", **options)
        gaps[label] = run.losses - optimum
    gaps["optimum"] = optimum
    gaps["L"] = float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1] / 4)
    gaps["distance"] = float(w_star @ w_star)
    return gaps


CURVES = ("stack (convex schedule)", "zero init")


def textbook_bounds(gaps) -> dict:
    """Per stage T >= 1: Nesterov's bound ``2 L ||w_0 - w*||^2 / (T + 1)^2`` for the convex
    schedule (Beck and Teboulle 2009, Thm 4.4) and GD's ``L ||w_0 - w*||^2 / (2T)`` (Nesterov
    2004, Cor. 2.1.2; both with step 1/L)."""
    t = np.arange(1, len(gaps["zero init"]))
    scale = gaps["L"] * gaps["distance"]
    return {"stack (convex schedule)": 2 * scale / (t + 1) ** 2, "zero init": scale / (2 * t)}


@claim(
    id="boosting.convex-rate",
    source=f"{PAPER}, §2 with Nesterov 1983 (smooth convex: O(1/T^2) versus O(1/T))",
    provenance="reconstructed",
    statement="on the logistic loss (smooth convex) stacking with beta_t = (t-1)/(t+2) keeps the "
    "gap below Nesterov's bound 2 L ||w_0 - w*||^2 / (T+1)^2 at every stage, zero init below "
    "GD's L ||w_0 - w*||^2 / (2T); the fitted slopes are reported (they are steeper than -2 and "
    "-1 where the loss is locally strongly convex)",
    measurement="non-separable data, kappa(X^T X / n) = 1e4, one run each, "
    f"{at_scales(LOGISTIC_STAGES, ' stages')}: the largest gap / bound over T >= 1 ('stacking gap / 1/T^2 bound', 'zero-init "
    "gap / 1/T bound'); log-log slopes of the gap over T/10..T reported",
    expect={"stacking gap / 1/T^2 bound": AtMost(1.0), "zero-init gap / 1/T bound": AtMost(1.0)},
    positive=Control("planted gaps at half of each bound", gaps="planted at half the bounds"),
    negative=Control(
        "zero init's measured gaps against the 1/T^2 bound; planted zero-init gaps "
        "at twice the 1/T bound",
        gaps="zero init's as stacking's",
    ),
    why_planted="the statement is two worst-case bounds on one instance: exact NAG and GD on w -> R(Xw) are the claim's own runs (boosting.linear-is-nesterov), no method is known to sit at a fixed fraction of both bounds on it, and none is known to exceed GD's 1/T bound there (any step <= 1/L keeps below it; a larger step on the logistic loss need not diverge)",
    figures=("boosting-logistic-rate",),
    group="boosting.logistic-gaps",
    minutes=0.5,
    must_hold=True,
    revisions=(
        Revision(
            2,
            "revision 1 fitted log-log slopes over T/10..T (stacking -3.3: local strong convexity, "
            "not the 1/T^2 rate) against bands; now the textbook bounds are checked at every "
            "stage, and the slopes reported",
        ),
    ),
)
def _convex_rate(scale, *, gaps="measured"):
    measured = dict(logistic_gaps(scale))
    bounds = textbook_bounds(measured)
    curves = {label: measured[label][1:] for label in CURVES}
    t = np.arange(1, len(curves["zero init"]) + 1)
    if gaps == "planted at half the bounds":
        curves = {label: 0.5 * bounds[label] for label in CURVES}
    elif gaps == "zero init's as stacking's":
        curves = {"stack (convex schedule)": curves["zero init"],
                  "zero init": 2 * bounds["zero init"]}  # fmt: skip
    worst = {label: float(np.max(curves[label] / bounds[label])) for label in CURVES}
    slopes = {}
    for label in CURVES:
        window = np.arange(len(t) // 10, len(t))
        slopes[label] = fitted_slope(t[window], np.maximum(curves[label][window], 1e-300))
    return Measurement(
        {"stacking gap / 1/T^2 bound": exact(worst["stack (convex schedule)"]),
         "zero-init gap / 1/T bound": exact(worst["zero init"])},
        {"largest_gap_over_bound": worst, "slopes": slopes,
         "final_gap": {k: float(v[-1]) for k, v in curves.items()}},
        f"largest gap / bound: stack {worst['stack (convex schedule)']:.3g}, zero "
        f"{worst['zero init']:.3g}; slopes over T/10..T: stack "
        f"{slopes['stack (convex schedule)']:.2f}, zero {slopes['zero init']:.2f}",
    )  # fmt: skip


@cache
def strongly_convex_stages(scale: str) -> dict:
    """Stages to the gap ``1e-6 (mu/2) ||w_0 - w*||^2`` (w_0 = 0; relative to the distance to the
    optimum, not to the initial gap) per (method, kappa), one entry per seed: boosting with
    stacking and zero init (linear learners, squared loss) and Nesterov's method written out here
    (``_nag_weights``) and GD in closed form (theory.spectral), on the same instances."""
    table = {}
    for kappa in KAPPAS:
        for seed in seeds(SCALING_SEEDS[scale], f"boosting.strongly-convex-scaling/{kappa}"):
            X, y = regression_problem(200, 10, kappa, 0.3, seed=seed)
            coef = np.linalg.lstsq(X, y, rcond=None)[0]
            optimum = np.sum((X @ coef - y) ** 2) / 400
            spectrum = np.linalg.eigvalsh(X.T @ X / 200)
            eta, beta = 1 / spectrum[-1], nesterov_beta(spectrum[-1] / spectrum[0])
            relative = 1e-6 * spectrum[0] * (coef @ coef) / (coef @ (X.T @ X / 200) @ coef)
            for method in ("stack", "zero", "nag"):
                budget = (
                    int(40 * kappa + 200) if method == "zero" else int(60 * np.sqrt(kappa) + 200)
                )
                if method == "nag":
                    losses = _nag_weights(X, y, budget, beta, eta)[0]
                else:
                    losses = train_ensemble(X, y, budget, init=method).losses
                target = optimum + relative * (losses[0] - optimum)
                reached = np.flatnonzero(losses <= target)
                table.setdefault((method, kappa), []).append(
                    float(reached[0]) if reached.size else np.inf
                )
            lam, q = np.linalg.eigh(X.T @ X / 200)  # GD from w = 0, in closed form
            table.setdefault(("gd", kappa), []).append(
                spectral.gd_steps_on_quadratic(
                    lam, (q.T @ coef) ** 2, relative, 1 / lam[-1], int(40 * kappa + 200)
                )
            )
    return table


@claim(
    id="boosting.strongly-convex-scaling",
    source=f"{PAPER}, §2 with Nesterov 2004 (strongly convex rates)",
    provenance="reconstructed",
    statement="with squared loss, stages to reach a fixed accuracy grow like sqrt(kappa) for "
    "stacking and like kappa for zero init",
    measurement="log-log slope (linregress interval) of stages to the gap 1e-6 (mu/2) ||w_0 - "
    "w*||^2 over kappa in {10, 100, 1000, 10000}, one point per seed",
    expect={"stacking slope": Near(0.5, 0.1), "zero-init slope": Near(1.0, 0.1)},
    positive=Control(
        "Nesterov's method on w -> R(Xw) (written out, not boosting) and GD's "
        "closed form on the same instances",
        methods=("nag", "gd"),
    ),
    negative=Control("zero init in place of stacking", methods=("zero", "zero")),
    group="boosting.logistic-gaps",
    revisions=(
        Revision(
            2,
            "gap target relative to the distance to the optimum, 1e-6 (mu/2) ||w_0 - w*||^2, "
            "instead of 1e-6 of the initial gap (the slowest direction holds ~1/kappa of the "
            "initial gap, which biased the slopes low: GD in closed form fitted 0.925 [0.879, "
            "0.971], the positive control failed)",
        ),
    ),
)
def _strongly_convex(scale, *, methods=("stack", "zero")):
    table = strongly_convex_stages(scale)
    fast, slow = methods
    slopes = {
        name: pooled_slope({k: table[(m, k)] for k in KAPPAS})
        for name, m in (("stacking slope", fast), ("zero-init slope", slow))
    }
    medians = {m: [float(np.median(table[(m, k)])) for k in KAPPAS] for m in (fast, slow)}
    return Measurement(
        slopes,
        {"median_stages": medians},
        f"slopes: {fast} {slopes['stacking slope'].text()}, {slow} {slopes['zero-init slope'].text()}",
    )


SHRINKAGES = (0.03, 0.1, 0.3, 1.0)
DECIDED_SHRINKAGES = (0.03, 0.1)
TREE_BETAS = (0.3, 0.6, 0.9)
# the controls of boosting.trees-tuned: zero init at these multiples of a decided shrinkage
CONTROL_FACTORS = {"positive": 2.0, "negative": 2 / 3}


@cache
def tree_comparison(scale: str) -> dict:
    """Tree boosting, zero init and stacking (each beta of TREE_BETAS) at every shrinkage of
    SHRINKAGES, and zero init at CONTROL_FACTORS times each of DECIDED_SHRINKAGES (the
    controls); equal budget of tree fits, several seeds; one ``_tree_row`` per seed."""
    budget, n_seeds = TREE_BUDGET[scale]
    out = {}
    for name, make in (("friedman1", _friedman), ("ill-conditioned", _ill_conditioned_regression)):
        rows = []
        for seed in seeds(n_seeds, f"boosting.trees-tuned/{name}"):
            X, y = make(600, seed % 1000)
            Xt, yt, Xv, yv = X[:400], y[:400], X[400:], y[400:]
            runs = {
                ("zero", eta, 0.0): train_ensemble(
                    Xt,
                    yt,
                    budget,
                    learner="tree",
                    init="zero",
                    eta=eta,
                    seed=seed % 1000,
                    X_eval=Xv,
                    y_eval=yv,
                )
                for eta in SHRINKAGES
            }
            runs.update(
                {
                    ("stack", eta, beta): train_ensemble(
                        Xt,
                        yt,
                        budget,
                        learner="tree",
                        init="stack",
                        beta=beta,
                        eta=eta,
                        seed=seed % 1000,
                        X_eval=Xv,
                        y_eval=yv,
                    )
                    for eta in SHRINKAGES
                    for beta in TREE_BETAS
                }
            )
            runs.update(
                {
                    ("control", eta, factor): train_ensemble(
                        Xt, yt, budget, learner="tree", init="zero", eta=factor * eta,
                        seed=seed % 1000, X_eval=Xv, y_eval=yv,
                    )
                    for eta in DECIDED_SHRINKAGES
                    for factor in CONTROL_FACTORS.values()
                }
            )  # fmt: skip
            rows.append(_tree_row(runs, budget))
        out[name] = rows
    return out


def _tree_row(runs, budget) -> dict:
    """One seed's comparison. Per shrinkage: rounds of zero init to the training loss it reaches
    at half the budget, and of stacking (best beta) to the same target. Held-out race: the
    rounds each method (own best shrinkage and beta) needs to reach the best held-out loss of
    tuned zero init over the first half of the budget; best held-out losses over everything.
    Per decided shrinkage and control arm: rounds of zero init at the arm's multiple of it to
    the same target."""
    row = {"per_shrinkage": {}, "controls": {arm: {} for arm in CONTROL_FACTORS}}
    for eta in SHRINKAGES:
        zero = runs[("zero", eta, 0.0)]
        target = zero.losses[budget // 2]
        stack = min(runs[("stack", eta, b)].steps_to(target, relative=False) for b in TREE_BETAS)
        row["per_shrinkage"][eta] = (float(zero.steps_to(target, relative=False)), float(stack))
        if eta in DECIDED_SHRINKAGES:
            for arm, factor in CONTROL_FACTORS.items():
                control = runs[("control", eta, factor)].steps_to(target, relative=False)
                row["controls"][arm][eta] = float(control)
    heldout_target = min(np.min(r.eval_losses[: budget // 2 + 1])
                         for (m, _, _), r in runs.items() if m == "zero")  # fmt: skip
    for method in ("zero", "stack"):
        mine = {k: r for k, r in runs.items() if k[0] == method}
        row[f"{method}_heldout_rounds"] = float(min(
            (np.flatnonzero(r.eval_losses <= heldout_target)[:1].tolist() or [np.inf])[0]
            for r in mine.values()
        ))  # fmt: skip
        row[f"{method}_best_heldout"] = float(min(np.min(r.eval_losses) for r in mine.values()))
        best = min(mine, key=lambda k: np.min(mine[k].eval_losses))
        row[f"{method}_best_heldout_setting"] = f"eta={best[1]}, beta={best[2]}"
    return row


@claim(
    id="boosting.trees-tuned",
    source=f"{PAPER}, §2 (stacking initialisation for boosting; its Figure 3 is a diagram of the "
    "method, not an experiment); protocol after AlgoPerf",
    provenance="reconstructed",
    statement="with regression trees and a small shrinkage (where function-space GD is slow and "
    "momentum has something to fix), stacking initialisation (best beta from a fixed grid) "
    "reaches zero initialisation's training-loss target in fewer rounds; at shrinkage 1 "
    "(squared loss: kappa = 1 in function space) the theory predicts no gain, and a race to a "
    "held-out target is reported beside it",
    measurement="per dataset (Friedman #1 and an ill-conditioned problem) and shrinkage in {0.03, "
    "0.1, 0.3, 1}: per seed, rounds of stacking (best beta in {0.3, 0.6, 0.9}) to the training "
    "loss zero init reaches at half the budget over zero init's rounds; median over seeds with "
    "bootstrap interval ('<dataset>, eta = <shrinkage>' for 0.03 and 0.1; 0.3 and 1 reported); "
    "the rounds each method, at its own best setting, needs to reach tuned zero init's best "
    "held-out loss of the first half of the budget, reported",
    expect={
        f"{name}, eta = {eta}": AtMost(0.999)
        for name in ("friedman1", "ill-conditioned")
        for eta in DECIDED_SHRINKAGES
    },
    positive=Control(
        "zero init at twice the decided shrinkage in place of stacking (a longer step along the "
        "same functional gradient: at small shrinkage about half the rounds)",
        arm="positive",
    ),
    negative=Control(
        "zero init at two thirds of the decided shrinkage in place of stacking (about 1.5 times "
        "the rounds)",
        arm="negative",
    ),
    figures=("boosting-trees",),
    minutes=1.5,
    revisions=(
        Revision(
            2,
            "each method at its own best shrinkage (revision 1) let the race be decided at "
            "shrinkage 1, where squared loss has kappa = 1 in function space and momentum has "
            "nothing to fix; now compared per shrinkage, with a held-out race reported; source "
            "attribution corrected (Figure 3 is a diagram)",
        ),
        Revision(
            3,
            "measured controls: zero init at twice (positive) and two thirds (negative) of the "
            "decided shrinkage, raced to the same target; were planted rounds (half and twice "
            "zero init's)",
        ),
    ),
)
def _trees_tuned(scale, *, arm=None):
    table = tree_comparison(scale)
    statistics, ratios, races = {}, {}, {}
    for name, rows in table.items():
        for eta in SHRINKAGES if arm is None else DECIDED_SHRINKAGES:
            zero = np.array([r["per_shrinkage"][eta][0] for r in rows])
            challenger = np.array([r["per_shrinkage"][eta][1] if arm is None
                                   else r["controls"][arm][eta] for r in rows])  # fmt: skip
            estimate = median_interval(challenger / zero)
            ratios[f"{name}, eta = {eta}"] = estimate
            if eta in DECIDED_SHRINKAGES:
                statistics[f"{name}, eta = {eta}"] = estimate
        races[name] = {k: float(np.median([r[k] for r in rows]))
                       for k in rows[0] if k.endswith(("_rounds", "_heldout"))}  # fmt: skip
    method = "stack" if arm is None else f"zero at {CONTROL_FACTORS[arm]:.3g} x eta"
    text = f"rounds ratio {method}/zero: " + ", ".join(f"{k} {e.text()}" for k, e in ratios.items())
    text += "; held-out race (median rounds stack vs zero): " + ", ".join(
        f"{n} {m['stack_heldout_rounds']:.0f} vs {m['zero_heldout_rounds']:.0f}"
        for n, m in races.items()
    )
    return Measurement(
        statistics,
        {"ratios": {k: e.as_dict() for k, e in ratios.items()}, "heldout": races,
         "per_seed": table},
        text,
    )  # fmt: skip


@figure(
    "boosting-inits",
    "Boosting with linear learners (squared loss): relative suboptimality gap versus stage"
    " for zero, random, stacking (beta*) and copy (beta = 1) initialisation.",
)
def _boosting_inits(scale):
    from figures.boosting import plot_gap_panels
    from sims.families.boosting import train_ensemble
    from sims.problems import regression_problem

    panels = {}
    for kappa in (100, 10000):
        X, y = regression_problem(200, 10, kappa, 0.3, seed=kappa)
        coef = np.linalg.lstsq(X, y, rcond=None)[0]
        optimum = np.sum((X @ coef - y) ** 2) / 400
        curves = {}
        for label, options in (
            ("zero init", {"init": "zero"}),
            ("random init", {"init": "random", "random_scale": 0.01, "seed": 0}),
            ("stack", {"init": "stack"}),
            ("copy (beta = 1)", {"init": "copy"}),
        ):
            losses = train_ensemble(X, y, 600, **options).losses
            curves[label] = (losses - optimum) / (losses[0] - optimum)
        panels[f"linear learners, kappa = {kappa:g}"] = curves
    return plot_gap_panels(panels)


@figure(
    "boosting-logistic-rate",
    "Logistic loss, non-separable data: gap versus stage, stacking with beta_t = (t-1)/(t+2)"
    " against zero init, with 1/T and 1/T^2 guides.",
)
def _boosting_logistic(scale):
    from figures.boosting import plot_logistic_rates

    gaps = logistic_gaps(scale)
    return plot_logistic_rates({label: gaps[label] for label in CURVES})


@figure(
    "boosting-trees",
    "Regression-tree boosting: rounds of stacking (best beta) over zero init to zero init's"
    " training loss at half the budget, per shrinkage (dots: seeds; line: median); rounds of each"
    " method at its best setting to tuned zero init's best held-out loss of the first half.",
)
def _boosting_trees(scale):
    from figures.boosting import plot_tree_comparison

    return plot_tree_comparison(tree_comparison(scale))
