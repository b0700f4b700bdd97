"""The IR's shared vocabulary: layer kinds and options, activation widths (``Bits``) and
the input quantizer. Part of :mod:`tinyrnn.core.ir`, which re-exports every name; imports
only numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

IR_FORMAT = "tinyrnn-ir"
IR_VERSION = 2  # 2: Dense activation tables (table, table_scale, table_zero_point)
GATES_LSTM = ("input", "forget", "cell", "output")
GATES_GRU = ("update", "reset", "candidate")
# The one table of Dense activations. linear/relu/relu6 are int8 clamps in any position;
# sigmoid/tanh/softmax go through the layer's table when hidden and are left to the
# caller on the last layer (its logits are the output contract).
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
KINDS_16 = ("lstm", "rnn", "dense")


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

