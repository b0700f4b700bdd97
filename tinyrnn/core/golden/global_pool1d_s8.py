"""int8 GlobalMaxPooling1D / GlobalAveragePooling1D over time (C twin: tinyrnn_global_pool1d_s8.c).

Per channel c over the counted steps so far (at most ``MAX_COUNT`` after a reset):
  max:     their maximum
  average: TFLite Micro's int8 average: s = Σ x (the int8 codes; input and output share
           scale and zero point), s / count rounded half away from zero
Before the first counted step the output is the zero point (real 0), what the C's reset
state holds. ``valid`` (B, T) marks the steps that count: a step the recurrent stack did
not take (masked, or no front-end output due) leaves the pool as it is.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.ir import GlobalPool1DLayer


def global_pool1d_s8(layer: GlobalPool1DLayer, x, valid: np.ndarray | None = None,
                     running: bool = False) -> np.ndarray:  # fmt: skip
    """x (B, T, C) int8 → (B, C) int8, the pool of the whole window; ``running``: (B, T, C),
    the pool after each step (what the C's ``_step`` writes)."""
    x = np.asarray(x, np.int8).astype(np.int64)
    counts = np.ones(x.shape[:2], bool) if valid is None else np.asarray(valid, bool)
    counted = counts & (np.cumsum(counts, axis=1) <= layer.MAX_COUNT)
    n = np.cumsum(counted, axis=1)[..., None]
    if layer.pool == "max":
        pooled = np.maximum.accumulate(np.where(counted[..., None], x, -128), axis=1)
    else:
        total = np.cumsum(np.where(counted[..., None], x, 0), axis=1)
        d, half = np.maximum(n, 1), n // 2
        # C's division truncates toward zero: round half away from zero on each side.
        pooled = np.where(total > 0, (total + half) // d, -((half - total) // d))
    out = np.where(n > 0, pooled, layer.input_zero_point).astype(np.int8)
    return out if running else out[:, -1]
