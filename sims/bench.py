"""`stagewise bench`: wall-time ratios measured in one run (best of repeats, JIT warm).

Every section takes a ``Sizes``: ``FULL`` for the numbers the README quotes, ``SMOKE`` for a
seconds-long run that exercises every code path (``stagewise bench --smoke``; the test suite runs
it, so a section cannot break unnoticed; its timings mean nothing).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from dataclasses import dataclass

import numba
import numpy as np

from sims.deep_linear import train_stagewise, train_stagewise_batch
from sims.problems import deep_linear_problem
from theory.rates import nesterov_beta


@dataclass(frozen=True)
class Sizes:
    """The sizes of every benchmark case."""

    stages: int = 2000  # single deep-linear run, d = 16
    batch: int = 1000  # instances of the deep-linear batch (d = 16)
    batch_stages: int = 500
    boosting_stages: int = 1000  # linear learners, n = 1000, p = 20
    trees: int = 1000  # regression trees (n = 500) against scikit-learn
    mlp_depth: int = 20  # residual MLP training step, width 64, batch 256
    transformer: tuple[int, int, int] = (8, 64, 32)  # transformer step: depth, context, batch
    dims: tuple[int, ...] = (8, 16, 64, 256, 1024)  # per-d stage times
    rate_kappas: tuple[float, ...] = (10, 100, 1000)
    rate_seeds: int = 5
    sweep_seeds: int = 16  # per sigma of the 4-sigma sweep
    sweep_cell_seconds: float = 0.5
    scaling_gflop: float = 2.0  # work per timing of the per-d stage times


FULL = Sizes()
SMOKE = Sizes(
    stages=20,
    batch=8,
    batch_stages=10,
    boosting_stages=20,
    trees=5,
    mlp_depth=2,
    transformer=(1, 8, 4),
    dims=(8, 256),
    rate_kappas=(10,),
    rate_seeds=2,
    sweep_seeds=1,
    sweep_cell_seconds=0.01,
    scaling_gflop=0.01,
)


def best_time(fn, repeats: int) -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


_COLD_START = (
    "import time; t = time.perf_counter(); "
    "from sims.deep_linear import train_stagewise; from sims.problems import deep_linear_problem; "
    "train_stagewise(*deep_linear_problem(4, 10, 0.1, seed=0), 3); "
    "train_stagewise(*deep_linear_problem(4, 10, 0.1, seed=0), 3, layer_grad='functional'); "
    "print(time.perf_counter() - t)"
)


def eigenbasis_batch(specs: list[dict]):
    """``(lam (n, d), W* (n, d, d), beta (n,), eta (n,))`` of stacking instances in the
    eigenbasis of their Sigma (``sims/kernels/deep_linear.py``), the input of every peer."""
    lam, w, beta, eta = [], [], [], []
    for spec in specs:
        values, q = np.linalg.eigh(spec["Sigma"])
        lam.append(values)
        w.append(q.T @ spec["W_star"] @ q)
        beta.append(nesterov_beta(values[-1] / values[0]))
        eta.append(1.0 / values[-1])
    return np.array(lam), np.array(w), np.array(beta), np.array(eta)


def numpy_stacking_batch(lam, w_star, beta, eta, stages: int) -> np.ndarray:
    """Euclidean stacking (docs/theory.md §3) on a batch, as a NumPy user writes it: batched
    ``matmul`` over the instances; the losses (n, stages + 1)."""
    n, d = lam.shape
    p, w = np.broadcast_to(np.eye(d), (n, d, d)).copy(), np.zeros((n, d, d))
    b, h, s = beta[:, None, None], eta[:, None, None], lam[:, None, :]
    losses = np.empty((n, stages + 1))
    losses[:, 0] = 0.5 * np.sum((p - w_star) ** 2 * s, axis=(1, 2))
    for t in range(stages):
        y = p + b * (w @ p)
        w = b * w - h * ((y - w_star) * s) @ p.transpose(0, 2, 1)
        p = p + w @ p
        losses[:, t + 1] = 0.5 * np.sum((p - w_star) ** 2 * s, axis=(1, 2))
    return losses


def torch_stacking_batch(lam, w_star, beta, eta, stages: int) -> np.ndarray | None:
    """``numpy_stacking_batch`` in PyTorch eager mode (float64, CPU); None without torch."""
    try:
        import torch
    except ImportError:
        return None
    lam, w_star, beta, eta = (
        torch.tensor(a, dtype=torch.float64) for a in (lam, w_star, beta, eta)
    )
    n, d = lam.shape
    p, w = (
        torch.eye(d, dtype=torch.float64).repeat(n, 1, 1),
        torch.zeros(n, d, d, dtype=torch.float64),
    )
    b, h, s = beta[:, None, None], eta[:, None, None], lam[:, None, :]
    losses = torch.empty(n, stages + 1, dtype=torch.float64)
    with torch.no_grad():
        losses[:, 0] = 0.5 * ((p - w_star) ** 2 * s).sum((1, 2))
        for t in range(stages):
            y = p + b * torch.bmm(w, p)
            w = b * w - h * torch.bmm((y - w_star) * s, p.transpose(1, 2))
            p = p + torch.bmm(w, p)
            losses[:, t + 1] = 0.5 * ((p - w_star) ** 2 * s).sum((1, 2))
    return losses.numpy()


def jax_stacking_batch(lam, w_star, beta, eta, stages: int) -> np.ndarray | None:
    """``numpy_stacking_batch`` as ``jit(vmap(scan))`` in JAX (float64); None without JAX. The
    compiled function is cached per shape, so a second call times only the run. JAX starts
    threads that make a later ``os.fork`` unsafe: call it in a process of its own
    (``timed_in_fresh_process``)."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return np.asarray(_jax_runner(stages)(lam, w_star, beta, eta))


