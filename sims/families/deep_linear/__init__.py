"""Stagewise training of deep linear residual networks: stacking versus zero and random
initialisation versus Nesterov's method on the end-to-end matrix (docs/theory.md §§2-3).

Population risk ``R(P) = 1/2 tr((P - W*) Sigma (P - W*)^T)``, ``grad R(P) = (P - W*) Sigma``. After
t stages the network is ``P_t = (I + W_t) ... (I + W_1) V0``; stage t+1 adds a layer initialised at
``beta W_t`` (stacking), 0 (zero), ``W_t`` (copy), noise (random) or ``beta_t W_t`` with a trainable
``beta_t``, and takes ONE gradient step of size eta on the new layer only. ``W_0 = 0``, so stage 1
is a gradient step from V0. The recursion and its error terms E1, E2 are written out in
``sims/families/deep_linear/kernel.py``; the NumPy reference is ``reference.py`` beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from infra.checks import (
    MAX_DIMENSION,
    InputError,
    check_array,
    check_choice,
    check_elements,
    check_int,
    check_real,
    check_steps,
)
from sims.families.deep_linear import kernel
from sims.families.deep_linear.reference import stagewise_reference
from sims.problems import as_generator
from sims.results import DIVERGENCE_FACTOR, RunResult, Status
from theory.rates import nesterov_beta

INITS = tuple(kernel.INIT_CODES)
LAYER_GRADS = ("euclidean", "functional")
BACKENDS = ("numba", "numpy")


@dataclass(frozen=True)
class StagewiseResult(RunResult):
    """One run. ``losses[t] = R(P_t) - R(W*)`` for t = 0..n (``losses[0]`` at V0); n < stages when
    the run diverged or reached its target. ``e1[t-1]``, ``e2[t-1]``: norms of the momentum and
    metric errors of stage t relative to its step ``||P_t - P_{t-1}||``; ``betas[t-1]``: momentum
    after stage t (changes only for ``init="trainable"``); ``thread``: the Numba thread that ran
    it (0 outside a parallel batch)."""

    init: str
    layer_grad: str = "euclidean"
    beta: float = 0.0
    eta: float = 1.0
    e1: np.ndarray = field(default_factory=lambda: np.empty(0))
    e2: np.ndarray = field(default_factory=lambda: np.empty(0))
    betas: np.ndarray = field(default_factory=lambda: np.empty(0))
    thread: int = 0


@dataclass(frozen=True)
class Instance:
    """One validated run: the problem, ``Sigma = q diag(lam) q^T``, and the run's options."""

    sigma: np.ndarray
    w_star: np.ndarray
    v0: np.ndarray
    lam: np.ndarray
    q: np.ndarray
    init: str
    layer_grad: str
    beta: float
    eta: float
    beta_lr: float  # step on beta of init "trainable"
    noise: np.ndarray  # (stages, d, d) for init "random", else (1, d, d) zeros
    target: float


def check_options(stages, init="stack", beta=None, layer_grad="euclidean", random_scale=0.0,
                  target=None, beta_lr=None) -> None:  # fmt: skip
    """The checks of a run's options that need no problem (``InputError`` naming the first wrong
    one): ``prepare_instance`` runs them, and the sweep cell when a grid is read."""
    check_steps("stages", stages)
    check_choice("init", init, INITS)
    check_choice("layer_grad", layer_grad, LAYER_GRADS)
    if beta is not None and init not in ("stack", "trainable"):
        raise InputError(f"beta applies to init 'stack' or 'trainable', not {init!r}")
    if beta is not None:
        check_real("beta", beta, low=0, high=1)
    if beta_lr is not None and init != "trainable":
        raise InputError(f"beta_lr applies to init 'trainable', not {init!r}")
    if beta_lr is not None:
        check_real("beta_lr", beta_lr)
    check_real("random_scale", random_scale, low=0.0)
    if target is not None:
        check_real("target", target, low=0.0, high=1.0)


