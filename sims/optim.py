"""Adam and SGD for the neural families (``sims.families.residual_mlp``, ``sims.families.transformer``), as an
init/update pair in the shape of optax's: ``init_state`` makes the state, ``update`` takes one
step in place.

Parameters are a dict of arrays; the arrays named ``block_keys`` are stacked per block on axis 0.
A block counts only the steps that updated it (as PyTorch counts per parameter), the shared arrays
count every step. Adam: beta1 0.9, beta2 0.999, eps 1e-8,

    m <- 0.9 m + 0.1 g,   v <- 0.999 v + 0.001 g^2,
    p <- p - lr (m / (1 - 0.9^count)) / (sqrt(v / (1 - 0.999^count)) + eps).

The moments have the parameters' float type (float32 or float64).
"""

from __future__ import annotations

import numpy as np

from infra.checks import InputError, check_array, check_int, check_real
from sims.blocks import adam_update

OPTIMIZERS = ("adam", "sgd")


def _float_type(array) -> np.dtype:
    """float32 for float32 arrays, float64 for every other number type."""
    return np.result_type(np.asarray(array).dtype, np.float32)


def init_state(params, block_keys) -> dict:
    """Adam's state before any step: zero moments keyed like ``params``, a step count for the
    shared arrays and one per block."""
    depth = np.shape(params[block_keys[0]])[0]
    return {
        "m": {k: np.zeros_like(v, dtype=_float_type(v)) for k, v in params.items()},
        "v": {k: np.zeros_like(v, dtype=_float_type(v)) for k, v in params.items()},
        "shared_steps": 0,
        "block_steps": np.zeros(depth, dtype=np.int64),
    }


def check_state(state, params, block_keys) -> dict:
    """A copy of Adam's state ``state`` for ``params`` (a fresh one if ``state`` is None), in the
    parameters' float type; ``InputError`` naming what does not fit."""
    if state is None:
        return init_state(params, block_keys)
    if not isinstance(state, dict) or set(state) != {"m", "v", "shared_steps", "block_steps"}:
        raise InputError(
            "optimizer_state must be a dict with keys m, v, shared_steps, block_steps "
            "(as sims.optim.init_state returns)"
        )
    for moment in ("m", "v"):
        if set(state[moment]) != set(params) or any(
            np.shape(state[moment][k]) != np.shape(params[k]) for k in params
        ):
            raise InputError(f"optimizer_state[{moment!r}] must match the shapes of params")
    if np.shape(state["block_steps"]) != (np.shape(params[block_keys[0]])[0],):
        raise InputError("optimizer_state['block_steps'] must have one count per block")
    return {
        "m": {k: np.array(v, dtype=_float_type(params[k])) for k, v in state["m"].items()},
        "v": {k: np.array(v, dtype=_float_type(params[k])) for k, v in state["v"].items()},
        "shared_steps": check_int("optimizer_state['shared_steps']", state["shared_steps"], low=0),
        "block_steps": np.array(state["block_steps"], dtype=np.int64),
    }


def per_step_rates(lr, steps: int) -> np.ndarray:
    """One learning rate per step from ``lr``: a positive number, or ``steps`` of them."""
    if np.ndim(lr) == 0:
        return np.full(steps, check_real("lr", lr, low=0.0, low_open=True))
    lrs = check_array("lr", lr, ndim=1)
    if lrs.shape != (steps,) or np.any(lrs <= 0):
        raise InputError(f"lr must be a positive number or {steps} positive numbers (one per step)")
    return lrs


def update(p, grads, state, active, lr, optimizer, backend, block_keys) -> None:
    """One step in place (module docstring). Block arrays: only the rows of the ``active`` blocks,
    with the blocks' own step counts; shared arrays: with the shared count. SGD: ``p -= lr g``.
    The caller counts the step in ``state`` first. The Numba backend runs Adam in
    ``sims.blocks.adam_update``, the NumPy backend as array expressions."""
    for key in p:
        block = key in block_keys
        rows = active if block else np.ones(1, dtype=bool)
        counts = state["block_steps"] if block else np.array([state["shared_steps"]])
        param, g, m, v = (a.reshape(rows.shape[0], -1) for a in
                          (p[key], grads[key], state["m"][key], state["v"][key]))  # fmt: skip
        if optimizer == "sgd":
            param[rows] -= lr * g[rows]
            continue
        correction1, correction2 = 1 - 0.9**counts, 1 - 0.999**counts
        if backend == "numba":
            adam_update(param, g, m, v, rows, lr, correction1, correction2)
            continue
        g = g[rows]
        m[rows] = 0.9 * m[rows] + 0.1 * g
        v[rows] = 0.999 * v[rows] + 0.001 * g * g
        m_hat = m[rows] / correction1[rows, None]
        v_hat = v[rows] / correction2[rows, None]
        param[rows] -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
