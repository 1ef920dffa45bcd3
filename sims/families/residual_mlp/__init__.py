"""Pre-LN residual MLP on tabular inputs (docs/theory.md §5; the architecture is the
project's choice, following the RaPTr paper's description):

    y_0 = X W_e + b_e,   y_l = y_{l-1} + alpha_l scale_l MLP_l(LN_l(y_{l-1})),   f = LN_f(y_L) w_o + b_o

with ``MLP(u) = act(u W1 + b1) W2 + b2`` of hidden width 4w, act GELU (exact, erf) or ReLU,
``alpha = mask`` in {0, 1} (a bypassed block is the identity) and ``scale`` the output scaling of a
kept block (1, 1/p or 1/sqrt(p) in RaPTr). Loss: mean squared error. Options remove the layer
normalisations (``layernorm=False``: LN is the identity) or the residual connection
(``residual=False``: ``y_l = scale_l MLP_l(LN_l(y_{l-1}))`` for a kept block).

Forward and backward passes are written by hand: a Numba kernel (``kernel.py``) and a NumPy
reference (``reference.py``); tests compare both with each other and with finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infra.checks import (
    InputError,
    as_dtype,
    check_array,
    check_choice,
    check_elements,
    check_int,
    check_steps,
)
from sims import blocks as _blocks
from sims import optim
from sims.families.residual_mlp import kernel as _kernel
from sims.families.residual_mlp.reference import residual_mlp_reference
from sims.problems import as_generator
from sims.results import RunResult, Status, blew_up

PARAM_KEYS = (
    "emb_w", "emb_b", "ln_g", "ln_b", "w1", "b1", "w2", "b2", "fin_g", "fin_b", "head_w", "head_b",
)  # fmt: skip
BLOCK_KEYS = ("ln_g", "ln_b", "w1", "b1", "w2", "b2")
ACTIVATIONS = tuple(_blocks.ACTIVATION_CODES)
BACKENDS = ("numba", "numpy")


def init_params(d: int, width: int, depth: int, seed=None) -> dict[str, np.ndarray]:
    """Parameters as float64 arrays: weights N(0, 1/fan_in), biases 0, LN gains 1. Block
    parameters are stacked along a leading axis of length ``depth``."""
    d = check_int("d", d, low=1)
    width = check_int("width", width, low=1)
    depth = check_int("depth", depth, low=1)
    check_elements("width and depth", d * width + depth * 8 * width * width)
    rng = as_generator(seed)
    hid = 4 * width

    def normal(*shape):
        return rng.standard_normal(shape) / np.sqrt(shape[-2] if len(shape) > 1 else shape[-1])

    return {
        "emb_w": normal(d, width),
        "emb_b": np.zeros(width),
        "ln_g": np.ones((depth, width)),
        "ln_b": np.zeros((depth, width)),
        "w1": normal(depth, width, hid),
        "b1": np.zeros((depth, hid)),
        "w2": normal(depth, hid, width),
        "b2": np.zeros((depth, width)),
        "fin_g": np.ones(width),
        "fin_b": np.zeros(width),
        "head_w": normal(width),
        "head_b": np.zeros(1),
    }


def _check_params(params) -> tuple[int, int, int]:
    if not isinstance(params, dict) or set(params) != set(PARAM_KEYS):
        raise InputError(f"params must be a dict with keys {', '.join(PARAM_KEYS)}")
    for key in PARAM_KEYS:
        check_array(f"params[{key!r}]", params[key])
    d, width = params["emb_w"].shape
    depth, _, hid = params["w1"].shape
    shapes = {
        "emb_b": (width,), "ln_g": (depth, width), "ln_b": (depth, width), "w1": (depth, width, hid),
        "b1": (depth, hid), "w2": (depth, hid, width), "b2": (depth, width), "fin_g": (width,),
        "fin_b": (width,), "head_w": (width,), "head_b": (1,),
    }  # fmt: skip
    for key, shape in shapes.items():
        if np.shape(params[key]) != shape:
            raise InputError(
                f"params[{key!r}] must have shape {shape}, got {np.shape(params[key])}"
            )
    return d, width, depth


def _coefficients(depth: int, mask, scale) -> np.ndarray:
    """``c_l = mask_l * scale_l``, validated."""
    mask = np.ones(depth) if mask is None else check_array("mask", mask, ndim=1)
    if mask.shape != (depth,):
        raise InputError(f"mask must have length depth = {depth}, got {mask.shape[0]}")
    if not np.all((mask == 0) | (mask == 1)):
        raise InputError("mask must contain only 0 and 1")
    scale = np.ones(depth) if scale is None else check_array("scale", scale, ndim=1)
    if scale.shape != (depth,) or np.any(scale <= 0):
        raise InputError(f"scale must be {depth} positive numbers")
    return mask * scale


def _check_data(X, y, d):
    X = check_array("X", X, ndim=2)
    if X.shape[1] != d or X.shape[0] == 0:
        raise InputError(f"X must have shape (n >= 1, {d}), got {X.shape}")
    if y is None:
        return np.ascontiguousarray(X), None
    y = check_array("y", y, ndim=1)
    if y.shape != (X.shape[0],):
        raise InputError(f"y must have length {X.shape[0]} (rows of X), got {y.shape[0]}")
    return np.ascontiguousarray(X), y


def _kernel_args(params, coef, activation, layernorm, residual):
    """The kernel's arguments after the data, in the float type of ``params['w1']``."""
    check_choice("activation", activation, ACTIVATIONS)
    dtype = params["w1"].dtype
    return (
        *(np.ascontiguousarray(params[k], dtype=dtype) for k in PARAM_KEYS),
        coef.astype(dtype),
        _blocks.ACTIVATION_CODES[activation],
        bool(layernorm),
        bool(residual),
    )


