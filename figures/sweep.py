"""A figure from a sweep's results directory: a metric against one parameter, one line per
setting of the others, median and inter-quartile range over seeds."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, new_figure


def plot_metric(frame, x: str, y: str, groups: list[str]):
    """``frame``: one row per cell (``sims.sweep.load_results``); log-log if all values > 0."""
    fig, (ax,) = new_figure(width=5.0, height=3.6)
    keyed = frame.groupby(groups, dropna=False) if groups else [("all", frame)]
    for colour, (key, part) in zip(PALETTE * 4, keyed, strict=False):
        stats = part.groupby(x)[y].quantile([0.25, 0.5, 0.75]).unstack()
        xs = stats.index.to_numpy(dtype=float)
        label = ", ".join(
            f"{g.removeprefix('param_')}={v}"
            for g, v in zip(groups, key if isinstance(key, tuple) else (key,), strict=False)
        )
        ax.plot(xs, stats[0.5], marker="o", color=colour, label=label or y)
        ax.fill_between(xs, stats[0.25], stats[0.75], color=colour, alpha=0.2, linewidth=0)
    values = frame[y].to_numpy(dtype=float)
    if np.all(frame[x].astype(float) > 0):
        ax.set_xscale("log")
    if np.all(values[np.isfinite(values)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel(x.removeprefix("param_"))
    ax.set_ylabel(f"{y} (median, IQR over seeds)")
    ax.legend()
    return fig
