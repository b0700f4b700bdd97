"""Shape and range checks codegen runs on a layer's fields before it emits them; the
numeric domain (no int32 overflow: golden == C) is ``tinyrnn.core.domain``. Each failure
is a TinyrnnError naming the layer (``where``) and the value."""

from __future__ import annotations

import numpy as np

from tinyrnn.core.errors import TinyrnnError


def as_int(where: str, what: str, a, dtype, shape: tuple) -> np.ndarray:
    """Array of exactly ``shape`` whose values fit ``dtype`` (any integer input dtype)."""
    a = np.asarray(a)
    if a.shape != shape:
        raise TinyrnnError(f"{where}: {what} has shape {a.shape}, expected {shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise TinyrnnError(f"{where}: {what} must be integer, got {a.dtype}")
    info = np.iinfo(dtype)
    if a.size and (a.min() < info.min or a.max() > info.max):
        raise TinyrnnError(f"{where}: {what} outside {np.dtype(dtype).name} range")
    return a.astype(dtype)


def check_range(where: str, what: str, values, lo: int, hi: int) -> None:
    values = np.atleast_1d(np.asarray(values, np.int64))
    if values.size and (values.min() < lo or values.max() > hi):
        raise TinyrnnError(f"{where}: {what} must lie in [{lo}, {hi}], got {values.tolist()}")
