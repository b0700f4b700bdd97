"""The numeric domain of the integer kernels: the parameters for which the golden model
and the C compute the same numbers, because no int32 intermediate can overflow.

One check, three users: ``validate`` (so an artifact outside it does not load, whatever
its hash), codegen (before it emits a parameter) and, on the actual values, the golden
model's ``requantize`` (``fixedpoint.shifted_fits``). For every requantization
``acc·m·2^shift/2^31`` the bound of ``|acc|`` over all int8 inputs and int16 states,
times ``2^max(shift, 0)``, must fit int32: that is the kernels' (and TFLM's) left shift
before the multiply, which overflows (TFLM: undefined behaviour; tinyrnn's C:
saturation; the golden model's int64: a wrong product) outside it. The accumulators
themselves must fit int32, shifts lie in [-31, 30], and the tanh prescale of the cell
state in [-31, 14]. A 16x8 layer (``activation_bits`` 16) instead accumulates in int64
from int16 inputs: every accumulator bound must stay below 2^47 and every matmul shift
in [-31, 7] with a non-negative multiplier (TFLM's 64-bit requantization, ``requantize_s64``).
Errors name the layer and the field.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden import activation_s8, bidirectional_s8, conv1d_s8, dense_s8, gru_s8, lstm_s8, rnn_s8
from tinyrnn.core.golden.fixedpoint import ACC_BOUND, INT32_MAX, shifted_fits
from tinyrnn.core.ir import GLOBAL_KINDS, Conv1DLayer, DenseLayer, GRULayer, LSTMLayer, Pool1DLayer, SimpleRNNLayer

SHIFT_MIN, SHIFT_MAX = -31, 30  # rounding divide by 2^31 at most; left shift below 2^31
ACT_SHIFT_MIN, ACT_SHIFT_MAX = -31, 14  # tinyrnn_act_prescale keeps int16·3·2^s in int32
# Largest |int16 · int16| product the LSTM cell requantizes: a Q0.15 gate in [0, 32767]
# times an int16 value (cell state, tanh output).
CELL_PRODUCT_BOUND = 32767 * 32768
LSTM_PRODUCTS = {"forget_to_cell": "f·c", "input_to_cell": "i·g", "hidden": "o·tanh(c)"}
WIDE_SHIFT_MIN, WIDE_SHIFT_MAX = -31, 7  # requantize_s64: a right shift of 15 - shift in [8, 46]


def acc_bound(w: np.ndarray, bias: np.ndarray, top: int = 128) -> np.ndarray:
    """Largest |bias + w·v| over int8 v, per row (|v| <= 128, or ``top``); w (..., K), bias (...)."""
    return np.abs(np.asarray(bias, np.int64)) + top * np.abs(np.asarray(w, np.int64)).sum(axis=-1)


def _shifts(where: str, field: str, shift) -> np.ndarray:
    s = np.atleast_1d(np.asarray(shift, np.int64))
    bad = (s < SHIFT_MIN) | (s > SHIFT_MAX)
    if bad.any():
        k = int(np.argmax(bad))
        raise TinyrnnError(f"{where}: {_at(field, k, s.size)} = {int(s[k])} outside [{SHIFT_MIN}, {SHIFT_MAX}]")
    return s


def _at(field: str, k: int, size: int) -> str:
    return f"{field}[{k}]" if size > 1 else field


def check_requant(where: str, field: str, what: str, bound, shift) -> None:
    """``field`` (a shift, scalar or per gate/channel) against the accumulator bound(s)."""
    s = _shifts(where, field, shift)
    b = np.broadcast_to(np.asarray(bound, np.int64), s.shape)
    ok = shifted_fits(b, s)
    if not ok.all():
        k = int(np.argmin(ok))
        raise TinyrnnError(f"{where}: {_at(field, k, s.size)} = {int(s[k])}: {what} (|.| up to {int(b[k])}) "
                           f"· 2^{int(s[k])} overflows int32, outside the kernels' requantization domain")


def _check_acc(where: str, field: str, bound: np.ndarray) -> None:
    if bound.size and bound.max() > INT32_MAX:
        raise TinyrnnError(f"{where}: {field} with its bias: the accumulator can overflow int32 "
                           f"(bound {int(bound.max())})")


def _biases(where: str, fn, layer):
    try:
        return fn(layer)
    except OverflowError as exc:
        raise TinyrnnError(f"{where}: {exc}") from None


def _gates(where: str, layer, bias_x, bias_h) -> tuple[np.ndarray, np.ndarray]:
    bound_x, bound_h = acc_bound(layer.w_x, bias_x), acc_bound(layer.w_h, bias_h)  # (gates, units)
    _check_acc(where, "w_x", bound_x)
    _check_acc(where, "w_h", bound_h)
    check_requant(where, "gate_x_shift", "input matmul", bound_x.max(axis=1), layer.gate_x_shift)
    check_requant(where, "gate_h_shift", "recurrent matmul", bound_h.max(axis=1), layer.gate_h_shift)
    return bound_x, bound_h


def _check_wide(where: str, matmuls: tuple) -> None:
    """16x8 matmuls (weights field, bound, shift field, shifts, multiplier field, multipliers)."""
    for w_field, bound, s_field, shift, m_field, mult in matmuls:
        if bound.size and bound.max() >= ACC_BOUND:
            raise TinyrnnError(f"{where}: {w_field} with its bias: the int64 accumulator can reach "
                               f"{int(bound.max())}, at least 2^47 (TFLM's 64-bit requantization)")
        s, m = np.atleast_1d(np.asarray(shift, np.int64)), np.atleast_1d(np.asarray(mult, np.int64))
        bad = (s < WIDE_SHIFT_MIN) | (s > WIDE_SHIFT_MAX)
        if bad.any():
            k = int(np.argmax(bad))
            raise TinyrnnError(f"{where}: {_at(s_field, k, s.size)} = {int(s[k])} outside [{WIDE_SHIFT_MIN}, "
                               f"{WIDE_SHIFT_MAX}] (a 16x8 layer's 64-bit requantization)")
        if (m < 0).any():
            k = int(np.argmax(m < 0))
            raise TinyrnnError(f"{where}: {_at(m_field, k, m.size)} = {int(m[k])} is negative (a 16x8 layer's "
                               "multipliers are not)")


def check_wide(layer, where: str) -> dict:
    """The domain of a 16x8 LSTM, SimpleRNN or Dense layer (int16 inputs: |v| <= 2^15)."""
    if isinstance(layer, DenseLayer):
        bound = acc_bound(layer.weights, layer.bias, 1 << 15)
        _check_wide(where, (("weights", bound, "shift", layer.shift, "multiplier", layer.multiplier),))
        return {"bound": bound}
    if not isinstance(layer, (LSTMLayer, SimpleRNNLayer)):
        raise TinyrnnError(f"{where}: a {layer.kind} layer has no 16x8 kernel (activation_bits 16: LSTM, SimpleRNN "
                           "and Dense)")
    stem = "gate_" if isinstance(layer, LSTMLayer) else ""  # per-gate pairs, or the SimpleRNN's one
    bound_x, bound_h = acc_bound(layer.w_x, layer.bias, 1 << 15), acc_bound(layer.w_h, 0, 1 << 15)
    _check_wide(where, tuple((f"w_{p}", bound, f"{stem}{p}_shift", getattr(layer, f"{stem}{p}_shift"),
                              f"{stem}{p}_multiplier", getattr(layer, f"{stem}{p}_multiplier"))
                             for p, bound in (("x", bound_x), ("h", bound_h))))
    if isinstance(layer, LSTMLayer):
        _check_cell(layer, where)
    return {"bound_x": bound_x, "bound_h": bound_h}


def _check_cell(layer: LSTMLayer, where: str) -> None:
    """The LSTM cell's requantizations and the tanh prescale of the cell state (int8 and 16x8 alike)."""
    for stem, what in LSTM_PRODUCTS.items():
        check_requant(where, f"{stem}_shift", what, CELL_PRODUCT_BOUND, getattr(layer, f"{stem}_shift"))
    tanh_shift = int(layer.cell_scale_power) + 12  # cell state (scale 2^p) → Q3.12
    if not ACT_SHIFT_MIN <= tanh_shift <= ACT_SHIFT_MAX:
        raise TinyrnnError(f"{where}: cell_scale_power = {int(layer.cell_scale_power)} outside "
                           f"[{ACT_SHIFT_MIN - 12}, {ACT_SHIFT_MAX - 12}] (tanh of the cell state)")