def prepare_instance(
    sigma,
    w_star,
    stages,
    init="stack",
    beta=None,
    eta=None,
    V0=None,
    layer_grad="euclidean",
    random_scale=0.0,
    seed=None,
    target=None,
    beta_lr=None,
) -> Instance:
    """Validate one instance's arguments (raising ``InputError`` naming them) and diagonalise
    Sigma once; the result is what the kernel and the reference both run."""
    sigma = check_array("Sigma", sigma, ndim=2)
    d = sigma.shape[0]
    if sigma.shape != (d, d) or d == 0:
        raise InputError(f"Sigma must be a non-empty square matrix, got shape {sigma.shape}")
    if np.abs(sigma - sigma.T).max() > 1e-10 * np.abs(sigma).max():
        raise InputError("Sigma must be symmetric")
    if d > MAX_DIMENSION:
        raise InputError(f"Sigma is {d} x {d}; the largest d is {MAX_DIMENSION}")
    lam, q = np.linalg.eigh((sigma + sigma.T) / 2)
    if lam[0] <= 0:
        raise InputError(f"Sigma must be positive definite (smallest eigenvalue {lam[0]:.3g})")
    w_star = check_array("W_star", w_star, ndim=2)
    if w_star.shape != (d, d):
        raise InputError(f"W_star must have Sigma's shape {(d, d)}, got {w_star.shape}")
    v0 = np.eye(d) if V0 is None else check_array("V0", V0, ndim=2)
    if v0.shape != (d, d):
        raise InputError(f"V0 must have Sigma's shape {(d, d)}, got {v0.shape}")
    check_options(stages, init, beta, layer_grad, random_scale, target, beta_lr)
    if layer_grad == "functional" and np.linalg.cond(v0) > 1e12:
        raise InputError("V0 must be invertible for layer_grad='functional'")
    kappa = lam[-1] / lam[0]
    if init in ("stack", "trainable"):
        beta = nesterov_beta(float(kappa)) if beta is None else float(beta)
    else:
        beta = 1.0 if init == "copy" else 0.0
    eta = float(1.0 / lam[-1]) if eta is None else check_real("eta", eta, low=0.0, low_open=True)
    beta_lr = eta if beta_lr is None else float(beta_lr)
    random_scale = float(random_scale)
    if init == "random":
        check_elements("stages x d x d (random-init noise)", stages * d * d)
        xi = as_generator(seed).standard_normal((stages, d, d)) * (random_scale / np.sqrt(d))
    else:
        xi = np.zeros((1, d, d))
    target = 0.0 if target is None else float(target)
    return Instance(sigma, w_star, v0, lam, q, init, layer_grad, beta, eta, beta_lr, xi, target)


def _run(instances: list[Instance], stages: int, backend: str) -> list[StagewiseResult]:
    check_choice("backend", backend, BACKENDS)
    if backend == "numpy":
        import array_api_compat

        xp = array_api_compat.array_namespace(np.empty(0))
        return [reference_run(x, stages, xp) for x in instances]
    out: list[StagewiseResult | None] = [None] * len(instances)
    for d in sorted({x.lam.shape[0] for x in instances}):
        idx = [i for i, x in enumerate(instances) if x.lam.shape[0] == d]
        group = [instances[i] for i in idx]
        n, width = len(group), max(x.noise.shape[0] for x in group)
        noise = np.zeros((n, width, d, d))
        for k, x in enumerate(group):
            if x.init == "random":  # other inits carry no noise: nothing to rotate
                noise[k, : x.noise.shape[0]] = x.q.T @ x.noise @ x.q  # Q^T xi_t Q per stage
        losses = np.full((n, stages + 1), np.nan)
        e1, e2, betas = (np.full((n, stages), np.nan) for _ in range(3))
        n_done = np.zeros(n, dtype=np.int64)
        status = np.zeros(n, dtype=np.int64)
        thread = np.zeros(n, dtype=np.int64)
        arrays = (
            np.array([x.lam for x in group]),
            np.array([_to_eigenbasis(x.w_star, x.q) for x in group]),
            np.array([_to_eigenbasis(x.v0, x.q) for x in group]),
            stages,
            np.array([x.beta for x in group]),
            np.array([x.eta for x in group]),
            np.array([x.beta_lr for x in group]),
            np.array([kernel.INIT_CODES[x.init] for x in group], dtype=np.int64),
            np.array([x.layer_grad == "functional" for x in group]),
            noise,
            np.array([x.target for x in group]),
            DIVERGENCE_FACTOR,
            losses,
            e1,
            e2,
            betas,
        )
        if n == 1:  # no thread pool for a single run
            one = [a[0] if isinstance(a, np.ndarray) else a for a in arrays]
            n_done[0], status[0] = kernel.stagewise_one(*one)
        else:
            kernel.stagewise_batch(*arrays, n_done, status, thread)
        for k, i in enumerate(idx):
            m = n_done[k]
            out[i] = _result(
                group[k],
                losses[k, : m + 1],
                e1[k, :m],
                e2[k, :m],
                betas[k, :m],
                Status.from_code(status[k]),
                int(thread[k]),
            )
    return out


