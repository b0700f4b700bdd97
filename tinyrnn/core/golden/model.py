"""Whole-model golden run: int8 input sequences → int8 outputs (int16 logits), batched."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core.golden.bidirectional_s8 import DIRECTIONS, bidirectional_s8
from tinyrnn.core.golden.conv1d_s8 import conv1d_s8
from tinyrnn.core.golden.dense_s8 import dense_s8
from tinyrnn.core.golden.dense_s8_s16 import dense_s8_s16
from tinyrnn.core.golden.global_pool1d_s8 import global_pool1d_s8
from tinyrnn.core.golden.dense_s16 import dense_s16
from tinyrnn.core.golden.lstm_s16 import lstm_s16
from tinyrnn.core.golden.pool1d_s8 import pool1d_s8
from tinyrnn.core.golden.rnn_s16 import rnn_s16
from tinyrnn.core.ir import RECURRENT_KINDS, FlattenLayer, Model

RECURRENT = {**DIRECTIONS, "bidirectional": bidirectional_s8}
FRONT = {"conv1d": conv1d_s8, "pool1d": pool1d_s8}
WIDE = {"lstm": lstm_s16, "rnn": rnn_s16, "dense": dense_s16}  # the 16x8 kernels (ir.KINDS_16)


def kernel(layer):
    """The golden function of a layer: its kind's, the 16x8 one at ``activation_bits`` 16,
    the int16-logits Dense at ``output_bits`` 16."""
    if getattr(layer, "activation_bits", 8) == 16:
        return WIDE[layer.kind]
    if getattr(layer, "output_bits", 8) == 16:
        return dense_s8_s16
    return FEEDFORWARD.get(layer.kind) or RECURRENT[layer.kind]


def flatten_s8(layer: FlattenLayer, x) -> np.ndarray:
    """(N, steps, C) → (N, steps·C), time-major as Keras Flatten; any other length is refused."""
    x = np.asarray(x, np.int8)
    if x.shape[1] != layer.steps:
        raise ValueError(f"layer {layer.name}: Flatten needs windows of {layer.steps} steps, got {x.shape[1]}")
    return x.reshape(x.shape[0], -1)


# Layers with no state between windows' steps, each a function of the layer and its input.
FEEDFORWARD = {"dense": dense_s8, **FRONT, "global_pool1d": global_pool1d_s8, "flatten": flatten_s8}


def run_model(model: Model, x_q: np.ndarray, probes: list | None = None, valid: np.ndarray | None = None,
              running: bool = False) -> np.ndarray:  # fmt: skip
    """x_q (N, T, F) int8 → (N, O) int8, or (N, T, O) when the model returns sequences
    (int16 throughout for a 16x8 model; int16 outputs at ``model.output_bits`` 16).

    ``probes`` (optional) receives one dict per layer of arrays seen inside it. ``valid``
    (N, T) bool (optional, from ``model.valid_steps`` of the float input): masked steps
    keep every recurrent state and repeat the previous output (the last valid step's
    output is the window's), as Keras does after a Masking layer. ``running``: a global
    pooling layer gives its result after every step (``run_steps``).
    """
    y = np.asarray(x_q, model.int_dtype)
    for layer in model.layers:
        if layer.kind == "flatten" and y.shape[1] != layer.window:  # as the C's _run refuses it
            raise ValueError(f"layer {layer.name}: the model takes windows of {layer.window} steps, got {y.shape[1]}")
    for layer in model.layers:
        record: dict = {}
        probe = (lambda name, v: record.setdefault(name, []).append(np.asarray(v))) if probes is not None else None
        if layer.kind == "global_pool1d":
            y = global_pool1d_s8(layer, y, valid, running)
        elif layer.kind in FEEDFORWARD:
            y = kernel(layer)(layer, y)
            if layer.kind in FRONT and not y.shape[1]:
                raise ValueError(f"layer {layer.name}: a window of {x_q.shape[1]} steps gives no output "
                                 f"(the model needs more than {model.warmup})")
        else:
            seq, _ = kernel(layer)(layer, y, probe=probe, valid=valid)
            y = seq if layer.return_sequences else seq[:, -1]
        if probes is not None:
            probes.append(record)
    return y


def run_front(model: Model, x_q: np.ndarray) -> np.ndarray:
    """The Conv1D/pooling front end on whole windows: (N, T, F) → (N, T', C) (x_q without one)."""
    y = np.asarray(x_q, model.int_dtype)
    for layer in model.layers:
        if layer.kind in FRONT:
            y = FRONT[layer.kind](layer, y)
    return y


def run_steps(model: Model, x_q: np.ndarray) -> np.ndarray:
    """What T calls of the generated ``_step`` write: (N, T, O), the output after every step.

    The front end's n-th output step is due at input step warmup + n·stride
    (``model.front_timing``); the recurrent stack steps only then. On every other step
    it keeps its state and the output repeats (the head of the reset state before the
    first), as on a masked step. So step t writes the whole-window output of
    ``x_q[:, :t + 1]`` whenever the front end emits at t; without a front end this is
    the model returning sequences.
    """
    front = run_front(model, x_q)
    n, steps = x_q.shape[:2]
    warmup, stride = model.front_timing
    due = np.arange(warmup, steps, stride)
    if due.size != front.shape[1]:  # the stream's timing and the whole-window lengths disagree
        raise ValueError(f"front end: {front.shape[1]} output steps on {steps} inputs, the stream has {due.size}")
    x = np.zeros((n, steps, front.shape[2]), model.int_dtype)
    x[:, due] = front
    layers = [layer for layer in model.layers if layer.kind not in FRONT]
    last = max(k for k, layer in enumerate(layers) if layer.kind in RECURRENT_KINDS)
    layers[last] = dataclasses.replace(layers[last], return_sequences=True)
    valid = np.zeros((n, steps), bool)
    valid[:, due] = True
    return run_model(dataclasses.replace(model, layers=layers), x, valid=None if (warmup, stride) == (0, 1) else valid,
                     running=True)


def dequantize_output(model: Model, y: np.ndarray) -> np.ndarray:
    return (y.astype(np.float64) - model.output_zero_point) * model.output_scale


def predict(model: Model, x: np.ndarray) -> np.ndarray:
    """Float input → class index by the integer golden model (argmax of its logits)."""
    y = run_model(model, model.input_quant.quantize(x), valid=model.valid_steps(x))
    return np.argmax(y, axis=-1)
