"""Import an int8 ``.tflite`` (TFLite converter output) into the tinyrnn IR, parameters as they are.

Supported graph, one chain of ops: ``[QUANTIZE] [SUB|ADD|MUL|DIV by a constant]*`` (a
Keras Normalization, folded into the IR's per-channel input quantizer) →
``UNIDIRECTIONAL_SEQUENCE_LSTM``+ → ``STRIDED_SLICE`` (last step) → ``FULLY_CONNECTED``
→ ``[SOFTMAX] [DEQUANTIZE]``; squeeze-only ``RESHAPE`` anywhere. Weights, biases, scales
and zero points are taken from the file unchanged; every multiplier and shift is
derived exactly as TensorFlow Lite Micro derives it at Prepare time
(``lstm_eval_common.cc``, ``fully_connected_common.cc``): gate pre-activations at
scale 2^-12, the cell state's power-of-two scale from the cell-state tensor, the
hidden-state requantization from the hidden-state tensor's scale and zero point.

The flatbuffer is read by ``litert.read_tflite`` (LiteRT's schema module, imported only
when a file is read).
"""

from __future__ import annotations

import math
import os

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.fixedpoint import quantize_multiplier
from tinyrnn.core.ir import DenseLayer, InputQuant, LSTMLayer, Model
from tinyrnn.quantize.litert import TfliteGraph, read_tflite

GATE_SCALE = 2.0**-12  # TFLM: nonlinear_input_scale, Q3.12
Q15 = 2.0**-15  # TFLM: nonlinear_output_scale
WHILE_HINT = (
    "the TFLite converter (TF 2.21) turns Keras 3 LSTM layers and every GRU into a WHILE loop; only a tf_keras "
    "LSTM becomes the fused UNIDIRECTIONAL_SEQUENCE_LSTM: build and convert with tf_keras (TF_USE_LEGACY_KERAS=1, "
    "tinyrnn.tfsupport.import_keras(legacy=True)) and a fixed batch size (Input(shape, batch_size=1)), "
    "or give tinyrnn the .keras file instead"
)
_ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT", 6: "SIGMOID"}
_PRE_OPS = ("QUANTIZE", "SUB", "ADD", "MUL", "DIV")


def _refuse(g: TfliteGraph, op_index: int, what: str) -> TinyrnnError:
    return TinyrnnError(f"{g.path}: op {op_index} {g.ops[op_index]}: {what}")


def _option(opts, name: str, default=None):
    return getattr(opts, name, default)


def _multiplier(s1: float, s2: float, s_out: float) -> tuple[int, int]:
    """(multiplier, shift) of the real s1·s2/s_out, the product taken in double precision.

    TFLM (tflite-micro 0.dev20261023182759-g8f6596d, checked with its interpreter by
    tests/test_tflm_referee.py) multiplies the float32 tensor scales as doubles for the
    LSTM gates, the cell products and FULLY_CONNECTED (per tensor and per channel); a
    float32 product moves some gate multipliers by one step and the cell state by 1 LSB.
    """
    return quantize_multiplier(float(np.float64(s1) * np.float64(s2) / np.float64(s_out)))


def _lstm_inputs(g: TfliteGraph, k: int) -> list:
    op = g.sub.operators[k]
    ins = [int(i) for i in op.inputs] + [-1] * max(0, 24 - len(op.inputs))
    absent = {"CIFG (no input gate)": (1, 5), "peephole": (9, 10, 11), "projection": (16, 17),
              "layer normalization": (20, 21, 22, 23)}  # fmt: skip
    for what, slots in absent.items():
        present = [s for s in slots if ins[s] >= 0]
        if (what.startswith("CIFG") and len(present) < 2) or (not what.startswith("CIFG") and present):
            raise _refuse(g, k, f"{what} LSTM is not supported")
    return ins


