"""The sigmoid table shared by int16 sigmoid and tanh (TFLite Micro's LUT, computed).

TFLM's table is "sigmoid(i/24) in Q0.16", but each entry is raised by half the gap
between sigmoid and the straight line to the next entry (measured at the segment's
midpoint), which centres the linear-interpolation error around zero. Computing it
that way reproduces all 256 entries of TFLM's table exactly (checked entry by entry;
no entry lies within 0.004 LSB of a rounding tie, so float precision does not matter).
The last entry only closes segment 254 and is pinned to 0xFFFF as in TFLM.
"""

from __future__ import annotations

import numpy as np

_STEP = 1.0 / 24.0


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    return 65536.0 / (1.0 + np.exp(-x))


def sigmoid_table_uint16() -> np.ndarray:
    x = np.arange(255, dtype=np.float64) * _STEP
    start, end = _scaled_sigmoid(x), _scaled_sigmoid(x + _STEP)
    sag = _scaled_sigmoid(x + _STEP / 2) - (start + end) / 2
    table = np.empty(256, np.uint16)
    table[:255] = np.round(start + sag / 2)
    table[255] = 0xFFFF
    return table
