"""The 16x8 layers' C (``activation_bits`` 16): params of ``tinyrnn_lstm_s16``,
``tinyrnn_rnn_s16`` (``tinyrnn_rnn_s16x16`` with int16 weights) and ``tinyrnn_dense_s16``,
every integer computed here once.

Each matmul's (multiplier, shift) becomes TFLM's 64-bit requantization constants: the
Q31 multiplier rounded to Q15 (``reduced_multiplier``) and the right shift 15 − shift;
the LSTM cell's requantizations are the int8 LSTM's (``layout.requant``). A recurrent
layer's int16 state (h, and an LSTM's c) and its kernel's int16 work area (the previous
h) live in the model's state struct.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.codegen import layout, rnn
from tinyrnn.codegen.checks import as_int
from tinyrnn.core import domain
from tinyrnn.core.golden.dense_s16 import activation_range_s16
from tinyrnn.core.golden.fixedpoint import reduced_multiplier
from tinyrnn.core.ir import DenseLayer, LSTMLayer, SimpleRNNLayer

GATES = 4


def _c_list(values) -> str:
    return "{" + ", ".join(layout.c_int(int(v)) for v in values) + "}"


def _requant(where: str, stem: str, multiplier, shift, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(Q15 multipliers, right shifts) of n matmuls (the domain check has bounded both)."""
    mult = as_int(where, f"{stem}multiplier", multiplier, np.int32, (n,))
    shift = as_int(where, f"{stem}shift", shift, np.int32, (n,))
    return reduced_multiplier(mult), 15 - shift.astype(np.int64)


def _rows(w: np.ndarray) -> np.ndarray:
    """(4, H, K) gate rows → [H][4][K]: one block of four rows per unit (tinyrnn_lstm_s16.h)."""
    return np.ascontiguousarray(np.asarray(w).transpose(1, 0, 2))


def lstm_entry(layer: LSTMLayer, k: int, prefix: str, where: str, lut_name: str, source: str) -> tuple[dict, list]:
    """Template entry of one 16x8 LSTM layer (as ``generate._recurrent``) and its arrays."""
    H, I = layer.hidden_size, layer.input_size
    domain.check_layer(layer, where)
    w_x = as_int(where, "w_x", layer.w_x, np.int8, (GATES, H, I))
    w_h = as_int(where, "w_h", layer.w_h, np.int8, (GATES, H, H))
    bias = as_int(where, "bias", layer.bias, np.int64, (GATES, H))
    mx, rx = _requant(where, "gate_x_", layer.gate_x_multiplier, layer.gate_x_shift, GATES)
    mh, rh = _requant(where, "gate_h_", layer.gate_h_multiplier, layer.gate_h_shift, GATES)
    arrays = [
        layout.c_array(f"{prefix}_w_x", _rows(w_x), np.int8, f"{where}: input weights [H][4][I]"),
        layout.c_array(f"{prefix}_w_h", _rows(w_h), np.int8, f"{where}: recurrent weights [H][4][H]"),
        layout.c_array(f"{prefix}_bias", bias.T, np.int64, f"{where}: input biases [H][4]"),
    ]
    clip = int(layer.cell_clip)
    cell_min, cell_max = (max(-clip, -32768), min(clip, 32767)) if clip > 0 else (-32768, 32767)
    tanh_mul, tanh_round, tanh_shift = layout.tanh_prescale(int(layer.cell_scale_power) + 12)
    fields = {"input_size": I, "hidden_size": H, "w_x": arrays[0]["cname"], "w_h": arrays[1]["cname"],
              "bias": arrays[2]["cname"], "gate_mul": _c_list(np.stack([mx, mh], 1).reshape(-1)),
              "gate_rshift": _c_list(np.stack([rx, rh], 1).reshape(-1)),
              **{stem: layout.c_struct(layout.requant(int(getattr(layer, f"{stem}_multiplier")),
                                                      int(getattr(layer, f"{stem}_shift")), domain.CELL_PRODUCT_BOUND))
                 for stem in domain.LSTM_PRODUCTS},
              "cell_min": cell_min, "cell_max": cell_max, "tanh_cell_mul": tanh_mul, "tanh_cell_round": tanh_round,
              "tanh_cell_shift": tanh_shift, "sigmoid_lut": lut_name}  # fmt: skip
    state = [("int16_t", f"l{k}_c", H, 0, f"{where}: cell state")]
    return _entry(k, prefix, where, source, "lstm", fields, state), arrays