def _check_lstm_options(g: TfliteGraph, k: int):
    opts = g.sub.operators[k].builtinOptions
    act = _ACT.get(_option(opts, "fusedActivationFunction", 4), "?")
    if act != "TANH":
        raise _refuse(g, k, f"option fused_activation_function={act} is not supported (needs TANH)")
    for name in ("timeMajor", "asymmetricQuantizeInputs", "diagonalRecurrentTensors"):
        if _option(opts, name, False):
            raise _refuse(g, k, f"option {name}=True is not supported")
    return float(_option(opts, "cellClip", 0.0) or 0.0)


def _cell_scale_power(g: TfliteGraph, k: int, cell: int) -> tuple[int, float]:
    """CreateLstmCellStateInfo: CheckedLog2 of the cell-state scale (must be a power of two)."""
    scale, zp = g.scalar_quant(cell, "cell state")
    log2 = math.log(float(scale)) / math.log(2.0)
    if zp != 0 or abs(log2 - round(log2)) >= 1e-3:
        raise _refuse(g, k, f"cell state scale {float(scale):.6g} (zero point {zp}) is not a power of two with zero point 0")
    return int(round(log2)), float(scale)


def _gate_tensors(g: TfliteGraph, k: int, ins: list, gate: int, bias_dtype: str = "INT32") -> tuple:
    """(W_x, W_h, bias, s_wx, s_wh) of one gate: input slots 1-4, recurrent 5-8, bias 12-15."""
    wx_i, wh_i, b_i = ins[1 + gate], ins[5 + gate], ins[12 + gate]
    scales = []
    for i, what in ((wx_i, "input weights"), (wh_i, "recurrent weights")):
        g.expect(i, "INT8", f"LSTM {what}")
        if g.const(i) is None or g.const(i).ndim != 2:
            raise _refuse(g, k, f"{what} tensor '{g.tname(i)}' is not a constant matrix")
        scale, zp = g.scalar_quant(i, f"LSTM {what}")
        if zp:
            raise _refuse(g, k, f"{what} with a non-zero zero point are not supported")
        scales.append(scale)
    bias = _bias(g, b_i, g.shape(wx_i)[0], "LSTM bias", bias_dtype)
    return g.const(wx_i), g.const(wh_i), bias, scales[0], scales[1]


def _bias(g: TfliteGraph, i: int, n: int, what: str, dtype: str = "INT32") -> np.ndarray:
    """The bias as stored (int32, int64 for 16x8), or zeros when the converter dropped an all-zero bias."""
    np_dtype = np.int64 if dtype == "INT64" else np.int32
    if i < 0 or g.const(i) is None:
        return np.zeros(n, np_dtype)
    g.expect(i, dtype, what)
    return g.const(i).astype(np_dtype).reshape(n)


def _pairs(pairs: list) -> tuple[np.ndarray, np.ndarray]:
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)


