"""Random valid IR models (LSTM, GRU, SimpleRNN, Dense) for tests (shared helper: other test modules import it).

Two regimes: *realistic* (multipliers derived from the accumulator spread, so gates land
in the interesting middle of sigmoid/tanh rather than always at the rails) and
*extreme* (weights at ±127/−128, zero points at the int8 ends, shifts anywhere in the
range the kernels accept, multipliers 0/2^30/INT32_MAX/INT32_MIN, large biases), which
drives every saturation path. ``extreme`` is a probability per parameter group
(True = 1.0), so mixed models saturate some paths and stay live in others.
Everything is drawn from a ``numpy.random.Generator``, so a failing case reproduces
from its seed. Models satisfy the codegen preconditions (``tinyrnn.codegen.generate``)
and the kernels' numeric domain (``tinyrnn.core.domain``: a left-shifted accumulator
stays within int32).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tinyrnn.core.golden.activation_s8 import build_table
from tinyrnn.core.golden.bidirectional_s8 import merge_bounds
from tinyrnn.core.golden.fixedpoint import quantize_multiplier, shifted_fits
from tinyrnn.core.golden.model import run_model, run_steps
from tinyrnn.core.ir import (
    POOLS,
    TABLE_ACTIVATIONS,
    BidirectionalLayer,
    Conv1DLayer,
    DenseLayer,
    GRULayer,
    InputQuant,
    LSTMLayer,
    Model,
    Pool1DLayer,
    SimpleRNNLayer,
)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_EXTREME_MULTIPLIERS = (0, 2**30, INT32_MAX, INT32_MIN, -(2**30))
_PRODUCT_STD = 74.0 * 74.0  # std of int8 × int8 for uniform int8 values


def _pick(rng, extreme: float) -> bool:
    return bool(rng.random() < float(extreme))


def _weights(rng, shape, extreme: float) -> np.ndarray:
    if _pick(rng, extreme):
        return rng.choice(np.array([-128, -127, 127, 0], np.int8), size=shape, p=[0.35, 0.15, 0.4, 0.1])
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def _zero_point(rng, extreme: float) -> int:
    return int(rng.choice([-128, 127])) if _pick(rng, extreme) else int(rng.integers(-128, 128))


def _mult_shift(rng, real: float, extreme: float, bound: int) -> tuple[int, int]:
    """(multiplier, shift) near ``real`` (jittered ×2^±2), or anything valid when extreme.

    ``bound`` is the largest |value| requantized; a left shift is capped so bound·2^shift
    stays within int32, the kernels' domain (``tinyrnn.core.domain``; outside it a model
    is refused at load).
    """
    if _pick(rng, extreme):
        m = int(rng.choice(_EXTREME_MULTIPLIERS)) if rng.random() < 0.5 else int(rng.integers(2**30, 2**31))
        shift = int(rng.integers(-31, 31))
    else:
        m, shift = quantize_multiplier(real * 2.0 ** rng.uniform(-2.0, 2.0))
    while not shifted_fits(bound, shift):
        shift -= 1
    return m, shift


def _mult_shift_arrays(rng, real: float, extreme: float, bounds) -> tuple[np.ndarray, np.ndarray]:
    pairs = [_mult_shift(rng, real, extreme, int(b)) for b in bounds]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def _bound(w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """max over rows of |bias| + 128·sum|w|: the largest accumulator any int8 input gives."""
    return np.abs(bias.astype(np.int64)) + 128 * np.abs(w.astype(np.int64)).sum(axis=-1)


def lstm_layer(rng, input_size: int, hidden_size: int, *, return_sequences: bool = True,
               extreme: float = 0.0, name: str = "lstm") -> LSTMLayer:
    """``extreme`` is the probability that each parameter group is drawn at its extremes."""
    I, H = input_size, hidden_size
    spread_x, spread_h = _PRODUCT_STD * math.sqrt(I), _PRODUCT_STD * math.sqrt(H)
    bias_range = 2**24 if _pick(rng, extreme) else int(spread_x)
    w_x, w_h = _weights(rng, (4, H, I), extreme), _weights(rng, (4, H, H), extreme)
    bias = rng.integers(-bias_range, bias_range + 1, size=(4, H)).astype(np.int32)
    zp_x, zp_h = _zero_point(rng, extreme), _zero_point(rng, extreme)
    bias_x = bias.astype(np.int64) - zp_x * w_x.astype(np.int64).sum(axis=2)
    bias_h = -zp_h * w_h.astype(np.int64).sum(axis=2)
    # Q3.12 spread of the gates: from mostly interpolated (1500 ~ ±0.4) to mostly at the
    # rails (24000 ~ ±6, which also exercises the int16 saturation of each matmul).
    target = float(rng.choice([1500.0, 6000.0, 24000.0]))
    mx, sx = _mult_shift_arrays(rng, target / spread_x, extreme, _bound(w_x, bias_x).max(axis=1))
    mh, sh = _mult_shift_arrays(rng, target / spread_h, extreme, _bound(w_h, bias_h).max(axis=1))
    if _pick(rng, extreme):
        # tanh(c) prescale shift cell_scale_power + 12 over its whole accepted range.
        cell_power = int(rng.choice([-43, 2, -20, -15, -11]))
    else:
        cell_power = int(rng.integers(-15, -9))
    product = 32768 * 32768  # int16 · int16
    f2c = _mult_shift(rng, 2.0**-15, extreme, product)  # f (Q0.15) · c → c
    i2c = _mult_shift(rng, 2.0 ** (-30 - cell_power), extreme, product)  # i·g (Q0.30) → 2^p
    hidden_scale = 1.0 / 128
    hid = _mult_shift(rng, 2.0**-30 / hidden_scale, extreme, product)  # o·tanh(c) (Q0.30) → int8
    clip = int(rng.choice([0, 0, 32767, int(rng.integers(1, 32768)), 40000]))
    return LSTMLayer(
        name=name, input_size=I, hidden_size=H, return_sequences=return_sequences,
        w_x=w_x, w_h=w_h, bias=bias, input_zero_point=zp_x, hidden_zero_point=zp_h,
        input_scale=1.0 / 128, hidden_scale=hidden_scale,
        gate_x_multiplier=mx, gate_x_shift=sx, gate_h_multiplier=mh, gate_h_shift=sh,
        cell_scale_power=cell_power, cell_clip=clip,
        forget_to_cell_multiplier=f2c[0], forget_to_cell_shift=f2c[1],
        input_to_cell_multiplier=i2c[0], input_to_cell_shift=i2c[1],
        hidden_multiplier=hid[0], hidden_shift=hid[1],
    )


def gru_layer(rng, input_size: int, hidden_size: int, *, return_sequences: bool = True, reset_after: bool = True,
              extreme: float = 0.0, name: str = "gru") -> GRULayer:
    """Random int8 GRU (h8 scale 1/128, zero point 0, as the kernel fixes them).

    The candidate's recurrent bias is 0 without reset_after in quantized models; here it
    is nonzero with probability ``extreme`` (the spec adds it either way)."""
    I, H = input_size, hidden_size
    spread_x, spread_h = _PRODUCT_STD * math.sqrt(I), _PRODUCT_STD * math.sqrt(H)
    w_x, w_h = _weights(rng, (3, H, I), extreme), _weights(rng, (3, H, H), extreme)
    range_x = 2**24 if _pick(rng, extreme) else int(spread_x)
    range_h = 2**24 if _pick(rng, extreme) else int(spread_h)
    bias_x = rng.integers(-range_x, range_x + 1, size=(3, H)).astype(np.int32)
    bias_h = rng.integers(-range_h, range_h + 1, size=(3, H)).astype(np.int32)
    if not reset_after and not _pick(rng, extreme):
        bias_h[2] = 0
    zp_x = _zero_point(rng, extreme)
    eff_x = bias_x.astype(np.int64) - zp_x * w_x.astype(np.int64).sum(axis=2)
    target = float(rng.choice([1500.0, 6000.0, 24000.0]))
    mx, sx = _mult_shift_arrays(rng, target / spread_x, extreme, _bound(w_x, eff_x).max(axis=1))
    mh, sh = _mult_shift_arrays(rng, target / spread_h, extreme, _bound(w_h, bias_h).max(axis=1))
    return GRULayer(
        name=name, input_size=I, hidden_size=H, return_sequences=return_sequences, reset_after=reset_after,
        w_x=w_x, w_h=w_h, bias_x=bias_x, bias_h=bias_h, input_zero_point=zp_x, input_scale=1.0 / 128,
        gate_x_multiplier=mx, gate_x_shift=sx, gate_h_multiplier=mh, gate_h_shift=sh,
    )


def rnn_layer(rng, input_size: int, hidden_size: int, *, return_sequences: bool = True, activation: str = "tanh",
              extreme: float = 0.0, name: str = "rnn") -> SimpleRNNLayer:
    """Random int8 SimpleRNN. tanh: state scale 1/128, zero point 0 (as the kernel fixes
    them); relu: zero point −128 (h ≥ 0) when realistic, anywhere in int8 when extreme."""
    I, H = input_size, hidden_size
    spread_x, spread_h = _PRODUCT_STD * math.sqrt(I), _PRODUCT_STD * math.sqrt(H)
    w_x, w_h = _weights(rng, (H, I), extreme), _weights(rng, (H, H), extreme)
    bias_range = 2**24 if _pick(rng, extreme) else int(spread_x)
    bias = rng.integers(-bias_range, bias_range + 1, size=H).astype(np.int32)
    zp_x = _zero_point(rng, extreme)
    zp_h = 0 if activation == "tanh" else (_zero_point(rng, 1.0) if _pick(rng, extreme) else -128)
    bias_x = bias.astype(np.int64) - zp_x * w_x.astype(np.int64).sum(axis=1)
    bias_h = -zp_h * w_h.astype(np.int64).sum(axis=1)
    # int16 pre-activation spread: Q3.12 for tanh (1500 ~ ±0.4 to 24000 ~ ±6); relu's
    # scale is s_h/64, so 24000 ~ ±375 int8 steps (the relu rails too).
    target = float(rng.choice([1500.0, 6000.0, 24000.0]))
    mx, sx = _mult_shift(rng, target / spread_x, extreme, int(_bound(w_x, bias_x).max()))
    mh, sh = _mult_shift(rng, target / spread_h, extreme, int(_bound(w_h, bias_h).max()))
    return SimpleRNNLayer(
        name=name, input_size=I, hidden_size=H, return_sequences=return_sequences, activation=activation,
        w_x=w_x, w_h=w_h, bias=bias, input_zero_point=zp_x, hidden_zero_point=zp_h,
        input_scale=1.0 / 128, hidden_scale=1.0 / 128 if activation == "tanh" else 0.05,
        x_multiplier=mx, x_shift=sx, h_multiplier=mh, h_shift=sh,
    )


RECURRENT_KINDS = ("lstm", "gru", "gru_before")  # gru: reset_after=True (Keras default); gru_before: False
RNN_KINDS = ("rnn", "rnn_relu")  # SimpleRNN with tanh, with relu


def recurrent_layer(rng, kind: str, input_size: int, hidden_size: int, **kwargs):
    if kind == "lstm":
        return lstm_layer(rng, input_size, hidden_size, **kwargs)
    if kind in RNN_KINDS:
        return rnn_layer(rng, input_size, hidden_size, activation="relu" if kind == "rnn_relu" else "tanh", **kwargs)
    return gru_layer(rng, input_size, hidden_size, reset_after=kind == "gru", **kwargs)


def bidirectional_layer(rng, kind: str, input_size: int, hidden_size: int, *, merge_mode: str = "concat",
                        return_sequences: bool = True, max_steps: int = 16, extreme: float = 0.0,
                        name: str = "bidir") -> BidirectionalLayer:
    """Two random directions of ``kind`` (``recurrent_layer``). concat: the backward one is
    the forward one with its weight columns reversed, on the same hidden grid (as concat
    needs; the accumulator bounds are the same). sum/ave/mul: independent directions and
    merge requantizations near the real ones (anything in the domain when extreme)."""
    fwd = recurrent_layer(rng, kind, input_size, hidden_size, return_sequences=return_sequences, extreme=extreme,
                          name=f"{name}_forward")
    if merge_mode == "concat":
        bwd = dataclasses.replace(fwd, name=f"{name}_backward", w_x=np.ascontiguousarray(fwd.w_x[..., ::-1]),
                                  w_h=np.ascontiguousarray(fwd.w_h[..., ::-1]))
        grid, mult, shift = (fwd.hidden_scale, fwd.hidden_zero_point), np.zeros(3, np.int32), np.zeros(3, np.int32)
    else:
        bwd = recurrent_layer(rng, kind, input_size, hidden_size, return_sequences=return_sequences, extreme=extreme,
                              name=f"{name}_backward")
        s_f, s_b = fwd.hidden_scale, bwd.hidden_scale
        top = 2.0 * max(s_f, s_b)
        s_y = (s_f * s_b * 64.0 if merge_mode == "mul" else top / 2.0) * 2.0 ** rng.uniform(-1.0, 1.0)
        half = 0.5 if merge_mode == "ave" else 1.0
        out = s_f * s_b / s_y if merge_mode == "mul" else half * top / 2.0**20 / s_y
        reals = (0.0, 0.0, out) if merge_mode == "mul" else (s_f / top, s_b / top, out)
        grid = (s_y, _zero_point(rng, extreme))
        layer = BidirectionalLayer(name, merge_mode, fwd, bwd, *grid, np.zeros(3, np.int32), np.zeros(3, np.int32), 1)
        pairs = [_mult_shift(rng, r, extreme, int(b)) if b else (0, 0) for r, b in zip(reals, merge_bounds(layer))]
        for i in range(2):  # sum/ave inputs: a real multiplier below 1 (the int32 sum cannot overflow)
            pairs[i] = (pairs[i][0], min(pairs[i][1], 0))
        mult, shift = (np.array(v, np.int32) for v in zip(*pairs))
    return BidirectionalLayer(name=name, merge_mode=merge_mode, forward=fwd, backward=bwd, output_scale=grid[0],
                              output_zero_point=grid[1], merge_multiplier=mult, merge_shift=shift, max_steps=max_steps)


def dense_layer(rng, input_size: int, output_size: int, *, activation: str = "linear",
                extreme: float = 0.0, name: str = "dense", hidden: bool = False) -> DenseLayer:
    """A ``hidden`` sigmoid/tanh/softmax layer gets its table (golden/activation_s8.py)."""
    spread = _PRODUCT_STD * math.sqrt(input_size)
    bias_range = 2**24 if _pick(rng, extreme) else int(spread)
    w = _weights(rng, (output_size, input_size), extreme)
    bias = rng.integers(-bias_range, bias_range + 1, size=output_size).astype(np.int32)
    zp_in = _zero_point(rng, extreme)
    bounds = _bound(w, bias.astype(np.int64) - zp_in * w.astype(np.int64).sum(axis=1))
    mult, shift = _mult_shift_arrays(rng, 60.0 / spread, extreme, bounds)
    zp_out, out_scale = _zero_point(rng, extreme), 0.0625
    table = {}
    if hidden and activation in TABLE_ACTIVATIONS:
        table = dict(zip(("table", "table_scale", "table_zero_point"), build_table(activation, out_scale, zp_out)))
    return DenseLayer(
        name=name, input_size=input_size, output_size=output_size, weights=w, bias=bias,
        input_zero_point=zp_in, output_zero_point=zp_out,
        input_scale=1.0 / 128, output_scale=out_scale, multiplier=mult, shift=shift, activation=activation, **table,
    )


def int16_logits(rng, model: Model, extreme: float = 0.0) -> Model:
    """``model`` with its last Dense layer giving int16 logits (``output_bits`` 16, zero point 0),
    requantized ~256x finer than its int8 grid (anything valid where extreme)."""
    head = model.layers[-1]
    bounds = _bound(head.weights, head.bias.astype(np.int64) - head.input_zero_point *
                    head.weights.astype(np.int64).sum(axis=1))
    mult, shift = _mult_shift_arrays(rng, 60.0 * 256 / (_PRODUCT_STD * math.sqrt(head.input_size)), extreme, bounds)
    wide = dataclasses.replace(head, output_bits=16, output_zero_point=0, output_scale=head.output_scale / 256,
                               multiplier=mult, shift=shift)
    return dataclasses.replace(model, layers=[*model.layers[:-1], wide])


def conv_layer(rng, input_size: int, filters: int, *, kernel_size: int = 3, dilation: int = 1,
               padding: str = "causal", activation: str = "linear", extreme: float = 0.0,
               name: str = "conv", strides: int = 1) -> Conv1DLayer:
    """Random int8 Conv1D: a Dense over the kernel_size·input_size taps of a window, regrouped."""
    d = dense_layer(rng, kernel_size * input_size, filters, activation=activation, extreme=extreme, name=name)
    return Conv1DLayer(
        name=name, input_size=input_size, output_size=filters, kernel_size=kernel_size, dilation=dilation,
        padding=padding, weights=d.weights.reshape(filters, kernel_size, input_size), bias=d.bias,
        input_zero_point=d.input_zero_point, output_zero_point=d.output_zero_point, input_scale=d.input_scale,
        output_scale=d.output_scale, multiplier=d.multiplier, shift=d.shift, activation=activation, strides=strides,
    )


def identity_input_quant(features: int) -> InputQuant:
    """x_q = round(x): for models fed int8 data directly."""
    return InputQuant(offset=np.zeros(features, np.float32), scale=np.ones(features, np.float32), zero_point=0)


def build_model(rng, input_size: int, hidden_sizes, dense_sizes=(), *, activation: str = "linear",
                returns_sequences: bool = False, extreme: float = 0.0, name: str = "m", kinds=None,
                hidden_activation: str = "relu") -> Model:
    """Recurrent stack (every layer but the last returns sequences) + optional Dense head;
    hidden Dense layers use ``hidden_activation``, the last one ``activation``. ``kinds``
    gives each recurrent layer's kind (``RECURRENT_KINDS``), all LSTM by default."""
    layers, width = [], input_size
    kinds = kinds or ["lstm"] * len(hidden_sizes)
    for k, (h, kind) in enumerate(zip(hidden_sizes, kinds, strict=True)):
        last = k == len(hidden_sizes) - 1
        layers.append(recurrent_layer(rng, kind, width, h, return_sequences=returns_sequences if last else True,
                                      extreme=extreme, name=f"{kind}_{k}"))
        width = h
    for k, o in enumerate(dense_sizes):
        hidden = k < len(dense_sizes) - 1
        layers.append(dense_layer(rng, width, o, activation=hidden_activation if hidden else activation,
                                  extreme=extreme, name=f"dense_{k}", hidden=hidden))
        width = o
    return Model(name=name, input_size=input_size, input_quant=identity_input_quant(input_size), layers=layers)


