"""Benchmarks of the boosting kernels (``stagewise bench``'s kernels section): linear learners
against the NumPy reference, regression trees against scikit-learn's GradientBoostingRegressor."""

from __future__ import annotations

from dataclasses import dataclass

from sims.families.boosting import train_ensemble
from sims.problems import classification_problem, regression_problem
from sims.timing import best_time, versus_numpy


@dataclass(frozen=True)
class Sizes:
    """The sizes of the boosting benchmarks."""

    stages: int  # linear learners, n = 1000, p = 20
    trees: int  # regression trees (n = 500) against scikit-learn


FULL = Sizes(stages=1000, trees=1000)
SMOKE = Sizes(stages=20, trees=5)


def bench(repeats: int = 5, smoke: bool = False) -> list[dict]:
    """Linear-learner boosting, Numba versus NumPy (n = 1000, p = 20, 1000 stages), and a
    1000-tree run versus scikit-learn's GradientBoostingRegressor on the same data."""
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import GradientBoostingRegressor

    sizes = SMOKE if smoke else FULL
    rows = []
    for loss, make in (("squared", regression_problem), ("logistic", classification_problem)):
        X, y = make(1000, 20, 100, 0.3, seed=0)
        times = {}
        for backend in ("numba", "numpy"):
            train_ensemble(X, y, 2, loss=loss, backend=backend)
            times[backend] = best_time(
                lambda b=backend, X=X, y=y, loss=loss: train_ensemble(
                    X, y, sizes.stages, loss=loss, backend=b
                ),
                repeats,
            )
        rows.append(versus_numpy(f"boosting, linear learner, {loss} loss, n=1000, p=20, "
                                 f"{sizes.stages} stages", "float64", times, 10))  # fmt: skip
    X, y = make_friedman1(n_samples=500, noise=1.0, random_state=0)
    gbr = GradientBoostingRegressor(
        loss="squared_error",
        n_estimators=sizes.trees,
        learning_rate=0.1,
        max_depth=3,
        random_state=0,
        init="zero",
    )
    ours = best_time(
        lambda: train_ensemble(X, y, sizes.trees, learner="tree", init="zero", eta=0.1, seed=0),
        max(1, repeats // 2),
    )
    theirs = best_time(lambda: gbr.fit(X, y), max(1, repeats // 2))
    rows.append(
        {
            "benchmark": f"boosting, {sizes.trees} regression trees (depth 3, n=500) vs "
            "sklearn GBR",
            "dtype": "float64",
            "numba_s": ours,
            "sklearn_s": theirs,
            "ratio_to_sklearn": ours / theirs,
            "target": "<= 1.5x sklearn",
            "met": ours / theirs <= 1.5,
        }
    )
    return rows
