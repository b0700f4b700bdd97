"""The sigmoid table shared by int16 sigmoid and tanh."""

from __future__ import annotations

import numpy as np


def sigmoid_table_uint16() -> np.ndarray:
    """sigmoid(i/24) for i in 0..255 in Q0.16 (uint16, last entry saturates)."""
    i = np.arange(256, dtype=np.float64)
    return np.minimum(np.round(65536.0 / (1.0 + np.exp(-i / 24.0))), 65535).astype(np.uint16)
