"""A synthetic corpus that needs depth (work in progress for issue 19; our design).

Sequences of a typed Dyck language with payload: ``open_k`` pushes bracket type k, ``close``
tokens must match the innermost open type, and between them ``word_k`` tokens carry the type of
the innermost open bracket. Predicting a closing bracket or a word needs the stack of open types,
which a one-block model cannot track over nesting (the positive control of issue 19 is that a
deep model reaches clearly lower loss than a one-block model).
"""

from __future__ import annotations

import numpy as np


def vocabulary(types: int) -> list[str]:
    return ["<pad>", "<bos>"] + [f"({k}" for k in range(types)] + [f"){k}" for k in range(types)] + [
        f"w{k}" for k in range(types)
    ]  # fmt: skip


def nested_sequence(rng, length: int, types: int = 4, max_depth: int = 6, p_open=0.4) -> np.ndarray:
    """One sequence of exactly ``length`` tokens: ``<bos>``, then at each step open a bracket
    (probability ``p_open`` while below ``max_depth`` and the remaining room can close it), close
    the innermost one, or emit the innermost type's word; every bracket is closed at the end (a
    last token that cannot hold a bracket pair is ``<pad>``)."""
    bos, opens, closes, words = 1, 2, 2 + types, 2 + 2 * types
    out, stack = [bos], []
    while len(out) < length:
        room = length - len(out)
        if not stack and room < 2:  # no bracket fits any more: pad
            out.append(0)
            continue
        if room <= len(stack):  # only closing fits
            out.append(closes + stack.pop())
            continue
        u = rng.random()
        if u < p_open and len(stack) < max_depth and room > len(stack) + 1:
            k = int(rng.integers(types))
            stack.append(k)
            out.append(opens + k)
        elif stack and u < p_open + 0.3:
            out.append(closes + stack.pop())
        elif stack:
            out.append(words + stack[-1])
        else:
            k = int(rng.integers(types))
            stack.append(k)
            out.append(opens + k)
    return np.array(out, dtype=np.int64)


def is_well_formed(sequence, types: int) -> bool:
    """Every bracket closed by its own type, every word of the innermost open type, nothing open
    at the end and padding only there (an independent check of ``nested_sequence``)."""
    opens, closes, words = 2, 2 + types, 2 + 2 * types
    stack, padded = [], False
    for t in list(sequence)[1:]:
        if t == 0:
            padded = True
            continue
        if padded:
            return False
        if opens <= t < closes:
            stack.append(t - opens)
        elif closes <= t < words:
            if not stack or stack.pop() != t - closes:
                return False
        elif not stack or t - words != stack[-1]:
            return False
    return not stack
