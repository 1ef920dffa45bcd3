"""The acceleration region of deep linear stacking (phase diagram with frontiers) and the
theory-to-practice comparison of stacking variants."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm

from figures.style import PALETTE, legend_below, panel_grid

RATIO_CAP = 4.0  # colour of "never within 4x NAG's stages"


def plot_region(kappas, sigmas, panels: dict):
    """``panels[d] = {"ratio": (len(sigmas), len(kappas)) median stage ratio to NAG (inf: not
    within the budget), "frontiers": {label: (medians per kappa, exponent, prefactor)}}``: colour =
    ratio (capped at RATIO_CAP), frontier medians as markers, fitted ``c kappa^a`` as lines."""
    fig, axes = panel_grid(len(panels), width=3.4, height=3.1, max_columns=4)
    k_edges = _edges(kappas)
    s_edges = _edges(sigmas)
    mesh = None
    for ax, (d, data) in zip(axes, panels.items(), strict=True):
        ratio = np.minimum(np.asarray(data["ratio"], dtype=float), RATIO_CAP)
        mesh = ax.pcolormesh(k_edges, s_edges, ratio, cmap="viridis",
                             norm=LogNorm(1.0, RATIO_CAP), shading="flat")  # fmt: skip
        fine = np.geomspace(kappas[0], kappas[-1], 50)
        for colour, (label, (medians, exponent, prefactor)) in zip(
            ("#56B4E9", "#E69F00"), data["frontiers"].items(), strict=False
        ):
            ax.plot(kappas, medians, "o", color=colour, markeredgecolor="black", markersize=4,
                    label=f"{label} (median over seeds)")  # fmt: skip
            ax.plot(fine, prefactor * fine**exponent, "-", color=colour, linewidth=1.2,
                    label=f"{label} fit: c kappa^a")  # fmt: skip
            ax.text(0.03, 0.04 if colour == "#56B4E9" else 0.12, f"{label}: a = {exponent:.2f}",
                    transform=ax.transAxes, color=colour, fontsize=6.5)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("kappa")
        ax.set_ylabel("sigma (distance of W* from I)")
        ax.set_title(f"d = {d}", fontsize=8)
        ax.grid(False)
    cbar = fig.colorbar(mesh, ax=axes, shrink=0.85)
    cbar.set_label(f"stages / NAG's (median, capped at {RATIO_CAP:g})")
    legend_below(fig, axes, ncols=2)
    return fig


def _edges(values) -> np.ndarray:
    """Cell edges around log-spaced centres."""
    logs = np.log(np.asarray(values, dtype=float))
    mids = (logs[1:] + logs[:-1]) / 2
    first, last = 2 * logs[0] - mids[0], 2 * logs[-1] - mids[-1]
    return np.exp(np.concatenate([[first], mids, [last]]))


def plot_practice(rows: list[dict]):
    """One bar per variant: median stages (and gradient steps) to the distance target over NAG's
    stages, on a log axis; a variant that never got there (diverged or over budget) is marked."""
    fig, axes = panel_grid(1, width=7.2, height=0.32 * len(rows) + 1.2)
    ax = axes[0]
    y = np.arange(len(rows))[::-1]
    stages = np.array([r["stages / NAG (median)"] for r in rows], dtype=float)
    steps = np.array([r["gradient steps / NAG (median)"] for r in rows], dtype=float)
    top = np.nanmax(np.where(np.isfinite(steps), steps, np.nan)) * 3
    for offset, values, colour, label in (
        (0.18, stages, PALETTE[0], "stages / NAG's stages"),
        (-0.18, steps, PALETTE[1], "gradient steps / NAG's stages"),
    ):
        finite = np.isfinite(values)
        ax.barh(y[finite] + offset, values[finite], height=0.34, color=colour, label=label)
        ax.plot(np.full((~finite).sum(), top), y[~finite] + offset, ">", color=colour)
    ax.axvline(1.0, color="black", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, [r["variant"] for r in rows], fontsize=6.5)
    ax.set_xlabel("median over seeds (>: never reached within the budget, or diverged)")
    legend_below(fig, [ax], ncols=2)
    return fig
