import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(  # a quick pass per mutant; fewer examples can only kill fewer mutants
    "mutation",
    derandomize=True,
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def generator_states(monkeypatch):
    """The initial state of every generator made through ``numpy.random.default_rng`` while the
    test runs: two equal entries mean one seed fed two streams."""
    made = []
    original = np.random.default_rng

    def recording(seed=None):
        generator = original(seed)
        made.append(str(generator.bit_generator.state["state"]))
        return generator

    monkeypatch.setattr(np.random, "default_rng", recording)
    return made


@pytest.fixture
def plant_cell_failure(monkeypatch):
    """``plant(when)``: deep-linear sweep cells for which ``when(cell)`` is true raise
    ``FloatingPointError("planted failure")`` while they run; the others run as usual."""
    from sims.families.deep_linear.cell import DeepLinearCell

    def plant(when):
        original = DeepLinearCell.run

        def run(self, seed):
            if when(self):
                raise FloatingPointError("planted failure")
            return original(self, seed)

        monkeypatch.setattr(DeepLinearCell, "run", run)

    return plant
