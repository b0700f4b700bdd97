"""int16 sigmoid and tanh by table + linear interpolation (C twin: tinyrnn_activation_s16.h).

TFLite Micro's integer LSTM defines these: a 256-entry uint16 table of sigmoid(i/24)
in Q0.16, indexed by |3x| (so Q3.12 inputs reach ±10.7), interpolated with the low
bits; tanh(x) = 2·sigmoid(2x) − 1 uses the same table with one index bit less.
Input Q3.12 (scaled by 2^left_shift) → output Q0.15.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.lut import sigmoid_table_uint16

_TABLE = sigmoid_table_uint16().astype(np.int64)


def _prescale(x, left_shift: int) -> np.ndarray:
    """x·3·2^left_shift with a rounding right shift when left_shift < 0."""
    x = np.asarray(x, np.int64)
    if left_shift >= 0:
        return x * (3 << left_shift)
    right = -left_shift
    return (x * 3 + (1 << (right - 1))) >> right


def _interpolate(abs_x: np.ndarray, index_shift: int) -> np.ndarray:
    uh = abs_x >> index_shift
    frac = abs_x & ((1 << index_shift) - 1)
    inside = uh < 255
    idx = np.minimum(uh, 254)
    ua, ub = _TABLE[idx], _TABLE[idx + 1]
    saturated = 0x7FFF << 10 if index_shift == 9 else 0xFFFF << 8
    return np.where(inside, (ua << index_shift) + frac * (ub - ua), saturated)


def sigmoid_s16(x, left_shift: int = 0) -> np.ndarray:
    """Q3.12 (·2^left_shift) → Q0.15 in [0, 32767]."""
    v = _prescale(x, left_shift)
    r = _interpolate(np.abs(v), 9)
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_s16(x, left_shift: int = 0) -> np.ndarray:
    """Q3.12 (·2^left_shift) → Q0.15 in [-32768, 32767]."""
    v = _prescale(x, left_shift)
    r = _interpolate(np.abs(v), 8)
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    # The C code shifts an unsigned 32-bit value and reinterprets as int16.
    return ((r & 0xFFFFFFFF) >> 8).astype(np.uint32).astype(np.uint16).view(np.int16)
