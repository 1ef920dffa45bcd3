"""Transformer figures: loss against steps with stage boundaries (the stacking paper's Figure 2
at our scale) and reasoning isoplots (accuracy against pretraining loss)."""

from __future__ import annotations

from figures.style import PALETTE, new_figure


def plot_stages(curves: dict, boundaries) -> object:
    """``curves[init] = (steps, losses)``; dotted lines at the ``boundaries`` (growth steps)."""
    fig, (ax,) = new_figure(1, width=5.2)
    for colour, (name, (steps, loss)) in zip(PALETTE, curves.items(), strict=False):
        ax.plot(steps, loss, color=colour, label=name)
    for b in boundaries:
        ax.axvline(b, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("MLM eval loss")
    ax.legend(title="new block")
    return fig


def plot_isoplots(runs: dict, primitives) -> object:
    """``runs[model]``: per seed ``(points, final_loss, tuned)`` with ``points`` the checkpoints'
    (loss, {primitive: accuracy}) and ``tuned`` {primitive: accuracy after fine-tuning}; one
    panel per primitive."""
    fig, axes = new_figure(len(primitives), width=3.2)
    for ax, primitive in zip(axes, primitives, strict=True):
        for colour, (name, seeds) in zip(PALETTE, runs.items(), strict=False):
            for i, (points, final, tuned) in enumerate(seeds):
                loss = [p[0] for p in points]
                acc = [p[1][primitive] for p in points]
                ax.plot(loss, acc, color=colour, alpha=0.6, label=name if i == 0 else None)
                ax.plot([final], [tuned[primitive]], "x", color=colour)
        ax.invert_xaxis()
        ax.set_title(primitive)
        ax.set_xlabel("pretraining loss")
        ax.set_ylabel("exact-match accuracy")
        ax.set_ylim(-0.02, 1.02)
    axes[0].legend()
    return fig
