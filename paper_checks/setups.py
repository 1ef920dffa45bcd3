"""Experiment set-ups that more than one claim module trains on: the growth experiments'
residual MLP on the staircase task and deep linear residual network (docs/theory.md section 6),
with their sizes per scale. Each set-up maps ``(scale, seed)`` to ``(family, model, depth,
steps, options)``: a ``sims.growth`` family, its full-depth initial model, the depth, the
baseline's steps and the keyword options of ``sims.growth.train_grown``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims import growth
from sims.families import residual_mlp
from sims.families.deep_linear.growth import DeepLinearFamily
from sims.families.residual_mlp.growth import ResidualMLPFamily
from sims.problems import deep_linear_problem, independent_seeds, staircase_task


@dataclass(frozen=True)
class MLPSizes:
    width: int
    depth: int
    steps: int
    eval_every: int
    eval_samples: int
    lr: float


@dataclass(frozen=True)
class LinearSizes:
    dimension: int
    depth: int
    steps: int


@dataclass(frozen=True)
class Sizes:
    mlp: MLPSizes
    linear: LinearSizes
    seeds: int


SIZES = {
    "quick": Sizes(MLPSizes(16, 4, 400, 20, 500, 1e-2), LinearSizes(16, 8, 600), seeds=12),
    "paper": Sizes(MLPSizes(32, 8, 2000, 50, 1000, 3e-3), LinearSizes(32, 16, 2000), seeds=10),
}


def _mlp_setup(scale, seed):
    m = SIZES[scale].mlp
    width, depth, steps, eval_every, n_eval, lr = (
        m.width, m.depth, m.steps, m.eval_every, m.eval_samples, m.lr
    )  # fmt: skip
    task = staircase_task(20, 6)
    data_seed, eval_seed, init_seed, train_seed = independent_seeds(seed, 4)
    X, y = task.sample(20000, seed=data_seed)
    X_eval, y_eval = task.sample(n_eval, seed=eval_seed)
    family = ResidualMLPFamily(X, y, X_eval, y_eval, width, eval_every=eval_every)
    model = ResidualMLPFamily.model(residual_mlp.init_params(20, width, depth, seed=init_seed))
    options = {"lr": lr, "warmup": steps // 20, "seed": train_seed}
    return family, model, depth, steps, options


def _linear_setup(scale, seed):
    lin = SIZES[scale].linear
    d, depth, steps = lin.dimension, lin.depth, lin.steps
    problem_seed, train_seed = independent_seeds(seed, 2)
    sigma, w_star = deep_linear_problem(d, 100, 0.5, seed=problem_seed)
    family = DeepLinearFamily(sigma, w_star)
    model = growth.Model(None, [{"W": np.zeros((d, d))} for _ in range(depth)])
    lr = 1 / (depth * np.linalg.eigvalsh(sigma)[-1])  # stable for the full depth
    return family, model, depth, steps, {"lr": lr, "decay": False, "seed": train_seed}


SETUPS = {"deep linear": _linear_setup, "residual MLP": _mlp_setup}
