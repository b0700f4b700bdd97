"""int8 Conv1D over time (C twin: tinyrnn_conv1d_s8.c), TFLite Micro's int8 convolution math.

Per output step t and channel o, over the taps j of the (padded) input window:
  acc = bias_eff[o] + Σ_j Σ_c w[o, j, c]·x[t + j·dilation, c]      (bias_eff folds −zp_in·Σw)
  y   = clamp(requantize(acc, m[o], s[o]) + zp_out, act_min, act_max)
"causal" padding prepends (kernel_size − 1)·dilation steps of the input zero point (real
0), exactly what the C ring buffer holds after a reset; "valid" has none, so the first
output needs ``span`` inputs; "same" (Keras's, strides 1) prepends half of them (rounded
down) and appends the rest, the C feeding those after the window (codegen/window.py).
``strides`` keeps outputs 0, s, 2s, ...
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.dense_s8 import activation_range
from tinyrnn.core.golden.fixedpoint import requantize, sat8
from tinyrnn.core.ir import Conv1DLayer


def effective_bias(layer: Conv1DLayer) -> np.ndarray:
    """bias − zp_in·Σ_{j,c} w[o, j, c]: the taps then multiply raw int8 inputs (padding included)."""
    b = layer.bias.astype(np.int64) - layer.input_zero_point * layer.weights.astype(np.int64).sum(axis=(1, 2))
    if b.min() < -(2**31) or b.max() > 2**31 - 1:
        raise OverflowError(f"layer {layer.name}: effective bias overflows int32")
    return b.astype(np.int32)


def windows(layer: Conv1DLayer, x: np.ndarray) -> np.ndarray:
    """x (B, T, I) → (B, T', kernel_size·I): each output step's taps, oldest first."""
    x = np.asarray(x, np.int8)
    pads = [np.full((x.shape[0], n, x.shape[2]), layer.input_zero_point, np.int8)
            for n in (layer.pad_left, layer.pad_right)]
    x = np.concatenate([pads[0], x, pads[1]], axis=1)
    starts = np.arange(0, max(x.shape[1] - layer.span + 1, 0), layer.strides)
    taps = [x[:, starts + j * layer.dilation] for j in range(layer.kernel_size)]
    return np.concatenate(taps, axis=2)


def conv1d_s8(layer: Conv1DLayer, x) -> np.ndarray:
    """x (B, T, I) int8 → (B, T', O) int8; T' = ceil(T / strides) (causal), T (same) or
    (T − span) // strides + 1 (valid, at least 0)."""
    w = layer.weights.reshape(layer.output_size, -1).astype(np.int64)
    acc = windows(layer, x).astype(np.int64) @ w.T + effective_bias(layer)
    y = requantize(acc, layer.multiplier, layer.shift) + layer.output_zero_point
    return np.clip(sat8(y), *activation_range(layer)).astype(np.int8)
