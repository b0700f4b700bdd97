"""The IR's recurrent layers: LSTM, GRU, SimpleRNN and the Bidirectional wrapper. Part of
:mod:`tinyrnn.core.ir`, which re-exports every name; imports only numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tinyrnn.core.ir_common import Bits


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
class SimpleRNNLayer(Bits):
    """int8 SimpleRNN ``h = act(W·x + U·h + b)`` in the LSTM's family (C twin: tinyrnn_rnn_s8.c).

    Each matmul is requantized to an int16 pre-activation with its own (multiplier,
    shift), the two are summed with saturation. tanh: the pre-activation is Q3.12, the
    state is ``round(tanh_s16(pre) / 256)``, int8 with scale 1/128 and zero point 0.
    relu: the pre-activation has scale hidden_scale/64 and the state is
    ``max(round(pre / 64) + zp, zp)`` with a calibrated (scale, zero point). The state
    is int8 (it is fully recomputed every step, nothing accumulates in it). ``bias`` is
    on the input path only (Keras has one bias). ``activation_bits`` 16: the 16x8
    SimpleRNN (golden ``rnn_s16``): int16 x/h with zero points 0, int64 ``bias``, the
    tanh state Q0.15; there ``weight_bits`` 16 makes ``w_x``/``w_h`` int16 (the 16x16
    SimpleRNN, for recurrences whose decisions int8 weights do not keep).
    """

    kind: ClassVar[str] = "rnn"
    # The tanh state's scale (zero point 0) per activation_bits: int8 round(tanh_s16 / 256);
    # 16x8 tanh_s16's Q0.15 output as it is.
    TANH_SCALES: ClassVar[dict] = {8: 1.0 / 128, 16: 2.0**-15}
    name: str
    input_size: int
    hidden_size: int
    return_sequences: bool
    activation: str  # tanh | relu
    w_x: np.ndarray  # (H, I) int8 (int16 at weight_bits 16)
    w_h: np.ndarray  # (H, H) int8 (int16 at weight_bits 16)
    bias: np.ndarray  # (H,) int32, scale s_x·s_wx
    input_zero_point: int
    hidden_zero_point: int
    input_scale: float
    hidden_scale: float
    x_multiplier: int  # input matmul → pre-activation
    x_shift: int
    h_multiplier: int  # recurrent matmul → pre-activation
    h_shift: int
    activation_bits: int = 8
    weight_bits: int = 8  # absent at 8, so older artifacts keep their hashes

    OPTIONAL_FIELDS: ClassVar[tuple] = (*Bits.OPTIONAL_FIELDS, "weight_bits")

    def absent_fields(self) -> tuple:
        return super().absent_fields() + (("weight_bits",) if self.weight_bits == 8 else ())

    @property
    def output_size(self) -> int:
        return self.hidden_size

    @property
    def tanh_scale(self) -> float:
        """The scale a tanh state must have at this layer's width (zero point 0)."""
        return self.TANH_SCALES[self.activation_bits]



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

