"""Boosting figures: loss versus stage per initialisation, the tuned tree comparison, and the
logistic-loss rates on log-log axes."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from figures.style import PALETTE, new_figure, styled

COLOURS = {
    "zero init": PALETTE[1],
    "random init": "#999999",
    "stack": PALETTE[0],
    "copy (beta = 1)": PALETTE[3],
    "stack (convex schedule)": PALETTE[0],
}


def plot_gap_panels(panels: dict, floor: float = 1e-16):
    """``panels[title] = {label: relative gap per stage}`` on log-scale panels."""
    fig, axes = new_figure(len(panels), width=3.8, height=3.2)
    for ax, (title, curves) in zip(axes, panels.items(), strict=True):
        for label, gap in curves.items():
            ax.semilogy(np.maximum(gap, floor), color=COLOURS[label], label=label)
        ax.set_title(title)
        ax.set_xlabel("stage t (learners added)")
        ax.set_ylabel("(R(F_t) - R*) / (R(F_0) - R*)")
    axes[0].legend()
    return fig


def plot_logistic_rates(gaps: dict):
    """Log-log gap versus stage with 1/T and 1/T^2 guides."""
    fig, (ax,) = new_figure(width=4.4)
    for label, gap in gaps.items():
        t = np.arange(1, len(gap))
        ax.loglog(t, np.maximum(gap[1:], 1e-300), color=COLOURS[label], label=label)
    t = np.arange(1, len(next(iter(gaps.values()))))
    first = next(iter(gaps.values()))[1]
    ax.loglog(t, first / t, color="grey", linestyle=":", label="1/T guide")
    ax.loglog(t, first / t**2, color="grey", linestyle="--", label="1/T^2 guide")
    ax.set_xlabel("stage T (learners added)")
    ax.set_ylabel("logistic risk gap R(F_T) - R*")
    ax.legend()
    return fig


def plot_tree_comparison(table: dict):
    """Per problem (one titled group of two panels): rounds ratio stack/zero to the training
    target per shrinkage (one dot per seed, line = median), and rounds of each method to the
    held-out target (one dot per seed, bar = median)."""
    with styled():
        fig = Figure(figsize=(5.4 * len(table), 3.3), layout="constrained")
        groups = fig.subfigures(1, len(table), squeeze=False)[0]
    for group, (name, rows) in zip(groups, table.items(), strict=True):
        with styled():
            left, right = group.subplots(1, 2)
        group.suptitle(name, fontsize=9)
        shrinkages = list(rows[0]["per_shrinkage"])
        ratios = np.array([[r["per_shrinkage"][eta][1] / r["per_shrinkage"][eta][0]
                            for eta in shrinkages] for r in rows])  # fmt: skip
        for row in ratios:
            left.plot(shrinkages, row, "o", color=COLOURS["stack"], alpha=0.5)
        left.plot(shrinkages, np.median(ratios, axis=0), color=COLOURS["stack"])
        left.axhline(1.0, color="k", linestyle=":")
        left.set_xscale("log")
        left.set_xlabel("shrinkage")
        left.set_ylabel("rounds stack / zero (train target)")
        left.set_title("training target, per shrinkage", fontsize=8)
        for x, method in enumerate(("zero", "stack")):
            values = [r[f"{method}_heldout_rounds"] for r in rows]
            colour = COLOURS["zero init" if method == "zero" else "stack"]
            right.plot(np.full(len(values), x), values, "o", color=colour, alpha=0.7)
            right.plot([x - 0.2, x + 0.2], [np.median(values)] * 2, color=colour)
        right.set_xticks([0, 1], ["zero", "stack"])
        right.set_xlim(-0.5, 1.5)
        right.set_ylabel("rounds to held-out target")
        right.set_title("held-out target", fontsize=8)
    return fig
