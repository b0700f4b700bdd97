"""int8 fully connected layer, per-output-channel requantization (C twin: tinyrnn_dense_s8.c)."""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.fixedpoint import INT8_MAX, requantize, sat8
from tinyrnn.core.ir import DenseLayer


def effective_bias(layer: DenseLayer) -> np.ndarray:
    """bias − zp_in·rowsum(W), so the dot product runs on raw int8 inputs."""
    b = layer.bias.astype(np.int64) - layer.input_zero_point * layer.weights.astype(np.int64).sum(axis=1)
    if b.min() < -(2**31) or b.max() > 2**31 - 1:
        raise OverflowError(f"layer {layer.name}: effective bias overflows int32")
    return b.astype(np.int32)


def activation_min(layer: DenseLayer) -> int:
    """relu clamps at the output zero point; everything else uses the full int8 range."""
    return max(layer.output_zero_point, -128) if layer.activation == "relu" else -128


def dense_s8(layer: DenseLayer, x) -> np.ndarray:
    """x (..., I) int8 → (..., O) int8."""
    x = np.asarray(x, np.int64)
    acc = x @ layer.weights.T.astype(np.int64) + effective_bias(layer)
    y = requantize(acc, layer.multiplier, layer.shift) + layer.output_zero_point
    return np.clip(sat8(y), activation_min(layer), INT8_MAX).astype(np.int8)
