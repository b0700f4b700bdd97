"""int8 Bidirectional wrapper (C twin of the merge: tinyrnn_bidirectional_s8.c).

The two directions are the LSTM/GRU/SimpleRNN kernels unchanged: forward over x,
backward over x reversed, each from real zero state. The merge, per step and unit, with
f, b the int8 outputs of the two directions (zero points zp_f, zp_b) and rq() the
requantization ``requantize(acc, merge_multiplier[i], merge_shift[i])``:
  concat: [f, b] (both already on the output grid)
  sum, ave: y = sat8(rq_out(rq_f((f - zp_f) << LEFT_SHIFT) + rq_b((b - zp_b) << LEFT_SHIFT)) + zp_y)
            (the two inputs are first brought to one intermediate scale, 2^-LEFT_SHIFT of
            twice the larger input scale; ave's 1/2 is in the output multiplier)
  mul:  y = sat8(rq_out((f - zp_f) · (b - zp_b)) + zp_y)
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.fixedpoint import requantize, sat8
from tinyrnn.core.golden.gru_s8 import gru_s8
from tinyrnn.core.golden.lstm_s8 import lstm_s8
from tinyrnn.core.golden.rnn_s8 import rnn_s8
from tinyrnn.core.ir import BidirectionalLayer

DIRECTIONS = {"lstm": lstm_s8, "gru": gru_s8, "rnn": rnn_s8}
# Index of the (multiplier, shift) pairs: C TINYRNN_BIDIR_RQ_FORWARD, _BACKWARD, _OUTPUT.
RQ_FORWARD, RQ_BACKWARD, RQ_OUTPUT = range(3)
LEFT_SHIFT = 20  # |int8 - zp| < 2^8: the shifted difference stays below 2^28
# The largest |accumulator| of each requantization (``merge_bounds``, checked by
# tinyrnn.core.domain.check_merge, which also keeps the input shifts <= 0: each input's
# real multiplier is below 1, so |rq_f + rq_b| < 2^29 cannot overflow int32). mul's is
# doubled so that the requantized product plus the zero point stays within int32.
SUM_BOUND = 2**29
MUL_BOUND = 2 * 255 * 255


def merge_bounds(layer: BidirectionalLayer) -> tuple:
    """The largest |accumulator| each requantization sees, [forward, backward, output]."""
    if layer.merge_mode == "mul":
        return (0, 0, MUL_BOUND)
    if layer.merge_mode in ("sum", "ave"):
        return (255 << LEFT_SHIFT, 255 << LEFT_SHIFT, SUM_BOUND)
    return (0, 0, 0)


def _rq(layer: BidirectionalLayer, acc, i: int) -> np.ndarray:
    return requantize(acc, int(layer.merge_multiplier[i]), int(layer.merge_shift[i]))


def merge_s8(layer: BidirectionalLayer, f, b) -> np.ndarray:
    """f, b (..., H) int8 outputs of the two directions → merged (..., W) int8."""
    if layer.merge_mode == "concat":
        return np.concatenate([np.asarray(f, np.int8), np.asarray(b, np.int8)], axis=-1)
    df = np.asarray(f, np.int64) - layer.forward.hidden_zero_point
    db = np.asarray(b, np.int64) - layer.backward.hidden_zero_point
    if layer.merge_mode == "mul":
        acc = df * db
    else:
        acc = _rq(layer, df << LEFT_SHIFT, RQ_FORWARD) + _rq(layer, db << LEFT_SHIFT, RQ_BACKWARD)
    return sat8(_rq(layer, acc, RQ_OUTPUT) + layer.output_zero_point).astype(np.int8)


def bidirectional_s8(layer: BidirectionalLayer, x, probe=None, valid=None) -> tuple[np.ndarray, None]:
    """x (B, T, I) int8 → (merged outputs, None): (B, T, W) when the layer returns
    sequences, else (B, 1, W), the merge of the two final states (so ``[:, -1]`` is
    the layer's output either way). No masking: the importer refuses it."""
    if valid is not None:
        raise TinyrnnError(f"layer {layer.name}: Bidirectional does not support masked steps")
    x = np.asarray(x, np.int8)
    step = DIRECTIONS[layer.forward.kind]
    fwd, _ = step(layer.forward, x, probe=probe)
    bwd, _ = step(layer.backward, x[:, ::-1], probe=probe)
    if layer.return_sequences:
        f, b = fwd, bwd[:, ::-1]
    else:
        f, b = fwd[:, -1:], bwd[:, -1:]
    return merge_s8(layer, f, b), None
