"""FLOPs identities of progressive training (docs/theory.md §§5 and 6, `reconstructed`).

Costs are counted in layer-steps: one step of a network with k active layers costs k, and
"relative FLOPs" divide by the cost of training all L layers for the same number of steps.
Embedding and head are not counted (the convention that reproduces the papers' reported ratios).
"""

from __future__ import annotations

import numpy as np

from infra.checks import InputError, check_int, check_real


def stage_fractions(n_stages: int, fractions) -> np.ndarray:
    if fractions is None:
        return np.full(n_stages, 1.0 / n_stages)
    fractions = np.asarray([check_real("fractions", f, low=0.0) for f in fractions])
    if fractions.shape != (n_stages,) or not np.isclose(fractions.sum(), 1.0):
        raise InputError(f"fractions must be {n_stages} non-negative numbers summing to 1")
    return fractions


def raptr_relative_flops(depth: int, path_lengths, n_fixed: int = 2, fractions=None) -> float:
    """RaPTr: stage s keeps the ``n_fixed`` fixed layers and each other layer with probability
    ``p_s = (l_s - n_fixed) / (L - n_fixed)``, so its expected cost per step is the expected path
    length ``l_s``; relative FLOPs ``sum_s T_s l_s / (L sum_s T_s)``. 6-8-10-12 on 12 layers with
    equal stages gives 0.75."""
    depth = check_int("depth", depth, low=1)
    n_fixed = check_int("n_fixed", n_fixed, low=0, high=depth)
    lengths = np.asarray(
        [check_real("path_lengths", v, low=n_fixed, high=depth) for v in path_lengths]
    )
    return float(np.dot(stage_fractions(len(lengths), fractions), lengths) / depth)


def stacking_relative_flops(depths, fractions=None) -> float:
    """Gradual stacking with stage depths ``k_s`` (the last is the full depth): relative FLOPs
    ``sum_s T_s k_s / (k_last sum_s T_s)``. 6-9-12 with equal stages gives 0.75."""
    depths = np.asarray([check_int("depths", k, low=1) for k in depths], dtype=float)
    if depths.size == 0:
        raise InputError("depths must not be empty")
    return float(np.dot(stage_fractions(len(depths), fractions), depths) / depths[-1])


def pld_keep_probabilities(depth: int, step: int, theta_bar: float, gamma: float) -> np.ndarray:
    """Progressive layer dropping (DeepSpeed): ``theta(t) = (1 - theta_bar) exp(-gamma t) +
    theta_bar`` and 0-based layer i kept with probability ``1 - i (1 - theta(t)) / L``."""
    theta = (1 - theta_bar) * np.exp(-gamma * step) + theta_bar
    return 1 - np.arange(depth) * (1 - theta) / depth


def pld_relative_flops(depth: int, total_steps: int, theta_bar: float, gamma: float) -> float:
    """Mean over steps t = 0..T-1 of PLD's expected active fraction: ``1 - (1 - theta(t)) (L -
    1) / (2 L)``, summed in closed form as a geometric series."""
    depth = check_int("depth", depth, low=1)
    total_steps = check_int("total_steps", total_steps, low=1)
    theta_bar = check_real("theta_bar", theta_bar, low=0.0, high=1.0)
    gamma = check_real("gamma", gamma, low=0.0)
    r = np.exp(-gamma)
    mean_decay = 1.0 if gamma == 0 else (1 - r**total_steps) / (total_steps * (1 - r))
    mean_theta = (1 - theta_bar) * mean_decay + theta_bar
    return float(1 - (1 - mean_theta) * (depth - 1) / (2 * depth))
