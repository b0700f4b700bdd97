"""Quantization-aware fine-tuning (QAT) for the int8 scheme of ``tinyrnn quantize``.

After float training, the model is rebuilt from fake-quantizing Keras 3 layers and
fine-tuned for a few epochs. The forward pass rounds and saturates where the
integer kernels do, on their grids (``quantize/layers.py``, ``golden/*_s8.py``):

- weights: int8 symmetric, one scale per gate and path (LSTM/GRU), per output
  channel (Dense); biases on the int32 grid ``s_in · s_w``;
- the normalized input and every layer input: the int8 grid of the layer feeding it (one
  input scale: the quantizer's default, not ``input_scales="channel"``);
- each gate's input and recurrent matmul: Q3.12, saturated, then their sum saturated;
- LSTM: ``f·c`` and ``i·g`` each on the int16 cell grid 2^p and saturated, their sum
  too; the hidden state on its asymmetric int8 grid;
- GRU (``reset_after=True``, what ``build_model`` builds): matmuls see
  ``h8 = round(h16/256)`` (scale 1/128), ``r·(U_h·h8 + b)`` back on Q3.12, the state
  carried on the Q0.15 grid;
- the head's logits on their grid, int16 by default (value only: the gradient passes unclipped).

Rounding is a straight-through estimator (identity gradient); clipping masks the
gradient outside the range except for the logits. Scales are not learned: before
every epoch they are recomputed by ``tinyrnn.quantize.pipeline.quantize_model`` on
the calibration windows from the current weights, exactly as ``tinyrnn quantize``
will compute them for the final model. Sigmoid/tanh are the float functions (the
kernels' table is within a few Q0.15 steps of them).

This module imports ``tinyrnn.quantize`` (train → quantize) on purpose: the
fine-tuning must use the quantizer's own scale rules, not a copy of them.
The fine-tuned weights are copied back into the plain LSTM/GRU model, which is
what gets saved and quantized.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.quantize import keras_import as ki
from tinyrnn.quantize.pipeline import quantize_model
from tinyrnn.tfsupport import import_keras

GATE_STEP = 2.0**-12  # Q3.12
GATE_MIN, GATE_MAX = -8.0, 8.0 - GATE_STEP
H8_STEP, H16_STEP = 1.0 / 128.0, 2.0**-15

_LAYER_CLASSES: dict = {}


def _keras():
    keras = import_keras()
    if not _LAYER_CLASSES:
        _define_layers(keras)
    return keras


# ----------------------------------------------------------------------------- fake quantization

def _ops():
    from keras import ops
    return ops


def ste_round(x):
    """round(x) forward, identity gradient."""
    ops = _ops()
    return x + ops.stop_gradient(ops.round(x) - x)


def on_grid(x, step, lo, hi):
    """Nearest point of ``step·k`` in [lo, hi]; gradient 1 inside, 0 outside."""
    ops = _ops()
    return ste_round(ops.clip(x, lo, hi) / step) * step


def on_grid_passthrough(x, step, lo, hi):
    """Same value as :func:`on_grid`, identity gradient everywhere."""
    ops = _ops()
    return x + ops.stop_gradient(on_grid(x, step, lo, hi) - x)


def q312(x):
    """Requantized to Q3.12 and saturated to int16."""
    return on_grid(x, GATE_STEP, GATE_MIN, GATE_MAX)


def per_gate_weights(w, gates: int):
    """w (I, G·H) → (int8-grid weights, (G,) scales): max |w| of each gate's block / 127."""
    ops = _ops()
    rows, cols = w.shape
    blocks = ops.reshape(w, (rows, gates, cols // gates))
    peak = ops.stop_gradient(ops.max(ops.abs(blocks), axis=(0, 2)))
    scale = ops.where(peak > 0, peak / 127.0, ops.ones_like(peak))
    q = ops.clip(ste_round(blocks / scale[None, :, None]), -127.0, 127.0) * scale[None, :, None]
    return ops.reshape(q, (rows, cols)), scale


def bias_grid(b, scales, units: int):
    """Bias on the int32 grid ``scales[g]`` repeated over the gate's ``units`` (value only)."""
    ops = _ops()
    step = ops.repeat(scales, units)
    return b + ops.stop_gradient(ops.round(b / step) * step - b)


# ----------------------------------------------------------------------------- layers

def _define_layers(keras) -> None:
    """Define the Keras layer classes (here, not at import: importing this module loads no Keras)."""
    base = _recurrent_base(keras)
    _LAYER_CLASSES.update(input=_input_layer(keras), lstm=_lstm_layer(keras, base), gru=_gru_layer(keras, base),
                          dense=_dense_layer(keras))


def _input_layer(keras):
    class QATInput(keras.layers.Layer):
        """The normalized input on the first layer's int8 grid. qparams: scale, lo, hi."""

        def build(self, input_shape):
            self.qparams = self.add_weight(shape=(3,), initializer="ones", trainable=False, name="qparams")

        def call(self, x):
            return on_grid(x, self.qparams[0], self.qparams[1], self.qparams[2])

    return QATInput


def _recurrent_base(keras):
    ops = keras.ops

    class QATRecurrent(keras.layers.Layer):
        """Shared parts of the fake-quantized LSTM/GRU (weights named and laid out as Keras' own)."""

        gates = 0

        def __init__(self, units, return_sequences=False, **kwargs):
            super().__init__(**kwargs)
            self.units, self.return_sequences = int(units), bool(return_sequences)

        def build(self, input_shape):
            n_in, g, h = int(input_shape[-1]), self.gates, self.units
            self.kernel = self.add_weight(shape=(n_in, g * h), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(h, g * h), name="recurrent_kernel")
            self.bias = self.add_weight(shape=self.bias_shape(), initializer="zeros", name="bias")
            self.qparams = self.add_weight(shape=(6,), initializer="ones", trainable=False, name="qparams")

        def call(self, x):
            steps = ops.transpose(x, (1, 0, 2))  # time-major for scan
            pre_x, recurrent = self.input_path(steps)  # the input path of every step at once
            init = self.initial_state(ops.shape(x)[0])
            # Keras' scan needs per-step outputs shaped like the carry: emit() maps the states.
            _, states = ops.scan(lambda state, x_t: self.step(state, x_t, *recurrent), init, pre_x)
            outputs = self.emit(states)
            return ops.transpose(outputs, (1, 0, 2)) if self.return_sequences else outputs[-1]

        def get_config(self):
            return {**super().get_config(), "units": self.units, "return_sequences": self.return_sequences}

    return QATRecurrent


def _lstm_layer(keras, base):
    ops = keras.ops

    class QATLSTM(base):
        """qparams: input scale, hidden scale, hidden lo, hidden hi, cell step 2^p, cell limit 2^(15+p)."""

        gates = 4

        def bias_shape(self):
            return (4 * self.units,)

        def input_path(self, x):
            wx, sx = per_gate_weights(self.kernel, 4)
            bias = bias_grid(self.bias, self.qparams[0] * sx, self.units)
            return q312(ops.matmul(x, wx) + bias), (per_gate_weights(self.recurrent_kernel, 4)[0],)

        def initial_state(self, batch):
            return ops.zeros((batch, 2 * self.units))  # [h, c]: scan carries one tensor

        def step(self, state, pre_x, wh):
            h, c = ops.split(state, 2, axis=-1)
            s = self.qparams
            # the recurrent term is rounded to Q3.12 but saturated only in the sum (as lstm_s8)
            pre = q312(pre_x + ste_round(ops.matmul(h, wh) / GATE_STEP) * GATE_STEP)
            zi, zf, zg, zo = ops.split(pre, 4, axis=-1)
            step, lim = s[4], s[5]

            def cell(v):
                return on_grid(v, step, -lim, lim - step)

            c = cell(cell(ops.sigmoid(zf) * c) + cell(ops.sigmoid(zi) * ops.tanh(zg)))
            h = on_grid(ops.sigmoid(zo) * ops.tanh(c), s[1], s[2], s[3])
            state = ops.concatenate([h, c], axis=-1)
            return state, state

        def emit(self, states):
            return states[..., : self.units]

    return QATLSTM


def _gru_layer(keras, base):
    ops = keras.ops

    class QATGRU(base):
        """reset_after=True GRU; qparams[0] = input scale (the hidden grids are fixed)."""

        gates = 3

        def bias_shape(self):
            return (2, 3 * self.units)

        def input_path(self, x):
            wx, sx = per_gate_weights(self.kernel, 3)
            wh, sh = per_gate_weights(self.recurrent_kernel, 3)
            pre_x = q312(ops.matmul(x, wx) + bias_grid(self.bias[0], self.qparams[0] * sx, self.units))
            return pre_x, (wh, bias_grid(self.bias[1], H8_STEP * sh, self.units))

        def initial_state(self, batch):
            return ops.zeros((batch, self.units))

        def step(self, h16, pre_x, wh, bh):
            h8 = on_grid(h16, H8_STEP, -1.0, 1.0 - H8_STEP)
            pre_h = q312(ops.matmul(h8, wh) + bh)
            xz, xr, xh = ops.split(pre_x, 3, axis=-1)
            hz, hr, hh = ops.split(pre_h, 3, axis=-1)
            z = ops.sigmoid(q312(xz + hz))
            r = ops.sigmoid(q312(xr + hr))
            cand = ops.tanh(q312(xh + q312(r * hh)))
            h16 = on_grid(z * h16 + (1.0 - z) * cand, H16_STEP, -1.0, 1.0 - H16_STEP)
            return h16, h16

        def emit(self, states):
            return on_grid(states, H8_STEP, -1.0, 1.0 - H8_STEP)  # the layer outputs h8

    return QATGRU


def _dense_layer(keras):
    ops = keras.ops

    class QATDense(keras.layers.Layer):
        """Per-channel int8 weights, logits on the output grid, softmax. qparams: in scale, out scale, lo, hi."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = int(units)

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(int(input_shape[-1]), self.units), name="kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
            self.qparams = self.add_weight(shape=(4,), initializer="ones", trainable=False, name="qparams")

        def call(self, x):
            peak = ops.stop_gradient(ops.max(ops.abs(self.kernel), axis=0))
            scale = ops.where(peak > 0, peak / 127.0, ops.ones_like(peak))
            w = ops.clip(ste_round(self.kernel / scale), -127.0, 127.0) * scale
            logits = ops.matmul(x, w) + bias_grid(self.bias, self.qparams[0] * scale, 1)
            s = self.qparams
            return ops.softmax(on_grid_passthrough(logits, s[1], s[2], s[3]), axis=-1)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return QATDense


# ----------------------------------------------------------------------------- model surgery

def float_model_of(model):
    """The quantizer's float twin of an in-memory plain model (as ``load_keras`` builds it)."""
    return ki.import_model(model, "(in memory)")


def quantize_in_memory(model, calib_x: np.ndarray):
    """The IR model ``tinyrnn quantize`` would make of ``model`` (percentile calibration)."""
    return quantize_model(float_model_of(model), calib_x)


def _check_plain_layer(layer, kind: str) -> None:
    cfg = layer.get_config()
    if kind == "GRU" and not cfg.get("reset_after", True):
        raise TinyrnnError(f"QAT: layer '{layer.name}': only reset_after=True GRUs are supported")
    if kind in ("LSTM", "GRU") and not cfg.get("use_bias", True):
        raise TinyrnnError(f"QAT: layer '{layer.name}': layers without bias are not supported")
    if kind == "Dense" and cfg.get("activation") != "softmax":
        raise TinyrnnError(f"QAT: layer '{layer.name}': the head must be Dense(softmax)")


def build_qat_model(plain):
    """Fake-quantizing Keras 3 twin of a ``build_model`` model, same weights.

    Returns (qat model, [(plain layer, qat layer)] for the weight-carrying layers,
    the QATInput layer).
    """
    keras = _keras()
    steps, features = (int(d) for d in plain.inputs[0].shape[1:])
    h = inputs = keras.Input((steps, features), name="x")
    pairs, quant_in = [], None
    for layer in plain.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "Normalization":
            mean, var = (np.asarray(w, np.float32).reshape(-1) for w in layer.get_weights()[:2])
            h = keras.layers.Normalization(axis=-1, mean=mean, variance=var, name=layer.name)(h)
            continue
        if kind not in ("LSTM", "GRU", "Dense"):
            raise TinyrnnError(f"QAT: layer '{layer.name}' ({kind}) is not supported")
        _check_plain_layer(layer, kind)
        if quant_in is None:
            quant_in = _LAYER_CLASSES["input"](name="input_quant")
            h = quant_in(h)
        if kind == "Dense":
            twin = _LAYER_CLASSES["dense"](layer.units, name=layer.name)
        else:
            cls = _LAYER_CLASSES[kind.lower()]
            twin = cls(layer.units, return_sequences=layer.return_sequences, name=layer.name)
        h = twin(h)
        pairs.append((layer, twin))
    model = keras.Model(inputs, h, name=f"{plain.name}_qat")
    for src, twin in pairs:
        for name, value in zip(_weight_names(src), src.get_weights()):
            var = getattr(twin, name)
            var.assign(np.asarray(value, np.float32).reshape(tuple(var.shape)))
    return model, pairs, quant_in


def _weight_names(layer) -> tuple:
    """The plain layer's weights in get_weights() order (the twin has the same names)."""
    return ("kernel", "bias") if type(layer).__name__ == "Dense" else ("kernel", "recurrent_kernel", "bias")


def copy_back(pairs) -> None:
    """Write the fine-tuned weights into the plain layers."""
    for src, twin in pairs:
        current = src.get_weights()
        src.set_weights([np.asarray(getattr(twin, n).numpy()).reshape(w.shape)
                         for n, w in zip(_weight_names(src), current)])


def _grid_range(scale: float, zero_point: int, bits: int = 8) -> list:
    """The real range of a grid: int8, or int16 (the default head's logits)."""
    top = 2 ** (bits - 1)
    return [(-top - zero_point) * scale, (top - 1 - zero_point) * scale]


def assign_scales(pairs, quant_in, ir_model) -> None:
    """Take every scale and grid from the quantized IR of the current weights."""
    first = ir_model.layers[0]
    quant_in.qparams.assign(np.array([first.input_scale, *_grid_range(first.input_scale, first.input_zero_point)],
                                     np.float32))
    for (_, twin), q in zip(pairs, ir_model.layers):
        if q.kind == "lstm":
            step = 2.0**q.cell_scale_power
            values = [q.input_scale, q.hidden_scale, *_grid_range(q.hidden_scale, q.hidden_zero_point),
                      step, 32768 * step]
        elif q.kind == "gru":
            values = [q.input_scale, q.hidden_scale, -1.0, 1.0 - H8_STEP, 1.0, 1.0]
        else:
            values = [q.input_scale, q.output_scale, *_grid_range(q.output_scale, q.output_zero_point, q.output_bits)]
        twin.qparams.assign(np.array(values, np.float32))


def int8_scores(ir_model, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and mean cross-entropy of the int8 golden model (logits dequantized)."""
    logits = dequantize_output(ir_model, run_model(ir_model, ir_model.input_quant.quantize(x)))
    top = logits.max(-1, keepdims=True)
    log_z = np.log(np.exp(logits - top).sum(-1)) + top[:, 0]
    nll = float(np.mean(log_z - logits[np.arange(len(y)), y]))
    return {"accuracy": float(np.mean(np.argmax(logits, -1) == y)), "loss": nll}
