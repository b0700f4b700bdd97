"""16x8 fully connected layer (C twin: tinyrnn_dense_s16.c), TFLite Micro's FULLY_CONNECTED
with int16 input and output (zero points 0), int8 weights and int64 biases.

Per output channel: ``acc = bias + Σ w·x`` in int64, requantized by the 64-bit
MultiplyByQuantizedMultiplier (``requantize_s64``: the multiplier rounded to Q15),
saturated to int16 and clamped to the activation's range. No table activations: the
last layer's sigmoid/softmax is left to the caller (the logits contract), a hidden one
is refused at validation.
"""

from __future__ import annotations

import math

import numpy as np

from tinyrnn.core.golden.fixedpoint import INT16_MAX, requantize_s64, sat16
from tinyrnn.core.ir import DenseLayer


def activation_range_s16(layer: DenseLayer) -> tuple[int, int]:
    """The int16 clamp: relu from 0, relu6 also at the code of 6.0 (TFLite's
    CalculateActivationRangeQuantized, zero point 0); else the full int16 range."""
    if layer.activation in ("relu", "relu6"):
        top = min(INT16_MAX, math.floor(min(6.0 / layer.output_scale, 65536.0) + 0.5))
        return 0, top if layer.activation == "relu6" else INT16_MAX
    return -INT16_MAX - 1, INT16_MAX


def dense_s16(layer: DenseLayer, x) -> np.ndarray:
    """x (..., I) int16 → (..., O) int16."""
    acc = np.asarray(x, np.int64) @ layer.weights.T.astype(np.int64) + layer.bias.astype(np.int64)
    y = sat16(requantize_s64(acc, layer.multiplier, layer.shift))
    return np.clip(y, *activation_range_s16(layer)).astype(np.int16)
