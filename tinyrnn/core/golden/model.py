"""Whole-model golden run: int8 input sequences → int8 outputs, batched."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core.golden.conv1d_s8 import conv1d_s8
from tinyrnn.core.golden.dense_s8 import dense_s8
from tinyrnn.core.golden.gru_s8 import gru_s8
from tinyrnn.core.golden.lstm_s8 import lstm_s8
from tinyrnn.core.golden.rnn_s8 import rnn_s8
from tinyrnn.core.ir import Model

RECURRENT = {"lstm": lstm_s8, "gru": gru_s8, "rnn": rnn_s8}


def run_model(model: Model, x_q: np.ndarray, probes: list | None = None, valid: np.ndarray | None = None) -> np.ndarray:
    """x_q (N, T, F) int8 → (N, O) int8, or (N, T, O) when the model returns sequences.

    ``probes`` (optional) receives one dict per layer of arrays seen inside it. ``valid``
    (N, T) bool (optional, from ``model.valid_steps`` of the float input): masked steps
    keep every recurrent state and repeat the previous output (the last valid step's
    output is the window's), as Keras does after a Masking layer.
    """
    y = np.asarray(x_q, np.int8)
    for layer in model.layers:
        record: dict = {}
        probe = (lambda name, v: record.setdefault(name, []).append(np.asarray(v))) if probes is not None else None
        if layer.kind == "dense":
            y = dense_s8(layer, y)
        elif layer.kind == "conv1d":
            y = conv1d_s8(layer, y)
            if not y.shape[1]:
                raise ValueError(f"layer {layer.name}: a window of {x_q.shape[1]} steps gives no output "
                                 f"(the model needs more than {model.warmup})")
        else:
            seq, _ = RECURRENT[layer.kind](layer, y, probe=probe, valid=valid)
            y = seq if layer.return_sequences else seq[:, -1]
        if probes is not None:
            probes.append(record)
    return y


def run_steps(model: Model, x_q: np.ndarray) -> np.ndarray:
    """What T calls of the generated ``_step`` write: (N, T, O), the output after every step.

    A Conv1D front end with "valid" padding emits nothing for its first ``model.warmup``
    steps: the recurrent stack does not step and the output is the head of the reset
    state, as on a masked step; from then on step t is the whole-window output of
    ``x_q[:, :t + 1]``. Without such a front end this is the model returning sequences.
    """
    x = np.asarray(x_q, np.int8)
    front = [layer for layer in model.layers if layer.kind == "conv1d"]
    for layer in front:
        x = conv1d_s8(layer, x)
    n, steps = x_q.shape[:2]
    warm = steps - x.shape[1]
    x = np.concatenate([np.zeros((n, warm, x.shape[2]), np.int8), x], axis=1)
    layers = [layer for layer in model.layers if layer.kind != "conv1d"]
    last = max(k for k, layer in enumerate(layers) if layer.kind != "dense")
    layers[last] = dataclasses.replace(layers[last], return_sequences=True)
    valid = np.broadcast_to(np.arange(steps) >= warm, (n, steps)) if warm else None
    return run_model(dataclasses.replace(model, layers=layers), x, valid=valid)


def dequantize_output(model: Model, y: np.ndarray) -> np.ndarray:
    return (y.astype(np.float64) - model.output_zero_point) * model.output_scale


def predict(model: Model, x: np.ndarray) -> np.ndarray:
    """Float input → class index by the int8 golden model (argmax of int8 logits)."""
    y = run_model(model, model.input_quant.quantize(x), valid=model.valid_steps(x))
    return np.argmax(y, axis=-1)
