"""Deep linear residual networks: loss versus stage (analogues of the paper's Figures 4 and 5)."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, legend_below, panel_grid

STYLES = {  # label -> (colour, line style, line width)
    "zero init": (PALETTE[1], "-", 2.4),  # wide, under GD's thin line (they are equal)
    "random init": ("#999999", "-", 1.2),
    "stack (beta*)": (PALETTE[0], "-", 1.2),  # with markers: it runs inside the functional band
    "copy (beta = 1)": (PALETTE[3], "-", 1.2),
    "stack, functional": (PALETTE[2], "-", 2.4),  # wide, under the thin dotted NAG line
    "stack, euclidean": (PALETTE[0], "-", 1.2),
    "trainable beta": (PALETTE[5], "--", 1.2),
    "NAG on P": (PALETTE[7], (0, (1, 2)), 1.0),
    "GD on P": (PALETTE[7], "-.", 1.0),
}
MARKED = {  # curves that others cover: markers on top of them
    "stack (beta*)": {"marker": "o", "markersize": 3.5, "markerfacecolor": "white"},
    "stack, euclidean": {"marker": "o", "markersize": 3.5, "markerfacecolor": "white"},
}
STOPPED = "x: a run diverged (stopped) here"


def _band(ax, curves, label):
    """Median and inter-quartile band over seeds of loss curves of possibly unequal lengths; a
    run that stopped early (it diverged) is marked by an x where it stopped."""
    n = max(len(c) for c in curves)
    padded = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        padded[i, : len(c)] = c
    colour, style, width = STYLES[label]
    reference = label.endswith("on P")
    stages = np.arange(n)
    with np.errstate(all="ignore"):
        ax.semilogy(
            stages,
            np.nanmedian(padded, axis=0),
            color=colour,
            linestyle=style,
            label=label,
            linewidth=width,
            zorder=3 if reference or label in MARKED else 2,
            **MARKED.get(label, {}),
            markevery=max(1, n // 10),
        )
        ax.fill_between(
            stages,
            np.nanpercentile(padded, 25, axis=0),
            np.nanpercentile(padded, 75, axis=0),
            color=colour,
            alpha=0.2,
            linewidth=0,
        )
    top = ax.get_ylim()[1] if ax.get_autoscaley_on() is False else np.inf
    for c in curves:
        if len(c) < n:  # drawn at the top edge when the last loss is above the axes
            ax.semilogy(len(c) - 1, min(c[-1], top), "x", color=colour, markersize=6, zorder=4,
                        clip_on=False)  # fmt: skip
    return any(len(c) < n for c in curves)


def plot_loss_panels(panels: dict, floor: float = 1e-16):
    """``panels[title] = {label: [relative loss curve per seed]}``: one log-scale panel each, in
    rows of three, one legend under them."""
    fig, axes = panel_grid(len(panels), width=3.6, height=3.0)
    stopped = False
    for ax, (title, curves) in zip(axes, panels.items(), strict=True):
        ax.set_ylim(floor, 1e3)
        for label, per_seed in curves.items():
            stopped |= _band(ax, [np.maximum(c, floor) for c in per_seed], label)
        ax.set_title(title)
        ax.set_xlabel("stage t (layers added)")
        ax.set_ylim(floor, 1e3)
    for ax in axes[:: min(3, len(axes))]:
        ax.set_ylabel("(R(P_t) - R*) / (R(P_0) - R*)\nmedian; band: quartiles over seeds")
    if stopped:
        axes[0].plot([], [], "x", color="black", label=STOPPED)
    legend_below(fig, axes)
    return fig
