"""16x8 models (``tinyrnn quantize --activations int16``): the quantizer's IR (int16
activations on symmetric grids, int8 weights, int64 biases), the golden 16x8 Dense,
the artifact round trip, and validation refusing what the 16x8 kernels cannot run."""

from __future__ import annotations

import dataclasses
import re
import shutil

import numpy as np
import pytest
from s16models import float_stack, keras_setup, model_pair

from tinyrnn.core import tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.dense_s16 import dense_s16
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.core.validate import validate
from tinyrnn.quantize.float_model import FloatGRU
from tinyrnn.quantize.pipeline import quantize_model


def _sqnr(ref, y) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


@pytest.mark.parametrize("hidden", [(8,), (12, 6)])
def test_quantizer_writes_a_16x8_model_that_tracks_float(hidden, tmp_path):
    fm, q16, q8, x = model_pair(1, hidden=hidden, dense=((6, "relu"), (4, "linear")))
    assert [layer.activation_bits for layer in q16.layers] == [16] * len(q16.layers)
    assert q16.input_quant.zero_point == 0 and q16.input_quant.quantize(x).dtype == np.int16
    for layer in q16.layers:
        assert layer.bias.dtype == np.int64 and layer.input_zero_point == 0
    tnr.save(q16, tmp_path / "m.tnr")
    loaded = tnr.load(tmp_path / "m.tnr")
    assert loaded.content_hash() == q16.content_hash() and loaded.activation_bits == 16
    ref = fm.run(x)
    y16 = dequantize_output(loaded, run_model(loaded, loaded.input_quant.quantize(x)))
    y8 = dequantize_output(q8, run_model(q8, q8.input_quant.quantize(x)))
    assert run_model(loaded, loaded.input_quant.quantize(x)).dtype == np.int16
    assert _sqnr(ref, y16) > 25.0 and _sqnr(ref, y16) > _sqnr(ref, y8) - 0.5


def test_report_on_a_16x8_model():
    """The quantization report of a 16x8 model: int16 tensors on their int16 rails, the
    16x8 accuracy beside float's, output SQNR measured."""
    from tinyrnn.quantize.report import build_report, text_summary

    fm, q16, _, x = model_pair(15, hidden=(8, 6), dense=((3, "linear"),))
    r = build_report(fm, q16, x, np.arange(len(x)) % 3, progress=False)
    tensors = {(layer["name"], t["tensor"]): t for layer in r["fidelity"]["layers"] for t in layer["tensors"]}
    assert r["quantization"]["input"]["dtype"] == "int16" and r["fidelity"]["output"]["sqnr_db"] > 25.0
    for name in ("lstm_0", "lstm_1"):
        hidden = tensors[(name, "hidden")]
        assert hidden["dtype"] == "int16" and hidden["total"] > 0 and hidden["sqnr_db"] > 30.0
    assert tensors[("dense_0", "output")]["dtype"] == "int16"
    assert "  16x8 " in text_summary(r)


def test_int8_artifacts_keep_their_document():
    """activation_bits is left out of an int8 model's document (old hashes unchanged)."""
    from tinyrnn.core.ir import to_document

    _, q16, q8, _ = model_pair(2)
    assert "activation_bits" not in str(to_document(q8)[0]) and "activation_bits" in str(to_document(q16)[0])


def test_dense_s16_is_the_real_matmul_within_rounding():
    """The integer 16x8 Dense against float arithmetic on the dequantized values: within
    one output step plus the Q15 multiplier's relative error."""
    _, q16, _, _ = model_pair(3, dense=((5, "linear"),))
    layer = q16.layers[-1]
    rng = np.random.default_rng(0)
    x = rng.integers(-20000, 20000, (50, layer.input_size)).astype(np.int16)
    real_multiplier = np.asarray([m * 2.0 ** (s - 31) for m, s in zip(layer.multiplier, layer.shift)])
    want = np.clip((x.astype(np.float64) @ layer.weights.T + layer.bias) * real_multiplier, -32768, 32767)
    got = dense_s16(layer, x).astype(np.float64)
    assert np.all(np.abs(got - want) <= 1 + np.abs(want) * 2.0**-15) and np.abs(want).max() > 1000


