"""Float layer + calibrated ranges → IR layer with every integer parameter decided.

Scheme (the TFLite Micro integer LSTM's): int8 activations with asymmetric scale and
zero point; int8 symmetric weights with one scale per gate and path (LSTM) or per
output channel (Dense); int32 biases at scale s_in·s_w; gate pre-activations Q3.12;
cell state int16 with a power-of-two scale.

Levers (options of ``quantize_model``; they change only the parameters put into the IR,
never the integer math): ``cell_power`` picks the cell state's power-of-two scale from
the calibrated extremes ("max": never saturates on calibration data; "tight": one power
lower, so the largest values saturate in exchange for twice the resolution;
"percentile": from the calibration percentile of |c|). ``bias_correction`` subtracts
the mean pre-activation shift that weight rounding causes, (W_q·s − W)·E[input], from
the float bias before it is quantized (per gate and path; means from calibration).
``weights`` picks each weight block's scale: "max" (max |w| → 127) or "mse" (the clip
with the least rounding + clipping error; large outlier weights saturate at ±127).
"""

from __future__ import annotations

import math

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.domain import acc_bound
from tinyrnn.core.golden.activation_s8 import build_table
from tinyrnn.core.golden.bidirectional_s8 import LEFT_SHIFT
from tinyrnn.core.golden.fixedpoint import ACC_BOUND, quantize_multiplier
from tinyrnn.core.golden.rnn_s8 import OUTPUT_SHIFT
from tinyrnn.core.ir import (
    TABLE_ACTIVATIONS,
    BidirectionalLayer,
    Conv1DLayer,
    DenseLayer,
    FlattenLayer,
    GlobalPool1DLayer,
    GRULayer,
    LSTMLayer,
    Pool1DLayer,
    SimpleRNNLayer,
)
from tinyrnn.quantize.float_model import (
    FloatBidirectional,
    FloatConv1D,
    FloatDense,
    FloatFlatten,
    FloatGlobalPool1D,
    FloatGRU,
    FloatLSTM,
    FloatPool1D,
    FloatSimpleRNN,
)

GATE_FRAC_BITS = 12  # Q3.12
Q15 = 2.0**-15
CELL_POWERS = ("max", "tight", "percentile")
WEIGHT_RULES = ("max", "mse")
WEIGHT_FRACTIONS = np.linspace(1.0, 0.2, 81)  # "mse" weight scales: fractions of max |w|/127 tried
# A relu SimpleRNN state that stays below this on calibration data is dead; a grid at
# least this wide keeps its scale from collapsing (the next layer's bias scale is s_h·s_w).
RELU_MIN_RANGE = 1.0 / 128


def symmetric16(lo: float, hi: float) -> tuple[float, int]:
    """(scale, 0) of an int16 grid covering [lo, hi] symmetrically (TFLM's int16 activations)."""
    top = max(abs(lo), abs(hi), 1e-6)
    return top / 32767.0, 0


def asymmetric(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero_point) of an int8 grid covering [lo, hi] and exactly 0."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        hi = lo + 1e-6
    scale = (hi - lo) / 255.0
    zero_point = int(np.clip(round(-128 - lo / scale), -128, 127))
    return scale, zero_point


def grid(lo: float, hi: float, bits: int) -> tuple[float, int]:
    """The activation grid of [lo, hi]: int8 asymmetric, or int16 symmetric."""
    return symmetric16(lo, hi) if bits == 16 else asymmetric(lo, hi)


def _mse_weight_scale(w: np.ndarray, scale: np.ndarray, axis, top: int) -> np.ndarray:
    """Per slice, the scale among WEIGHT_FRACTIONS·scale with the least rounding + clipping MSE."""
    keep = axis is not None
    best, best_err = scale, np.full(np.shape(scale), np.inf)
    for f in WEIGHT_FRACTIONS:
        s = scale * f
        err = np.mean((np.clip(np.round(w / s), -top, top) * s - w) ** 2, axis=axis, keepdims=keep)
        better = err < best_err
        best, best_err = np.where(better, s, best), np.where(better, err, best_err)
    return best


