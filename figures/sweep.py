"""A figure from a sweep's summary table (``sims.sweep.summary``): a metric's median against one
parameter, one line per setting of the others, with its inter-quartile band. Where the median is
infinite (a target that half of the seeds or more never reached) the line stops and a triangle at
the top of the axes marks the setting. Where the summary holds Nesterov's stages on the same
problems (``nag_<metric>``), they are drawn as black dotted reference lines."""

from __future__ import annotations

import numpy as np

from figures.style import PALETTE, new_figure


def plot_summary(table, x: str, metric: str, groups: list[str]):
    """``table``: rows of ``sims.sweep.summary``; ``x`` a numeric ``param_`` column; ``metric`` a
    metric whose ``_q1``, ``_median`` and ``_q3`` columns the table holds."""
    fig, (ax,) = new_figure(width=5.4, height=3.8)
    keyed = table.groupby(groups, dropna=False) if groups else [("all", table)]
    unreached_any = False
    for i, (key, part) in enumerate(keyed):
        colour, dashes = PALETTE[i % len(PALETTE)], ((0, ()), (0, (4, 2)))[i // len(PALETTE) % 2]
        part = part.sort_values(x)
        xs = part[x].to_numpy(dtype=float)
        median, q1, q3 = (
            part[f"{metric}_{q}"].to_numpy(dtype=float) for q in ("median", "q1", "q3")
        )
        label = ", ".join(
            f"{g.removeprefix('param_')}={v}"
            for g, v in zip(groups, key if isinstance(key, tuple) else (key,), strict=False)
        )
        finite = np.isfinite(median)
        ax.plot(xs[finite], median[finite], marker="o", color=colour, linestyle=dashes,
                label=label or metric)  # fmt: skip
        band = np.isfinite(q1) & np.isfinite(q3)
        ax.fill_between(xs[band], q1[band], q3[band], color=colour, alpha=0.15, linewidth=0)
        if not finite.all():
            unreached_any = True
            ax.plot(xs[~finite], np.ones((~finite).sum()), marker="^", linestyle="none",
                    color=colour, transform=ax.get_xaxis_transform(), clip_on=False)  # fmt: skip
    reference = f"nag_{metric}_median"
    if reference in table.columns:
        _plot_reference(ax, table, x, reference, [g for g in groups if g != "param_init"])
    if np.all(table[x].astype(float) > 0):
        ax.set_xscale("log")
    values = table[f"{metric}_median"].to_numpy(dtype=float)
    if np.all(values[np.isfinite(values)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel(x.removeprefix("param_"))
    ax.set_ylabel(f"{metric}\n(median; band: quartiles over seeds)")
    if unreached_any:
        ax.set_title("triangle at the top: target not reached by half of the seeds", fontsize=7)
    ax.legend(loc="best", fontsize=6)
    return fig


def _plot_reference(ax, table, x: str, column: str, groups: list[str]) -> None:
    """Nesterov's method on the same problems (the sweep's ``nag_`` metric), black dotted: one
    line per setting of the problem's parameters (the initialisation does not change NAG)."""
    keyed = table.groupby(groups, dropna=False) if groups else [((), table)]
    for i, (key, part) in enumerate(keyed):
        curve = part.groupby(x)[column].median()
        finite = np.isfinite(curve.to_numpy(dtype=float))
        setting = ", ".join(
            f"{g.removeprefix('param_')}={v}"
            for g, v in zip(groups, key if isinstance(key, tuple) else (key,), strict=False)
        )
        ax.plot(curve.index.to_numpy(dtype=float)[finite], curve.to_numpy(dtype=float)[finite],
                color="black", linestyle=(0, (1, 1 + i)), linewidth=1.2,
                label=f"NAG (reference){', ' + setting if setting else ''}")  # fmt: skip