def _lstm_layer(g: TfliteGraph, k: int, name: str, activations: str = "INT8") -> LSTMLayer:
    """The LSTM op as an LSTMLayer; ``activations`` "INT16": a 16x8 op (int16 x/h with zero
    point 0, int64 biases), for ``load_lstm_s16`` and the golden ``lstm_s16``."""
    ins = _lstm_inputs(g, k)
    cell_clip = _check_lstm_options(g, k)
    x_t, h_t, c_t = ins[0], ins[18], ins[19]
    for i, dtype, what in ((x_t, activations, "LSTM input"), (h_t, activations, "LSTM hidden state"),
                           (c_t, "INT16", "LSTM cell state")):  # fmt: skip
        g.expect(i, dtype, what)
    s_x, zp_x = g.scalar_quant(x_t, "LSTM input")
    s_h, zp_h = g.scalar_quant(h_t, "LSTM hidden state")
    if activations == "INT16" and (zp_x or zp_h):
        raise _refuse(g, k, "a 16x8 LSTM needs zero points 0 (symmetric int16)")
    power, s_c = _cell_scale_power(g, k, c_t)
    bias_dtype = "INT64" if activations == "INT16" else "INT32"
    w_x, w_h, bias, s_wx, s_wh = zip(*(_gate_tensors(g, k, ins, gate, bias_dtype) for gate in range(4)))
    hidden, inputs = w_x[0].shape
    if any(w.shape != (hidden, inputs) for w in w_x) or any(w.shape != (hidden, hidden) for w in w_h):
        raise _refuse(g, k, "weight shapes do not agree with each other")
    mx, shx = _pairs([_multiplier(s_x, s, GATE_SCALE) for s in s_wx])
    mh, shh = _pairs([_multiplier(s_h, s, GATE_SCALE) for s in s_wh])
    f2c, i2c, hid = _multiplier(Q15, s_c, s_c), _multiplier(Q15, Q15, s_c), _multiplier(Q15, Q15, s_h)
    clip = int(np.trunc(min(max(cell_clip / s_c, -32768.0), 32767.0))) if cell_clip > 0 else 0
    return LSTMLayer(
        name=name, input_size=int(inputs), hidden_size=int(hidden), return_sequences=True,
        w_x=np.stack(w_x), w_h=np.stack(w_h), bias=np.stack(bias),
        input_zero_point=zp_x, hidden_zero_point=zp_h, input_scale=float(s_x), hidden_scale=float(s_h),
        gate_x_multiplier=mx, gate_x_shift=shx, gate_h_multiplier=mh, gate_h_shift=shh,
        cell_scale_power=power, cell_clip=clip,
        forget_to_cell_multiplier=f2c[0], forget_to_cell_shift=f2c[1],
        input_to_cell_multiplier=i2c[0], input_to_cell_shift=i2c[1],
        hidden_multiplier=hid[0], hidden_shift=hid[1], activation_bits=16 if activations == "INT16" else 8,
    )  # fmt: skip


def _dense_layer(g: TfliteGraph, k: int, name: str) -> DenseLayer:
    op = g.sub.operators[k]
    opts = op.builtinOptions
    ins = [int(i) for i in op.inputs] + [-1] * (3 - len(op.inputs))
    x_t, w_t, b_t, y_t = ins[0], ins[1], ins[2], int(op.outputs[0])
    act = _ACT.get(_option(opts, "fusedActivationFunction", 0), "?")
    if act not in ("NONE", "RELU"):
        raise _refuse(g, k, f"option fused_activation_function={act} is not supported (NONE or RELU)")
    if _option(opts, "weightsFormat", 0) or _option(opts, "asymmetricQuantizeInputs", False):
        raise _refuse(g, k, "shuffled weights / hybrid (asymmetric_quantize_inputs) are not supported")
    if len(g.shape(x_t)) != 2:
        raise _refuse(g, k, f"input of shape {g.shape(x_t)}: only a Dense on the last time step (rank 2) is supported")
    for i, dtype, what in ((x_t, "INT8", "FULLY_CONNECTED input"), (w_t, "INT8", "FULLY_CONNECTED weights"),
                           (y_t, "INT8", "FULLY_CONNECTED output")):  # fmt: skip
        g.expect(i, dtype, what)
    weights = g.const(w_t)
    if weights is None or weights.ndim != 2:
        raise _refuse(g, k, "weights must be a constant 2-D tensor")
    s_x, zp_x = g.scalar_quant(x_t, "FULLY_CONNECTED input")
    s_y, zp_y = g.scalar_quant(y_t, "FULLY_CONNECTED output")
    w_scales, w_zps = g.quant(w_t)
    if np.any(w_zps != 0) or w_scales.size not in (1, weights.shape[0]):
        raise _refuse(g, k, "weights must be symmetric, per tensor or per output channel")
    pairs = [_multiplier(s_x, s_w, s_y) for s_w in np.broadcast_to(w_scales, (weights.shape[0],))]
    return DenseLayer(
        name=name, input_size=int(weights.shape[1]), output_size=int(weights.shape[0]),
        weights=weights.copy(), bias=_bias(g, b_t, weights.shape[0], "FULLY_CONNECTED bias"),
        input_zero_point=zp_x, output_zero_point=zp_y, input_scale=float(s_x), output_scale=float(s_y),
        multiplier=_pairs(pairs)[0], shift=_pairs(pairs)[1],
        activation="relu" if act == "RELU" else "linear",
    )  # fmt: skip