def symmetric_weights(w: np.ndarray, axis=None, rule: str = "max", bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights in [-127, 127] (``bits`` 16: int16 in [-32767, 32767]) and their scale(s)
    over ``axis``: max |w|, or the clip with least MSE."""
    if rule not in WEIGHT_RULES:
        raise TinyrnnError(f"weights {rule!r} unknown (use one of {', '.join(WEIGHT_RULES)})")
    top = 2 ** (bits - 1) - 1
    peak = np.max(np.abs(w), axis=axis, keepdims=axis is not None)
    scale = np.where(peak > 0, peak / top, 1.0)
    if rule == "mse":
        scale = _mse_weight_scale(w, scale, axis, top)
    return np.clip(np.round(w / scale), -top, top).astype(np.int16 if bits == 16 else np.int8), np.squeeze(scale)


def int32_bias(b: np.ndarray, scale, where: str, bits: int = 8) -> np.ndarray:
    """The bias at ``scale``: int32, or int64 for a 16x8 layer (``bits`` 16; TFLM's int16 kernels)."""
    q = np.round(np.asarray(b, np.float64) / scale)
    if np.abs(q).max(initial=0) >= (ACC_BOUND if bits == 16 else 2**31):  # 16x8: the int64 accumulator's bound
        raise TinyrnnError(f"{where}: bias does not fit {'±2^47' if bits == 16 else 'int32'} at scale "
                           f"{np.min(scale):.3g}")
    return q.astype(np.int64 if bits == 16 else np.int32)


def multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(r)) for r in np.atleast_1d(reals)]
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)


def cell_scale_power(abs_cell_max: float) -> int:
    """Smallest p (≥ −15) with |c| ≤ 2^(15+p): the cell state never saturates on calibration data."""
    if abs_cell_max <= 0:
        return -15
    return max(-15, math.ceil(math.log2(abs_cell_max)) - 15)


def choose_cell_power(ranges: dict, rule: str) -> int:
    """The cell state's scale power by ``rule`` (see CELL_POWERS and the module docstring)."""
    if rule == "max":
        return cell_scale_power(ranges["abs_cell"])
    if rule == "tight":
        return max(-15, cell_scale_power(ranges["abs_cell"]) - 1)
    if rule == "percentile":
        return cell_scale_power(ranges["abs_cell_percentile"])
    raise TinyrnnError(f"cell_power {rule!r} unknown (use one of {', '.join(CELL_POWERS)})")


def bias_shift(w: np.ndarray, q: np.ndarray, scale, mean: np.ndarray) -> np.ndarray:
    """(W_q·s − W)·E[input]: the mean pre-activation shift caused by rounding W (H, I) to q·scale."""
    return (q.astype(np.float64) * scale - w) @ np.asarray(mean, np.float64)


