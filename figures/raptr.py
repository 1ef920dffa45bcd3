"""RaPTr: the polynomial toy task (eval loss against FLOPs, component errors over training) and
the stability of linear residual networks (drop-one-layer gap against depth)."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, new_figure


def plot_toy(curves: dict, degrees: dict, boundaries) -> object:
    """``curves[method] = (flops, eval losses)`` (medians over seeds); ``degrees[k] = (steps,
    e_k)`` for RaPTr; ``boundaries``: RaPTr's stage starts (steps)."""
    groups = [list(degrees)[i : i + 5] for i in range(0, len(degrees), 5)]  # <= 5 lines a panel
    fig, (left, *right) = new_figure(1 + len(groups))
    for colour, (name, (x, loss)) in zip(PALETTE, curves.items(), strict=False):
        left.semilogy(x, loss, color=colour, label=name)
    left.set_xlabel("training FLOPs (full-model steps)")
    left.set_ylabel("eval mean squared error (median over seeds)")
    left.legend()
    for ax, group in zip(right, groups, strict=True):
        for colour, k in zip(PALETTE, group, strict=False):
            steps, err = degrees[k]
            ax.semilogy(steps, np.maximum(err, 1e-6), color=colour, label=f"k = {k}")
        for b in boundaries[1:]:
            ax.axvline(b, color="grey", linestyle=":")
        ax.set_title(f"RaPTr, degrees {group[0]}..{group[-1]}")
        ax.set_xlabel("training step (dotted: stage boundaries)")
        ax.set_ylabel("component error e_k\n(median over seeds, floored at 1e-6)")
        ax.legend()
    return fig


def plot_stability(depths, gaps: dict) -> object:
    """``gaps[variant]``: mean drop-one-layer gap per depth."""
    fig, (ax,) = new_figure(1)
    for colour, (name, values) in zip(PALETTE, gaps.items(), strict=False):
        ax.loglog(depths, values, marker="o", markersize=3, color=colour, label=name)
    ref = np.asarray(depths, dtype=float)
    ax.loglog(ref, gaps["tau=0"][0] * np.sqrt(ref[0] / ref), "k:", label="L^-1/2")
    ax.set_xlabel("depth L")
    ax.set_ylabel("mean |F - F_-l| / |F|")
    ax.legend()
    return fig
