"""The acceleration region's building blocks (sims/region.py) against independent references:
closed-form reference stages against simulated NAG and GD, the bisection against a dense scan,
the NumPy variant loop against the Numba kernel and against train_layers, and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.checks import InputError
from sims.families.deep_linear import (
    gd_reference,
    nesterov_reference,
    train_layers,
    train_stagewise,
)
from sims.problems import deep_linear_problem
from sims.region import (
    bisect_rays,
    coefficient_keeps,
    distance_target,
    frontier,
    holds,
    reference_stages,
    region_points,
    spectral_keeps,
    train_stagewise_variant,
    window_rate,
)
from theory.rates import nesterov_beta
from theory.spectral import momentum_loss_curve


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 8), st.floats(2.0, 100.0), st.floats(0.01, 0.5), st.integers(0, 10**6))
def test_reference_stages_match_simulated_nag_and_gd(d, kappa, sigma, seed):
    s, w = deep_linear_problem(d, kappa, sigma, seed=seed)
    target = distance_target(s, w)
    limit = int(15 * kappa + 100)
    nag, gd = nesterov_reference(s, w, limit), gd_reference(s, w, limit)
    assert reference_stages(s, w, "nag", limit) == nag.steps_to(target)
    assert reference_stages(s, w, "gd", limit) == gd.steps_to(target)
    lam, q = np.linalg.eigh(s)
    weights = np.sum(((np.eye(d) - w) @ q) ** 2, axis=0)
    for beta, run in ((nesterov_beta(kappa), nag), (0.0, gd)):
        curve = momentum_loss_curve(lam, weights, 1 / lam[-1], beta, 50)
        above = run.losses[:51] > 1e-10 * run.losses[0]  # the simulation's round-off floor
        np.testing.assert_allclose(curve[above], run.losses[:51][above], rtol=1e-7)


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 8), st.floats(10.0, 300.0), st.floats(0.01, 0.5), st.integers(0, 10**6),
       st.floats(0.5, 1.5))  # fmt: skip
def test_reference_stages_with_another_momentum_match_simulated_nag(d, kappa, sigma, seed, factor):
    """The closed form at a momentum other than beta* (``factor`` beta*, capped below 1) against
    NAG simulated on the matrices with that momentum: the positive control of
    stacking.frontier-decreases counts its stages this way."""
    s, w = deep_linear_problem(d, kappa, sigma, seed=seed)
    lam = np.linalg.eigvalsh(s)
    beta = min(factor * nesterov_beta(lam[-1] / lam[0]), 0.999)
    limit = int(15 * kappa + 100)
    run = nesterov_reference(s, w, limit, beta=beta)
    assert reference_stages(s, w, "nag", limit, beta=beta) == run.steps_to(distance_target(s, w))


def test_nag_with_a_coefficient_error_keeps_up_to_a_level_that_shrinks_with_kappa():
    """beta*(1 + sigma) stays within 1.3x NAG's stages for small sigma, not once the coefficient
    reaches 1, and the largest such sigma falls as kappa grows: at kappa 10 above 0.2, at 1000
    below 0.05 (raising the coefficient by delta costs the slowest mode about delta/2 of its rate
    kappa^(-1/2), so 1.3x allows delta up to about 0.46 kappa^(-1/2))."""
    assert coefficient_keeps(4, 100, 0.01, 1) and not coefficient_keeps(4, 100, 0.3, 1)
    assert not coefficient_keeps(4, 10, 1.5, 1)  # beta* (1 + 1.5) > 1
    level = {kappa: bisect_rays(lambda rays, k=kappa: [coefficient_keeps(4, k, s, seed)
                                                       for s, seed in rays],
                                [1, 2], 0.001, 4.0, 1.05).sigma for kappa in (10, 1000)}  # fmt: skip
    assert min(level[10]) > 0.2 and max(level[1000]) < 0.05


def test_window_rate_of_a_geometric_sequence():
    losses = 3.0 * 0.9 ** np.arange(400)
    assert window_rate(losses, 1e-3, 1e-9) == pytest.approx(-math.log(0.9))
    assert math.isnan(window_rate(losses[:10], 1e-3, 1e-9))


def test_region_point_agrees_with_a_single_run():
    s, w = deep_linear_problem(8, 100, 0.1, seed=3)
    point = region_points(8, 100, [(0.1, 3)])[0]
    run = train_stagewise(s, w, 2000, target=distance_target(s, w))
    assert point.stack == run.steps_to(distance_target(s, w))
    assert point.nag == reference_stages(s, w, "nag", 10_000)
    assert point.ratio == point.stack / point.nag


def test_frontier_matches_a_dense_scan():
    """The bisection's answer is the last sigma of a dense scan at which the criterion holds,
    to the search's resolution (on rays where the criterion fails from one sigma on)."""
    d, kappa, resolution = 6, 100, 1.05
    found = frontier(d, kappa, "nag-1.3", [0, 1], resolution=resolution)
    grid = np.geomspace(0.01, 4.0, 130)
    for seed, sigma in zip([0, 1], found.sigma, strict=True):
        ok = [
            holds(p, "nag-1.3", kappa) for p in region_points(d, kappa, [(g, seed) for g in grid])
        ]
        last = grid[np.flatnonzero(ok)[-1]] if any(ok) else 0.01
        assert all(ok[: np.flatnonzero(ok)[-1] + 1]), "not monotone along this ray"
        assert sigma / resolution**1.1 <= last <= sigma * resolution**1.1
    assert found.runs < 2 * 130 / 4  # the search costs under a quarter of that dense scan