def quantize_lstm(layer: FloatLSTM, in_scale: float, in_zp: int, ranges: dict, *, bias_correction: bool = False,
                  cell_power: str = "max", weights: str = "max", bits: int = 8) -> LSTMLayer:  # fmt: skip
    """Both paths' bias corrections go into the one (input-path) bias: the gate adds them anyway.
    ``bits`` 16: the 16x8 layer (symmetric int16 hidden state, int64 biases)."""
    units = layer.units
    p = choose_cell_power(ranges, cell_power)
    lo, hi = ranges["hidden"]
    h_scale, h_zp = grid(max(lo, -1.0), min(hi, 1.0), bits)
    w_x, w_h, bias = [], [], []
    real_x, real_h = [], []
    for g in range(4):
        wx, wh, b = layer.gate_weights(g)
        qx, sx = symmetric_weights(wx, rule=weights)
        qh, sh = symmetric_weights(wh, rule=weights)
        if bias_correction:
            b = b - bias_shift(wx, qx, sx, ranges["input_mean"]) - bias_shift(wh, qh, sh, ranges["hidden_mean"])
        w_x.append(qx)
        w_h.append(qh)
        bias.append(int32_bias(b, in_scale * sx, f"layer '{layer.name}'", bits))
        real_x.append(in_scale * sx * 2**GATE_FRAC_BITS)
        real_h.append(h_scale * sh * 2**GATE_FRAC_BITS)
    mx, shx = multipliers(real_x)
    mh, shh = multipliers(real_h)
    (f2c_m,), (f2c_s,) = multipliers(Q15)
    (i2c_m,), (i2c_s,) = multipliers(Q15 * Q15 / 2.0**p)
    (hid_m,), (hid_s,) = multipliers(Q15 * Q15 / h_scale)
    return LSTMLayer(
        name=layer.name, input_size=layer.kernel.shape[0], hidden_size=units,
        return_sequences=layer.return_sequences,
        w_x=np.stack(w_x), w_h=np.stack(w_h), bias=np.stack(bias),
        input_zero_point=in_zp, hidden_zero_point=h_zp, input_scale=in_scale, hidden_scale=h_scale,
        gate_x_multiplier=mx, gate_x_shift=shx, gate_h_multiplier=mh, gate_h_shift=shh,
        cell_scale_power=p, cell_clip=0,
        forget_to_cell_multiplier=int(f2c_m), forget_to_cell_shift=int(f2c_s),
        input_to_cell_multiplier=int(i2c_m), input_to_cell_shift=int(i2c_s),
        hidden_multiplier=int(hid_m), hidden_shift=int(hid_s), activation_bits=bits,
    )  # fmt: skip


def gru_bias_corrections(layer: FloatGRU, g: int, weights: tuple, ranges: dict) -> tuple:
    """(input-path, recurrent-path) bias shifts of GRU gate g; weights = (wx, qx, sx, wh, qh, sh).

    Update/reset: each path's shift goes into its own bias. Candidate: the recurrent
    path is gated by r, so its shift is taken over the gated quantity and put into the
    input-path bias, which is added outside the gating. reset_after=True: r_j multiplies
    (U·h)_j, shift_j = Σ_k ΔU_jk·E[r_j·h_k]; reset_after=False: U multiplies r⊙h,
    shift = ΔU·E[r⊙h] (this keeps the recurrent candidate bias row 0, as the IR documents).
    """
    wx, qx, sx, wh, qh, sh = weights
    from_x = bias_shift(wx, qx, sx, ranges["input_mean"])
    if g < 2:
        return from_x, bias_shift(wh, qh, sh, ranges["hidden_mean"])
    if layer.reset_after:
        gated = ((qh.astype(np.float64) * sh - wh) * ranges["reset_outer_mean"]).sum(axis=1)
    else:
        gated = bias_shift(wh, qh, sh, ranges["reset_hidden_mean"])
    return from_x + gated, np.zeros_like(from_x)


def quantize_gru(layer: FloatGRU, in_scale: float, in_zp: int, ranges: dict, *,
                 bias_correction: bool = False, weights: str = "max") -> GRULayer:  # fmt: skip
    """The hidden state's scale is fixed (int8 1/128, int16 Q0.15): |h| < 1 always."""
    h_scale = GRULayer.hidden_scale
    w_x, w_h, bias_x, bias_h, real_x, real_h = [], [], [], [], [], []
    for g in range(3):
        wx, wh, b_in, b_rec = layer.gate_weights(g)
        qx, sx = symmetric_weights(wx, rule=weights)
        qh, sh = symmetric_weights(wh, rule=weights)
        if bias_correction:
            shift_x, shift_h = gru_bias_corrections(layer, g, (wx, qx, sx, wh, qh, sh), ranges)
            b_in, b_rec = b_in - shift_x, b_rec - shift_h
        w_x.append(qx)
        w_h.append(qh)
        bias_x.append(int32_bias(b_in, in_scale * sx, f"layer '{layer.name}'"))
        bias_h.append(int32_bias(b_rec, h_scale * sh, f"layer '{layer.name}'"))
        real_x.append(in_scale * sx * 2**GATE_FRAC_BITS)
        real_h.append(h_scale * sh * 2**GATE_FRAC_BITS)
    mx, shx = multipliers(real_x)
    mh, shh = multipliers(real_h)
    return GRULayer(
        name=layer.name, input_size=layer.kernel.shape[0], hidden_size=layer.units,
        return_sequences=layer.return_sequences, reset_after=layer.reset_after,
        w_x=np.stack(w_x), w_h=np.stack(w_h), bias_x=np.stack(bias_x), bias_h=np.stack(bias_h),
        input_zero_point=in_zp, input_scale=in_scale,
        gate_x_multiplier=mx, gate_x_shift=shx, gate_h_multiplier=mh, gate_h_shift=shh,
    )  # fmt: skip


