"""tinyrnn.train model building and training (needs TensorFlow; tiny models, few epochs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyrnn.errors import TinyrnnError
from tinyrnn.train import datasets as D
from tinyrnn.train import synthetic

pytestmark = pytest.mark.tf

tf = pytest.importorskip("tensorflow", reason="TensorFlow not installed (pip install 'tinyrnn[train]')")
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
    ({"arch": "rnn"}, "architecture"),
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
