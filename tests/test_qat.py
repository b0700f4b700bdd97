"""Quantization-aware fine-tuning: the fake-quantized twin computes what the int8 golden
model computes, gradients pass straight through, and fine-tuning hands back a plain model."""

from __future__ import annotations

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.train import synthetic

pytestmark = pytest.mark.tf

tf = pytest.importorskip("tensorflow", reason="TensorFlow not installed (pip install 'tinyrnn[train]')")
from tinyrnn.core.golden.model import dequantize_output, run_model  # noqa: E402
from tinyrnn.quantize import qat  # noqa: E402
from tinyrnn.quantize.qat_finetune import calibration_windows, finetune, qat_helps  # noqa: E402
from tinyrnn.train.model import build_model  # noqa: E402


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _random_model(arch, units=8, steps=12, features=3, classes=4, seed=0):
    """An untrained build_model model with lively weights (non-zero biases, larger recurrent weights)."""
    from tinyrnn.tfsupport import import_keras

    import_keras().utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(200, steps, features)) * [0.1, 1.0, 4.0] + [0.0, 1.0, -2.0]).astype(np.float32)
    model = build_model(arch, units, None, (steps, features), classes, normalization_data=x)
    for layer in model.layers:
        if type(layer).__name__ in ("LSTM", "GRU", "Dense"):
            w = layer.get_weights()
            w = [v * 2.0 for v in w[:-1]] + [rng.normal(scale=0.5, size=w[-1].shape).astype(np.float32)]
            layer.set_weights(w)
    return model, x


def _golden_hidden(ir_layer, probe) -> tuple[np.ndarray, float]:
    """A recurrent layer's output sequence from the golden model, in real units, and its grid step."""
    from tinyrnn.core.golden.gru_s8 import hidden_s8

    h = np.stack(probe["hidden"], 1).astype(np.int64)
    if ir_layer.kind == "gru":
        return hidden_s8(h) / 128.0, 1.0 / 128.0
    return (h - ir_layer.hidden_zero_point) * ir_layer.hidden_scale, ir_layer.hidden_scale


@pytest.mark.parametrize("arch", ["lstm,gru", "gru,lstm"])
def test_fake_quantized_twin_tracks_the_golden_model(arch):
    """Every hidden state of both layers within one int8 step of the golden model's, most equal."""
    from tinyrnn.tfsupport import import_keras

    keras = import_keras()
    model, x = _random_model(arch)
    calib, test = x[:100], x[100:]
    ir_model = qat.quantize_in_memory(model, calib)
    twin, pairs, quant_in = qat.build_qat_model(model)
    qat.assign_scales(pairs, quant_in, ir_model)
    probes: list = []
    y_int = run_model(ir_model, ir_model.input_quant.quantize(test), probes)
    outputs = keras.Model(twin.inputs, [pairs[0][1].output, pairs[1][1].output, twin.output]).predict(test, verbose=0)
    for k, got in enumerate(outputs[:2]):
        want, step = _golden_hidden(ir_model.layers[k], probes[k])
        steps_off = np.abs((want if got.ndim == 3 else want[:, -1]) - got) / step
        assert np.mean(steps_off < 0.5) >= 0.8 and np.mean(steps_off < 1.5) >= 0.99 and steps_off.max() <= 3
    golden = _log_softmax(dequantize_output(ir_model, y_int))
    fake = np.log(np.maximum(outputs[2], 1e-30))
    assert np.mean(fake.argmax(-1) == golden.argmax(-1)) >= 0.97
    int8_step = ir_model.output_scale * (256 if ir_model.output_bits == 16 else 1)  # the grid an int8 head would have
    assert np.abs(fake - golden).mean() < int8_step  # within one int8 logit step on average


def test_weight_grid_is_the_quantizers():
    from tinyrnn.quantize.layers import symmetric_weights

    w = np.random.default_rng(3).normal(size=(5, 4 * 6)).astype(np.float32)
    got, scales = qat.per_gate_weights(tf.constant(w), 4)
    for g in range(4):
        q, s = symmetric_weights(w[:, g * 6:(g + 1) * 6])
        np.testing.assert_allclose(got.numpy()[:, g * 6:(g + 1) * 6], q * s, rtol=1e-6)
        assert scales.numpy()[g] == pytest.approx(float(s), rel=1e-6)


