"""Benchmark of the transformer's training step (``stagewise bench``'s kernels section): the Numba
kernel against the NumPy reference, PyTorch eager and JAX ``jit`` (``PEERS``), in float64 and
float32. ``torch_transformer_loss`` is also the tests' independent gradient (autograd)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sims.families import transformer
from sims.timing import best_time, in_fresh_process, torch_adam_step_seconds

FULL = (8, 64, 32)  # depth, context, batch of the step (width 64, 4 heads, vocabulary 64)
SMOKE = (1, 8, 4)


def torch_transformer_loss(params: dict, tokens, targets, weights, heads: int, causal: bool):
    """The pre-LN transformer's weighted cross-entropy (``sims.families.transformer``, every block kept)
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


def torch_step_seconds(params, tokens, targets, weights, heads, repeats):
    """Best time of one PyTorch eager training step (forward, backward, torch.optim.Adam)."""
    batch = (tokens, targets, weights, heads, True)
    return torch_adam_step_seconds(torch_transformer_loss, params, batch, repeats)


def _jax_step_seconds(params, tokens, targets, weights, heads, repeats):
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


def jax_step_seconds(params, tokens, targets, weights, heads, repeats):
    """``_jax_step_seconds`` in a freshly spawned process (JAX's threads make later forks of this
    one unsafe)."""
    return in_fresh_process(_jax_step_seconds, params, tokens, targets, weights, heads, repeats)


@dataclass(frozen=True)
class Peer:
    """What a user would otherwise write: ``seconds(params, tokens, targets, weights, heads,
    repeats)``, the best time of one training step or None when the library is missing, and the
    target ratio (peer's time / ours) per float type."""

    label: str
    seconds: Callable
    at_least: dict[str, float]


# The transformer step's peers (adding a peer is one entry here).
PEERS = {
    "torch": Peer("torch eager", torch_step_seconds, {"float64": 1.0, "float32": 1.0}),
    "jax": Peer("jax jit", jax_step_seconds, {"float64": 0.67, "float32": 1.0}),
}


def bench(repeats: int = 5, smoke: bool = False) -> list[dict]:
    """One training step (loss and gradients, then Adam) of the pre-LN transformer: width 64, 4
    heads, vocabulary 64, causal, next-token, at the depth, context and batch of
    ``FULL`` (8, 64, 32), in float64 and in float32: Numba kernel (a tenth of a
    10-step ``train`` call) versus the NumPy reference's loss and gradients alone, and PyTorch
    eager and JAX ``jit`` in the same float type where installed (``PEERS``)."""
    depth, context, batch = SMOKE if smoke else FULL
    heads, vocab = 4, 64
    params = transformer.init_params(vocab, 64, depth, context, seed=1)
    rng = np.random.default_rng(0)
    data = rng.integers(0, vocab, (4 * batch, context + 1))
    tokens, targets = data[:batch, :-1], data[:batch, 1:]
    rows = []
    for dtype in ("float64", "float32"):
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
        row = {
            "benchmark": f"transformer training step, width 64, 4 heads, depth {depth}, "
            f"context {context}, batch {batch}, vocabulary 64",
            "dtype": dtype,
            "numba_s": numba_s,
            "numpy_s": numpy_s,
            "speedup": numpy_s / numba_s,
        }
        met = []
        for name, peer in PEERS.items():
            seconds = peer.seconds(typed, tokens, targets, weights, heads, repeats)
            row[f"{name}_s"] = seconds
            row[f"ratio_to_{name}"] = None if seconds is None else seconds / numba_s
            if seconds is not None:
                met.append(seconds / numba_s >= peer.at_least[dtype])
        times = [row[f"{name}_s"] for name in PEERS if row[f"{name}_s"] is not None]
        row["ratio_best_peer_to_numba"] = min(times) / numba_s if times else None
        row["target"] = ", ".join(f">= {p.at_least[dtype]:g}x {p.label}" for p in PEERS.values())
        row["met"] = all(met) if met else None
        rows.append(row)
    return rows
