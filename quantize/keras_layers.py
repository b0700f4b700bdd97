"""One Keras layer → its float twin (quantize/float_model.py), or a refusal naming the
layer and the option. Called by ``keras_import`` on each layer of the model's chain."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import CONV_ACTIVATIONS, CONV_PADDINGS, DENSE_ACTIVATIONS, MERGE_MODES, RNN_ACTIVATIONS
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

# (option, value that we support): anything else is refused with the option named.
RECURRENT_FIXED = (
    ("activation", "tanh"),
    ("recurrent_activation", "sigmoid"),
    ("go_backwards", False),
    ("stateful", False),
    ("unroll", False),
    ("return_state", False),
)


def refuse(layer, what: str) -> TinyrnnError:
    return TinyrnnError(f"layer '{layer.name}' ({type(layer).__name__}): {what}")


def _option(value):
    """A config value; serialized activation objects and custom functions ("package>name") by name."""
    if isinstance(value, dict):
        inner = value.get("config")
        return inner if isinstance(inner, str) else (inner or {}).get("name", value.get("class_name"))
    return value


def _check_options(layer, cfg: dict) -> None:
    for option, wanted in RECURRENT_FIXED:
        value = _option(cfg.get(option, wanted))
        if value != wanted:
            raise refuse(layer, f"option {option}={value!r} is not supported (needs {wanted!r})")
    if cfg.get("time_major"):
        raise refuse(layer, "option time_major=True is not supported")


def weights(layer) -> list[np.ndarray]:
    """The layer's weights as float64, refused (naming layer and tensor) if any is NaN or Inf."""
    out = [np.asarray(w, np.float64) for w in layer.get_weights()]
    for w, var in zip(out, layer.weights):
        bad = ~np.isfinite(w)
        if bad.any():
            what = getattr(var, "path", None) or getattr(var, "name", "weights")
            raise refuse(layer, f"{int(bad.sum())} NaN/Inf values in {what}: retrain or fix the model")
    return out


def normalization(layer, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Keras Normalization → (mean, std) per input channel."""
    mean = np.asarray(layer.mean, np.float64).reshape(-1)
    var = np.asarray(layer.variance, np.float64).reshape(-1)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))) or np.any(var < 0):
        raise refuse(layer, "mean/variance hold NaN, Inf or negative values: adapt() it on finite data")
    if mean.size != n_features:
        raise refuse(layer, f"normalizes {mean.size} values, expected one per input channel ({n_features})")
    if getattr(layer, "invert", False):
        raise refuse(layer, "option invert=True is not supported")
    # Keras divides by max(sqrt(variance), epsilon).
    return mean, np.maximum(np.sqrt(var), 1e-7)


def batch_norm(layer, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inference-time BatchNormalization as y = a·x + b per channel of the last axis."""
    cfg = layer.get_config()
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, 2):
        raise refuse(layer, f"option axis={cfg.get('axis')!r} is not supported (normalize the last axis)")
    named = {getattr(v, "path", v.name).split("/")[-1].split(":")[0]: w for v, w in zip(layer.weights, weights(layer))}
    gamma = named.get("gamma", np.ones(size))
    beta = named.get("beta", np.zeros(size))
    mean, var = named["moving_mean"], named["moving_variance"]
    if mean.size != size:
        raise refuse(layer, f"normalizes {mean.size} values, its input has {size}")
    if np.any(var < 0):
        raise refuse(layer, "moving_variance holds negative values")
    a = gamma / np.sqrt(var + float(cfg.get("epsilon", 1e-3)))
    return a, beta - a * mean


