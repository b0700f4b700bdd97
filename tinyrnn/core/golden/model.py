"""Whole-model golden run: int8 input sequences → int8 outputs, batched."""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.bidirectional_s8 import DIRECTIONS, bidirectional_s8
from tinyrnn.core.golden.dense_s8 import dense_s8
from tinyrnn.core.ir import Model

RECURRENT = {**DIRECTIONS, "bidirectional": bidirectional_s8}


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
        else:
            seq, _ = RECURRENT[layer.kind](layer, y, probe=probe, valid=valid)
            y = seq if layer.return_sequences else seq[:, -1]
        if probes is not None:
            probes.append(record)
    return y


def dequantize_output(model: Model, y: np.ndarray) -> np.ndarray:
    return (y.astype(np.float64) - model.output_zero_point) * model.output_scale


def predict(model: Model, x: np.ndarray) -> np.ndarray:
    """Float input → class index by the int8 golden model (argmax of int8 logits)."""
    y = run_model(model, model.input_quant.quantize(x), valid=model.valid_steps(x))
    return np.argmax(y, axis=-1)
