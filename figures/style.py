"""House style for every figure: colour-blind-safe palette, labelled axes, atomic PNG + PDF output."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# Okabe & Ito (2008) colour-blind-safe palette
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def new_figure(ncols: int = 1, width: float = 4.2, height: float = 3.4):
    """A figure with ``ncols`` side-by-side axes in the house style."""
    plt.rcParams.update(
        {
            "axes.prop_cycle": plt.cycler(color=PALETTE),
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.fontsize": 7,
        }
    )
    fig, axes = plt.subplots(
        1, ncols, figsize=(width * ncols, height), squeeze=False, layout="constrained"
    )
    return fig, list(axes[0])


def save(fig, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` atomically (temp file, then rename) and close ``fig``."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("png", "pdf"):
        final = stem.with_suffix(f".{ext}")
        tmp = final.with_name(f".{final.name}.tmp")
        fig.savefig(tmp, format=ext, dpi=150)
        os.replace(tmp, final)
        written.append(final)
    plt.close(fig)
    return written
