"""The deep linear stagewise recursion written once against the Python array API: NumPy on the
CPU, CuPy on an NVIDIA GPU (extra ``gpu``), array-api-strict in tests. For large d (up to 4096)
and ill-conditioned Sigma; the Numba kernels remain the CPU fast path for small d.

Same recursion, conventions and result type as ``sims.deep_linear`` (in the original basis; the
functional layer gradient ``G P^{-1}`` by a linear solve).
"""

from __future__ import annotations

import numpy as np

from sims.deep_linear import DIVERGENCE_FACTOR, RunResult, _instance

DEVICES = ("cpu", "gpu")


def array_namespace(device: str):
    """The array namespace for ``device``: NumPy (through array-api-compat) or CuPy."""
    from array_api_compat import array_namespace as namespace_of

    if device == "cpu":
        return namespace_of(np.empty(0))
    if device == "gpu":
        try:
            import cupy
        except ImportError:
            raise ValueError(
                "device='gpu' needs CuPy and CUDA: pip install 'stagewise[gpu]'"
            ) from None
        return namespace_of(cupy.empty(0))
    raise ValueError(f"device must be one of {DEVICES}, got {device!r}")


def stagewise_xp(
    xp,
    sigma,
    w_star,
    v0,
    stages: int,
    beta: float,
    eta: float,
    init: str,
    functional: bool,
    noise,
    target: float,
):
    """The recursion of ``sims/_kernels/deep_linear.py`` on arrays of namespace ``xp``; returns
    host NumPy ``(losses, e1, e2, status code)``."""
    d = sigma.shape[0]

    def risk(p):
        e = p - w_star
        return 0.5 * xp.sum((e @ sigma) * e)

    p_prev = p = v0
    w = xp.zeros((d, d), dtype=xp.float64)
    losses, e1, e2 = [float(risk(p))], [], []
    threshold = DIVERGENCE_FACTOR * losses[0] if losses[0] > 0 else np.inf
    for t in range(stages):
        start = noise[t] if init == "random" else beta * w
        bp = start @ p
        y = p + bp
        g = (y - w_star) @ sigma
        direction = (xp.linalg.solve(p.T, g.T)).T if functional else g @ p.T
        w = start - eta * direction
        p_new = p + w @ p
        step = float(xp.linalg.vector_norm(p_new - p))
        e1.append(float(xp.linalg.vector_norm(bp - beta * (p - p_prev))) / step if step else np.nan)
        e2.append(float(xp.linalg.vector_norm(p_new - (y - eta * g))) / step if step else np.nan)
        p_prev, p = p, p_new
        losses.append(float(risk(p)))
        if not np.isfinite(losses[-1]) or losses[-1] > threshold:
            return np.array(losses), np.array(e1), np.array(e2), 2
        if target > 0 and losses[-1] <= target * losses[0]:
            return np.array(losses), np.array(e1), np.array(e2), 1
    return np.array(losses), np.array(e1), np.array(e2), 0


def train_stagewise_xp(
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
    device="cpu",
    xp=None,
) -> RunResult:
    """``sims.deep_linear.train_stagewise`` on the array-API path (``init="trainable"`` is not
    available here). ``xp`` overrides the namespace chosen by ``device`` (e.g. array-api-strict)."""
    x = _instance(
        Sigma, W_star, stages, init, beta, eta, V0, layer_grad, random_scale, seed, target
    )
    if x.init == "trainable":
        raise ValueError("init='trainable' is not available on the array-API path")
    xp = array_namespace(device) if xp is None else xp

    def put(a):
        return xp.asarray(np.ascontiguousarray(a), dtype=xp.float64)

    losses, e1, e2, code = stagewise_xp(
        xp,
        put(x.sigma),
        put(x.w_star),
        put(x.v0),
        stages,
        x.beta,
        x.eta,
        x.init,
        x.layer_grad == "functional",
        put(x.noise),
        x.target,
    )
    if code == 2 and not np.isfinite(losses[-1]):
        losses, e1, e2 = losses[:-1], e1[:-1], e2[:-1]
    return RunResult(
        losses,
        ("max_stages", "converged", "diverged")[code],
        x.init,
        x.layer_grad,
        x.beta,
        x.eta,
        e1,
        e2,
        np.full(len(e1), x.beta),
    )
