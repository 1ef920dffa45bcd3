"""`stagewise bench`: wall-time ratios measured in one run (best of repeats, JIT warm)."""

from __future__ import annotations

import subprocess
import sys
import time

from sims.deep_linear import train_stagewise, train_stagewise_batch
from sims.problems import deep_linear_problem


def best_time(fn, repeats: int) -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


_COLD_START = (
    "import time; t = time.perf_counter(); "
    "from sims.deep_linear import train_stagewise; from sims.problems import deep_linear_problem; "
    "train_stagewise(*deep_linear_problem(4, 10, 0.1, seed=0), 3); "
    "train_stagewise(*deep_linear_problem(4, 10, 0.1, seed=0), 3, layer_grad='functional'); "
    "print(time.perf_counter() - t)"
)


def deep_linear_bench(repeats: int = 5) -> list[dict]:
    """Numba kernel versus NumPy reference (d = 16, 2000 stages), a 1000-instance batch
    (d = 16, 500 stages), and a fresh process's first call (on-disk kernel cache)."""
    rows = []
    sigma, w_star = deep_linear_problem(16, 100, 0.05, seed=0)
    for layer_grad in ("euclidean", "functional"):
        times = {}
        for backend in ("numba", "numpy"):
            train_stagewise(sigma, w_star, 2, layer_grad=layer_grad, backend=backend)
            times[backend] = best_time(
                lambda b=backend, g=layer_grad: train_stagewise(
                    sigma, w_star, 2000, layer_grad=g, backend=b
                ),
                repeats,
            )
        rows.append(
            {
                "benchmark": f"deep linear, d=16, 2000 stages, {layer_grad}",
                "numba_s": times["numba"],
                "numpy_s": times["numpy"],
                "speedup": times["numpy"] / times["numba"],
                "target": ">= 10x",
            }
        )
    specs = [
        {"Sigma": s, "W_star": w}
        for s, w in (deep_linear_problem(16, 100, 0.05, seed=k) for k in range(1000))
    ]
    train_stagewise_batch(specs[:2], 2)
    rows.append(
        {
            "benchmark": "deep linear batch, 1000 instances, d=16, 500 stages",
            "numba_s": best_time(lambda: train_stagewise_batch(specs, 500), 1),
            "target": "< 10 s",
        }
    )
    cold = subprocess.run(
        [sys.executable, "-c", _COLD_START], capture_output=True, text=True, check=True
    )
    rows.append(
        {
            "benchmark": "fresh process: import + first calls (kernels from disk cache)",
            "numba_s": float(cold.stdout.strip()),
            "target": "no recompilation (~1 s)",
        }
    )
    return rows


def boosting_bench(repeats: int = 5) -> list[dict]:
    """Linear-learner boosting, Numba versus NumPy (n = 1000, p = 20, 1000 stages), and a
    1000-tree run versus scikit-learn's GradientBoostingRegressor on the same data."""
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import GradientBoostingRegressor

    from sims.boosting import train_ensemble
    from sims.problems import classification_problem, regression_problem

    rows = []
    for loss, make in (("squared", regression_problem), ("logistic", classification_problem)):
        X, y = make(1000, 20, 100, 0.3, seed=0)
        times = {}
        for backend in ("numba", "numpy"):
            train_ensemble(X, y, 2, loss=loss, backend=backend)
            times[backend] = best_time(
                lambda b=backend, X=X, y=y, loss=loss: train_ensemble(
                    X, y, 1000, loss=loss, backend=b
                ),
                repeats,
            )
        rows.append(
            {
                "benchmark": f"boosting, linear learner, {loss} loss, n=1000, p=20, 1000 stages",
                "numba_s": times["numba"],
                "numpy_s": times["numpy"],
                "speedup": times["numpy"] / times["numba"],
                "target": ">= 10x",
            }
        )
    X, y = make_friedman1(n_samples=500, noise=1.0, random_state=0)
    gbr = GradientBoostingRegressor(
        loss="squared_error",
        n_estimators=1000,
        learning_rate=0.1,
        max_depth=3,
        random_state=0,
        init="zero",
    )
    ours = best_time(
        lambda: train_ensemble(X, y, 1000, learner="tree", init="zero", eta=0.1, seed=0),
        max(1, repeats // 2),
    )
    theirs = best_time(lambda: gbr.fit(X, y), max(1, repeats // 2))
    rows.append(
        {
            "benchmark": "boosting, 1000 regression trees (depth 3, n=500) vs sklearn GBR",
            "numba_s": ours,
            "sklearn_s": theirs,
            "ratio_to_sklearn": ours / theirs,
            "target": "<= 1.5x sklearn",
        }
    )
    return rows
