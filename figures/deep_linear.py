"""Deep linear residual networks: loss versus stage (analogues of the paper's Figures 4 and 5)."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, new_figure

STYLES = {  # label -> (colour, line style)
    "zero init": (PALETTE[1], "-"),
    "random init": ("#999999", "-"),
    "stack (beta*)": (PALETTE[0], "-"),
    "copy (beta = 1)": (PALETTE[3], "-"),
    "stack, functional": (PALETTE[2], "-"),
    "stack, euclidean": (PALETTE[0], "-"),
    "trainable beta": (PALETTE[5], "--"),
    "NAG on P": (PALETTE[7], ":"),
    "GD on P": (PALETTE[7], "-."),
}


def _band(ax, curves, label):
    """Median and inter-quartile band over seeds of loss curves of possibly unequal lengths."""
    n = max(len(c) for c in curves)
    padded = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        padded[i, : len(c)] = c
    colour, style = STYLES[label]
    stages = np.arange(n)
    with np.errstate(all="ignore"):
        ax.semilogy(
            stages,
            np.nanmedian(padded, axis=0),
            color=colour,
            linestyle=style,
            label=label,
            linewidth=1.2,
        )
        ax.fill_between(
            stages,
            np.nanpercentile(padded, 25, axis=0),
            np.nanpercentile(padded, 75, axis=0),
            color=colour,
            alpha=0.2,
            linewidth=0,
        )


def plot_loss_panels(panels: dict, floor: float = 1e-16):
    """``panels[title] = {label: [relative loss curve per seed]}``: one log-scale panel each."""
    fig, axes = new_figure(len(panels), width=3.6, height=3.2)
    for ax, (title, curves) in zip(axes, panels.items(), strict=True):
        for label, per_seed in curves.items():
            _band(ax, [np.maximum(c, floor) for c in per_seed], label)
        ax.set_title(title)
        ax.set_xlabel("stage t (layers added)")
        ax.set_ylabel("(R(P_t) - R*) / (R(P_0) - R*)")
        ax.set_ylim(floor, 1e3)
    axes[-1].legend(loc="lower left")
    return fig