def test_straight_through_gradients():
    x = tf.Variable(np.array([-9.0, -0.3, 0.001, 2.7, 9.0], np.float32))
    with tf.GradientTape(persistent=True) as tape:
        on = qat.on_grid(x, 0.5, -4.0, 4.0)
        gate = qat.q312(x)
        logits = qat.on_grid_passthrough(x, 0.5, -4.0, 4.0)
    np.testing.assert_allclose(on.numpy(), [-4.0, -0.5, 0.0, 2.5, 4.0])
    np.testing.assert_array_equal(tape.gradient(on, x).numpy(), [0, 1, 1, 1, 0])  # clipped outside
    assert np.all(gate.numpy() * 4096 == np.round(gate.numpy() * 4096)) and gate.numpy().max() == 8 - 2**-12
    np.testing.assert_array_equal(tape.gradient(logits, x).numpy(), [1, 1, 1, 1, 1])  # value clipped only


def test_keep_rule():
    assert qat_helps({"accuracy": 0.8, "loss": 0.5}, {"accuracy": 0.81, "loss": 0.9})
    assert qat_helps({"accuracy": 0.8, "loss": 0.5}, {"accuracy": 0.8, "loss": 0.4})
    assert not qat_helps({"accuracy": 0.8, "loss": 0.5}, {"accuracy": 0.8, "loss": 0.5})
    assert not qat_helps({"accuracy": 0.8, "loss": 0.5}, {"accuracy": 0.79, "loss": 0.1})


@pytest.fixture(scope="module")
def tiny_task():
    from tinyrnn.train.data import split

    ds = synthetic.multitone(n=120, timesteps=12, seed=1)
    return split(ds, 0.25, seed=0)


def _weights_equal(a, b):
    return all(x.tobytes() == y.tobytes() for x, y in zip(a, b))


def test_finetune_recalibrates_and_hands_back_a_plain_model(tiny_task, tmp_path):
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.train.trainer import save_model, train_model

    fit, val = tiny_task
    model, _ = train_model(fit, val, "gru", 6, epochs=1, seed=0, batch_size=32, progress=False)
    start = model.get_weights()
    model, info = finetune(model, fit, val, epochs=2, seed=0, progress=False, keep="always", learning_rate=1e-2)
    assert info["kept"] is True and not _weights_equal(model.get_weights(), start)
    assert len(info["scales_per_epoch"]) == info["epochs_run"]  # recalibrated before every later epoch
    assert [h["epoch"] for h in info["history"]] == list(range(1, info["epochs_run"] + 1))
    # the saved model is the plain one: the quantizer imports it, and its int8 twin is the one measured
    path = save_model(model, tmp_path / "qat.keras")
    assert [layer.kind for layer in load_keras(path).layers] == ["gru", "dense"]
    again = qat.int8_scores(qat.quantize_in_memory(model, calibration_windows(fit, seed=0)), val.x, val.y)
    assert again["accuracy"] == info["int8_val_accuracy_after"]


def test_train_with_qat_keep_never_saves_the_float_weights(tiny_task, tmp_path):
    from tinyrnn.app.api import train_file
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    fit, val = tiny_task
    r = train_file(fit, "lstm", 5, epochs=1, seed=0, batch_size=32, out_path=tmp_path / "m.keras",
              progress=False, val=val, qat={"epochs": 1, "keep": "never"})
    q = r["qat"]
    assert (q["keep_rule"], q["kept"], q["epochs_run"]) == ("never", False, 1)
    saved = quantize_model(load_keras(tmp_path / "m.keras"), calibration_windows(fit, seed=0))
    scores = qat.int8_scores(saved, val.x, val.y)  # the float-trained weights, as measured before QAT
    assert scores["accuracy"] == q["int8_val_accuracy_before"]
    assert scores["loss"] == pytest.approx(q["int8_val_loss_before"], rel=1e-12)


def test_qat_refuses_what_it_cannot_mirror():
    from tinyrnn.tfsupport import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input((8, 2)), keras.layers.GRU(4, reset_after=False),
                              keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(TinyrnnError, match="reset_after=True"):
        qat.build_qat_model(model)
    model = keras.Sequential([keras.Input((8, 2)), keras.layers.LSTM(4), keras.layers.Dense(3)])
    with pytest.raises(TinyrnnError, match="Dense\\(softmax\\)"):
        qat.build_qat_model(model)
    with pytest.raises(TinyrnnError, match="epochs >= 1"):
        finetune(model, None, None, epochs=0)