def check_layer(layer, where: str) -> dict:
    """Refuse a layer outside the domain (TinyrnnError naming the field); else its
    accumulator bounds, which codegen's precomputed requantization uses."""
    if getattr(layer, "activation_bits", 8) == 16:
        return check_wide(layer, where)
    if isinstance(layer, DenseLayer):
        bound = acc_bound(layer.weights, _biases(where, dense_s8.effective_bias, layer))
        _check_acc(where, "weights", bound)
        check_requant(where, "shift", "output matmul", bound, layer.shift)
        if layer.activation == "softmax" and layer.has_table and layer.output_size > activation_s8.SOFTMAX_MAX_SIZE:
            raise TinyrnnError(f"{where}: output_size = {layer.output_size}: the softmax sum of exp values can "
                               f"overflow int32 (at most {activation_s8.SOFTMAX_MAX_SIZE} outputs)")
        return {"bound": bound}
    if isinstance(layer, Pool1DLayer):
        return {}  # no arithmetic beyond a sum of at most 4096 int8 values
    if getattr(layer, "kind", None) in GLOBAL_KINDS:
        return {}  # a copy, or a sum of at most GlobalPool1DLayer.MAX_COUNT int8 values
    if isinstance(layer, Conv1DLayer):
        w = layer.weights.reshape(layer.output_size, -1)
        bound = acc_bound(w, _biases(where, conv1d_s8.effective_bias, layer))
        _check_acc(where, "weights", bound)
        check_requant(where, "shift", "convolution", bound, layer.shift)
        return {"bound": bound}
    if isinstance(layer, GRULayer):
        bound_x, bound_h = _gates(where, layer, *_biases(where, gru_s8.effective_biases, layer))
        return {"bound_x": bound_x, "bound_h": bound_h}
    if isinstance(layer, SimpleRNNLayer):
        bias_x, bias_h = _biases(where, rnn_s8.effective_biases, layer)
        bound_x, bound_h = acc_bound(layer.w_x, bias_x), acc_bound(layer.w_h, bias_h)  # (units,)
        _check_acc(where, "w_x", bound_x)
        _check_acc(where, "w_h", bound_h)
        check_requant(where, "x_shift", "input matmul", bound_x.max(initial=0), layer.x_shift)
        check_requant(where, "h_shift", "recurrent matmul", bound_h.max(initial=0), layer.h_shift)
        return {"bound_x": bound_x, "bound_h": bound_h}
    if not isinstance(layer, LSTMLayer):
        raise TinyrnnError(f"{where}: layer kind {getattr(layer, 'kind', type(layer).__name__)!r} unknown")
    bound_x, bound_h = _gates(where, layer, *_biases(where, lstm_s8.effective_biases, layer))
    _check_cell(layer, where)
    return {"bound_x": bound_x, "bound_h": bound_h}


def check_merge(layer, where: str) -> None:
    """A Bidirectional merge's requantizations (``bidirectional_s8.merge_bounds``)."""
    for i, bound in enumerate(bidirectional_s8.merge_bounds(layer)):
        if bound:
            check_requant(where, f"merge_shift[{i}]", "merge", bound, layer.merge_shift[i])
    if layer.merge_mode in ("sum", "ave") and max(int(v) for v in layer.merge_shift[:2]) > 0:
        raise TinyrnnError(f"{where}: merge_shift[:2] = {[int(v) for v in layer.merge_shift[:2]]}: a merge input "
                           "shift > 0 can overflow the int32 sum")