def _chain_input(g: TfliteGraph, k: int) -> int:
    """The one non-constant, non-state input of op k (the previous op's output in a chain)."""
    op = g.sub.operators[k]
    if op.outputs is None or len(op.outputs) != 1:
        raise _refuse(g, k, "ops with several outputs are not supported")
    ins = [int(i) for i in op.inputs if int(i) >= 0]
    if g.ops[k] == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        return ins[0]
    live = [i for i in ins if g.const(i) is None and not g.tensor(i).isVariable]
    if len(live) != 1:
        raise _refuse(g, k, f"{len(live)} non-constant inputs: only a single chain of ops is supported")
    return live[0]


def _same_quant(g: TfliteGraph, a: int, b: int) -> bool:
    (sa, za), (sb, zb) = g.quant(a), g.quant(b)
    return sa.shape == sb.shape and np.allclose(sa, sb, rtol=1e-6, atol=0) and np.array_equal(za, zb)


def _check_reshape(g: TfliteGraph, k: int, x: int) -> None:
    y = int(g.sub.operators[k].outputs[0])
    squeeze = [d for d in g.shape(x) if d != 1] == [d for d in g.shape(y) if d != 1]
    if not squeeze or not _same_quant(g, x, y):
        raise _refuse(g, k, f"reshape {g.shape(x)} → {g.shape(y)}: only adding/removing size-1 dimensions is supported")


def _fold_preprocessing(g: TfliteGraph, k: int, x: int, affine: list, features: int) -> None:
    """Compose op k (SUB/ADD/MUL/DIV by a per-channel constant, QUANTIZE, DEQUANTIZE) into y = a·x + b."""
    name = g.ops[k]
    if name in ("QUANTIZE", "DEQUANTIZE"):
        return
    act = _ACT.get(_option(g.sub.operators[k].builtinOptions, "fusedActivationFunction", 0), "?")
    if act != "NONE":
        raise _refuse(g, k, f"option fused_activation_function={act} in the input preprocessing is not supported")
    ins = [int(i) for i in g.sub.operators[k].inputs]
    const_slot = 0 if ins[1] == x else 1
    c = g.real(ins[const_slot])
    if c.size not in (1, features) or (c.ndim and c.shape[-1] not in (1, features)):
        raise _refuse(g, k, f"constant of shape {c.shape} is not per input channel ({features})")
    c = np.broadcast_to(c.reshape(-1), (features,)).astype(np.float64)
    a, b = affine
    if name == "ADD":
        affine[1] = b + c
    elif name == "SUB":
        affine[:] = [a, b - c] if const_slot == 1 else [-a, c - b]
    elif name == "MUL":
        affine[:] = [a * c, b * c]
    elif const_slot == 1 and np.all(c != 0):  # DIV by a constant
        affine[:] = [a / c, b / c]
    else:
        raise _refuse(g, k, "division by the input or by zero is not representable as an input quantizer")


def _input_quant(g: TfliteGraph, k: int, affine: list, lstm_in: int) -> InputQuant:
    """y = a·x + b quantized at the LSTM input's (scale, zp) ≡ q = round((x − (−b/a)) / (s/a)) + zp."""
    a, b = affine
    if not np.all(np.isfinite(a) & np.isfinite(b)) or np.any(a <= 0):
        raise _refuse(g, k, "input preprocessing is not a per-channel affine map with positive gain; "
                            "not representable by tinyrnn's input quantizer")  # fmt: skip
    bits = 16 if g.dtype(lstm_in) == "INT16" else 8  # a 16x8 graph: int16 activations
    g.expect(lstm_in, f"INT{bits}", "LSTM input")
    scale, zp = g.scalar_quant(lstm_in, "LSTM input")
    return InputQuant(offset=(-b / a).astype(np.float32), scale=(float(scale) / a).astype(np.float32), zero_point=zp,
                      activation_bits=bits)


