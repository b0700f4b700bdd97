"""Per-channel input scales: every input channel spread over the int8 grid, Normalization layer or not.

The first layer reads one int8 tensor with one scale, so with raw channels whose ranges
differ (HAR: body acceleration about ±0.5, gyroscope about ±5) a grid sized for the
widest channel leaves the narrow ones a handful of codes, and a window whose signal
lives in them (a motionless "laying" window) is misread (results/stack_attribution.md).
The input quantizer is per channel already (``InputQuant.scale``), so each normalized
channel is divided by its calibrated peak ``a_c`` and the first weighted layer's input
weights are multiplied by it: ``W·x = (W·diag(a))·(x/a)`` is exact in float, and the
int8 grid then fits every channel. Scale only, no offset: the input's real 0 stays 0,
which causal Conv1D padding (the input zero point) relies on. The price: the first
layer's weight rows are rescaled before their per-gate int8 rounding, so on HAR (channel
ranges within ~10×) output SQNR moved both ways and the option is not the default.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.quantize.float_model import FloatModel

INPUT_SCALES = ("tensor", "channel")  # one scale, or per-channel peaks folded into the first layer


def check_input_scales(value: str) -> None:
    if value not in INPUT_SCALES:
        raise TinyrnnError(f"input_scales {value!r} unknown (use one of {', '.join(INPUT_SCALES)})")


def channel_peaks(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max(|lo|, |hi|) per channel; a channel that is 0 throughout keeps 1 (nothing to fit)."""
    peak = np.maximum(np.abs(np.asarray(lo, np.float64)), np.abs(np.asarray(hi, np.float64)))
    return np.where(peak > 0, peak, 1.0)


def _scaled_inputs(layer, peaks: np.ndarray):
    """``layer`` with its input weights multiplied by ``peaks`` along the input-channel axis."""
    if layer.kind == "bidirectional":
        return dataclasses.replace(layer, forward=_scaled_inputs(layer.forward, peaks),
                                   backward=_scaled_inputs(layer.backward, peaks))  # fmt: skip
    if layer.kind == "conv1d":  # (kernel_size, I, O)
        return dataclasses.replace(layer, kernel=layer.kernel * peaks[None, :, None])
    return dataclasses.replace(layer, kernel=layer.kernel * peaks[:, None])  # (I, ·): Dense and recurrent kernels


def equalize(model: FloatModel, peaks: np.ndarray) -> FloatModel:
    """The same float function with normalized channel c divided by ``peaks[c]`` and the
    first weighted layer's weights multiplied by it (pooling before it commutes with a
    positive per-channel scale, so it passes through)."""
    layers = list(model.layers)
    first = next(k for k, layer in enumerate(layers) if layer.kind != "pool1d")
    layers[first] = _scaled_inputs(layers[first], peaks)
    return dataclasses.replace(model, std=model.std * peaks, layers=layers)
