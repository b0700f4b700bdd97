"""Validation of an IR model: types, shapes, value ranges and the layer chain.

``tnr.load`` runs it on every artifact (a hand-edited file with a recomputed hash must
still not load as a garbage model), and ``tinyrnn quantize`` before writing one. The
numeric domain (no int32 overflow in any kernel) is ``tinyrnn.core.domain``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core import domain
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.activation_s8 import EXP_ONE, OUTPUT_QUANT, TABLE_SIZE
from tinyrnn.core.golden.model import run_front
from tinyrnn.core.ir import (
    ACTIVATION_BITS,
    CONV_ACTIVATIONS,
    CONV_PADDINGS,
    DENSE_ACTIVATIONS,
    FRONT_KINDS,
    GLOBAL_KINDS,
    POOLS,
    GATES_GRU,
    GATES_LSTM,
    KINDS_16,
    MERGE_MODES,
    RNN_ACTIVATIONS,
    TABLE_ACTIVATIONS,
    BidirectionalLayer,
    Conv1DLayer,
    DenseLayer,
    FlattenLayer,
    GlobalPool1DLayer,
    GRULayer,
    LSTMLayer,
    Model,
    Pool1DLayer,
    SimpleRNNLayer,
)

_INT8 = (-128, 127)
_INT32 = (-(2**31), 2**31 - 1)
_SCALARS = {"str": str, "int": (int, np.integer), "float": (int, float, np.integer, np.floating),
            "bool": (bool, np.bool_)}  # fmt: skip


def _check_scalar(where: str, name: str, value, type_name: str) -> None:
    want = _SCALARS[type_name]
    if not isinstance(value, want) or (type_name != "bool" and isinstance(value, (bool, np.bool_))):
        raise TinyrnnError(f"{where}: field '{name}' must be {type_name}, got {type(value).__name__}")
    if type_name == "int":
        lo, hi = _INT8 if name.endswith("zero_point") else _INT32
        if not lo <= value <= hi:
            raise TinyrnnError(f"{where}: field '{name}' = {value} outside [{lo}, {hi}]")
    if type_name == "float" and (not np.isfinite(value) or (name.endswith("_scale") and value <= 0)):
        raise TinyrnnError(f"{where}: field '{name}' = {value} is not a finite positive scale")


def _check_array(where: str, name: str, a, shape: tuple, bits: int | None) -> None:
    """Exact ``shape``; integer values within ``bits`` signed bits, or finite floats when bits is None."""
    if not isinstance(a, np.ndarray) or a.shape != shape:
        got = a.shape if isinstance(a, np.ndarray) else type(a).__name__
        raise TinyrnnError(f"{where}: array '{name}' has shape {got}, expected {shape}")
    if bits is None:
        if a.dtype.kind != "f" or not np.all(np.isfinite(a)):
            raise TinyrnnError(f"{where}: array '{name}' must hold finite floats")
        return
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if a.dtype.kind not in "iu" or (a.size and (int(a.min()) < lo or int(a.max()) > hi)):
        raise TinyrnnError(f"{where}: array '{name}' must hold int{bits} values, got {a.dtype}")


def _array_specs(layer) -> dict:
    """name → (shape, bits) of a layer's arrays (a 16x8 layer's bias: int64)."""
    bias_bits = 64 if getattr(layer, "activation_bits", 8) == 16 else 32
    if isinstance(layer, DenseLayer):
        o, i = layer.output_size, layer.input_size
        return {"weights": ((o, i), 8), "bias": ((o,), bias_bits), "multiplier": ((o,), 32), "shift": ((o,), 32)}
    if isinstance(layer, Conv1DLayer):
        o, k, i = layer.output_size, layer.kernel_size, layer.input_size
        return {"weights": ((o, k, i), 8), "bias": ((o,), 32), "multiplier": ((o,), 32), "shift": ((o,), 32)}
    if isinstance(layer, (Pool1DLayer, GlobalPool1DLayer, FlattenLayer)):
        return {}
    if isinstance(layer, SimpleRNNLayer):
        h, i, w = layer.hidden_size, layer.input_size, layer.weight_bits
        return {"w_x": ((h, i), w), "w_h": ((h, h), w), "bias": ((h,), bias_bits)}
    g = len(GATES_LSTM) if isinstance(layer, LSTMLayer) else len(GATES_GRU)
    h, i = layer.hidden_size, layer.input_size
    specs = {"w_x": ((g, h, i), 8), "w_h": ((g, h, h), 8)}
    specs.update({b: ((g, h), bias_bits) for b in (("bias",) if isinstance(layer, LSTMLayer) else ("bias_x", "bias_h"))})
    specs.update({k: ((g,), 32) for k in ("gate_x_multiplier", "gate_x_shift", "gate_h_multiplier", "gate_h_shift")})
    return specs


def check_table(layer: DenseLayer, where: str, last: bool) -> None:
    """A hidden sigmoid/tanh/softmax layer has its table (256 entries: int8 outputs, or
    softmax's exp values in [0, 2^15] with exp(0) > 0) and the quantization after it;
    no other layer has one (the last layer's logits are the output contract)."""
    table = layer.table
    if not isinstance(table, np.ndarray) or table.ndim != 1 or table.dtype.kind not in "iu":
        raise TinyrnnError(f"{where}: field 'table' must be a 1-D integer array")
    needed = layer.activation in TABLE_ACTIVATIONS and not last
    if needed and layer.activation_bits == 16:
        raise TinyrnnError(f"{where}: a hidden {layer.activation} Dense layer has no 16x8 kernel (its table is int8): "
                           "linear, relu or relu6 only before the last layer")
    if table.size != (TABLE_SIZE if needed else 0):
        why = (f"a hidden {layer.activation} layer needs its {TABLE_SIZE}-entry table (re-quantize the model)" if needed
               else f"a {'last' if last else layer.activation} Dense layer takes no table")
        raise TinyrnnError(f"{where}: field 'table' has {table.size} entries: {why}")
    if not needed:
        if layer.table_scale is not None or layer.table_zero_point is not None:
            raise TinyrnnError(f"{where}: field 'table_scale'/'table_zero_point' set without a table")
        return
    lo, hi = (0, EXP_ONE) if layer.activation == "softmax" else (-128, 127)
    if int(table.min()) < lo or int(table.max()) > hi or (layer.activation == "softmax" and table[0] < 1):
        raise TinyrnnError(f"{where}: field 'table' values must lie in [{lo}, {hi}] for {layer.activation}"
                           + (", entry 0 (exp 0) above 0" if layer.activation == "softmax" else ""))
    _check_scalar(where, "table_scale", layer.table_scale, "float")
    _check_scalar(where, "table_zero_point", layer.table_zero_point, "int")
    if layer.activation == "softmax" and (layer.table_scale, layer.table_zero_point) != OUTPUT_QUANT["softmax"]:
        raise TinyrnnError(f"{where}: field 'table_scale'/'table_zero_point' of softmax must be 1/256 and -128")


def _check_fields(obj, where: str) -> None:
    for f in dataclasses.fields(obj):
        if f.type in _SCALARS:
            _check_scalar(where, f.name, getattr(obj, f.name), f.type)


def check_front_layer(layer, where: str) -> None:
    """The sizes and options of a Conv1D or pooling layer (its window at most 4096 steps)."""
    sizes = ("kernel_size", "dilation", "strides") if isinstance(layer, Conv1DLayer) else ("pool_size", "strides")
    for size in sizes:
        if getattr(layer, size) < 1:
            raise TinyrnnError(f"{where}: {size} must be at least 1")
    if isinstance(layer, Pool1DLayer):
        if layer.pool_size > 4096 or layer.pool not in POOLS:
            raise TinyrnnError(f"{where}: pool {layer.pool!r} of size {layer.pool_size}: one of "
                               f"{', '.join(POOLS)}, 4096 steps at most")
        return
    if layer.span > 4096:
        raise TinyrnnError(f"{where}: (kernel_size - 1) * dilation + 1 = {layer.span} input steps, 4096 at most")
    if layer.padding not in CONV_PADDINGS:
        raise TinyrnnError(f"{where}: padding {layer.padding!r} unknown (one of {', '.join(CONV_PADDINGS)})")
    if layer.activation not in CONV_ACTIVATIONS:
        raise TinyrnnError(f"{where}: activation {layer.activation!r} unknown (one of {', '.join(CONV_ACTIVATIONS)})")
    if layer.padding == "same" and (layer.strides != 1 or layer.max_steps < 1):
        raise TinyrnnError(f"{where}: padding 'same' needs strides 1 and max_steps at least 1")


def _check_bidirectional(layer: BidirectionalLayer, where: str) -> None:
    """Two directions of one recurrent kind and shape; concat's on the output grid."""
    _check_fields(layer, where)
    if layer.merge_mode not in MERGE_MODES:
        raise TinyrnnError(f"{where}: merge_mode {layer.merge_mode!r} unknown (one of {', '.join(MERGE_MODES)})")
    kinds = (LSTMLayer, GRULayer, SimpleRNNLayer)
    for name in ("forward", "backward"):
        inner = getattr(layer, name)
        if not isinstance(inner, kinds):
            raise TinyrnnError(f"{where}: {name} must be an LSTM, GRU or SimpleRNN layer")
        _check_layer(inner, f"{where} {name}")
        if getattr(inner, "activation_bits", 8) != 8:
            raise TinyrnnError(f"{where}: {name}: activation_bits {inner.activation_bits}: a Bidirectional layer is "
                               "int8 only")
    f, b = layer.forward, layer.backward
    shape = (type(f), f.input_size, f.hidden_size, f.return_sequences)
    if (type(b), b.input_size, b.hidden_size, b.return_sequences) != shape:
        raise TinyrnnError(f"{where}: forward and backward differ in kind, sizes or return_sequences")
    grid = (float(layer.output_scale), int(layer.output_zero_point))
    if layer.merge_mode == "concat" and any((float(d.hidden_scale), int(d.hidden_zero_point)) != grid for d in (f, b)):
        raise TinyrnnError(f"{where}: concat needs both directions' hidden grid equal to the output's")
    if layer.max_steps < 1:
        raise TinyrnnError(f"{where}: max_steps must be at least 1")
    for name in ("merge_multiplier", "merge_shift"):
        _check_array(where, name, getattr(layer, name), (3,), 32)
    domain.check_merge(layer, where)


def check_bits(obj, where: str) -> None:
    """``activation_bits`` 8 or 16; at 16 a kind with a 16x8 kernel and zero points 0 (symmetric int16)."""
    bits = getattr(obj, "activation_bits", 8)
    if bits not in ACTIVATION_BITS:
        raise TinyrnnError(f"{where}: field 'activation_bits' = {bits!r}, not one of {ACTIVATION_BITS}")
    if bits == 16 and getattr(obj, "kind", None) not in (None, *KINDS_16):  # None: the input quantizer
        raise TinyrnnError(f"{where}: a {obj.kind} layer has no 16x8 kernel (activation_bits 16: LSTM, SimpleRNN and Dense only)")
    zero_points = [f.name for f in dataclasses.fields(obj) if f.name.endswith("zero_point") and f.type == "int"]
    for name in zero_points if bits == 16 else ():
        if getattr(obj, name) != 0:
            raise TinyrnnError(f"{where}: field '{name}' = {getattr(obj, name)}: int16 activations are symmetric "
                               "(zero point 0)")


def check_weight_bits(layer: SimpleRNNLayer, where: str) -> None:
    """``weight_bits`` 8, or 16 in a 16x8 SimpleRNN (the 16x16 SimpleRNN)."""
    bits = layer.weight_bits
    if bits not in ACTIVATION_BITS:
        raise TinyrnnError(f"{where}: field 'weight_bits' = {bits!r}, not one of {ACTIVATION_BITS}")
    if bits == 16 and layer.activation_bits != 16:
        raise TinyrnnError(f"{where}: weight_bits 16 (int16 SimpleRNN weights) needs activation_bits 16")


def check_output_bits(layer: DenseLayer, where: str, last: bool) -> None:
    """``output_bits`` 8, or 16 on the last layer of an int8 model: int16 logits, zero point 0."""
    bits = layer.output_bits
    if bits not in ACTIVATION_BITS:
        raise TinyrnnError(f"{where}: field 'output_bits' = {bits!r}, not one of {ACTIVATION_BITS}")
    if bits == 16 and not (last and layer.activation_bits == 8):
        raise TinyrnnError(f"{where}: output_bits 16 (int16 logits) is for the last layer of an int8 model only")
    if bits == 16 and layer.output_zero_point != 0:
        raise TinyrnnError(f"{where}: field 'output_zero_point' = {layer.output_zero_point}: int16 logits are "
                           "symmetric (zero point 0)")


def _check_layer(layer, where: str) -> None:
    if isinstance(layer, BidirectionalLayer):
        return _check_bidirectional(layer, where)
    _check_fields(layer, where)
    check_bits(layer, where)
    if isinstance(layer, SimpleRNNLayer):
        check_weight_bits(layer, where)  # before the arrays, whose width it sets
    if isinstance(layer, (Conv1DLayer, Pool1DLayer)):
        check_front_layer(layer, where)  # before the array shapes, which depend on kernel_size
    sizes = ("input_size", "hidden_size" if hasattr(layer, "hidden_size") else "output_size")
    for size in sizes:
        if getattr(layer, size) < 1:
            raise TinyrnnError(f"{where}: {size} must be at least 1")
    for name, (shape, bits) in _array_specs(layer).items():
        _check_array(where, name, getattr(layer, name), shape, bits)
    if isinstance(layer, DenseLayer) and layer.activation not in DENSE_ACTIVATIONS:
        raise TinyrnnError(f"{where}: activation {layer.activation!r} unknown (one of {', '.join(DENSE_ACTIVATIONS)})")
    if isinstance(layer, GlobalPool1DLayer) and layer.pool not in POOLS:
        raise TinyrnnError(f"{where}: pool {layer.pool!r} unknown (one of {', '.join(POOLS)})")
    if isinstance(layer, FlattenLayer) and min(layer.steps, layer.window) < 1:
        raise TinyrnnError(f"{where}: steps and window must be at least 1")
    if isinstance(layer, SimpleRNNLayer) and layer.activation not in RNN_ACTIVATIONS:
        raise TinyrnnError(f"{where}: activation {layer.activation!r} unknown (one of {', '.join(RNN_ACTIVATIONS)})")
    # Zero points folded into the int32 biases (as the golden model and the kernels do) must fit int32.
    pairs = {DenseLayer: (("bias", "weights", "input_zero_point"),),
             LSTMLayer: (("bias", "w_x", "input_zero_point"), (None, "w_h", "hidden_zero_point")),
             GRULayer: (("bias_x", "w_x", "input_zero_point"),),
             SimpleRNNLayer: (("bias", "w_x", "input_zero_point"), (None, "w_h", "hidden_zero_point")),
             Conv1DLayer: (), Pool1DLayer: (), GlobalPool1DLayer: (), FlattenLayer: ()}[type(layer)]  # fmt: skip  (a Conv1D's: domain.check_layer)
    if getattr(layer, "activation_bits", 8) == 16:
        pairs = ()  # int64 biases, zero points 0: domain.check_wide
    for bias, w, zp in pairs:
        folded = (0 if bias is None else getattr(layer, bias).astype(np.int64)) - getattr(layer, zp) * getattr(
            layer, w).astype(np.int64).sum(axis=-1)
        if folded.size and (folded.min() < _INT32[0] or folded.max() > _INT32[1]):
            raise TinyrnnError(f"{where}: {bias or w} with the {zp} folded in overflows int32")
    domain.check_layer(layer, where)  # no int32 overflow anywhere: golden == C


def check_front(model: Model, where: str = "model") -> None:
    """What a Conv1D/pooling front end cannot be combined with (one step in, at most one step out)."""
    if not any(layer.kind in FRONT_KINDS for layer in model.layers):
        return
    if model.mask_value is not None:
        raise TinyrnnError(f"{where}: Masking together with a Conv1D or pooling layer is not supported")
    if model.front_timing != (0, 1) and model.returns_sequences:
        raise TinyrnnError(f"{where}: a model returning sequences needs every Conv1D causal with strides 1 and no "
                           "pooling (its output would be shorter than the input)")


def check_global(model: Model, k: int, where: str) -> None:
    """A global pooling or Flatten layer directly after the last recurrent layer, which returns sequences."""
    before, after = model.layers[k - 1] if k else None, model.layers[k + 1:]
    if before is None or before.kind in GLOBAL_KINDS + FRONT_KINDS + ("dense",) or not before.return_sequences:
        raise TinyrnnError(f"{where}: a {model.layers[k].kind} layer must directly follow a recurrent layer "
                           "returning sequences")
    if any(layer.kind != "dense" for layer in after):
        raise TinyrnnError(f"{where}: only Dense layers may follow a {model.layers[k].kind} layer")
    if model.mask_value is not None:
        raise TinyrnnError(f"{where}: Masking together with a {model.layers[k].kind} layer is not supported")
    flat = model.layers[k]
    if flat.kind == "flatten" and flat.window >= 1:
        rows = run_front(model, np.zeros((1, flat.window, model.input_size), np.int8)).shape[1]
        if rows != flat.steps:
            raise TinyrnnError(f"{where}: Flatten of {flat.steps} steps, but a {flat.window}-step window gives {rows}")


def validate(model: Model, where: str = "model") -> None:
    """Types, shapes, value ranges and the layer chain: what every reader of a Model assumes."""
    _check_scalar(where, "name", model.name, "str")
    _check_scalar(where, "input_size", model.input_size, "int")
    if model.input_size < 1:
        raise TinyrnnError(f"{where}: input_size must be at least 1")
    if not isinstance(model.classes, list) or not all(isinstance(c, str) for c in model.classes):
        raise TinyrnnError(f"{where}: classes must be a list of names")
    if not isinstance(model.meta, dict):
        raise TinyrnnError(f"{where}: meta must be an object")
    if model.mask_value is not None:
        _check_scalar(where, "mask_value", model.mask_value, "float")
    quant = model.input_quant
    _check_fields(quant, f"{where}: input_quant")
    check_bits(quant, f"{where}: input_quant")
    for name in ("offset", "scale"):
        _check_array(f"{where}: input_quant", name, getattr(quant, name), (model.input_size,), None)
    if not np.all(quant.scale > 0):
        raise TinyrnnError(f"{where}: input_quant scale must be positive")
    if not model.layers:
        raise TinyrnnError(f"{where}: model has no layers")
    width, dense_seen, recurrent = model.input_size, False, []
    for k, layer in enumerate(model.layers):
        lwhere = f"{where}: layer {k}"
        if isinstance(layer, DenseLayer):
            check_table(layer, lwhere, last=k == len(model.layers) - 1)
            check_output_bits(layer, lwhere, last=k == len(model.layers) - 1)
        _check_layer(layer, lwhere)
        if model.activation_bits == 16 and layer.kind not in KINDS_16:
            raise TinyrnnError(f"{lwhere}: a {layer.kind} layer has no 16x8 kernel (a 16x8 model: LSTM, SimpleRNN and Dense only)")
        if getattr(layer, "activation_bits", 8) != model.activation_bits:
            raise TinyrnnError(f"{lwhere}: activation_bits {getattr(layer, 'activation_bits', 8)} in a model whose "
                               f"input has {model.activation_bits} (one width throughout)")
        if layer.input_size != width:
            raise TinyrnnError(f"{lwhere}: input size {layer.input_size} != previous output {width}")
        if isinstance(layer, DenseLayer):
            dense_seen = True
        elif layer.kind in GLOBAL_KINDS:
            check_global(model, k, lwhere)
        elif layer.kind in FRONT_KINDS:
            if dense_seen or recurrent:
                raise TinyrnnError(f"{lwhere}: a Conv1D or pooling layer must come before the recurrent layers")
        elif dense_seen:
            raise TinyrnnError(f"{lwhere}: a recurrent layer after a Dense layer")
        else:
            recurrent.append(layer)
        width = layer.output_size
    check_front(model, where)
    if not recurrent:
        raise TinyrnnError(f"{where}: model has no recurrent (LSTM, GRU or SimpleRNN) layer")
    if model.whole_window and model.mask_value is not None:
        raise TinyrnnError(f"{where}: a Bidirectional layer does not support masking (mask_value)")
    if any(layer.kind == "bidirectional" for layer in model.layers) and any(layer.kind in FRONT_KINDS
                                                                           for layer in model.layers):
        raise TinyrnnError(f"{where}: a Conv1D or pooling front end before a Bidirectional layer is not supported yet")
    if any(not layer.return_sequences for layer in recurrent[:-1]):
        raise TinyrnnError(f"{where}: a stacked recurrent layer must return sequences")