def quantize_rnn(layer: FloatSimpleRNN, in_scale: float, in_zp: int, ranges: dict, *, bias_correction: bool = False,
                 weights: str = "max", bits: int = 8, weight_bits: int = 8) -> SimpleRNNLayer:  # fmt: skip
    """tanh: state scale fixed (``tanh_scale``: |h| < 1, zero point 0), pre-activation Q3.12.
    relu: state grid from the calibrated hidden range (h >= 0); int8: pre-activation scale
    s_h·2^-OUTPUT_SHIFT; ``bits`` 16 (the 16x8 layer, int64 bias): pre-activation at s_h,
    the symmetric grid over twice the range (the matmul parts' headroom, golden rnn_s16).
    ``weight_bits`` 16 (with ``bits`` 16): int16 weights. Both paths' bias corrections go
    into the one bias."""
    top = max(ranges["hidden"][1], RELU_MIN_RANGE)
    if layer.activation == "tanh":
        h_scale, h_zp = SimpleRNNLayer.TANH_SCALES[bits], 0
        pre_scale = 2.0**-GATE_FRAC_BITS
    elif bits == 16:
        h_scale, h_zp = symmetric16(0.0, 2 * top)
        pre_scale = h_scale
    else:
        h_scale, h_zp = asymmetric(0.0, top)
        pre_scale = h_scale * 2.0 ** -OUTPUT_SHIFT["relu"]
    wx, wh = layer.kernel.T, layer.recurrent_kernel.T
    qx, sx = symmetric_weights(wx, rule=weights, bits=weight_bits)
    qh, sh = symmetric_weights(wh, rule=weights, bits=weight_bits)
    b = layer.bias
    if bias_correction:
        b = b - bias_shift(wx, qx, sx, ranges["input_mean"]) - bias_shift(wh, qh, sh, ranges["hidden_mean"])
    (mx,), (shx,) = multipliers(in_scale * sx / pre_scale)
    (mh,), (shh,) = multipliers(h_scale * sh / pre_scale)
    return SimpleRNNLayer(
        name=layer.name, input_size=layer.kernel.shape[0], hidden_size=layer.units,
        return_sequences=layer.return_sequences, activation=layer.activation,
        w_x=qx, w_h=qh, bias=int32_bias(b, in_scale * sx, f"layer '{layer.name}'", bits),
        input_zero_point=in_zp, hidden_zero_point=h_zp, input_scale=in_scale, hidden_scale=h_scale,
        x_multiplier=int(mx), x_shift=int(shx), h_multiplier=int(mh), h_shift=int(shh), activation_bits=bits,
        weight_bits=weight_bits,
    )  # fmt: skip