@pytest.mark.parametrize("field, value, message", [
    ("input_zero_point", 3, "symmetric"),
    ("gate_x_shift", np.array([8, 0, 0, 0], np.int32), "gate_x_shift[0] = 8 outside [-31, 7]"),
    ("gate_h_multiplier", np.array([-5, 1, 1, 1], np.int32), "gate_h_multiplier[0] = -5 is negative"),
    ("bias", np.full((4, 8), 2**47, np.int64), "at least 2^47"),
    ("activation_bits", 12, "not one of (8, 16)"),
])  # fmt: skip
def test_validate_refuses_16x8_lstm_outside_the_domain(field, value, message):
    _, q16, _, _ = model_pair(4)
    bad = dataclasses.replace(q16, layers=[dataclasses.replace(q16.layers[0], **{field: value}), *q16.layers[1:]])
    with pytest.raises(TinyrnnError, match=f"layer 0: .*{re.escape(message)}"):
        validate(bad)


def test_validate_refuses_mixed_widths_and_hidden_tables():
    _, q16, q8, _ = model_pair(5, dense=((6, "relu"), (4, "linear")))
    mixed = dataclasses.replace(q16, layers=[q16.layers[0], q8.layers[1], q16.layers[2]])
    with pytest.raises(TinyrnnError, match="layer 1: activation_bits 8 in a model whose input has 16"):
        validate(mixed)
    table = dataclasses.replace(q16, layers=[*q16.layers[:1], dataclasses.replace(q16.layers[1], activation="tanh"),
                                             q16.layers[2]])  # fmt: skip
    with pytest.raises(TinyrnnError, match="layer 1: a hidden tanh Dense layer has no 16x8 kernel"):
        validate(table)


def test_quantizer_refuses_layers_without_a_16x8_kernel():
    rng = np.random.default_rng(6)
    fm = float_stack(rng, 3)
    fm.layers.insert(0, FloatGRU("gru_7", rng.normal(size=(3, 9)), rng.normal(size=(3, 9)), np.zeros(9), np.zeros(9),
                                 True, True))
    fm.layers[1] = dataclasses.replace(fm.layers[1], kernel=rng.normal(size=(3, 32)))
    x = rng.normal(size=(20, 5, 3)).astype(np.float32)
    with pytest.raises(TinyrnnError, match="^layer 'gru_7': a gru layer has no 16x8 kernel"):
        quantize_model(fm, x, activations="int16")
    with pytest.raises(TinyrnnError, match="activations 'int4' unknown"):
        quantize_model(float_stack(rng, 3), x, activations="int4")


@pytest.mark.tf
def test_cli_quantize_eval_16x8_from_keras(tmp_path):
    """``tinyrnn quantize --activations int16`` on a Keras LSTM stack + Dense head, then
    eval on the artifact; a GRU model is refused in one line naming the layer."""
    from test_cli import assert_user_error, run_cli, run_json

    keras, _ = keras_setup(tmp_path, 8, (60, 10, 3), 3)
    L = keras.layers
    keras.Sequential([keras.Input((10, 3)), L.LSTM(8, return_sequences=True), L.LSTM(6),
                      L.Dense(3, activation="softmax")]).save(tmp_path / "m.keras")  # fmt: skip
    keras.Sequential([keras.Input((10, 3)), L.GRU(4, name="gru_x"), L.Dense(3)]).save(tmp_path / "g.keras")
    art = tmp_path / "m16.tnr"
    q = run_json("quantize", tmp_path / "m.keras", "--calib", tmp_path / "d.npz", "--out", art, "--activations", "int16")
    assert q["levers"]["activations"] == "int16" and tnr.load(art).activation_bits == 16
    e = run_json("eval", art, "--data", tmp_path / "d.npz")
    assert e["kind"] == "16x8-golden" and e["n"] == 60
    assert_user_error(run_cli("quantize", tmp_path / "g.keras", "--calib", tmp_path / "d.npz", "--out",
                              tmp_path / "g.tnr", "--activations", "int16"), "layer 'gru_x'", "no 16x8 kernel")  # fmt: skip


