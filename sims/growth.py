"""Growth operators and grown training (docs/theory.md §6, `secondary`; the operators'
exact conventions below are the project's reading of the papers' descriptions).

A network is a list of layers, each a dict of arrays; a *block* is ``block_size`` consecutive
layers. An operator returns the grown list and its index map: ``index_map[j]`` is the old layer
that new layer j copies, or -1 for a layer made afresh.

* ``progressive`` (Gong et al. 2019): double the depth, new layer ``n + j`` copies layer j;
* ``gradual`` (Reddi et al. 2023): append a copy of the top block;
* ``midas``: duplicate the middle block, block ``ceil(k/2)`` (1-based) of k, and insert the copy
  right after it;
* ``zero``: append a block whose residual branch outputs 0 (function preserving): a fresh block
  with ``zero_keys`` set to 0, or zeros when no ``fresh`` maker is given;
* ``random``: append a fresh block;
* ``copy_noise``: append a copy of the top block plus Gaussian noise of ``noise`` times each
  array's root mean square.

Stage lengths follow MIDAS's Prop-alpha rule, stage i of n getting ``T i^alpha / sum_j j^alpha``
steps (rounded as RaPTr's stages are, ``sims.subnetworks.stage_bounds``, so the integers sum to T
exactly). Costs are counted in layer-steps: ``theory.flops.stacking_relative_flops``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from infra.checks import (
    InputError,
    check_choice,
    check_int,
    check_real,
    check_steps,
)
from sims.problems import as_generator
from sims.results import NEVER, RunResult, Status
from sims.subnetworks import stage_bounds

NEW_LAYERS = ("copy", "copy_noise", "zero", "fresh")
MAX_BLOCKS = 10**6  # deepest network a growth schedule may reach
DEPTH_RULES = ("double", "add_block")


@dataclass(frozen=True)
class Operator:
    """A growth operator as data: ``index_map(n, b)`` says which old layer each layer of the grown
    network copies (-1: made afresh), for n layers in blocks of b; ``new_layer`` how the new
    layers are made (``copy``: plain copies; ``copy_noise``: copies plus noise; ``zero``: a fresh
    layer, or zeros, with ``zero_keys`` set to 0; ``fresh``: ``fresh(rng)``); ``depth`` how the
    depth grows from stage to stage (``double`` or ``add_block``). Every field is required, so an
    operator missing a piece cannot be registered."""

    index_map: Callable[[int, int], list[int]]
    new_layer: str
    depth: str

    def __post_init__(self):
        check_choice("new_layer", self.new_layer, NEW_LAYERS)
        check_choice("depth", self.depth, DEPTH_RULES)


def _doubled(n: int, b: int) -> list[int]:
    return list(range(n)) * 2  # new layer n + j copies layer j


def _top_block_appended(n: int, b: int) -> list[int]:
    return list(range(n)) + list(range(n - b, n))


def _middle_block_duplicated(n: int, b: int) -> list[int]:
    middle = math.ceil(n // b / 2) - 1  # 0-based index of block ceil(k/2)
    cut = (middle + 1) * b
    return list(range(cut)) + list(range(middle * b, cut)) + list(range(cut, n))


def _fresh_block_appended(n: int, b: int) -> list[int]:
    return list(range(n)) + [-1] * b


OPERATORS = {
    "progressive": Operator(_doubled, "copy", "double"),
    "gradual": Operator(_top_block_appended, "copy", "add_block"),
    "midas": Operator(_middle_block_duplicated, "copy", "add_block"),
    "zero": Operator(_fresh_block_appended, "zero", "add_block"),
    "random": Operator(_fresh_block_appended, "fresh", "add_block"),
    "copy_noise": Operator(_top_block_appended, "copy_noise", "add_block"),
}
STATE_MODES = ("copy", "reset")
TRAIN_MODES = ("all", "new")


def _check_layers(layers, block_size) -> tuple[list[dict], int]:
    if not isinstance(layers, list | tuple) or not layers:
        raise InputError("layers must be a non-empty list of dicts of arrays")
    if not all(isinstance(layer, dict) for layer in layers):
        raise InputError("layers must be a list of dicts of arrays (one dict per layer)")
    keys = set(layers[0])
    if any(set(layer) != keys for layer in layers):
        raise InputError("layers must all have the same keys")
    block_size = check_int("block_size", block_size, low=1)
    if len(layers) % block_size:
        raise InputError(
            f"block_size {block_size} does not divide the number of layers {len(layers)}"
        )
    return list(layers), block_size


def grow(
    layers,
    operator: str,
    *,
    block_size: int = 1,
    fresh: Callable | None = None,
    zero_keys=None,
    noise: float = 0.1,
    beta: float = 1.0,
    seed=None,
) -> tuple[list[dict], tuple[int, ...]]:
    """Apply a growth operator (module docstring). ``fresh(rng)`` makes one new layer (needed by
    ``random``; ``zero`` zeroes ``zero_keys``, default all, of a fresh layer or of zeros: the
    arrays of a layer's output, whose zeroing makes it the identity). A new copy has its
    ``zero_keys`` multiplied by ``beta``: stacking's scaled copy ``beta f_t`` (1: a plain copy).
    Returns ``(new_layers, index_map)``; arrays are copies, the input is not modified."""
    layers, b = _check_layers(layers, block_size)
    op = OPERATORS[check_choice("operator", operator, tuple(OPERATORS))]
    noise = check_real("noise", noise, low=0.0)
    beta = check_real("beta", beta)
    if op.new_layer == "fresh" and fresh is None:
        raise InputError(f"operator {operator!r} needs fresh, a function rng -> new layer")
    rng = as_generator(seed)
    n = len(layers)
    index_map = op.index_map(n, b)
    is_new = copied_positions(index_map)
    grown = []
    for j, source in enumerate(index_map):
        if source >= 0:
            layer = {k: np.array(v, dtype=np.float64) for k, v in layers[source].items()}
            if op.new_layer == "copy_noise" and is_new[j]:
                for k, v in layer.items():
                    layer[k] = v + noise * np.sqrt(np.mean(v**2)) * rng.standard_normal(v.shape)
            if is_new[j] and beta != 1.0:
                for k in layer if zero_keys is None else zero_keys:
                    layer[k] = beta * layer[k]
        else:
            template = layers[n - b + (j - n) % b]  # the top block's matching layer
            if fresh is not None:
                layer = {k: np.array(v, dtype=np.float64) for k, v in fresh(rng).items()}
            else:
                layer = {k: np.zeros_like(v, dtype=np.float64) for k, v in template.items()}
            if set(layer) != set(template):
                raise InputError("fresh(rng) must return a layer with the same keys as layers")
            zeroed = (layer if zero_keys is None else zero_keys) if op.new_layer == "zero" else ()
            for k in zeroed:
                if k not in layer:
                    raise InputError(f"zero_keys names {k!r}, which is not a key of the layers")
                layer[k] = np.zeros_like(layer[k])
        grown.append(layer)
    return grown, tuple(index_map)


def copied_positions(index_map) -> np.ndarray:
    """Positions of the layers that are new after a growth: made afresh (-1) or a later copy
    of a layer that already appeared (the original keeps its place)."""
    seen, new = set(), []
    for source in index_map:
        new.append(source < 0 or source in seen)
        seen.add(source)
    return np.array(new)


def prop_alpha(total_steps: int, n_stages: int, alpha: float) -> np.ndarray:
    """Prop-alpha stage lengths: stage i (1-based) gets ``T i^alpha / sum_j j^alpha`` steps,
    rounded at the cumulative stage boundaries so the lengths sum to T exactly (alpha = 0: equal
    stages)."""
    total_steps = check_steps("total_steps", total_steps, low=1)
    n_stages = check_int("n_stages", n_stages, low=1)
    if n_stages > total_steps:
        raise InputError(f"n_stages ({n_stages}) must not exceed total_steps ({total_steps})")
    alpha = check_real("alpha", alpha, low=0.0, high=30.0)  # n^alpha stays finite up to n = 1e8
    weights = np.arange(1, n_stages + 1, dtype=float) ** alpha
    return np.diff(stage_bounds(total_steps, n_stages, weights / weights.sum()))


def stage_depths(operator: str, start_blocks: int, n_stages: int) -> np.ndarray:
    """Blocks in each stage, by the operator's depth rule: doubling (``progressive``) or one more
    block per stage."""
    op = OPERATORS[check_choice("operator", operator, tuple(OPERATORS))]
    start_blocks = check_int("start_blocks", start_blocks, low=1, high=MAX_BLOCKS)
    n_stages = check_int("n_stages", n_stages, low=1, high=MAX_BLOCKS)
    doubling = op.depth == "double"
    final = start_blocks * 2 ** (n_stages - 1) if doubling else start_blocks + n_stages - 1
    if final > MAX_BLOCKS:  # Python integers: no silent int64 overflow
        raise InputError(
            f"{operator!r} from {start_blocks} blocks over {n_stages} stages reaches {final:.3g} "
            f"blocks; the limit is {MAX_BLOCKS} (fewer n_stages)"
        )
    stages = np.arange(n_stages)
    return start_blocks * 2**stages if doubling else start_blocks + stages


def learning_rates(
    total_steps: int, peak: float, warmup: int = 0, decay=True, stage_starts=(), rewarm=False
) -> np.ndarray:
    """One global schedule: linear warm-up over ``warmup`` steps, then (with ``decay``) cosine
    decay to ``peak / 10`` at ``total_steps``. With ``rewarm``, each stage (from
    ``stage_starts``) ramps linearly from 0 to the global value over its first ``warmup`` steps
    again."""
    total_steps = check_steps("total_steps", total_steps, low=1)
    peak = check_real("peak", peak, low=0.0, low_open=True)
    warmup = check_int("warmup", warmup, low=0, high=total_steps)
    t = np.arange(total_steps, dtype=float)
    ramp = np.minimum(1.0, (t + 1) / (warmup + 1))
    progress = np.clip((t - warmup) / max(total_steps - warmup, 1), 0, 1)
    lrs = peak * ramp * ((0.1 + 0.45 * (1 + np.cos(np.pi * progress))) if decay else 1.0)
    if rewarm:
        for start in stage_starts:
            start = check_int("stage_starts", start, low=0, high=total_steps)
            local = np.arange(min(warmup, total_steps - start), dtype=float)
            lrs[start : start + local.size] *= (local + 1) / (warmup + 1)
    return lrs


@dataclass(frozen=True)
class GrownRun(RunResult):
    """A grown (or, with one stage, plain) training run: ``losses[i]`` the evaluation loss after
    ``eval_steps[i]`` steps (0 = before training); ``flops[i]`` the layer-steps spent by then over
    the final depth; ``stage_starts`` and ``depths`` per stage; ``layers`` the final layers; for the
    residual MLP ``params`` the final parameters; ``model`` the final model with its optimiser
    state (continue training from it to keep Adam's moments). Status: diverged when the training
    of any stage diverged, else max_stages."""

    eval_steps: np.ndarray
    flops: np.ndarray
    stage_starts: np.ndarray
    depths: np.ndarray
    layers: list
    params: dict | None = None
    model: Model | None = None

    def stage_axis(self) -> np.ndarray:
        return self.eval_steps


@dataclass(frozen=True)
class Model:
    """A network during grown training: ``shared`` parameters outside the blocks (None for the
    deep linear family), ``layers``, and the optimiser ``state`` (None before the first step)."""

    shared: dict | None
    layers: list
    state: dict | None = None


class BlockFamily:
    """What the residual MLP and the transformer share: shared arrays plus one dict per block
    (the arrays ``block_keys`` stacked on axis 0), and Adam's state mapped through a growth."""

    block_keys: tuple = ()

    @classmethod
    def model(cls, params) -> Model:
        """Split parameters into shared ones and one dict per block."""
        depth = np.shape(params[cls.block_keys[0]])[0]
        shared = {k: v for k, v in params.items() if k not in cls.block_keys}
        return Model(shared, [{k: params[k][i] for k in cls.block_keys} for i in range(depth)])

    @classmethod
    def params(cls, model: Model) -> dict:
        """Shared and block arrays joined again (the inverse of ``model``)."""
        return model.shared | {k: np.stack([x[k] for x in model.layers]) for k in cls.block_keys}

    @classmethod
    def trained(cls, result):
        """What a family's ``train`` returns, from a block family's training run ``result``
        (``params``, ``optimizer_state``, ``eval_steps``, ``eval_losses``, ``status``): the
        trained model with its optimiser state, and the evaluations."""
        trained = cls.model(result.params)
        model = Model(trained.shared, trained.layers, result.optimizer_state)
        return model, result.eval_steps, result.eval_losses, result.status

    def map_state(self, state, index_map, reset):
        """Adam state after a growth: old blocks keep theirs; a copied block takes its source's
        moments and step count (``reset=False``) or starts afresh; fresh blocks start afresh."""
        new = copied_positions(index_map)
        sources = [s if s >= 0 and not (reset and is_new) else -1 for s, is_new in zip(
            index_map, new, strict=True)]  # fmt: skip

        def take(value):
            return np.stack([value[s] if s >= 0 else np.zeros_like(value[0]) for s in sources])

        out = {"shared_steps": state["shared_steps"]}
        for moment in ("m", "v"):
            out[moment] = {
                k: take(v) if k in self.block_keys else v for k, v in state[moment].items()
            }
        out["block_steps"] = np.array([state["block_steps"][s] if s >= 0 else 0 for s in sources])
        return out


@dataclass(frozen=True)
class _Options:
    operator: str | None
    block_size: int
    train: str
    reset: bool
    noise: float
    beta: float


def _grow_model(family, model: Model, options: _Options, rng) -> tuple[Model, np.ndarray | None]:
    """One growth step; returns the grown model and the trainable mask for its stage."""
    layers, index_map = grow(
        model.layers, options.operator, block_size=options.block_size,
        fresh=lambda rng: family.fresh(rng, model),
        zero_keys=family.zero_keys, noise=options.noise, beta=options.beta, seed=rng,
    )  # fmt: skip
    new = copied_positions(index_map)
    state = None if model.state is None else family.map_state(model.state, index_map, options.reset)
    return Model(model.shared, layers, state), (None if options.train == "all" else new * 1.0)


class _Record:
    """Evaluations accumulated over stages, with their cost in layer-steps."""

    def __init__(self):
        self.steps, self.losses, self.costs, self.depths, self.starts = [], [], [], [], []
        self.step = self.cost = 0
        self.status = Status.MAX_STAGES

    def stage(self, depth):
        self.depths.append(depth)
        self.starts.append(self.step)

    def add(self, at, losses, depth, steps, status):
        if status == Status.DIVERGED:
            self.status = Status.DIVERGED
        self.steps.append(self.step + at)
        self.losses.append(losses)
        self.costs.append(self.cost + at * depth)
        self.step += steps
        self.cost += steps * depth

    def run(self, family, model: Model) -> GrownRun:
        return GrownRun(
            losses=np.concatenate(self.losses),
            status=self.status,
            eval_steps=np.concatenate(self.steps),
            flops=np.concatenate(self.costs) / self.depths[-1],
            stage_starts=np.array(self.starts),
            depths=np.array(self.depths),
            layers=model.layers,
            params=family.params(model),
            model=model,
        )


def _check_driver(layers, block_size, stage_steps, train, optimizer_state, lr):
    _, block_size = _check_layers(layers, block_size)
    if isinstance(stage_steps, str) or not isinstance(stage_steps, Sequence | np.ndarray):
        raise InputError(
            f"stage_steps must be a list of step counts, one per stage, got "
            f"{type(stage_steps).__name__} {stage_steps!r}"
        )
    stage_steps = [check_steps("stage_steps", s) for s in stage_steps]
    check_real("lr", lr, low=0.0, low_open=True)
    if not stage_steps:
        raise InputError("stage_steps must name at least one stage")
    check_choice("train", train, TRAIN_MODES)
    check_choice("optimizer_state", optimizer_state, STATE_MODES)
    return block_size, stage_steps


def train_grown(
    family,
    model: Model,
    operator: str | None,
    stage_steps,
    *,
    lr,
    block_size: int = 1,
    train: str = "all",
    optimizer_state: str = "copy",
    warmup: int = 0,
    decay: bool = True,
    rewarm: bool = False,
    extra_steps: int = 0,
    noise: float = 0.1,
    beta: float = 1.0,
    seed=None,
) -> GrownRun:
    """Train ``model`` for ``stage_steps[0]`` steps, then at each later stage grow by
    ``operator`` and train for that stage's steps. ``family`` is a model family's growth adapter
    (``sims/families/<name>/growth.py``; ``sims.families.table`` lists them), which makes, trains
    and reads its layers. Each stage trains all layers (``train="all"``) or only the new
    ones; Adam state of copied blocks copied or reset; new copies scaled by ``beta`` (``grow``).
    Learning rates from ``learning_rates``
    over ``sum(stage_steps)`` (peak ``lr``); then ``extra_steps`` more at the final depth and the
    final learning rate (so a slower run can reach a target, and the run up to
    ``sum(stage_steps)`` is the same with or without them). ``operator=None`` with one stage is plain training. Each stage's
    evaluations include the one right after its growth, so a step count may appear twice."""
    block_size, stage_steps = _check_driver(
        model.layers, block_size, stage_steps, train, optimizer_state, lr
    )
    extra_steps = check_steps("extra_steps", extra_steps)
    if operator is None and len(stage_steps) > 1:
        raise InputError("operator is needed when there is more than one stage")
    options = _Options(operator, block_size, train, optimizer_state == "reset", noise, beta)
    rng = as_generator(seed)
    starts = np.concatenate([[0], np.cumsum(stage_steps)[:-1]]).astype(int)
    lrs = learning_rates(int(sum(stage_steps)), lr, warmup, decay, starts[1:], rewarm)
    lrs = np.concatenate([lrs, np.full(extra_steps, lrs[-1])])
    stage_steps[-1] += extra_steps
    record, trainable = _Record(), None
    for i, steps in enumerate(stage_steps):
        if i > 0:
            model, trainable = _grow_model(family, model, options, rng)
        record.stage(len(model.layers))
        if steps:
            model, at, losses, status = family.train(
                model, steps, lrs[record.step : record.step + steps], trainable, rng
            )
            record.add(at, losses, len(model.layers), steps, status)
    return record.run(family, model)


def train_adaptive(
    family,
    model: Model,
    candidates,
    stage_steps,
    probe_steps: int,
    *,
    lr,
    warmup: int = 0,
    decay: bool = True,
    noise: float = 0.1,
    score=None,
    seed=None,
) -> tuple[GrownRun, list[str]]:
    """Adaptive gradual stacking (after LAG): at each growth, every candidate operator is applied
    to the same model and trained ``probe_steps`` steps on the same minibatches; the one with the
    lowest ``score(model)`` (default: its last evaluation loss; pass a loss on a selection set
    apart from the evaluation set, so that the choice is not scored on the data it was made
    with) then continues the stage. Probes of the candidates not chosen are counted in the
    FLOPs (their evaluations are not recorded). Returns the run and the operators chosen."""
    _, stage_steps = _check_driver(model.layers, 1, stage_steps, "all", "copy", lr)
    if not candidates:
        raise InputError("candidates must name at least one operator")
    for operator in candidates:
        check_choice("candidates", operator, tuple(OPERATORS))
    probe_steps = check_int("probe_steps", probe_steps, low=1)
    if any(s < probe_steps for s in stage_steps[1:]):
        raise InputError("every stage after the first must be at least probe_steps long")
    rng = as_generator(seed)
    lrs = learning_rates(int(sum(stage_steps)), lr, warmup, decay)
    record, chosen = _Record(), []
    for i, steps in enumerate(stage_steps):
        probe = probe_steps if i > 0 else 0
        if i > 0:
            batch_seed = int(rng.integers(2**63))
            trials = []
            for operator in candidates:
                options = _Options(operator, 1, "all", False, noise, 1.0)
                grown, _ = _grow_model(family, model, options, rng)
                lr_part = lrs[record.step : record.step + probe]
                trained, at, losses, status = family.train(
                    grown, probe, lr_part, None, np.random.default_rng(batch_seed)
                )
                value = losses[-1] if score is None else score(trained)
                trials.append((value, operator, trained, at, losses, status))
            best = min(range(len(trials)), key=lambda j: trials[j][0])
            _, operator, model, at, losses, status = trials[best]
            chosen.append(operator)
            record.stage(len(model.layers))
            record.cost += (len(candidates) - 1) * probe * len(model.layers)
            record.add(at, losses, len(model.layers), probe, status)
        else:
            record.stage(len(model.layers))
        if steps - probe:
            lr_part = lrs[record.step : record.step + steps - probe]
            model, at, losses, status = family.train(model, steps - probe, lr_part, None, rng)
            record.add(at, losses, len(model.layers), steps - probe, status)
    return record.run(family, model), chosen


def grown_maps(operator: str, n_stages: int) -> list:
    """The index maps of ``operator`` growing one block to ``n_stages`` blocks, stage by stage."""
    return [OPERATORS[operator].index_map(n, 1) for n in range(1, n_stages)]


def copy_pair(index_maps) -> int:
    """Index j of the adjacent pair (j, j + 1) made by the last growth: a block and its copy."""
    last = list(index_maps[-1])
    for j in range(len(last) - 1):
        if last[j] == last[j + 1]:
            return j
    raise ValueError("the last growth made no adjacent copy")


def block_similarity(params) -> np.ndarray:
    """Cosine similarity between blocks' flattened (W1, W2) weights (residual MLP or transformer
    parameters): ``S_ij = <u_i, u_j> / (|u_i| |u_j|)``."""
    flat = np.concatenate([params["w1"].reshape(len(params["w1"]), -1),
                           params["w2"].reshape(len(params["w2"]), -1)], axis=1)  # fmt: skip
    flat = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    return flat @ flat.T


def loss_at_flops(run, flops: float) -> float:
    """A grown run's (or a ``Curve``'s) loss at its last evaluation whose cost is at most
    ``flops``."""
    return float(run.losses[np.flatnonzero(run.flops <= flops * (1 + 1e-12))[-1]])


def flops_to(run, target: float) -> float:
    """A grown run's (or a ``Curve``'s) cost at its first evaluation with loss <= ``target``
    (absolute); ``NEVER`` if none reaches it."""
    hits = np.flatnonzero(run.losses <= target)
    return float(run.flops[hits[0]]) if hits.size else NEVER


@dataclass(frozen=True)
class Curve:
    """A loss curve: evaluations ``losses`` at costs ``flops`` (as a GrownRun's)."""

    flops: np.ndarray
    losses: np.ndarray


def continued(family, run: GrownRun, steps: int, *, lr, seed=None) -> Curve:
    """``run``'s loss curve followed by ``steps`` more steps of training of its final model
    (Adam's moments kept) at the constant learning rate ``lr``: the run taken past its schedule,
    e.g. to another run's FLOPs, with ``run`` itself left as it was."""
    more = train_grown(family, run.model, None, [steps], lr=lr, decay=False, seed=seed)
    return Curve(np.concatenate([run.flops, run.flops[-1] + more.flops[1:]]),
                 np.concatenate([run.losses, more.losses[1:]]))  # fmt: skip


def rescaled(run, factor: float, budget: float = np.inf) -> Curve:
    """``run``'s loss curve needing ``factor`` times its FLOPs, ``L(F) = L_run(F / factor)``; by
    ``loss_at_flops``, its final loss beyond the run's budget. A method with this curve is
    ``1 / factor`` times as fast as ``run``'s: a measured control for claims about speed. With
    ``budget``, only its evaluations that cost at most ``budget`` (the method stopped there)."""
    flops = run.flops * factor
    kept = flops <= budget * (1 + 1e-12)
    return Curve(flops[kept], run.losses[kept])
