"""Benchmark of the residual MLP's training step (``stagewise bench``'s kernels section): the Numba
kernel against the NumPy reference and PyTorch eager, in float64 and float32."""

from __future__ import annotations

from dataclasses import dataclass

from sims.families import residual_mlp
from sims.problems import staircase_task
from sims.timing import best_time, torch_adam_step_seconds, versus_numpy


@dataclass(frozen=True)
class Sizes:
    """The sizes of the residual MLP benchmark."""

    depth: int  # training step, width 64, batch 256


FULL = Sizes(depth=20)
SMOKE = Sizes(depth=2)


def torch_residual_mlp_loss(params: dict, X, y, activation: str):
    """The pre-LN residual MLP's mean squared error (``sims.families.residual_mlp``, every block kept,
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


def torch_step_seconds(params, X, y, activation, repeats) -> float | None:
    """Best time of one PyTorch eager training step (forward, backward, torch.optim.Adam) in the
    float type of the arrays; None without torch."""
    return torch_adam_step_seconds(torch_residual_mlp_loss, params, (X, y, activation), repeats)


# The training step's peers besides the NumPy reference (adding a peer is one entry here):
# ``seconds(params, X, y, activation, repeats)``, None when the library is missing.
PEERS = {"torch": torch_step_seconds}


def bench(repeats: int = 5, smoke: bool = False) -> list[dict]:
    """One training step (loss and gradients, then Adam) of the residual MLP, width 64, depth 20,
    batch 256, d = 20: GELU and ReLU in float64, GELU in float32. Numba kernel versus the NumPy
    reference in the same float type, and versus PyTorch eager mode on the CPU where torch is
    installed. A step's time is a tenth of a 10-step ``train`` call's, so the set-up a training
    run pays once (copies, work arrays) is amortised."""
    sizes = SMOKE if smoke else FULL
    X, y = staircase_task(20, 10).sample(256, seed=0)
    params = residual_mlp.init_params(20, 64, sizes.depth, seed=1)
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
        row = versus_numpy(f"residual MLP training step, {activation}, width 64, depth "
                           f"{sizes.depth}, batch 256", dtype, times, 3)  # fmt: skip
        for name, seconds in PEERS.items():
            row[f"{name}_s"] = seconds(typed, X.astype(dtype), y.astype(dtype), activation, repeats)
            row[f"ratio_to_{name}"] = (
                None if row[f"{name}_s"] is None else row[f"{name}_s"] / times["numba"]
            )
        rows.append(row)
    return rows