HEAD_ACTIVATIONS = ("linear", "relu", "softmax", "sigmoid")  # random_model's default head pool


def random_model(rng, *, max_size: int = 40, extreme: float = 0.0, name: str = "m", kinds=("lstm",),
                 activations=HEAD_ACTIVATIONS, hidden_activations=("relu",)) -> Model:
    """Random shapes (sizes 1..max_size), 1–3 recurrent layers each of a kind drawn from
    ``kinds``, 0–2 Dense, random head (from ``activations``)/sequences; hidden Dense layers
    use one activation drawn from ``hidden_activations`` (e.g. ir.DENSE_ACTIVATIONS)."""
    features = int(rng.integers(1, max_size + 1))
    hidden = [int(rng.integers(1, max_size + 1)) for _ in range(int(rng.integers(1, 4)))]
    dense = [int(rng.integers(1, max_size + 1)) for _ in range(int(rng.integers(0, 3)))]
    activation = str(rng.choice(list(activations)))
    # Drawn only for a pool of several, so the default gives the models it always gave.
    several = len(hidden_activations) > 1
    hidden_activation = str(rng.choice(list(hidden_activations))) if several else hidden_activations[0]
    # Kinds are drawn only for a mixed pool, so LSTM-only seeds give the models they always gave.
    layer_kinds = [str(rng.choice(kinds)) for _ in hidden] if len(kinds) > 1 else [kinds[0]] * len(hidden)
    return build_model(rng, features, hidden, dense, activation=activation,
                       returns_sequences=bool(rng.random() < 0.4), extreme=extreme, name=name, kinds=layer_kinds,
                       hidden_activation=hidden_activation)


