"""Plain NumPy references of the shared block pieces (``sims.blocks``): layer norm with its
backward pass, and the exact GELU with its derivative (SciPy's erf). The families' references
(``sims.families.<name>.reference``) build on them."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf


def norm_forward(v, g, b):
    """Layer norm over the last axis; returns the output and (xhat, 1/std) for the backward pass."""
    centred = v - v.mean(axis=-1, keepdims=True)
    inv = 1 / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + 1e-5)
    return g * centred * inv + b, (centred * inv, inv)


def norm_backward(dout, g, cache):
    """Gradient with respect to the layer norm's input, and (d gain, d bias) summed over rows."""
    xh, inv = cache
    dx = dout * g
    rows = tuple(range(dout.ndim - 1))
    dv = inv * (dx - dx.mean(-1, keepdims=True) - xh * (dx * xh).mean(-1, keepdims=True))
    return dv, ((dout * xh).sum(rows), dout.sum(rows))


def gelu(u):
    return 0.5 * u * (1 + erf(u / math.sqrt(2)))


def gelu_prime(u):
    return 0.5 * (1 + erf(u / math.sqrt(2))) + u * np.exp(-(u**2) / 2) / math.sqrt(2 * math.pi)
