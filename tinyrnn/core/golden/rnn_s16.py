"""16x8 SimpleRNN: int16 x/h (zero points 0), int8 weights (int16 at ``weight_bits`` 16,
the 16x16 SimpleRNN: the same arithmetic), int64 bias (C twin: tinyrnn_rnn_s16.c). No TFLM/CMSIS-NN kernel exists; this is the spec, built from the
16x8 LSTM's parts (``lstm_s16``).

Per step, with rq() TFLM's 64-bit requantization (``requantize_s64``), the 16x8 LSTM's
gate pre-activation (``lstm_s16.preactivation_s16``):
  pre = sat16(sat16(rq_x(W·x + b)) + sat16(rq_h(U·h)))
  tanh: pre is Q3.12 and h = tanh_s16(pre), Q0.15 (``SimpleRNNLayer.TANH_SCALES``);
  relu: pre is at the hidden scale and h = max(pre, 0).
The relu state's int16 grid spans twice its calibrated range (quantize_rnn), so each
matmul's part has the int8 kernel's 2x headroom before it saturates on its own. The
state is recomputed every step; nothing accumulates in it.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.activation_s16 import tanh_s16
from tinyrnn.core.golden.lstm_s8 import scan
from tinyrnn.core.golden.lstm_s16 import preactivation_s16
from tinyrnn.core.ir import SimpleRNNLayer


def rnn_s16_step(layer: SimpleRNNLayer, x, h, probe=None) -> np.ndarray:
    """x (B, I) int16, h (B, H) int16 → new h (B, H) int16."""
    pre = preactivation_s16(x, h, layer.w_x, layer.w_h, layer.bias, (layer.x_multiplier, layer.x_shift),
                            (layer.h_multiplier, layer.h_shift))  # fmt: skip
    h_new = tanh_s16(pre) if layer.activation == "tanh" else np.maximum(pre, 0)
    if probe is not None:
        probe("pre_activation", pre)
        probe("hidden", h_new)
    return np.asarray(h_new).astype(np.int16)


def rnn_s16(layer: SimpleRNNLayer, x, state=None, probe=None, valid=None) -> tuple[np.ndarray, np.ndarray]:
    """x (B, T, I) int16 → (hidden states (B, T, H) int16, final h), from h = 0 unless
    ``state`` is given; ``valid`` as in ``rnn_s8``."""
    x = np.asarray(x)
    h0 = state if state is not None else np.zeros((x.shape[0], layer.hidden_size), np.int16)
    # scan carries an (h, c) pair; a SimpleRNN has no c, so h's twin rides along unchanged
    seq, (h, _) = scan(lambda x_t, h, c: (rnn_s16_step(layer, x_t, h, probe), c), x, (h0, h0), valid)
    return seq, h