@pytest.mark.parametrize("search", ["simulated", "spectral"])
def test_a_search_stops_where_its_criterion_holds_and_fails_one_step_above(search):
    """For every uncensored seed: the criterion holds at the returned sigma and fails at sigma
    times the resolution (a search returning the bracket's upper end, or stopping a step early,
    fails this; the dense-scan test above allows a resolution's slack either way)."""
    d, kappa, resolution, seeds = 6, 100, 1.05, [0, 1, 2, 3]
    if search == "simulated":

        def keeps(sigma, seed):
            point = region_points(d, kappa, [(sigma, seed)], budget=1.3)[0]
            return holds(point, "nag-1.3", kappa)

        found = frontier(d, kappa, "nag-1.3", seeds, resolution=resolution)
    else:

        def keeps(sigma, seed):
            return spectral_keeps(d, kappa, sigma, seed)

        def test(rays):
            return [keeps(sigma, seed) for sigma, seed in rays]

        found = bisect_rays(test, seeds, 0.01, 4.0, resolution)
    checked = 0
    for seed, sigma, censored in zip(seeds, found.sigma, found.censored, strict=True):
        if censored:
            continue
        assert keeps(sigma, seed), (seed, sigma)
        assert not keeps(sigma * resolution, seed), (seed, sigma)
        checked += 1
    assert checked >= 2


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 6), st.floats(2.0, 200.0), st.floats(0.01, 0.3), st.integers(0, 10**6),
       st.sampled_from(["nesterov", "zero", "one"]))  # fmt: skip
def test_variant_loop_with_one_step_on_the_new_layer_is_the_kernel(d, kappa, sigma, seed, schedule):
    from sims.region import variant_loop

    s, w = deep_linear_problem(d, kappa, sigma, seed=seed)
    init = {"nesterov": "stack", "zero": "zero", "one": "copy"}[schedule]
    kernel = train_stagewise(s, w, 40, init)
    loop = variant_loop(s, w, 40, schedule, 1, "new", None)
    above = kernel.losses > 1e-12 * kernel.losses[0]  # both are at round-off below
    np.testing.assert_allclose(loop.losses[above], kernel.losses[above], rtol=1e-6)


def test_all_layers_variant_is_stagewise_train_layers():
    """Each stage appends b W_top and takes k steps of train_layers on every layer."""
    s, w = deep_linear_problem(4, 20, 0.1, seed=1)
    run = train_stagewise_variant(s, w, 6, schedule="convex", steps_per_stage=2, layers="all")
    eta = 1 / np.linalg.eigvalsh(s)[-1]
    layers, losses = [], []
    for t in range(1, 7):
        top = layers[-1] if layers else np.zeros((4, 4))
        trained = train_layers(s, w, [*layers, (t - 1) / (t + 2) * top], 2, lr=eta)
        layers, losses = trained.layers, [*losses, trained.losses[-1]]
    np.testing.assert_allclose(run.losses[1:], losses, rtol=1e-12)


def test_more_steps_per_stage_mean_fewer_stages():
    s, w = deep_linear_problem(6, 100, 0.05, seed=2)
    target = distance_target(s, w)
    stages = [
        train_stagewise_variant(s, w, 2000, steps_per_stage=k, target=target).steps_to(target)
        for k in (1, 5)
    ]
    assert stages[1] < stages[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "cosine"}, "schedule"),
        ({"steps_per_stage": 0}, "steps_per_stage"),
        ({"layers": "some"}, "layers"),
        ({"schedule": "line-search", "steps_per_stage": 3}, "line-search"),
        ({"schedule": "trainable-0", "layers": "all"}, "trainable-0"),
    ],
)
def test_variant_bad_input(kwargs, message):
    s, w = deep_linear_problem(3, 10, 0.1, seed=0)
    with pytest.raises(InputError, match=message):
        train_stagewise_variant(s, w, 10, **kwargs)


def test_region_bad_input():
    with pytest.raises(InputError, match="sigma"):
        region_points(4, 10, [(-0.1, 0)])
    with pytest.raises(InputError, match="kappa"):
        region_points(4, 0.5, [(0.1, 0)])
    with pytest.raises(InputError, match="criterion"):
        frontier(4, 10, "fast", [0])
    with pytest.raises(InputError, match="seeds"):
        frontier(4, 10, "nag-1.3", [])
