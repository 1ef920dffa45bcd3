"""Numba building blocks shared by the neural kernels (``residual_mlp``, ``transformer``): exact
GELU, ReLU and the quadratic activation with their slopes, layer normalisation forward and
backward, and Adam's row-wise update. Each compiles for float64 and float32 arrays.

GELU's erf and exp are computed by vectorisable code (one exponential serves both):
``GELU(x) = x Phi(x)``, ``Phi(x) = erfc(-x/sqrt 2)/2``, ``erfc(t) = exp(-t^2) erfcx(t)``. In
float32 the same formulas run in float32 lanes with shorter series (twice the lanes, half the
terms): the exponential's Taylor polynomial of degree 7 and a Chebyshev series of degree 9.
Layer norm: ``LN(v) = g (v - mean v) / sqrt(var v + LN_EPS) + b``; its backward pass uses
``dv = (dxhat - mean dxhat - xhat mean(dxhat xhat)) / sqrt(var + LN_EPS)``.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from numba import njit, types
from numba.extending import overload
from numpy.polynomial import chebyshev

LN_EPS = 1e-5
ACTIVATION_CODES = {"gelu": 0, "relu": 1, "quadratic": 2}
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# exp(a) = 2^k exp(r), k = round(a / ln 2), r = a - k ln 2 in [-ln2/2, ln2/2] with ln 2 split in
# a 32-bit head (k * head is exact) and the rest; exp(r) by its Taylor polynomial of degree 13
# (remainder < 1e-17 relative). 2^k is built from its bits, so the loop vectorises.
_LN2_HEAD = round(math.log(2.0) * 2**32) / 2**32
_LN2_TAIL = float(Decimal("0.6931471805599453094172321214581765681") - Decimal(_LN2_HEAD))
_INV_FACTORIALS = np.array([1.0 / math.factorial(n) for n in range(14)])
EXP_FLOOR = -708.0  # exp below it is subnormal; GELU uses 0 there (|x| > 37.6)

# erfcx(t) = exp(t^2) erfc(t) on [0, 27.5] as (1 + 2t) erfcx(t) = sum_n c_n T_n(v), a Chebyshev
# series of degree 20 in v = a (t - 4) / (t + 4) + a - 1 (maps [0, 27.5] onto [-1, 1]). The c_n
# interpolate at the 21 Chebyshev points, with erfc and exp evaluated by mpmath at 40 digits;
# tests/sims/test_residual_mlp.py recomputes them and checks erfcx against mpmath. They are
# evaluated in the power basis (below), which is as accurate here and shortens the dependency chain.
ERFCX_K = 4.0
ERFCX_A = 2.0 / ((27.5 - ERFCX_K) / (27.5 + ERFCX_K) + 1.0)
ERFCX_CHEBYSHEV = np.array([
    1.1861309310253436, 0.010224950164400467, -0.08640277038568163, 0.05578637734866313,
    -0.023635160271671944, 0.007655097448078248, -0.001964814737213089, 0.000396642666687335,
    -5.9679838141215715e-05, 5.552614743363765e-06, 9.485274120575405e-09, -9.394776749541629e-08,
    1.176287414854605e-08, 4.618521899641759e-10, -2.765425259549299e-10, 1.3125315105915774e-11,
    5.06027332685562e-12, -5.852555650091348e-13, -9.138982672127965e-14, 1.721370086343544e-14,
    -1.120422772261082e-16,
])  # fmt: skip
ERFCX_POWERS = chebyshev.cheb2poly(ERFCX_CHEBYSHEV)  # well conditioned: sum |powers| = 1.75


@njit(cache=True, inline="always", error_model="numpy")
def _polynomial(coefficients, x):
    """``sum_k coefficients[k] x^k`` as ``even(x^2) + x odd(x^2)``, each part by Horner's rule: two
    independent chains of half the length, which the processor runs side by side."""
    w = x * x
    top = coefficients.shape[0] - 1
    even = 0.0
    for k in range(top - top % 2, -1, -2):
        even = even * w + coefficients[k]
    odd = 0.0
    for k in range(top - 1 + top % 2, 0, -2):
        odd = odd * w + coefficients[k]
    return even + x * odd


@njit(cache=True, inline="always", error_model="numpy")
def _exp_nonpositive64(a):
    a = max(a, EXP_FLOOR)
    k = math.floor(a * (1.0 / math.log(2.0)) + 0.5)
    r = (a - k * _LN2_HEAD) - k * _LN2_TAIL
    return _polynomial(_INV_FACTORIALS, r) * np.int64(np.int64(k + 1023.0) << 52).view(np.float64)


# float32: the same reduction with ln 2 split at 12 bits, Taylor degree 7 (remainder < 6e-9
# relative), 2^k from an int32's bits; below EXP_FLOOR32 float32 has no normal numbers.
EXP_FLOOR32 = np.float32(-87.0)
_LN2_HEAD32 = np.float32(round(math.log(2.0) * 2**12) / 2**12)
_LN2_TAIL32 = np.float32(float(Decimal("0.6931471805599453094172321214581765681")
                               - Decimal(float(_LN2_HEAD32))))  # fmt: skip
_INV_LN2_32 = np.float32(1.0 / math.log(2.0))
_INV_FACTORIALS32 = _INV_FACTORIALS[:8].astype(np.float32)


@njit(cache=True, inline="always", error_model="numpy")
def _horner32(coefficients, x):
    """``sum_k coefficients[k] x^k`` in float32 by Horner's rule."""
    total = coefficients[coefficients.shape[0] - 1]
    for k in range(coefficients.shape[0] - 2, -1, -1):
        total = total * x + coefficients[k]
    return total


