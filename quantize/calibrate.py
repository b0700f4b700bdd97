"""Calibration: the value ranges the integer model must cover, from a float run on user data.

Ranges come from one float forward pass (``FloatModel.run`` with traces). The range
rule is an option because it matters: min/max lets one outlier waste most of the
int8 grid; a high percentile clips a handful of values to keep resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyrnn.errors import TinyrnnError

from .float_model import FloatModel

METHODS = ("minmax", "percentile")


@dataclass
class Ranges:
    input: tuple  # (lo, hi) of the normalized input
    layers: list = field(default_factory=list)  # per layer: dict of name → (lo, hi)


def value_range(values: np.ndarray, method: str, percentile: float) -> tuple[float, float]:
    flat = np.asarray(values, np.float64).reshape(-1)
    if method == "minmax":
        return float(flat.min()), float(flat.max())
    if method == "percentile":
        return float(np.percentile(flat, 100.0 - percentile)), float(np.percentile(flat, percentile))
    raise TinyrnnError(f"calibration method {method!r} unknown (use one of {', '.join(METHODS)})")


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


def calibrate(model: FloatModel, x: np.ndarray, method: str = "percentile", percentile: float = 99.99) -> Ranges:
    traces: list = []
    model.run(x, traces)
    ranges = Ranges(input=value_range(model.normalize(x), method, percentile))
    for layer, trace in zip(model.layers, traces):
        entry = {}
        for key, steps in trace.items():
            stacked = np.stack(steps)
            # Cell state and hidden state must not clip: take their true extremes.
            entry[key] = value_range(stacked, "minmax" if key == "cell" else method, percentile)
        if layer.kind == "lstm":
            entry["abs_cell"] = float(np.abs(np.stack(trace["cell"])).max())
        ranges.layers.append(entry)
    return ranges
