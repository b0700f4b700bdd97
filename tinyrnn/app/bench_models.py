"""The fixed model set of `tinyrnn bench`: int8 models with random weights from fixed seeds,
so every run (QEMU, a real board, CMSIS-NN beside them) measures the same thing."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.fixedpoint import quantize_multiplier
from tinyrnn.core.ir import Conv1DLayer, GRULayer, InputQuant, LSTMLayer, Model, Pool1DLayer, SimpleRNNLayer

# name: (kind, inputs, hidden units, seed); conv_lstm: the HAR-shaped CNN-LSTM (FRONT below)
# on lstm_i16_h32's very LSTM layer, so their difference is the front end's cost.
MODELS = {
    "lstm_i9_h32": ("lstm", 9, 32, 1),
    "lstm_i32_h64": ("lstm", 32, 64, 2),
    "lstm_i64_h128": ("lstm", 64, 128, 3),
    "gru_i9_h32": ("gru", 9, 32, 4),
    "gru_i64_h128": ("gru", 64, 128, 5),
    "rnn_i9_h32": ("rnn", 9, 32, 6),
    "lstm_i16_h32": ("lstm", 16, 32, 7),
    "conv_lstm_i9_h32": ("conv_lstm", 9, 32, 7),
}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # weight rows per hidden unit
# The CNN-LSTM's front end: Conv1D(filters, kernel_size, causal, relu) + MaxPooling1D(pool, pool),
# so its LSTM steps at every pool-th input step; its LSTM twin and its weights' seed.
FRONT = {"filters": 16, "kernel_size": 5, "pool": 2, "twin": "lstm_i16_h32", "seed": 107}

def _multiplier(real: float) -> tuple[int, int]:
    return quantize_multiplier(real)


def _gate_requant(rng, gates: int, fan_in: int):
    """Multipliers that put the gate pre-activations around ±1.5 (Q3.12 ~6000), where
    a trained model's gates live: int8 products have std ~74^2, sums grow with sqrt(K)."""

    pairs = [_multiplier(6000.0 / (74.0 * 74.0 * np.sqrt(fan_in)) * 2.0 ** rng.uniform(-1, 1)) for _ in range(gates)]
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)


def bench_model(name: str):
    """The benchmark model ``name``: one recurrent layer (after the FRONT end for conv_lstm), int8,
    random weights (fixed seed)."""
    kind, inputs, hidden, seed = MODELS[name]
    if kind == "conv_lstm":
        return _conv_lstm(name, inputs)
    rng = np.random.default_rng(seed)
    gates = GATES[kind]
    w_x = rng.integers(-127, 128, (gates, hidden, inputs), dtype=np.int8)
    w_h = rng.integers(-127, 128, (gates, hidden, hidden), dtype=np.int8)
    mx, sx = _gate_requant(rng, gates, inputs)
    mh, sh = _gate_requant(rng, gates, hidden)
    quant = InputQuant(offset=np.zeros(inputs, np.float32), scale=np.ones(inputs, np.float32), zero_point=0)
    if kind == "rnn":
        layer = SimpleRNNLayer(name=kind, input_size=inputs, hidden_size=hidden, return_sequences=False,
                               activation="tanh", w_x=w_x[0], w_h=w_h[0],
                               bias=rng.integers(-3000, 3000, hidden).astype(np.int32), input_zero_point=-3,
                               hidden_zero_point=0, input_scale=1.0 / 128, hidden_scale=SimpleRNNLayer.TANH_SCALES[8],
                               x_multiplier=int(mx[0]), x_shift=int(sx[0]), h_multiplier=int(mh[0]), h_shift=int(sh[0]))
        return Model(name=name, input_size=inputs, input_quant=quant, layers=[layer])
    common = dict(name=kind, input_size=inputs, hidden_size=hidden, return_sequences=False, w_x=w_x, w_h=w_h,
                  input_zero_point=-3, input_scale=1.0 / 128, gate_x_multiplier=mx, gate_x_shift=sx,
                  gate_h_multiplier=mh, gate_h_shift=sh)
    if kind == "lstm":
        cell_power = -11
        f2c, i2c, hid = _multiplier(2.0**-15), _multiplier(2.0 ** (-30 - cell_power)), _multiplier(2.0**-23)
        layer = LSTMLayer(**common, bias=rng.integers(-3000, 3000, (4, hidden)).astype(np.int32), hidden_zero_point=5,
                          hidden_scale=1.0 / 128, cell_scale_power=cell_power, cell_clip=0,
                          forget_to_cell_multiplier=f2c[0], forget_to_cell_shift=f2c[1],
                          input_to_cell_multiplier=i2c[0], input_to_cell_shift=i2c[1],
                          hidden_multiplier=hid[0], hidden_shift=hid[1])
    else:
        layer = GRULayer(**common, reset_after=True, bias_x=rng.integers(-3000, 3000, (3, hidden)).astype(np.int32),
                         bias_h=rng.integers(-3000, 3000, (3, hidden)).astype(np.int32))
    return Model(name=name, input_size=inputs, input_quant=quant, layers=[layer])


