"""Boosting figures: loss versus stage per initialisation, the tuned tree comparison, and the
logistic-loss rates on log-log axes."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, new_figure

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
    """Per problem: rounds to target and best held-out loss per method, one dot per seed."""
    fig, axes = new_figure(2 * len(table), width=2.6, height=3.0)
    for k, (name, rows) in enumerate(table.items()):
        for ax, metric, label in (
            (axes[2 * k], "rounds_to_target", "rounds to train target"),
            (axes[2 * k + 1], "best_heldout", "best held-out loss"),
        ):
            for x, method in enumerate(("zero", "stack")):
                values = [r[f"{method}_{metric}"] for r in rows]
                colour = COLOURS["zero init" if method == "zero" else "stack"]
                ax.plot(np.full(len(values), x), values, "o", color=colour, alpha=0.7)
                ax.plot([x - 0.2, x + 0.2], [np.median(values)] * 2, color=colour)
            ax.set_xticks([0, 1], ["zero", "stack"])
            ax.set_xlim(-0.5, 1.5)
            ax.set_title(f"{name}", fontsize=8)
            ax.set_ylabel(label)
    return fig