def forward(
    params, X, mask=None, scale=None, *, activation="gelu", layernorm=True, residual=True,
    dtype="float64",
) -> np.ndarray:  # fmt: skip
    """Network outputs ``f(X)`` (one per row), computed in ``dtype`` (float64 or float32)."""
    d, _, depth = _check_params(params)
    X, _ = _check_data(X, None, d)
    coef = _coefficients(depth, mask, scale)
    p = as_dtype(params, PARAM_KEYS, dtype)
    return _forward_function(p, X.shape[0], activation, layernorm, residual)(p, X, coef)


def _forward_function(params, n: int, activation, layernorm, residual):
    """``outputs(params, X, coef) -> f(X)`` on n rows, in the float type of ``params``, its work
    arrays allocated once."""
    width, (depth, _, hid) = params["emb_w"].shape[1], params["w1"].shape
    dtype = params["w1"].dtype
    work = _kernel.workspace(n, width, depth, hid, dtype)

    def outputs(p, X, coef):
        return _kernel.forward_pass(
            X.astype(dtype, copy=False), *_kernel_args(p, coef, activation, layernorm, residual),
            work,
        )  # fmt: skip

    return outputs


def loss_and_grads(
    params,
    X,
    y,
    mask=None,
    scale=None,
    *,
    activation="gelu",
    layernorm=True,
    residual=True,
    backend="numba",
    dtype="float64",
) -> tuple[float, dict[str, np.ndarray]]:
    """``(mean (f(X) - y)^2, gradients keyed like params)`` computed in ``dtype`` (float64 or
    float32) by the Numba kernel or the NumPy reference; bypassed blocks get zero gradients."""
    d, _, depth = _check_params(params)
    X, y = _check_data(X, y, d)
    coef = _coefficients(depth, mask, scale)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("backend", backend, BACKENDS)
    p = as_dtype(params, PARAM_KEYS, dtype)
    gradient = gradient_function(p, X.shape[0], backend, activation, layernorm, residual)
    return gradient(p, X, y, coef)


def gradient_function(params, n: int, backend: str, activation, layernorm, residual):
    """``gradient(params, X, y, coef) -> (loss, grads)`` on n rows, in the float type of
    ``params`` (data and coefficients are converted to it). The Numba kernel's work and gradient
    arrays are allocated here, once, and overwritten by every call."""
    dtype = params["w1"].dtype
    if backend == "numpy":

        def reference(p, X, y, coef):
            X, y, coef = X.astype(dtype), y.astype(dtype), coef.astype(dtype)
            loss, grads, _ = residual_mlp_reference(p, X, y, coef, activation, layernorm, residual)
            return loss, grads

        return reference
    width, (depth, _, hid) = params["emb_w"].shape[1], params["w1"].shape
    work = _kernel.workspace(n, width, depth, hid, dtype)
    grads = {k: np.empty(np.shape(params[k]), dtype) for k in PARAM_KEYS}
    grad_arrays = tuple(grads.values())

    def kernel(p, X, y, coef):
        args = _kernel_args(p, coef, activation, layernorm, residual)
        X, y = X.astype(dtype, copy=False), y.astype(dtype, copy=False)
        return float(_kernel.loss_and_grads(X, y, *args, work, grad_arrays)), grads

    return kernel


@dataclass(frozen=True)
class TrainResult(RunResult):
    """``losses[t]``: minibatch loss of step t (of the subnetwork trained at that step);
    ``flops[t]``: cumulative active blocks over depth after step t+1 (full-model steps);
    ``eval_steps``/``eval_losses``: full-model eval loss after that many steps (0 = before
    training), ``eval_predictions[i]`` the matching predictions when recorded;
    ``checkpoints[t]``: a copy of the parameters after t steps, for each requested t; ``status``
    max_stages or diverged (``diverged_at``: the step whose loss was not finite)."""

    params: dict
    flops: np.ndarray
    eval_steps: np.ndarray
    eval_losses: np.ndarray
    eval_predictions: np.ndarray | None
    checkpoints: dict
    optimizer_state: dict | None = None