@njit(cache=True, inline="always", error_model="numpy")
def _exp_nonpositive32(a):
    a = max(a, EXP_FLOOR32)
    k = np.floor(a * _INV_LN2_32 + np.float32(0.5))
    r = (a - k * _LN2_HEAD32) - k * _LN2_TAIL32
    scale = np.int32(np.int32(k + np.float32(127.0)) << 23).view(np.float32)
    return _horner32(_INV_FACTORIALS32, r) * scale


# log(1 + e) = 2 atanh(s), s = e / (2 + e), for 0 <= e <= 1 (s <= 1/3): 2 sum_k s^(2k+1) / (2k+1);
# with 18 terms the first one left out is below 9^-18 / 37 < 1e-18 of the sum.
_ATANH_SERIES = np.array([2.0 / (2 * k + 1) for k in range(18)])


@njit(cache=True, inline="always", error_model="numpy")
def log1p_unit(e):
    """``log(1 + e)`` for ``0 <= e <= 1`` in float64 by the atanh series above (a few ulp), in
    code that runs in SIMD lanes (the math library's log1p does not)."""
    s = e / (2.0 + e)
    return s * _polynomial(_ATANH_SERIES, s * s)


def exp_nonpositive(a):
    """``exp(a)`` for ``a <= 0`` in the float type of ``a`` (a few ulp), with ``a`` raised to the
    type's floor ``EXP_FLOOR`` or ``EXP_FLOOR32`` (below it the result is not a normal number). In
    Python: ``math.exp``."""
    return math.exp(a)


@overload(exp_nonpositive, inline="always")
def _exp_nonpositive_typed(a):
    chosen = _exp_nonpositive32 if a == types.float32 else _exp_nonpositive64
    return chosen.py_func


@njit(cache=True, inline="always", error_model="numpy")
def erfcx(t):
    """``exp(t^2) erfc(t)`` for ``0 <= t <= 27.5`` from the series above."""
    v = ERFCX_A * (t - ERFCX_K) / (t + ERFCX_K) + (ERFCX_A - 1.0)
    return _polynomial(ERFCX_POWERS, v) / (1.0 + 2.0 * t)


# float32 erfcx on [0, 9.5] (beyond it exp(-t^2) is below float32's normal range): the Chebyshev
# interpolant of degree 9 of (1 + 2t) erfcx(t) in v = a (t - 2) / (t + 2) + a - 1, computed like
# the series above (tests recompute it); interpolation error < 3e-8 relative.
ERFCX32_TOP = 9.5
ERFCX32_K = 2.0
ERFCX32_A = 2.0 / ((ERFCX32_TOP - ERFCX32_K) / (ERFCX32_TOP + ERFCX32_K) + 1.0)
ERFCX32_CHEBYSHEV = np.array([
    1.1911123162032602, 0.06470036415109788, -0.09831893942244525, 0.026257071361974214,
    -0.0021986609590961105, -0.0003184624726975473, 5.308242843879984e-05, 8.091347938754545e-06,
    -1.0214386312101808e-06, -2.9952742290895175e-07,
])  # fmt: skip
_ERFCX32_POWERS = chebyshev.cheb2poly(ERFCX32_CHEBYSHEV).astype(np.float32)


@njit(cache=True, inline="always", error_model="numpy")
def erfcx32(t):
    """``exp(t^2) erfc(t)`` in float32 for ``0 <= t <= ERFCX32_TOP`` from the series above."""
    v = np.float32(ERFCX32_A) * (t - np.float32(ERFCX32_K)) / (t + np.float32(ERFCX32_K))
    return _horner32(_ERFCX32_POWERS, v + np.float32(ERFCX32_A - 1.0)) / (np.float32(1.0) + t + t)


