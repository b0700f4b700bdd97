"""int8 MaxPooling1D / AveragePooling1D over time, padding "valid" (C twin: tinyrnn_pool1d_s8.c).

Output n, channel c, over the window w = x[n·strides : n·strides + pool_size, c]:
  max:     max(w)
  average: TFLite Micro's int8 average pool: s = Σ w (the int8 codes; input and output
           share scale and zero point), s / pool_size rounded half away from zero.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.ir import Pool1DLayer


def pool1d_s8(layer: Pool1DLayer, x) -> np.ndarray:
    """x (B, T, C) int8 → (B, T', C) int8, T' = (T − pool_size) // strides + 1 (at least 0)."""
    x = np.asarray(x, np.int8)
    steps = max((x.shape[1] - layer.pool_size) // layer.strides + 1, 0)
    starts = np.arange(steps) * layer.strides
    windows = np.stack([x[:, starts + j] for j in range(layer.pool_size)], axis=0).astype(np.int64)
    if layer.pool == "max":
        return windows.max(axis=0, initial=-128).astype(np.int8)
    total, half = windows.sum(axis=0), layer.pool_size // 2
    # C's division truncates toward zero: round half away from zero on each side.
    average = np.where(total > 0, (total + half) // layer.pool_size, -((half - total) // layer.pool_size))
    return average.astype(np.int8)
