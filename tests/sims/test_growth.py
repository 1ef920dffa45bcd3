"""Growth operators, Prop-alpha schedules and the grown-training driver. Expected index maps are
written out by hand from the operators' definitions (module docstring of sims.growth)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sims import growth
from sims.families import deep_linear, residual_mlp
from sims.families.deep_linear.growth import DeepLinearFamily
from sims.families.residual_mlp.growth import ResidualMLPFamily
from sims.families.transformer.growth import TransformerFamily
from sims.problems import deep_linear_problem, staircase_task
from tests.helpers import central_difference
from theory import flops


def _layers(n, rng=None, d=2):
    rng = rng or np.random.default_rng(0)
    return [{"W": rng.standard_normal((d, d)), "b": rng.standard_normal(d)} for _ in range(n)]


@pytest.mark.parametrize(
    "operator, n, b, expected",
    [
        ("progressive", 3, 1, (0, 1, 2, 0, 1, 2)),
        ("gradual", 3, 1, (0, 1, 2, 2)),
        ("gradual", 4, 2, (0, 1, 2, 3, 2, 3)),
        ("midas", 3, 1, (0, 1, 1, 2)),  # block ceil(3/2) = 2 (layer 1) copied after itself
        ("midas", 4, 1, (0, 1, 1, 2, 3)),  # block ceil(4/2) = 2
        ("midas", 1, 1, (0, 0)),
        ("midas", 6, 2, (0, 1, 2, 3, 2, 3, 4, 5)),  # 3 blocks of 2: block 2 = layers 2, 3
        ("midas", 8, 2, (0, 1, 2, 3, 2, 3, 4, 5, 6, 7)),  # 4 blocks: block 2
        ("zero", 3, 1, (0, 1, 2, -1)),
        ("copy_noise", 4, 2, (0, 1, 2, 3, 2, 3)),
    ],
)
def test_index_maps_for_odd_and_even_block_counts(operator, n, b, expected):
    layers = _layers(n)
    grown, index_map = growth.grow(layers, operator, block_size=b, noise=0.0)
    assert index_map == expected
    for layer, source in zip(grown, index_map, strict=True):
        if source >= 0:
            assert all(np.array_equal(layer[k], layers[source][k]) for k in layer)


@settings(max_examples=60, deadline=None)
@given(
    blocks=st.integers(1, 6),
    b=st.integers(1, 3),
    operator=st.sampled_from(tuple(growth.OPERATORS)),
    seed=st.integers(0, 2**16),
)
def test_operators_keep_the_old_layers_in_order(blocks, b, operator, seed):
    rng = np.random.default_rng(seed)
    layers = _layers(blocks * b, rng)
    before = [{k: v.copy() for k, v in layer.items()} for layer in layers]
    grown, index_map = growth.grow(
        layers, operator, block_size=b, fresh=lambda r: _layers(1, r)[0], seed=seed
    )
    n = len(layers)
    assert len(grown) == len(index_map) == (2 * n if operator == "progressive" else n + b)
    new = growth.copied_positions(index_map)
    assert new.sum() == len(grown) - n
    kept = [grown[j] for j in np.flatnonzero(~new)]
    for old, now in zip(before, kept, strict=True):  # originals unchanged and in order
        assert all(np.array_equal(old[k], now[k]) for k in old)
    for old, now in zip(before, layers, strict=True):  # the input list is not modified
        assert all(np.array_equal(old[k], now[k]) for k in old)
    if operator == "copy_noise":
        for j in np.flatnonzero(new):
            source = layers[index_map[j]]
            assert not np.array_equal(grown[j]["W"], source["W"])
            assert np.allclose(grown[j]["W"], source["W"], atol=1.0 * np.abs(source["W"]).max())


def _mlp(depth=3, seed=0):
    return residual_mlp.init_params(4, 5, depth, seed=seed)


def test_zero_growth_leaves_residual_mlp_outputs_bit_identical():
    params = _mlp()
    model = ResidualMLPFamily.model(params)
    X = np.random.default_rng(1).standard_normal((7, 4))
    family = ResidualMLPFamily(X, np.zeros(7), X, np.zeros(7), 5)
    grown, index_map = growth.grow(
        model.layers, "zero", fresh=family.fresh, zero_keys=family.zero_keys, seed=2
    )
    assert index_map == (0, 1, 2, -1)
    assert np.any(grown[-1]["w1"] != 0)  # a live block whose output is zero
    after = family.params(growth.Model(model.shared, grown))
    assert np.array_equal(residual_mlp.forward(params, X), residual_mlp.forward(after, X))


def test_a_beta_scaled_copy_scales_its_residual_outputs_only():
    """Stacking's ``beta f_t`` on a residual-MLP block: the new copy's (w2, b2) are beta times its
    source's, so its residual branch outputs beta times the source's on the same input; every other
    array and every old layer is an exact copy."""
    model = ResidualMLPFamily.model(_mlp())
    keys = ResidualMLPFamily.zero_keys
    grown, index_map = growth.grow(model.layers, "gradual", zero_keys=keys, beta=0.5)
    assert index_map == (0, 1, 2, 2)
    for key, value in grown[3].items():
        source = model.layers[2][key]
        assert np.array_equal(value, 0.5 * source if key in keys else source)
    assert all(np.array_equal(grown[j]["w2"], model.layers[j]["w2"]) for j in range(3))


def test_zero_growth_leaves_the_deep_linear_product_unchanged():
    sigma, w_star = deep_linear_problem(4, 10, 0.3, seed=0)
    layers = [{"W": 0.1 * w} for w in np.random.default_rng(0).standard_normal((3, 4, 4))]
    grown, _ = growth.grow(layers, "zero")
    before = deep_linear.train_layers(sigma, w_star, [x["W"] for x in layers], 0, lr=1.0)
    after = deep_linear.train_layers(sigma, w_star, [x["W"] for x in grown], 0, lr=1.0)
    assert before.losses[0] == after.losses[0]


def test_midas_changes_the_function():
    # a control that the bit-identity above can fail: copying a block is not function preserving
    params = _mlp()
    model = ResidualMLPFamily.model(params)
    X = np.random.default_rng(1).standard_normal((7, 4))
    family = ResidualMLPFamily(X, np.zeros(7), X, np.zeros(7), 5)
    grown, _ = growth.grow(model.layers, "midas")
    after = family.params(growth.Model(model.shared, grown))
    assert not np.allclose(residual_mlp.forward(params, X), residual_mlp.forward(after, X))


@settings(max_examples=80, deadline=None)
@given(total=st.integers(1, 5000), n=st.integers(1, 12), alpha=st.floats(0, 4, allow_nan=False))
def test_prop_alpha_lengths_sum_exactly_and_round_the_exact_shares(total, n, alpha):
    if n > total:
        with pytest.raises(ValueError, match="n_stages"):
            growth.prop_alpha(total, n, alpha)
        return
    lengths = growth.prop_alpha(total, n, alpha)
    exact = total * np.arange(1, n + 1) ** alpha / np.sum(np.arange(1, n + 1) ** alpha)
    assert lengths.sum() == total and lengths.dtype.kind == "i"
    assert np.all(np.abs(lengths - exact) <= 1)  # each stage boundary is rounded once


def test_prop_alpha_flops_table():
    # the number: 6 stages, alpha = 1, depths 1..6 at equal total steps: 91/126
    lengths = growth.prop_alpha(126, 6, 1.0)
    assert lengths.tolist() == [6, 12, 18, 24, 30, 36]
    depths = growth.stage_depths("gradual", 1, 6)
    assert flops.stacking_relative_flops(depths, lengths / 126) == pytest.approx(
        91 / 126, rel=1e-15
    )
    assert round(91 / 126, 4) == 0.7222
    equal = growth.prop_alpha(600, 6, 0.0)
    assert equal.tolist() == [100] * 6
    assert flops.stacking_relative_flops(depths, equal / 600) == pytest.approx(21 / 36)
    assert growth.stage_depths("progressive", 1, 4).tolist() == [1, 2, 4, 8]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 10), alpha=st.floats(0, 3, allow_nan=False))
def test_integer_schedule_flops_converge_to_the_closed_form(n, alpha):
    # gradual stacking 1..n blocks with Prop-alpha stages: sum_i i^(alpha+1) / (n sum_i i^alpha)
    i = np.arange(1, n + 1, dtype=float)
    closed = np.sum(i ** (alpha + 1)) / (n * np.sum(i**alpha))
    total = 100_000
    lengths = growth.prop_alpha(total, n, alpha)
    measured = flops.stacking_relative_flops(growth.stage_depths("gradual", 1, n), lengths / total)
    assert abs(measured - closed) <= n / total


def test_learning_rates_warm_up_decay_and_rewarm():
    lrs = growth.learning_rates(100, 1.0, warmup=9)
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1, abs=0.01) and np.all(np.diff(lrs[9:]) <= 0)
    assert np.all(growth.learning_rates(50, 2.0, decay=False) == 2.0)
    rewarm = growth.learning_rates(100, 1.0, warmup=9, stage_starts=[40], rewarm=True)
    assert rewarm[40] == pytest.approx(0.1 * lrs[40]) and rewarm[49] == pytest.approx(lrs[49])
    assert np.array_equal(rewarm[:40], lrs[:40])


def test_train_layers_gradient_matches_finite_differences():
    sigma, w_star = deep_linear_problem(3, 10, 0.5, seed=1)
    rng = np.random.default_rng(2)
    layers = [0.2 * rng.standard_normal((3, 3)) for _ in range(3)]
    lr = 1e-7
    stepped = deep_linear.train_layers(sigma, w_star, layers, 1, lr=lr).layers

    def risk(ws):
        return deep_linear.train_layers(sigma, w_star, ws, 0, lr=1.0).losses[0]

    for layer in range(3):
        grad = (layers[layer] - stepped[layer]) / lr

        def along(w, layer=layer):
            return risk([w if i == layer else x for i, x in enumerate(layers)])

        assert np.allclose(grad, central_difference(along, layers[layer]), rtol=1e-5, atol=1e-8)
    frozen = deep_linear.train_layers(sigma, w_star, layers, 5, lr=0.1, trainable=[1, 0, 1])
    assert np.array_equal(frozen.layers[1], layers[1]) and frozen.losses[-1] < frozen.losses[0]


def test_adam_state_continues_exactly_and_frozen_blocks_stay():
    X = np.random.default_rng(0).standard_normal((16, 4))
    y = X[:, 0] * X[:, 1]
    params = _mlp()
    whole = residual_mlp.train(params, X, y, 20, lr=1e-2, batch_size=16, seed=0)
    first = residual_mlp.train(params, X, y, 12, lr=1e-2, batch_size=16, seed=0)
    second = residual_mlp.train(
        first.params, X, y, 8, lr=1e-2, batch_size=16, optimizer_state=first.optimizer_state
    )
    for k in residual_mlp.PARAM_KEYS:
        assert np.array_equal(whole.params[k], second.params[k])
    frozen = residual_mlp.train(params, X, y, 5, lr=1e-2, trainable=[0, 1, 0])
    for k in residual_mlp.BLOCK_KEYS:
        assert np.array_equal(frozen.params[k][0], params[k][0])
        assert not np.array_equal(frozen.params[k][1], params[k][1]) or k == "ln_b"
    assert frozen.optimizer_state["block_steps"].tolist() == [0, 5, 0]


def test_copied_blocks_take_or_reset_their_adam_state():
    X = np.random.default_rng(0).standard_normal((16, 4))
    family = ResidualMLPFamily(X, X[:, 0], X, X[:, 0], 5)
    trained = residual_mlp.train(_mlp(), X, X[:, 0], 3, lr=1e-2)
    state = trained.optimizer_state
    index_map = (0, 1, 1, 2)  # midas on 3 blocks
    copied = family.map_state(state, index_map, reset=False)
    reset = family.map_state(state, index_map, reset=True)
    assert np.array_equal(copied["m"]["w1"][2], state["m"]["w1"][1])
    assert np.array_equal(reset["m"]["w1"][1], state["m"]["w1"][1])  # the original keeps it
    assert not np.any(reset["m"]["w1"][2]) and reset["block_steps"].tolist() == [3, 3, 0, 3]
    assert np.array_equal(copied["v"]["emb_w"], state["v"]["emb_w"])


def test_growth_from_a_checkpoint_keeps_its_adam_state():
    """A grown run continued from a checkpoint's ``model`` carries Adam's moments: copying the
    copied block's state and resetting it train differently (LAG's pool once lost the state
    by rebuilding the checkpoint from its parameters, and its copy/reset twins were identical)."""
    task = staircase_task(4, 2)
    X, y = task.sample(64, seed=0)
    family = ResidualMLPFamily(X, y, X, y, 5, batch_size=32, eval_every=5)
    start = ResidualMLPFamily.model(_mlp())
    checkpoint = growth.train_grown(family, start, None, [10], lr=1e-2, seed=1)
    assert checkpoint.model.state["shared_steps"] == 10
    runs = {
        state: growth.train_grown(
            family, checkpoint.model, "gradual", [0, 10], optimizer_state=state, lr=1e-2, seed=2
        )
        for state in ("copy", "reset")
    }
    assert runs["copy"].losses[0] == runs["reset"].losses[0]  # same function at the boundary
    assert not np.array_equal(runs["copy"].losses, runs["reset"].losses)


@pytest.mark.parametrize("family_name", ["deep_linear", "residual_mlp"])
def test_zero_growth_keeps_the_loss_at_the_boundary(family_name):
    if family_name == "deep_linear":
        sigma, w_star = deep_linear_problem(4, 10, 0.3, seed=0)
        family = DeepLinearFamily(sigma, w_star)
        model = growth.Model(None, [{"W": np.zeros((4, 4))}])
        run = growth.train_grown(family, model, "zero", [5, 5, 5], lr=0.1, decay=False)
        boundary = 6  # evaluations 0..5 of stage 1, then 0.. of stage 2
    else:
        task = staircase_task(4, 2)
        X, y = task.sample(64, seed=0)
        family = ResidualMLPFamily(X, y, X, y, 5, batch_size=32, eval_every=5)
        model = ResidualMLPFamily.model(_mlp(1))
        run = growth.train_grown(family, model, "zero", [10, 10, 10], lr=1e-2, seed=0)
        boundary = 3  # evaluations at 0, 5, 10 of stage 1
    assert run.depths.tolist() == [1, 2, 3]
    assert run.eval_steps[boundary] == run.eval_steps[boundary - 1]
    assert run.losses[boundary] == run.losses[boundary - 1]
    assert run.flops[-1] == pytest.approx((5 * 1 + 5 * 2 + 5 * 3) / 3 if boundary == 6 else 20)


def test_adaptive_stacking_counts_probe_flops():
    sigma, w_star = deep_linear_problem(4, 10, 0.3, seed=0)
    family = DeepLinearFamily(sigma, w_star)
    model = growth.Model(None, [{"W": np.zeros((4, 4))}])
    run, chosen = growth.train_adaptive(
        family, model, ["gradual", "zero", "midas"], [10, 10], 4, lr=0.1, decay=False
    )
    assert len(chosen) == 1 and chosen[0] in ("gradual", "zero", "midas")
    assert run.flops[-1] == pytest.approx((10 * 1 + 10 * 2 + 2 * 4 * 2) / 2)


def test_adaptive_stacking_chooses_by_the_score_it_is_given():
    """A selection score apart from the evaluation loss decides: scores handed out in the
    candidates' order pick the candidate with the lowest."""
    sigma, w_star = deep_linear_problem(4, 10, 0.3, seed=0)
    family = DeepLinearFamily(sigma, w_star)
    model = growth.Model(None, [{"W": np.zeros((4, 4))}])
    scores = iter([3.0, 1.0, 2.0])
    _, chosen = growth.train_adaptive(
        family, model, ["gradual", "zero", "midas"], [10, 10], 4, lr=0.1, decay=False,
        score=lambda grown: next(scores),
    )  # fmt: skip
    assert chosen == ["zero"]


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: growth.grow(_layers(3), "gradual", block_size=2), "block_size"),
        (lambda: growth.grow(_layers(3), "sideways"), "operator"),
        (lambda: growth.grow(_layers(3), "random"), "fresh"),
        (lambda: growth.grow([], "gradual"), "layers"),
        (lambda: growth.grow(_layers(2), "copy_noise", noise=-1.0), "noise"),
        (lambda: growth.grow(_layers(2), "zero", zero_keys=["nope"]), "zero_keys"),
        (lambda: growth.prop_alpha(10, 3, -0.5), "alpha"),
        (lambda: growth.prop_alpha(3, 4, 1.0), "n_stages"),
        (lambda: growth.prop_alpha(0, 1, 1.0), "total_steps"),
        (lambda: growth.prop_alpha(10, 2, float("nan")), "alpha"),
        (lambda: growth.stage_depths("sideways", 1, 3), "operator"),
        (lambda: growth.learning_rates(10, 0.0), "peak"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_driver_bad_input():
    sigma, w_star = deep_linear_problem(4, 10, 0.3, seed=0)
    family = DeepLinearFamily(sigma, w_star)
    model = growth.Model(None, [{"W": np.zeros((4, 4))}] * 2)
    with pytest.raises(ValueError, match="operator"):
        growth.train_grown(family, model, None, [5, 5], lr=0.1, decay=False)
    with pytest.raises(ValueError, match="train"):
        growth.train_grown(family, model, "zero", [5, 5], lr=0.1, train="some")
    with pytest.raises(ValueError, match="block_size"):
        growth.train_grown(family, model, "zero", [5, 5], lr=0.1, block_size=3)
    with pytest.raises(ValueError, match="lr"):
        growth.train_grown(family, model, "zero", [5, 5], lr=0.1, decay=True)
    with pytest.raises(ValueError, match="probe_steps"):
        growth.train_adaptive(family, model, ["zero"], [5, 2], 3, lr=0.1, decay=False)


def test_an_operator_is_one_table_entry_and_a_missing_piece_is_an_error(monkeypatch):
    """Adding an operator is one entry of ``OPERATORS`` (here: copy the bottom block on top);
    an entry without a way to make new layers or a depth rule cannot be built, so it can never
    fall through to 'append a fresh block' as a new name in a tuple used to."""
    layers = [{"W": np.full((2, 2), float(i))} for i in range(4)]
    bottom = growth.Operator(lambda n, b: list(range(n)) + list(range(b)), "copy", "add_block")
    monkeypatch.setitem(growth.OPERATORS, "bottom", bottom)
    grown, index_map = growth.grow(layers, "bottom", block_size=2)
    assert index_map == (0, 1, 2, 3, 0, 1)
    np.testing.assert_array_equal(grown[5]["W"], layers[1]["W"])
    assert list(growth.stage_depths("bottom", 1, 3)) == [1, 2, 3]
    with pytest.raises(TypeError):
        growth.Operator(lambda n, b: list(range(n)), "copy")  # no depth rule
    with pytest.raises(ValueError, match="new_layer"):
        growth.Operator(lambda n, b: list(range(n)), "clone", "add_block")


@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_copy_noise_adds_the_documented_spread(noise):
    """``copy_noise``: the new block is the top block plus ``noise * rms(array) * N(0, 1)`` per
    array; the spread of (copy - source) / rms over many entries is ``noise``."""
    rng = np.random.default_rng(0)
    layers = [{"W": 3.0 * rng.standard_normal((200, 100)), "b": rng.standard_normal(100)}]
    grown, index_map = growth.grow(layers, "copy_noise", noise=noise, seed=1)
    new = grown[int(np.flatnonzero(growth.copied_positions(index_map))[0])]
    for key, source in layers[0].items():
        rms = np.sqrt(np.mean(source**2))
        relative = (new[key] - source) / rms
        # the sample sd of m normal draws has relative standard error 1/sqrt(2m): 5 of them
        assert np.std(relative) == pytest.approx(noise, rel=5 / np.sqrt(2 * relative.size))
        assert abs(np.mean(relative)) < 5 * noise / np.sqrt(relative.size)


def test_a_transformer_grows_a_random_block_before_any_training():
    """A first stage of 0 steps (growth at initialisation, the first-stage study's left end):
    the fresh block is drawn for the model's own vocabulary, width and context."""
    from sims import induction
    from sims.families import transformer

    bed = induction.Testbed(alphabet=6, length=14, shortest=3, longest=5)
    rng = np.random.default_rng(0)
    family = TransformerFamily(bed.documents(rng, 8), bed.documents(rng, 4), heads=2,
                                      causal=True, objective="next", batch_size=4)  # fmt: skip
    start = TransformerFamily.model(transformer.init_params(bed.vocab, 8, 1, 13, seed=1))
    run = growth.train_grown(family, start, "random", [0, 3], lr=1e-3, seed=2)
    assert run.params["wq"].shape == (2, 8, 8) and np.all(np.isfinite(run.losses))
    assert run.params["tok"].shape == (bed.vocab, 8)


def test_float32_growth_with_a_zero_block_keeps_the_function():
    """Growth of a float32 transformer: a zero block is the identity, so the evaluation right
    after the growth equals the last one before it exactly, and the grown model trains in float32
    (parameters and Adam's moments)."""
    from sims import induction
    from sims.families import transformer

    bed = induction.Testbed(alphabet=6, length=14, shortest=3, longest=5)
    rng = np.random.default_rng(0)
    family = TransformerFamily(bed.documents(rng, 8), bed.documents(rng, 4), heads=2,
                                      causal=True, objective="next", batch_size=4, eval_every=5,
                                      dtype="float32")  # fmt: skip
    start = TransformerFamily.model(transformer.init_params(bed.vocab, 8, 1, 13, seed=1))
    run = growth.train_grown(family, start, "zero", [5, 5], lr=1e-3, seed=2)
    at_growth = np.flatnonzero(run.eval_steps == 5)
    assert len(at_growth) == 2
    assert run.losses[at_growth[0]] == run.losses[at_growth[1]]
    assert all(v.dtype == np.float32 for v in run.params.values())
    with pytest.raises(ValueError, match="dtype"):
        TransformerFamily(bed.documents(rng, 8), None, heads=2, causal=True,
                                 objective="next", dtype="float16")  # fmt: skip


@given(st.floats(0.2, 5.0), st.integers(0, 14), st.floats(0.05, 0.95))
def test_a_rescaled_curve_is_the_run_at_a_fraction_of_its_flops(factor, k, fraction):
    # evaluations at costs 0, 1, ..., 10 with losses 1/(1+cost): at F = (k + fraction) factor the
    # rescaled curve has the run's loss at cost k (its last evaluation below F / factor), and
    # beyond the budget the final loss
    flops = np.arange(11.0)
    curve = growth.rescaled(growth.Curve(flops, 1.0 / (1.0 + flops)), factor)
    assert growth.loss_at_flops(curve, (k + fraction) * factor) == 1.0 / (1.0 + min(k, 10))


@given(st.floats(0.2, 5.0), st.integers(0, 12), st.floats(0.05, 0.95))
def test_a_rescaled_curve_with_a_budget_stops_at_its_last_evaluation_within_it(factor, k, fraction):
    # evaluations at costs 0, 1, ..., 10 rescaled to 0, factor, ..., 10 factor: within a budget of
    # (k + fraction) factor are the first min(k, 10) + 1, with their losses
    flops = np.arange(11.0)
    budget = (k + fraction) * factor
    curve = growth.rescaled(growth.Curve(flops, 1.0 / (1.0 + flops)), factor, budget)
    kept = min(k, 10) + 1
    np.testing.assert_array_equal(curve.flops, factor * flops[:kept])
    np.testing.assert_array_equal(curve.losses, 1.0 / (1.0 + flops[:kept]))


def test_a_continued_run_is_the_run_trained_longer_at_its_final_learning_rate():
    """``continued`` against the driver's own ``extra_steps`` (one call for the last stage and
    the extra steps): full-batch Adam with an evaluation every step is deterministic, so the two
    curves agree exactly, which needs Adam's moments and step counts carried over, and the
    continuation's FLOPs counted from the run's final FLOPs."""
    X = np.random.default_rng(0).standard_normal((16, 4))
    family = ResidualMLPFamily(X, X[:, 0] * X[:, 1], X, X[:, 0] * X[:, 1], 5, batch_size=16,
                               eval_every=1)  # fmt: skip
    start = ResidualMLPFamily.model(residual_mlp.init_params(4, 5, 1, seed=3))
    options = {"lr": 1e-2, "decay": False, "seed": 4}
    longer = growth.train_grown(family, start, "gradual", [6, 6], extra_steps=5, **options)
    run = growth.train_grown(family, start, "gradual", [6, 6], **options)
    curve = growth.continued(family, run, 5, lr=1e-2, seed=5)
    assert np.array_equal(curve.flops, longer.flops) and curve.flops[-1] == 6 / 2 + 6 + 5
    assert np.array_equal(curve.losses, longer.losses)
    assert np.array_equal(curve.losses[: run.losses.size], run.losses)