def versus_numpy(benchmark: str, dtype: str, times: dict, at_least: float) -> dict:
    """A bench line timing the Numba kernel against its NumPy reference (``times["numba"]``,
    ``times["numpy"]``), with the target ``speedup >= at_least`` and whether this run met it."""
    speedup = times["numpy"] / times["numba"]
    return {"benchmark": benchmark, "dtype": dtype, "numba_s": times["numba"],
            "numpy_s": times["numpy"], "speedup": speedup, "target": f">= {at_least:g}x",
            "met": speedup >= at_least}  # fmt: skip


# What a user would otherwise write for the batch (adding a peer is one entry here).
STACKING_PEERS = {
    "numpy": numpy_stacking_batch,
    "torch": torch_stacking_batch,
    "jax": jax_stacking_batch,
}


def _timed(name: str, arrays, stages: int, repeats: int):
    """(best time, losses) of the peer ``STACKING_PEERS[name]``, or None when not installed."""
    peer = STACKING_PEERS[name]
    if peer(*(a[:1] for a in arrays), 1) is None:
        return None
    out = []
    seconds = best_time(lambda: out.append(peer(*arrays, stages)), repeats)
    return seconds, out[-1]


def timed_in_fresh_process(name: str, arrays, stages: int, repeats: int):
    """``_timed`` in a freshly spawned process, which leaves no library threads behind in this
    one."""
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_timed, name, arrays, stages, repeats).result()


@functools.cache
def _jax_runner(stages: int):
    import jax
    import jax.numpy as jnp

    def one(lam, w_star, beta, eta):
        d = lam.shape[0]

        def stage(carry, _):
            p, w = carry
            y = p + beta * (w @ p)
            w = beta * w - eta * ((y - w_star) * lam) @ p.T
            p = p + w @ p
            return (p, w), 0.5 * jnp.sum((p - w_star) ** 2 * lam)

        start = 0.5 * jnp.sum((jnp.eye(d) - w_star) ** 2 * lam)
        _, losses = jax.lax.scan(stage, (jnp.eye(d), jnp.zeros((d, d))), None, length=stages)
        return jnp.concatenate([start[None], losses])

    return jax.jit(jax.vmap(one))


