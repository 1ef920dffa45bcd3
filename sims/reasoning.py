"""Synthetic reasoning primitives after MIDAS (Saunshi et al. 2024), work in progress for issue 19.

Provenance ``secondary``: MIDAS's primitives are known to us from summaries of the paper (induction
copying; variable assignment at depths 0, 1, 2); the token formats below are ours.

* Induction copying: a random sequence, then a prefix of it again; the answer is the token that
  followed the last prompt token's first occurrence.
* Variable assignment at depth k: assignments ``v = digit`` and ``v = w`` (shuffled, with
  distractors), then a query ``q ?`` whose value is reached by k hops of indirection; the answer
  is that digit.

Every prompt is a 1-D int array of token ids (``VOCAB``), the answer one token id.
"""

from __future__ import annotations

import numpy as np

DIGITS = [str(k) for k in range(10)]
VARIABLES = list("abcdefghijklmnop")
SPECIAL = ["<pad>", "=", ",", "?", "|"]
VOCAB = SPECIAL + DIGITS + VARIABLES
ID = {token: i for i, token in enumerate(VOCAB)}


def encode(tokens) -> np.ndarray:
    return np.array([ID[t] for t in tokens], dtype=np.int64)


def decode(ids) -> list[str]:
    return [VOCAB[i] for i in ids]


def induction_prompt(rng, length: int = 12, vocab: int = 10) -> tuple[np.ndarray, int]:
    """Distinct tokens ``x_1 .. x_n`` (from the first ``vocab`` variables), ``|``, then ``x_1 ..
    x_k`` for a random k < n; the answer is ``x_{k+1}``."""
    seq = list(rng.choice(VARIABLES[:vocab], size=min(length, vocab), replace=False))
    k = int(rng.integers(1, len(seq)))
    return encode([*seq, "|", *seq[:k]]), ID[seq[k]]


def assignment_prompt(rng, depth: int, distractors: int = 2) -> tuple[np.ndarray, int]:
    """A chain ``v_0 = digit, v_1 = v_0, ..., v_depth = v_{depth-1}`` plus ``distractors`` other
    assignments, shuffled, then ``v_depth ?``; the answer is the digit."""
    names = list(rng.choice(VARIABLES, size=depth + 1 + distractors, replace=False))
    chain, others = names[: depth + 1], names[depth + 1 :]
    statements = [[chain[0], "=", str(rng.integers(10))]]
    statements += [[chain[i], "=", chain[i - 1]] for i in range(1, depth + 1)]
    statements += [[v, "=", str(rng.integers(10))] for v in others]
    answer = statements[0][2]
    order = rng.permutation(len(statements))
    tokens = []
    for i in order:
        tokens += [*statements[i], ","]
    return encode([*tokens, chain[-1], "?"]), ID[answer]


def solve(prompt) -> int:
    """The answer of either primitive, computed from the prompt alone (an independent check of
    the generators)."""
    tokens = decode(prompt)
    if tokens[-1] == "?":
        values = {}
        for i, t in enumerate(tokens):
            if t == "=":
                values[tokens[i - 1]] = tokens[i + 1]
        name = tokens[-2]
        while name in values:
            name = values[name]
        return ID[name]
    bar = tokens.index("|")
    last = tokens[-1]
    return ID[tokens[tokens.index(last) + 1]] if tokens.index(last) < bar else -1
