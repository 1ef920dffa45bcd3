"""The induction testbed (issue 28; docs/theory.md section 6b): a next-token task that a
one-block transformer cannot solve and a two-block one can, so that depth provably matters.

A document is ``<bos>`` followed by one segment of L distinct tokens (L uniform in
``shortest .. longest``, drawn without replacement from an alphabet) repeated to fill the
sequence. Once the current token has occurred before, the next token is the one that followed its
earlier occurrence: an induction head (Olsson et al. 2022: a previous-token head in one layer, a
matching head in the next) predicts it exactly, so the Bayes loss on those positions is 0. Only
those positions count (weight 1): the predictions of tokens ``L + 2 ..`` of the document, from
the second copy's second token on. A single attention layer cannot compose the two heads; it can
learn which tokens the segment holds and how recently each occurred, which leaves a loss of
order log L nats (measured: the one-block plateau, ``stacking.transformer-corpus-depth``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from infra.checks import InputError, check_elements, check_int
from sims.families.transformer import Batches

BOS = 0  # the first token of every document


@dataclass(frozen=True)
class Testbed:
    """Documents of ``length`` tokens over the alphabet ``1 .. alphabet`` (vocabulary
    ``alphabet + 1`` with ``<bos>`` = 0), segments of ``shortest .. longest`` distinct tokens."""

    alphabet: int
    length: int
    shortest: int
    longest: int

    def __post_init__(self):
        _check_sizes(check_int("alphabet", self.alphabet, low=2), self.length, self.shortest,
                     self.longest)  # fmt: skip

    @property
    def vocab(self) -> int:
        return self.alphabet + 1

    def documents(self, rng, count: int) -> Batches:
        """``count`` documents as ``Batches`` with weight 1 on the counted predictions."""
        return documents(rng, count, self.length, np.arange(1, self.alphabet + 1),
                         self.shortest, self.longest)  # fmt: skip


def _check_sizes(alphabet_size: int, length, shortest, longest) -> tuple[int, int, int]:
    """Segments of 2 <= ``shortest`` <= ``longest`` <= ``alphabet_size`` tokens, and room for two
    copies of the longest after ``<bos>`` plus a counted position: ``length >= 2 longest + 2``."""
    longest = check_int("longest", longest, low=2, high=alphabet_size)
    shortest = check_int("shortest", shortest, low=2, high=longest)
    return check_int("length", length, low=2 * longest + 2), shortest, longest


def documents(rng, count: int, length: int, alphabet, shortest: int, longest: int) -> Batches:
    """``count`` documents (module docstring) of ``length`` tokens, the segment's tokens drawn
    from the ids ``alphabet`` (distinct, none equal to ``BOS``)."""
    alphabet = np.asarray(alphabet, dtype=np.int64)
    count = check_int("count", count, low=1)
    length, shortest, longest = _check_sizes(alphabet.size, length, shortest, longest)
    check_elements("count x length", count * length)
    if np.unique(alphabet).size != alphabet.size or np.any(alphabet == BOS):
        raise InputError("alphabet must be distinct token ids other than BOS (0)")
    tokens = np.full((count, length), BOS, dtype=np.int64)
    weights = np.zeros((count, length - 1))
    for i in range(count):
        segment = rng.choice(alphabet, size=int(rng.integers(shortest, longest + 1)), replace=False)
        tokens[i, 1:] = np.resize(segment, length - 1)
        weights[i, segment.size + 1 :] = 1.0  # position t predicts token t + 1 >= L + 2
    return Batches(tokens, weights)


def induction_answers(tokens) -> np.ndarray:
    """For each position t of each row but the last, the token that followed the most recent
    earlier occurrence of ``tokens[t]``, or -1 where it has not occurred before: what an
    induction head predicts (a plain scan, independent of how ``documents`` builds its rows)."""
    tokens = np.asarray(tokens)
    answers = np.full((tokens.shape[0], tokens.shape[1] - 1), -1, dtype=np.int64)
    for i, row in enumerate(tokens):
        follower = {}
        for t in range(row.size - 1):
            if t > 0:
                follower[row[t - 1]] = row[t]
            answers[i, t] = follower.get(row[t], -1)
    return answers


def oracle_loss(data: Batches, vocab: int, confidence: float = 0.99) -> float:
    """Next-token cross-entropy, on the counted positions of ``data``, of the induction head's
    predictor (``induction_answers``) that puts ``confidence`` on its answer and spreads the rest
    evenly over the other ``vocab - 1`` tokens: a model that has the circuit by construction
    (``-log(confidence)`` where every answer is right)."""
    answers = induction_answers(data.tokens)
    targets = data.tokens[:, 1:]
    p = np.where(answers == targets, confidence, (1 - confidence) / (vocab - 1))
    return float(np.sum(-np.log(p) * data.weights) / np.sum(data.weights))
