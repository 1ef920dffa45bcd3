"""Growth operators: loss against FLOPs per family, block-similarity heat maps, and LAG's rank
correlation against the lag after growth."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, new_figure


def plot_speed(curves: dict) -> object:
    """``curves[family][method] = (flops, losses)`` (one seed)."""
    fig, axes = new_figure(len(curves))
    for ax, (family, methods) in zip(axes, curves.items(), strict=True):
        for colour, (name, (x, loss)) in zip(PALETTE, methods.items(), strict=False):
            ax.semilogy(x, loss, color=colour, label=name)
        ax.set_title(family)
        ax.set_xlabel("training FLOPs (full-depth steps)")
        ax.set_ylabel("loss (excess risk / eval MSE)")
        ax.legend()
    return fig


def plot_similarity(matrices: dict) -> object:
    """``matrices[method]``: block-by-block cosine similarity of the weights."""
    fig, axes = new_figure(len(matrices))
    for ax, (name, m) in zip(axes, matrices.items(), strict=True):
        image = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.grid(False)
        ax.set_xticks(range(len(m)))
        ax.set_yticks(range(len(m)))
        ax.set_title(name)
        ax.set_xlabel("block")
        ax.set_ylabel("block")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="cosine similarity")
    return fig


def plot_lag(lags, rho, ceiling, regret) -> object:
    """``rho``: Spearman correlation per checkpoint (rows) and lag; ``ceiling``: the mean
    correlation between reruns' final losses; ``regret``: mean normalised selection regret."""
    fig, (left, right) = new_figure(2)
    rho = np.asarray(rho)
    for row in rho:
        left.plot(lags, row, color="grey", alpha=0.4, linewidth=0.8)
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
