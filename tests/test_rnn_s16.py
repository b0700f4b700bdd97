"""16x8 SimpleRNN (``tinyrnn quantize --activations int16`` on a SimpleRNN) and its
16x16 form (``--rnn-weights int16``): the quantizer's IR (int16 state on a symmetric grid,
Q0.15 for tanh, int64 bias; int8 or int16 weights), the golden ``rnn_s16`` against float
arithmetic, the generated C against the golden model on every output element (host under
ASan/UBSan on the portable and DSP paths, QEMU on the M4, M0 and M55 boards), and the
refusals outside the kernel's domain.
"""

from __future__ import annotations

import dataclasses
import re
import shutil

import numpy as np
import pytest
from s16models import data, keras_setup, model_pair

from tinyrnn.core import tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.fixedpoint import quantize_multiplier
from tinyrnn.core.golden.model import dequantize_output, run_model, run_steps
from tinyrnn.core.golden.rnn_s16 import rnn_s16
from tinyrnn.core.ir import SimpleRNNLayer
from tinyrnn.core.validate import validate

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _sqnr(ref, y) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


def _reloaded(model, tmp_path):
    """The model saved as an artifact and loaded back, its hash checked."""
    tnr.save(model, tmp_path / "m.tnr")
    loaded = tnr.load(tmp_path / "m.tnr")
    assert loaded.content_hash() == model.content_hash()
    return loaded


def _output(model, x) -> np.ndarray:
    return dequantize_output(model, run_model(model, model.input_quant.quantize(x)))


def _extreme(layer: SimpleRNNLayer, rng) -> SimpleRNNLayer:
    """The same layer at the domain's edges: weights at their type's rails (int8 or int16),
    biases near ±2^40, multipliers at the Q15 rounding's top and shifts at its largest left
    shift, 7."""
    info = np.iinfo(layer.w_x.dtype)
    w = lambda shape: rng.choice(np.array([info.min, info.max], layer.w_x.dtype), shape)  # noqa: E731
    H, I = layer.hidden_size, layer.input_size
    return dataclasses.replace(layer, w_x=w((H, I)), w_h=w((H, H)), bias=rng.integers(-(2**40), 2**40, H),
                               x_multiplier=2**31 - 1, x_shift=-20, h_multiplier=quantize_multiplier(0.7)[0],
                               h_shift=7)  # fmt: skip