def fold_into_input(layer, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the input quantization after a BatchNormalization on the normalized input."""
    a, b = batch_norm(layer, mean.size)
    if np.any(a <= 0):
        k = int(np.argmax(a <= 0))
        raise refuse(layer, f"gamma <= 0 in channel {k} cannot fold into the input quantization")
    # a·(x − m)/s + b = (x − m')/s' with s' = s/a, m' = m − b·s'
    new_std = std / a
    return mean - b * new_std, new_std


def fold_into_dense(layer, dense: FloatDense) -> FloatDense:
    if dense.activation != "linear":
        raise refuse(layer, f"follows Dense '{dense.name}' with activation {dense.activation!r}: only a linear "
                            f"Dense folds a BatchNormalization")
    a, b = batch_norm(layer, dense.units)
    return dataclasses.replace(dense, kernel=dense.kernel * a, bias=dense.bias * a + b)


def recurrent(layer, cfg: dict):
    _check_options(layer, cfg)
    w = weights(layer)
    kernel, recurrent_kernel = w[0], w[1]
    units = recurrent_kernel.shape[0]
    if type(layer).__name__ == "LSTM":
        bias = w[2] if cfg.get("use_bias", True) else np.zeros(4 * units)
        return FloatLSTM(layer.name, kernel, recurrent_kernel, bias, bool(cfg.get("return_sequences")))
    reset_after = bool(cfg.get("reset_after", True))
    if not cfg.get("use_bias", True):
        bias = np.zeros((2, 3 * units))
    elif reset_after:
        bias = w[2].reshape(2, 3 * units)
    else:
        bias = np.stack([w[2], np.zeros(3 * units)])
    return FloatGRU(layer.name, kernel, recurrent_kernel, bias[0], bias[1], bool(cfg.get("return_sequences")),
                    reset_after)


def simple_rnn(layer, cfg: dict) -> FloatSimpleRNN:
    """SimpleRNN with activation tanh or relu; every other option as LSTM/GRU need it."""
    activation = _option(cfg.get("activation", "tanh"))
    if activation not in RNN_ACTIVATIONS:
        raise refuse(layer, f"option activation={activation!r} is not supported (use one of {', '.join(RNN_ACTIVATIONS)})")
    _check_options(layer, {**cfg, "activation": "tanh"})
    w = weights(layer)
    bias = w[2] if cfg.get("use_bias", True) else np.zeros(w[1].shape[0])
    return FloatSimpleRNN(layer.name, w[0], w[1], bias, activation, bool(cfg.get("return_sequences")))


def check_merge_mode(layer) -> str:
    mode = layer.get_config().get("merge_mode")
    if mode not in MERGE_MODES:
        raise refuse(layer, f"option merge_mode={mode!r} is not supported (use one of {', '.join(MERGE_MODES)})")
    return mode


def bidirectional(layer, masked: bool) -> FloatBidirectional:
    """Bidirectional(LSTM|GRU|SimpleRNN): each direction checked as the layer alone, the
    backward one with the go_backwards=True that Bidirectional gives it."""
    mode = check_merge_mode(layer)
    if masked:
        raise refuse(layer, "a Masking layer before Bidirectional is not supported")
    twins = []
    for inner, backwards in ((layer.forward_layer, False), (layer.backward_layer, True)):
        kind, inner_cfg = type(inner).__name__, inner.get_config()
        if kind not in ("LSTM", "GRU", "SimpleRNN") or kind != type(layer.forward_layer).__name__:
            raise refuse(layer, f"wraps {kind}: only Bidirectional(LSTM|GRU|SimpleRNN), one kind both ways")
        if bool(inner_cfg.get("go_backwards")) != backwards:
            raise refuse(inner, f"option go_backwards={not backwards} inside Bidirectional is not supported")
        inner_cfg = {**inner_cfg, "go_backwards": False}
        twins.append(simple_rnn(inner, inner_cfg) if kind == "SimpleRNN" else recurrent(inner, inner_cfg))
    return FloatBidirectional(layer.name, twins[0], twins[1], mode)


def dense(layer, cfg: dict, name: str | None = None) -> FloatDense:
    """Dense (or the Dense inside a TimeDistributed: ``name`` is the wrapper's)."""
    activation = check_activation(layer, _option(cfg.get("activation", "linear")))
    w = weights(layer)
    bias = w[1] if cfg.get("use_bias", True) else np.zeros(w[0].shape[1])
    return FloatDense(name or layer.name, w[0], bias, activation)


def _single(value) -> int:
    """A Keras 1-D size option, given as n or (n,)."""
    return int(value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value)


def _check_fixed(layer, fixed) -> None:
    for option, allowed, value in fixed:
        if value not in allowed:
            raise refuse(layer, f"option {option}={value!r} is not supported (use {' or '.join(map(repr, allowed))})")


def _channels_last(cfg: dict) -> tuple:
    return "data_format", ("channels_last",), cfg.get("data_format") or "channels_last"


def conv1d(layer, cfg: dict) -> FloatConv1D:
    """Conv1D, channels_last, padding valid/causal/same (same: strides 1), activation linear/relu/relu6, any strides
    and dilation_rate."""
    fixed = (("padding", CONV_PADDINGS, cfg.get("padding", "valid")),
             ("activation", CONV_ACTIVATIONS, _option(cfg.get("activation", "linear"))),
             _channels_last(cfg), ("groups", (1,), int(cfg.get("groups", 1))))
    _check_fixed(layer, fixed)
    if fixed[0][2] == "same" and _single(cfg.get("strides", 1)) != 1:
        raise refuse(layer, "option padding='same' with strides > 1 is not supported")
    w = weights(layer)
    bias = w[1] if cfg.get("use_bias", True) else np.zeros(w[0].shape[2])
    return FloatConv1D(layer.name, w[0], bias, fixed[1][2], dilation=_single(cfg.get("dilation_rate", 1)),
                       padding=fixed[0][2], strides=_single(cfg.get("strides", 1)))


def pool1d(layer, cfg: dict) -> FloatPool1D:
    """MaxPooling1D / AveragePooling1D, channels_last, padding valid (strides None = pool_size)."""
    _check_fixed(layer, (("padding", ("valid",), cfg.get("padding", "valid")), _channels_last(cfg)))
    size = _single(cfg.get("pool_size", 2))
    strides = size if cfg.get("strides") is None else _single(cfg["strides"])
    return FloatPool1D(layer.name, "max" if type(layer).__name__.startswith("Max") else "average", size, strides)


def global_pool1d(layer, cfg: dict, before, masked: bool) -> FloatGlobalPool1D:
    """GlobalMaxPooling1D / GlobalAveragePooling1D over time, channels_last, keepdims False,
    directly after a recurrent layer returning sequences (``before``: the twin's last layer)."""
    _check_fixed(layer, (_channels_last(cfg), ("keepdims", (False,), bool(cfg.get("keepdims", False)))))
    _check_tail(layer, before, masked)
    return FloatGlobalPool1D(layer.name, "max" if type(layer).__name__.startswith("GlobalMax") else "average")


def flatten(layer, before, masked: bool, window) -> FloatFlatten:
    """Flatten of a recurrent layer's sequence: needs the model input's fixed length ``window``."""
    _check_tail(layer, before, masked)
    steps = tuple(layer.input.shape)[1]
    if steps is None or window is None:
        raise refuse(layer, "needs a fixed number of time steps (the model input's time dimension is None)")
    return FloatFlatten(layer.name, int(steps), int(window))


def _check_tail(layer, before, masked: bool) -> None:
    if before is None or before.kind not in ("lstm", "gru", "rnn", "bidirectional") or not before.return_sequences:
        raise refuse(layer, "is only supported directly after a recurrent layer with return_sequences=True")
    if masked:
        raise refuse(layer, "a Masking layer before it is not supported")


def check_activation(layer, activation) -> str:
    if activation not in DENSE_ACTIVATIONS:
        raise refuse(layer, f"option activation={activation!r} is not supported "
                            f"(use one of {', '.join(DENSE_ACTIVATIONS)})")
    return activation


def activation_of(layer) -> str:
    """The activation an Activation, ReLU or Softmax layer applies, by Dense's names."""
    kind, cfg = type(layer).__name__, layer.get_config()
    if kind == "Activation":
        return check_activation(layer, _option(cfg.get("activation")))
    if kind == "Softmax":
        axis = cfg.get("axis", -1)
        if axis not in (-1, [-1], (-1,)):
            raise refuse(layer, f"option axis={axis!r} is not supported (softmax over the last axis)")
        return check_activation(layer, "softmax")
    options = (cfg.get("max_value"), float(cfg.get("negative_slope", 0.0)), float(cfg.get("threshold", 0.0)))
    if options == (None, 0.0, 0.0):
        return "relu"
    if options[1:] == (0.0, 0.0) and options[0] is not None and float(options[0]) == 6.0:
        return check_activation(layer, "relu6")
    raise refuse(layer, f"options max_value={options[0]}, negative_slope={options[1]}, threshold={options[2]} "
                        f"are not supported (plain relu or relu6)")
