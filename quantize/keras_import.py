"""Read a Keras model into a FloatModel, refusing anything the kernels cannot run.

The layers are taken from the model's graph (``keras_graph.chain``), each converted by
``keras_layers``; layers that are identity at inference are skipped (and named in the
report), an Activation merges into the Dense before it, BatchNormalization folds into
the input quantization or the Dense before it. Each twin layer remembers which Keras
layer's output it reproduces (``FloatModel.keras_layers``), so the referee
(``quantize/referee.py``) can compare the two layer by layer.

TensorFlow/Keras is imported inside ``open_keras`` only, so the rest of quantize
(and everything downstream) stays importable on a machine without it.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import DENSE_ACTIVATIONS, FRONT_KINDS, MERGE_MODES, RECURRENT_KINDS, RNN_ACTIVATIONS
from tinyrnn.quantize import keras_graph
from tinyrnn.quantize import keras_layers as kl
from tinyrnn.quantize.float_model import FloatModel
from tinyrnn.tfsupport import import_keras

IDENTITY = ("Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")
ACTIVATION_LAYERS = ("Activation", "ReLU", "Softmax")
RECURRENT = ("LSTM", "GRU", "SimpleRNN")

# The importer's own table (README's "Supported Keras layers" is generated from it: support_table()).
SUPPORT = (
    ("LSTM, GRU", "activation tanh, recurrent_activation sigmoid, use_bias, return_sequences, GRU reset_after "
                  "True/False", "stateful, go_backwards, unroll, return_state, time_major, custom activations"),
    ("SimpleRNN", f"activation {' or '.join(RNN_ACTIVATIONS)}, use_bias, return_sequences; int8, 16x8 "
                  "(--activations int16) or 16x16 (and --rnn-weights int16)", "as LSTM"),
    ("Bidirectional", f"of LSTM, GRU or SimpleRNN (as those), merge_mode {', '.join(MERGE_MODES)}; whole-window "
                      "C API (_run, no _step)", "merge_mode None, after Masking, other wrapped layers"),
    ("Dense", f"activation {', '.join(DENSE_ACTIVATIONS)} in any position (the last layer outputs "
              "pre-activation logits, int16 by default, int8 with --logits int8); per step on sequences", "other activations"),
    ("TimeDistributed(Dense)", "as Dense, per step", "any other wrapped layer"),
    ("Conv1D", "before the recurrent layers: padding valid or causal (streams in the step API) or same (strides 1: "
               "whole-window C API), strides, dilation_rate, activation linear, relu or relu6",
     "padding same with strides > 1, groups > 1, channels_first, with Masking"),
    ("MaxPooling1D, AveragePooling1D", "before the recurrent layers: pool_size, strides, padding valid; streams",
     "padding same, channels_first, with Masking"),
    ("GlobalAveragePooling1D, GlobalMaxPooling1D", "directly after a recurrent layer with return_sequences=True "
     "(after a Conv1D/pooling front end too): pools the steps so far, streams in the step API",
     "keepdims=True, channels_first, with Masking"),
    ("Flatten", "directly after a recurrent layer with return_sequences=True (after a Conv1D/pooling front end "
                "too), fixed input length T: whole-window C API (_run takes exactly T steps, no _step)",
     "time dimension None, with Masking"),
    ("Activation, ReLU, Softmax", "merged into the Dense before them (ReLU: plain or max_value=6)",
     "after a recurrent layer; leaky/thresholded ReLU"),
    ("Normalization", "directly after the input: folded into the input quantization", "elsewhere; invert=True"),
    ("BatchNormalization", "before the first layer: folded into the input quantization; after a linear Dense: "
                           "folded into it", "elsewhere; axis other than the last"),
    ("Masking", "directly after the input (finite mask_value): masked steps keep state and output",
     "elsewhere; mask_zero"),
    (", ".join(IDENTITY), "skipped (identity at inference), named in the report", "-"),
    ("Functional models", "one input; several outputs with --output NAME", "branches, skip connections, "
                          "shared layers, nested models, several inputs"),
)


def support_table() -> str:
    rows = ["| Keras | accepted | refused |", "|---|---|---|"]
    return "\n".join(rows + [f"| {a} | {b} | {c} |" for a, b, c in SUPPORT])


def open_keras(path: str | os.PathLike):
    """The Keras model in a .keras file, or a one-line TinyrnnError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TinyrnnError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise TinyrnnError(f"{path}: not a Keras .keras file (not a zip archive; corrupt or wrong format)")
    keras = import_keras()
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a damaged file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TinyrnnError(f"{path}: cannot load Keras model ({first[:200]})") from None