def deep_linear_bench(repeats: int = 5, sizes: Sizes = FULL) -> list[dict]:
    """Numba kernel versus NumPy reference (d = 16, 2000 stages), a 1000-instance batch
    (d = 16, 500 stages) with the kernel variant and the number of threads it ran on, and a
    fresh process's first call (on-disk kernel cache)."""
    rows = []
    sigma, w_star = deep_linear_problem(16, 100, 0.05, seed=0)
    for layer_grad in ("euclidean", "functional"):
        times = {}
        for backend in ("numba", "numpy"):
            train_stagewise(sigma, w_star, 2, layer_grad=layer_grad, backend=backend)
            times[backend] = best_time(
                lambda b=backend, g=layer_grad: train_stagewise(
                    sigma, w_star, sizes.stages, layer_grad=g, backend=b
                ),
                repeats,
            )
        rows.append(versus_numpy(f"deep linear, d=16, {sizes.stages} stages, {layer_grad}",
                                 "float64", times, 10))  # fmt: skip
    specs = [
        {"Sigma": s, "W_star": w}
        for s, w in (deep_linear_problem(16, 100, 0.05, seed=k) for k in range(sizes.batch))
    ]
    train_stagewise_batch(specs[:2], 2)
    results = []
    seconds = best_time(lambda: results.append(train_stagewise_batch(specs, sizes.batch_stages)), 1)
    row = {
        "benchmark": f"deep linear batch, {sizes.batch} instances, d=16, "
        f"{sizes.batch_stages} stages",
        "dtype": "float64",
        "numba_s": seconds,
        "variant": "parallel batch kernel (prange over instances)",
        "threads_used": len({r.thread for r in results[-1]}),
        "threads_available": numba.get_num_threads(),
    }
    arrays = eigenbasis_batch(specs)
    ours = np.array([r.losses for r in results[-1]])
    for name in STACKING_PEERS:  # best of two: the first call compiles JAX's function
        timed = timed_in_fresh_process(name, arrays, sizes.batch_stages, 2)
        row[f"{name}_s"] = None if timed is None else timed[0]
        if timed is not None:
            early = min(20, sizes.batch_stages)  # same recursion: equal until round-off grows
            np.testing.assert_allclose(timed[1][:, :early], ours[:, :early], rtol=1e-8)
    peers = [row[f"{k}_s"] for k in STACKING_PEERS if row[f"{k}_s"] is not None]
    row["ratio_best_peer_to_numba"] = min(peers) / seconds
    row["target"] = ">= 3x the best peer (issue 18)"
    row["met"] = row["ratio_best_peer_to_numba"] >= 3
    rows.append(row)
    cold = subprocess.run(
        [sys.executable, "-c", _COLD_START], capture_output=True, text=True, check=True
    )
    rows.append(
        {
            "benchmark": "fresh process: import + first calls (kernels from disk cache)",
            "dtype": "float64",
            "numba_s": float(cold.stdout.strip()),
            "target": "no recompilation (~1 s; met below 3 s)",
            "met": float(cold.stdout.strip()) < 3.0,
        }
    )
    return rows


