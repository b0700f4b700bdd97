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
from typing import Any, ClassVar

import numpy as np

IR_FORMAT = "tinyrnn-ir"
IR_VERSION = 2  # 2: Dense activation tables (table, table_scale, table_zero_point)
GATES_LSTM = ("input", "forget", "cell", "output")
GATES_GRU = ("update", "reset", "candidate")
# The one table of Dense activations. linear/relu/relu6 are int8 clamps in any position;
# sigmoid/tanh/softmax go through the layer's table when hidden and are left to the
# caller on the last layer (its int8 logits are the output contract).
DENSE_ACTIVATIONS = ("linear", "relu", "relu6", "sigmoid", "tanh", "softmax")
TABLE_ACTIVATIONS = ("sigmoid", "tanh", "softmax")
RNN_ACTIVATIONS = ("tanh", "relu")
CONV_ACTIVATIONS = ("linear", "relu", "relu6")
CONV_PADDINGS = ("valid", "causal", "same")
POOLS = ("max", "average")
RECURRENT_KINDS = ("lstm", "gru", "rnn", "bidirectional")
FRONT_KINDS = ("conv1d", "pool1d")  # before the recurrent stack, streaming: input steps in, fewer steps out
# Directly after the last recurrent layer (returning sequences): a sequence in, one vector out.
GLOBAL_KINDS = ("global_pool1d", "flatten")
MERGE_MODES = ("concat", "sum", "ave", "mul")  # Keras Bidirectional's, except None
# Activation widths: int8, or 16x8 (int16 activations with zero point 0, int8 weights, int64
# biases, as TFLite Micro's int16 kernels) for the kinds with a 16-bit kernel.
ACTIVATION_BITS = (8, 16)
KINDS_16 = ("lstm", "dense")


class Bits:
    """The optional ``activation_bits`` field (last, default 8): left out of the document
    at 8, so int8 artifacts keep the document (and hash) they always had."""

    OPTIONAL_FIELDS: ClassVar[tuple] = ("activation_bits",)

    def absent_fields(self) -> tuple:
        return ("activation_bits",) if self.activation_bits == 8 else ()

    @property
    def int_limits(self) -> tuple[int, int]:
        """The activation codes' range: int8's or int16's."""
        top = 2 ** (int(self.activation_bits) - 1)
        return -top, top - 1


