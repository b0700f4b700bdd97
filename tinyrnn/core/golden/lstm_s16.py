"""16x8 LSTM: int16 input and hidden state, int8 weights, int64 biases, as TFLite Micro's
integer LSTM with ``ActivationType = int16_t`` and CMSIS-NN's ``arm_lstm_unidirectional_s16``
(C twin: tinyrnn_lstm_s16.c).

Differences from the int8 LSTM (``lstm_s8``), everything else shared (``cell_update``):
zero points are 0 (symmetric int16); each gate's matmuls accumulate in int64 from an
int64 bias and are requantized by TFLM's 64-bit MultiplyByQuantizedMultiplier, which
first rounds the multiplier to 16 bits (``requantize_s64``); the hidden state is
``sat16(o·tanh(c))`` at the hidden scale. The layer is an ``LSTMLayer`` whose ``bias``
holds int64 values and whose zero points are 0.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.fixedpoint import INT16_MAX, sat16
from tinyrnn.core.golden.lstm_s8 import cell_update
from tinyrnn.core.ir import LSTMLayer

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


def _gate(layer: LSTMLayer, g: int, x, h) -> np.ndarray:
    acc_x = x @ layer.w_x[g].T.astype(np.int64) + layer.bias[g].astype(np.int64)
    acc_h = h @ layer.w_h[g].T.astype(np.int64)
    from_x = sat16(requantize_s64(acc_x, layer.gate_x_multiplier[g], layer.gate_x_shift[g]))
    return sat16(from_x + sat16(requantize_s64(acc_h, layer.gate_h_multiplier[g], layer.gate_h_shift[g])))


def lstm_s16_step(layer: LSTMLayer, x, h, c) -> tuple[np.ndarray, np.ndarray]:
    """One time step for a batch: x (B, I) int16, h (B, H) int16, c (B, H) int16 → (h, c)."""
    x, h = np.asarray(x, np.int64), np.asarray(h, np.int64)
    c_new, hid = cell_update(layer, [_gate(layer, g, x, h) for g in range(4)], c)
    return sat16(hid).astype(np.int16), c_new.astype(np.int16)


def lstm_s16(layer: LSTMLayer, x, state=None) -> tuple[np.ndarray, tuple]:
    """Sequences x (B, T, I) int16 → (hidden states (B, T, H) int16, final (h, c))."""
    x = np.asarray(x)
    batch, steps, _ = x.shape
    zeros = np.zeros((batch, layer.hidden_size), np.int16)
    h, c = state if state is not None else (zeros, zeros.copy())
    out = np.empty((batch, steps, layer.hidden_size), np.int16)
    for t in range(steps):
        h, c = lstm_s16_step(layer, x[:, t, :], h, c)
        out[:, t, :] = h
    return out, (h, c)