def _to_eigenbasis(m: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``Q^T M Q``; the identity is left as it is (it is its own rotation)."""
    d = m.shape[0]
    if np.array_equal(m, np.eye(d)):
        return np.eye(d)
    return q.T @ m @ q


def reference_run(x: Instance, stages: int, xp) -> StagewiseResult:
    """One validated instance through the array-API reference on namespace ``xp``."""

    def put(a):
        return xp.asarray(np.ascontiguousarray(a), dtype=xp.float64)

    outputs = stagewise_reference(
        xp,
        put(x.sigma),
        put(x.w_star),
        put(x.v0),
        stages,
        float(x.beta),
        float(x.eta),
        float(x.beta_lr),
        x.init,
        x.layer_grad == "functional",
        put(x.noise),
        float(x.target),
        DIVERGENCE_FACTOR,
    )
    return _result(x, *outputs)


def _result(x: Instance, losses, e1, e2, betas, status: Status, thread=0) -> StagewiseResult:
    if status == Status.DIVERGED and not np.isfinite(losses[-1]):
        losses, e1, e2, betas = losses[:-1], e1[:-1], e2[:-1], betas[:-1]
    return StagewiseResult(
        np.ascontiguousarray(losses),
        status,
        x.init,
        x.layer_grad,
        x.beta,
        x.eta,
        np.asarray(e1),
        np.asarray(e2),
        np.asarray(betas),
        thread,
    )


def train_stagewise(
    Sigma,
    W_star,
    stages,
    init="stack",
    beta=None,
    eta=None,
    V0=None,
    layer_grad="euclidean",
    random_scale=0.0,
    seed=None,
    *,
    target=None,
    beta_lr=None,
    backend="numba",
) -> StagewiseResult:
    """Train a deep linear residual network stage by stage, one gradient step per new layer.

    init: "zero" | "random" (i.i.d. N(0, random_scale^2/d) entries) | "stack" (``beta W_t``, beta
    defaulting to ``nesterov_beta(kappa(Sigma))``) | "copy" (beta = 1) | "trainable" (beta starts
    at beta and takes a gradient step of size beta_lr, default eta, each stage; a negative beta_lr
    steps up the gradient). layer_grad: "euclidean" (true gradient of the
    layer, ``G P^T``) or "functional" (``G P^{-1}``). eta defaults to ``1/lambda_max(Sigma)``, V0 to
    I. target: stop once ``loss <= target * loss_0`` (status "converged"). backend: "numba" (the
    compiled kernel) or "numpy" (the reference).
    """
    x = prepare_instance(
        Sigma, W_star, stages, init, beta, eta, V0, layer_grad, random_scale, seed, target, beta_lr
    )
    return _run([x], stages, backend)[0]


def stacking_line_search(Sigma, W_star, stages: int, *, target=None) -> StagewiseResult:
    """Euclidean stacking whose scale beta_t is chosen afresh at each stage by exact line search on
    that stage's loss: ``P_{t+1}(b) = (I + W(b)) P_t`` with ``W(b) = b W_t - eta grad R((I + b W_t)
    P_t) P_t^T`` is affine in b, ``P_{t+1}(b) - W* = A + b B``, so ``R`` is a quadratic in b
    minimised at ``b = -<A, B Sigma> / <B, B Sigma>`` (b = 0 when B = 0, as at the first stage).
    The strongest one-stage training of beta; a pure-NumPy loop (the stage count is small).
    target, eta, losses, betas: as ``train_stagewise`` (e1, e2 not recorded)."""
    x = prepare_instance(Sigma, W_star, stages, "trainable", 0.0, None, None, target=target)
    sigma, w_star, eye = x.sigma, x.w_star, np.eye(len(x.lam))

    def risk(p):
        return excess_risk(p, w_star, sigma)

    p, w, losses, betas = x.v0.copy(), np.zeros_like(x.v0), [], []
    losses.append(risk(p))
    status = Status.MAX_STAGES
    for _ in range(stages):
        a = (eye - x.eta * (p - w_star) @ sigma @ p.T) @ p - w_star
        b = (w - x.eta * w @ p @ sigma @ p.T) @ p
        curvature = float(np.trace(b @ sigma @ b.T))
        beta = 0.0 if curvature == 0 else -float(np.trace(a @ sigma @ b.T)) / curvature
        w = beta * w - x.eta * ((eye + beta * w) @ p - w_star) @ sigma @ p.T
        p = (eye + w) @ p
        losses.append(risk(p))
        betas.append(beta)
        if not np.isfinite(losses[-1]) or losses[-1] > DIVERGENCE_FACTOR * losses[0]:
            status = Status.DIVERGED
            break
        if losses[-1] <= x.target * losses[0]:
            status = Status.CONVERGED
            break
    return StagewiseResult(
        np.array(losses), status, init="line-search", beta=0.0, eta=x.eta, betas=np.array(betas)
    )


def train_stagewise_batch(instances, stages, *, backend="numba", **shared) -> list[StagewiseResult]:
    """Many independent runs in one call, in parallel over instances (Numba ``prange``).

    ``instances``: dicts with keys ``Sigma`` and ``W_star`` and any keyword of ``train_stagewise``,
    overriding ``shared``. Returns the results in order.
    """
    if not isinstance(instances, list | tuple) or not instances:
        raise InputError("instances must be a non-empty list of dicts with 'Sigma' and 'W_star'")
    parsed = []
    for i, spec in enumerate(instances):
        if not isinstance(spec, dict) or "Sigma" not in spec or "W_star" not in spec:
            raise InputError(f"instances[{i}] must be a dict with keys 'Sigma' and 'W_star'")
        options = {**shared, **spec}
        parsed.append(
            prepare_instance(options.pop("Sigma"), options.pop("W_star"), stages, **options)
        )
    return _run(parsed, stages, backend)


def _reference_run(method, Sigma, W_star, stages, beta, eta, V0, noise_scale=0.0, seed=None,
                   restart_every=0):  # fmt: skip
    """NAG (``method="nag"``) or GD on the end-to-end matrix, ``y_0 = x_0 = V0``; with
    ``noise_scale`` > 0 each step starts from ``Y_k + Xi_k`` (``Xi_k`` i.i.d. N(0,
    noise_scale^2/d) entries), which the model keeps; with ``restart_every`` = m > 0 the momentum
    restarts (``Y_k = P_k``) at every k divisible by m."""
    x = prepare_instance(
        Sigma, W_star, stages, "stack" if method == "nag" else "zero", beta, eta, V0
    )
    sigma, w_star = x.sigma, x.w_star
    noise_scale = check_real("noise_scale", noise_scale, low=0.0)
    if noise_scale > 0:
        d = len(sigma)
        check_elements("stages x d x d (the noise)", stages * d * d)
        xi = as_generator(seed).standard_normal((stages, d, d)) * (noise_scale / np.sqrt(d))

    def risk(p):
        return excess_risk(p, w_star, sigma)

    p = y = x.v0.copy()
    losses = [risk(p)]
    status = Status.MAX_STAGES
    with np.errstate(all="ignore"):
        for t in range(stages):
            if restart_every and t % restart_every == 0:
                y = p
            if noise_scale > 0:
                y = y + xi[t]
            p_next = y - x.eta * (y - w_star) @ sigma
            y = p_next + x.beta * (p_next - p)
            p = p_next
            losses.append(risk(p))
            exploded = losses[0] > 0 and losses[-1] > DIVERGENCE_FACTOR * losses[0]
            if not np.isfinite(losses[-1]) or exploded:
                status = Status.DIVERGED
                if not np.isfinite(losses[-1]):
                    losses.pop()
                break
    return StagewiseResult(np.array(losses), status, method, "euclidean", x.beta, x.eta)


def nesterov_reference(Sigma, W_star, stages, beta=None, eta=None, V0=None, restart_every=0
                       ) -> StagewiseResult:  # fmt: skip
    """Constant-momentum NAG on ``R(P)``: ``P_{k+1} = Y_k - eta grad R(Y_k)``, ``Y_{k+1} =
    P_{k+1} + beta (P_{k+1} - P_k)``, ``Y_0 = P_0 = V0``; beta defaults to beta*. With
    ``restart_every`` = m > 0 the momentum restarts every m steps (``Y_k = P_k`` when m divides
    k): m = 1 is gradient descent."""
    restart_every = check_int("restart_every", restart_every, low=0)
    return _reference_run("nag", Sigma, W_star, stages, beta, eta, V0,
                          restart_every=restart_every)  # fmt: skip


def gd_reference(Sigma, W_star, stages, eta=None, V0=None, noise_scale=0.0, seed=None
                 ) -> StagewiseResult:  # fmt: skip
    """Gradient descent on ``R(P)`` from V0 with step eta (default ``1/lambda_max``). With
    ``noise_scale`` > 0: stochastic functional GD on the smoothed risk ``E R(P + Xi)`` with the
    noise kept in the model (the paper's reading of random initialisation, docs/theory.md),
    ``P_{k+1} = P_k + Xi_k - eta grad R(P_k + Xi_k)``, ``Xi_k`` with i.i.d. N(0, noise_scale^2/d)
    entries (random init's law). The error then follows ``E_{k+1} = (E_k + Xi_k)(I - eta
    Sigma)``, linear in the noise: its stationary mean risk is
    ``noise_scale^2 / 2 sum_i lam_i m_i^2 / (1 - m_i^2)``, ``m_i = 1 - eta lam_i``."""
    return _reference_run("gd", Sigma, W_star, stages, None, eta, V0, noise_scale, seed)


@dataclass(frozen=True)
class LayersResult(RunResult):
    """Gradient descent on every layer at once: the final layers ``W_l`` and ``losses[t] = R(P_t)
    - R(W*)`` after t steps (t = 0..steps; shorter if the run diverged)."""

    layers: list


def train_layers(Sigma, W_star, layers, steps: int, *, lr, trainable=None) -> LayersResult:
    """GD on ``R(P) = 1/2 tr((P - W*) Sigma (P - W*)^T)`` with ``P = (I + W_L) ... (I + W_1)``
    over the layers with ``trainable`` 1 (default all): ``W_l <- W_l - lr A_l^T (P - W*) Sigma
    B_l^T``, where ``A_l = (I + W_L) ... (I + W_{l+1})`` and ``B_l = (I + W_{l-1}) ... (I +
    W_1)``. Unlike ``train_stagewise``, every step updates all trainable layers (the driver of
    ``sims.growth``)."""
    sigma = check_array("Sigma", Sigma, ndim=2)
    w_star = check_array("W_star", W_star, ndim=2)
    d = sigma.shape[0]
    if sigma.shape != (d, d) or w_star.shape != (d, d):
        raise InputError(f"Sigma and W_star must both be square of the same size, got "
                         f"{sigma.shape} and {w_star.shape}")  # fmt: skip
    if not isinstance(layers, list | tuple) or not layers:
        raise InputError("layers must be a non-empty list of (d, d) arrays")
    ws = [check_array(f"layers[{i}]", w, ndim=2).copy() for i, w in enumerate(layers)]
    if any(w.shape != (d, d) for w in ws):
        raise InputError(f"layers must be ({d}, {d}) arrays")
    steps = check_steps("steps", steps)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    updated = np.ones(len(ws), dtype=bool) if trainable is None else np.asarray(trainable) == 1
    if updated.shape != (len(ws),):
        raise InputError(f"trainable must have one 0/1 value per layer ({len(ws)})")
    return layer_descent(sigma, w_star, ws, steps, lr, updated)


def layer_descent(sigma, w_star, ws: list, steps: int, lr: float, updated) -> LayersResult:
    """The loop of ``train_layers`` on validated arguments (``ws`` is updated in place): callers
    that run it many times on arrays they made themselves skip the validation."""
    eye = np.eye(len(sigma))

    def forward():
        below = [eye]  # below[l] = B_l, the product of the layers under l
        for w in ws[:-1]:
            below.append((eye + w) @ below[-1])
        p = (eye + ws[-1]) @ below[-1]
        return p, below

    p, below = forward()
    losses, status = [excess_risk(p, w_star, sigma)], Status.MAX_STAGES
    with np.errstate(all="ignore"):
        for _ in range(steps):
            g = (p - w_star) @ sigma
            above = eye
            for layer in reversed(range(len(ws))):
                step = above.T @ g @ below[layer].T if updated[layer] else None
                above = above @ (eye + ws[layer])
                if step is not None:
                    ws[layer] -= lr * step
            p, below = forward()
            losses.append(excess_risk(p, w_star, sigma))
            if not np.isfinite(losses[-1]) or losses[-1] > DIVERGENCE_FACTOR * losses[0]:
                status = Status.DIVERGED
                break
    return LayersResult(np.array(losses), status, ws)


def excess_risk(p, w_star, sigma) -> float:
    """``R(P) - R(W*) = 1/2 tr((P - W*) Sigma (P - W*)^T)``, the end-to-end risk of a deep linear
    network with product ``P`` (docs/theory.md §1)."""
    e = p - w_star
    return float(0.5 * np.trace(e @ sigma @ e.T))
