"""Keras SimpleRNN import: the float twin equals Keras, int8 tracks float, the generated C
equals the golden model, and the options the kernel cannot honour are refused by name."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf


def _save(tmp_path, layers, name="m.keras"):
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12, 3)), *layers])
    model.save(tmp_path / name)
    return model, tmp_path / name


def _data(rng, n=300):
    return (rng.normal(size=(n, 12, 3)) * [0.05, 1.0, 5.0] + [0.0, 2.0, -1.0]).astype(np.float32)


def _randomize(model, rng) -> None:
    """Nonzero biases (Keras starts at zero); relu layers get a smaller recurrent kernel so
    the state neither dies nor explodes over 12 steps."""
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ in ("SimpleRNN", "LSTM", "Dense") and weights:
            if type(layer).__name__ == "SimpleRNN" and layer.get_config()["activation"] == "relu":
                weights[1] = weights[1] * 0.5
            weights[-1] = rng.normal(scale=0.3, size=weights[-1].shape).astype(np.float32)
            layer.set_weights(weights)


def _sqnr(ref, y) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


@pytest.mark.parametrize("stack", ["tanh", "relu_seq", "tanh_no_bias_lstm", "relu_tanh"])
def test_simple_rnn_float_twin_int8_and_c(stack, tmp_path):
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    keras = import_keras()
    rng = np.random.default_rng(3)
    x = _data(rng)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    L = keras.layers
    body = {
        "tanh": [L.SimpleRNN(16), L.Dense(4)],
        "relu_seq": [L.SimpleRNN(12, activation="relu", return_sequences=True), L.Dense(3)],
        "tanh_no_bias_lstm": [L.SimpleRNN(10, use_bias=False, return_sequences=True), L.LSTM(8),
                              L.Dense(5, activation="softmax")],
        "relu_tanh": [L.SimpleRNN(9, activation="relu", return_sequences=True), L.SimpleRNN(11), L.Dense(3)],
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
    assert "rnn" in [layer.kind for layer in q.layers]
    x_q = q.input_quant.quantize(x[200:])
    y_q = run_model(q, x_q)
    sqnr = _sqnr(float_model.run(x[200:]), dequantize_output(q, y_q))
    assert sqnr > 20.0, f"{stack}: int8 logits SQNR {sqnr:.1f} dB"
    if shutil.which("gcc"):
        np.testing.assert_array_equal(HostModel(q, tmp_path / "c").run(x_q), y_q)


@pytest.mark.parametrize("make_layer, message", [
    (lambda k: k.layers.SimpleRNN(4, activation="sigmoid", name="r"), "'r' \\(SimpleRNN\\): option activation='sigmoid'"),
    (lambda k: k.layers.SimpleRNN(4, go_backwards=True, name="r"), "'r' \\(SimpleRNN\\): option go_backwards=True"),
    (lambda k: k.layers.SimpleRNN(4, activation="relu", unroll=True, name="r"), "'r' \\(SimpleRNN\\): option unroll=True"),
])
def test_refused_simple_rnn_options_named(tmp_path, make_layer, message):
    from tinyrnn.quantize.keras_import import load_keras

    _, path = _save(tmp_path, [make_layer(import_keras()), import_keras().layers.Dense(2)])
    with pytest.raises(TinyrnnError, match=message) as err:
        load_keras(path)
    assert "\n" not in str(err.value)


def test_report_numbers_for_tanh_and_relu_layers(tmp_path):
    """The quantization report on SimpleRNN layers: every figure recomputed here from the
    golden probes and the float traces."""
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model
    from tinyrnn.quantize.report import build_report

    keras = import_keras()
    rng = np.random.default_rng(4)
    x = _data(rng, 120)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    L = keras.layers
    model, _ = _save(tmp_path, [norm, L.SimpleRNN(10, activation="relu", return_sequences=True), L.SimpleRNN(6),
                                L.Dense(3, activation="softmax")])
    _randomize(model, rng)
    model.save(tmp_path / "r.keras")
    float_model = load_keras(tmp_path / "r.keras")
    q = quantize_model(float_model, x[:80])
    y = rng.integers(0, 3, len(x))
    report = build_report(float_model, q, x, y, progress=False)
    probes, traces = [], []
    run_model(q, q.input_quant.quantize(x), probes)
    float_model.run(x, traces)

    def find(layer, tensor):
        return next(t for t in report["fidelity"]["layers"][layer]["tensors"] if t["tensor"] == tensor)

    def sqnr(ref, got):
        return 10 * np.log10(np.sum(ref**2) / np.sum((got - ref) ** 2))

    relu = q.layers[0]
    pre0 = np.stack(probes[0]["pre_activation"], 1) * relu.hidden_scale / 64
    assert find(0, "pre_activation")["sqnr_db"] == pytest.approx(sqnr(np.stack(traces[0]["gates"], 1), pre0), rel=1e-9)
    h0 = (np.stack(probes[0]["hidden"], 1) - relu.hidden_zero_point) * relu.hidden_scale
    assert find(0, "hidden")["sqnr_db"] == pytest.approx(sqnr(np.stack(traces[0]["hidden"], 1), h0), rel=1e-9)
    assert find(0, "hidden")["saturated"] == np.count_nonzero(np.stack(probes[0]["hidden"], 1) == 127)  # not at zp
    h1 = np.stack(probes[1]["hidden"], 1) / 128
    assert find(1, "hidden")["sqnr_db"] == pytest.approx(sqnr(np.stack(traces[1]["hidden"], 1), h1), rel=1e-9)
    rows = report["quantization"]["layers"][1]["gates"]
    assert [(r["gate"], r["path"]) for r in rows] == [("pre_activation", "x"), ("pre_activation", "h")]
    w_h = float_model.layers[1].recurrent_kernel
    assert rows[1]["weight_scale"] == pytest.approx(np.abs(w_h).max() / 127, rel=1e-6)
    assert report["model"]["layers"][0]["macs"] == 10 * (3 + 10)
    assert report["model"]["totals"]["params"] == sum(la.count_params() for la in model.layers[1:])
    from tinyrnn.quantize.report_html import render_html

    assert "pre-activation (a)" in render_html(report, plots=True)


def test_dead_relu_layer_quantizes_to_exact_c(tmp_path):
    """A relu SimpleRNN whose state is 0 on all calibration data (bias far negative) still
    gets a usable grid: the generated C equals the golden model and the state stays 0."""
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.quantize.float_model import FloatDense, FloatModel, FloatSimpleRNN
    from tinyrnn.quantize.pipeline import quantize_model

    rng = np.random.default_rng(0)
    rnn = FloatSimpleRNN("dead", rng.normal(size=(3, 5)) * 0.1, rng.normal(size=(5, 5)) * 0.1, np.full(5, -50.0),
                         "relu", True)
    model = FloatModel("m", (12, 3), np.zeros(3), np.ones(3),
                       [rnn, FloatDense("d", rng.normal(size=(5, 2)), np.array([0.5, -0.5]), "linear")])
    x = _data(rng, 60)
    q = quantize_model(model, x)
    x_q = q.input_quant.quantize(x)
    y_q = run_model(q, x_q)
    assert np.all(run_model(dataclasses.replace(q, layers=q.layers[:1]), x_q) == q.layers[0].hidden_zero_point)
    if shutil.which("gcc"):
        np.testing.assert_array_equal(HostModel(q, tmp_path).run(x_q), y_q)
