"""Calibration: the value ranges the integer model must cover, from a float run on user data.

Ranges come from one float forward pass over the calibration windows. The range rule
(``method``) is an option because it matters: min/max lets one outlier waste most of
the int8 grid; a high percentile clips a handful of values to keep resolution; ``mse``
searches the clip range that minimizes the int8 quantize→dequantize error of the
calibration values themselves (rounding and clipping error together).

Besides ranges, each layer's entry carries the means that bias correction needs
(``layers.py``): the mean layer input, the mean previous hidden state seen by the
recurrent matmul and, for a GRU, the mean of the reset-gated state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.quantize.equalize import channel_peaks, check_input_scales, equalize
from tinyrnn.quantize.float_model import FEEDFORWARD, FloatModel, sigmoid
from tinyrnn.quantize.layers import asymmetric

METHODS = ("minmax", "percentile", "mse")
MSE_SAMPLES = 1 << 18  # values the MSE search evaluates (a fixed-seed random subset beyond that)
MSE_COARSE = np.geomspace(1e-4, 1.0, 49)  # candidate clips, as fractions of min and max (steps of ~21 %)
MSE_FINE = np.linspace(0.8, 1.25, 19)  # then around the best fraction (steps of 2.5 %)


@dataclass
class Ranges:
    input: tuple  # (lo, hi) of the normalized input (divided by channel_peaks)
    layers: list = field(default_factory=list)  # per layer: dict of name → (lo, hi), plus statistics
    channel_peaks: np.ndarray | None = None  # (F,) per-channel input scales (equalize.py), None: one scale


def check_options(method: str, percentile: float) -> None:
    if method not in METHODS:
        raise TinyrnnError(f"calibration method {method!r} unknown (use one of {', '.join(METHODS)})")
    try:
        value = float(percentile)
    except (TypeError, ValueError):
        value = float("nan")
    if not 50.0 < value <= 100.0:  # also refuses NaN
        raise TinyrnnError(f"percentile must be a number in (50, 100], got {percentile!r}")


def quantization_mse(values: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of int8 quantize→dequantize on the grid ``asymmetric(lo, hi)`` (clipping included)."""
    scale, zp = asymmetric(lo, hi)
    q = np.clip(np.round(values / scale) + zp, -128, 127)
    return float(np.mean(((q - zp) * scale - values) ** 2))


def mse_range(flat: np.ndarray) -> tuple[float, float]:
    """The (lo, hi) within [min, max] whose int8 grid has the least quantization MSE.

    Both ends shrink together first (geometric fractions of min and max down to 1e-4,
    then a fine step around the best), then each end alone; every candidate is scored
    on the grid the quantizer builds (``asymmetric``), so min/max itself is a candidate
    and the result is never worse than it on the scored values.
    """
    lo0, hi0 = min(float(flat.min()), 0.0), max(float(flat.max()), 0.0)  # the grid always holds 0
    sample = flat if flat.size <= MSE_SAMPLES else flat[np.random.default_rng(0).integers(0, flat.size, MSE_SAMPLES)]
    sample = sample.astype(np.float32)
    scored: dict = {}

    def best_of(pairs) -> tuple[float, float]:
        for pair in pairs:
            if pair not in scored:
                scored[pair] = quantization_mse(sample, *pair)
        return min(scored, key=scored.get)

    def around(a: float) -> np.ndarray:
        return np.minimum(a * MSE_FINE, 1.0)

    lo, hi = best_of([(lo0, hi0)] + [(a * lo0, a * hi0) for a in MSE_COARSE])
    a = hi / hi0 if hi0 else lo / lo0 if lo0 else 1.0
    lo, hi = best_of([(f * lo0, f * hi0) for f in around(a)])
    if lo0:
        lo, hi = best_of([(f * lo0, hi) for f in around(lo / lo0)])
    if hi0:
        lo, hi = best_of([(lo, f * hi0) for f in around(hi / hi0)])
    return max(float(lo), float(flat.min())), min(float(hi), float(flat.max()))


def value_range(values: np.ndarray, method: str, percentile: float = 99.99) -> tuple[float, float]:
    """(lo, hi) the int8 grid should cover: the extremes, a two-sided percentile, or the MSE-optimal clip."""
    check_options(method, percentile)
    flat = np.asarray(values, np.float64).reshape(-1)
    if flat.size == 0:
        raise TinyrnnError("calibration: no values to take a range of")
    if method == "minmax":
        return float(flat.min()), float(flat.max())
    if method == "percentile":
        return float(np.percentile(flat, 100.0 - percentile)), float(np.percentile(flat, percentile))
    return mse_range(flat)