class _Builder:
    """The twin under construction: input normalization, layers, and for each layer the
    Keras layer whose output it equals."""

    def __init__(self, n_features: int, window: int | None):
        self.window = window  # the input's fixed length, if any
        self.mean, self.std = np.zeros(n_features), np.ones(n_features)
        self.layers, self.taps, self.skipped = [], [], []
        self.mask_value = None
        self.first = True  # nothing but Masking/Normalization seen yet
        self.normalized = False  # the raw input is no longer what Masking would compare

    def add(self, twin, keras_layer) -> None:
        self.layers.append(twin)
        self.taps.append(keras_layer.name)
        self.first = False

    def last_dense(self, layer):
        """The Dense just before ``layer`` whose output is still the Dense's own."""
        if not self.layers or self.layers[-1].kind != "dense":
            before = f"after layer '{self.layers[-1].name}'" if self.layers else "before any Dense"
            raise kl.refuse(layer, f"is only supported directly after a Dense ({before})")
        return self.layers[-1]

    def fold(self, layer, kind: str) -> None:
        cfg = layer.get_config()
        if kind == "Masking":
            if not self.first or self.normalized or self.mask_value is not None:
                raise kl.refuse(layer, "Masking is only supported as the first layer (directly after the input)")
            self.mask_value = float(cfg.get("mask_value", 0.0))
            if not np.isfinite(self.mask_value):
                raise kl.refuse(layer, f"option mask_value={self.mask_value} is not supported (needs a finite value)")
        elif kind == "Normalization":
            if not self.first or self.normalized:
                raise kl.refuse(layer, "Normalization is only supported directly after the input")
            self.mean, self.std = kl.normalization(layer, self.mean.size)
            self.normalized = True
        elif kind == "BatchNormalization" and self.first:
            self.mean, self.std = kl.fold_into_input(layer, self.mean, self.std)
            self.normalized = True
        elif kind == "BatchNormalization":
            if not self.layers or self.layers[-1].kind != "dense":
                raise kl.refuse(layer, "is only supported before the first layer or directly after a linear Dense")
            self.layers[-1] = kl.fold_into_dense(layer, self.layers[-1])
            self.taps[-1] = layer.name
        else:  # an activation layer
            dense = self.last_dense(layer)
            activation = kl.activation_of(layer)
            if dense.activation != "linear" and activation != "linear":
                raise kl.refuse(layer, f"follows Dense '{dense.name}' that already applies {dense.activation!r}")
            if activation != "linear":
                self.layers[-1] = dataclasses.replace(dense, activation=activation)
            self.taps[-1] = layer.name


def _convert(builder: _Builder, layer) -> None:
    kind, cfg = type(layer).__name__, layer.get_config()
    if kind in IDENTITY:
        builder.skipped.append(f"{layer.name} ({kind})")
    elif kind in ("Masking", "Normalization", "BatchNormalization", *ACTIVATION_LAYERS):
        builder.fold(layer, kind)
    elif kind in ("LSTM", "GRU"):
        builder.add(kl.recurrent(layer, cfg), layer)
    elif kind == "SimpleRNN":
        builder.add(kl.simple_rnn(layer, cfg), layer)
    elif kind == "Bidirectional":
        builder.add(kl.bidirectional(layer, builder.mask_value is not None), layer)
    elif kind == "Dense":
        builder.add(kl.dense(layer, cfg), layer)
    elif kind in ("Conv1D", "MaxPooling1D", "AveragePooling1D"):
        if builder.mask_value is not None or any(t.kind not in FRONT_KINDS for t in builder.layers):
            raise kl.refuse(layer, "is only supported before the recurrent layers, without Masking")
        builder.add((kl.conv1d if kind == "Conv1D" else kl.pool1d)(layer, cfg), layer)
    elif kind in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        builder.add(kl.global_pool1d(layer, cfg, builder.layers[-1] if builder.layers else None,
                                     builder.mask_value is not None), layer)
    elif kind == "Flatten":
        builder.add(kl.flatten(layer, builder.layers[-1] if builder.layers else None, builder.mask_value is not None,
                               builder.window), layer)
    elif kind == "TimeDistributed" and type(layer.layer).__name__ == "Dense":
        builder.add(kl.dense(layer.layer, layer.layer.get_config(), name=layer.name), layer)
    elif kind == "TimeDistributed":
        raise kl.refuse(layer, f"wraps {type(layer.layer).__name__}: only TimeDistributed(Dense) is supported")
    else:
        names = ", ".join(row[0] for row in SUPPORT[:-1])
        raise kl.refuse(layer, f"unsupported layer type (tinyrnn supports {names})")


def import_model(model, where: str = "model", output: str | None = None) -> FloatModel:
    """The float twin of an in-memory Keras model (``output``: the output layer's name)."""
    for layer in model.layers:  # merge_mode=None has two outputs: say so before the graph walk does
        if type(layer).__name__ == "Bidirectional":
            kl.check_merge_mode(layer)
    chain = keras_graph.chain(model, output, where)
    for layer in chain:  # before the input check: an Embedding's input is (time,)
        if layer.get_config().get("mask_zero"):
            raise kl.refuse(layer, "option mask_zero=True is not supported (use Masking(mask_value=0) on the input)")
    shape = tuple(model.inputs[0].shape)[1:]
    if len(shape) != 2 or shape[-1] is None:
        raise TinyrnnError(f"{where}: model input must be (time, features), got {shape}")
    builder = _Builder(int(shape[-1]), shape[0])
    for layer in chain:
        _convert(builder, layer)
    if not any(layer.kind in RECURRENT_KINDS for layer in builder.layers):
        raise TinyrnnError(f"{where}: model has no LSTM, GRU or SimpleRNN layer")
    source = {"file": os.path.basename(where), "format": "keras", "skipped": builder.skipped}
    if output is not None:
        source["output"] = output
    return FloatModel(model.name, (shape[0], int(shape[-1])), builder.mean, builder.std, builder.layers, source,
                      builder.mask_value, keras_layers=builder.taps)


def load_keras(path: str | os.PathLike, output: str | None = None) -> FloatModel:
    return import_model(open_keras(path), os.fspath(path), output)
