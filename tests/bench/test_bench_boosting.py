"""Wall-time benchmarks of boosting (run with --benchmark-enable to time them)."""

import pytest

from sims.families.boosting import train_ensemble
from sims.problems import classification_problem, regression_problem

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_linear_learner_n1000_p20_1000_stages(benchmark, backend, loss):
    make = regression_problem if loss == "squared" else classification_problem
    X, y = make(1000, 20, 100, 0.3, seed=0)
    train_ensemble(X, y, 2, loss=loss, backend=backend)
    run = benchmark(train_ensemble, X, y, 1000, loss=loss, backend=backend)
    assert len(run.losses) == 1001


def test_tree_run_against_sklearn(benchmark):
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=300, noise=1.0, random_state=0)
    run = benchmark.pedantic(
        train_ensemble,
        args=(X, y, 100),
        kwargs={"learner": "tree", "init": "zero", "seed": 0},
        rounds=1,
    )
    assert len(run.losses) == 101
