"""The family table's contract (``sims.families.table``): every entry's folder, bench, sweep cell
and growth adapter are what the rest of the house reads, so a new family that misses a piece
fails here rather than in a sweep or a grown run."""

import dataclasses
import inspect
from pathlib import Path

import numpy as np
import pytest

import sims.families
from sims import growth, sweep
from sims.families.table import FAMILIES

FOLDER = Path(sims.families.__file__).parent
GROWN = [name for name, f in FAMILIES.items() if f.growth is not None]


def test_the_table_lists_every_family_folder_and_each_holds_its_kernel_and_reference():
    folders = sorted(p.name for p in FOLDER.iterdir() if (p / "__init__.py").exists())
    assert folders == sorted(FAMILIES)
    for name in FAMILIES:
        assert (FOLDER / name / "kernel.py").exists() and (FOLDER / name / "reference.py").exists()


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_benches_with_repeats_and_smoke(name):
    """``stagewise bench --section kernels`` calls ``bench(repeats, smoke)`` on every entry (the
    rows themselves are checked by the CLI's smoke test)."""
    assert list(inspect.signature(FAMILIES[name].bench).parameters) == ["repeats", "smoke"]
    assert FAMILIES[name].summary


@pytest.mark.parametrize("name", [n for n, f in FAMILIES.items() if f.cell is not None])
def test_every_family_cell_is_a_sweep_family_with_documented_defaults(name):
    cell = FAMILIES[name].cell
    assert sweep.FAMILIES[name] is cell
    assert dataclasses.is_dataclass(cell) and cell.__dataclass_params__.frozen
    for field in dataclasses.fields(cell):
        assert field.default is not dataclasses.MISSING and field.metadata["meaning"]
    row = cell(stages=3).run(7)  # the defaults make a valid cell
    assert row["stages_done"] <= 3 and np.isfinite(row["initial_loss"])


@pytest.mark.parametrize("name", GROWN)
def test_every_growth_adapter_has_what_train_grown_calls(name):
    adapter = FAMILIES[name].growth
    for method in ("fresh", "train", "map_state", "params"):
        assert callable(getattr(adapter, method)), method
    assert hasattr(adapter, "zero_keys")
    if issubclass(adapter, growth.BlockFamily):
        assert adapter.block_keys and set(adapter.zero_keys) <= set(adapter.block_keys)
