"""int16 logits: the last Dense layer of an int8 model with ``output_bits`` 16 (the default
of `tinyrnn quantize`; golden ``dense_s8_s16`` ↔ ``tinyrnn_dense_s8_s16.c``).

The generated C against the golden model, every output element: host builds under ASan +
UBSan (streaming and whole-window models, each head activation, realistic and saturating
parameters) and QEMU Cortex-M4 / Cortex-M0 through the serial protocol (INFO's output
element size 2). Quantization's default and ``logits="int8"``; the int16 probability
tables against numpy; validate's refusals.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.hostlib import HostModel, compile_host
from tinyrnn.codegen.project import render_library
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import Model
from tinyrnn.core.validate import validate
from tinyrnn.quantize.float_model import FloatDense, FloatLSTM, FloatModel
from tinyrnn.quantize.pipeline import quantize_model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
_have_tools = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
HEADS = ("linear", "relu", "relu6", "softmax", "sigmoid")


def _model(seed: int, activation: str = "softmax", extreme: float = 0.0, seq: bool = False) -> Model:
    rng = np.random.default_rng(seed)
    base = irgen.build_model(rng, 5, [9, 7], [6, 4], activation=activation, extreme=extreme, returns_sequences=seq)
    return irgen.int16_logits(rng, base, extreme)


def _window_model(seed: int) -> Model:
    """Bidirectional GRU (whole-window C API) → Dense head with int16 logits."""
    rng = np.random.default_rng(seed)
    bi = irgen.bidirectional_layer(rng, "gru", 4, 6, return_sequences=False)
    head = irgen.dense_layer(rng, bi.output_size, 3, activation="softmax", name="head")
    base = Model(name="bi", input_size=4, input_quant=irgen.identity_input_quant(4), layers=[bi, head])
    return irgen.int16_logits(rng, base)


def _inputs(model: Model, seed: int, n: int = 5, steps: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([irgen.random_input(rng, model, n, steps), irgen.random_input(rng, model, 3, steps,
                                                                                         extreme=True)])


@needs_gcc
@pytest.mark.parametrize("extreme", [0.0, 1.0])
@pytest.mark.parametrize("activation", HEADS)
def test_host_c_equals_golden(activation, extreme, tmp_path):
    """_run, T x _step and two interleaved instances == golden, int16 outputs beyond the int8 range."""
    seed = HEADS.index(activation) + int(10 * extreme)
    model = _model(seed, activation, extreme, seq=activation == "linear")
    validate(model)
    assert model.output_bits == 16 and model.output_dtype == np.int16
    x = _inputs(model, seed)
    host = HostModel(model, tmp_path, sanitize=True)
    streamed = irgen.check_host_streams(host, model, x, f"{activation} head")
    assert streamed.dtype == np.int16
    if not extreme:  # the int16 grid is used: an int8 output could not hold these values
        assert np.abs(streamed.astype(np.int32)).max() > 127


@needs_gcc
def test_host_c_equals_golden_whole_window(tmp_path):
    model = _window_model(3)
    validate(model)
    x = _inputs(model, 3)
    got = HostModel(model, tmp_path, sanitize=True).run(x)
    np.testing.assert_array_equal(got, run_model(model, x))
    assert got.dtype == np.int16


@pytest.mark.qemu
@pytest.mark.skipif(not _have_tools, reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board, build", [("mps2-an386", lambda: _model(21, "linear", seq=True)),
                                          ("microbit", lambda: _model(22, "softmax")),
                                          ("mps2-an386", lambda: _window_model(23))])
def test_device_equals_golden(board, build, tmp_path):
    """The firmware reports 2-byte outputs in INFO and sends int16 logits; every element == golden."""
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    model = build()
    x = _inputs(model, 5, n=1, steps=6)
    with connect(f"qemu:{board}", model, tmp_path / "fw") as (device, _):
        assert (device.info().element_size, device.info().output_element_size) == (1, 2)
        result = verify_device(device, model, x, progress=False)
    assert (result.error, result.sequences, result.mismatches) == (None, len(x), 0), result.first_mismatch


def _float_model(seed: int) -> FloatModel:
    rng = np.random.default_rng(seed)
    lstm = FloatLSTM("lstm", rng.normal(0, 0.5, (3, 32)), rng.normal(0, 0.3, (8, 32)), rng.normal(0, 0.1, 32), False)
    return FloatModel("m", (9, 3), np.zeros(3), np.ones(3),
                      [lstm, FloatDense("head", rng.normal(0, 1.0, (8, 5)), rng.normal(0, 0.1, 5), "softmax")])


def test_quantize_default_int16_logits_finer_than_int8():
    """Default: int16 logits (zero point 0); logits="int8": TFLite's int8 head. The output
    rounding of the int16 head (against its exact accumulator, outputs off the rails) is under
    1/50 of the int8 head's."""
    fm = _float_model(4)
    x = np.random.default_rng(5).normal(0, 1, (64, 9, 3)).astype(np.float32)
    wide, narrow = quantize_model(fm, x), quantize_model(fm, x, logits="int8")
    assert (wide.layers[-1].output_bits, wide.layers[-1].output_zero_point, wide.output_dtype) == (16, 0, np.int16)
    assert (narrow.layers[-1].output_bits, narrow.output_dtype) == (8, np.int8)
    assert wide.meta["calibration"]["logits"] == "int16"
    validate(wide)
    stack = dataclasses.replace(wide, layers=wide.layers[:-1])
    h = run_model(stack, wide.input_quant.quantize(x)).astype(np.float64)

    def rms_error(model):
        head = model.layers[-1]
        acc = (h - head.input_zero_point) @ head.weights.T.astype(np.float64) + head.bias
        exact = acc * head.multiplier * 2.0 ** (head.shift - 31.0) * head.output_scale
        y = run_model(model, model.input_quant.quantize(x))
        inside = (y > np.iinfo(y.dtype).min) & (y < np.iinfo(y.dtype).max)
        err = (y.astype(np.float64) - model.output_zero_point) * model.output_scale - exact
        return float(np.sqrt(np.mean(err[inside] ** 2)))

    assert rms_error(wide) < rms_error(narrow) / 50
    with pytest.raises(TinyrnnError, match="logits 'int4' unknown"):
        quantize_model(fm, x, logits="int4")
    with pytest.raises(TinyrnnError, match="a 16x8 model's outputs are int16"):
        quantize_model(fm, x, activations="int16", logits="int8")


