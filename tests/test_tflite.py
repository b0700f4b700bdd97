"""TFLite import: a tf_keras LSTM converted to int8 comes in as it is, and agrees with LiteRT.

Conversions run in subprocesses: tf_keras needs TF_USE_LEGACY_KERAS=1 before TensorFlow is
imported, and the converter may crash the process outright.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError

pytestmark = pytest.mark.tf

STEPS, FEATURES, CLASSES = 12, 3, 4
# Channel ranges differ 100x, as in real sensor data; the label needs the smallest channel.
CHANNEL_STD = np.array([0.05, 1.0, 5.0])
CHANNEL_MEAN = np.array([0.0, 2.0, -1.0])

_CONVERT = r"""
import sys, numpy as np
from tinyrnn.tfsupport import import_keras
legacy = sys.argv[1] == "tf_keras"
keras = import_keras(legacy=legacy)
import tensorflow as tf
data = np.load(sys.argv[2])
x, y = data["x"], data["y"]
keras.utils.set_random_seed(0)
norm = keras.layers.Normalization()
norm.adapt(x)
model = keras.Sequential([keras.Input(x.shape[1:]), norm, keras.layers.LSTM(8),
                          keras.layers.Dense(int(y.max()) + 1, activation="softmax")])
if legacy:
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
fn = tf.function(lambda t: model(t))
spec = tf.TensorSpec((1,) + x.shape[1:], tf.float32)
conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function(spec)], model)
if legacy:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(32))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
open(sys.argv[3], "wb").write(conv.convert())
np.save(sys.argv[3] + ".float.npy", model.predict(data["x_test"], verbose=0))
"""


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, STEPS, FEATURES)) * CHANNEL_STD + CHANNEL_MEAN
    xn = (x - CHANNEL_MEAN) / CHANNEL_STD
    y = 2 * (xn[:, :, 0].mean(1) > 0) + (xn[:, :, 1].mean(1) > 0)
    return x.astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Both conversions in parallel: tf_keras int8 (fused LSTM) and Keras 3 float (WHILE loop)."""
    tmp = tmp_path_factory.mktemp("tflite")
    x, y = _data(512, 0)
    x_test, y_test = _data(300, 1)
    np.savez(tmp / "data.npz", x=x, y=y, x_test=x_test)
    procs = {
        kind: subprocess.Popen([sys.executable, "-c", _CONVERT, kind, str(tmp / "data.npz"), str(tmp / f"{kind}.tflite")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        for kind in ("tf_keras", "keras3")
    }
    for kind, proc in procs.items():
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{kind} conversion failed ({proc.returncode}):\n{out[-3000:]}"
    return {"dir": tmp, "x_test": x_test, "y_test": y_test, "float": np.load(tmp / "tf_keras.tflite.float.npy")}


def test_fused_lstm_imports_with_parameters_as_in_the_file(converted, tmp_path):
    from tinyrnn.core import tnr
    from tinyrnn.quantize.tflite_import import load_tflite

    model = load_tflite(converted["dir"] / "tf_keras.tflite")
    assert [layer.kind for layer in model.layers] == ["lstm", "dense"]
    lstm, dense = model.layers
    assert not lstm.return_sequences and dense.activation == "softmax"
    assert lstm.w_x.dtype == np.int8 and lstm.bias.dtype == np.int32 and lstm.w_x.shape == (4, 8, FEATURES)
    assert 2.0**lstm.cell_scale_power <= 1.0
    # The Normalization became per-channel input quantization: scale ∝ channel std.
    ratio = model.input_quant.scale / CHANNEL_STD
    np.testing.assert_allclose(ratio / ratio.mean(), 1.0, rtol=0.15)
    np.testing.assert_allclose(model.input_quant.offset, CHANNEL_MEAN, atol=0.2)
    assert model.meta["tflite"]["ops"][:4] == ["QUANTIZE", "SUB", "MUL", "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    digest = tnr.save(model, tmp_path / "m.tinyrnn")
    assert tnr.load(tmp_path / "m.tinyrnn").content_hash() == digest


def test_golden_agrees_with_litert_on_the_same_int8_inputs(converted):
    from tinyrnn.quantize.litert import compare_with_litert
    from tinyrnn.quantize.tflite_import import load_tflite

    path = converted["dir"] / "tf_keras.tflite"
    report = compare_with_litert(path, load_tflite(path), converted["x_test"])
    kernel = report["kernel"]
    # Measured on 300 windows, 3 seeds: logits max 1-2 LSB apart, 91-93 % identical bytes,
    # argmax 100 %; first LSTM's hidden states max 1-2 LSB, 96 % identical. Desktop TFLite's
    # integer LSTM is not TFLM's: gemmlowp sigmoid/tanh instead of the LUT, and the cell
    # products rounded by shifts instead of multipliers, so last-bit differences appear
    # in the cell and hidden state and reach the logits as one or two LSB. (Over 128 steps
    # a few trajectories drift further apart: see results/har_accuracy.md; 12 steps here.)
    assert kernel["max_abs_diff_lsb"] <= 2, report
    assert kernel["identical_bytes"] >= 0.85, report
    assert kernel["argmax_agreement"] >= 0.97, report
    assert report["hidden"]["max_abs_diff_lsb"] <= 3, report
    # Ours quantizes each float channel on its own; TFLite quantizes the raw input per
    # tensor before SUB/MUL, which flattens the 0.05-range channel the label depends on.
    y = converted["y_test"]
    ours = np.mean(report["golden_pred"] == y)
    theirs = np.mean(report["litert_pred"] == y)
    float_acc = np.mean(np.argmax(converted["float"], -1) == y)
    assert ours >= theirs and ours >= float_acc - 0.05, (ours, theirs, float_acc)


def test_while_loop_model_is_refused_with_the_reason(converted):
    from tinyrnn.quantize.tflite_import import load_tflite

    with pytest.raises(TinyrnnError, match=r"keras3\.tflite: op WHILE .*Keras 3.*tf_keras.*UNIDIRECTIONAL_SEQUENCE_LSTM"):
        load_tflite(converted["dir"] / "keras3.tflite")


def _mutated(src, dst, mutate):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    mutate(model, schema)
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.write_bytes(bytes(builder.Output()))
    return dst


def _op(model, schema, name):
    code = getattr(schema.BuiltinOperator, name)
    ops = model.subgraphs[0].operators
    return next(op for op in ops if model.operatorCodes[op.opcodeIndex].builtinCode == code)


def _relu6(model, schema):
    _op(model, schema, "FULLY_CONNECTED").builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU6


def _softmax_to_tanh(model, schema):
    for code in model.operatorCodes:
        if code.builtinCode == schema.BuiltinOperator.SOFTMAX:
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.TANH


def _time_major(model, schema):
    _op(model, schema, "UNIDIRECTIONAL_SEQUENCE_LSTM").builtinOptions.timeMajor = True


def _peephole(model, schema):
    op = _op(model, schema, "UNIDIRECTIONAL_SEQUENCE_LSTM")
    op.inputs = [int(i) for i in op.inputs]
    op.inputs[9] = op.inputs[1]  # a cell-to-input weight tensor


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_relu6, r"op 5 FULLY_CONNECTED: option fused_activation_function=RELU6"),
        (_softmax_to_tanh, r"op 6 TANH: unsupported op"),
        (_time_major, r"op \d+ UNIDIRECTIONAL_SEQUENCE_LSTM: option timeMajor=True"),
        (_peephole, r"op \d+ UNIDIRECTIONAL_SEQUENCE_LSTM: peephole LSTM is not supported"),
    ],
)
def test_unsupported_ops_and_options_are_named(converted, tmp_path, mutate, message):
    from tinyrnn.quantize.tflite_import import load_tflite

    path = _mutated(converted["dir"] / "tf_keras.tflite", tmp_path / "bad.tflite", mutate)
    with pytest.raises(TinyrnnError, match=r"bad\.tflite: " + message):
        load_tflite(path)