def quantize_dense(layer: FloatDense, in_scale: float, in_zp: int, ranges: dict, *, bias_correction: bool = False,
                   weights: str = "max", last: bool = True, bits: int = 8,
                   logits_bits: int = 8) -> DenseLayer:  # fmt: skip
    """The requantized grid covers the calibrated pre-activation ("logits"), from 0 for
    relu/relu6 (to at most 6 for relu6). Unless it is the model's ``last`` layer (its
    logits are the output), a sigmoid/tanh/softmax layer also gets its table and the quantization after it.
    ``bits`` 16: the 16x8 layer (symmetric int16 output, int64 biases, no table).
    ``logits_bits`` 16 (the last layer of an int8 model): int16 logits on a symmetric grid."""
    lo, hi = ranges["logits"]
    if layer.activation in ("relu", "relu6"):
        lo, hi = 0.0, min(hi, 6.0) if layer.activation == "relu6" else hi
    wide_out = last and bits == 8 and logits_bits == 16
    out_scale, out_zp = grid(lo, hi, 16 if wide_out else bits)
    table = {}
    if not last and layer.activation in TABLE_ACTIVATIONS:
        if bits == 16:
            raise TinyrnnError(f"layer '{layer.name}': --activations int16 has no hidden {layer.activation} Dense "
                               "(int8 tables only); use linear, relu or relu6 before the last layer")
        table = dict(zip(("table", "table_scale", "table_zero_point"),
                         build_table(layer.activation, out_scale, out_zp)))
    w_q, w_scale = symmetric_weights(layer.kernel.T, axis=1, rule=weights)
    w_scale = np.atleast_1d(w_scale)
    bias = layer.bias
    if bias_correction:
        bias = bias - bias_shift(layer.kernel.T, w_q, w_scale[:, None], ranges["input_mean"])
    q_bias = int32_bias(bias, in_scale * w_scale, f"layer '{layer.name}'", bits)
    if wide_out:  # no finer than the accumulator allows: acc · 2^shift must fit int32 (tinyrnn.core.domain)
        bound = acc_bound(w_q, q_bias.astype(np.int64) - in_zp * w_q.astype(np.int64).sum(1))
        out_scale = max(out_scale, float(np.max(in_scale * w_scale * bound)) / 2**29)
    mult, shift = multipliers(in_scale * w_scale / out_scale)
    return DenseLayer(
        name=layer.name, input_size=layer.kernel.shape[0], output_size=layer.units,
        weights=w_q, bias=q_bias, input_zero_point=in_zp, output_zero_point=out_zp, input_scale=in_scale,
        output_scale=out_scale, multiplier=mult, shift=shift, activation=layer.activation, **table,
        activation_bits=bits, output_bits=16 if wide_out else 8,
    )  # fmt: skip


def quantize_conv1d(layer: FloatConv1D, in_scale: float, in_zp: int, ranges: dict, *, bias_correction: bool = False,
                    weights: str = "max", max_steps: int = 0) -> Conv1DLayer:  # fmt: skip
    """As the Dense over a window's kernel_size·I taps (per-filter weight scales, output grid
    from the calibrated pre-activation); bias correction takes each tap's input mean as
    the layer input's."""
    k, i, o = layer.kernel.shape
    flat = FloatDense(layer.name, layer.kernel.reshape(k * i, o), layer.bias, layer.activation)
    window = {**ranges, "input_mean": np.tile(ranges["input_mean"], k)}
    d = quantize_dense(flat, in_scale, in_zp, window, bias_correction=bias_correction, weights=weights)
    return Conv1DLayer(
        name=layer.name, input_size=i, output_size=o, kernel_size=k, dilation=int(layer.dilation),
        padding=layer.padding, strides=int(layer.strides), weights=d.weights.reshape(o, k, i), bias=d.bias,
        input_zero_point=in_zp, output_zero_point=d.output_zero_point, input_scale=in_scale,
        output_scale=d.output_scale, multiplier=d.multiplier, shift=d.shift, activation=layer.activation,
        max_steps=int(max_steps) if layer.padding == "same" else 0,
    )  # fmt: skip