def _int16_inputs(rng, model, batch: int, steps: int) -> np.ndarray:
    """Random int16 windows, the first third at the rails (alternating -32768 / 32767)."""
    x = rng.integers(-32768, 32768, (batch, steps, model.input_size)).astype(np.int16)
    x[: batch // 3] = np.where(rng.random(x[: batch // 3].shape) < 0.5, -32768, 32767)
    return x


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("hidden, dense, sequences", [((12, 6), ((6, "relu6"), (4, "linear")), False),
                                                     ((9,), (), True)])  # fmt: skip
def test_generated_c_equals_golden_on_the_host(hidden, dense, sequences, tmp_path):
    """The generated 16x8 library (int16 in and out) under ASan/UBSan: _run, _step,
    _run_masked and _step_masked equal the golden model on every output element."""
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.core.golden.model import run_steps

    fm, q16, _, x = model_pair(7, hidden=hidden, dense=dense, sequences=sequences)
    host = HostModel(q16, tmp_path, sanitize=True)
    rng = np.random.default_rng(9)
    for xq in (q16.input_quant.quantize(x[:8]), _int16_inputs(rng, q16, 9, 6)):
        np.testing.assert_array_equal(host.run(xq), run_model(q16, xq))
        np.testing.assert_array_equal(host.step(xq), run_steps(q16, xq))
        valid = rng.random(xq.shape[:2]) < 0.7
        np.testing.assert_array_equal(host.run_masked(xq, valid), run_model(q16, xq, valid=valid))
    assert host.run(xq).dtype == np.int16 and host.info["state_bytes"] > 0


_IO_DRIVER = r"""
#include <stdio.h>
#include "model.h"
/* float32 steps on stdin -> per step: int16 q, the argmax of q's first OUTPUT_SIZE codes
 * (as logits), their dequantized values. */
int main(void)
{
    float x[TINYRNN_MODEL_INPUT_SIZE], f[TINYRNN_MODEL_OUTPUT_SIZE];
    int16_t q[TINYRNN_MODEL_INPUT_SIZE];
    while (fread(x, sizeof x, 1, stdin) == 1) {
        tinyrnn_model_quantize_input(x, q);
        const int32_t c = tinyrnn_model_argmax(q);
        tinyrnn_model_dequantize_output(q, f, TINYRNN_MODEL_OUTPUT_SIZE);
        fwrite(q, sizeof q, 1, stdout);
        fwrite(&c, sizeof c, 1, stdout);
        fwrite(f, sizeof f, 1, stdout);
    }
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_generated_float_helpers_quantize_to_int16(tmp_path):
    """_quantize_input gives InputQuant.quantize's int16 codes (rails, NaN, ties included);
    _argmax and _dequantize_output read int16; a softmax head's _probabilities reads int16 logits
    (tests/test_logits_s16.py checks its values)."""
    from tinyrnn.codegen.generate import generate
    from tinyrnn.codegen.hostlib import compile_host, run_host

    _, q16, _, _ = model_pair(10, features=5, dense=((5, "softmax"),))
    info = generate(q16, tmp_path / "src")
    (tmp_path / "src" / "driver.c").write_text(_IO_DRIVER)
    sources = [f for f in info["files"] if f.endswith(".c")] + [str(tmp_path / "src" / "driver.c")]
    exe = compile_host(sources, tmp_path / "io", include_dirs=[tmp_path / "src"], sanitize=True,
                       extra_flags=["-DTINYRNN_PATH=1"])  # fmt: skip (the default path, wide)
    assert "void tinyrnn_model_probabilities(const int16_t *y, float *p);" in (tmp_path / "src" / "model.h").read_text()
    rng = np.random.default_rng(11)
    scale = q16.input_quant.scale
    x = (rng.integers(-40000, 40000, (200, 5)) * scale + rng.choice([0.0, 0.5], (200, 5)) * scale).astype(np.float32)
    x[:3] = [np.inf, -np.inf, np.nan, 1e30, -1e30]
    out = run_host(exe, [], x.tobytes(), sanitize=True)
    rows = np.frombuffer(out, np.uint8).reshape(200, -1)
    q = rows[:, :10].copy().view(np.int16)
    np.testing.assert_array_equal(q, q16.input_quant.quantize(x))
    np.testing.assert_array_equal(rows[:, 10:14].copy().view(np.int32)[:, 0], np.argmax(q, axis=1))
    deq = rows[:, 14:].copy().view(np.float32)
    np.testing.assert_array_equal(deq, (q.astype(np.float32) * np.float32(q16.output_scale)))


@pytest.mark.qemu
def test_16x8_firmware_on_qemu_is_bit_exact(tmp_path):
    """The verification firmware of a 16x8 model on mps2-an386: int16 values over the
    serial protocol (INFO element_size 2), RUN windows split over several chunks, masked
    steps and STEP, each output equal to the golden model's; then `tinyrnn verify`."""
    from test_cli import run_json

    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project
    from tinyrnn.core.golden.model import run_steps
    from tinyrnn.harness.dut import Device
    from tinyrnn.harness.qemu import Qemu

    fm, q16, _, x = model_pair(13, hidden=(8,), dense=((3, "linear"),))
    rng = np.random.default_rng(14)
    xq = np.concatenate([q16.input_quant.quantize(x[:2]), _int16_inputs(rng, q16, 2, 10)])
    xq = np.concatenate([xq] * 6, axis=1)  # 60 steps of 6 bytes: several RUN chunks
    valid = rng.random(xq.shape[:2]) < 0.8
    project = render_project(q16, "mps2-an386", tmp_path / "fw")
    elf = build(project["project_dir"])["elf"]
    with Qemu("mps2-an386", elf, timeout_s=120) as qemu, Device.open(qemu.url, expected_hash=q16.content_hash()) as dev:
        assert dev.info().element_size == 2 and dev.steps_per_chunk() < xq.shape[1]
        for i, seq in enumerate(xq):
            np.testing.assert_array_equal(dev.run(seq)[0], run_model(q16, seq[None])[0])
            np.testing.assert_array_equal(dev.run(seq, valid[i])[0], run_model(q16, seq[None], valid=valid[i:i + 1])[0])
        dev.reset()
        got = np.stack([dev.step(x_t)[0] for x_t in xq[0, :5]])
        np.testing.assert_array_equal(got, run_steps(q16, xq[:1, :5])[0])
    tnr.save(q16, tmp_path / "m.tnr")
    np.savez(tmp_path / "d.npz", x=x[:6], y=np.zeros(6, int))
    r = run_json("verify", "--model", tmp_path / "m.tnr", "--target", "qemu:mps2-an386", "--data", tmp_path / "d.npz",
                 "--n", 6)  # fmt: skip
    assert (r["verified"], r["sequences"], r["mismatches"]) == (True, 6, 0)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("name", ["lstm_i9_h32", "rnn_i9_h32"])
def test_bench_16x8_twin_is_valid_and_bit_exact(name, tmp_path):
    """``tinyrnn bench``'s 16x8 twins (measured in results/har_s16.md and
    results/rnn_weight_precision.md): inside the domain, the generated C equal to golden
    on the bench input and random windows."""
    from tinyrnn.app.commands import bench
    from tinyrnn.codegen.hostlib import HostModel

    model = bench.wide_model(name)
    validate(model)
    x = np.concatenate([np.tile(bench.bench_input(name, 16), (1, 6, 1)),
                        _int16_inputs(np.random.default_rng(16), model, 3, 6)])  # fmt: skip
    np.testing.assert_array_equal(HostModel(model, tmp_path, sanitize=True).run(x), run_model(model, x))
    with pytest.raises(TinyrnnError, match="single LSTM or SimpleRNN layer"):
        bench.wide_model("gru_i9_h32")
