"""Argument validation shared by every public function of the project.

Each helper raises ``InputError`` whose message names the argument and the accepted range. The
CLI maps ``InputError`` (and only it) to a one-line usage error with exit status 2; any other
exception is a bug of the library and surfaces as an internal error.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


class InputError(ValueError, TypeError):
    """Bad input to a public function: a value out of range (a ``ValueError``) or of the wrong
    type (a ``TypeError``). Raised only by argument validation, never by a failing computation."""


MAX_STEPS = 10**8  # more steps or stages than any run here needs: the loss trace alone is 800 MB
MAX_DIMENSION = 4096  # largest d of a d x d problem (deep linear networks, inexact NAG)
MAX_ELEMENTS = 2**28  # largest parameter or data array accepted (2 GiB of float64)


def check_steps(name: str, value, *, low: int = 0) -> int:
    """A step or stage count in ``[low, MAX_STEPS]``."""
    return check_int(name, value, low=low, high=MAX_STEPS)


def check_elements(names: str, count: int) -> None:
    """Refuse sizes whose arrays would hold more than ``MAX_ELEMENTS`` numbers."""
    if count > MAX_ELEMENTS:
        raise InputError(
            f"{names} too large: {count:.3g} numbers ({count * 8 / 2**30:.3g} GiB), limit "
            f"{MAX_ELEMENTS:.3g}"
        )


def check_real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite float in the given interval, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise InputError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return value


def check_int(name: str, value, *, low=None, high=None) -> int:
    """Return ``value`` as an int in ``[low, high]``, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise InputError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise InputError(f"{name} must be <= {high}, got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, or raise naming ``name`` and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


DTYPES = ("float64", "float32")


def check_dtype(dtype) -> np.dtype:
    """A float type of the neural kernels: ``"float64"`` or ``"float32"`` (or that NumPy dtype)."""
    name = dtype.name if isinstance(dtype, np.dtype) else dtype
    return np.dtype(check_choice("dtype", name, DTYPES))


def as_dtype(params, keys, dtype) -> dict:
    """Contiguous copies (or the arrays themselves) of ``params[k]`` for ``k`` in ``keys``, in the
    float type ``dtype`` (checked by :func:`check_dtype`)."""
    dtype = check_dtype(dtype)
    return {k: np.ascontiguousarray(params[k], dtype=dtype) for k in keys}


MAX_KAPPA = 1e15  # beyond this, 1/kappa is lost against 1 in float64 arithmetic


def check_kappa(kappa) -> float:
    """Condition number: a finite real in ``[1, MAX_KAPPA]``."""
    return check_real("kappa", kappa, low=1.0, high=MAX_KAPPA)


# W* = I + sigma G / sqrt(d): beyond this the risk's scale, sigma^2, is no test of stacking
MAX_SIGMA = 1e3


def check_sigma(sigma, name: str = "sigma") -> float:
    """Distance of the deep linear target from the identity: a finite real in ``[0, MAX_SIGMA]``."""
    return check_real(name, sigma, low=0.0, high=MAX_SIGMA)


def check_eps(eps, name: str = "eps") -> float:
    """Relative accuracy: a real in the open interval (0, 1)."""
    return check_real(name, eps, low=0.0, high=1.0, low_open=True, high_open=True)


def check_array(name: str, value, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 array of dimension ``ndim``, or raise naming ``name``."""
    if np.iscomplexobj(value):
        raise InputError(f"{name} must be real, got complex values")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be an array of real numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must have finite entries (found NaN or inf)")
    return arr
