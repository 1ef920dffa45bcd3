"""Nesterov's method with errors: cost of errors versus their size, potentials along runs, and
the robust-Nesterov bound along stacking's own path."""

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


def plot_path_bounds(curves: dict, tau: float):
    """``curves[(layer_grad, sigma)] = (implied, measured)`` per-stage contraction factors along
    stacking's path (one seed): ``bound_t / Phi_t`` (dashed) and ``Phi_{t+1} / Phi_t`` (solid),
    against Nesterov's ``1 - tau``."""
    fig, axes = new_figure(2, width=3.4, height=3.2)
    sigmas = sorted({s for _, s in curves})
    colours = dict(zip(sigmas, PALETTE, strict=False))
    for ax, layer_grad in zip(axes, ("euclidean", "functional"), strict=True):
        for sigma in sigmas:
            implied, measured = curves[(layer_grad, sigma)]
            stages = np.arange(1, len(measured) + 1)
            ax.plot(stages, measured, "-", color=colours[sigma], label=f"sigma = {sigma}")
            ax.plot(stages, implied, "--", color=colours[sigma], linewidth=0.8)
        ax.axhline(1 - tau, color="black", linestyle=":", label="1 - 1/sqrt(kappa)")
        ax.set_ylim(0.6, 1.2)
        ax.set_xlabel("stage t")
        ax.set_ylabel("Phi_t+1 / Phi_t (solid), bound_t / Phi_t (dashed)")
        ax.set_title(layer_grad, fontsize=8)
        ax.legend(fontsize=5.5)
    return fig
