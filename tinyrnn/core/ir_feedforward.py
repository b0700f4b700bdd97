"""The IR's feed-forward layers: Dense, the Conv1D/pooling front end, global pooling and
Flatten. Part of :mod:`tinyrnn.core.ir`, which re-exports every name; imports only numpy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from tinyrnn.core.ir_common import Bits


def conv_padding(padding: str, span: int) -> tuple[int, int]:
    """(steps before, steps after) the window that a Conv1D pads with real zeros: span − 1
    before (causal), half of that rounded down before and the rest after (same, Keras's
    at strides 1), none (valid)."""
    left = {"causal": span - 1, "same": (span - 1) // 2}.get(padding, 0)
    return left, span - 1 - left if padding == "same" else 0



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


