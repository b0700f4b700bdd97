"""Keras GRU import: the float twin equals Keras, int8 tracks float, the generated C equals
the golden model, and every GRU option the kernels cannot honour is refused by name."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf


def _save(tmp_path, layers, *, steps=12, features=3, name="m.keras", batch=None):
    keras = import_keras()
    keras.utils.set_random_seed(0)
    inp = keras.Input(batch_shape=(batch, steps, features)) if batch else keras.Input((steps, features))
    model = keras.Sequential([inp, *layers])
    path = tmp_path / name
    model.save(path)
    return model, path


def _data(rng, n=300):
    # Channels with very different ranges: the per-channel input quantizer must cope.
    return (rng.normal(size=(n, 12, 3)) * [0.05, 1.0, 5.0] + [0.0, 2.0, -1.0]).astype(np.float32)


def _randomize(model, rng) -> None:
    """Keras initializes biases to zero; nonzero biases exercise the bias paths."""
    for layer in model.layers:
        if type(layer).__name__ in ("GRU", "LSTM", "Dense"):
            weights = layer.get_weights()
            if len(weights) > 2 or type(layer).__name__ == "Dense":
                weights[-1] = rng.normal(scale=0.3, size=weights[-1].shape).astype(np.float32)
            layer.set_weights(weights)


def _sqnr(ref, y) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


@pytest.mark.parametrize("stack", ["gru_after", "gru_before", "gru_no_bias_lstm", "lstm_gru_seq"])
def test_gru_float_twin_int8_and_c(stack, tmp_path):
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    keras = import_keras()
    rng = np.random.default_rng(1)
    x = _data(rng)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    L = keras.layers
    body = {
        "gru_after": [L.GRU(16), L.Dense(4)],
        "gru_before": [L.GRU(16, reset_after=False), L.Dense(4)],
        "gru_no_bias_lstm": [L.GRU(12, use_bias=False, return_sequences=True), L.LSTM(8),
                             L.Dense(5, activation="softmax")],
        "lstm_gru_seq": [L.LSTM(10, return_sequences=True), L.GRU(9, reset_after=False, return_sequences=True),
                         L.Dense(3)],
    }[stack]
    model, _ = _save(tmp_path, [norm, *body])
    _randomize(model, rng)
    model.save(tmp_path / "r.keras")
    float_model = load_keras(tmp_path / "r.keras")
    want = model.predict(x, verbose=0)
    got = float_model.run(x)
    if body[-1].get_config()["activation"] == "softmax":  # the float twin stops at logits
        want, got = np.log(want), got - np.log(np.exp(got).sum(-1, keepdims=True))
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)

    q = quantize_model(float_model, x[:200])
    assert "gru" in [layer.kind for layer in q.layers]
    x_q = q.input_quant.quantize(x[200:])
    y_q = run_model(q, x_q)
    logits = float_model.run(x[200:])
    sqnr = _sqnr(logits, dequantize_output(q, y_q))
    assert sqnr > 20.0, f"{stack}: int8 logits SQNR {sqnr:.1f} dB"
    if shutil.which("gcc"):
        np.testing.assert_array_equal(HostModel(q, tmp_path / "c").run(x_q), y_q)


@pytest.mark.parametrize("make_layer, message", [
    (lambda k: k.layers.Bidirectional(k.layers.GRU(4, unroll=True, name="g"), name="bi"),
     "'forward_g' \\(GRU\\): option unroll=True"),
    (lambda k: k.layers.GRU(4, go_backwards=True, name="g"), "'g' \\(GRU\\): option go_backwards=True"),
    (lambda k: k.layers.GRU(4, unroll=True, name="g"), "'g' \\(GRU\\): option unroll=True"),
    (lambda k: k.layers.GRU(4, recurrent_activation="hard_sigmoid", name="g"),
     "'g' \\(GRU\\): option recurrent_activation='hard_sigmoid'"),
    (lambda k: k.layers.GRU(4, activation="relu", name="g"), "'g' \\(GRU\\): option activation='relu'"),
    (lambda k: k.layers.GRU(4, return_state=True, name="g"), "'g' \\(GRU\\): option return_state=True"),
    (lambda k: k.layers.Masking(name="mask"), "'mask' \\(Masking\\): Masking is only supported as the first layer"),
])
def test_refused_gru_options_named(tmp_path, make_layer, message):
    from tinyrnn.quantize.keras_import import load_keras

    keras = import_keras()
    layers = [make_layer(keras)]
    if isinstance(layers[0], keras.layers.Masking):  # accepted first (identity layers aside); refused anywhere else
        layers = [keras.layers.Dense(3), layers[0], keras.layers.GRU(4)]
    if isinstance(layers[0], keras.layers.GRU) and layers[0].return_state:
        _, path = _save_functional(tmp_path, layers[0])
    else:
        _, path = _save(tmp_path, layers + [keras.layers.Dense(2)])
    _assert_refused(load_keras, path, message)


def _save_functional(tmp_path, gru):
    keras = import_keras()
    inp = keras.Input((12, 3))
    out, _state = gru(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(out))
    path = tmp_path / "f.keras"
    model.save(path)
    return model, path


def _assert_refused(load_keras, path, message: str) -> None:
    with pytest.raises(TinyrnnError, match=message) as err:
        load_keras(path)
    assert "\n" not in str(err.value)


def test_refused_stateful_mask_zero_and_custom_activation(tmp_path):
    from tinyrnn.quantize.keras_import import load_keras

    keras = import_keras()
    _, path = _save(tmp_path, [keras.layers.GRU(4, stateful=True, name="g")], batch=2, name="s.keras")
    _assert_refused(load_keras, path, "'g' \\(GRU\\): option stateful=True")

    embedding = keras.layers.Embedding(10, 3, mask_zero=True, name="emb")
    model = keras.Sequential([keras.Input((12,)), embedding, keras.layers.GRU(4)])
    model.save(tmp_path / "e.keras")
    _assert_refused(load_keras, tmp_path / "e.keras", "'emb' \\(Embedding\\): option mask_zero=True")

    @keras.saving.register_keras_serializable(package="tinyrnn_test")
    def scaled_tanh(v):
        return keras.ops.tanh(v) * 0.9

    _, path = _save(tmp_path, [keras.layers.GRU(4, activation=scaled_tanh, name="g")], name="c.keras")
    _assert_refused(load_keras, path, "'g' \\(GRU\\): option activation='tinyrnn_test>scaled_tanh'")
