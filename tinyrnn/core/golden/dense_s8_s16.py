"""int8 fully connected layer with int16 output (C twin: tinyrnn_dense_s8_s16.c): the last
layer's int16 logits (``DenseLayer.output_bits`` 16).

As ``dense_s8`` up to the requantization (int32 accumulator, per-channel
MultiplyByQuantizedMultiplier), then saturated to int16 (zero point 0) and clamped to the
activation's range as the 16x8 layer's. An int8 head rounds logits to ~1/256 of their
range, so classes whose float logits differ by less tie and argmax takes the first;
int16 logits keep those decisions.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.dense_s8 import requantized
from tinyrnn.core.golden.dense_s16 import activation_range_s16
from tinyrnn.core.golden.fixedpoint import sat16
from tinyrnn.core.ir import DenseLayer


def dense_s8_s16(layer: DenseLayer, x) -> np.ndarray:
    """x (..., I) int8 → (..., O) int16."""
    return np.clip(sat16(requantized(layer, x)), *activation_range_s16(layer)).astype(np.int16)
