"""Nesterov's method with errors: cost of errors versus their size, potentials along runs, and
the robust-Nesterov bound along stacking's own path."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, legend_below, new_figure


def plot_steps_vs_eps(eps_grid, panels: dict):
    """``panels[kappa] = {"curves": {label: steps}, "gd": n, "nag": n, "pep": (eps, steps)}``."""
    fig, axes = new_figure(len(panels), width=3.6)
    for ax, (kappa, data) in zip(axes, panels.items(), strict=True):
        for i, (colour, (label, steps)) in enumerate(
            zip(PALETTE, data["curves"].items(), strict=False)
        ):
            finite = np.isfinite(steps)
            ax.loglog(
                np.asarray(eps_grid)[finite],
                np.asarray(steps)[finite],
                marker="o",
                markersize=3,
                color=colour,
                label=label,
            )
            ax.plot(  # runs that never reached the target: above the frame, a row per curve
                np.asarray(eps_grid)[~finite],
                np.full((~finite).sum(), 1.03 + 0.06 * i),
                "^",
                color=colour,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                label="triangles above the frame (a row per curve): 1e-6 not reached within GD's steps"
                if (~finite).any()
                else None,
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
        ax.set_title(f"kappa = {kappa}", pad=6 + 9 * len(data["curves"]))  # above the triangles
        ax.set_xlabel("relative error size eps")
    axes[0].set_ylabel("steps to 1e-6 (adversarial errors)")
    legend_below(fig, axes, ncols=3)
    return fig


ROUND_OFF = 1e-12  # potentials below this fraction of Phi_0 are round-off


def plot_potentials(runs: dict):
    """``runs[label] = (potentials, bounds)`` with ``bounds[k]`` the derived bound on
    ``Phi_{k+1}``: left, ``Phi_k / Phi_0`` along each run; right, ``Phi_{k+1} / bound_k``, which
    the bound requires to stay at or below 1 (the gap below 1 is its slack)."""
    fig, (left, right) = new_figure(2, width=4.0)
    for colour, (label, (phi, bounds)) in zip(PALETTE, runs.items(), strict=False):
        left.semilogy(phi / phi[0], color=colour, label=label)
        k = min(len(bounds), len(phi) - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = phi[1 : k + 1] / bounds[:k]
        ratio[phi[1 : k + 1] < ROUND_OFF * phi[0]] = np.nan  # round-off, not the bound
        right.plot(np.arange(k), ratio, color=colour, linewidth=1.0, label=label)
    left.set_xlabel("step k")
    left.set_ylabel("potential Phi_k / Phi_0")
    right.axhline(1.0, color="black", linestyle="--", linewidth=1, label="bound (ratio 1)")
    right.set_xlabel("step k")
    right.set_ylabel("Phi_k+1 / its bound (<= 1 required)")
    right.set_title(f"while Phi_k+1 > {ROUND_OFF:g} Phi_0 (below: round-off)", fontsize=7)
    legend_below(fig, [left, right], ncols=2)
    return fig


def plot_path_bounds(curves: dict, tau: float):
    """``curves[(layer_grad, sigma)] = (implied, measured)`` per-stage contraction factors along
    stacking's path (one seed): ``bound_t / Phi_t`` (dashed) and ``Phi_{t+1} / Phi_t`` (solid),
    against Nesterov's ``1 - tau``. The axes show 0.6 to 1.2; a curve that leaves them says so in
    its legend entry."""
    low, high = 0.6, 1.2
    fig, axes = new_figure(2, width=3.6, height=3.4)
    sigmas = sorted({s for _, s in curves})
    colours = dict(zip(sigmas, PALETTE, strict=False))
    for ax, layer_grad in zip(axes, ("euclidean", "functional"), strict=True):
        for sigma in sigmas:
            implied, measured = curves[(layer_grad, sigma)]
            stages = np.arange(1, len(measured) + 1)
            values = np.array([*measured, *implied], dtype=float)
            below, above = values[values < low], values[values > high]
            outside = ([f"down to {below.min():.3g}"] if below.size else []) + (
                [f"up to {above.max():.3g}"] if above.size else [])  # fmt: skip
            note = f" (leaves the axes: {', '.join(outside)})" if outside else ""
            ax.plot(stages, measured, "-", color=colours[sigma], label=f"sigma = {sigma}{note}")
            ax.plot(stages, implied, "--", color=colours[sigma], linewidth=0.8)
        ax.axhline(1 - tau, color="black", linestyle=":", label="1 - 1/sqrt(kappa)")
        ax.plot([], [], "-", color="grey", label="measured Phi_t+1 / Phi_t")
        ax.plot([], [], "--", color="grey", linewidth=0.8, label="bound_t / Phi_t")
        ax.set_ylim(low, high)
        ax.set_xlabel("stage t")
        ax.set_ylabel("per-stage contraction of the potential")
        ax.set_title(layer_grad, fontsize=8)
        ax.legend(fontsize=5.5)
    return fig