def _check_last_step(g: TfliteGraph, k: int, x: int) -> None:
    """STRIDED_SLICE must take the last time step of a (B, T, H) sequence: return_sequences=False."""
    op = g.sub.operators[k]
    opts = op.builtinOptions
    shape = g.shape(x)
    consts = [g.const(int(i)) for i in op.inputs[1:4]]
    ok = len(shape) == 3 and all(c is not None and c.size == 3 for c in consts) and _same_quant(g, x, int(op.outputs[0]))
    if ok:
        begin, end, strides = (np.asarray(c, np.int64).reshape(-1) for c in consts)
        bmask, emask = _option(opts, "beginMask", 0), _option(opts, "endMask", 0)
        full = all((bmask >> a & 1 or begin[a] == 0) and (emask >> a & 1 or end[a] >= shape[a]) for a in (0, 2))
        last = begin[1] in (-1, shape[1] - 1) and not bmask >> 1 & 1
        ok = (full and last and _option(opts, "shrinkAxisMask", 0) == 2 and np.all(strides == 1)
              and not _option(opts, "ellipsisMask", 0) and not _option(opts, "newAxisMask", 0))  # fmt: skip
    if not ok:
        raise _refuse(g, k, "only a slice of the last time step after an LSTM is supported (return_sequences=False)")


def _layer_op(g: TfliteGraph, k: int, x: int, layers: list, state: dict) -> None:
    """Handle one op after the input preprocessing; ``state['phase']`` is 'layers' or 'post',
    ``state['activations']`` the graph's activation type (INT8, or INT16 for 16x8)."""
    name, prev = g.ops[k], (layers[-1] if layers else None)
    if state["phase"] == "post" and name != "DEQUANTIZE":
        raise _refuse(g, k, "only DEQUANTIZE may follow the final SOFTMAX")
    if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        if prev is not None and (prev.kind != "lstm" or not prev.return_sequences):
            raise _refuse(g, k, "an LSTM must follow the input or an LSTM returning sequences")
        layer = _lstm_layer(g, k, f"lstm_{len(layers)}", state["activations"])
        out = int(g.sub.operators[k].outputs[0])
        if not _same_quant(g, out, int(g.sub.operators[k].inputs[18])):
            raise _refuse(g, k, "output quantization differs from the hidden state's")
        layers.append(layer)
    elif name == "STRIDED_SLICE":
        if prev is None or prev.kind != "lstm" or not prev.return_sequences:
            raise _refuse(g, k, "STRIDED_SLICE is supported only right after an LSTM")
        _check_last_step(g, k, x)
        prev.return_sequences = False
    elif name == "FULLY_CONNECTED":
        if state["activations"] != "INT8":
            raise _refuse(g, k, "a 16x8 FULLY_CONNECTED is not imported yet (16x8 graphs of LSTM ops only)")
        if prev is None or (prev.kind == "lstm" and prev.return_sequences) or getattr(prev, "activation", "") == "softmax":
            raise _refuse(g, k, "FULLY_CONNECTED must follow the last time step of an LSTM or another FULLY_CONNECTED")
        layers.append(_dense_layer(g, k, f"dense_{len(layers)}"))
    elif name == "SOFTMAX":
        if prev is None or prev.kind != "dense" or prev.activation != "linear":
            raise _refuse(g, k, "SOFTMAX is supported only right after a FULLY_CONNECTED without activation")
        prev.activation, state["phase"] = "softmax", "post"  # argmax of the int8 logits = argmax of softmax
    elif name == "DEQUANTIZE":
        state["phase"] = "post"
    else:
        raise _refuse(g, k, "unsupported op (tinyrnn imports UNIDIRECTIONAL_SEQUENCE_LSTM, FULLY_CONNECTED, "
                            "SOFTMAX, STRIDED_SLICE, RESHAPE, QUANTIZE/DEQUANTIZE and a per-channel SUB/ADD/MUL/DIV "
                            "input preprocessing)")  # fmt: skip


