"""One vocabulary for the transformer experiments (issue 19): the typed Dyck corpus
(``sims.corpus``), the reasoning primitives (``sims.reasoning``) and an MLM ``[MASK]`` token, and
the data sets built from them. Token ids: the corpus's first (``<pad>`` = 0), then the primitives'
tokens after their own ``<pad>``, then ``[MASK]`` last (``sims.families.transformer``'s MLM convention).
"""

from __future__ import annotations

import numpy as np

from infra.checks import check_elements, check_int
from sims import corpus, induction, reasoning
from sims.families.transformer import Batches

TYPES = 4  # bracket types of the corpus
CORPUS_SIZE = len(corpus.vocabulary(TYPES))
REASONING_OFFSET = CORPUS_SIZE - 1  # reasoning id r >= 1 becomes r + offset
VOCAB = CORPUS_SIZE + len(reasoning.VOCAB) - 1 + 1  # ... + [MASK]
PRIMITIVES = ("induction", "assign-0", "assign-1", "assign-2")
MAX_LENGTH = 4096  # tokens of one sequence


def _check_sizes(count, length) -> tuple[int, int]:
    """``count`` sequences (>= 1) of ``length`` tokens (2 .. ``MAX_LENGTH``), at most
    ``MAX_ELEMENTS`` tokens in all."""
    count = check_int("count", count, low=1)
    length = check_int("length", length, low=2, high=MAX_LENGTH)
    check_elements("count x length", count * length)
    return count, length


def dyck(rng, count: int, length: int) -> np.ndarray:
    """``count`` corpus sequences of ``length`` tokens."""
    count, length = _check_sizes(count, length)
    return np.stack([corpus.nested_sequence(rng, length, TYPES) for _ in range(count)])


def primitive(rng, name: str) -> tuple[np.ndarray, int]:
    """One prompt of the primitive ``name`` and its answer, in this vocabulary."""
    if name == "induction":
        prompt, answer = reasoning.induction_prompt(rng, length=8, vocab=10)
    else:
        prompt, answer = reasoning.assignment_prompt(rng, int(name.split("-")[1]), distractors=1)
    return prompt + REASONING_OFFSET, answer + REASONING_OFFSET


INDUCTION_SHARE = 0.25  # of the pretraining mixture: documents of the induction testbed
INDUCTION_ALPHABET = np.array([reasoning.ID[v] for v in reasoning.VARIABLES]) + REASONING_OFFSET


def mixture(rng, count: int, length: int) -> np.ndarray:
    """Pretraining text, ``length`` tokens per row: a share ``INDUCTION_SHARE`` of induction
    documents (``sims.induction``: a segment of distinct variables repeated, at least 3 and at
    most ``(length - 2) // 2`` long, capped at 12), the rest half corpus sequences, half documents
    of primitive episodes (prompt, answer, ``,``) of every primitive, padded."""
    count, length = _check_sizes(count, length)
    comma = reasoning.ID[","] + REASONING_OFFSET
    longest = min(12, (length - 2) // 2, INDUCTION_ALPHABET.size)
    rows = []
    for _ in range(count):
        draw = rng.random()
        if draw < INDUCTION_SHARE and longest >= 3:
            document = induction.documents(rng, 1, length, INDUCTION_ALPHABET, 3, longest)
            rows.append(document.tokens[0])
            continue
        if draw < INDUCTION_SHARE + (1 - INDUCTION_SHARE) / 2:
            rows.append(corpus.nested_sequence(rng, length, TYPES))
            continue
        row = []
        while True:
            prompt, answer = primitive(rng, PRIMITIVES[rng.integers(len(PRIMITIVES))])
            episode = [*prompt, answer, comma]
            if len(row) + len(episode) > length:
                break
            row += episode
        rows.append(np.array(row + [0] * (length - len(row))))
    return np.stack(rows).astype(np.int64)


def primitive_set(rng, name: str, count: int, length: int) -> tuple[Batches, np.ndarray]:
    """``count`` prompts of ``name`` with their answers, padded to ``length``: as ``Batches``
    whose only weight is on predicting the answer (for fine-tuning), and the answers."""
    count, length = _check_sizes(count, length)
    tokens = np.zeros((count, length), dtype=np.int64)
    weights = np.zeros((count, length - 1))
    answers = np.empty(count, dtype=np.int64)
    for i in range(count):
        prompt, answers[i] = primitive(rng, name)
        tokens[i, : len(prompt)] = prompt
        tokens[i, len(prompt)] = answers[i]
        weights[i, len(prompt) - 1] = 1.0
    return Batches(tokens, weights), answers
