"""Nesterov's method with errors: cost of errors versus their size, potentials along runs, and
stacking's own error sizes against the critical level."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, legend_below, new_figure


def plot_steps_vs_eps(eps_grid, panels: dict):
    """``panels[kappa] = {"curves": {label: steps}, "gd": n, "nag": n, "pep": (eps, steps)}``."""
    fig, axes = new_figure(len(panels), width=3.6)
    for ax, (kappa, data) in zip(axes, panels.items(), strict=True):
        for colour, (label, steps) in zip(PALETTE, data["curves"].items(), strict=False):
            finite = np.isfinite(steps)
            ax.loglog(
                np.asarray(eps_grid)[finite],
                np.asarray(steps)[finite],
                marker="o",
                markersize=3,
                color=colour,
                label=label,
            )
            ax.plot(  # the runs that never reached the target, at the top edge
                np.asarray(eps_grid)[~finite],
                np.ones((~finite).sum()),
                "^",
                color=colour,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                label="^: 1e-6 not reached within GD's steps" if (~finite).any() else None,
            )
        ax.axhline(data["gd"], color="grey", linestyle="-.", label="GD, exact")
        ax.axhline(data["nag"], color="black", linestyle=":", label="NAG, exact")
        if data.get("pep"):
            eps, steps = data["pep"]
            ax.loglog(
                eps,
                steps,
                "x",
                color=PALETTE[3],
                label="PEPit worst case, gradient errors (rate from N = 10..20)",
            )
        ax.set_title(f"kappa = {kappa}")
        ax.set_xlabel("relative error size eps")
    axes[0].set_ylabel("steps to 1e-6 (adversarial errors)")
    legend_below(fig, axes, ncols=3)
    return fig


def plot_potentials(runs: dict):
    """``runs[label] = (potentials, bounds)``: Phi_k along each run, the bound as dots."""
    fig, (ax,) = new_figure(width=4.6)
    for colour, (label, (phi, bounds)) in zip(PALETTE, runs.items(), strict=False):
        ax.semilogy(phi / phi[0], color=colour, label=label)
        ax.semilogy(np.arange(1, len(bounds) + 1), bounds / phi[0], ".", color=colour, markersize=2)
    ax.set_xlabel("step k")
    ax.set_ylabel("potential Phi_k / Phi_0 (dots: derived bound)")
    ax.legend()
    return fig


def plot_stacking_errors(curves: dict, critical: float):
    """``curves[(layer_grad, sigma)] = median relative error per stage``, against eps*."""
    fig, (ax,) = new_figure(width=5.0, height=3.6)
    sigmas = sorted({s for _, s in curves})
    colours = dict(zip(sigmas, PALETTE, strict=False))
    for (layer_grad, sigma), err in sorted(curves.items()):
        style = "-" if layer_grad == "euclidean" else "--"
        stages = np.arange(1, len(err))  # stage 1 is an exact GD step (W_0 = 0): no error
        ax.semilogy(
            stages,
            np.maximum(err[1:], 1e-16),
            style,
            color=colours[sigma],
            label=f"{layer_grad}, sigma = {sigma}",
        )
    ax.axhline(critical, color="black", linestyle=":", label=f"critical eps* = {critical:.2g}")
    ax.set_ylim(1e-5, 10)
    ax.set_xlabel("stage t")
    ax.set_ylabel("(|E1| + |E2|) / |P_t+1 - P_t| (median over seeds)")
    ax.legend(fontsize=5.5, ncol=2)
    return fig