def _walk(g: TfliteGraph) -> tuple[InputQuant, list, dict]:
    if len(g.sub.inputs) != 1 or len(g.sub.outputs) != 1:
        raise TinyrnnError(f"{g.path}: the model must have one input and one output")
    cur = int(g.sub.inputs[0])
    if len(g.shape(cur)) != 3:
        raise TinyrnnError(f"{g.path}: model input must be (batch, time, features), got shape {g.shape(cur)}")
    features = g.shape(cur)[-1]
    affine = [np.ones(features), np.zeros(features)]
    layers, state, tensors = [], {"phase": "pre"}, {"graph_input": cur, "layer_outputs": []}
    for k, name in enumerate(g.ops):
        x = _chain_input(g, k)
        if x != cur:
            raise _refuse(g, k, "the graph is not a single chain of ops (input is not the previous op's output)")
        if name == "RESHAPE":
            _check_reshape(g, k, x)
        elif state["phase"] == "pre" and name in _PRE_OPS + ("DEQUANTIZE",):
            _fold_preprocessing(g, k, x, affine, features)
        else:
            if state["phase"] == "pre":
                if name != "UNIDIRECTIONAL_SEQUENCE_LSTM":
                    raise _refuse(g, k, "unsupported op before the first LSTM (only QUANTIZE and a per-channel "
                                        "SUB/ADD/MUL/DIV input preprocessing may precede it)")  # fmt: skip
                input_quant, state["phase"], tensors["kernel_input"] = _input_quant(g, k, affine, x), "layers", x
                state["activations"] = f"INT{input_quant.activation_bits}"
            n_layers = len(layers)
            _layer_op(g, k, x, layers, state)
            if len(layers) > n_layers:
                tensors["layer_outputs"].append(int(g.sub.operators[k].outputs[0]))
            if name != "SOFTMAX" and state["phase"] == "layers":
                tensors["ir_output"] = int(g.sub.operators[k].outputs[0])
        cur = int(g.sub.operators[k].outputs[0])
    if not layers:
        raise TinyrnnError(f"{g.path}: no UNIDIRECTIONAL_SEQUENCE_LSTM op found (ops: {', '.join(g.ops) or 'none'})")
    if layers[0].input_size != features:
        raise TinyrnnError(f"{g.path}: the first LSTM reads {layers[0].input_size} values per step, the input has {features}")
    if cur != int(g.sub.outputs[0]):
        raise TinyrnnError(f"{g.path}: the graph output is not the end of the op chain")
    tensors["graph_output"] = cur
    return input_quant, layers, tensors


def load_lstm_s16(path: str | os.PathLike) -> list[LSTMLayer]:
    """The layers of a 16x8 ``.tflite`` made only of UNIDIRECTIONAL_SEQUENCE_LSTM ops (int16
    activations, int8 weights, int64 biases), for the golden ``lstm_s16`` (``load_tflite``
    reads the whole graph as a 16x8 model)."""
    g = read_tflite(path)
    if not g.ops or set(g.ops) != {"UNIDIRECTIONAL_SEQUENCE_LSTM"}:
        raise TinyrnnError(f"{g.path}: a 16x8 import needs a graph of LSTM ops only (ops: {', '.join(g.ops) or 'none'})")
    return load_tflite(path).layers


def load_tflite(path: str | os.PathLike) -> Model:
    """Read an int8 ``.tflite`` (or a 16x8 one of LSTM ops, int16 activations) into the IR; anything
    unsupported is refused in one line naming the op."""
    g = read_tflite(path)
    if "WHILE" in g.ops:
        raise TinyrnnError(f"{g.path}: op WHILE is not supported: {WHILE_HINT}")
    if len(g.model.subgraphs) > 1:
        raise TinyrnnError(f"{g.path}: {len(g.model.subgraphs)} subgraphs (control flow) are not supported")
    input_quant, layers, tensors = _walk(g)
    last = layers[-1]
    meta = {
        "source": {"file": os.path.basename(g.path), "format": "tflite"},
        "float_activation": last.activation if last.kind == "dense" else "linear",
        "tflite": {"ops": list(g.ops), "tensors": tensors,
                   "description": (g.model.description or b"").decode(errors="replace")},
    }  # fmt: skip
    return Model(name="model", input_size=int(input_quant.offset.size), input_quant=input_quant, layers=layers,
                 meta=meta)  # fmt: skip
