import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sims.corpus import is_well_formed, nested_sequence


@given(st.integers(0, 10**6), st.integers(4, 64), st.integers(1, 6))
def test_sequences_are_well_formed_and_exactly_long(seed, length, types):
    seq = nested_sequence(np.random.default_rng(seed), length, types)
    assert len(seq) == length and is_well_formed(seq, types)


def test_the_checker_rejects_a_wrong_closer():
    seq = nested_sequence(np.random.default_rng(0), 32, 3)
    bad = seq.copy()
    closers = np.flatnonzero((bad >= 5) & (bad < 8))
    bad[closers[0]] = 5 + (bad[closers[0]] - 5 + 1) % 3
    assert not is_well_formed(bad, 3)