def conv_model(rng, features: int, convs, *, kinds=("lstm",), hidden=(7,), dense=(3,), returns_sequences=False,
               extreme: float = 0.0, name: str = "convm") -> Model:
    """``convs``: the front end, per layer (filters, kernel_size, dilation, padding, activation[, strides])
    for a Conv1D or ("max" | "average", pool_size, strides) for a pooling layer; then the recurrent stack."""
    layers, width = [], features
    for k, spec in enumerate(convs):
        if spec[0] in POOLS:
            zp = layers[-1].output_zero_point if layers else 0
            layers.append(Pool1DLayer(f"pool_{k}", width, spec[0], spec[1], spec[2], 1.0 / 16, zp))
            continue
        filters, size, dilation, padding, activation, *strides = spec
        layers.append(conv_layer(rng, width, filters, kernel_size=size, dilation=dilation, padding=padding,
                                 activation=activation, extreme=extreme, name=f"conv_{k}", strides=strides[0] if
                                 strides else 1))
        width = filters
    rest = build_model(rng, width, list(hidden), list(dense), kinds=list(kinds), returns_sequences=returns_sequences,
                       extreme=extreme)
    return Model(name=name, input_size=features, input_quant=identity_input_quant(features),
                 layers=[*layers, *rest.layers])


