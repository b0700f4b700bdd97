"""Per-channel input scales (quantize/equalize.py), without TensorFlow: the equalized float
model computes the same function for every first-layer kind, and on channels whose
ranges differ 50× the narrow channel keeps its resolution through the int8 model."""

from __future__ import annotations

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.quantize.calibrate import calibrate
from tinyrnn.quantize.equalize import channel_peaks, equalize
from tinyrnn.quantize.float_model import (
    FloatBidirectional,
    FloatConv1D,
    FloatDense,
    FloatGRU,
    FloatLSTM,
    FloatModel,
    FloatPool1D,
    FloatSimpleRNN,
)
from tinyrnn.quantize.pipeline import quantize_model

STEPS, FEATURES, UNITS = 12, 3, 6
SPREAD = np.array([0.05, 1.0, 2.5])  # channel standard deviations: 50× apart


def _recurrent(rng, kind: str, inputs: int, name: str = "r"):
    w = lambda *shape: rng.normal(0.0, 0.5, shape)  # noqa: E731
    if kind == "lstm":
        return FloatLSTM(name, w(inputs, 4 * UNITS), w(UNITS, 4 * UNITS), w(4 * UNITS), False)
    if kind == "gru":
        return FloatGRU(name, w(inputs, 3 * UNITS), w(UNITS, 3 * UNITS), w(3 * UNITS), w(3 * UNITS), False, True)
    return FloatSimpleRNN(name, w(inputs, UNITS), w(UNITS, UNITS), w(UNITS), "tanh", False)


def _model(rng, front: str) -> FloatModel:
    """``front``: the first layer (kind), then a recurrent layer if it is not one, then a Dense head."""
    layers = []
    if front == "conv1d":
        layers.append(FloatConv1D("conv", rng.normal(0.0, 0.5, (3, FEATURES, 4)), rng.normal(0.0, 0.1, 4), "relu",
                                  padding="causal", strides=1, dilation=1))  # fmt: skip
    elif front == "pool1d":
        layers.append(FloatPool1D("pool", "average", 2, 2))
        layers.append(FloatConv1D("conv", rng.normal(0.0, 0.5, (2, FEATURES, 4)), rng.normal(0.0, 0.1, 4), "linear",
                                  padding="valid", strides=1, dilation=1))  # fmt: skip
    elif front == "bidirectional":
        directions = (_recurrent(rng, "gru", FEATURES, name) for name in ("f", "b"))
        layers.append(FloatBidirectional("bi", *directions, "concat"))
    if front in ("lstm", "gru", "rnn"):
        layers.append(_recurrent(rng, front, FEATURES))
    elif front != "bidirectional":
        layers.append(_recurrent(rng, "lstm", 4))
    width = 2 * UNITS if front == "bidirectional" else UNITS
    layers.append(FloatDense("head", rng.normal(0.0, 0.5, (width, 3)), rng.normal(0.0, 0.1, 3), "linear"))
    return FloatModel("m", (STEPS, FEATURES), np.zeros(FEATURES), np.ones(FEATURES), layers)


def _inputs(rng, n: int = 64) -> np.ndarray:
    return (rng.normal(size=(n, STEPS, FEATURES)) * SPREAD + [0.02, -0.5, 1.0]).astype(np.float32)


@pytest.mark.parametrize("front", ["lstm", "gru", "rnn", "conv1d", "pool1d", "bidirectional"])
def test_equalized_model_is_the_same_function(front):
    rng = np.random.default_rng(1)
    model, x = _model(rng, front), _inputs(rng, 8)
    peaks = np.array([0.1, 2.0, 7.0])
    twin = equalize(model, peaks)
    np.testing.assert_allclose(twin.run(x), model.run(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(twin.normalize(x), model.normalize(x) / peaks)
    assert model.std.tolist() == [1.0, 1.0, 1.0]  # the original is left as it was


def test_channel_peaks_fit_every_channel():
    rng = np.random.default_rng(2)
    model, x = _model(rng, "lstm"), _inputs(rng)
    ranges = calibrate(model, x, "minmax", input_scales="channel")
    y = model.normalize(x) / ranges.channel_peaks
    assert np.allclose(np.abs(y).max(axis=(0, 1)), 1.0)  # each channel reaches the grid's edge
    assert channel_peaks(np.array([0.0, -3.0]), np.array([0.0, 2.0])).tolist() == [1.0, 3.0]  # a dead channel keeps 1
    assert calibrate(model, x, "minmax").channel_peaks is None


def _narrow_channel_sqnr(model: FloatModel, x: np.ndarray, calib: np.ndarray, input_scales: str) -> float:
    q = quantize_model(model, calib, input_scales=input_scales)
    iq = q.input_quant
    back = (iq.quantize(x).astype(np.float64) - iq.zero_point) * iq.scale + iq.offset
    err = back[..., 0] - x[..., 0]
    return float(10 * np.log10(np.mean(x[..., 0].astype(np.float64) ** 2) / np.mean(err**2)))


def test_narrow_channel_keeps_its_resolution_and_the_model_tracks_float():
    rng = np.random.default_rng(3)
    model, calib, x = _model(rng, "lstm"), _inputs(rng, 128), _inputs(rng, 128)
    one, per_channel = (_narrow_channel_sqnr(model, x, calib, s) for s in ("tensor", "channel"))
    assert per_channel > one + 20.0, (one, per_channel)  # ~50× finer steps on the narrow channel: ~34 dB
    q = quantize_model(model, calib, input_scales="channel")
    assert q.meta["calibration"]["input_scales"] == "channel"
    assert quantize_model(model, calib).meta["calibration"]["input_scales"] == "tensor"
    ref = model.run(x)
    y = dequantize_output(q, run_model(q, q.input_quant.quantize(x)))
    assert 10 * np.log10(np.mean(ref**2) / np.mean((y - ref) ** 2)) > 25.0


def test_input_scales_option_and_precomputed_ranges_are_checked():
    rng = np.random.default_rng(4)
    model, x = _model(rng, "gru"), _inputs(rng, 8)
    with pytest.raises(TinyrnnError, match="input_scales 'pixel' unknown"):
        quantize_model(model, x, input_scales="pixel")
    with pytest.raises(TinyrnnError, match="input_scales 'pixel' unknown"):
        calibrate(model, x, input_scales="pixel")
    with pytest.raises(TinyrnnError, match="other input scales than input_scales='channel'"):
        quantize_model(model, x, input_scales="channel", ranges=calibrate(model, x))
    a = quantize_model(model, x, input_scales="channel", ranges=calibrate(model, x, input_scales="channel"))
    assert a.content_hash() == quantize_model(model, x, input_scales="channel").content_hash()
