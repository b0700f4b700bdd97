"""int8 SimpleRNN (C twin: tinyrnn_rnn_s8.c). No TFLM/CMSIS-NN kernel exists; this is the spec.

Per step, with rq() the requantization of one matmul to the int16 pre-activation:
  pre = sat16(sat16(rq_x(W·x + b)) + rq_h(U·h + c))
  tanh: out = tanh_s16(pre) (pre Q3.12, out Q0.15);  relu: out = pre (scale s_h/64)
  h = clamp(round(out / 2^OUTPUT_SHIFT) + zp_h, act_min, 127)   (rounding half away from 0)
with act_min = zp_h for relu (that clamp is the relu) and −128 for tanh (zp_h = 0, so
h has scale 1/128). Zero points are folded into the biases b (input) and c (recurrent,
−zp_h·rowsum(U)) once (``effective_biases``), exactly as the C kernel receives them.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.activation_s16 import tanh_s16
from tinyrnn.core.golden.fixedpoint import INT8_MAX, INT8_MIN, requantize, rounding_divide_by_pot, sat16
from tinyrnn.core.ir import SimpleRNNLayer

# Right shift from the int16 activation output to the int8 state: Q0.15 → 1/128 for tanh.
# relu's pre-activation scale is s_h/64: int16 spans ±512 s_h, twice every int8 state,
# as headroom for each matmul's part, which saturates on its own before the sum.
OUTPUT_SHIFT = {"tanh": 8, "relu": 6}


def effective_biases(layer: SimpleRNNLayer) -> tuple[np.ndarray, np.ndarray]:
    """(H,) int32 biases of the input and recurrent matmuls with the zero points folded in."""
    bias_x = layer.bias.astype(np.int64) - layer.input_zero_point * layer.w_x.astype(np.int64).sum(axis=1)
    bias_h = -layer.hidden_zero_point * layer.w_h.astype(np.int64).sum(axis=1)
    for name, b in (("input", bias_x), ("recurrent", bias_h)):
        if b.min() < -(2**31) or b.max() > 2**31 - 1:
            raise OverflowError(f"layer {layer.name}: {name} effective bias overflows int32")
    return bias_x.astype(np.int32), bias_h.astype(np.int32)


def activation_min(layer: SimpleRNNLayer) -> int:
    return int(layer.hidden_zero_point) if layer.activation == "relu" else INT8_MIN


def rnn_s8_step(layer: SimpleRNNLayer, x, h, biases, probe=None) -> np.ndarray:
    """x (B, I) int8, h (B, H) int8 → new h (B, H) int8."""
    bias_x, bias_h = biases
    acc_x = np.asarray(x, np.int64) @ layer.w_x.T.astype(np.int64) + bias_x
    acc_h = np.asarray(h, np.int64) @ layer.w_h.T.astype(np.int64) + bias_h
    from_x = sat16(requantize(acc_x, layer.x_multiplier, layer.x_shift))
    pre = sat16(from_x + requantize(acc_h, layer.h_multiplier, layer.h_shift))
    out = tanh_s16(pre).astype(np.int64) if layer.activation == "tanh" else pre
    shifted = rounding_divide_by_pot(out, OUTPUT_SHIFT[layer.activation]) + layer.hidden_zero_point
    h_new = np.clip(shifted, activation_min(layer), INT8_MAX)
    if probe is not None:
        probe("pre_activation", pre)
        probe("hidden", h_new)
    return h_new.astype(np.int8)


def initial_state(layer: SimpleRNNLayer, batch: int) -> np.ndarray:
    """h = zp_h (real zero)."""
    return np.full((batch, layer.hidden_size), layer.hidden_zero_point, np.int8)


def rnn_s8(layer: SimpleRNNLayer, x, state=None, probe=None, valid=None) -> tuple[np.ndarray, np.ndarray]:
    """x (B, T, I) int8 → (hidden states (B, T, H) int8, final h).

    ``valid`` (B, T) bool, optional: on a step where it is False the state and the
    output stay those of the previous step (Keras masking)."""
    x = np.asarray(x)
    batch, steps, _ = x.shape
    h = state if state is not None else initial_state(layer, batch)
    biases = effective_biases(layer)
    out = np.empty((batch, steps, layer.hidden_size), np.int8)
    for t in range(steps):
        h_new = rnn_s8_step(layer, x[:, t, :], h, biases, probe)
        h = h_new if valid is None else np.where(np.asarray(valid)[:, t, None], h_new, h)
        out[:, t, :] = h
    return out, h