def random_input(rng, model: Model, batch: int, steps: int, *, extreme: bool = False) -> np.ndarray:
    """(batch, steps, F) int8; extreme inputs sit at the rails (all −128, all 127, or mixed)."""
    shape = (batch, steps, model.input_size)
    if not extreme:
        return rng.integers(-128, 128, size=shape, dtype=np.int8)
    x = rng.choice(np.array([-128, 127], np.int8), size=shape)
    x[0::3] = -128
    x[1::3] = 127
    return x


def golden_step_outputs(model: Model, x: np.ndarray) -> np.ndarray:
    """Golden output after every time step (what T calls of ``_step`` give): (N, T, O)."""
    return run_steps(model, x)


def check_host_streams(host, model: Model, x: np.ndarray, what: str) -> np.ndarray:
    """The generated C (``HostModel``): _run == golden ``run_model``, T _step calls and two
    interleaved instances == golden ``run_steps``, which is returned."""
    np.testing.assert_array_equal(host.run(x), run_model(model, x), err_msg=f"{what} _run")
    streamed = run_steps(model, x)
    np.testing.assert_array_equal(host.step(x), streamed, err_msg=f"{what} _step")
    np.testing.assert_array_equal(host.run_pairs(x), streamed, err_msg=f"{what} two instances")
    return streamed
