"""Keras GlobalAveragePooling1D / GlobalMaxPooling1D and Flatten: the float twin equals
Keras predict, int8 tracks float, the generated C equals the golden model (_run, and
_step for the streaming pools), the quantization report's figures for the pool."""

from __future__ import annotations

import numpy as np
import pytest
from keras_chain import check_int8_and_c

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf


def _twin(tmp_path, layers, x):
    """The float twin of Sequential(Normalization adapted on x, *layers), checked against Keras predict."""
    from tinyrnn.quantize.keras_import import load_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input(x.shape[1:]), norm, *layers])
    rng = np.random.default_rng(1)
    for layer in model.layers[1:]:  # Keras zeroes biases: random ones exercise them
        weights = layer.get_weights()
        if weights:
            layer.set_weights([*weights[:-1], rng.normal(scale=0.3, size=weights[-1].shape).astype(np.float32)])
    model.save(tmp_path / "m.keras")
    float_model = load_keras(tmp_path / "m.keras")
    np.testing.assert_allclose(float_model.run(x), model.predict(x, verbose=0), atol=2e-5, rtol=0)
    return float_model


def _data(n=200, steps=16):
    rng = np.random.default_rng(3)
    return (rng.normal(size=(n, steps, 3)) * [0.05, 1.0, 5.0] + [0.0, 2.0, -1.0]).astype(np.float32)


# tests/corpus.py has the others (GRU + max, Flatten, "same"): twin == Keras and host C == golden there.
@pytest.mark.parametrize("stack", ["conv_lstm_average", "conv_same_average"])
def test_twin_int8_and_c(stack, tmp_path):
    from tinyrnn.quantize.pipeline import quantize_model

    L = import_keras().layers
    body = {"conv_lstm_average": [L.Conv1D(8, 3, padding="causal", activation="relu"), L.MaxPooling1D(2),
                                  L.LSTM(8, return_sequences=True), L.GlobalAveragePooling1D(), L.Dense(4)],
            "conv_same_average": [L.Conv1D(8, 4, padding="same", activation="relu"), L.MaxPooling1D(2),
                                  L.Conv1D(6, 3, padding="same", dilation_rate=2), L.LSTM(8, return_sequences=True),
                                  L.GlobalAveragePooling1D(), L.Dense(4)]}[stack]
    x = _data()
    float_model = _twin(tmp_path, body, x)
    q = quantize_model(float_model, x[:150])
    assert [layer.kind for layer in q.layers][-2] == "global_pool1d" and q.whole_window == ("same" in stack)
    check_int8_and_c(float_model, q, x[150:], stack, tmp_path / "c")


def test_report_numbers_for_the_pool(tmp_path):
    """The report counts the head after a global pool once per window and compares the pooled tensor."""
    from tinyrnn.core.golden.global_pool1d_s8 import global_pool1d_s8
    from tinyrnn.core.golden.model import run_model as golden
    from tinyrnn.quantize.pipeline import quantize_model
    from tinyrnn.quantize.report import build_report

    L = import_keras().layers
    x = _data(120)
    float_model = _twin(tmp_path, [L.LSTM(5, return_sequences=True), L.GlobalAveragePooling1D(), L.Dense(3)], x)
    q = quantize_model(float_model, x[:80])
    report = build_report(float_model, q, x, np.random.default_rng(0).integers(0, 3, len(x)), progress=False)
    layers = report["model"]["layers"]
    assert layers[1]["params"] == 0 and layers[2]["runs"] == "once per sequence"
    lstm_only = type(q)(q.name, q.input_size, q.input_quant, q.layers[:1])
    pool = q.layers[1]
    got = (global_pool1d_s8(pool, golden(lstm_only, q.input_quant.quantize(x))).astype(np.int64)
           - pool.input_zero_point) * pool.input_scale
    *_, ref = list(float_model.layer_outputs(x))[:2]
    sqnr = 10 * np.log10(np.sum(ref**2) / np.sum((got - ref) ** 2))
    out = report["fidelity"]["layers"][1]["tensors"][0]
    assert out["tensor"] == "output" and out["sqnr_db"] == pytest.approx(sqnr, rel=1e-9)


def test_flatten_needs_a_fixed_length(tmp_path):
    from tinyrnn.quantize.keras_import import import_model

    keras = import_keras()
    inp = keras.Input((None, 3))
    seq = keras.layers.LSTM(4, return_sequences=True)(inp)
    flat = keras.layers.Flatten(name="flat")
    model = keras.Model(inp, flat(seq))  # no Dense after it: Keras cannot size one on an unknown length
    with pytest.raises(TinyrnnError, match=r"layer 'flat' \(Flatten\): needs a fixed number of time steps") as err:
        import_model(model)
    assert "\n" not in str(err.value)
