"""Keras Bidirectional import: the float twin equals Keras (referee), the int8 model tracks
the float one, the artifact round-trips, the generated C equals the golden model, and the
options the whole-window kernels cannot honour are refused by name."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinyrnn.core import tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf
STEPS = 10


def _keras(body):
    keras = import_keras()
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((STEPS, 3)), *body])


def _data(n=140):
    return (np.random.default_rng(0).normal(size=(n, STEPS, 3)) * [0.5, 1.0, 2.0]).astype(np.float32)


def _sqnr(ref, y) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


# (name, body): every inner kind and merge mode, both output shapes, stacked and headless.
CASES = {
    "lstm_concat_last": lambda L: [L.Bidirectional(L.LSTM(6)), L.Dense(3)],
    "gru_sum_seq_stacked": lambda L: [L.Bidirectional(L.GRU(5, return_sequences=True), merge_mode="sum"),
                                      L.LSTM(4), L.Dense(2)],
    "relu_rnn_ave_seq": lambda L: [L.Bidirectional(L.SimpleRNN(5, activation="relu", return_sequences=True),
                                                   merge_mode="ave"), L.Dense(3)],
    "lstm_mul_after_gru": lambda L: [L.GRU(4, return_sequences=True),
                                     L.Bidirectional(L.LSTM(5),
                                                     merge_mode="mul")],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bidirectional_twin_int8_and_c(case, tmp_path):
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.quantize import referee
    from tinyrnn.quantize.keras_import import import_model
    from tinyrnn.quantize.pipeline import quantize_model

    keras_model = _keras(CASES[case](import_keras().layers))
    x = _data()
    float_model = import_model(keras_model)
    agreement = referee.check(keras_model, float_model, x)
    assert agreement["max_rel_diff"] <= referee.TOLERANCE
    np.testing.assert_allclose(float_model.run(x), keras_model.predict(x, verbose=0), atol=1e-5, rtol=0)

    q = quantize_model(float_model, x[:100])
    assert "bidirectional" in [layer.kind for layer in q.layers]
    assert [layer.max_steps for layer in q.layers if layer.kind == "bidirectional"] == [STEPS]
    tnr.save(q, tmp_path / "m.tnr")
    loaded = tnr.load(tmp_path / "m.tnr")
    assert loaded.content_hash() == q.content_hash()
    x_q = q.input_quant.quantize(x[100:])
    y_q = run_model(loaded, x_q)
    sqnr = _sqnr(float_model.run(x[100:]), dequantize_output(q, y_q))
    assert sqnr > 15.0, f"{case}: int8 output SQNR {sqnr:.1f} dB"
    if shutil.which("gcc"):
        np.testing.assert_array_equal(HostModel(q, tmp_path / "c").run(x_q), y_q)


@pytest.mark.parametrize("body, message", [
    (lambda L: [L.Bidirectional(L.LSTM(4), merge_mode=None, name="b")],
     "'b' \\(Bidirectional\\): option merge_mode=None"),
    (lambda L: [L.Masking(0.0), L.Bidirectional(L.GRU(4), name="b")], "'b' \\(Bidirectional\\): a Masking layer"),
    (lambda L: [L.Bidirectional(L.LSTM(4, unroll=True, name="f"), name="b")], "option unroll=True"),
    (lambda L: [L.Bidirectional(L.SimpleRNN(4, activation="sigmoid"), name="b")], "option activation='sigmoid'"),
])
def test_refused_bidirectional_options_named(body, message):
    from tinyrnn.quantize.keras_import import import_model

    with pytest.raises(TinyrnnError, match=message):
        import_model(_keras(body(import_keras().layers)))


@pytest.mark.parametrize("arch", ["bilstm", "bigru"])
def test_train_arch_bidirectional_through_quantize_and_c(arch, tmp_path, capsys):
    """`tinyrnn train --arch bilstm|bigru` → quantize (the referee passes) → C == golden."""
    from tinyrnn.app.cli import main
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.train import synthetic

    ds = synthetic.multitone(n=96, timesteps=12, seed=4)
    np.savez(tmp_path / "d.npz", x=ds.x, y=ds.y)
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--arch", arch, "--units", "4", "--epochs", "1",
                 "--out", str(tmp_path / "m.keras")]) == 0
    assert main(["quantize", str(tmp_path / "m.keras"), "--calib", str(tmp_path / "d.npz"), "--calib-samples", "48",
                 "--out", str(tmp_path / "m.tnr")]) == 0, capsys.readouterr().err
    model = tnr.load(tmp_path / "m.tnr")
    assert [layer.kind for layer in model.layers] == ["bidirectional", "dense"]
    assert model.layers[0].forward.kind == arch[2:] and model.layers[0].max_steps == 12
    assert model.meta["keras_agreement"]["max_rel_diff"] <= 1e-4
    x_q = model.input_quant.quantize(ds.x[:6])
    np.testing.assert_array_equal(HostModel(model, tmp_path / "c").run(x_q), run_model(model, x_q))


def test_quantization_report_covers_bidirectional(tmp_path):
    """The report's output SQNR is the golden-vs-twin one computed here; each direction gets its
    own scheme rows and the merge its output tensor."""
    from tinyrnn.quantize import report
    from tinyrnn.quantize.keras_import import import_model
    from tinyrnn.quantize.pipeline import quantize_model

    float_model = import_model(_keras(CASES["gru_sum_seq_stacked"](import_keras().layers)))
    x = _data()
    q = quantize_model(float_model, x[:100])
    r = report.build_report(float_model, q, x[100:], np.arange(40) % 2, progress=False)
    y_q = dequantize_output(q, run_model(q, q.input_quant.quantize(x[100:])))
    assert r["fidelity"]["output"]["sqnr_db"] == pytest.approx(_sqnr(float_model.run(x[100:]), y_q), abs=1e-6)
    name = q.layers[0].name
    assert [s["name"] for s in r["quantization"]["layers"]][:3] == [f"{name}.forward", f"{name}.backward", name]
    assert [s["gates"] for s in r["quantization"]["layers"]][2] == []
    merged = r["fidelity"]["layers"][0]
    assert merged["kind"] == "bidirectional" and [t["tensor"] for t in merged["tensors"]] == ["output"]
    assert merged["tensors"][0]["sqnr_db"] > 15.0
    # 2 directions x 3 GRU gates x 5 units x (3 inputs + 5 units)
    assert r["model"]["layers"][0]["macs"] == 2 * 3 * 5 * 8
    report.write_html(r, tmp_path / "r.html")
    assert f"{name}.backward" in (tmp_path / "r.html").read_text()
