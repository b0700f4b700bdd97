"""Keras Conv1D import: the float twin equals Keras (the referee), int8 tracks float, the
generated C equals the golden model (whole window and streamed), refusals name the option."""

from __future__ import annotations

import numpy as np
import pytest
from keras_chain import check_int8_and_c

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_front
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf


def _save(tmp_path, layers, name="m.keras", steps=16):
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((steps, 3)), *layers])
    model.save(tmp_path / name)
    return model, tmp_path / name


def _data(rng, n=240, steps=16):
    return (rng.normal(size=(n, steps, 3)) * [0.05, 1.0, 5.0] + [0.0, 2.0, -1.0]).astype(np.float32)


def _randomize_biases(model, rng) -> None:
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ in ("Conv1D", "LSTM", "GRU", "Dense") and weights:
            weights[-1] = rng.normal(scale=0.3, size=weights[-1].shape).astype(np.float32)
            layer.set_weights(weights)


@pytest.mark.parametrize("stack", ["causal_lstm", "valid_dilated_gru", "pools_strides"])
def test_conv_float_twin_int8_and_c(stack, tmp_path):
    from tinyrnn.quantize import referee
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    keras = import_keras()
    rng = np.random.default_rng(5)
    x = _data(rng)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    L = keras.layers
    body = {
        "causal_lstm": [L.Conv1D(8, 5, padding="causal", activation="relu"), L.LSTM(10), L.Dense(4)],
        "valid_dilated_gru": [L.Conv1D(6, 3, dilation_rate=2, activation="relu6"),
                              L.Conv1D(5, 2, padding="causal", use_bias=False), L.GRU(7), L.Dense(3)],
        "pools_strides": [L.Conv1D(8, 5, padding="causal", activation="relu"), L.MaxPooling1D(2),
                          L.Conv1D(6, 3, strides=2, padding="causal"), L.AveragePooling1D(2, strides=1), L.LSTM(6),
                          L.Dense(3)],
    }[stack]
    model, _ = _save(tmp_path, [norm, *body])
    _randomize_biases(model, rng)
    model.save(tmp_path / "r.keras")
    float_model = load_keras(tmp_path / "r.keras")
    agreement = referee.check(model, float_model, x[:64])
    kinds = [p["kind"] for p in agreement["layers"]][: len(body) - 2]
    assert kinds == [("pool1d" if "Pooling" in type(la).__name__ else "conv1d") for la in body[:-2]]
    np.testing.assert_allclose(float_model.run(x), model.predict(x, verbose=0), atol=2e-5, rtol=0)

    check_int8_and_c(float_model, quantize_model(float_model, x[:160]), x[160:], stack, tmp_path / "c", rows=20)


@pytest.mark.parametrize("make_layers, message", [
    (lambda L: [L.Conv1D(4, 3), L.MaxPooling1D(2, padding="same", name="p")],
     "'p' \\(MaxPooling1D\\): option padding='same'"),
    (lambda L: [L.Conv1D(4, 3, padding="same", strides=2, name="c")],
     "'c' \\(Conv1D\\): option padding='same' with strides > 1 is not supported"),
    (lambda L: [L.Conv1D(3, 3, groups=3, name="c")], "'c' \\(Conv1D\\): option groups=3"),
    (lambda L: [L.Conv1D(4, 3, activation="tanh", name="c")], "'c' \\(Conv1D\\): option activation='tanh'"),
    (lambda L: [L.Conv1D(4, 3, data_format="channels_first", name="c")], "option data_format='channels_first'"),
    (lambda L: [L.LSTM(4, return_sequences=True), L.Conv1D(4, 3, name="c")], "'c' \\(Conv1D\\): is only supported "
                                                                              "before the recurrent layers"),
    (lambda L: [L.Masking(0.0), L.Conv1D(4, 3, name="c")], "without Masking"),
])
def test_refused_conv_options_named(tmp_path, make_layers, message):
    from tinyrnn.quantize.keras_import import load_keras

    L = import_keras().layers
    _, path = _save(tmp_path, [*make_layers(L), L.LSTM(3), L.Dense(2)], steps=12)
    with pytest.raises(TinyrnnError, match=message) as err:
        load_keras(path)
    assert "\n" not in str(err.value)


def test_report_numbers_for_conv_and_pool_layers(tmp_path):
    """The quantization report on a Conv1D + pooling front end: figures recomputed here from the golden
    front end and the float twin's layers."""
    from tinyrnn.core.golden.conv1d_s8 import conv1d_s8
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model
    from tinyrnn.quantize.report import build_report
    from tinyrnn.quantize.report_html import render_html

    keras = import_keras()
    rng = np.random.default_rng(6)
    x = _data(rng, 120)
    L = keras.layers
    _save(tmp_path, [L.Conv1D(6, 3, padding="causal", activation="relu"), L.MaxPooling1D(2), L.LSTM(5), L.Dense(3)])
    float_model = load_keras(tmp_path / "m.keras")
    q = quantize_model(float_model, x[:80])
    report = build_report(float_model, q, x, rng.integers(0, 3, len(x)), progress=False)
    conv = q.layers[0]
    assert report["model"]["layers"][0]["macs"] == 6 * 3 * 3 and report["model"]["layers"][1]["params"] == 0
    got = (conv1d_s8(conv, q.input_quant.quantize(x)).astype(np.int64) - conv.output_zero_point) * conv.output_scale
    ref = next(float_model.layer_outputs(x))
    sqnr = 10 * np.log10(np.sum(ref**2) / np.sum((got - ref) ** 2))
    out = report["fidelity"]["layers"][0]["tensors"][0]
    assert out["tensor"] == "output" and out["sqnr_db"] == pytest.approx(sqnr, rel=1e-9)
    pooled = run_front(q, q.input_quant.quantize(x))  # a relu's zeros (the low rail) are no saturation
    assert np.mean(pooled == -128) > 0.1
    assert report["fidelity"]["layers"][1]["tensors"][0]["saturated"] == np.count_nonzero(pooled == 127)
    assert "max_pooling1d" in render_html(report, plots=True)