@pytest.mark.parametrize("field, value, message", [
    ("output_bits", 12, "'output_bits' = 12, not one of"),
    ("output_zero_point", 3, "int16 logits are symmetric"),
])
def test_validate_refuses_bad_int16_heads(field, value, message):
    model = _model(6)
    head = dataclasses.replace(model.layers[-1], **{field: value})
    with pytest.raises(TinyrnnError, match=message):
        validate(dataclasses.replace(model, layers=[*model.layers[:-1], head]))


def test_validate_refuses_int16_output_before_the_last_layer():
    model = _model(7)
    hidden = dataclasses.replace(model.layers[-2], output_bits=16, output_zero_point=0)
    with pytest.raises(TinyrnnError, match=r"layer 2: output_bits 16 \(int16 logits\) is for the last layer"):
        validate(dataclasses.replace(model, layers=[*model.layers[:-2], hidden, model.layers[-1]]))


_PROB_DRIVER = r"""
#include <stdio.h>
#include "edge.h"
/* int16 logits on stdin -> float probabilities (and argmax for softmax heads) on stdout. */
int main(void)
{
    int16_t y[TINYRNN_EDGE_OUTPUT_SIZE];
    float p[TINYRNN_EDGE_OUTPUT_SIZE];
    while (fread(y, sizeof y, 1, stdin) == 1) {
        tinyrnn_edge_probabilities(y, p);
        fwrite(p, sizeof p, 1, stdout);
    }
    return 0;
}
"""


@needs_gcc
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_probabilities_from_int16_logits(activation, tmp_path):
    """_probabilities over the whole int16 range: equal to the same table products in numpy, and
    within float32 rounding of the exact softmax / sigmoid of the dequantized logits."""
    model = dataclasses.replace(_model(8, activation), name="edge")
    model.layers[-1].output_scale = 10.0 / 32767  # logits in ±10: the tables' realistic span
    lib = render_library(model, tmp_path / "lib", "edge", core="host")
    (tmp_path / "driver.c").write_text(_PROB_DRIVER)
    exe = compile_host([*(tmp_path / "lib" / s for s in lib["sources"]), tmp_path / "driver.c"], tmp_path / "drv",
                       include_dirs=[tmp_path / "lib" / "src"], sanitize=True,
                       extra_flags=[f"-DTINYRNN_PATH={lib['path_id']}"])
    rng = np.random.default_rng(9)
    y = np.concatenate([rng.integers(-32768, 32768, (400, 4)), [[32767, -32768, 0, 1], [-32768] * 4, [5, 5, 5, -5]],
                        rng.integers(-300, 300, (100, 4))]).astype(np.int16)
    out = subprocess.run([exe], input=y.tobytes(), capture_output=True, check=True).stdout
    p = np.frombuffer(out, "<f4").reshape(y.shape)
    scale = model.output_scale
    hi = np.exp(-scale * 256 * np.arange(256)).astype(np.float32)
    lo = np.exp(-scale * np.arange(256)).astype(np.float32)
    real = y.astype(np.float64) * scale
    if activation == "softmax":
        d = y.max(axis=1, keepdims=True).astype(np.int32) - y
        e = hi[d >> 8] * lo[d & 255]
        total = np.zeros(len(e), np.float32)
        for k in range(e.shape[1]):  # the C's order of float32 additions
            total += e[:, k]
        np.testing.assert_array_equal(p, e / total[:, None])
        exact = np.exp(real - real.max(axis=1, keepdims=True))
        np.testing.assert_allclose(p, exact / exact.sum(axis=1, keepdims=True), rtol=2e-6, atol=1e-7)
    else:
        np.testing.assert_allclose(p, 1 / (1 + np.exp(-real)), rtol=2e-6, atol=1e-7)
