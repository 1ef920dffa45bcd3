"""Growth operators: loss against FLOPs per family, block-similarity heat maps, and LAG's rank
correlation against the lag after growth."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm

from figures.style import PALETTE, new_figure

LINES = ("-", "--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)))  # told apart where they overlap


def plot_speed(curves: dict, ylabels: dict) -> object:
    """``curves[family][method] = (flops, losses)`` (one seed); ``ylabels[family]`` names the
    loss. Each method has its own line style, so methods whose curves coincide stay visible."""
    fig, axes = new_figure(len(curves))
    for ax, (family, methods) in zip(axes, curves.items(), strict=True):
        for i, (colour, (name, (x, loss))) in enumerate(
            zip(PALETTE, methods.items(), strict=False)
        ):
            ax.semilogy(x, loss, color=colour, linestyle=LINES[i % len(LINES)], label=name,
                        linewidth=1.6 if i == 0 else 1.2)  # fmt: skip
        values = np.concatenate([np.asarray(loss, dtype=float) for _, loss in methods.values()])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size and values.max() < 10 * values.min():  # under a decade: linear reads best
            ax.set_yscale("linear")
        ax.set_title(family)
        ax.set_xlabel("training FLOPs (full-depth steps)")
        ax.set_ylabel(ylabels[family])
        ax.legend()
    return fig


def plot_similarity(matrices: dict) -> object:
    """``matrices[method]``: block-by-block cosine similarity of the weights, drawn as the
    dissimilarity ``1 - cos`` on a log colour scale spanning each panel's off-diagonal values
    (bright: alike; the diagonal, 0 by definition, is left white), each cell's value written
    out: similarities of 0.999 and 0.9999, one colour on a linear scale, stay apart."""
    fig, axes = new_figure(len(matrices), width=3.6)
    for ax, (name, m) in zip(axes, matrices.items(), strict=True):
        apart = 1.0 - np.asarray(m, dtype=float)
        diagonal = np.eye(len(apart), dtype=bool)
        off = np.maximum(apart[~diagonal], 1e-12)
        scale = LogNorm(vmin=off.min(), vmax=max(off.max(), off.min() * 1.01))
        image = ax.imshow(np.where(diagonal, np.nan, np.maximum(apart, 1e-12)), norm=scale,
                          cmap="viridis_r")  # fmt: skip
        for i, j in zip(*np.nonzero(~diagonal), strict=True):
            bright = scale(max(apart[i, j], 1e-12)) < 0.4
            ax.text(j, i, f"{apart[i, j]:.0e}", ha="center", va="center", fontsize=4.5,
                    color="black" if bright else "white")  # fmt: skip
        ax.grid(False)
        ax.set_xticks(range(len(apart)))
        ax.set_yticks(range(len(apart)))
        ax.set_title(name)
        ax.set_xlabel("block")
        ax.set_ylabel("block")
        fig.colorbar(image, ax=ax, shrink=0.8, label="1 - cosine similarity (log; bright: alike)")
    return fig


def plot_lag(lags, rho, ceiling, regret) -> object:
    """``rho``: Spearman correlation per checkpoint (rows) and lag; ``ceiling``: the mean
    correlation between reruns' final losses; ``regret``: mean normalised selection regret."""
    fig, (left, right) = new_figure(2)
    rho = np.asarray(rho)
    for i, row in enumerate(rho):
        left.plot(lags, row, color="grey", alpha=0.4, linewidth=0.8,
                  label="one checkpoint (seed, stage)" if i == 0 else None)  # fmt: skip
    left.plot(lags, np.nanmean(rho, axis=0), color=PALETTE[0], marker="o", label="mean")
    left.axhline(ceiling, color="k", linestyle="--", label="ceiling (reruns)")
    left.axhline(0.9 * ceiling, color="k", linestyle=":", label="0.9 ceiling")
    left.set_xlabel("steps after growth k")
    left.set_ylabel("Spearman(loss at k, loss at stage end)")
    left.legend()
    right.plot(lags, regret, color=PALETTE[1], marker="o")
    right.set_xlabel("steps after growth k")
    right.set_ylabel("normalised selection regret")
    return fig
