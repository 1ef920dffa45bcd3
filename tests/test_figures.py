"""Figures a reviewer would not send back (issue 29): each test draws one figure from small
synthetic data and checks the property the reviewer missed: every curve visible and named, scales
that show the effect, one title per panel, off-scale data said so."""

import numpy as np
import pytest

from figures import boosting, deep_linear, growth, robust, transformer
from figures.style import styled


def _labels(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()] + [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    ]


def test_potential_figure_shows_the_bound_apart_from_the_measured_potential():
    phi = 0.9 ** np.arange(40)
    runs = {"exact": (phi, 0.95 * phi[:-1]), "errors": (phi, phi[:-1])}
    with styled():
        fig = robust.plot_potentials(runs)
    _, right = fig.axes
    ratios = [line.get_ydata() for line in right.get_lines() if line.get_label() in runs]
    assert len(ratios) == 2
    np.testing.assert_allclose(ratios[0], 0.9 / 0.95)  # Phi_k+1 / bound_k, not drawn on Phi
    assert "bound (ratio 1)" in _labels(fig)


def test_contraction_figure_names_its_line_styles_and_says_what_leaves_the_axes():
    flat = np.full(20, 0.85)
    wild = np.concatenate([[5.0, 0.1], np.full(18, 0.9)])
    curves = {(g, s): (flat, flat if s == 0.1 else wild) for g in ("euclidean", "functional")
              for s in (0.1, 1.0)}  # fmt: skip
    with styled():
        fig = robust.plot_path_bounds(curves, 0.1)
    labels = _labels(fig)
    assert "measured Phi_t+1 / Phi_t" in labels and "bound_t / Phi_t" in labels
    assert any("sigma = 1.0 (leaves the axes: down to 0.1, up to 5)" in text for text in labels)


def test_unreached_markers_of_different_curves_do_not_overlap():
    eps = np.geomspace(1e-3, 1, 5)
    never = np.array([10.0, 20.0, np.inf, np.inf, np.inf])
    panels = {10: {"curves": {"a": never, "b": never}, "gd": 40, "nag": 10}}
    with styled():
        fig = robust.plot_steps_vs_eps(eps, panels)
    heights = {line.get_color(): set(line.get_ydata()) for line in fig.axes[0].get_lines()
               if line.get_marker() == "^"}  # fmt: skip
    assert len(heights) == 2 and len(set.union(*heights.values())) == 2


def test_curves_that_coincide_keep_distinct_styles():
    steps, loss = np.arange(10), np.linspace(3, 2, 10)
    with styled():
        stages = transformer.plot_stages(dict.fromkeys("abcd", (steps, loss)), [5], "loss")
        speed = growth.plot_speed(
            {"t": dict.fromkeys("abc", (steps, loss))}, {"t": "cross-entropy"}
        )
    for fig in (stages, speed):
        styles = [(str(line.get_linestyle()), line.get_marker()) for line in fig.axes[0].get_lines()
                  if not line.get_label().startswith("_")]  # fmt: skip
        assert len(styles) == len(set(styles)) >= 3
    assert speed.axes[0].get_ylabel() == "cross-entropy" and "MSE" not in speed.axes[0].get_ylabel()


def test_reasoning_isoplot_has_a_median_per_model_and_an_axis_fitted_to_the_data():
    points = [(3.0 - 0.1 * i, {"p": 0.02 * i}) for i in range(6)]
    runs = {m: [(points, 2.5, {"p": 0.1}), (points, 2.5, {"p": 0.12})] for m in ("base", "midas")}
    with styled():
        fig = transformer.plot_isoplots(runs, ["p"])
    assert fig.axes[0].get_ylim()[1] < 0.5  # data below 0.15: not a 0-1 axis
    labels = _labels(fig)
    assert "base (median over seeds)" in labels and "faint: one seed each" in labels


def test_similarity_scale_tells_apart_values_near_one():
    """The claimed peak sits among similarities near 1 (0.999 against 0.9999): the colour scale
    is logarithmic in 1 - cos over the off-diagonal values, and each value is written out."""
    m = np.array([[1.0, 0.999, 0.9], [0.999, 1.0, 0.9999], [0.9, 0.9999, 1.0]])
    with styled():
        fig = growth.plot_similarity({"midas": m})
    image = fig.axes[0].get_images()[0]
    low, high = image.get_clim()
    assert (low, high) == pytest.approx((1e-4, 0.1))
    norm = image.norm
    assert norm(1 - 0.999) - norm(1 - 0.9999) > 0.3  # a third of the colour scale apart
    assert {"1e-03", "1e-04"} <= {t.get_text() for t in fig.axes[0].texts}


def test_tree_comparison_titles_each_problem_once():
    rows = [{"per_shrinkage": {0.1: (10, 5), 1.0: (10, 11)}, "zero_heldout_rounds": 30,
             "stack_heldout_rounds": 20}] * 3  # fmt: skip
    with styled():
        fig = boosting.plot_tree_comparison({"friedman1": rows, "ill-conditioned": rows})
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == len(set(titles)) * 2  # two panels per problem, told apart by title
    assert sorted(sub._suptitle.get_text() for sub in fig.subfigs) == [
        "friedman1",
        "ill-conditioned",
    ]


def test_lag_figure_labels_its_grey_lines():
    with styled():
        fig = growth.plot_lag([0, 5, 10], [[0.1, 0.5, 0.6], [0.2, 0.4, 0.7]], 0.8, [0.1, 0.05, 0.0])
    assert "one checkpoint (seed, stage)" in _labels(fig)


@pytest.mark.parametrize("hidden", ["stack (beta*)"])
def test_a_curve_inside_a_wider_band_is_drawn_on_top_with_markers(hidden):
    curve = 0.5 ** np.arange(30)
    panels = {"p": {hidden: [curve], "stack, functional": [curve]}}
    with styled():
        fig = deep_linear.plot_loss_panels(panels)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert lines[hidden].get_marker() not in (None, "None", "")
    assert lines[hidden].get_zorder() > lines["stack, functional"].get_zorder()
