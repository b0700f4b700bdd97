"""Read a Keras model file into a FloatModel, refusing anything the kernels cannot run.

TensorFlow/Keras is imported inside ``load_keras`` only, so the rest of quantize
(and everything downstream) stays importable on a machine without it.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import RNN_ACTIVATIONS
from tinyrnn.quantize.float_model import FloatDense, FloatGRU, FloatLSTM, FloatModel, FloatSimpleRNN
from tinyrnn.tfsupport import import_keras

SUPPORTED = "InputLayer, Masking (first), Normalization, LSTM, GRU, SimpleRNN, Dense, Dropout"
_DENSE_ACTIVATIONS = ("linear", "relu", "softmax", "sigmoid")
# (option, value that we support): anything else is refused with the option named.
_RECURRENT_FIXED = (
    ("activation", "tanh"),
    ("recurrent_activation", "sigmoid"),
    ("go_backwards", False),
    ("stateful", False),
    ("unroll", False),
    ("return_state", False),
)


def _refuse(layer, what: str) -> TinyrnnError:
    return TinyrnnError(f"layer '{layer.name}' ({type(layer).__name__}): {what}")


def _check_options(layer, cfg: dict) -> None:
    for option, wanted in _RECURRENT_FIXED:
        value = cfg.get(option, wanted)
        if isinstance(value, dict):  # serialized activation objects; custom functions: config "package>name"
            inner = value.get("config")
            value = inner if isinstance(inner, str) else (inner or {}).get("name", value.get("class_name"))
        if value != wanted:
            raise _refuse(layer, f"option {option}={value!r} is not supported (needs {wanted!r})")
    if cfg.get("time_major"):
        raise _refuse(layer, "option time_major=True is not supported")


def _mask_value(layers) -> float | None:
    """The ``mask_value`` of a Keras ``Masking`` layer right after the input, or None.

    Keras masks a step when all its raw features equal the value; the recurrent layers
    then keep their state and output (the golden model and the C do the same from
    per-step valid flags). Masks from anywhere else are refused, naming the layer."""
    mask = None
    for k, layer in enumerate(layers):
        kind, cfg = type(layer).__name__, layer.get_config()
        if kind == "Masking" and k == 0:
            mask = float(cfg.get("mask_value", 0.0))
            if not np.isfinite(mask):
                raise _refuse(layer, f"option mask_value={mask} is not supported (needs a finite value)")
        elif kind == "Masking":
            raise _refuse(layer, "Masking is only supported as the first layer (directly after the input)")
        elif cfg.get("mask_zero"):
            raise _refuse(layer, "option mask_zero=True is not supported (use Masking(mask_value=0) on the input)")
    return mask


def _weights(layer) -> list[np.ndarray]:
    """The layer's weights as float64, refused (naming layer and tensor) if any is NaN or Inf."""
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    for w, var in zip(weights, layer.weights):
        bad = ~np.isfinite(w)
        if bad.any():
            what = getattr(var, "path", None) or getattr(var, "name", "weights")
            raise _refuse(layer, f"{int(bad.sum())} NaN/Inf values in {what}: retrain or fix the model")
    return weights


def _normalization(layer, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(layer.mean, np.float64).reshape(-1)
    var = np.asarray(layer.variance, np.float64).reshape(-1)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))) or np.any(var < 0):
        raise _refuse(layer, "mean/variance hold NaN, Inf or negative values: adapt() it on finite data")
    if mean.size != n_features:
        raise _refuse(layer, f"normalizes {mean.size} values, expected one per input channel ({n_features})")
    if getattr(layer, "invert", False):
        raise _refuse(layer, "option invert=True is not supported")
    # Keras divides by max(sqrt(variance), epsilon).
    return mean, np.maximum(np.sqrt(var), 1e-7)


def _recurrent(layer, cfg: dict):
    _check_options(layer, cfg)
    weights = _weights(layer)
    kernel, recurrent = weights[0], weights[1]
    units = recurrent.shape[0]
    kind = type(layer).__name__
    if kind == "LSTM":
        bias = weights[2] if cfg.get("use_bias", True) else np.zeros(4 * units)
        return FloatLSTM(layer.name, kernel, recurrent, bias, bool(cfg.get("return_sequences")))
    reset_after = bool(cfg.get("reset_after", True))
    if not cfg.get("use_bias", True):
        bias = np.zeros((2, 3 * units))
    elif reset_after:
        bias = weights[2].reshape(2, 3 * units)
    else:
        bias = np.stack([weights[2], np.zeros(3 * units)])
    return FloatGRU(layer.name, kernel, recurrent, bias[0], bias[1], bool(cfg.get("return_sequences")), reset_after)


def _simple_rnn(layer, cfg: dict) -> FloatSimpleRNN:
    """SimpleRNN with activation tanh or relu; every other option as LSTM/GRU need it."""
    activation = cfg.get("activation", "tanh")
    if isinstance(activation, str) and activation not in RNN_ACTIVATIONS:
        raise _refuse(layer, f"option activation={activation!r} is not supported (use one of {', '.join(RNN_ACTIVATIONS)})")
    _check_options(layer, {**cfg, "activation": "tanh"} if activation == "relu" else cfg)  # custom ones refused there
    weights = _weights(layer)
    bias = weights[2] if cfg.get("use_bias", True) else np.zeros(weights[1].shape[0])
    return FloatSimpleRNN(layer.name, weights[0], weights[1], bias, activation, bool(cfg.get("return_sequences")))


def _dense(layer, cfg: dict) -> FloatDense:
    activation = cfg.get("activation", "linear")
    if activation not in _DENSE_ACTIVATIONS:
        raise _refuse(layer, f"option activation={activation!r} is not supported (use one of {', '.join(_DENSE_ACTIVATIONS)})")
    weights = _weights(layer)
    bias = weights[1] if cfg.get("use_bias", True) else np.zeros(weights[0].shape[1])
    return FloatDense(layer.name, weights[0], bias, activation)


def _open_model(path: str):
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


def load_keras(path: str | os.PathLike) -> FloatModel:
    path = os.fspath(path)
    model = _open_model(path)
    # Before the input check: an Embedding input is (time,). Keras lists no InputLayer in model.layers.
    mask_value = _mask_value([layer for layer in model.layers if type(layer).__name__ != "InputLayer"])
    shape = tuple(model.inputs[0].shape)[1:] if model.inputs else None
    if shape is None or len(shape) != 2 or shape[-1] is None:
        raise TinyrnnError(f"{path}: model input must be (time, features), got {shape}")
    n_features = int(shape[-1])
    mean, std = np.zeros(n_features), np.ones(n_features)
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        cfg = layer.get_config()
        if kind in ("InputLayer", "Dropout", "Masking"):  # Masking: taken by _mask_value
            continue
        if kind == "Normalization":
            if layers:
                raise _refuse(layer, "Normalization is only supported directly after the input")
            mean, std = _normalization(layer, n_features)
        elif kind in ("LSTM", "GRU"):
            layers.append(_recurrent(layer, cfg))
        elif kind == "SimpleRNN":
            layers.append(_simple_rnn(layer, cfg))
        elif kind == "Dense":
            layers.append(_dense(layer, cfg))
        else:
            raise _refuse(layer, f"unsupported layer type (tinyrnn supports {SUPPORTED})")
    if not any(layer.kind != "dense" for layer in layers):
        raise TinyrnnError(f"{path}: model has no LSTM, GRU or SimpleRNN layer")
    source = {"file": os.path.basename(path), "format": "keras"}
    return FloatModel(model.name, (shape[0], n_features), mean, std, layers, source, mask_value)
