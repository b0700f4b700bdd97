"""Range checks codegen runs before it emits a layer: the preconditions under which the
kernels are free of undefined behaviour and equal the golden model bit for bit. Each
failure is a TinyrnnError naming the layer (``where``) and the value."""

from __future__ import annotations

import numpy as np

from tinyrnn.core.errors import TinyrnnError

INT32_MAX = 2**31 - 1
SHIFT_MIN, SHIFT_MAX = -31, 30  # rounding_divide_by_pot / saturating left shift limits


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


def acc_bound(w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Largest |bias + w·v| over int8 v, per row (|v| <= 128); w (..., K), bias (...)."""
    return np.abs(bias.astype(np.int64)) + 128 * np.abs(w.astype(np.int64)).sum(axis=-1)


def check_requant(where: str, what: str, bound, multiplier, shift) -> None:
    """Reject a positive shift that could overflow int32 with an unnormalized multiplier.

    The kernel saturates ``acc << shift`` where the golden model widens to int64; both
    then saturate to 16/8 bits identically when |multiplier| >= 2^30 (or it is 0), as
    quantize_multiplier always produces. Only the remaining case can differ.
    """
    cases = np.broadcast_arrays(np.asarray(bound, np.int64), np.asarray(multiplier, np.int64),
                                np.asarray(shift, np.int64))
    for b, m, s in zip(*(c.reshape(-1).tolist() for c in cases)):
        if s > 0 and m != 0 and abs(m) < 2**30 and (b << s) > INT32_MAX:
            raise TinyrnnError(f"{where}: {what} has a left shift that can overflow int32 with an "
                               f"unnormalized multiplier (|m| < 2^30); requantize it with quantize_multiplier")


def check_acc(where: str, what: str, bound: np.ndarray) -> None:
    if bound.size and bound.max() > INT32_MAX:
        raise TinyrnnError(f"{where}: {what} accumulator can overflow int32 (bound {int(bound.max())})")