def check_calibration_data(x: np.ndarray, model: FloatModel, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise TinyrnnError(f"{where}: calibration data must be (N, T, F), got shape {x.shape}")
    if x.shape[0] == 0:
        raise TinyrnnError(f"{where}: calibration data is empty")
    steps, features = model.input_shape
    if x.shape[2] != features or (steps is not None and x.shape[1] != steps):
        raise TinyrnnError(f"{where}: calibration data shape {x.shape[1:]} does not match the model input ({steps}, {features})")
    if not np.all(np.isfinite(x)):
        raise TinyrnnError(f"{where}: calibration data contains NaN or Inf")
    return x.astype(np.float32)


def _recurrent_stats(layer, trace: dict, percentile: float) -> dict:
    """Means of the state the recurrent matmul sees (h of the previous step, 0 first) and cell extremes."""
    hidden = np.stack(trace["hidden"])  # (T, N, H)
    prev = np.concatenate([np.zeros_like(hidden[:1]), hidden[:-1]])
    stats = {"hidden_mean": prev.mean(axis=(0, 1))}
    if layer.kind == "lstm":
        abs_cell = np.abs(np.stack(trace["cell"]))
        stats["abs_cell"] = float(abs_cell.max())
        stats["abs_cell_percentile"] = float(np.percentile(abs_cell, percentile))
    elif layer.kind == "gru":
        units = layer.units
        r = sigmoid(np.stack(trace["gates"])[..., units : 2 * units])
        if layer.reset_after:  # r multiplies the recurrent matmul's output: E[r_j · h_k]
            stats["reset_outer_mean"] = np.einsum("tnj,tnk->jk", r, prev) / (prev.shape[0] * prev.shape[1])
        else:  # r multiplies the matmul's input: E[r ⊙ h]
            stats["reset_hidden_mean"] = (r * prev).mean(axis=(0, 1))
    return stats


def _finite(where: str, values: np.ndarray) -> np.ndarray:
    """Refuse NaN/Inf in the float run: every range and scale derived from it would be NaN."""
    bad = ~np.isfinite(values)
    if bad.any():
        raise TinyrnnError(f"{where}: {int(bad.sum())} NaN/Inf values in the float run on the calibration data "
                           "(weights or normalization out of range?)")
    return values


def calibrate(model: FloatModel, x: np.ndarray, method: str = "percentile", percentile: float = 99.99,
              input_scales: str = "tensor") -> Ranges:  # fmt: skip
    """Ranges (by ``method``) and bias-correction means from one float pass over ``x``.

    The cell state always takes its true extremes (the cell power rule picks from them)
    and the gate pre-activations are recorded as min/max for information only (Q3.12
    is fixed); the input, hidden and logits ranges follow ``method``. ``input_scales``
    "tensor": one input scale; "channel": each input channel's range (by ``method``) is
    equalized into the first layer (``equalize.py``; the ranges are the equalized model's).
    """
    check_options(method, percentile)
    check_input_scales(input_scales)
    y, valid = _finite("normalized input", model.normalize(x)), model.valid_steps(x)
    peaks = None
    if input_scales == "channel":
        flat = y.reshape(-1, y.shape[-1])
        peaks = channel_peaks(*zip(*(value_range(flat[:, c], method, percentile) for c in range(flat.shape[1]))))
        model, y = equalize(model, peaks), y / peaks
    ranges = Ranges(input=value_range(y, method, percentile), channel_peaks=peaks)
    for k, layer in enumerate(model.layers):
        trace: dict = {}
        last = k == len(model.layers) - 1
        out = layer.run(y, trace, last=last) if layer.kind in FEEDFORWARD else layer.run(y, trace, valid)
        ranges.layers.append(_entry(layer, trace, y.reshape(-1, y.shape[-1]).mean(axis=0), method, percentile))
        y = out if layer.kind in FEEDFORWARD or layer.return_sequences else out[:, -1]
    return ranges


def _entry(layer, trace: dict, input_mean: np.ndarray, method: str, percentile: float) -> dict:
    """One layer's ranges and statistics from its trace; a Bidirectional's "forward" and
    "backward" entries are its directions' own (the reversed window has the same input mean)."""
    entry = {"input_mean": input_mean}
    for key, steps in trace.items():
        if isinstance(steps, dict):
            entry[key] = _entry(getattr(layer, key), steps, input_mean, method, percentile)
            continue
        values = _finite(f"layer '{layer.name}' ({key})", np.stack(steps))
        entry[key] = value_range(values, "minmax" if key in ("cell", "gates") else method, percentile)
    if layer.kind in ("lstm", "gru", "rnn"):
        entry.update(_recurrent_stats(layer, trace, percentile))
    return entry