@njit(cache=True, inline="always", error_model="numpy")
def _gelu64(x):
    a = -0.5 * x * x
    g = exp_nonpositive(a) if a >= EXP_FLOOR else 0.0
    tail = 0.5 * g * erfcx(min(abs(x) * _INV_SQRT2, 27.5))
    cdf = tail if x < 0.0 else 1.0 - tail
    return x * cdf, cdf + x * _INV_SQRT_2PI * g


@njit(cache=True, inline="always", error_model="numpy")
def _gelu32(x):
    one, half = np.float32(1.0), np.float32(0.5)
    g = exp_nonpositive(np.float32(-0.5) * x * x)
    tail = half * g * erfcx32(min(abs(x) * np.float32(_INV_SQRT2), np.float32(ERFCX32_TOP)))
    cdf = tail if x < 0 else one - tail
    return x * cdf, cdf + x * np.float32(_INV_SQRT_2PI) * g


def gelu(x):
    """``(GELU(x), GELU'(x))`` in the float type of ``x`` (see ``activate``). In Python: by
    ``math.erf``."""
    cdf = 0.5 * (1.0 + math.erf(x * _INV_SQRT2))
    return x * cdf, cdf + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@overload(gelu, inline="always")
def _gelu_typed(x):
    return (_gelu32 if x == types.float32 else _gelu64).py_func


@njit(cache=True, error_model="numpy")
def activate(z, bias, slope, code):
    """In place ``z <- act(z + bias)`` (bias per column) and ``slope = act'(z + bias)``: exact GELU
    ``x Phi(x)``, ``Phi(x) + x phi(x)``, with ``phi(x) = exp(-x^2/2)/sqrt(2 pi)`` and
    ``Phi(x) = erfc(-x/sqrt 2)/2`` from the same exponential (``erfc(t) = exp(-t^2) erfcx(t)``),
    ReLU ``max(x, 0)``, ``1[x > 0]``, or the quadratic ``x^2``, ``2 x`` (a block of degree 2 in
    its input, without layer norm)."""
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            x = z[i, j] + bias[j]
            if code == 0:
                z[i, j], slope[i, j] = gelu(x)
            elif code == 1:
                z[i, j] = x if x > 0.0 else 0.0
                slope[i, j] = 1.0 if x > 0.0 else 0.0
            else:
                z[i, j] = x * x
                slope[i, j] = 2.0 * x


@njit(cache=True)
def layernorm(v, gain, bias, xhat, inv_std, out):
    """``out = gain * xhat + bias`` with ``xhat`` the row-standardised ``v``; keeps xhat, inv_std.
    Each row sum adds its terms in order (no fastmath: results independent of compilation)."""
    n, w = v.shape
    for i in range(n):
        mean = 0.0
        for j in range(w):
            mean += v[i, j]
        mean /= w
        var = 0.0
        for j in range(w):
            var += (v[i, j] - mean) ** 2
        s = 1.0 / math.sqrt(var / w + LN_EPS)
        inv_std[i] = s
        for j in range(w):
            xhat[i, j] = (v[i, j] - mean) * s
            out[i, j] = gain[j] * xhat[i, j] + bias[j]


@njit(cache=True)
def layernorm_backward(dout, xhat, inv_std, gain, dgain, dbias, dv):
    """Accumulate ``dgain``, ``dbias`` and add the gradient with respect to LN's input to ``dv``;
    each row sum adds its terms in order."""
    n, w = dout.shape
    for i in range(n):
        mean_dx = 0.0
        mean_dx_x = 0.0
        for j in range(w):
            dx = dout[i, j] * gain[j]
            dgain[j] += dout[i, j] * xhat[i, j]
            dbias[j] += dout[i, j]
            mean_dx += dx
            mean_dx_x += dx * xhat[i, j]
        mean_dx /= w
        mean_dx_x /= w
        for j in range(w):
            dx = dout[i, j] * gain[j]
            dv[i, j] += inv_std[i] * (dx - mean_dx - xhat[i, j] * mean_dx_x)


@njit(cache=True, error_model="numpy")
def adam_update(param, grad, m, v, rows, lr, correction1, correction2):
    """One Adam step (beta1 0.9, beta2 0.999, eps 1e-8) on the rows r of 2-D views with
    ``rows[r]``: ``m <- 0.9 m + 0.1 g``, ``v <- 0.999 v + 0.001 g^2``,
    ``p <- p - lr (m / correction1[r]) / (sqrt(v / correction2[r]) + 1e-8)`` with the bias
    corrections ``1 - beta^count`` of the row's step count."""
    for r in range(param.shape[0]):
        if not rows[r]:
            continue
        for j in range(param.shape[1]):
            g = grad[r, j]
            m[r, j] = 0.9 * m[r, j] + 0.1 * g
            v[r, j] = 0.999 * v[r, j] + 0.001 * g * g
            param[r, j] -= (
                lr * (m[r, j] / correction1[r]) / (math.sqrt(v[r, j] / correction2[r]) + 1e-8)
            )
