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


def test_the_shared_vocabulary_keeps_every_primitive_solvable():
    """``sims.text`` moves the primitives into the transformer's vocabulary; mapped back, the
    hand-written solver still finds each answer, and the fine-tuning weight sits on it."""
    from sims import text

    rng = np.random.default_rng(3)
    for name in text.PRIMITIVES:
        batches, answers = text.primitive_set(rng, name, 20, 24)
        for row, weights, answer in zip(batches.tokens, batches.weights, answers, strict=True):
            at = int(np.argmax(weights))
            prompt = row[: at + 1] - text.REASONING_OFFSET
            assert (
                solve(prompt)
                == answer - text.REASONING_OFFSET
                == row[at + 1] - text.REASONING_OFFSET
            )
    assert text.mixture(rng, 10, 24).max() < text.VOCAB - 1  # [MASK] never appears in text
