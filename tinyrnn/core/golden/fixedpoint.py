"""Fixed-point primitives shared by every integer kernel (C twin: tinyrnn_fixedpoint.h).

All functions are vectorized over numpy arrays and use int64 intermediates so the
results equal the C code's 32-bit arithmetic exactly, saturation included.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
INT16_MIN, INT16_MAX = -32768, 32767
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def sat(x, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.asarray(x, np.int64), lo, hi)


def sat16(x) -> np.ndarray:
    return sat(x, INT16_MIN, INT16_MAX)


def sat8(x) -> np.ndarray:
    return sat(x, INT8_MIN, INT8_MAX)


def doubling_high_mul(a, b) -> np.ndarray:
    """round(a*b / 2^31), gemmlowp SaturatingRoundingDoublingHighMul."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    prod = a * b
    nudge = np.where(prod >= 0, 1 << 30, 1 - (1 << 30))
    # C truncates the division toward zero; numpy's // floors, so divide magnitudes.
    q = np.sign(prod + nudge) * (np.abs(prod + nudge) >> 31)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, q)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """x / 2^exponent, rounding half away from zero (gemmlowp RoundingDivideByPOT)."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def shifted_fits(value, shift) -> np.ndarray:
    """value · 2^max(shift, 0) fits int32: the domain of ``requantize`` (and of the C's and
    TFLM's left shift before the multiply). ``tinyrnn.core.domain`` checks it on accumulator
    bounds (symmetric ranges) at load; ``requantize`` on the values themselves."""
    value = np.asarray(value, np.int64)
    left = np.clip(np.asarray(shift, np.int64), 0, 31)
    return (value >= (INT32_MIN >> left)) & (value <= (INT32_MAX >> left))


def requantize(acc, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier: acc * multiplier * 2^shift / 2^31, double rounding.

    ``shift > 0`` is a left shift applied before the multiply, ``shift < 0`` a rounding
    right shift after. Outside ``shifted_fits`` the kernels would overflow (or saturate)
    where int64 would not: that raises instead of returning a number the C never computes.
    """
    acc = np.asarray(acc, np.int64)
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    if not np.all(shifted_fits(acc, shift)):
        raise OverflowError("requantize: accumulator · 2^shift outside int32 (outside tinyrnn.core.domain)")
    shifted = acc << left
    return rounding_divide_by_pot(doubling_high_mul(shifted, multiplier), right)


ACC_BOUND = 2**47  # TFLM's precondition on the int64 accumulator of requantize_s64


def reduced_multiplier(multiplier) -> np.ndarray:
    """The Q31 multiplier rounded to Q15 (TFLM/CMSIS-NN REDUCE_MULTIPLIER)."""
    m = np.asarray(multiplier, np.int64)
    return np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, INT16_MAX)


def requantize_s64(acc, multiplier, shift) -> np.ndarray:
    """round(acc · reduced_multiplier / 2^(15 − shift)), ties up; acc int64 with |acc| < 2^47,
    multiplier >= 0, shift in [-31, 7] (TFLM's assumptions; the domain check refuses others)."""
    acc = np.asarray(acc, np.int64)
    if np.any(np.abs(acc) >= ACC_BOUND):
        raise OverflowError("requantize_s64: accumulator outside ±2^47")
    total = 15 - np.asarray(shift, np.int64)
    return (acc * reduced_multiplier(multiplier) + (np.int64(1) << (total - 1))) >> total


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Real multiplier → (Q31 multiplier, shift) as TFLite's QuantizeMultiplier does."""
    if real == 0.0:
        return 0, 0
    mantissa, exponent = math.frexp(real)
    # std::round: half away from zero (Python's round() would round half to even).
    q = int(math.copysign(math.floor(abs(mantissa) * (1 << 31) + 0.5), mantissa))
    if q == 1 << 31:
        q //= 2
        exponent += 1
    if exponent < -31:
        return 0, 0
    if exponent > 30:
        return (1 << 31) - 1, 30
    return q, int(exponent)