def rnn_entry(layer: SimpleRNNLayer, k: int, prefix: str, where: str, lut_name: str, source: str) -> tuple[dict, list]:
    """Template entry of one 16x8 SimpleRNN layer (int8 or int16 weights) and its arrays."""
    H, I = layer.hidden_size, layer.input_size
    rnn.check_activation(layer, where)
    domain.check_layer(layer, where)
    mx, rx = _requant(where, "x_", [layer.x_multiplier], [layer.x_shift], 1)
    mh, rh = _requant(where, "h_", [layer.h_multiplier], [layer.h_shift], 1)
    wt = np.int16 if layer.weight_bits == 16 else np.int8
    arrays = [
        layout.c_array(f"{prefix}_w_x", as_int(where, "w_x", layer.w_x, wt, (H, I)), wt,
                       f"{where}: input weights [H][I]"),
        layout.c_array(f"{prefix}_w_h", as_int(where, "w_h", layer.w_h, wt, (H, H)), wt,
                       f"{where}: recurrent weights [H][H]"),
        layout.c_array(f"{prefix}_bias", as_int(where, "bias", layer.bias, np.int64, (H,)), np.int64,
                       f"{where}: input biases [H]"),
    ]  # fmt: skip
    weights = ("w16_x", "w16_h") if layer.weight_bits == 16 else ("w_x", "w_h")  # the other pair stays NULL
    fields = {"input_size": I, "hidden_size": H, "tanh": int(layer.activation == "tanh"),
              **{f: a["cname"] for f, a in zip((*weights, "bias"), arrays)},
              "mul": _c_list([*mx, *mh]), "rshift": _c_list([*rx, *rh]), "sigmoid_lut": lut_name}  # fmt: skip
    kernel = "tinyrnn_rnn_s16x16_step" if layer.weight_bits == 16 else "tinyrnn_rnn_s16_step"
    return {**_entry(k, prefix, where, source, "rnn", fields, []), "kernel": kernel}, arrays


def _entry(k: int, prefix: str, where: str, source: str, kind: str, fields: dict, state: list) -> dict:
    """A 16x8 recurrent layer's template entry (as ``generate._recurrent``): its int16 h
    after ``state`` (an LSTM's c), the H int16 scratch its kernel copies the previous h to."""
    H, h = fields["hidden_size"], f"l{k}_h"
    state = [*state, ("int16_t", h, H, 0, f"{where}: hidden state")]
    extra = "".join(f", st->{s[1]}" for s in state[:-1])
    return {"index": k, "kind": kind, "params": f"{prefix}_params", "input": source, "h": h, "size": H,
            "comment": where, "ctype": f"tinyrnn_{kind}_s16_params", "kernel": f"tinyrnn_{kind}_s16_step",
            "scratch": (0, H, 0), "args": f"st->{h}{extra}, st->scratch", "fields": fields, "state": state,
            "state_io": [s[1] for s in state[::-1]]}  # fmt: skip


def dense_fields(layer: DenseLayer, prefix: str, where: str) -> tuple[dict, list]:
    """The fields of one 16x8 Dense layer's params struct and its arrays."""
    O, I = layer.output_size, layer.input_size
    domain.check_layer(layer, where)
    mult, rshift = _requant(where, "", layer.multiplier, layer.shift, O)
    arrays = [
        layout.c_array(f"{prefix}_weights", as_int(where, "weights", layer.weights, np.int8, (O, I)), np.int8,
                       f"{where}: weights [O][I]"),
        layout.c_array(f"{prefix}_bias", as_int(where, "bias", layer.bias, np.int64, (O,)), np.int64,
                       f"{where}: bias [O]"),
        layout.c_array(f"{prefix}_multiplier", mult, np.int32, f"{where}: Q15 multiplier [O]"),
        layout.c_array(f"{prefix}_rshift", rshift, np.int32, f"{where}: right shift 15 - shift [O]"),
    ]  # fmt: skip
    fields = {"input_size": I, "output_size": O, **{k: a["cname"] for k, a in zip(
        ("weights", "bias", "multiplier", "rshift"), arrays)}}  # fmt: skip
    fields["activation_min"], fields["activation_max"] = activation_range_s16(layer)
    return fields, arrays