@pytest.mark.parametrize("cut", ["empty", "header", "half", "garbage"])
def test_corrupt_or_truncated_file_is_one_line_naming_it(converted, tmp_path, cut):
    from tinyrnn.quantize.tflite_import import load_tflite

    data = (converted["dir"] / "tf_keras.tflite").read_bytes()
    damaged = {"empty": b"", "header": data[:64], "half": data[: len(data) // 2],
               "garbage": data[:8] + bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))}[cut]  # fmt: skip
    path = tmp_path / "damaged.tflite"
    path.write_bytes(damaged)
    with pytest.raises(TinyrnnError, match=r"damaged\.tflite: ") as err:
        load_tflite(path)
    assert "\n" not in str(err.value)
    with pytest.raises(TinyrnnError, match=r"missing\.tflite: no such"):
        load_tflite(tmp_path / "missing.tflite")


@pytest.mark.qemu
def test_converter_made_tflite_runs_on_qemu_bit_exact_with_golden(converted, tmp_path):
    """The whole chain for a TFLite user: converter .tflite → quantize → C → QEMU, every byte."""
    from test_cli import run_json

    np.savez(tmp_path / "test.npz", x=converted["x_test"][:20], y=converted["y_test"][:20])
    q = run_json("quantize", converted["dir"] / "tf_keras.tflite", "--out", tmp_path / "m.tnr")
    assert q["layers"] == ["lstm", "dense"]
    r = run_json("verify", "--model", tmp_path / "m.tnr", "--target", "qemu:mps2-an386", "--data", tmp_path / "test.npz", "--n", 20)
    assert r["verified"] is True and r["sequences"] == 20 and r["mismatches"] == 0
