"""A small pre-LN transformer (docs/theory.md section 6a; the architecture is the standard one,
sizes are ours):

    x_0 = E[tokens] + P[:T]
    x'_l = x_{l-1} + a_l Attn_l(LN1_l(x_{l-1})),   x_l = x'_l + a_l MLP_l(LN2_l(x'_l))
    logits = LN_f(x_L) W_out + b_out

Attention: H heads of width D/H, ``softmax(q k^T / sqrt(D/H) + mask) v``, the mask -inf above the
diagonal when causal; ``Attn(u) = concat_h(...) W_o + b_o`` with ``q, k, v = u W_q, u W_k, u W_v``.
``MLP(u) = GELU(u W_1 + b_1) W_2 + b_2`` (hidden width 4D, exact GELU). ``a_l`` in {0, 1} is the
block's mask (a bypassed block is the identity). Loss: weighted mean cross-entropy over positions
(next-token: every position predicts the next token; masked-token (MLM): the chosen positions).

Forward and backward passes are written by hand: a Numba kernel (``kernel.py``) and a
whole-array NumPy reference (``reference.py``). Training uses ``sims.optim``'s Adam
(per-block step counts, frozen blocks); growth acts on blocks through ``sims.growth``
(``growth.TransformerFamily``, beside this module).
"""

from __future__ import annotations

import functools
import itertools
import os
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from infra.checks import (
    InputError,
    as_dtype,
    check_array,
    check_choice,
    check_dtype,
    check_int,
    check_steps,
)
from sims import optim
from sims.families.transformer import kernel as _kernel
from sims.families.transformer.reference import transformer_reference
from sims.problems import as_generator
from sims.results import RunResult, Status, blew_up

BLOCK_KEYS = (
    "ln1_g", "ln1_b", "wq", "wk", "wv", "wo", "bo", "ln2_g", "ln2_b", "w1", "b1", "w2", "b2",
)  # fmt: skip
PARAM_KEYS = ("tok", "pos", *BLOCK_KEYS, "lnf_g", "lnf_b", "wout", "bout")
OBJECTIVES = ("next", "mlm")
BACKENDS = ("numba", "numpy")
MLM_RATE = 0.15
# The batch is cut into at most PARTS parts, each a kernel call with its own sums: the cut is part
# of the arithmetic, so it is fixed (float results must not depend on the machine or on how many
# threads run the parts). PARTS = 2 is the cut every recorded result used (2-core machines).
PARTS = 2
PART_POSITIONS = 256


def init_params(vocab: int, width: int, depth: int, context: int, seed=None) -> dict:
    """Normal(0, 0.02) weights, zero biases, unit LN gains; block arrays stacked on axis 0."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return 0.02 * rng.standard_normal(shape)

    d, h = width, 4 * width
    return {
        "tok": normal(vocab, d), "pos": normal(context, d),
        "ln1_g": np.ones((depth, d)), "ln1_b": np.zeros((depth, d)),
        "wq": normal(depth, d, d), "wk": normal(depth, d, d), "wv": normal(depth, d, d),
        "wo": normal(depth, d, d), "bo": np.zeros((depth, d)),
        "ln2_g": np.ones((depth, d)), "ln2_b": np.zeros((depth, d)),
        "w1": normal(depth, d, h), "b1": np.zeros((depth, h)),
        "w2": normal(depth, h, d), "b2": np.zeros((depth, d)),
        "lnf_g": np.ones(d), "lnf_b": np.zeros(d),
        "wout": normal(d, vocab), "bout": np.zeros(vocab),
    }  # fmt: skip


def _check_params(params, heads) -> tuple[int, int, int, int]:
    """(vocab, width, depth, context) of valid parameters, else InputError naming what is wrong."""
    if not isinstance(params, dict) or set(params) != set(PARAM_KEYS):
        raise InputError(f"params must be a dict with keys {', '.join(PARAM_KEYS)} (init_params)")
    for key in PARAM_KEYS:
        check_array(f"params[{key!r}]", params[key])
    vocab, width = np.shape(params["tok"])
    context = np.shape(params["pos"])[0]
    depth = np.shape(params["ln1_g"])[0]
    for key, shape in shapes(vocab, width, depth, context).items():
        if np.shape(params[key]) != shape:
            raise InputError(
                f"params[{key!r}] must have shape {shape}, got {np.shape(params[key])}"
            )
    heads = check_int("heads", heads, low=1)
    if width % heads:
        raise InputError(f"heads ({heads}) must divide the width ({width})")
    return vocab, width, depth, context


def shapes(vocab: int, width: int, depth: int, context: int) -> dict:
    """Every parameter array's shape."""
    d, h = width, 4 * width
    block = {"ln1_g": (d,), "ln1_b": (d,), "wq": (d, d), "wk": (d, d), "wv": (d, d), "wo": (d, d),
             "bo": (d,), "ln2_g": (d,), "ln2_b": (d,), "w1": (d, h), "b1": (h,), "w2": (h, d),
             "b2": (d,)}  # fmt: skip
    return (
        {"tok": (vocab, d), "pos": (context, d)}
        | {k: (depth, *s) for k, s in block.items()}
        | {"lnf_g": (d,), "lnf_b": (d,), "wout": (d, vocab), "bout": (vocab,)}
    )


