"""Progressive subnetwork schedules (docs/theory.md §5): RaPTr and progressive layer
dropping (PLD), as per-step masks ``alpha_l in {0, 1}`` and output scales for
``sims.families.residual_mlp.train``, drawn from a seed.

* RaPTr (`secondary`): stage s keeps the fixed layers and each other layer with probability
  ``p_s = (l_s - |I|) / (L - |I|)`` ("bernoulli"), or exactly ``l_s - |I|`` of them chosen
  uniformly ("fixed_size"); a fresh subnetwork every step; kept non-fixed layers scaled by 1,
  1/p_s or 1/sqrt(p_s).
* PLD (DeepSpeed's rule, `secondary`): layer i (0-based) kept with probability
  ``1 - i (1 - theta(t)) / L``, ``theta(t) = (1 - theta_bar) exp(-gamma t) + theta_bar``; kept
  outputs scaled by 1/keep.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from infra.checks import InputError, check_choice, check_elements, check_int, check_real
from sims.problems import as_generator
from theory import flops

SAMPLERS = ("bernoulli", "fixed_size")
SCALES = ("none", "inv_p", "inv_sqrt_p")


@dataclass(frozen=True)
class Schedule:
    """``masks[t, l]`` in {0, 1}, ``scales[t, l]`` (output scale of block l at step t),
    ``keep_probabilities[t, l]`` (the distribution masks are drawn from) and ``stage_starts``
    (first step of every stage)."""

    masks: np.ndarray
    scales: np.ndarray
    keep_probabilities: np.ndarray
    stage_starts: np.ndarray


def stage_bounds(total_steps: int, n_stages: int, fractions=None) -> np.ndarray:
    """First step of each stage and the end: ``T_s`` proportional to ``fractions`` (equal by
    default), rounded so that the lengths sum to ``total_steps``."""
    weights = flops.stage_fractions(n_stages, fractions)
    return np.round(np.concatenate([[0.0], np.cumsum(weights)]) * total_steps).astype(int)


def raptr_schedule(
    depth: int,
    path_lengths,
    total_steps: int,
    fixed=None,
    sampler: str = "bernoulli",
    scale: str = "none",
    fractions=None,
    seed=None,
) -> Schedule:
    """RaPTr's schedule: stage s has expected path length ``path_lengths[s]`` (non-decreasing,
    in [|fixed|, depth]); ``fixed`` defaults to (0, depth - 1) (first and last layer)."""
    depth = check_int("depth", depth, low=1)
    total_steps = check_int("total_steps", total_steps, low=1)
    check_elements("total_steps x depth (the schedule's masks)", total_steps * depth)
    check_choice("sampler", sampler, SAMPLERS)
    check_choice("scale", scale, SCALES)
    fixed = (0, depth - 1) if fixed is None else tuple(fixed)
    fixed = tuple(sorted({check_int("fixed", i, low=0, high=depth - 1) for i in fixed}))
    lengths = [check_real("path_lengths", v, low=len(fixed), high=depth) for v in path_lengths]
    if not lengths or any(b < a for a, b in itertools.pairwise(lengths)):
        raise InputError(f"path_lengths must be a non-empty non-decreasing sequence, got {lengths}")
    if sampler == "fixed_size" and any(v != int(v) for v in lengths):
        raise InputError("path_lengths must be integers with sampler 'fixed_size'")
    bounds = stage_bounds(total_steps, len(lengths), fractions)
    rng = as_generator(seed)
    free = np.setdiff1d(np.arange(depth), fixed)
    keep = np.zeros((total_steps, depth))
    masks = np.zeros((total_steps, depth))
    scales = np.ones((total_steps, depth))
    keep[:, list(fixed)] = masks[:, list(fixed)] = 1.0
    for length, start, end in zip(lengths, bounds[:-1], bounds[1:], strict=True):
        if free.size == 0:
            continue
        p = (length - len(fixed)) / free.size
        keep[start:end, free] = p
        if sampler == "bernoulli":
            masks[start:end, free] = rng.uniform(size=(end - start, free.size)) < p
        else:
            for t in range(start, end):
                masks[t, rng.choice(free, int(length) - len(fixed), replace=False)] = 1.0
        if p > 0:
            scales[start:end, free] = {"none": 1.0, "inv_p": 1 / p, "inv_sqrt_p": p**-0.5}[scale]
    return Schedule(masks, scales, keep, bounds[:-1])


def pld_schedule(
    depth: int, total_steps: int, theta_bar: float = 0.5, gamma: float = 1e-3, seed=None
) -> Schedule:
    """Progressive layer dropping: keep probabilities from ``theory.flops.pld_keep_probabilities``,
    kept outputs scaled by 1/keep. One stage."""
    depth = check_int("depth", depth, low=1)
    total_steps = check_int("total_steps", total_steps, low=1)
    check_elements("total_steps x depth (the schedule's masks)", total_steps * depth)
    theta_bar = check_real("theta_bar", theta_bar, low=0.0, high=1.0)
    gamma = check_real("gamma", gamma, low=0.0)
    keep = np.stack(
        [flops.pld_keep_probabilities(depth, t, theta_bar, gamma) for t in range(total_steps)]
    )
    masks = (as_generator(seed).uniform(size=keep.shape) < keep).astype(float)
    return Schedule(masks, 1 / keep, keep, np.array([0]))


def relative_flops(schedule: Schedule) -> float:
    """Expected active layers over depth, averaged over steps."""
    return float(np.mean(schedule.keep_probabilities))


def calibrate_pld(depth: int, total_steps: int, budget: float, gamma: float = 1e-3) -> float:
    """The theta_bar at which PLD's relative FLOPs equal ``budget`` (bisection on the closed form
    ``theory.flops.pld_relative_flops``, which is increasing in theta_bar)."""
    budget = check_real("budget", budget, low=0.0, high=1.0, low_open=True)

    def gap(theta_bar):
        return flops.pld_relative_flops(depth, total_steps, theta_bar, gamma) - budget

    lowest = flops.pld_relative_flops(depth, total_steps, 0.0, gamma)
    if budget < lowest:
        raise InputError(
            f"budget must be >= {lowest:.4f}: PLD with gamma = {gamma} over {total_steps} steps "
            f"uses at least that fraction of full FLOPs"
        )
    if budget == 1.0:
        return 1.0
    return float(brentq(gap, 0.0, 1.0, xtol=1e-14))


def linear_ln_layers(d: int, depth: int, tau: float, seed=None) -> np.ndarray:
    """Layers ``W_l = sqrt(tau) A + sqrt(1 - tau) G_l`` with A and the G_l i.i.d. N(0, 1/d)
    (the RaPTr paper's Figure 4 set-up, `paper` caption; shape (depth, d, d))."""
    d = check_int("d", d, low=1)
    depth = check_int("depth", depth, low=1)
    tau = check_real("tau", tau, low=0.0, high=1.0)
    rng = as_generator(seed)
    shared = rng.standard_normal((d, d)) / np.sqrt(d)
    return np.sqrt(tau) * shared + np.sqrt(1 - tau) * rng.standard_normal((depth, d, d)) / np.sqrt(
        d
    )


def _standardise(v):
    centred = v - v.mean(axis=1, keepdims=True)
    return centred / np.sqrt((centred**2).mean(axis=1, keepdims=True) + 1e-5)


def linear_ln_stream(layers, X, start=0, layernorm=True, residual=True, mask=None) -> np.ndarray:
    """Activations of a linear residual network, rows of X as inputs to layer ``start``:
    ``y_l = y_{l-1} + LN(y_{l-1}) W_l^T`` (LN without gain or bias; ``layernorm=False``: LN is
    the identity; ``residual=False``: ``y_l = LN(y_{l-1}) W_l^T``). ``mask[l] = 0`` bypasses layer
    l. Returns ``y_start..y_L`` stacked (the input first)."""
    stream = [np.asarray(X, dtype=float)]
    for layer in range(start, layers.shape[0]):
        y = stream[-1]
        if mask is not None and mask[layer] == 0:
            stream.append(y)
            continue
        update = (_standardise(y) if layernorm else y) @ layers[layer].T
        stream.append(y + update if residual else update)
    return np.stack(stream)


def drop_one_gaps(layers, X, layernorm=True, residual=True) -> np.ndarray:
    """``gap[l] = mean_x |F(x) - F_{-l}(x)| / |F(x)|`` for every layer l, with ``F_{-l}(x) =
    G_l(y_{l-1})``: the stack above l applied to the activation entering l (the exact identity for
    dropping layer l of a residual network)."""
    stream = linear_ln_stream(layers, X, layernorm=layernorm, residual=residual)
    full = stream[-1]
    norms = np.linalg.norm(full, axis=1)
    gaps = np.empty(layers.shape[0])
    for layer in range(layers.shape[0]):
        above = linear_ln_stream(layers, stream[layer], layer + 1, layernorm, residual)[-1]
        gaps[layer] = np.mean(np.linalg.norm(full - above, axis=1) / norms)
    return gaps
