"""Transformer figures: loss against steps with stage boundaries (the stacking paper's Figure 2
at our scale) and reasoning isoplots (accuracy against pretraining loss)."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, legend_below, new_figure

LINES = ("-", "--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)))  # told apart where they overlap
MARKERS = ("o", "s", "^", "v", "D")


def plot_stages(curves: dict, boundaries, ylabel: str, references=None, log: bool = False):
    """``curves[init] = (steps, losses)``; dotted lines at the ``boundaries`` (growth steps);
    ``references[name] = (steps, losses)`` in grey shades (models trained from scratch). Each
    curve has its own line style and marker, so curves that coincide stay visible."""
    fig, (ax,) = new_figure(1, width=5.6)
    for i, (colour, (name, (steps, loss))) in enumerate(zip(PALETTE, curves.items(), strict=False)):
        ax.plot(steps, loss, color=colour, linestyle=LINES[i % len(LINES)],
                marker=MARKERS[i % len(MARKERS)], markersize=3, markevery=(i, len(MARKERS)),
                label=name)  # fmt: skip
    for k, (name, (steps, loss)) in enumerate((references or {}).items()):
        shade = str(0.25 + 0.25 * k)
        ax.plot(steps, loss, color=shade, linestyle=LINES[k % len(LINES)], linewidth=1.2,
                label=f"{name}, from scratch")  # fmt: skip
    for b in boundaries:
        ax.axvline(b, color="grey", linestyle=":", linewidth=1)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    legend_below(fig, [ax], ncols=3)
    return fig


def plot_first_stage(firsts, finals: dict):
    """``finals[init]``: (seeds, len(firsts)) final losses after a 1 -> 2 growth that came after
    ``firsts[j]`` first-stage steps; x on a symmetric log scale (0: growth at initialisation)."""
    fig, (ax,) = new_figure(1, width=4.8)
    for k, (colour, (name, values)) in enumerate(zip(PALETTE, finals.items(), strict=False)):
        for row in values:
            ax.plot(firsts, row, color=colour, alpha=0.25, linewidth=0.7)
        ax.plot(firsts, np.median(values, axis=0), color=colour, linestyle=LINES[k],
                marker=MARKERS[k], linewidth=1.8, label=f"{name} (median)")  # fmt: skip
    ax.set_xscale("symlog", linthresh=max(min(f for f in firsts if f > 0), 1))
    ax.set_yscale("log")
    ax.set_xlabel("first-stage steps before the 1 -> 2 growth")
    ax.set_ylabel("final eval loss (nats)")
    ax.legend(title="new block")
    return fig


def plot_isoplots(runs: dict, primitives) -> object:
    """``runs[model]``: per seed ``(points, final_loss, tuned)`` with ``points`` the checkpoints'
    (loss, {primitive: accuracy}) and ``tuned`` {primitive: accuracy after fine-tuning}; one
    panel per primitive: each seed faint, the median over seeds (checkpoint by checkpoint) bold,
    fine-tuned accuracies as crosses; the y axis ends just above the highest accuracy."""
    fig, axes = new_figure(len(primitives), width=3.2)
    top = 0.0
    for ax, primitive in zip(axes, primitives, strict=True):
        for k, (colour, (name, seeds)) in enumerate(zip(PALETTE, runs.items(), strict=False)):
            per_seed = [
                (np.array([p[0] for p in points]), np.array([p[1][primitive] for p in points]))
                for points, _, _ in seeds
            ]
            for loss, acc in per_seed:  # each seed thin and faint
                ax.plot(loss, acc, color=colour, alpha=0.2, linewidth=0.6)
            length = min(len(loss) for loss, _ in per_seed)  # checkpoints every seed has
            median_loss = np.median([loss[:length] for loss, _ in per_seed], axis=0)
            median_acc = np.median([acc[:length] for _, acc in per_seed], axis=0)
            ax.plot(median_loss, median_acc, color=colour, linestyle=LINES[k % len(LINES)],
                    linewidth=1.8, label=f"{name} (median over seeds)")  # fmt: skip
            finals = [final for _, final, _ in seeds]
            tuned = [t[primitive] for _, _, t in seeds]
            ax.plot(finals, tuned, "x", color=colour, markersize=5,
                    label=f"{name}, after fine-tuning")  # fmt: skip
            top = max(top, *median_acc, *tuned, *(a.max() for _, a in per_seed))
        ax.invert_xaxis()
        ax.set_title(primitive)
        ax.set_xlabel("pretraining loss (right: lower)")
        ax.set_ylabel("exact-match accuracy")
    axes[0].plot([], [], color="grey", alpha=0.4, linewidth=0.6, label="faint: one seed each")
    for ax in axes:
        ax.set_ylim(-0.01, min(1.02, top * 1.1 + 0.02))
    legend_below(fig, axes, ncols=2)
    return fig