def boosting_bench(repeats: int = 5, sizes: Sizes = FULL) -> list[dict]:
    """Linear-learner boosting, Numba versus NumPy (n = 1000, p = 20, 1000 stages), and a
    1000-tree run versus scikit-learn's GradientBoostingRegressor on the same data."""
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import GradientBoostingRegressor

    from sims.boosting import train_ensemble
    from sims.problems import classification_problem, regression_problem

    rows = []
    for loss, make in (("squared", regression_problem), ("logistic", classification_problem)):
        X, y = make(1000, 20, 100, 0.3, seed=0)
        times = {}
        for backend in ("numba", "numpy"):
            train_ensemble(X, y, 2, loss=loss, backend=backend)
            times[backend] = best_time(
                lambda b=backend, X=X, y=y, loss=loss: train_ensemble(
                    X, y, sizes.boosting_stages, loss=loss, backend=b
                ),
                repeats,
            )
        rows.append(versus_numpy(f"boosting, linear learner, {loss} loss, n=1000, p=20, "
                                 f"{sizes.boosting_stages} stages", "float64", times, 10))  # fmt: skip
    X, y = make_friedman1(n_samples=500, noise=1.0, random_state=0)
    gbr = GradientBoostingRegressor(
        loss="squared_error",
        n_estimators=sizes.trees,
        learning_rate=0.1,
        max_depth=3,
        random_state=0,
        init="zero",
    )
    ours = best_time(
        lambda: train_ensemble(X, y, sizes.trees, learner="tree", init="zero", eta=0.1, seed=0),
        max(1, repeats // 2),
    )
    theirs = best_time(lambda: gbr.fit(X, y), max(1, repeats // 2))
    rows.append(
        {
            "benchmark": f"boosting, {sizes.trees} regression trees (depth 3, n=500) vs "
            "sklearn GBR",
            "dtype": "float64",
            "numba_s": ours,
            "sklearn_s": theirs,
            "ratio_to_sklearn": ours / theirs,
            "target": "<= 1.5x sklearn",
            "met": ours / theirs <= 1.5,
        }
    )
    return rows


def torch_residual_mlp_loss(params: dict, X, y, activation: str):
    """The pre-LN residual MLP's mean squared error (``sims.residual_mlp``, every block kept,
    scale 1) written with PyTorch tensors, so that autograd gives an independent gradient and
    eager mode a timing reference. ``params``: float64 tensors keyed like ``PARAM_KEYS``."""
    import torch

    fn = torch.nn.functional
    act = {"gelu": fn.gelu, "relu": fn.relu, "quadratic": torch.square}[activation]
    width = params["emb_w"].shape[1]
    h = X @ params["emb_w"] + params["emb_b"]
    for layer in range(params["w1"].shape[0]):
        u = fn.layer_norm(h, (width,), params["ln_g"][layer], params["ln_b"][layer], eps=1e-5)
        h = h + act(u @ params["w1"][layer] + params["b1"][layer]) @ params["w2"][layer]
        h = h + params["b2"][layer]
    z = fn.layer_norm(h, (width,), params["fin_g"], params["fin_b"], eps=1e-5)
    return torch.mean((z @ params["head_w"] + params["head_b"][0] - y) ** 2)


def _torch_step_seconds(params, X, y, activation, repeats) -> float | None:
    """Best time of one PyTorch eager training step (forward, backward, torch.optim.Adam) in the
    float type of the arrays."""
    try:
        import torch
    except ImportError:
        return None
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    inputs, targets = torch.tensor(X), torch.tensor(y)
    optimiser = torch.optim.Adam(tensors.values(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def step():
        optimiser.zero_grad()
        torch_residual_mlp_loss(tensors, inputs, targets, activation).backward()
        optimiser.step()

    step()
    return best_time(step, repeats)


def residual_mlp_bench(repeats: int = 5, sizes: Sizes = FULL) -> list[dict]:
    """One training step (loss and gradients, then Adam) of the residual MLP, width 64, depth 20,
    batch 256, d = 20: GELU and ReLU in float64, GELU in float32. Numba kernel versus the NumPy
    reference in the same float type, and versus PyTorch eager mode on the CPU where torch is
    installed. A step's time is a tenth of a 10-step ``train`` call's, so the set-up a training
    run pays once (copies, work arrays) is amortised."""
    from sims import residual_mlp
    from sims.problems import staircase_task

    X, y = staircase_task(20, 10).sample(256, seed=0)
    params = residual_mlp.init_params(20, 64, sizes.mlp_depth, seed=1)
    rows = []
    # the quadratic costs what ReLU does
    for activation, dtype in (("gelu", "float64"), ("relu", "float64"), ("gelu", "float32")):
        times = {}
        for backend in residual_mlp.BACKENDS:

            def ten_steps(b=backend, a=activation, d=dtype):
                return residual_mlp.train(params, X, y, 10, activation=a, backend=b, seed=0,
                                          dtype=d)  # fmt: skip

            ten_steps()
            times[backend] = best_time(ten_steps, repeats) / 10
        typed = {k: v.astype(dtype) for k, v in params.items()}
        torch_s = _torch_step_seconds(typed, X.astype(dtype), y.astype(dtype), activation, repeats)
        row = versus_numpy(f"residual MLP training step, {activation}, width 64, depth "
                           f"{sizes.mlp_depth}, batch 256", dtype, times, 3)  # fmt: skip
        rows.append(row | {"torch_s": torch_s,
                           "ratio_to_torch": None if torch_s is None else torch_s / times["numba"]})  # fmt: skip
    return rows


def torch_transformer_loss(params: dict, tokens, targets, weights, heads: int, causal: bool):
    """The pre-LN transformer's weighted cross-entropy (``sims.transformer``, every block kept)
    written with PyTorch tensors and its own layer norm, softmax and GELU: an independent gradient
    by autograd and a timing reference in eager mode. ``params``: float64 tensors."""
    import torch

    fn = torch.nn.functional
    B, T = tokens.shape
    depth, d = params["ln1_g"].shape
    x = params["tok"][tokens] + params["pos"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(depth):
        h = fn.layer_norm(x, (d,), params["ln1_g"][i], params["ln1_b"][i], eps=1e-5)
        q, k, v = ((h @ params[w][i]).reshape(B, T, heads, d // heads).transpose(1, 2)
                   for w in ("wq", "wk", "wv"))  # fmt: skip
        s = q @ k.transpose(-1, -2) / (d // heads) ** 0.5
        if causal:
            s = s.masked_fill(mask, float("-inf"))
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ params["wo"][i] + params["bo"][i]
        h2 = fn.layer_norm(x, (d,), params["ln2_g"][i], params["ln2_b"][i], eps=1e-5)
        x = x + fn.gelu(h2 @ params["w1"][i] + params["b1"][i]) @ params["w2"][i] + params["b2"][i]
    z = fn.layer_norm(x, (d,), params["lnf_g"], params["lnf_b"], eps=1e-5)
    logits = z @ params["wout"] + params["bout"]
    nll = fn.cross_entropy(logits.reshape(B * T, -1), targets.reshape(-1), reduction="none")
    w = weights.reshape(-1)
    return (nll * w).sum() / w.sum()


def _torch_transformer_step(params, tokens, targets, weights, heads, repeats):
    """Best time of one PyTorch eager training step (forward, backward, torch.optim.Adam)."""
    try:
        import torch
    except ImportError:
        return None
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    batch = (torch.tensor(tokens), torch.tensor(targets), torch.tensor(weights))
    optimiser = torch.optim.Adam(tensors.values(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def step():
        optimiser.zero_grad()
        torch_transformer_loss(tensors, *batch, heads, True).backward()
        optimiser.step()

    step()
    return best_time(step, repeats)


def _jax_transformer_step(params, tokens, targets, weights, heads, repeats):
    """Best time of one JAX training step: ``jit`` of the loss's ``value_and_grad`` and Adam
    (written out, beta1 0.9, beta2 0.999, eps 1e-8) in one compiled function, in the float type
    of ``params`` (64-bit types enabled, so float64 stays float64)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def norm(x, g, b):
        c = x - x.mean(-1, keepdims=True)
        return g * c / jnp.sqrt((c * c).mean(-1, keepdims=True) + 1e-5) + b

    def loss(p, tok, tgt, w):
        B, T = tok.shape
        depth, d = p["ln1_g"].shape
        x = p["tok"][tok] + p["pos"][:T]
        causal = jnp.triu(jnp.ones((T, T), bool), 1)
        for i in range(depth):
            h = norm(x, p["ln1_g"][i], p["ln1_b"][i])
            q, k, v = ((h @ p[n][i]).reshape(B, T, heads, -1).transpose(0, 2, 1, 3)
                       for n in ("wq", "wk", "wv"))  # fmt: skip
            s = jnp.where(causal, -jnp.inf, q @ k.transpose(0, 1, 3, 2) / (d // heads) ** 0.5)
            o = (jax.nn.softmax(s, -1) @ v).transpose(0, 2, 1, 3).reshape(B, T, d)
            x = x + o @ p["wo"][i] + p["bo"][i]
            u = norm(x, p["ln2_g"][i], p["ln2_b"][i]) @ p["w1"][i] + p["b1"][i]
            x = x + jax.nn.gelu(u, approximate=False) @ p["w2"][i] + p["b2"][i]
        logits = norm(x, p["lnf_g"], p["lnf_b"]) @ p["wout"] + p["bout"]
        logp = jax.nn.log_softmax(logits, -1)
        picked = jnp.take_along_axis(logp, tgt[..., None], -1)[..., 0]
        return -(picked * w).sum() / w.sum()

    @jax.jit
    def step(p, m, v, t, tok, tgt, w):
        value, g = jax.value_and_grad(loss)(p, tok, tgt, w)
        m = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        update = jax.tree.map(
            lambda x, a, b: x - 1e-3 * (a / (1 - 0.9**t)) / (jnp.sqrt(b / (1 - 0.999**t)) + 1e-8),
            p, m, v,
        )  # fmt: skip
        return update, m, v, value

    state = {"p": jax.tree.map(jnp.asarray, params)}
    state["m"] = jax.tree.map(jnp.zeros_like, state["p"])
    state["v"] = jax.tree.map(jnp.zeros_like, state["p"])
    batch = tuple(jnp.asarray(a) for a in (tokens, targets, weights))
    count = jnp.asarray(1.0, weights.dtype)  # Adam's step count in the parameters' type

    def one():
        p, m, v, value = step(state["p"], state["m"], state["v"], count, *batch)
        value.block_until_ready()
        state.update(p=p, m=m, v=v)

    one()
    return best_time(one, repeats)


def _transformer_peer_in_fresh_process(arrays, heads: int, repeats: int):
    """``_jax_transformer_step`` in a freshly spawned process (JAX's threads make later forks of
    this one unsafe)."""
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_jax_transformer_step, *arrays, heads, repeats).result()


def transformer_bench(repeats: int = 5, sizes: Sizes = FULL) -> list[dict]:
    """One training step (loss and gradients, then Adam) of the pre-LN transformer: width 64, 4
    heads, vocabulary 64, causal, next-token, at the depth, context and batch of
    ``sizes.transformer`` (8, 64, 32), in float64 and in float32: Numba kernel (a tenth of a
    10-step ``train`` call) versus the NumPy reference's loss and gradients alone, and PyTorch
    eager and JAX ``jit`` in the same float type where installed."""
    from sims import transformer

    depth, context, batch = sizes.transformer
    heads, vocab = 4, 64
    params = transformer.init_params(vocab, 64, depth, context, seed=1)
    rng = np.random.default_rng(0)
    data = rng.integers(0, vocab, (4 * batch, context + 1))
    tokens, targets = data[:batch, :-1], data[:batch, 1:]
    rows = []
    for dtype, target in (("float64", (1.0, 0.67)), ("float32", (1.0, 1.0))):
        typed = {k: v.astype(dtype) for k, v in params.items()}
        weights = np.ones(tokens.shape, dtype)

        def ten_steps(dtype=dtype):
            return transformer.train(params, data, 10, heads=heads, causal=True,
                                     batch_size=batch, seed=0, dtype=dtype)  # fmt: skip

        ten_steps()
        numba_s = best_time(ten_steps, repeats) / 10
        numpy_s = best_time(lambda w=weights, d=dtype: transformer.loss_and_grads(
            params, tokens, targets, w, heads=heads, causal=True, backend="numpy", dtype=d),
            repeats)  # fmt: skip
        arrays = (typed, tokens, targets, weights)
        torch_s = _torch_transformer_step(*arrays, heads, repeats)
        jax_s = _transformer_peer_in_fresh_process(arrays, heads, repeats)
        peers = [t for t in (torch_s, jax_s) if t is not None]
        rows.append(
            {
                "benchmark": f"transformer training step, width 64, 4 heads, depth {depth}, "
                f"context {context}, batch {batch}, vocabulary 64",
                "dtype": dtype,
                "numba_s": numba_s,
                "numpy_s": numpy_s,
                "speedup": numpy_s / numba_s,
                "torch_s": torch_s,
                "jax_s": jax_s,
                "ratio_to_torch": None if torch_s is None else torch_s / numba_s,
                "ratio_to_jax": None if jax_s is None else jax_s / numba_s,
                "ratio_best_peer_to_numba": min(peers) / numba_s if peers else None,
                "target": f">= {target[0]:g}x torch eager, >= {target[1]:g}x jax jit",
                "met": None
                if not peers
                else (torch_s is None or torch_s / numba_s >= target[0])
                and (jax_s is None or jax_s / numba_s >= target[1]),
            }
        )
    return rows


def rate_table(sizes: Sizes = FULL) -> list[dict]:
    """AlgoPerf-style time to result: stages to 1e-6 (relative) per family and kappa, median and
    inter-quartile range over seeds (a run that never reaches the target counts as infinite),
    success rate, fitted per-stage loss factor next to the theory's, and the speed-up of stacking
    over zero init next to the sqrt(kappa) prediction."""
    import numpy as np

    from sims.boosting import train_ensemble
    from sims.problems import regression_problem
    from theory.rates import gd_rate, nag_rate

    def deep_linear(kappa, init, seed):
        s, w = deep_linear_problem(8, kappa, 0.05, seed=seed)
        budget = int(30 * kappa + 200) if init == "zero" else int(60 * np.sqrt(kappa) + 200)
        return train_stagewise(s, w, budget, init=init, target=1e-6).steps_to(1e-6)

    def boosting(kappa, init, seed):
        X, y = regression_problem(200, 10, kappa, 0.0, seed=seed)
        budget = int(30 * kappa + 200) if init == "zero" else int(60 * np.sqrt(kappa) + 200)
        return train_ensemble(X, y, budget, init=init).steps_to(
            1e-6 * np.mean(y**2) / 2, relative=False
        )

    rows = []
    for family, run in (
        ("deep linear (sigma=0.05, d=8)", deep_linear),
        ("boosting, linear learners, squared loss (noiseless)", boosting),
    ):
        for kappa in sizes.rate_kappas:
            steps = {
                init: np.array([run(kappa, init, s) for s in range(sizes.rate_seeds)], dtype=float)
                for init in ("stack", "zero")
            }
            row = {"family": family, "kappa": kappa}
            for init, values in steps.items():
                finite = values[np.isfinite(values)]
                q1, med, q3 = np.percentile(values, [25, 50, 75])
                row[init] = {
                    "median": med,
                    "iqr": [q1, q3],
                    "success": float(np.isfinite(values).mean()),
                    "fitted_loss_factor": float(np.exp(np.log(1e-6) / np.median(finite)))
                    if finite.size
                    else None,
                }
            row["theory_loss_factor"] = {"stack": nag_rate(kappa) ** 2, "zero": gd_rate(kappa) ** 2}
            row["speedup"] = row["zero"]["median"] / row["stack"]["median"]
            row["sqrt_kappa"] = float(np.sqrt(kappa))
            rows.append(row)
    return rows


def scaling_bench(repeats: int = 3, sizes: Sizes = FULL) -> list[dict]:
    """Deep-linear stage wall time per d: Numba kernel, NumPy reference, and PyTorch eager (the
    array-API path on torch tensors, where torch is installed); at d >= 256 the fraction of this
    machine's measured dgemm throughput the Numba stage reaches (3 products of 2 d^3 flops)."""
    import numpy as np

    from sims.deep_linear_xp import train_stagewise_xp

    rows = []
    for d in sizes.dims:
        stages = min(20_000, max(5, int(sizes.scaling_gflop * 1e9 // (6 * d**3))))
        sigma, w_star = deep_linear_problem(d, 100, 0.05, seed=0)
        train_stagewise(sigma, w_star, 2)
        row = {"d": d, "stages": stages}
        full = best_time(lambda s=sigma, w=w_star, n=stages: train_stagewise(s, w, n), repeats)
        setup = best_time(lambda s=sigma, w=w_star: train_stagewise(s, w, 0), repeats)
        row["numba_s_per_stage"] = (full - setup) / stages
        numpy_full = best_time(
            lambda s=sigma, w=w_star, n=stages: train_stagewise(s, w, n, backend="numpy"), 1
        )
        row["numpy_s_per_stage"] = (numpy_full - setup) / stages
        try:
            import torch
            from array_api_compat import array_namespace

            xp = array_namespace(torch.empty(0))
            torch_full = best_time(
                lambda s=sigma, w=w_star, n=stages, xp=xp: train_stagewise_xp(s, w, n, xp=xp), 1
            )
            row["torch_s_per_stage"] = (torch_full - setup) / stages
        except ImportError:
            row["torch_s_per_stage"] = None
        if d >= 256:
            a = np.random.default_rng(0).standard_normal((d, d))
            out = np.empty((d, d))
            dgemm = best_time(lambda a=a, out=out: np.dot(a, a, out), 5)
            row["dgemm_gflops"] = 2 * d**3 / dgemm / 1e9
            row["stage_gflops"] = 6 * d**3 / row["numba_s_per_stage"] / 1e9
            row["fraction_of_dgemm"] = row["stage_gflops"] / row["dgemm_gflops"]
        rows.append(row)
    return rows


def sweep_bench(workers: int = 2, sizes: Sizes = FULL) -> list[dict]:
    """A 64-cell sweep (16 seeds by 4 sigmas at full size) of cells taking about 0.5 s each: in-process versus ``workers`` local
    processes versus a local Dask cluster of ``workers`` processes; identical rows checked."""
    import tempfile

    import pandas as pd

    from sims import sweep

    sigma, w_star = deep_linear_problem(16, 1e4, 0.05, seed=0)
    train_stagewise(sigma, w_star, 2)
    per_stage = best_time(lambda: train_stagewise(sigma, w_star, 2000, init="zero"), 3) / 2000
    stages = max(1, int(sizes.sweep_cell_seconds / per_stage))
    grid = {
        "family": "deep_linear",
        "seeds": sizes.sweep_seeds,
        "parameters": {
            "d": [16],
            "kappa": [1e4],
            "init": ["zero"],
            "target": [0.0],
            "stages": [stages],
            "sigma": [0.05, 0.1, 0.2, 0.3],
        },
    }
    rows, frames = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("inprocess", "processes", "dask"):
            start = time.perf_counter()
            sweep.run_sweep(grid, f"{tmp}/{backend}", backend=backend, workers=workers)
            seconds = time.perf_counter() - start
            frames[backend] = (
                sweep.load_results(f"{tmp}/{backend}")
                .drop(columns="seconds")
                .sort_values("key")
                .reset_index(drop=True)
            )
            rows.append(
                {
                    "benchmark": f"{4 * sizes.sweep_seeds}-cell sweep "
                    f"(~{sizes.sweep_cell_seconds} s per cell), {backend}",
                    "seconds": seconds,
                }
            )
        for row in rows[1:]:
            row["speedup_over_inprocess"] = rows[0]["seconds"] / row["seconds"]
            row["target"] = f">= 1.6x with {workers} workers"
            row["met"] = row["speedup_over_inprocess"] >= 1.6
        for backend in ("processes", "dask"):
            pd.testing.assert_frame_equal(frames["inprocess"], frames[backend])
        rows[0]["identical_rows_across_backends"] = True
    return rows
