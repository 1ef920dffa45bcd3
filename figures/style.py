"""House style for every figure: colour-blind-safe palette, labelled axes, atomic PNG + PDF output.

Figures are ``matplotlib.figure.Figure`` objects, made without pyplot: no global figure registry,
no backend switch and no change to matplotlib's global settings on import. The font sizes of the
house style apply inside ``styled()``, around drawing and saving.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import matplotlib
from cycler import cycler
from matplotlib.figure import Figure

from infra.engine import atomic_write

# Okabe & Ito (2008) colour-blind-safe palette
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
STYLE = {
    "axes.prop_cycle": cycler(color=PALETTE),
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7,
}


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """The house style for the figures drawn and saved inside (matplotlib's settings are restored
    on exit)."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(ncols: int = 1, width: float = 4.2, height: float = 3.4, nrows: int = 1):
    """A figure with ``nrows`` x ``ncols`` axes of ``width`` x ``height`` inches each in the
    house style; the axes in reading order."""
    with styled():
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.ravel())


def panel_grid(n: int, width: float, height: float, max_columns: int = 3):
    """``n`` panels in rows of at most ``max_columns``; spare axes of the last row are hidden."""
    ncols = min(n, max_columns)
    fig, axes = new_figure(ncols, width, height, nrows=-(-n // ncols))
    for spare in axes[n:]:
        spare.set_visible(False)
    return fig, axes[:n]


def legend_below(fig: Figure, axes, ncols: int = 4) -> None:
    """One legend for all panels, under them (never over the data): every labelled artist,
    each label once."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    fig.legend(
        entries.values(), entries.keys(), loc="outside lower center", ncols=min(ncols, len(entries))
    )


def save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf``, each atomically (temp file, then rename)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("png", "pdf"):
        written.append(
            atomic_write(
                stem.with_suffix(f".{ext}"), lambda tmp, e=ext: fig.savefig(tmp, format=e, dpi=150)
            )
        )
    return written
