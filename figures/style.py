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

from sims.engine import atomic_write

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


def new_figure(ncols: int = 1, width: float = 4.2, height: float = 3.4):
    """A figure with ``ncols`` side-by-side axes in the house style."""
    with styled():
        fig = Figure(figsize=(width * ncols, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)
    return fig, list(axes[0])


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
