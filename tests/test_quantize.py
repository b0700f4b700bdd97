"""Keras import and quantization: float twin equals Keras, int8 tracks float, bad layers named."""

from __future__ import annotations

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf


def _save(tmp_path, layers, steps=12, features=3, name="m.keras"):
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((steps, features)), *layers])
    path = tmp_path / name
    model.save(path)
    return model, path


def test_float_twin_equals_keras_and_int8_tracks_it(tmp_path):
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    keras = import_keras()
    rng = np.random.default_rng(0)
    # Channels with 100x different ranges: the per-channel input quantizer must cope.
    x = (rng.normal(size=(300, 12, 3)) * [0.05, 1.0, 5.0] + [0.0, 2.0, -1.0]).astype(np.float32)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    layers = [norm, keras.layers.LSTM(16, return_sequences=True), keras.layers.Dropout(0.1),
              keras.layers.LSTM(8), keras.layers.Dense(4)]  # fmt: skip
    model, path = _save(tmp_path, layers)
    float_model = load_keras(path)
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(float_model.run(x), want, atol=2e-5)

    q = quantize_model(float_model, x[:200])
    assert [layer.kind for layer in q.layers] == ["lstm", "lstm", "dense"]
    y = dequantize_output(q, run_model(q, q.input_quant.quantize(x[200:])))
    ref = want[200:]
    sqnr = 10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2))
    assert sqnr > 20.0, f"output SQNR {sqnr:.1f} dB"
    assert np.mean(np.argmax(y, -1) == np.argmax(ref, -1)) > 0.9


@pytest.mark.parametrize(
    "make_layer, message",
    [
        (lambda k: k.layers.Bidirectional(k.layers.LSTM(4, unroll=True)), "unroll=True"),
        (lambda k: k.layers.LSTM(4, go_backwards=True), "go_backwards=True"),
        (lambda k: k.layers.LSTM(4, activation="relu"), "activation='relu'"),
        (lambda k: k.layers.Conv1D(4, 3, padding="same", strides=2),
         "layer 'conv1d\\w*' \\(Conv1D\\): option padding='same' with strides > 1"),
    ],
)
def test_unsupported_layers_and_options_are_named(tmp_path, make_layer, message):
    from tinyrnn.quantize.keras_import import load_keras

    keras = import_keras()
    _, path = _save(tmp_path, [make_layer(keras), keras.layers.Dense(2)])
    with pytest.raises(TinyrnnError, match=message):
        load_keras(path)


def test_corrupt_and_missing_model_files(tmp_path):
    from tinyrnn.quantize.keras_import import load_keras

    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(TinyrnnError, match="not a Keras .keras file"):
        load_keras(bad)
    with pytest.raises(TinyrnnError, match="no such model file"):
        load_keras(tmp_path / "missing.keras")