def _conv_lstm(name: str, inputs: int) -> Model:
    """FRONT's Conv1D + MaxPooling1D on ``inputs`` channels, then the LSTM of FRONT's twin; the
    conv's per-channel multipliers put its relu outputs around ±64 codes, as a trained layer's."""
    lstm = bench_model(FRONT["twin"]).layers[0]
    rng = np.random.default_rng(FRONT["seed"])
    filters, size = FRONT["filters"], FRONT["kernel_size"]
    pairs = [_multiplier(64.0 / (74.0 * 74.0 * np.sqrt(size * inputs)) * 2.0 ** rng.uniform(-1, 1))
             for _ in range(filters)]
    grid = dict(input_scale=lstm.input_scale, input_zero_point=lstm.input_zero_point)
    conv = Conv1DLayer(name="conv", input_size=inputs, output_size=filters, kernel_size=size, dilation=1,
                       padding="causal", weights=rng.integers(-127, 128, (filters, size, inputs), dtype=np.int8),
                       bias=rng.integers(-3000, 3000, filters).astype(np.int32), input_zero_point=0,
                       output_zero_point=grid["input_zero_point"], input_scale=1.0, output_scale=grid["input_scale"],
                       multiplier=np.array([m for m, _ in pairs], np.int32),
                       shift=np.array([s for _, s in pairs], np.int32), activation="relu")
    pool = Pool1DLayer("pool", filters, "max", FRONT["pool"], FRONT["pool"], **grid)
    quant = InputQuant(offset=np.zeros(inputs, np.float32), scale=np.ones(inputs, np.float32), zero_point=0)
    return Model(name=name, input_size=inputs, input_quant=quant, layers=[conv, pool, lstm])


def bench_input(name: str, bits: int = 8):
    """The fixed input step of ``name``; for a 16x8 model (``bits`` 16) the same codes scaled to int16."""
    x = np.random.default_rng(1000 + MODELS[name][3]).integers(-128, 128, MODELS[name][1], dtype=np.int8)
    return x.astype(np.int16) << 8 if bits == 16 else x


def wide_model(name: str, weight_bits: int = 8) -> Model:
    """The 16x8 twin of LSTM or SimpleRNN model ``name``: its weights, int16 activations
    (zero points 0, input and hidden scales 2^-15), int64 biases; the matmul multipliers
    take the 2^-8 of the 256x finer input and hidden grids, so the gates (pre-activations)
    see what the int8 model's see. ``weight_bits`` 16 (a SimpleRNN): the 16x16 twin, its
    weights ×256 in int16 and the multipliers a further 2^-8."""
    model = bench_model(name)
    layer = model.layers[-1]
    if layer.kind not in ("lstm", "rnn") or len(model.layers) != 1:
        raise TinyrnnError(f"model {name}: the 16x8 twin needs a single LSTM or SimpleRNN layer")
    if weight_bits == 16 and layer.kind != "rnn":
        raise TinyrnnError(f"model {name}: the 16x16 twin needs a SimpleRNN layer")
    finer = 8 if weight_bits == 16 else 0  # the weights' own factor 2^8
    common = dict(activation_bits=16, bias=layer.bias.astype(np.int64) << (8 + finer), input_zero_point=0,
                  hidden_zero_point=0, input_scale=2.0**-15, hidden_scale=2.0**-15)
    if layer.kind == "rnn":
        weights = dict(w_x=layer.w_x.astype(np.int16) << finer, w_h=layer.w_h.astype(np.int16) << finer,
                       weight_bits=weight_bits)
        wide = dataclasses.replace(layer, **common, **weights, x_shift=layer.x_shift - 8 - finer,
                                   h_shift=layer.h_shift - 8 - finer)
    else:
        hid = _multiplier(2.0**-15)  # o·tanh(c) in Q0.30 → h at 2^-15
        wide = dataclasses.replace(layer, **common, gate_x_shift=layer.gate_x_shift - 8,
                                   gate_h_shift=layer.gate_h_shift - 8, hidden_multiplier=hid[0], hidden_shift=hid[1])
    quant = dataclasses.replace(model.input_quant, activation_bits=16)
    return dataclasses.replace(model, name=f"{name}_16x{weight_bits}", input_quant=quant, layers=[wide])


def conv_macs(name: str) -> int:
    """The Conv1D's MACs per input step (0 without a front end)."""
    return FRONT["filters"] * FRONT["kernel_size"] * MODELS[name][1] if MODELS[name][0] == "conv_lstm" else 0


def macs_per_step(name: str) -> int:
    """MACs per _step call, i.e. per input sample: a conv_lstm's conv at every one, its LSTM
    (the twin's MACs) at every FRONT["pool"]-th."""
    kind, inputs, hidden, _ = MODELS[name]
    if kind == "conv_lstm":
        return conv_macs(name) + macs_per_step(FRONT["twin"]) // FRONT["pool"]
    return GATES[kind] * hidden * (inputs + hidden)
