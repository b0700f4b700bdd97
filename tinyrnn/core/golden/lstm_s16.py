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

from tinyrnn.core.golden.fixedpoint import requantize_s64, sat16
from tinyrnn.core.golden.lstm_s8 import cell_update, probe_step, scan
from tinyrnn.core.ir import LSTMLayer


def preactivation_s16(x, h, w_x, w_h, bias, x_rq: tuple, h_rq: tuple) -> np.ndarray:
    """sat16(sat16(rq_x(W·x + b)) + sat16(rq_h(U·h))): one 16x8 matmul pair, each requantized
    by (multiplier, shift) and saturated, then their sum (TFLM's order; the 16x8 SimpleRNN's too)."""
    acc_x = np.asarray(x, np.int64) @ w_x.T.astype(np.int64) + bias.astype(np.int64)
    acc_h = np.asarray(h, np.int64) @ w_h.T.astype(np.int64)
    return sat16(sat16(requantize_s64(acc_x, *x_rq)) + sat16(requantize_s64(acc_h, *h_rq)))


def _gate(layer: LSTMLayer, g: int, x, h) -> np.ndarray:
    return preactivation_s16(x, h, layer.w_x[g], layer.w_h[g], layer.bias[g],
                             (layer.gate_x_multiplier[g], layer.gate_x_shift[g]),
                             (layer.gate_h_multiplier[g], layer.gate_h_shift[g]))  # fmt: skip


def lstm_s16_step(layer: LSTMLayer, x, h, c, probe=None) -> tuple[np.ndarray, np.ndarray]:
    """One time step for a batch: x (B, I) int16, h (B, H) int16, c (B, H) int16 → (h, c);
    ``probe`` as in ``lstm_s8_step``."""
    x, h = np.asarray(x, np.int64), np.asarray(h, np.int64)
    pre = [_gate(layer, g, x, h) for g in range(4)]
    c_new, hid = cell_update(layer, pre, c)
    h_new = sat16(hid)
    probe_step(probe, pre, c_new, h_new)
    return h_new.astype(np.int16), c_new.astype(np.int16)


def lstm_s16(layer: LSTMLayer, x, state=None, probe=None, valid=None) -> tuple[np.ndarray, tuple]:
    """Sequences x (B, T, I) int16 → (hidden states (B, T, H) int16, final (h, c)); from
    zero state unless ``state`` is given; ``valid`` as in ``lstm_s8.scan``."""
    x = np.asarray(x)
    zeros = np.zeros((x.shape[0], layer.hidden_size), np.int16)
    state = state if state is not None else (zeros, zeros.copy())
    return scan(lambda x_t, h, c: lstm_s16_step(layer, x_t, h, c, probe), x, state, valid)
