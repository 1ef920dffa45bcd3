"""The reasoning primitives' generators against a hand-written solver."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sims.reasoning import assignment_prompt, decode, induction_prompt, solve


@given(st.integers(0, 10**6), st.integers(0, 2), st.integers(0, 4))
def test_assignment_prompts_are_solved_exactly(seed, depth, distractors):
    prompt, answer = assignment_prompt(np.random.default_rng(seed), depth, distractors)
    assert solve(prompt) == answer
    assert decode(prompt).count("=") == depth + 1 + distractors


@given(st.integers(0, 10**6), st.integers(2, 16))
def test_induction_prompts_are_solved_exactly(seed, length):
    prompt, answer = induction_prompt(np.random.default_rng(seed), length, vocab=16)
    assert solve(prompt) == answer