def _check_tokens(name, tokens, vocab, context) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"{name} must be a non-empty 2-D array (batch, position), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= vocab:
        raise InputError(f"{name} must hold token ids in [0, {vocab}) (the vocabulary); "
                         f"found {arr.min()}..{arr.max()}")  # fmt: skip
    if arr.shape[1] > context:
        raise InputError(f"{name} has {arr.shape[1]} positions, more than the context {context}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _check_batch(params, tokens, targets, weights, heads, mask, dtype):
    """The parameters, weights and block mask in the float type ``dtype``, after checking every
    argument; tokens and targets as int64."""
    vocab, _, depth, context = _check_params(params, heads)
    tokens = _check_tokens("tokens", tokens, vocab, context)
    targets = _check_tokens("targets", targets, vocab, context)
    if targets.shape != tokens.shape:
        raise InputError(
            f"targets must have the shape of tokens {tokens.shape}, got {targets.shape}"
        )
    weights = check_array("weights", weights, ndim=2)
    if weights.shape != tokens.shape or np.any(weights < 0) or weights.sum() <= 0:
        raise InputError(f"weights must be {tokens.shape} non-negative numbers, not all 0")
    alpha = np.ones(depth) if mask is None else check_array("mask", mask, ndim=1)
    if alpha.shape != (depth,) or not np.all((alpha == 0) | (alpha == 1)):
        raise InputError(f"mask must be {depth} values in {{0, 1}} (one per block)")
    p = as_dtype(params, PARAM_KEYS, dtype)
    return (
        p,
        tokens,
        targets,
        np.ascontiguousarray(weights, p["tok"].dtype),
        alpha.astype(p["tok"].dtype),
    )


@functools.cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries' thread settings (found once, after NumPy and SciPy are loaded)."""
    return ThreadpoolController()


def _parts(batch: int, length: int) -> np.ndarray:
    """Row bounds of the batch's parts: at most PARTS, with at least PART_POSITIONS positions
    each (smaller parts cost more in threads than they save)."""
    parts = max(1, min(PARTS, batch, batch * length // PART_POSITIONS))
    return np.linspace(0, batch, parts + 1).astype(int)


def _workspace(params, tokens, heads) -> list:
    """One kernel workspace per part of the batch (``_parts``), in the parameters' dtype."""
    depth, width = params["ln1_g"].shape
    vocab = params["wout"].shape[1]
    bounds = _parts(*tokens.shape)
    return [_kernel.workspace(hi - lo, tokens.shape[1], depth, width, heads, vocab,
                              params["tok"].dtype) for lo, hi in itertools.pairwise(bounds)]  # fmt: skip


def _run_kernel(params, tokens, targets, weights, heads, causal, alpha, backward, logits=False,
                work=None):  # fmt: skip
    """The kernel on validated arrays of one float type (parameters, weights, alpha). The batch
    is cut into parts (``_parts``), each run by the kernel with its own workspace (``work``, from
    ``_workspace``, reused if given), on its own thread (the kernel releases the GIL) when Numba
    may use that many (``NUMBA_NUM_THREADS``: the sweep engine gives each worker process one),
    else one after the other; the parts' losses and gradients are averaged with weights ``sum of
    the part's weights / sum of all weights``, which is the whole batch's loss. The result is the
    same, bit for bit, whichever way the parts run."""
    bounds = _parts(*tokens.shape)
    work = _workspace(params, tokens, heads) if work is None else work
    vocab = params["wout"].shape[1]
    out = np.zeros((tokens.size if logits else 0, vocab), params["tok"].dtype)
    arrays = tuple(params[k] for k in PARAM_KEYS)
    total = weights.sum()

    def part(i):
        rows = slice(bounds[i], bounds[i + 1])
        grads = tuple(np.zeros_like(a) for a in arrays)
        share = weights[rows].sum() / total
        if share == 0:  # no position to score in this part
            return 0.0, grads
        T = tokens.shape[1]
        loss = _kernel.loss_and_grads(
            tokens[rows], targets[rows], weights[rows], *arrays, alpha, heads, bool(causal),
            work[i], grads, backward, out[bounds[i] * T : bounds[i + 1] * T] if logits else out,
        )  # fmt: skip
        return share * loss, tuple(share * g for g in grads)

    if len(work) == 1 or len(work) > numba.config.NUMBA_NUM_THREADS:
        results = [part(i) for i in range(len(work))]
    else:  # one BLAS thread per part: the parts are the parallelism
        with _blas().limit(limits=1, user_api="blas"), ThreadPoolExecutor(len(work)) as pool:
            results = list(pool.map(part, range(len(work))))
    loss = sum(r[0] for r in results)
    grads = {k: sum(r[1][j] for r in results) for j, k in enumerate(PARAM_KEYS)}
    return loss, grads, out.reshape(*tokens.shape, -1)


def loss_and_grads(params, tokens, targets, weights, *, heads: int, causal: bool, mask=None,
                   backend: str = "numba", dtype: str = "float64"):  # fmt: skip
    """Weighted mean cross-entropy ``-sum w log p(target) / sum w`` of the model on ``tokens``
    (batch, position) and its gradients (a dict like ``params``), by the Numba kernel or the NumPy
    reference, both computed in ``dtype`` (float64 or float32); ``mask`` (one 0/1 per block)
    bypasses blocks."""
    check_choice("backend", backend, BACKENDS)
    p, tokens, targets, weights, alpha = _check_batch(params, tokens, targets, weights, heads,
                                                      mask, dtype)  # fmt: skip
    if backend == "numpy":
        return transformer_reference(p, tokens, targets, weights, heads, causal, alpha)
    loss, grads, _ = _run_kernel(p, tokens, targets, weights, heads, causal, alpha, True)
    return loss, grads


def logits(params, tokens, *, heads: int, causal: bool, dtype: str = "float64") -> np.ndarray:
    """The model's logits, shape (batch, position, vocab), computed in ``dtype``."""
    p, tokens, _, weights, alpha = _check_batch(params, tokens, tokens,
                                                np.ones(np.shape(tokens)), heads, None, dtype)  # fmt: skip
    return _run_kernel(p, tokens, tokens, weights, heads, causal, alpha, False, logits=True)[2]


def mlm_batch(rng, tokens, mask_token: int, vocab: int, rate: float = 0.15):
    """BERT-style masked-token batch: each position is chosen with probability ``rate`` (at least
    one per row); a chosen position becomes ``mask_token`` (80%), a random token (10%) or stays
    (10%). Returns (inputs, targets, weights) with weights 1 at the chosen positions."""
    tokens = np.asarray(tokens)
    chosen = rng.random(tokens.shape) < rate
    chosen[np.arange(len(tokens)), rng.integers(0, tokens.shape[1], len(tokens))] = True
    draw = rng.random(tokens.shape)
    inputs = tokens.copy()
    inputs[chosen & (draw < 0.8)] = mask_token
    swap = chosen & (draw >= 0.8) & (draw < 0.9)
    inputs[swap] = rng.integers(0, vocab, swap.sum())
    return inputs, tokens, chosen * 1.0


@dataclass(frozen=True)
class Batches:
    """Training examples as arrays: ``tokens`` (N, T) int, and for next-token training optional
    ``weights`` (N, T - 1) on the predicted positions (e.g. 1 at an answer only)."""

    tokens: np.ndarray
    weights: np.ndarray | None = None

    def draw(self, rows, objective: str, vocab: int, rng):
        """(inputs, targets, weights) of the rows ``rows``: next-token (position t predicts
        t + 1) or masked-token (``mlm_batch``, the last id of the vocabulary as [MASK])."""
        seq = self.tokens[rows]
        if objective == "mlm":
            return mlm_batch(rng, seq, vocab - 1, vocab, MLM_RATE)
        weights = np.ones(seq[:, 1:].shape) if self.weights is None else self.weights[rows]
        return seq[:, :-1], seq[:, 1:], weights


def _check_batches(name, data, objective, vocab, context) -> Batches:
    if not isinstance(data, Batches):
        data = Batches(np.asarray(data))
    shift = objective == "next"
    tokens = _check_tokens(name, data.tokens, vocab - (objective == "mlm"), context + shift)
    if shift and tokens.shape[1] < 2:
        raise InputError(f"{name} needs at least 2 positions for next-token training")
    weights = None
    if data.weights is not None:
        weights = check_array(f"{name}.weights", data.weights, ndim=2)
        if not shift or weights.shape != (tokens.shape[0], tokens.shape[1] - 1):
            raise InputError(f"{name}.weights must have shape (N, T - 1) (next-token only)")
    return Batches(tokens, weights)


@dataclass(frozen=True)
class TrainResult(RunResult):
    """``losses[t]``: the training loss of step t+1's batch; ``eval_steps``/``eval_losses``: loss
    on the evaluation set after that many steps (0 = before training); ``checkpoints[t]``: a copy
    of the parameters after t steps; ``optimizer_state`` to continue Adam."""

    params: dict
    eval_steps: np.ndarray
    eval_losses: np.ndarray
    checkpoints: dict
    optimizer_state: dict


def train(
    params,
    data,
    steps: int,
    *,
    heads: int,
    causal: bool,
    objective: str = "next",
    lr=1e-3,
    batch_size: int = 32,
    optimizer_state=None,
    trainable=None,
    eval_data=None,
    eval_every: int = 0,
    checkpoints=(),
    seed=None,
    dtype: str = "float64",
) -> TrainResult:
    """Adam on minibatches of ``data`` (``Batches`` or an (N, T) token array) from a copy of
    ``params``: next-token or masked-token cross-entropy (``objective``); ``lr`` one rate or one
    per step. Blocks with ``trainable`` 0 are frozen (embeddings, final LN and head always
    train); ``optimizer_state`` continues an earlier run's Adam (``sims.optim``'s update
    and state, per-block step counts). The evaluation loss on ``eval_data`` (for MLM with one
    fixed masking) is recorded every ``eval_every`` steps and at the end. ``dtype``: float64 or
    float32, the type of the parameters, activations, gradients and Adam's moments (as a PyTorch
    model of that dtype); the result's parameters are of that type."""
    check_choice("objective", objective, OBJECTIVES)
    vocab, _, depth, context = _check_params(params, heads)
    data = _check_batches("data", data, objective, vocab, context)
    steps = check_steps("steps", steps, low=1)
    lrs = optim.per_step_rates(lr, steps)
    batch_size = check_int("batch_size", batch_size, low=1, high=data.tokens.shape[0])
    eval_every = check_int("eval_every", eval_every, low=0)
    # a copy, trained in place
    p = {k: np.array(v) for k, v in as_dtype(params, PARAM_KEYS, dtype).items()}
    state = optim.check_state(optimizer_state, p, BLOCK_KEYS)
    updated = np.ones(depth, dtype=bool) if trainable is None else (
        check_array("trainable", trainable, ndim=1) == 1)  # fmt: skip
    if updated.shape != (depth,):
        raise InputError(f"trainable must be {depth} values in {{0, 1}} (one per block)")
    wanted = {check_int("checkpoints", c, low=0, high=steps) for c in checkpoints}
    rng = as_generator(seed)
    full = np.ones(depth, p["tok"].dtype)
    evals, eval_steps, losses, saved = [], [], [], {}
    if eval_data is not None:
        evaluate = evaluation(p, eval_data, heads=heads, causal=causal, objective=objective,
                              dtype=dtype)  # fmt: skip

    def record(step):
        if step in wanted:
            saved[step] = {k: v.copy() for k, v in p.items()}
        if eval_data is not None and (step == steps or (eval_every and step % eval_every == 0)):
            evals.append(evaluate(p))
            eval_steps.append(step)

    record(0)
    work, status = None, Status.MAX_STAGES
    for t in range(steps):
        rows = rng.choice(data.tokens.shape[0], batch_size, replace=False)
        inputs, targets, weights = data.draw(rows, objective, vocab, rng)
        if weights.sum() == 0:  # nothing to predict in this batch (e.g. weights on padding)
            weights = np.ones_like(weights)
        work = _workspace(p, inputs, heads) if work is None else work
        with np.errstate(all="ignore"):
            loss, grads, _ = _run_kernel(
                p, np.ascontiguousarray(inputs), np.ascontiguousarray(targets),
                np.ascontiguousarray(weights, dtype=full.dtype), heads, causal, full, True,
                work=work,
            )  # fmt: skip
        losses.append(loss)
        if blew_up(loss, losses[0]):
            status = Status.DIVERGED
            break
        state["block_steps"][updated] += 1
        state["shared_steps"] += 1
        optim.update(p, grads, state, updated, lrs[t], "adam", "numba", BLOCK_KEYS)
        record(t + 1)
    return TrainResult(
        losses=np.array(losses), status=status, params=p, eval_steps=np.array(eval_steps, int),
        eval_losses=np.array(evals), checkpoints=saved, optimizer_state=state,
    )  # fmt: skip


def evaluation(params, data, *, heads: int, causal: bool, objective: str = "next",
               dtype: str = "float64"):  # fmt: skip
    """A function ``params -> loss`` on all of ``data`` (for MLM with one fixed masking, drawn
    from seed 0), computed in ``dtype``, for parameters of the shapes of ``params`` (others:
    ``InputError``)."""
    check_choice("objective", objective, OBJECTIVES)
    dtype = check_dtype(dtype)
    vocab, _, depth, context = _check_params(params, heads)
    data = _check_batches("data", data, objective, vocab, context)
    inputs, targets, weights = data.draw(slice(None), objective, vocab, np.random.default_rng(0))
    batch = (np.ascontiguousarray(inputs), np.ascontiguousarray(targets),
             np.ascontiguousarray(weights, dtype=dtype))  # fmt: skip
    work = _workspace(as_dtype(params, PARAM_KEYS, dtype), batch[0], heads)
    full = np.ones(depth, dtype)
    shapes = {k: np.shape(params[k]) for k in PARAM_KEYS}

    def loss(p) -> float:
        for k in PARAM_KEYS:  # the workspace fits these shapes only: another size would crash
            if k not in p or np.shape(p[k]) != shapes[k]:
                raise InputError(
                    f"params[{k!r}] has shape {np.shape(p.get(k))}, but this evaluation was "
                    f"built for {shapes[k]} (a model of another depth or width needs its own "
                    "evaluation)"
                )
        p = as_dtype(p, PARAM_KEYS, dtype)
        return _run_kernel(p, *batch, heads, causal, full, False, work=work)[0]

    return loss


def save_checkpoint(path, params, optimizer_state=None) -> None:
    """Write parameters (and Adam's state) to ``path`` as ``.npz``, atomically: a temporary file
    in the same directory, then a rename, so an interrupted save leaves no half-written file."""
    arrays = {f"param/{k}": np.asarray(v) for k, v in params.items()}
    if optimizer_state is not None:
        for moment in ("m", "v"):
            arrays |= {f"{moment}/{k}": v for k, v in optimizer_state[moment].items()}
        arrays["shared_steps"] = np.array(optimizer_state["shared_steps"])
        arrays["block_steps"] = optimizer_state["block_steps"]
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_checkpoint(path) -> tuple[dict, dict | None]:
    """``(params, optimizer_state)`` as written by ``save_checkpoint`` (state None if not saved)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with loaded as f:
            items = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise InputError(f"path: no checkpoint at {str(path)!r}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"path: {str(path)!r} is not a checkpoint written by save_checkpoint "
            f"({type(exc).__name__})"
        ) from None
    if not any(k.startswith("param/") for k in items):
        raise InputError(f"path: {str(path)!r} holds no parameters (not a save_checkpoint file)")
    params = {k.split("/", 1)[1]: v for k, v in items.items() if k.startswith("param/")}
    if "shared_steps" not in items:
        return params, None
    state = {m: {k.split("/", 1)[1]: v for k, v in items.items() if k.startswith(f"{m}/")}
             for m in ("m", "v")}  # fmt: skip
    state["shared_steps"] = int(items["shared_steps"])
    state["block_steps"] = items["block_steps"]
    return params, state
