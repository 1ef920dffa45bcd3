"""The result contract: one status type, one steps-to with one 'never reached' value, shared by
every model family."""

import numpy as np
import pytest

from sims import growth, inexact
from sims.families import boosting, deep_linear, residual_mlp
from sims.families.deep_linear.growth import DeepLinearFamily
from sims.results import NEVER, RunResult, Status


def test_steps_to_relative_and_absolute_by_brute_force():
    losses = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
    run = RunResult(losses, Status.MAX_STAGES)
    for target in (1.0, 0.5, 0.26, 0.25, 0.1, 0.0625, 0.01):
        expected = next((t for t, x in enumerate(losses) if x <= target * losses[0]), NEVER)
        assert run.steps_to(target) == expected
        expected = next((t for t, x in enumerate(losses) if x <= target), NEVER)
        assert run.steps_to(target, relative=False) == expected
    assert run.steps_to(0.01) == float("inf") and run.stages_done == 4


def test_status_names_and_kernel_codes():
    assert [str(s) for s in Status] == ["max_stages", "converged", "diverged"]
    assert {Status.from_code(c) for c in (0, 1, 2)} == set(Status)
    assert RunResult(np.ones(3), Status.DIVERGED).diverged_at == 2
    assert RunResult(np.ones(3), Status.CONVERGED).diverged_at is None
    with pytest.raises(KeyError):
        Status.from_code(7)


def test_every_family_returns_the_contract():
    from sims.problems import deep_linear_problem, regression_problem, staircase_task

    sigma, w_star = deep_linear_problem(3, 10, 0.1, seed=0)
    X, y = regression_problem(40, 3, 10, 0.1, seed=0)
    Xs, ys = staircase_task(4, 2).sample(64, seed=0)
    f = inexact.random_objective(np.random.default_rng(0), 4, 10.0)
    runs = [
        deep_linear.train_stagewise(sigma, w_star, 5),
        deep_linear.nesterov_reference(sigma, w_star, 5),
        deep_linear.train_layers(sigma, w_star, [np.zeros((3, 3))], 5, lr=0.1),
        boosting.train_ensemble(X, y, 5),
        inexact.run_inexact_nag(f, np.ones(4), 5),
        residual_mlp.train(residual_mlp.init_params(4, 8, 2, seed=0), Xs, ys, 5, seed=0),
        growth.train_grown(
            DeepLinearFamily(sigma, w_star),
            growth.Model(None, [{"W": np.zeros((3, 3))}]),
            "gradual",
            [3, 3],
            lr=0.1,
            decay=False,
            seed=0,
        ),
    ]
    for run in runs:
        assert isinstance(run, RunResult)
        assert isinstance(run.status, Status)
        assert run.stages_done == len(run.losses) - 1
        reached = run.steps_to(1e-300)
        assert reached == NEVER or isinstance(reached, int)
