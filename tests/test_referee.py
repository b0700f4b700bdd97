"""Keras as referee: break the float twin on purpose, one class of import mistake at a
time, and see `quantize` refuse it naming the layer; the figure reaches eval's output."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import corpus
import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf


def _files(tmp_path, model):
    path, npz = tmp_path / "m.keras", tmp_path / "d.npz"
    model.save(path)
    x, y = corpus.data()
    np.savez(npz, x=x, y=y)
    return str(path), str(npz)


def _quantize(tmp_path, model, output=None):
    from tinyrnn.app.api import quantize_file

    path, npz = _files(tmp_path, model)
    return quantize_file(path, npz, str(tmp_path / "m.tnr"), output=output)


def _refused(tmp_path, model, layer: str, output=None) -> None:
    """``layer``: the name's stem (Keras numbers auto-named layers per process)."""
    with pytest.raises(TinyrnnError, match=rf"layer '{layer}(_\d+)?': float twin differs from Keras by [0-9.e+-]+ ") as err:
        _quantize(tmp_path, model, output)
    assert "\n" not in str(err.value)


def test_dropped_hidden_activation_is_refused(tmp_path, monkeypatch):
    from tinyrnn.quantize import keras_layers

    real = keras_layers.dense
    monkeypatch.setattr(keras_layers, "dense", lambda *a, **k: dataclasses.replace(real(*a, **k), activation="linear"))
    _refused(tmp_path, corpus.build(import_keras(), "dense_relu_hidden"), "dense")


def test_misread_gate_order_is_refused(tmp_path, monkeypatch):
    from tinyrnn.quantize import keras_layers

    real = keras_layers.recurrent

    def swapped(layer, cfg):  # input and forget gate columns exchanged
        twin = real(layer, cfg)
        h = twin.units
        order = np.r_[h : 2 * h, 0:h, 2 * h : 4 * h]
        return dataclasses.replace(twin, kernel=twin.kernel[:, order])

    monkeypatch.setattr(keras_layers, "recurrent", swapped)
    _refused(tmp_path, corpus.build(import_keras(), "lstm_dense"), "lstm")


def test_unfolded_batch_normalization_is_refused(tmp_path, monkeypatch):
    from tinyrnn.quantize import keras_layers

    monkeypatch.setattr(keras_layers, "fold_into_dense", lambda layer, dense: dense)
    # The Dense, its BatchNormalization and Activation are one twin layer, compared at the Activation's output.
    _refused(tmp_path, corpus.build(import_keras(), "batchnorm_after_dense"), "activation")


def test_list_order_instead_of_graph_is_refused(tmp_path, monkeypatch):
    """The bug the graph walk fixes: two equal-width heads chained in model.layers order."""
    from tinyrnn.quantize import keras_graph

    keras = import_keras()
    keras.utils.set_random_seed(0)
    inp = keras.Input((corpus.STEPS, corpus.FEATURES))
    h = keras.layers.GRU(3, name="gru")(inp)
    model = keras.Model(inp, [keras.layers.Dense(3, name="other")(h), keras.layers.Dense(3, name="cls")(h)])
    assert _quantize(tmp_path, model, output="cls")["keras_agreement"]["max_rel_diff"] <= 1e-4  # the graph walk
    monkeypatch.setattr(keras_graph, "chain", lambda m, output=None, where="": list(m.layers)[1:])
    _refused(tmp_path, model, "cls", output="cls")


def test_eval_reports_keras_predict_and_the_stored_agreement(tmp_path):
    """eval of the .keras: Keras's predict; of the artifact: both stored links, the twin's to
    Keras and the int8 model's to the twin (quantize measured it on the calibration windows:
    the same figures as the report's output fidelity, recomputed there layer by layer)."""
    from tinyrnn.app.api import evaluate
    from tinyrnn.core import tnr
    from tinyrnn.quantize.keras_import import import_model
    from tinyrnn.quantize.report import agreement_summary, build_report

    keras = import_keras()
    model = corpus.build(keras, "gru_softmax")
    result = _quantize(tmp_path, model)
    stored = result["keras_agreement"]
    keras_eval = evaluate(str(tmp_path / "m.keras"), str(tmp_path / "d.npz"))
    x, y = corpus.data()
    assert keras_eval["kind"] == "keras"
    assert keras_eval["accuracy"] == float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))
    assert keras_eval["keras_agreement"] == stored  # same windows: the calibration set is the data here
    proc = subprocess.run([sys.executable, "-m", "tinyrnn", "eval", str(tmp_path / "m.tnr"), "--data",
                           str(tmp_path / "d.npz")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"float twin == Keras predict within {stored['max_abs_diff']:.2g}" in proc.stdout
    assert f"on {len(x)} windows" in proc.stdout
    linked = result["float_agreement"]
    output = build_report(import_model(model, "m"), tnr.load(tmp_path / "m.tnr"), x, progress=False)["fidelity"]["output"]
    assert (linked["windows"], linked["bits"]) == (len(x), 8) and 0.5 < linked["decision_agreement"] <= 1.0
    assert linked["sqnr_db"] == pytest.approx(output["sqnr_db"], abs=1e-9) and linked["sqnr_db"] > 15.0
    assert linked["decision_agreement"] == output["argmax_agreement"]
    assert agreement_summary(linked) in proc.stdout and "same decision on" in proc.stdout
