"""The array-API path of the deep linear recursion: NumPy and array-api-strict on the CPU against
the Numba kernel; CuPy against NumPy where a GPU is present (marker gpu)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sims.families.deep_linear import train_stagewise
from sims.families.deep_linear.xp import train_stagewise_xp
from sims.problems import deep_linear_problem


@given(
    st.integers(1, 10),
    st.floats(1.0, 1e4),
    st.floats(0.0, 0.3),
    st.sampled_from(["zero", "random", "stack", "copy"]),
    st.sampled_from(["euclidean", "functional"]),
    st.integers(0, 2**31),
)
@example(4, 1.0, 0.25, "copy", "euclidean", 166)  # unstable: differed by 2.3e-9 at step 27 (CI)
def test_numpy_namespace_matches_numba_kernel(d, kappa, sigma, init, layer_grad, seed):
    """The two implementations round differently, and where the recursion is unstable (kappa
    near 1 with a copied layer overshoots, each step multiplying the error by about 2.5) a
    round-off difference of 1e-16 grows to 1e-9 in 30 steps. So each step may differ by 1e-9
    relative plus the kernel's own change when W* is perturbed by 1e-14 relative, about 100x
    round-off: a bug moves the early steps by far more than either."""
    s, w = deep_linear_problem(d, kappa, sigma, seed=seed)
    options = {"init": init, "layer_grad": layer_grad, "random_scale": 0.01, "seed": seed}
    a = np.sqrt(train_stagewise(s, w, 30, **options).losses)
    b = np.sqrt(train_stagewise_xp(s, w, 30, **options).losses)
    nudge = 1 + 1e-14 * np.random.default_rng(seed).standard_normal(w.shape)
    perturbed = np.sqrt(train_stagewise(s, w * nudge, 30, **options).losses)
    n = min(len(a), len(b))  # a run stops once it has converged
    a, b = a[:n], b[:n]
    sensitivity = np.zeros(n)  # none where the perturbed run had already stopped
    m = min(n, len(perturbed))
    sensitivity[:m] = np.abs(perturbed[:m] - a[:m])
    above = a > 1e-10 * a[0]  # losses above 1e-20 of the first
    assert np.all(np.abs(b - a)[above] <= 1e-9 * a[above] + 1e-13 + sensitivity[above])


def test_array_api_strict_runs_the_same_code():
    xps = pytest.importorskip("array_api_strict")
    s, w = deep_linear_problem(5, 100, 0.2, seed=1)
    for layer_grad in ("euclidean", "functional"):
        a = train_stagewise_xp(s, w, 40, layer_grad=layer_grad)
        b = train_stagewise_xp(s, w, 40, layer_grad=layer_grad, xp=xps)
        np.testing.assert_allclose(a.losses, b.losses, rtol=1e-12)


def test_gpu_needs_cupy():
    s, w = deep_linear_problem(3, 10, 0.1, seed=0)
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="CuPy"):
            train_stagewise_xp(s, w, 3, device="gpu")


@pytest.mark.gpu
def test_cupy_matches_numpy():
    cupy = pytest.importorskip("cupy")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        pytest.skip("no CUDA device")
    s, w = deep_linear_problem(256, 1e4, 0.05, seed=0)
    for layer_grad in ("euclidean", "functional"):
        a = train_stagewise_xp(s, w, 50, layer_grad=layer_grad)
        b = train_stagewise_xp(s, w, 50, layer_grad=layer_grad, device="gpu")
        np.testing.assert_allclose(b.losses, a.losses, rtol=1e-10)