def train(
    params,
    X,
    y,
    steps: int,
    *,
    lr=1e-3,
    optimizer: str = "adam",
    optimizer_state=None,
    trainable=None,
    batch_size: int = 256,
    schedule=None,
    X_eval=None,
    y_eval=None,
    eval_every: int = 0,
    record_predictions: bool = False,
    checkpoints=(),
    activation: str = "gelu",
    layernorm: bool = True,
    residual: bool = True,
    seed=None,
    backend: str = "numba",
    dtype: str = "float64",
) -> TrainResult:
    """Minibatch training from a copy of ``params``. ``schedule``: None (the full network every
    step) or an object with ``masks`` and ``scales`` of shape (steps, depth) (``sims.subnetworks``).
    ``lr``: one learning rate or one per step. Adam (beta1 0.9, beta2 0.999, eps 1e-8, bias
    correction with per-block step counts) or plain SGD; a bypassed block's parameters and Adam
    moments are left untouched that step (as PyTorch does for parameters without a gradient), and
    so are the blocks with ``trainable`` 0 (frozen: used in the forward pass, never updated;
    embedding and head always train). ``optimizer_state`` (from an earlier result) continues Adam.
    Evaluation on ``(X_eval, y_eval)`` every ``eval_every`` steps (0: start and end only);
    parameters are copied after every step count in ``checkpoints``. ``dtype``: float64 or
    float32, the type of parameters, activations, gradients and Adam's moments."""
    d, _, depth = _check_params(params)
    X, y = _check_data(X, y, d)
    steps = check_steps("steps", steps, low=1)
    lrs = optim.per_step_rates(lr, steps)
    check_choice("optimizer", optimizer, optim.OPTIMIZERS)
    # a copy, trained in place
    p = {k: np.array(v) for k, v in as_dtype(params, PARAM_KEYS, dtype).items()}
    X, y = X.astype(p["w1"].dtype), y.astype(p["w1"].dtype)
    state = optim.check_state(optimizer_state, p, BLOCK_KEYS)
    if trainable is None:
        updated = np.ones(depth, dtype=bool)
    else:
        updated = check_array("trainable", trainable, ndim=1)
        if updated.shape != (depth,) or not np.all((updated == 0) | (updated == 1)):
            raise InputError(f"trainable must be {depth} values in {{0, 1}} (one per block)")
        updated = updated == 1
    batch_size = check_int("batch_size", batch_size, low=1)
    eval_every = check_int("eval_every", eval_every, low=0)
    if schedule is None:
        masks, scales = np.ones((steps, depth)), np.ones((steps, depth))
    else:
        masks = check_array("schedule.masks", schedule.masks, ndim=2)
        scales = check_array("schedule.scales", schedule.scales, ndim=2)
        if masks.shape != (steps, depth) or scales.shape != (steps, depth):
            raise InputError(f"schedule must have shape (steps, depth) = ({steps}, {depth})")
        if not np.all((masks == 0) | (masks == 1)) or np.any(scales <= 0):
            raise InputError("schedule.masks must contain only 0 and 1 and schedule.scales be > 0")
    has_eval = X_eval is not None
    if has_eval:
        X_eval, y_eval = _check_data(X_eval, y_eval, d)
    options = {"activation": activation, "layernorm": layernorm, "residual": residual}
    rng = as_generator(seed)
    train_losses, evals, eval_steps, predictions = [], [], [], []
    wanted = {check_int("checkpoints", c, low=0, high=steps) for c in checkpoints}
    saved = {0: {k: v.copy() for k, v in p.items()}} if 0 in wanted else {}

    check_choice("activation", activation, ACTIVATIONS)
    check_choice("backend", backend, BACKENDS)
    if has_eval:
        eval_outputs = _forward_function(p, X_eval.shape[0], **options)
        full = np.ones(depth)

    def evaluate(step):
        if has_eval:
            f = eval_outputs(p, X_eval, full)
            with np.errstate(all="ignore"):
                evals.append(float(np.mean((f - y_eval) ** 2)))
            eval_steps.append(step)
            if record_predictions:
                predictions.append(f)

    evaluate(0)
    status = Status.MAX_STAGES
    n = X.shape[0]
    gradient = gradient_function(p, min(batch_size, n), backend, **options)
    coefs = masks * scales
    for t in range(steps):
        rows = rng.choice(n, batch_size, replace=False) if batch_size < n else slice(None)
        with np.errstate(all="ignore"):
            loss, grads = gradient(p, X[rows], y[rows], coefs[t])
        train_losses.append(loss)
        if blew_up(loss, train_losses[0]):
            status = Status.DIVERGED
            break
        active = (masks[t] == 1) & updated
        state["block_steps"][active] += 1
        state["shared_steps"] += 1
        optim.update(p, grads, state, active, lrs[t], optimizer, backend, BLOCK_KEYS)
        if t + 1 in wanted:
            saved[t + 1] = {k: v.copy() for k, v in p.items()}
        if eval_every and (t + 1) % eval_every == 0 and t + 1 < steps:
            evaluate(t + 1)
    if status != Status.DIVERGED:
        evaluate(steps)
    flops = np.cumsum(masks[: len(train_losses)].sum(axis=1)) / depth
    return TrainResult(
        losses=np.array(train_losses),
        status=status,
        params=p,
        flops=flops,
        eval_steps=np.array(eval_steps, dtype=int),
        eval_losses=np.array(evals),
        eval_predictions=np.array(predictions) if record_predictions and has_eval else None,
        checkpoints=saved,
        optimizer_state=state,
    )
