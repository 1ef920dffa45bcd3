"""The deep linear stagewise recursion written once against the Python array API: NumPy on the
CPU, CuPy on an NVIDIA GPU (extra ``gpu``), array-api-strict in tests. For large d (up to 4096)
and ill-conditioned Sigma; the Numba kernels remain the CPU fast path for small d.

The recursion itself is ``sims.families.deep_linear.reference.stagewise_reference`` (also the NumPy reference of the
Numba kernel): one implementation serves the reference, the CPU and the GPU.
"""

from __future__ import annotations

import numpy as np

from infra.checks import InputError
from sims.families.deep_linear import StagewiseResult, prepare_instance, reference_run

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
            raise InputError(
                "device='gpu' needs CuPy and CUDA: pip install 'stagewise[gpu]'"
            ) from None
        return namespace_of(cupy.empty(0))
    raise InputError(f"device must be one of {DEVICES}, got {device!r}")


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
) -> StagewiseResult:
    """``sims.families.deep_linear.train_stagewise`` on the array-API path: ``device`` "cpu" (NumPy) or
    "gpu" (CuPy); ``xp`` overrides the namespace (e.g. array-api-strict in tests)."""
    x = prepare_instance(
        Sigma, W_star, stages, init, beta, eta, V0, layer_grad, random_scale, seed, target
    )
    return reference_run(x, stages, array_namespace(device) if xp is None else xp)
