"""Schedules (RaPTr, PLD): statistics against the closed forms of theory/flops.py, the
stability model's identity, staircase components with known coefficients, and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims import subnetworks as sn
from sims.problems import component_errors, staircase_task
from theory import flops


@given(
    st.integers(3, 24),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
    st.sampled_from(sn.SAMPLERS),
    st.integers(0, 2**31),
)
def test_raptr_schedule_statistics(depth, raw, sampler, seed):
    lengths = sorted(2 + round(r * (depth - 2)) for r in raw)
    schedule = sn.raptr_schedule(depth, lengths, 1200, sampler=sampler, seed=seed)  # 12 | 1200
    assert sn.relative_flops(schedule) == pytest.approx(
        flops.raptr_relative_flops(depth, lengths), abs=1e-12
    )
    assert np.all(schedule.masks[:, [0, depth - 1]] == 1)
    if sampler == "fixed_size":  # exactly the path length every step
        starts = [*schedule.stage_starts, 1200]
        for length, a, b in zip(lengths, starts[:-1], starts[1:], strict=True):
            assert np.all(schedule.masks[a:b].sum(axis=1) == length)
    p = schedule.keep_probabilities
    se = np.sqrt(np.sum(p * (1 - p))) / p.size
    assert abs(schedule.masks.mean() - p.mean()) <= 5 * se + 1e-12


def test_raptr_scales_and_flops_identities():
    schedule = sn.raptr_schedule(12, [6, 8, 10, 12], 100, scale="inv_p", seed=0)
    assert sn.relative_flops(schedule) == pytest.approx(0.75, abs=1e-15)
    assert flops.stacking_relative_flops([6, 9, 12]) == pytest.approx(0.75, abs=1e-15)
    # stage 1: p = (6 - 2) / 10 = 0.4 for the free layers
    np.testing.assert_allclose(schedule.scales[0, 1:11], 1 / 0.4)
    assert schedule.scales[0, 0] == 1.0
    sqrt_scaled = sn.raptr_schedule(12, [6, 12], 10, scale="inv_sqrt_p", seed=0)
    np.testing.assert_allclose(sqrt_scaled.scales[0, 1:11], 0.4**-0.5)


def test_pld_matches_deepspeed_rule_and_calibration():
    schedule = sn.pld_schedule(10, 3000, theta_bar=0.5, gamma=1e-3, seed=1)
    t = 1234
    theta = 0.5 * np.exp(-1e-3 * t) + 0.5
    np.testing.assert_allclose(
        schedule.keep_probabilities[t], 1 - np.arange(10) * (1 - theta) / 10, rtol=1e-14
    )
    np.testing.assert_allclose(schedule.scales, 1 / schedule.keep_probabilities)
    # the closed form sums the per-step expectations
    assert sn.relative_flops(schedule) == pytest.approx(
        flops.pld_relative_flops(10, 3000, 0.5, 1e-3), rel=1e-12
    )
    theta_bar = sn.calibrate_pld(20, 2000, 0.8, gamma=5e-3)
    direct = np.mean(
        [flops.pld_keep_probabilities(20, s, theta_bar, 5e-3).mean() for s in range(2000)]
    )
    assert direct == pytest.approx(0.8, abs=1e-10)


def test_dropping_a_layer_equals_the_stack_above_applied_to_its_input():
    rng = np.random.default_rng(0)
    layers = sn.linear_ln_layers(6, 5, 0.3, seed=1)
    X = rng.standard_normal((4, 6))
    stream = sn.linear_ln_stream(layers, X)
    gaps = sn.drop_one_gaps(layers, X)
    for layer in range(5):
        mask = np.ones(5)
        mask[layer] = 0
        dropped = sn.linear_ln_stream(layers, X, mask=mask)[-1]
        np.testing.assert_array_equal(
            dropped, sn.linear_ln_stream(layers, stream[layer], layer + 1)[-1]
        )
        expected = np.mean(
            np.linalg.norm(stream[-1] - dropped, axis=1) / np.linalg.norm(stream[-1], axis=1)
        )
        assert gaps[layer] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("inputs", ["boolean", "gaussian"])
@pytest.mark.parametrize("support", ["nested", "disjoint", "random"])
def test_component_errors_of_a_known_polynomial(inputs, support):
    task = staircase_task(15, 5, coefficients=[1.0, -2.0, 0.5, 3.0, 1.5], support=support,
                          inputs=inputs, seed=4)  # fmt: skip
    X, y = task.sample(200_000, seed=5)
    H = task.components(X)
    assert all(len(s) == k for k, s in enumerate(task.supports, start=1))
    a = np.array([1.0, 0.0, 0.5, 2.0, 1.5])
    f = H @ a + 0.3 * np.prod(X[:, :6], axis=1)  # degree 6: orthogonal to every h_k
    errors, residual = component_errors(task, X, f)
    # errors are squared estimation errors of a_k = E f h_k: allow 4 standard errors of a_k
    se = 4 * (f[:, None] * H).std(axis=0) / np.sqrt(len(f))
    gap = a - task.coefficients
    assert np.all(np.abs(errors - gap**2) <= 2 * np.abs(gap) * se + se**2)
    if inputs == "boolean":  # h_k^2 = 1: in-sample estimates are tight enough for these two
        assert residual == pytest.approx(0.09, rel=0.05)
        # population identity: MSE = sum e_k + residual
        assert np.mean((f - y) ** 2) == pytest.approx(errors.sum() + residual, rel=0.02)


def test_component_errors_are_exact_for_a_predictor_in_the_span_of_the_components():
    """On 300 inputs the h_k are far from orthonormal (cross terms mean h_j h_k of order 0.06), yet
    a predictor sum_k a_k h_k has e_k = (a_k - c_k)^2 exactly and no residual; the target itself
    has no error (inner products mean f h_k would give it about 0.06^2 per component)."""
    task = staircase_task(20, 10)
    X, y = task.sample(300, seed=6)
    a = np.linspace(-1.0, 2.0, 10)
    errors, residual = component_errors(task, X, task.components(X) @ a)
    assert errors == pytest.approx((a - task.coefficients) ** 2, rel=1e-9, abs=1e-20)
    assert residual < 1e-20
    errors, residual = component_errors(task, X, y)
    assert errors.max() < 1e-20 and residual < 1e-20


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: sn.raptr_schedule(12, [1, 12], 10), "path_lengths"),
        (lambda: sn.raptr_schedule(12, [8, 6], 10), "path_lengths"),
        (lambda: sn.raptr_schedule(12, [6, 13], 10), "path_lengths"),
        (lambda: sn.raptr_schedule(12, [6.5], 10, sampler="fixed_size"), "path_lengths"),
        (lambda: sn.raptr_schedule(12, [6], 10, sampler="poisson"), "sampler"),
        (lambda: sn.raptr_schedule(12, [6], 10, fixed=(0, 12)), "fixed"),
        (lambda: sn.calibrate_pld(12, 100, 1.5), "budget"),
        (lambda: sn.calibrate_pld(12, 100, 0.0), "budget"),
        (lambda: sn.calibrate_pld(12, 100, 0.5, gamma=1e-3), "budget"),
        (lambda: sn.pld_schedule(12, 100, theta_bar=np.nan), "theta_bar"),
        (lambda: staircase_task(5, 10), "degrees"),
        (lambda: staircase_task(10, 5, support="disjoint"), "disjoint"),
        (lambda: staircase_task(10, 3, coefficients=[1.0, np.inf, 1.0]), "coefficients"),
        (lambda: staircase_task(10, 3, inputs="uniform"), "inputs"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