def conv_padding(padding: str, span: int) -> tuple[int, int]:
    """(steps before, steps after) the window that a Conv1D pads with real zeros: span − 1
    before (causal), half of that rounded down before and the rest after (same, Keras's
    at strides 1), none (valid)."""
    left = {"causal": span - 1, "same": (span - 1) // 2}.get(padding, 0)
    return left, span - 1 - left if padding == "same" else 0


@dataclass
class InputQuant(Bits):
    """Float input → int8 (int16 at ``activation_bits`` 16):
    ``q[c] = clamp(round((x[c] - offset[c]) / scale[c]) + zero_point)``.

    Per-channel offset and scale fold a Keras ``Normalization`` layer (or our own
    per-channel range fit) into the quantizer, so channels whose ranges differ 100×
    all use the full int8 range, while the kernel sees one int8 tensor.
    """

    offset: np.ndarray  # (F,) float32
    scale: np.ndarray  # (F,) float32
    zero_point: int
    activation_bits: int = 8

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """float32 arithmetic, round half to even, ±inf clip to the rails; NaN (no sample)
        gives the zero point, as the generated C's ``_quantize_input`` does."""
        with np.errstate(invalid="ignore", over="ignore"):
            q = np.round((np.asarray(x, np.float32) - self.offset) / self.scale)
        q = np.where(np.isnan(q), 0, q) + self.zero_point
        return np.clip(q, *self.int_limits).astype(np.int16 if self.activation_bits == 16 else np.int8)


@dataclass
class LSTMLayer(Bits):
    """TFLite Micro's integer LSTM (int8 x/h, int16 gates and cell), CMSIS-NN naming.

    Arrays are stacked in gate order input, forget, cell, output. ``w_x`` is
    (4, H, I), ``w_h`` (4, H, H), ``bias`` (4, H) int32 on the input path only.
    Each gate's input and recurrent matmul has its own (multiplier, shift) to Q3.12.
    ``activation_bits`` 16: the 16x8 LSTM (golden ``lstm_s16``): int16 x/h with zero
    points 0, int64 ``bias``.
    """

    kind: ClassVar[str] = "lstm"
    name: str
    input_size: int
    hidden_size: int
    return_sequences: bool
    w_x: np.ndarray
    w_h: np.ndarray
    bias: np.ndarray
    input_zero_point: int  # zp of x (int8)
    hidden_zero_point: int  # zp of h, also the layer's output zp
    input_scale: float
    hidden_scale: float
    gate_x_multiplier: np.ndarray  # (4,) int32
    gate_x_shift: np.ndarray  # (4,) int32, < 0 is a right shift
    gate_h_multiplier: np.ndarray
    gate_h_shift: np.ndarray
    cell_scale_power: int  # cell state is int16 with scale 2**cell_scale_power
    cell_clip: int  # 0 = no clip beyond int16
    forget_to_cell_multiplier: int
    forget_to_cell_shift: int
    input_to_cell_multiplier: int
    input_to_cell_shift: int
    hidden_multiplier: int  # o * tanh(c) (Q0.15 * Q0.15) → int8 h
    hidden_shift: int
    activation_bits: int = 8

    @property
    def output_size(self) -> int:
        return self.hidden_size


@dataclass
class GRULayer:
    """int8 GRU in the LSTM's family: int8 weights, Q3.12 gate pre-activations, int16 LUT activations.

    Gate order update (z), reset (r), candidate (h~) as in Keras. The hidden state is
    carried between steps as int16 Q0.15 (``h = z·h + (1−z)·h~`` is a leaky
    integrator: in int8 the small (1−z)·h~ increments round away); the matmuls and
    the layer output use ``h8 = round(h16 / 256)``, int8 with scale 1/128 and zero
    point 0. ``reset_after`` selects Keras' variant: r applied after the recurrent
    matmul (with its own recurrent bias) or to h before it.
    """

    kind: ClassVar[str] = "gru"
    name: str
    input_size: int
    hidden_size: int
    return_sequences: bool
    reset_after: bool
    w_x: np.ndarray  # (3, H, I) int8
    w_h: np.ndarray  # (3, H, H) int8
    bias_x: np.ndarray  # (3, H) int32, scale s_x·s_wx[g]
    bias_h: np.ndarray  # (3, H) int32, scale s_h·s_wh[g] (candidate row 0 unless reset_after)
    input_zero_point: int
    input_scale: float
    gate_x_multiplier: np.ndarray  # (3,) to Q3.12
    gate_x_shift: np.ndarray
    gate_h_multiplier: np.ndarray
    gate_h_shift: np.ndarray
    hidden_scale: float = 1.0 / 128.0
    hidden_zero_point: int = 0

    @property
    def output_size(self) -> int:
        return self.hidden_size


@dataclass
class SimpleRNNLayer:
    """int8 SimpleRNN ``h = act(W·x + U·h + b)`` in the LSTM's family (C twin: tinyrnn_rnn_s8.c).

    Each matmul is requantized to an int16 pre-activation with its own (multiplier,
    shift), the two are summed with saturation. tanh: the pre-activation is Q3.12, the
    state is ``round(tanh_s16(pre) / 256)``, int8 with scale 1/128 and zero point 0.
    relu: the pre-activation has scale hidden_scale/64 and the state is
    ``max(round(pre / 64) + zp, zp)`` with a calibrated (scale, zero point). The state
    is int8 (it is fully recomputed every step, nothing accumulates in it). ``bias`` is
    on the input path only (Keras has one bias).
    """

    kind: ClassVar[str] = "rnn"
    TANH_SCALE: ClassVar[float] = 1.0 / 128  # the tanh state's scale (zero point 0)
    name: str
    input_size: int
    hidden_size: int
    return_sequences: bool
    activation: str  # tanh | relu
    w_x: np.ndarray  # (H, I) int8
    w_h: np.ndarray  # (H, H) int8
    bias: np.ndarray  # (H,) int32, scale s_x·s_wx
    input_zero_point: int
    hidden_zero_point: int
    input_scale: float
    hidden_scale: float
    x_multiplier: int  # input matmul → pre-activation
    x_shift: int
    h_multiplier: int  # recurrent matmul → pre-activation
    h_shift: int

    @property
    def output_size(self) -> int:
        return self.hidden_size


@dataclass
class DenseLayer(Bits):
    """int8 fully connected layer, per-output-channel requantization, then its activation.

    ``output_scale``/``output_zero_point`` are the requantized pre-activation's grid.
    A hidden sigmoid/tanh/softmax layer also carries ``table`` (256 int32, built in
    ``golden/activation_s8.py``) and the quantization of what it passes on after the
    table (``table_scale``, ``table_zero_point``); ``result_scale``/``result_zero_point``
    are what the next layer sees either way. ``activation_bits`` 16: TFLite Micro's 16x8
    fully connected layer (golden ``dense_s16``): int16 input and output with zero points
    0, int64 ``bias``, no table. ``output_bits`` 16 on an int8 layer (golden ``dense_s8_s16``):
    int8 input, int16 output (zero point 0, no table); the last layer only, so int8 logits
    never tie where the float ones differ by less than an int8 step.
    """

    kind: ClassVar[str] = "dense"
    # Left out of the document without a table, so older artifacts load and keep their hashes.
    TABLE_FIELDS: ClassVar[tuple] = ("table", "table_scale", "table_zero_point")
    OPTIONAL_FIELDS: ClassVar[tuple] = (*TABLE_FIELDS, *Bits.OPTIONAL_FIELDS, "output_bits")
    name: str
    input_size: int
    output_size: int
    weights: np.ndarray  # (O, I) int8
    bias: np.ndarray  # (O,) int32
    input_zero_point: int
    output_zero_point: int
    input_scale: float
    output_scale: float
    multiplier: np.ndarray  # (O,) int32
    shift: np.ndarray  # (O,) int32
    activation: str  # one of DENSE_ACTIVATIONS
    table: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # (256,) or (0,): no table
    table_scale: float | None = None
    table_zero_point: int | None = None
    activation_bits: int = 8
    output_bits: int = 8  # after activation_bits: absent at 8, so older artifacts keep their hashes

    @property
    def has_table(self) -> bool:
        return self.table.size > 0

    @property
    def result_scale(self) -> float:
        return self.table_scale if self.has_table else self.output_scale

    @property
    def result_zero_point(self) -> int:
        return self.table_zero_point if self.has_table else self.output_zero_point

    def absent_fields(self) -> tuple:
        wide_out = () if self.output_bits != 8 else ("output_bits",)
        return (() if self.has_table else self.TABLE_FIELDS) + super().absent_fields() + wide_out


@dataclass
class Conv1DLayer:
    """int8 Conv1D front end (C twin: tinyrnn_conv1d_s8.c), before the recurrent stack.

    TFLite Micro's int8 convolution over time: per output channel
    ``acc = bias + Σ_j Σ_c w[o, j, c]·(x[t + j·dilation, c] − input_zp)``, requantized
    with that channel's (multiplier, shift), ``+ output_zp``, clamped to the activation
    range (as DenseLayer). "causal" padding prepends ``(kernel_size − 1)·dilation``
    steps of the input zero point (real 0); ``strides`` keeps every strides-th output.
    Streaming, output n is due at input step ``first + n·strides``. "same" (strides 1)
    pads ``pad_left`` steps before and ``pad_right`` after the window, as Keras: the
    trailing ones need the window's end, so such a model is whole-window, with buffers
    for ``max_steps`` steps (a field only "same" has).
    """

    kind: ClassVar[str] = "conv1d"
    OPTIONAL_FIELDS: ClassVar[tuple] = ("max_steps",)
    name: str
    input_size: int  # input channels
    output_size: int  # filters
    kernel_size: int
    dilation: int
    padding: str  # one of CONV_PADDINGS
    weights: np.ndarray  # (O, kernel_size, I) int8, tap 0 the oldest input
    bias: np.ndarray  # (O,) int32, scale input_scale·w_scale[o]
    input_zero_point: int
    output_zero_point: int
    input_scale: float
    output_scale: float
    multiplier: np.ndarray  # (O,) int32
    shift: np.ndarray  # (O,) int32
    activation: str  # one of CONV_ACTIVATIONS
    strides: int = 1
    max_steps: int = 0  # "same" only: the longest window the C's buffers hold

    def absent_fields(self) -> tuple:
        return () if self.padding == "same" else self.OPTIONAL_FIELDS

    @property
    def span(self) -> int:
        """Input steps one output reads: (kernel_size − 1)·dilation + 1."""
        return (self.kernel_size - 1) * self.dilation + 1

    @property
    def pad_left(self) -> int:
        return conv_padding(self.padding, self.span)[0]

    @property
    def pad_right(self) -> int:
        return conv_padding(self.padding, self.span)[1]

    @property
    def first(self) -> int:
        """The input step (from 0) at which the first output is due (0 for causal padding)."""
        return self.span - 1 - self.pad_left

    @property
    def result_scale(self) -> float:
        return self.output_scale

    @property
    def result_zero_point(self) -> int:
        return self.output_zero_point


class SameGrid:
    """A layer whose output is on its input's int8 grid (pooling, Flatten)."""

    @property
    def result_scale(self) -> float:
        return self.input_scale

    @property
    def result_zero_point(self) -> int:
        return self.input_zero_point


@dataclass
class Pool1DLayer(SameGrid):
    """MaxPooling1D / AveragePooling1D, padding "valid" (C twin: tinyrnn_pool1d_s8.c).

    Output n covers input steps [n·strides, n·strides + pool_size), per channel: the
    maximum, or TFLite Micro's int8 average (the sum of the int8 codes divided by
    pool_size, rounded half away from zero). The quantization passes through unchanged.
    """

    kind: ClassVar[str] = "pool1d"
    name: str
    input_size: int  # channels
    pool: str  # one of POOLS
    pool_size: int
    strides: int
    input_scale: float  # also the output's
    input_zero_point: int

    @property
    def output_size(self) -> int:
        return self.input_size

    @property
    def first(self) -> int:
        return self.pool_size - 1


@dataclass
class GlobalPool1DLayer(SameGrid):
    """GlobalMaxPooling1D / GlobalAveragePooling1D over time (C twin: tinyrnn_global_pool1d_s8.c),
    directly after the last recurrent layer, which returns sequences.

    Per channel over the steps so far: the maximum, or TFLite Micro's int8 average (the
    sum of the int8 codes divided by their count, rounded half away from zero). The
    quantization passes through. It runs: the C keeps the sum (or maximum) and the count
    in the model state, so ``_step`` writes the pool of the steps so far, which is what
    ``_run`` writes on that window. The first MAX_COUNT steps after a reset are pooled
    (the int32 sum cannot overflow); later steps leave the result as it is.
    """

    kind: ClassVar[str] = "global_pool1d"
    MAX_COUNT: ClassVar[int] = 1 << 23
    name: str
    input_size: int  # channels
    pool: str  # one of POOLS
    input_scale: float  # also the output's
    input_zero_point: int  # also the output before the first step

    @property
    def output_size(self) -> int:
        return self.input_size


@dataclass
class FlattenLayer(SameGrid):
    """Keras Flatten of a (steps, input_size) sequence into one vector, time-major (row t is
    elements t·input_size ...), directly after the last recurrent layer (returning
    sequences). It needs the model input's fixed length ``window`` (``steps`` after a
    Conv1D/pooling front end, else the same): the model is whole-window and ``_run``
    refuses any other window length. The quantization passes through."""

    kind: ClassVar[str] = "flatten"
    name: str
    input_size: int  # channels per step
    steps: int  # rows flattened
    window: int  # the model input's fixed length (Keras's input shape)
    input_scale: float
    input_zero_point: int

    @property
    def output_size(self) -> int:
        return self.steps * self.input_size


@dataclass
class BidirectionalLayer:
    """Keras Bidirectional: ``forward`` runs over the window, ``backward`` over it reversed
    (both LSTM, GRU or SimpleRNN IR layers of one kind, from real zero state), then the
    two are merged per step (golden ``bidirectional_s8.py``, C ``tinyrnn_bidirectional_s8.c``).

    return_sequences: step t merges forward h_t with the backward output for x_t (its
    outputs re-reversed); else forward's final h with backward's (after x[0]). concat
    needs both directions on one int8 grid, which is the output's; sum/ave/mul requantize
    to ``output_scale``/``output_zero_point`` with ``merge_multiplier``/``merge_shift``
    [forward input, backward input, output] (mul uses the output pair only, concat none).
    The backward pass needs the whole window: the generated C has ``_run`` only, with
    static buffers for ``max_steps`` steps.
    """

    kind: ClassVar[str] = "bidirectional"
    name: str
    merge_mode: str  # one of MERGE_MODES
    forward: Any  # LSTMLayer | GRULayer | SimpleRNNLayer
    backward: Any  # the same kind and sizes
    output_scale: float
    output_zero_point: int
    merge_multiplier: np.ndarray  # (3,) int32
    merge_shift: np.ndarray  # (3,) int32
    max_steps: int  # the longest window the C's buffers hold

    @property
    def input_size(self) -> int:
        return self.forward.input_size

    @property
    def hidden_size(self) -> int:
        return self.forward.hidden_size

    @property
    def return_sequences(self) -> bool:
        return self.forward.return_sequences

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size if self.merge_mode == "concat" else self.hidden_size

    @property
    def hidden_scale(self) -> float:  # what the next layer reads, as a recurrent layer's h
        return self.output_scale

    @property
    def hidden_zero_point(self) -> int:
        return self.output_zero_point


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
