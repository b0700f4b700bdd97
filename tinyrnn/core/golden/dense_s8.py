"""int8 fully connected layer, per-output-channel requantization (C twin: tinyrnn_dense_s8.c),
then a hidden layer's table activation (activation_s8.py)."""

from __future__ import annotations

import math

import numpy as np

from tinyrnn.core.golden.activation_s8 import activation_s8
from tinyrnn.core.golden.fixedpoint import INT8_MAX, requantize, sat8
from tinyrnn.core.ir import DenseLayer


def effective_bias(layer: DenseLayer) -> np.ndarray:
    """bias − zp_in·rowsum(W), so the dot product runs on raw int8 inputs."""
    b = layer.bias.astype(np.int64) - layer.input_zero_point * layer.weights.astype(np.int64).sum(axis=1)
    if b.min() < -(2**31) or b.max() > 2**31 - 1:
        raise OverflowError(f"layer {layer.name}: effective bias overflows int32")
    return b.astype(np.int32)


def relu6_max(layer: DenseLayer) -> int:
    """The int8 code of 6.0: zp + round(6 / scale), half away from zero as TFLite's TfLiteRound."""
    return min(INT8_MAX, layer.output_zero_point + math.floor(min(6.0 / layer.output_scale, 512.0) + 0.5))


def activation_range(layer: DenseLayer) -> tuple[int, int]:
    """The int8 clamp: relu and relu6 at the output zero point (relu6 also at 6.0, as
    TFLite's CalculateActivationRangeQuantized); everything else the full int8 range."""
    if layer.activation in ("relu", "relu6"):
        low = max(layer.output_zero_point, -128)
        return low, relu6_max(layer) if layer.activation == "relu6" else INT8_MAX
    return -128, INT8_MAX


def requantized(layer: DenseLayer, x) -> np.ndarray:
    """x (..., I) int8 → (..., O) int32: W x + bias, requantized per output channel."""
    acc = np.asarray(x, np.int64) @ layer.weights.T.astype(np.int64) + effective_bias(layer)
    return requantize(acc, layer.multiplier, layer.shift)


def dense_s8(layer: DenseLayer, x) -> np.ndarray:
    """x (..., I) int8 → (..., O) int8: the activation's table applied when the layer has one."""
    y = requantized(layer, x) + layer.output_zero_point
    y = np.clip(sat8(y), *activation_range(layer)).astype(np.int8)
    return activation_s8(layer, y) if layer.has_table else y
