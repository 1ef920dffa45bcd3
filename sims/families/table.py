"""The family table: every model family of ``sims/families/`` with the adapters the rest of the
house reads (``stagewise bench``'s kernels section, ``stagewise sweep``'s model families, the
growth adapters the contract tests check). Adding a family is its folder plus one entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sims.families.boosting import bench as boosting_bench
from sims.families.boosting.cell import BoostingCell
from sims.families.deep_linear import bench as deep_linear_bench
from sims.families.deep_linear.cell import DeepLinearCell
from sims.families.deep_linear.growth import DeepLinearFamily
from sims.families.residual_mlp import bench as residual_mlp_bench
from sims.families.residual_mlp.growth import ResidualMLPFamily
from sims.families.transformer import bench as transformer_bench
from sims.families.transformer.growth import TransformerFamily


@dataclass(frozen=True)
class Family:
    """A model family's entry: ``summary`` (one line), ``bench(repeats, smoke) -> rows`` (its
    kernels timed against their peers), and where it has them its sweep ``cell`` (a frozen
    dataclass of parameters with ``run(seed) -> row``) and its ``growth`` adapter (``fresh``,
    ``train``, ``map_state``, ``params``, ``zero_keys``: what ``sims.growth.train_grown`` calls)."""

    summary: str
    bench: Callable[[int, bool], list[dict]]
    cell: type | None = None
    growth: type | None = None


FAMILIES = {
    "deep_linear": Family(
        "deep linear residual networks trained stagewise, one layer per stage (docs/theory.md §3)",
        deep_linear_bench.bench,
        cell=DeepLinearCell,
        growth=DeepLinearFamily,
    ),
    "boosting": Family(
        "boosting ensembles with linear, random-feature or tree learners (docs/theory.md §1)",
        boosting_bench.bench,
        cell=BoostingCell,
    ),
    "residual_mlp": Family(
        "the pre-LN residual MLP on regression tasks, trained by Adam",
        residual_mlp_bench.bench,
        growth=ResidualMLPFamily,
    ),
    "transformer": Family(
        "the pre-LN transformer on token sequences (next-token or masked-token), trained by Adam",
        transformer_bench.bench,
        growth=TransformerFamily,
    ),
}
