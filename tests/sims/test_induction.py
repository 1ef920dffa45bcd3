"""The induction testbed's ground truth, checked by an independent scan (``induction_answers``):
the counted targets are exactly what an induction head predicts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.checks import InputError
from sims import induction


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shortest=st.integers(2, 6), extra=st.integers(0, 6))
def test_counted_targets_are_what_an_induction_head_predicts(seed, shortest, extra):
    longest = shortest + extra
    bed = induction.Testbed(alphabet=longest + 3, length=2 * longest + 5, shortest=shortest,
                            longest=longest)  # fmt: skip
    data = bed.documents(np.random.default_rng(seed), 20)
    answers = induction.induction_answers(data.tokens)
    counted = data.weights == 1
    # every counted prediction is determined: the scan finds it, and it is the actual next token
    assert np.array_equal(counted, answers >= 0)
    assert np.array_equal(answers[counted], data.tokens[:, 1:][counted])
    # a document: <bos>, then a segment of distinct tokens, repeated
    assert np.all(data.tokens[:, 0] == induction.BOS)
    for row, w in zip(data.tokens, data.weights, strict=True):
        period = int(np.argmax(w)) - 1  # first counted position is L + 1
        assert shortest <= period <= longest
        assert np.unique(row[1 : period + 1]).size == period
        assert np.all((row[1:] >= 1) & (row[1:] <= bed.alphabet))


def test_the_scan_finds_the_most_recent_occurrence():
    tokens = np.array([[0, 5, 6, 5, 7, 5, 6]])
    # t=3 (5): last 5 at t=1, followed by 6; t=5 (5): last 5 at t=3, followed by 7
    assert induction.induction_answers(tokens).tolist() == [[-1, -1, -1, 6, -1, 7]]


@pytest.mark.parametrize(
    "kwargs, name",
    [({"alphabet": 4, "length": 20, "shortest": 3, "longest": 5}, "longest"),
     ({"alphabet": 9, "length": 9, "shortest": 3, "longest": 5}, "length"),
     ({"alphabet": 9, "length": 20, "shortest": 1, "longest": 5}, "shortest")],
)  # fmt: skip
def test_bad_sizes_name_the_argument(kwargs, name):
    with pytest.raises(InputError, match=name):
        induction.Testbed(**kwargs)


def test_an_alphabet_holding_bos_is_refused():
    with pytest.raises(InputError, match="alphabet"):
        induction.documents(np.random.default_rng(0), 2, 20, [0, 1, 2, 3, 4], 2, 4)
