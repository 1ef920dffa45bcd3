"""Worst cases of GD and NAG on quadratics: versus steps, and steps to accuracy versus kappa."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, legend_below, new_figure


def plot_worst_case_vs_steps(curves: dict, pep_points: dict):
    """``curves[(method, kappa)] = (steps, ratios)`` as lines; ``pep_points[(method, class, kappa)]
    = (steps, ratios)`` as markers (PEPit). One panel per kappa, log-scale ratio."""
    kappas = sorted({k for _, k in curves})
    fig, axes = new_figure(len(kappas), width=3.4)
    colours = {"gd": PALETTE[1], "nag": PALETTE[0]}
    markers = {"quadratic": "o", "smooth_strongly_convex": "x"}
    for ax, kappa in zip(axes, kappas, strict=True):
        for (method, k), (steps, ratio) in sorted(curves.items()):
            if k == kappa:
                ax.semilogy(
                    steps,
                    ratio,
                    color=colours[method],
                    label=f"{method.upper()} exact (quadratics)",
                )
        for (method, cls, k), (steps, ratio) in sorted(pep_points.items()):
            if k == kappa:
                ax.semilogy(
                    steps,
                    ratio,
                    linestyle="none",
                    marker=markers[cls],
                    markersize=3.5,
                    markerfacecolor="none",
                    color=colours[method],
                    label=f"{method.upper()} PEPit, {cls.replace('_', ' ')}",
                )
        ax.set_title(f"kappa = {kappa}")
        ax.set_xlabel("steps N")
    axes[0].set_ylabel("worst case of (f(x_N) - f*)\n/ (f(x_0) - f* + mu/2 |x_0 - x*|^2)")
    legend_below(fig, axes, ncols=3)
    return fig


def plot_steps_vs_kappa(kappas, steps: dict, slopes: dict):
    """Log-log steps to accuracy versus kappa, ``steps[label] = list``, with fitted slopes."""
    fig, (ax,) = new_figure()
    for i, (colour, (label, values)) in enumerate(zip(PALETTE, steps.items(), strict=False)):
        ax.loglog(  # open markers of falling size: a series under another still shows
            kappas,
            values,
            marker="osD^v"[i % 5],
            markersize=9 - 1.5 * (i % 4),
            markerfacecolor="none",
            linestyle=("-", "--", ":", "-.")[i % 4],
            color=colour,
            label=f"{label} (slope {slopes[label]:.2f})",
        )
    ref = np.asarray(kappas, dtype=float)
    ax.loglog(ref, 10 * np.sqrt(ref), color="grey", linestyle=":", label="sqrt(kappa) reference")
    ax.set_xlabel("condition number kappa")
    ax.set_ylabel("steps (stages) to 1e-6 relative accuracy")
    ax.legend()
    return fig
