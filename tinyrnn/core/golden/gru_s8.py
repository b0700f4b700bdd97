"""int8 GRU (C twin: tinyrnn_gru_s8.c). No TFLM/CMSIS-NN kernel exists; this is the spec.

Per step, with h16 the int16 Q0.15 state and h8 = round(h16/256) (int8, scale 1/128):
  z = sigmoid(sat16(rq(Wz·x + bz) + rq(Uz·h8 + cz)))          Q0.15
  r = sigmoid(sat16(rq(Wr·x + br) + rq(Ur·h8 + cr)))          Q0.15
  reset_after:  a = sat16(rq(Wh·x + bh) + sat16(r · sat16(rq(Uh·h8 + ch)) >> 15))
  otherwise:    a = sat16(rq(Wh·x + bh) + rq(Uh·round(r·h16 >> 23)))
  h~ = tanh(a);  h16 = sat16((z·h16 + (32768 − z)·h~) >> 15)   (rounding shifts)
rq() is requantize to Q3.12 with the gate's (multiplier, shift); x's zero point is
folded into the input biases once (``effective_biases``).
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.activation_s16 import sigmoid_s16, tanh_s16
from tinyrnn.core.golden.fixedpoint import requantize, rounding_divide_by_pot, sat8, sat16
from tinyrnn.core.ir import GRULayer

# Gate order (Keras): C TINYRNN_GRU_UPDATE, _RESET, _CANDIDATE; the candidate comes last, so
# without reset_after codegen splits its recurrent rows off (w_h[GATE_CANDIDATE:]).
GATE_UPDATE, GATE_RESET, GATE_CANDIDATE = GATES = range(3)
ONE_Q15 = 1 << 15


def effective_biases(layer: GRULayer) -> tuple[np.ndarray, np.ndarray]:
    bias_x = layer.bias_x.astype(np.int64) - layer.input_zero_point * layer.w_x.astype(np.int64).sum(axis=2)
    if bias_x.min() < -(2**31) or bias_x.max() > 2**31 - 1:
        raise OverflowError(f"layer {layer.name}: input effective bias overflows int32")
    return bias_x.astype(np.int32), layer.bias_h.astype(np.int32)


def hidden_s8(h16) -> np.ndarray:
    """Q0.15 int16 → int8 with scale 1/128: rounding shift by 8, saturated."""
    return sat8(rounding_divide_by_pot(np.asarray(h16, np.int64), 8))


def _matmul(layer, g, vec, weights, bias, mult, shift):
    acc = vec @ weights[g].T.astype(np.int64) + bias[g]
    return sat16(requantize(acc, mult[g], shift[g]))


def gru_s8_step(layer: GRULayer, x, h16, biases, probe=None):
    """x (B, I) int8, h16 (B, H) int16 → new h16 (B, H) int16."""
    bias_x, bias_h = biases
    x = np.asarray(x, np.int64)
    h16 = np.asarray(h16, np.int64)
    h8 = hidden_s8(h16)
    from_x = [_matmul(layer, g, x, layer.w_x, bias_x, layer.gate_x_multiplier, layer.gate_x_shift) for g in GATES]

    def from_h(g, vec):
        return _matmul(layer, g, vec, layer.w_h, bias_h, layer.gate_h_multiplier, layer.gate_h_shift)

    pre_z = sat16(from_x[GATE_UPDATE] + from_h(GATE_UPDATE, h8))
    pre_r = sat16(from_x[GATE_RESET] + from_h(GATE_RESET, h8))
    z = sigmoid_s16(pre_z).astype(np.int64)
    r = sigmoid_s16(pre_r).astype(np.int64)
    if layer.reset_after:
        gated = sat16(rounding_divide_by_pot(r * from_h(GATE_CANDIDATE, h8), 15))
    else:
        reset_h8 = sat8(rounding_divide_by_pot(r * h16, 23))
        gated = from_h(GATE_CANDIDATE, reset_h8)
    pre_c = sat16(from_x[GATE_CANDIDATE] + gated)
    cand = tanh_s16(pre_c).astype(np.int64)
    h_new = sat16(rounding_divide_by_pot(z * h16 + (ONE_Q15 - z) * cand, 15))
    if probe is not None:
        for name, value in (("gate_update", pre_z), ("gate_reset", pre_r), ("gate_candidate", pre_c), ("hidden", h_new)):
            probe(name, value)
    return h_new.astype(np.int16)


def initial_state(layer: GRULayer, batch: int) -> np.ndarray:
    return np.zeros((batch, layer.hidden_size), np.int16)


def gru_s8(layer: GRULayer, x, state=None, probe=None, valid=None) -> tuple[np.ndarray, np.ndarray]:
    """x (B, T, I) int8 → (h8 outputs (B, T, H) int8, final h16 state); ``valid`` (B, T)
    bool, optional: a False step keeps the state (and so the output) of the step before."""
    x = np.asarray(x)
    batch, steps, _ = x.shape
    h16 = state if state is not None else initial_state(layer, batch)
    biases = effective_biases(layer)
    out = np.empty((batch, steps, layer.hidden_size), np.int8)
    for t in range(steps):
        h_new = gru_s8_step(layer, x[:, t, :], h16, biases, probe)
        h16 = h_new if valid is None else np.where(np.asarray(valid)[:, t, None], h_new, h16)
        out[:, t, :] = hidden_s8(h16)
    return out, h16
