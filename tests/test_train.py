"""tinyrnn.train model building and training (needs TensorFlow; tiny models, few epochs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyrnn import train as D
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.train import synthetic

pytestmark = pytest.mark.tf

tf = pytest.importorskip("tensorflow", reason="TensorFlow not installed (pip install 'tinyrnn[train]')")
from tinyrnn.app.api import train_file  # noqa: E402
from tinyrnn.train import model as M  # noqa: E402
from tinyrnn.train import trainer as T  # noqa: E402


def _layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("legacy", [False, True], ids=["keras3", "tf_keras"])
def test_build_model_structure(legacy):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 12, 4)).astype(np.float32)
    model = M.build_model("lstm", 8, layers=3, input_shape=(12, 4), n_classes=5,
                          normalization_data=x, legacy_keras=legacy)
    assert _layer_kinds(model) == ["InputLayer", "Normalization", "LSTM", "LSTM", "LSTM", "Dense"]
    assert tuple(model.inputs[0].shape) == (None, 12, 4)
    rnns = model.layers[2:5]
    assert [r.return_sequences for r in rnns] == [True, True, False]
    assert all(r.activation.__name__ == "tanh" and not r.unroll for r in rnns)
    assert all(r.recurrent_activation.__name__ == "sigmoid" for r in rnns)
    assert model.layers[-1].activation.__name__ == "softmax"
    assert tuple(model.outputs[0].shape) == (None, 5)
    normed = model.layers[1](x).numpy()
    assert np.allclose(normed.reshape(-1, 4).mean(0), 0, atol=1e-3)
    assert np.allclose(normed.reshape(-1, 4).std(0), 1, atol=1e-2)


def test_build_model_gru_and_identity_normalization():
    model = M.build_model("gru", 4, input_shape=(6, 2), n_classes=3)
    assert _layer_kinds(model) == ["InputLayer", "Normalization", "GRU", "Dense"]
    x = np.arange(12, dtype=np.float32).reshape(1, 6, 2)
    assert np.allclose(model.layers[1](x).numpy(), x, atol=1e-5)


@pytest.mark.parametrize("kwargs,message", [
    ({"arch": "cnn"}, "architecture"),
    ({"layers": 4}, "layers must be 1..3"),
    ({"units": 0}, "units"),
    ({"n_classes": 1}, "at least 2 classes"),
    ({"input_shape": (5,)}, "input shape"),
    ({"normalization_data": np.zeros((3, 6, 7))}, "normalization data"),
])
def test_build_model_bad_arguments(kwargs, message):
    args = {"arch": "lstm", "units": 4, "input_shape": (6, 2), "n_classes": 3, **kwargs}
    with pytest.raises(TinyrnnError, match=message):
        M.build_model(**args)


def test_training_is_deterministic_and_saved_atomically(tmp_path, capsys):
    import keras
    ds = synthetic.multitone(n=160, timesteps=24, seed=2)
    results = []
    for i in range(2):
        results.append(T.train(ds, "gru", 6, layers=2, epochs=2, seed=11, batch_size=32,
                               out_path=tmp_path / f"m{i}.keras", progress=(i == 0)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m0.keras", "m1.keras"]
    weights = [keras.saving.load_model(tmp_path / f"m{i}.keras").get_weights() for i in range(2)]
    assert len(weights[0]) == len(weights[1]) > 0
    assert all(a.tobytes() == b.tobytes() for a, b in zip(*weights))
    r = json.loads(json.dumps(results[0]))
    assert [h["val_loss"] for h in r["history"]] == [h["val_loss"] for h in results[1]["history"]]
    assert (r["n_train"], r["n_val"], r["seed"], r["arch"]) == (128, 32, 11, "gru")
    assert r["keras_version"].startswith("3.") and r["params"] > 0
    assert r["input_shape"] == [24, 3] and 1 <= r["best_epoch"] <= r["epochs_run"] <= 2
    assert 0.0 <= r["val_accuracy"] <= 1.0 and r["out_path"].endswith("m0.keras")
    err = capsys.readouterr().err   # not a TTY under pytest: plain lines on stderr
    assert "epoch 1/2" in err and "epoch 2/2" in err and "saved" in err


def test_legacy_keras_training(tmp_path):
    import tf_keras
    ds = synthetic.delayed_recall(n=96, timesteps=12, seed=0)
    r = T.train(ds, "lstm", 4, epochs=1, seed=0, batch_size=32, legacy_keras=True,
                out_path=tmp_path / "legacy.keras", progress=False)
    assert r["keras_version"].startswith("2.") and r["legacy_keras"] is True
    model = tf_keras.models.load_model(tmp_path / "legacy.keras")
    assert _layer_kinds(model) == ["InputLayer", "Normalization", "LSTM", "Dense"]


def test_early_stopping_restores_best(tmp_path):
    ds = synthetic.multitone(n=128, timesteps=24, seed=4)
    tr, va = D.split(ds, 0.25, seed=0)
    model, info = T.train_model(tr, va, "lstm", 4, epochs=6, seed=0, batch_size=32,
                                progress=False, patience=1, learning_rate=0.05)
    best = min(h["val_loss"] for h in info["history"])
    assert info["history"][info["best_epoch"] - 1]["val_loss"] == best
    assert info["val_loss"] == pytest.approx(best, rel=1e-4, abs=1e-5)


def test_train_errors(tmp_path):
    ds = synthetic.multitone(n=40, timesteps=16, seed=0)
    with pytest.raises(TinyrnnError, match=r"\.keras"):
        T.train(ds, "lstm", 4, epochs=1, out_path=tmp_path / "m.h5", progress=False)
    other = synthetic.multitone(n=40, timesteps=20, seed=0)
    with pytest.raises(TinyrnnError, match="differ in shape"):
        T.train_model(ds, other, "lstm", 4, epochs=1, progress=False)


@pytest.mark.parametrize("name", ["delayed_recall", "multitone"])
def test_small_lstm_beats_chance_on_memory_task(name):
    ds = synthetic.generate(name, n=2000, seed=0)
    tr, va = D.split(ds, 0.2, seed=0)
    _, info = T.train_model(tr, va, "lstm", 16, epochs=5, seed=0, batch_size=32,
                            progress=False, learning_rate=5e-3)
    chance = 1.0 / ds.n_classes
    assert info["val_accuracy"] > chance + 0.25, info["history"]


# ----------------------------------------------------------------------------- stacks

@pytest.mark.parametrize("arch,layers,kinds", [
    ("lstm", None, ["lstm"]), ("gru", 2, ["gru", "gru"]), ("lstm,gru", None, ["lstm", "gru"]),
    ("GRU, lstm", 2, ["gru", "lstm"]), (["lstm", "lstm", "gru"], None, ["lstm", "lstm", "gru"]),
    ("conv-lstm", None, ["conv-lstm"]), ("conv-gru", 2, ["conv-gru", "gru"]),
    ("conv-gru,lstm", None, ["conv-gru", "lstm"]),
])
def test_resolve_archs(arch, layers, kinds):
    assert M.resolve_archs(arch, layers) == kinds


@pytest.mark.parametrize("arch,layers,message", [
    ("lstm,gru", 3, "lists 2 layers but layers is 3"), ("lstm,tcn", None, "comma list"),
    ("", None, "architecture"), ("gru", 0, "layers must be 1..3"), ("lstm,gru,gru,lstm", None, "1..3"),
    ("lstm,conv-gru", None, "conv-lstm: a Conv1D front end first"), ("conv-tcn", None, "architecture"),
])
def test_resolve_archs_errors(arch, layers, message):
    with pytest.raises(TinyrnnError, match=message):
        M.resolve_archs(arch, layers)


def test_mixed_stack_builds_and_quantizes(tmp_path):
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    ds = synthetic.multitone(n=64, timesteps=10, seed=0)
    model = M.build_model("lstm,gru", 5, None, (10, 3), 4, normalization_data=ds.x)
    assert [layer.name for layer in model.layers[2:]] == ["lstm_0", "gru_1", "head"]
    assert [layer.return_sequences for layer in model.layers[2:4]] == [True, False]
    path = T.save_model(model, tmp_path / "mixed.keras")
    q = quantize_model(load_keras(path), ds.x)
    assert [layer.kind for layer in q.layers] == ["lstm", "gru", "dense"]


def test_conv_front_trains_quantizes_streams_and_refuses_qat(tmp_path):
    """conv-gru: Conv1D(16, 5, causal, relu) + MaxPooling1D(2) + GRU; its int8 C streams (host _step == golden)."""
    import shutil

    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.core.golden.model import run_steps
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    ds = synthetic.multitone(n=64, timesteps=10, seed=0)
    model = M.build_model("conv-gru", 6, None, (10, 3), 4, normalization_data=ds.x)
    assert [type(la).__name__ for la in model.layers[2:]] == ["Conv1D", "MaxPooling1D", "GRU", "Dense"]
    assert model.layers[2].get_config()["padding"] == "causal" and model.layers[2].filters == 16
    result = train_file(ds, "conv-lstm", 4, epochs=1, out_path=tmp_path / "c.keras", progress=False)
    assert result["archs"] == ["conv-lstm"] and (tmp_path / "c.keras").is_file()
    q = quantize_model(load_keras(tmp_path / "c.keras"), ds.x)
    assert [la.kind for la in q.layers] == ["conv1d", "pool1d", "lstm", "dense"] and q.front_timing == (1, 2)
    if shutil.which("gcc"):
        x_q = q.input_quant.quantize(ds.x[:6])
        np.testing.assert_array_equal(HostModel(q, tmp_path / "host").step(x_q), run_steps(q, x_q))
    with pytest.raises(TinyrnnError, match="--qat does not support the Conv1D front end"):
        train_file(ds, "conv-gru", 4, out_path=tmp_path / "q.keras", qat=True, progress=False)


def test_simple_rnn_stack_builds_quantizes_and_refuses_qat(tmp_path):
    from tinyrnn.app.api import train_file
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    ds = synthetic.multitone(n=64, timesteps=10, seed=0)
    model = M.build_model("rnn,rnn_relu,lstm", 5, None, (10, 3), 4, normalization_data=ds.x)
    assert [type(layer).__name__ for layer in model.layers[2:]] == ["SimpleRNN", "SimpleRNN", "LSTM", "Dense"]
    assert [la.get_config()["activation"] for la in model.layers[2:4]] == ["tanh", "relu"]
    q = quantize_model(load_keras(T.save_model(model, tmp_path / "r.keras")), ds.x)
    assert [la.kind for la in q.layers] == ["rnn", "rnn", "lstm", "dense"]
    assert [q.layers[0].activation, q.layers[1].activation] == ["tanh", "relu"]
    with pytest.raises(TinyrnnError, match="--qat does not support SimpleRNN"):
        train_file(ds, "rnn", 4, out_path=tmp_path / "q.keras", qat=True, progress=False)


# ----------------------------------------------------------------------------- CLI

def _cli(argv, capsys):
    from tinyrnn.app.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_train_json_lists_history_and_validation(tmp_path, capsys):
    out_path = tmp_path / "m.keras"
    code, out, err = _cli(["train", "--data", "synthetic:delayed_recall", "--n", "80", "--arch", "gru,lstm",
                           "--units", "3", "--epochs", "2", "--seed", "3", "--out", str(out_path), "--json"], capsys)
    assert code == 0, err
    r = json.loads(out)  # exactly one JSON object on stdout
    assert out.count("\n") == 1 and out_path.is_file()
    assert (r["arch"], r["archs"], r["layers"], r["seed"]) == ("gru,lstm", ["gru", "lstm"], 2, 3)
    assert [h["epoch"] for h in r["history"]] == list(range(1, r["epochs_run"] + 1))
    assert all("val_accuracy" in h and "val_loss" in h for h in r["history"])
    assert 0.0 <= r["val_accuracy"] <= 1.0 and r["n_val"] > 0 and "qat" not in r
    code, out, err = _cli(["train", "--data", "synthetic:delayed_recall", "--n", "60", "--units", "4",
                           "--epochs", "1", "--out", str(tmp_path / "h.keras")], capsys)
    # The result is on stdout (text without --json), the per-epoch progress on stderr.
    assert code == 0 and out.startswith("trained lstm(4)x1 →") and "val accuracy" in out and "epoch 1/1" in err


@pytest.mark.parametrize("argv,message", [
    (["--arch", "lstm", "--export-tflite"], "needs --legacy-keras"),
    (["--arch", "gru", "--export-tflite", "x.tfl"], "must end in .tflite"),
    (["--arch", "lstm,gru", "--layers", "3"], "lists 2 layers"),
    (["--arch", "transformer"], "architecture must be one of"),
    (["--qat", "--qat-epochs", "0"], "QAT needs at least 1 epoch"),
])
def test_cli_train_refuses_before_training(argv, message, tmp_path, capsys):
    code, out, err = _cli(["train", "--data", "synthetic:multitone", "--n", "40", "--epochs", "1",
                           "--out", str(tmp_path / "m.keras"), *argv], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err
    assert err.startswith("tinyrnn: error: ") and not (tmp_path / "m.keras").exists()


@pytest.mark.slow
def test_export_tflite_legacy_lstm(tmp_path):
    ds = synthetic.multitone(n=60, timesteps=8, seed=0)
    r = train_file(ds, "lstm", 4, epochs=1, seed=0, batch_size=32, legacy_keras=True, progress=False,
                   out_path=tmp_path / "l.keras", export_tflite=True)
    assert r["tflite_path"] == str(tmp_path / "l.tflite") and r["tflite_bytes"] > 0
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in r["tflite_ops"] and r["tflite_importable"] is True
    assert 0.0 <= r["tflite_val_accuracy"] <= 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.keras", "l.tflite"]  # no temp files left


@pytest.mark.slow
def test_export_tflite_gru_converter_crash_is_one_clean_line(tmp_path):
    """TF 2.21's converter segfaults on a GRU: reported in one line, the .keras model kept."""
    ds = synthetic.multitone(n=60, timesteps=8, seed=0)
    with pytest.raises(TinyrnnError, match=r"crashed \(segmentation fault\).*GRU.*saved as") as err:
        train_file(ds, "gru", 4, epochs=1, seed=0, batch_size=32, legacy_keras=True, progress=False,
                   out_path=tmp_path / "g.keras", export_tflite=str(tmp_path / "g.tflite"))
    assert "\n" not in str(err.value) and (tmp_path / "g.keras").is_file()
    assert not (tmp_path / "g.tflite").exists()