def _int16_inputs(rng, model, batch: int, steps: int) -> np.ndarray:
    """Random int16 windows, the first third at the rails."""
    x = rng.integers(-32768, 32768, (batch, steps, model.input_size)).astype(np.int16)
    x[: batch // 3] = np.where(rng.random(x[: batch // 3].shape) < 0.5, -32768, 32767)
    return x


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_quantizer_writes_a_16x8_simple_rnn_that_tracks_float(activation, tmp_path):
    fm, q16, q8, x = model_pair(21, hidden=(9, 5), dense=((4, "linear"),), rnn=activation)
    validate(q16)
    for layer in q16.layers[:2]:
        assert layer.kind == "rnn" and layer.activation_bits == 16 and layer.bias.dtype == np.int64
        assert (layer.input_zero_point, layer.hidden_zero_point) == (0, 0)
    if activation == "tanh":
        assert q16.layers[0].hidden_scale == 2.0**-15
    else:  # the grid spans twice the calibrated state the int8 grid spans (each matmul part's headroom)
        assert q16.layers[0].hidden_scale * 32767 == pytest.approx(2 * q8.layers[0].hidden_scale * 255)
    loaded = _reloaded(q16, tmp_path)
    assert loaded.layers[0].activation_bits == 16
    ref, y16, y8 = fm.run(x), _output(loaded, x), _output(q8, x)
    assert _sqnr(ref, y16) > 30.0 and _sqnr(ref, y16) > _sqnr(ref, y8)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_int16_rnn_weights_make_the_16x16_simple_rnn(activation, tmp_path):
    """``rnn_weights="int16"``: every SimpleRNN's w_x and w_h int16 (each matrix's peak on
    the rail), the Dense layers' int8; the artifact round-trips; the output is closer to
    float than the 16x8 model's. At weight_bits 8 the field stays out of the document."""
    fm, q16, _, x = model_pair(21, hidden=(9, 5), dense=((4, "linear"),), rnn=activation)
    _, w16, _, _ = model_pair(21, hidden=(9, 5), dense=((4, "linear"),), rnn=activation, rnn_weights="int16")
    validate(w16)
    for layer in w16.layers[:2]:
        assert layer.weight_bits == 16 and layer.w_x.dtype == layer.w_h.dtype == np.int16
        assert np.abs(layer.w_x).max() == np.abs(layer.w_h).max() == 32767
    assert w16.layers[2].weights.dtype == np.int8 and w16.meta["calibration"]["rnn_weights"] == "int16"
    assert "weight_bits" in q16.layers[0].absent_fields() and "rnn_weights" not in q16.meta["calibration"]
    loaded = _reloaded(w16, tmp_path)
    assert loaded.layers[1].weight_bits == 16
    ref = fm.run(x)
    assert _sqnr(ref, _output(loaded, x)) > _sqnr(ref, _output(q16, x)) + 6.0


@pytest.mark.parametrize("stack, options, message", [
    ({"rnn": "relu"}, {"rnn_weights": "int16"}, "rnn_weights 'int16' needs activations 'int16'"),
    ({"rnn": "relu"}, {"rnn_weights": "int4", "activations": "int16"}, "rnn_weights 'int4' unknown"),
    ({}, {"rnn_weights": "int16", "activations": "int16"}, "rnn_weights 'int16': the model has no SimpleRNN layer"),
])  # fmt: skip
def test_quantizer_refuses_int16_rnn_weights_outside_a_16x8_simple_rnn(stack, options, message):
    from s16models import float_stack

    from tinyrnn.quantize.pipeline import quantize_model

    rng = np.random.default_rng(30)
    fm = float_stack(rng, 3, **stack)
    with pytest.raises(TinyrnnError, match=re.escape(message)):
        quantize_model(fm, data(rng, 20, 6, 3), **options)


@pytest.mark.parametrize("bits, weights, message", [
    (16, "int8 model", "weight_bits 16 (int16 SimpleRNN weights) needs activation_bits 16"),
    (12, "int8 model", "field 'weight_bits' = 12, not one of (8, 16)"),
    (8, "int16 weights", "array 'w_x' must hold int8 values, got int16"),
])  # fmt: skip
def test_validate_refuses_weight_bits_that_do_not_match(bits, weights, message):
    _, q16, q8, _ = model_pair(23, hidden=(6,), rnn="relu")
    if weights == "int8 model":
        base, layer = q8, dataclasses.replace(q8.layers[0], weight_bits=bits)
    else:
        base, layer = q16, dataclasses.replace(q16.layers[0], w_x=q16.layers[0].w_x.astype(np.int16) * 300)
    with pytest.raises(TinyrnnError, match=f"layer 0: .*{re.escape(message)}"):
        validate(dataclasses.replace(base, layers=[layer, *base.layers[1:]]))


def test_relu_state_is_the_real_recurrence_within_rounding():
    """One 16x8 relu step against float arithmetic on the integer values: each matmul's
    real product within one step (plus the Q15 multiplier's relative error) of its
    requantized int16, then relu of the sum."""
    _, q16, _, _ = model_pair(22, hidden=(7,), rnn="relu")
    layer = q16.layers[0]
    rng = np.random.default_rng(3)
    x = rng.integers(-20000, 20000, (40, 1, layer.input_size)).astype(np.int16)
    h0 = rng.integers(0, 20000, (40, layer.hidden_size)).astype(np.int16)
    got = rnn_s16(layer, x, state=h0)[0][:, 0].astype(np.float64)
    real = lambda m, s: m * 2.0 ** (s - 31)  # noqa: E731
    from_x = (x[:, 0].astype(np.float64) @ layer.w_x.T + layer.bias) * real(layer.x_multiplier, layer.x_shift)
    from_h = h0.astype(np.float64) @ layer.w_h.T * real(layer.h_multiplier, layer.h_shift)
    want = np.maximum(np.clip(from_x, -32768, 32767) + np.clip(from_h, -32768, 32767), 0)
    tolerance = 2 + (np.abs(from_x) + np.abs(from_h)) * 2.0**-15
    assert np.all(np.abs(got - np.minimum(want, 32767)) <= tolerance) and got.max() > 1000


@pytest.mark.parametrize("field, value, message", [
    ("x_shift", 8, "x_shift = 8 outside [-31, 7]"),
    ("h_multiplier", -5, "h_multiplier = -5 is negative"),
    ("bias", np.full(6, 2**47, np.int64), "w_x with its bias: the int64 accumulator can reach"),
    ("hidden_zero_point", 3, "symmetric"),
])  # fmt: skip
def test_validate_refuses_16x8_simple_rnn_outside_the_domain(field, value, message):
    _, q16, _, _ = model_pair(23, hidden=(6,), rnn="relu")
    bad = dataclasses.replace(q16, layers=[dataclasses.replace(q16.layers[0], **{field: value}), *q16.layers[1:]])
    with pytest.raises(TinyrnnError, match=f"layer 0: .*{re.escape(message)}"):
        validate(bad)


def test_codegen_refuses_a_tanh_state_off_q15(tmp_path):
    from tinyrnn.codegen.generate import generate

    _, q16, _, _ = model_pair(24, hidden=(6,), rnn="tanh")
    bad = dataclasses.replace(q16, layers=[dataclasses.replace(q16.layers[0], hidden_scale=1.0 / 128), *q16.layers[1:]])
    with pytest.raises(TinyrnnError, match=r"layer 0 \(rnn_0\): a tanh SimpleRNN state must have scale 1/32768 and"):
        generate(bad, tmp_path / "src")


def _host_models(seed: int, rnn_weights: str = "int8"):
    """(what, model): quantizer-made relu and tanh stacks with ``rnn_weights``, and each at
    the domain's edges."""
    rng = np.random.default_rng(seed)
    for activation, hidden, dense, sequences in (("relu", (13, 5), ((6, "relu"), (3, "linear")), False),
                                                 ("tanh", (1, 7), (), True)):  # fmt: skip
        _, q16, _, _ = model_pair(seed, hidden=hidden, dense=dense, sequences=sequences, rnn=activation,
                                  rnn_weights=rnn_weights)  # fmt: skip
        yield activation, q16
        layers = [_extreme(layer, rng) if layer.kind == "rnn" else layer for layer in q16.layers]
        yield f"{activation} extreme", dataclasses.replace(q16, layers=layers)


@needs_gcc
@pytest.mark.parametrize("rnn_weights", ["int8", "int16"])
@pytest.mark.parametrize("path", ["plain", "dsp"])
def test_generated_c_equals_golden_on_the_host(path, rnn_weights, tmp_path):
    """_run, _step, _run_masked and two interleaved instances under ASan/UBSan, every
    output element equal to the golden model's, quantizer-made and extreme layers with
    int8 and int16 weights; the portable dot products and the DSP ones (SMLALD, modelled in C)."""
    from tinyrnn.codegen.hostlib import HostModel

    rng = np.random.default_rng(25)
    for what, model in _host_models(26, rnn_weights):
        validate(model)
        host = HostModel(model, tmp_path / what.replace(" ", "_"), sanitize=True, path=path)
        x = np.concatenate([model.input_quant.quantize(data(rng, 4, 9, model.input_size)),
                            _int16_inputs(rng, model, 6, 9)])  # fmt: skip  (calibrated range, then anywhere)
        np.testing.assert_array_equal(host.run(x), run_model(model, x), err_msg=what)
        np.testing.assert_array_equal(host.step(x), run_steps(model, x), err_msg=what)
        np.testing.assert_array_equal(host.run_pairs(x), run_steps(model, x), err_msg=what)
        valid = rng.random(x.shape[:2]) < 0.7
        np.testing.assert_array_equal(host.run_masked(x, valid), run_model(model, x, valid=valid), err_msg=what)
        assert host.info["state_bytes"] >= 2 * sum(layer.hidden_size for layer in model.layers if layer.kind == "rnn")


@pytest.mark.qemu
@pytest.mark.parametrize("rnn_weights", ["int8", "int16"])
@pytest.mark.parametrize("board", ["mps2-an386", "microbit", "mps3-an547"])
def test_16x8_simple_rnn_firmware_on_qemu_is_bit_exact(board, rnn_weights, tmp_path):
    """The verification firmware on each core's own dot-product path (M4 SMLALD, M0
    portable, M55 Helium), int8 and int16 weights: RUN and STEP over the serial protocol
    equal the golden model."""
    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project
    from tinyrnn.harness.dut import Device
    from tinyrnn.harness.qemu import Qemu

    (_, relu), (_, extreme) = list(_host_models(27, rnn_weights))[:2]
    model = dataclasses.replace(relu, layers=[extreme.layers[0], *relu.layers[1:]])  # one layer at the edges
    rng = np.random.default_rng(28)
    x = _int16_inputs(rng, model, 3, 12)
    elf = build(render_project(model, board, tmp_path / "fw")["project_dir"])["elf"]
    with Qemu(board, elf, timeout_s=120) as qemu, Device.open(qemu.url, expected_hash=model.content_hash()) as dev:
        assert dev.info().element_size == 2
        for seq in x:
            np.testing.assert_array_equal(dev.run(seq)[0], run_model(model, seq[None])[0], err_msg=board)
        dev.reset()
        got = np.stack([dev.step(x_t)[0] for x_t in x[0, :5]])
        np.testing.assert_array_equal(got, run_steps(model, x[:1, :5])[0], err_msg=board)


@pytest.mark.tf
def test_cli_quantize_eval_and_host_build_of_a_keras_relu_simple_rnn(tmp_path):
    """``tinyrnn quantize --activations int16`` on a Keras SimpleRNN(relu) → Dense model:
    Keras refereed the twin, the artifact is 16x8, eval runs the 16x8 golden model, and
    its argmax agrees with Keras's predict on at least as many windows as the int8 model's;
    ``--rnn-weights int16`` makes int16 weights and agrees at least as often again, and
    without ``--activations int16`` it is refused in one line."""
    from test_cli import assert_user_error, run_cli, run_json

    keras, x = keras_setup(tmp_path, 29, (80, 16, 3), 4)
    L = keras.layers
    model = keras.Sequential([keras.Input((16, 3)), L.SimpleRNN(10, activation="relu"), L.Dense(4)])
    model.save(tmp_path / "m.keras")
    keras_class = np.argmax(model.predict(x, verbose=0), -1)
    agree = {}
    for act, weights in (("int16", "int8"), ("int8", "int8"), ("int16", "int16")):
        art = tmp_path / f"m_{act}_{weights}.tnr"
        q = run_json("quantize", tmp_path / "m.keras", "--calib", tmp_path / "d.npz", "--out", art, "--activations", act,
                     "--rnn-weights", weights)  # fmt: skip
        assert q["keras_agreement"]["max_abs_diff"] < 1e-4
        loaded = tnr.load(art)
        agree[act, weights] = np.mean(np.argmax(run_model(loaded, loaded.input_quant.quantize(x)), -1) == keras_class)
    assert tnr.load(tmp_path / "m_int16_int8.tnr").layers[0].activation_bits == 16
    assert tnr.load(tmp_path / "m_int16_int16.tnr").layers[0].w_h.dtype == np.int16
    assert run_json("eval", tmp_path / "m_int16_int8.tnr", "--data", tmp_path / "d.npz")["kind"] == "16x8-golden"
    assert agree["int16", "int16"] >= agree["int16", "int8"] >= agree["int8", "int8"] and agree["int16", "int8"] > 0.9
    proc = run_cli("quantize", tmp_path / "m.keras", "--calib", tmp_path / "d.npz", "--out", tmp_path / "r.tnr",
                   "--rnn-weights", "int16")  # fmt: skip
    assert_user_error(proc, "rnn_weights 'int16' needs activations 'int16'")


@pytest.mark.parametrize("levers, flag", [
    ({"activations": "int16"}, "--activations"), ({"rnn_weights": "int16"}, "--rnn-weights"),
    ({"logits": "int8"}, "--logits"),
])  # fmt: skip
def test_width_levers_on_a_tflite_are_refused_before_it_is_read(levers, flag, tmp_path):
    """A .tflite brings its own widths: each width lever is refused, naming it, before the file is opened."""
    from tinyrnn.app.api import quantize_file

    with pytest.raises(TinyrnnError, match=f"m.tflite: {flag} applies to a .keras model"):
        quantize_file(str(tmp_path / "m.tflite"), None, str(tmp_path / "m.tnr"), **levers)


@needs_gcc
def test_16x16_bench_twin_computes_what_the_16x8_twin_does(tmp_path):
    """``bench.wide_model(name, weight_bits=16)`` scales the weights by 2^8 and the multipliers
    by 2^-8, which is exact: its golden outputs equal the 16x8 twin's, and so do its host C's."""
    from tinyrnn.app.bench_models import wide_model
    from tinyrnn.codegen.hostlib import HostModel

    w8, w16 = wide_model("rnn_i9_h32"), wide_model("rnn_i9_h32", weight_bits=16)
    assert w16.layers[0].w_x.dtype == np.int16 and w16.layers[0].weight_bits == 16
    x = _int16_inputs(np.random.default_rng(31), w8, 6, 20)
    want = run_model(w8, x)
    np.testing.assert_array_equal(run_model(w16, x), want)
    np.testing.assert_array_equal(HostModel(w16, tmp_path / "w16", sanitize=True).run(x), want)


def test_quantize_names_the_wider_modes_when_decisions_move():
    """Under DECISION_BAR same decisions, float_agreement names the modes this model's layers
    have (16x8 where every layer has a 16x8 kernel, then int16 SimpleRNN weights), and the
    summary line says how far accuracy can move; above it, neither."""
    from s16models import float_stack

    from tinyrnn.quantize.pipeline import quantize_model
    from tinyrnn.quantize.report import agreement_summary, float_agreement, wider_modes

    fm, q16, q8, x = model_pair(32, hidden=(8,), dense=((5, "linear"),), rnn="relu")
    _, w16, _, _ = model_pair(32, hidden=(8,), dense=((5, "linear"),), rnn="relu", rnn_weights="int16")
    lstm = float_stack(np.random.default_rng(33), 3)
    assert wider_modes(q8) == ["--activations int16", "--rnn-weights int16"]
    assert wider_modes(q16) == ["--rnn-weights int16"] and wider_modes(w16) == []
    assert wider_modes(quantize_model(lstm, data(np.random.default_rng(34), 20, 6, 3))) == ["--activations int16"]
    good = float_agreement(fm, w16, x)
    assert good["decision_agreement"] >= 0.99 and "wider" not in good and "pp" not in agreement_summary(good)
    broken = dataclasses.replace(q8, layers=[dataclasses.replace(q8.layers[0], w_h=-q8.layers[0].w_h),
                                             *q8.layers[1:]])  # fmt: skip
    bad = float_agreement(fm, broken, x)
    moved = 100 * (1 - bad["decision_agreement"])
    assert moved > 1.0 and bad["wider"] == ["--activations int16", "--rnn-weights int16"]
    assert agreement_summary(bad).endswith(f"accuracy may move by up to {moved:.1f} pp; try --activations int16 "
                                           "--rnn-weights int16)")


def test_report_counts_int16_weights_and_their_range():
    """``tinyrnn report`` of a 16x16 model: two bytes per recurrent weight, the Dense head's
    still one; the weight grid's range (±127 or ±32767 times the scale recovered from the
    multiplier) is the float weights' peak in the 16x8 and the 16x16 model; the relu
    pre-activation and state are int16, measured on their own grids."""
    from tinyrnn.quantize.report import build_report

    fm, q16, _, x = model_pair(35, hidden=(6,), dense=((4, "linear"),), rnn="relu")
    _, w16, _, _ = model_pair(35, hidden=(6,), dense=((4, "linear"),), rnn="relu", rnn_weights="int16")
    reports = [build_report(fm, m, x, progress=False) for m in (q16, w16)]
    layers = [r["model"]["layers"] for r in reports]
    assert layers[1][0]["weight_bytes"] == 2 * layers[0][0]["weight_bytes"] == 2 * (6 * 3 + 6 * 6)
    assert layers[1][1]["weight_bytes"] == layers[0][1]["weight_bytes"] == 6 * 4
    peak = {"x": np.abs(fm.layers[0].kernel).max(), "h": np.abs(fm.layers[0].recurrent_kernel).max()}
    for report in reports:  # the scale recovered from the multiplier and the 16x8 relu pre-activation grid
        for row in report["quantization"]["layers"][0]["gates"]:
            assert row["range"][1] == pytest.approx(peak[row["path"]], rel=1e-4)
        assert [t["dtype"] for t in report["quantization"]["layers"][0]["tensors"]] == ["int16"] * 3
        assert all(t["dtype"] == "int16" and t["sqnr_db"] > 30 for t in report["fidelity"]["layers"][0]["tensors"])


def test_codegen_names_the_stored_weights_and_refuses_the_int16_layout(tmp_path):
    """``tinyrnn codegen`` of a 16x16 model reports int8/int16 weights (its Dense layers' and
    its SimpleRNN's as stored); ``--weights int16``, an int8 model's layout, is refused in one line."""
    from test_cli import assert_user_error, run_cli

    _, w16, _, _ = model_pair(36, hidden=(5,), rnn="tanh", rnn_weights="int16")
    tnr.save(w16, tmp_path / "m.tnr")
    proc = run_cli("codegen", tmp_path / "m.tnr", "--out", tmp_path / "lib")
    assert proc.returncode == 0 and "int8/int16 weights" in proc.stdout, proc.stderr
    proc = run_cli("codegen", tmp_path / "m.tnr", "--out", tmp_path / "lib16", "--weights", "int16")
    assert_user_error(proc, "--weights int16: a 16x8 model's kernels read their weights as they are stored")
