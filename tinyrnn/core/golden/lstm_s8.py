"""int8 LSTM, bit-exact with TFLite Micro's integer LSTM (C twin: tinyrnn_lstm_s8.c).

Per gate: the input matmul and the recurrent matmul are each requantized to Q3.12
int16 and saturated, summed with saturation, then sigmoid (i, f, o) or tanh (g).
The cell state is int16 with scale 2^cell_scale_power:
``c = clip(sat16(f·c) + sat16(i·g))``, ``h = sat8(o·tanh(c) + zp_h)``.
Zero points are folded into effective biases once (``effective_biases``), exactly
as the C kernel receives them, so the dot products run on raw int8 values.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.activation_s16 import sigmoid_s16, tanh_s16
from tinyrnn.core.golden.fixedpoint import requantize, sat8, sat16
from tinyrnn.core.ir import LSTMLayer

# Gate order (Keras, TFLM): C TINYRNN_LSTM_INPUT, _FORGET, _CELL, _OUTPUT.
GATE_INPUT, GATE_FORGET, GATE_CELL, GATE_OUTPUT = GATES = range(4)


def effective_biases(layer: LSTMLayer) -> tuple[np.ndarray, np.ndarray]:
    """(4, H) int32 biases of the input and recurrent matmuls with zero points folded in."""
    w_x = layer.w_x.astype(np.int64)
    w_h = layer.w_h.astype(np.int64)
    bias_x = layer.bias.astype(np.int64) - layer.input_zero_point * w_x.sum(axis=2)
    bias_h = -layer.hidden_zero_point * w_h.sum(axis=2)
    for name, b in (("input", bias_x), ("recurrent", bias_h)):
        if b.min() < -(2**31) or b.max() > 2**31 - 1:
            raise OverflowError(f"layer {layer.name}: {name} effective bias overflows int32")
    return bias_x.astype(np.int32), bias_h.astype(np.int32)


def _gate(layer, g, x, h, bias_x, bias_h) -> np.ndarray:
    """Q3.12 pre-activation of gate g for a batch: (B, H) int64."""
    acc_x = x @ layer.w_x[g].T.astype(np.int64) + bias_x[g]
    acc_h = h @ layer.w_h[g].T.astype(np.int64) + bias_h[g]
    from_x = sat16(requantize(acc_x, layer.gate_x_multiplier[g], layer.gate_x_shift[g]))
    return sat16(from_x + requantize(acc_h, layer.gate_h_multiplier[g], layer.gate_h_shift[g]))


def cell_update(layer: LSTMLayer, pre: list, c) -> tuple[np.ndarray, np.ndarray]:
    """Gate pre-activations (Q3.12, order i f g o) and the int16 cell state → (new cell
    state, o·tanh(c) requantized to the hidden scale before its zero point and saturation).
    The same for int8 and int16 activations (``lstm_s16``)."""
    i_t = sigmoid_s16(pre[GATE_INPUT]).astype(np.int64)
    f_t = sigmoid_s16(pre[GATE_FORGET]).astype(np.int64)
    g_t = tanh_s16(pre[GATE_CELL]).astype(np.int64)
    o_t = sigmoid_s16(pre[GATE_OUTPUT]).astype(np.int64)
    c = np.asarray(c, np.int64)
    forget_term = sat16(requantize(f_t * c, layer.forget_to_cell_multiplier, layer.forget_to_cell_shift))
    input_term = sat16(requantize(i_t * g_t, layer.input_to_cell_multiplier, layer.input_to_cell_shift))
    c_new = sat16(forget_term + input_term)
    if layer.cell_clip > 0:
        c_new = np.clip(c_new, -layer.cell_clip, layer.cell_clip)
    tanh_c = tanh_s16(c_new, layer.cell_scale_power + 12).astype(np.int64)
    return c_new, requantize(o_t * tanh_c, layer.hidden_multiplier, layer.hidden_shift)


def probe_step(probe, pre: list, c_new, h_new) -> None:
    """Report the gate pre-activations and states of a step to ``probe(name, array)``."""
    if probe is not None:
        for name, value in zip(("gate_input", "gate_forget", "gate_cell", "gate_output"), pre):
            probe(name, value)
        probe("cell", c_new)
        probe("hidden", h_new)


def lstm_s8_step(layer: LSTMLayer, x, h, c, biases, probe=None):
    """One time step for a batch: x (B, I) int8, h (B, H) int8, c (B, H) int16 → (h, c).

    ``probe``, if given, is called as ``probe(name, array)`` with the gate
    pre-activations and states (for quantization reports); it does not change results.
    """
    bias_x, bias_h = biases
    x = np.asarray(x, np.int64)
    h = np.asarray(h, np.int64)
    pre = [_gate(layer, g, x, h, bias_x, bias_h) for g in GATES]
    c_new, hid = cell_update(layer, pre, c)
    h_new = sat8(hid + layer.hidden_zero_point)
    probe_step(probe, pre, c_new, h_new)
    return h_new.astype(np.int8), c_new.astype(np.int16)


def initial_state(layer: LSTMLayer, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """h = zp_h (real zero), c = 0."""
    h = np.full((batch, layer.hidden_size), layer.hidden_zero_point, np.int8)
    return h, np.zeros((batch, layer.hidden_size), np.int16)


def scan(step, x, state: tuple, valid=None) -> tuple[np.ndarray, tuple]:
    """``step(x_t, h, c) -> (h, c)`` over x (B, T, I) from ``state``: (hidden states (B, T, H),
    final state). ``valid`` (B, T) bool, optional: on a step where it is False the state
    and the output stay those of the previous step (Keras masking)."""
    h, c = state
    batch, steps = x.shape[:2]
    out = np.empty((batch, steps, h.shape[1]), h.dtype)
    for t in range(steps):
        h_new, c_new = step(x[:, t, :], h, c)
        keep = np.ones((batch, 1), bool) if valid is None else np.asarray(valid)[:, t, None]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        out[:, t, :] = h
    return out, (h, c)


def lstm_s8(layer: LSTMLayer, x, state=None, probe=None, valid=None) -> tuple[np.ndarray, tuple]:
    """Run a batch of sequences x (B, T, I) int8 → (hidden states (B, T, H) int8, final state);
    ``valid`` as in ``scan``."""
    x = np.asarray(x)
    biases = effective_biases(layer)
    state = state if state is not None else initial_state(layer, x.shape[0])
    return scan(lambda x_t, h, c: lstm_s8_step(layer, x_t, h, c, biases, probe), x, state, valid)