def quantize_pool1d(layer: FloatPool1D, in_scale: float, in_zp: int, ranges: dict) -> Pool1DLayer:
    """Pooling keeps its input's quantization (as TFLite's int8 pooling requires)."""
    return Pool1DLayer(name=layer.name, input_size=int(ranges["input_mean"].size), pool=layer.pool,
                       pool_size=int(layer.pool_size), strides=int(layer.strides), input_scale=in_scale,
                       input_zero_point=in_zp)


def quantize_global_pool1d(layer: FloatGlobalPool1D, in_scale: float, in_zp: int, ranges: dict) -> GlobalPool1DLayer:
    """Global pooling keeps its input's quantization, as pooling does."""
    return GlobalPool1DLayer(name=layer.name, input_size=int(ranges["input_mean"].size), pool=layer.pool,
                             input_scale=in_scale, input_zero_point=in_zp)


def quantize_flatten(layer: FloatFlatten, in_scale: float, in_zp: int, ranges: dict) -> FlattenLayer:
    return FlattenLayer(name=layer.name, input_size=int(ranges["input_mean"].size), steps=int(layer.steps),
                        window=int(layer.window), input_scale=in_scale, input_zero_point=in_zp)


def merge_grid(mode: str, s_f: float, s_b: float, merged: tuple) -> tuple:
    """(output scale, zero point, multipliers, shifts [forward, backward, output]) of a
    sum/ave/mul merge (golden ``bidirectional_s8.merge_s8``) covering the ``merged`` range;
    a range so narrow that the output multiplier would leave the domain
    (``bidirectional_s8.merge_bounds``: sum/ave at most 1, mul at most 2^13) is widened."""
    lo, hi = min(merged[0], 0.0), max(merged[1], 0.0)
    top = 2.0 * max(s_f, s_b)
    s_min = s_f * s_b * 2.0**-13 if mode == "mul" else top * 2.0**-LEFT_SHIFT
    s_y, zp = asymmetric(lo, max(hi, lo + 255.0 * s_min))
    half = 0.5 if mode == "ave" else 1.0
    out = s_f * s_b / s_y if mode == "mul" else half * top / (2.0**LEFT_SHIFT * s_y)
    reals = [0.0, 0.0, out] if mode == "mul" else [s_f / top, s_b / top, out]
    return (s_y, zp, *multipliers(reals))


def quantize_bidirectional(layer: FloatBidirectional, in_scale: float, in_zp: int, ranges: dict, *,
                           max_steps: int, **options) -> BidirectionalLayer:  # fmt: skip
    """Each direction by its own quantizer; concat calibrates both hidden states together
    (the union range: one int8 grid, the output's), sum/ave/mul requantize the merge to
    the calibrated range of the merged output."""
    inner = {"lstm": quantize_lstm, "gru": quantize_gru, "rnn": quantize_rnn}[layer.forward.kind]
    if layer.forward.kind != "lstm":
        options.pop("cell_power", None)
    parts = {d: dict(ranges[d]) for d in ("forward", "backward")}
    if layer.merge_mode == "concat":
        lo = min(parts[d]["hidden"][0] for d in parts)
        hi = max(parts[d]["hidden"][1] for d in parts)
        for d in parts:
            parts[d]["hidden"] = (lo, hi)
    fwd, bwd = (inner(getattr(layer, d), in_scale, in_zp, parts[d], **options) for d in ("forward", "backward"))
    if layer.merge_mode == "concat":
        out_scale, out_zp, m, s = fwd.hidden_scale, fwd.hidden_zero_point, np.zeros(3, np.int32), np.zeros(3, np.int32)
    else:
        out_scale, out_zp, m, s = merge_grid(layer.merge_mode, fwd.hidden_scale, bwd.hidden_scale, ranges["merged"])
    return BidirectionalLayer(
        name=layer.name, merge_mode=layer.merge_mode, forward=fwd, backward=bwd, output_scale=float(out_scale),
        output_zero_point=int(out_zp), merge_multiplier=m, merge_shift=s, max_steps=int(max_steps),
    )  # fmt: skip
