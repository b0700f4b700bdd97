"""The intermediate representation: one typed model that quantize writes and codegen,
the golden model and the harness read.

Everything integer the kernels need is decided here, once, in Python; the C side only
reads it. The SHA-256 content hash defined here is what generated C and the device
report back; :mod:`tinyrnn.core.tnr` saves and loads the file, and
:mod:`tinyrnn.core.validate` checks a model. Imports only numpy (and the standard library).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The vocabulary and the layer types live in three modules (about 200 lines each); every
# name is re-exported here, so "from tinyrnn.core.ir import X" is the one way in.
from tinyrnn.core.ir_common import (  # noqa: F401
    ACTIVATION_BITS, CONV_ACTIVATIONS, CONV_PADDINGS, DENSE_ACTIVATIONS, FRONT_KINDS, GATES_GRU, GATES_LSTM,
    GLOBAL_KINDS, IR_FORMAT, IR_VERSION, KINDS_16, MERGE_MODES, POOLS, RECURRENT_KINDS, RNN_ACTIVATIONS,
    TABLE_ACTIVATIONS, Bits, InputQuant,
)
from tinyrnn.core.ir_feedforward import (  # noqa: F401
    Conv1DLayer, DenseLayer, FlattenLayer, GlobalPool1DLayer, Pool1DLayer, SameGrid, conv_padding,
)
from tinyrnn.core.ir_recurrent import BidirectionalLayer, GRULayer, LSTMLayer, SimpleRNNLayer  # noqa: F401

LAYER_TYPES = {cls.kind: cls for cls in (LSTMLayer, GRULayer, SimpleRNNLayer, DenseLayer, Conv1DLayer, Pool1DLayer,
                                          BidirectionalLayer, GlobalPool1DLayer, FlattenLayer)}


@dataclass
class Model:
    name: str
    input_size: int
    input_quant: InputQuant
    layers: list
    classes: list = field(default_factory=list)  # label names, if any
    meta: dict = field(default_factory=dict)  # provenance: source file, calibration, versions
    # Keras Masking(mask_value): a step whose raw features all equal it is skipped (state
    # and output kept). None = every step counts; then absent from the hashed document.
    mask_value: float | None = None

    def valid_steps(self, x: np.ndarray) -> np.ndarray | None:
        return valid_steps(x, self.mask_value)

    @property
    def activation_bits(self) -> int:
        """8, or 16 for a 16x8 model (every layer's ``activation_bits`` equal, validate checks)."""
        return int(self.input_quant.activation_bits)

    @property
    def int_dtype(self):
        """The inputs' (and hidden states') integer type."""
        return np.int16 if self.activation_bits == 16 else np.int8

    @property
    def output_bits(self) -> int:
        """The outputs' width: the model's, or 16 for an int8 model with an int16-logits head."""
        return max(self.activation_bits, getattr(self.layers[-1], "output_bits", 8))

    @property
    def output_dtype(self):
        return np.int16 if self.output_bits == 16 else np.int8

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    @property
    def output_scale(self) -> float:
        last = self.layers[-1]
        if last.kind in GLOBAL_KINDS:
            return last.result_scale
        return last.output_scale if isinstance(last, DenseLayer) else last.hidden_scale

    @property
    def output_zero_point(self) -> int:
        last = self.layers[-1]
        if last.kind in GLOBAL_KINDS:
            return last.result_zero_point
        return last.output_zero_point if isinstance(last, DenseLayer) else last.hidden_zero_point

    @property
    def returns_sequences(self) -> bool:
        recurrent = [layer for layer in self.layers if layer.kind in RECURRENT_KINDS]
        pooled = any(layer.kind in GLOBAL_KINDS for layer in self.layers)
        return bool(recurrent) and recurrent[-1].return_sequences and not pooled

    @property
    def front_timing(self) -> tuple[int, int]:
        """(warmup, stride): the Conv1D/pooling front end emits its n-th step, and the recurrent
        stack steps, at input step warmup + n·stride ((0, 1) without a front end)."""
        warmup, stride = 0, 1
        for layer in self.layers:
            if layer.kind in FRONT_KINDS:
                warmup, stride = warmup + layer.first * stride, stride * layer.strides
        return warmup, stride

    @property
    def warmup(self) -> int:
        return self.front_timing[0]

    @property
    def whole_window(self) -> bool:
        """A Bidirectional, Flatten or "same" Conv1D layer needs the whole window: no step API (see those layers)."""
        return any(layer.kind in ("bidirectional", "flatten") or getattr(layer, "padding", "") == "same"
                   for layer in self.layers)

    def content_hash(self) -> str:
        doc, arrays = to_document(self)
        return digest_of(doc, arrays)


def valid_steps(x: np.ndarray, mask_value: float | None) -> np.ndarray | None:
    """(N, T) bool: the steps that count, as Keras's Masking computes them on the raw
    float32 input (a step is masked when every feature equals ``mask_value``); None when
    there is no mask."""
    if mask_value is None:
        return None
    return ~np.all(np.asarray(x, np.float32) == np.float32(mask_value), axis=-1)


def _obj_to_json(obj: Any, prefix: str, arrays: dict) -> Any:
    """Dataclass → JSON-able dict; numpy arrays go to ``arrays`` under a dotted key."""
    if dataclasses.is_dataclass(obj):
        out = {"kind": obj.kind} if hasattr(type(obj), "kind") else {}
        absent = obj.absent_fields() if hasattr(obj, "absent_fields") else ()
        for f in dataclasses.fields(obj):
            if f.name in absent:
                continue
            out[f.name] = _obj_to_json(getattr(obj, f.name), f"{prefix}{f.name}.", arrays)
        return out
    if isinstance(obj, np.ndarray):
        key = prefix.rstrip(".")
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, list):
        return [_obj_to_json(v, f"{prefix}{i}.", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj


def to_document(model: Model) -> tuple[dict, dict]:
    arrays: dict = {}
    doc = _obj_to_json(model, "", arrays)
    if doc.get("mask_value") is None:  # unmasked models keep the document (and hash) they always had
        doc.pop("mask_value", None)
    return doc, arrays


def digest_of(doc: dict, arrays: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in doc.items() if k != "meta"}, sort_keys=True).encode())
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()
