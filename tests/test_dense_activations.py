"""Dense activations in any position (linear, relu, relu6, sigmoid, tanh, softmax).

The float twin against numpy formulas; the golden tables and integer softmax against
float (stated LSB bounds); generated C compiled for the host (under ASan + UBSan) and on
QEMU's Cortex-M4 against the golden model, element for element; quantization and the
artifact carry the tables; validate refuses a bad table in one line.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.generate import generate
from tinyrnn.codegen.hostlib import HostModel, compile_host, run_host
from tinyrnn.codegen.kernel_set import kernel_files
from tinyrnn.core import tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.activation_s8 import OUTPUT_QUANT, lut_table, softmax_s8, softmax_table, table_s8
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import DENSE_ACTIVATIONS, TABLE_ACTIVATIONS, Model, to_document
from tinyrnn.core.validate import validate
from tinyrnn.quantize.float_model import FloatDense, FloatLSTM, FloatModel
from tinyrnn.quantize.pipeline import quantize_model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
_have_tools = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
FORMULAS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0),
            "relu6": lambda z: np.minimum(np.maximum(z, 0), 6), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
            "tanh": np.tanh,
            "softmax": lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True)}
HIDDEN = ("sigmoid", "tanh", "softmax", "relu6")  # one model's hidden Dense stack: every table kind and relu6


def _float_model(rng, hidden: str, head: str = "linear") -> FloatModel:
    lstm = FloatLSTM("lstm", rng.normal(0, 0.5, (3, 24)), rng.normal(0, 0.3, (6, 24)), rng.normal(0, 0.1, 24), False)
    layers = [lstm, FloatDense("mid", rng.normal(0, 6.0, (6, 5)), rng.normal(0, 1.0, 5), hidden),
              FloatDense("head", rng.normal(0, 1.0, (5, 4)), rng.normal(0, 0.1, 4), head)]
    return FloatModel("m", (7, 3), np.zeros(3), np.ones(3), layers)


@pytest.mark.parametrize("hidden", DENSE_ACTIVATIONS)
def test_float_twin_applies_hidden_activations(hidden):
    """FloatModel.run == Keras's formula for the hidden layer; the last layer stops at its
    pre-activation (sigmoid head here), traces["logits"] stays the pre-activation."""
    rng = np.random.default_rng(1)
    model = _float_model(rng, hidden, head="sigmoid")
    x = rng.normal(0, 1, (5, 7, 3))
    traces: list = []
    got = model.run(x, traces)
    mid, head = model.layers[1], model.layers[2]
    z = model.layers[0].run(x)[:, -1] @ mid.kernel + mid.bias
    want = FORMULAS[hidden](z) @ head.kernel + head.bias
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(traces[1]["logits"][0], z, rtol=1e-12, atol=1e-12)
    assert np.array_equal(head.run(FORMULAS[hidden](z)), want)  # a lone call is a head, as before


@pytest.mark.parametrize("kind", ["sigmoid", "tanh"])
def test_lut_within_half_lsb_of_float(kind):
    """Every one of the 256 codes, over pre-activation grids from fine to coarse."""
    out_scale, out_zp = OUTPUT_QUANT[kind]
    worst = 0.0
    for scale in (1 / 256, 1 / 64, 0.05, 0.2, 1.0):
        for zp in (-128, -3, 0, 127):
            real = (np.arange(-128, 128) - zp) * scale
            want = np.clip(FORMULAS[kind](real) / out_scale + out_zp, -128, 127)
            got = table_s8(lut_table(kind, scale, zp), np.arange(-128, 128))
            worst = max(worst, float(np.abs(got - want).max()))
    assert worst <= 0.5 + 1e-9, worst


def test_softmax_error_against_float():
    """The integer softmax (golden/activation_s8.py) against float softmax of the same
    dequantized inputs: within 0.51 LSB of the real value, at most 1 LSB (rarely) from the
    ideally rounded int8. The measured figures are in the module docstring."""
    rng = np.random.default_rng(0)
    worst_real, worst_int, off, total = 0.0, 0, 0, 0
    for k in range(20000):
        size, scale = int(rng.integers(2, 41)), float(2 ** rng.uniform(-6, -1))
        q = rng.choice(np.array([-128, 127]), size) if k % 10 == 0 else rng.integers(-128, 128, size)
        got = softmax_s8(softmax_table(scale), q).astype(np.int64)
        p = FORMULAS["softmax"]((q - q.max()) * scale)
        real = np.clip(256 * p - 128, -128, 127)
        miss = np.abs(got - np.clip(np.round(real), -128, 127))
        worst_real, worst_int = max(worst_real, float(np.abs(got - real).max())), max(worst_int, int(miss.max()))
        off, total = off + int((miss > 0).sum()), total + size
    assert worst_real <= 0.51 and worst_int <= 1 and off / total < 1e-3, (worst_real, worst_int, off / total)


def _stack_model(rng, hidden=HIDDEN, extreme: float = 0.0, seq: bool = True):
    """LSTM -> one Dense per ``hidden`` activation (tables built) -> Dense head (softmax logits)."""
    layers, width = [irgen.lstm_layer(rng, 5, 9, return_sequences=seq, extreme=extreme)], 9
    for k, act in enumerate(hidden):
        layers.append(irgen.dense_layer(rng, width, 7 - k, activation=act, extreme=extreme, name=f"d{k}", hidden=True))
        width = 7 - k
    layers.append(irgen.dense_layer(rng, width, 3, activation="softmax", extreme=extreme, name="head"))
    return Model(name="acts", input_size=5, input_quant=irgen.identity_input_quant(5), layers=layers)


def _inputs(rng, model, n: int = 6, steps: int = 6):
    rails = irgen.random_input(rng, model, 3, steps, extreme=True)
    return np.concatenate([irgen.random_input(rng, model, n, steps), rails])


@needs_gcc
@pytest.mark.parametrize("hidden", DENSE_ACTIVATIONS)
def test_host_c_equals_golden_hidden(hidden, tmp_path):
    """LSTM -> Dense(hidden) -> Dense head, ASan + UBSan, every output element of _run and _step."""
    rng = np.random.default_rng(DENSE_ACTIVATIONS.index(hidden))
    model = _stack_model(rng, (hidden,), extreme=0.3)
    validate(model)
    x = _inputs(rng, model)
    host = HostModel(model, tmp_path, sanitize=True)
    np.testing.assert_array_equal(host.run(x), run_model(model, x))
    np.testing.assert_array_equal(host.step(x), irgen.golden_step_outputs(model, x))


@needs_gcc
@pytest.mark.parametrize("extreme", [0.0, 1.0])
def test_host_c_equals_golden_stack(extreme, tmp_path):
    """Every table kind and relu6 in one hidden stack; realistic and saturating parameters."""
    rng = np.random.default_rng(int(10 + extreme))
    model = _stack_model(rng, extreme=extreme)
    x = _inputs(rng, model)
    host = HostModel(model, tmp_path, sanitize=True)
    np.testing.assert_array_equal(host.step(x), irgen.golden_step_outputs(model, x))


# Test-only driver: blocks of (kind, n) int32 then n int8 inputs (kind 0: through the int8
# table, kind 1: one softmax vector); the tables come first, from Python.
DRIVER = r"""
#include <stdio.h>
#include "tinyrnn_activation_s8.h"

int main(void)
{
    static int8_t table[256], x[65536], y[65536];
    static uint16_t exp_table[256];
    int32_t head[2];
    if (fread(table, 1, 256, stdin) != 256 || fread(exp_table, 2, 256, stdin) != 256) {
        return 4;
    }
    while (fread(head, sizeof head[0], 2, stdin) == 2) {
        const size_t n = (size_t)head[1];
        if (n < 1 || n > 65535 || fread(x, 1, n, stdin) != n) {
            return 2;
        }
        if (head[0] == 0) {
            tinyrnn_table_s8(table, x, y, head[1]);
        } else {
            tinyrnn_softmax_s8(exp_table, x, x, head[1]); /* in place, as the model calls it */
        }
        fwrite(head[0] == 0 ? y : x, 1, n, stdout);
    }
    return 0;
}
"""


@needs_gcc
def test_kernels_exhaustive_against_golden(tmp_path):
    """All 256 codes through the LUT; softmax on random, rail and one-hot vectors of many
    sizes (up to the 65535 the int32 sum allows, all at exp(0)); sanitizers on."""
    for f in kernel_files():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "driver.c").write_text(DRIVER)
    exe = compile_host([tmp_path / "driver.c", tmp_path / "tinyrnn_activation_s8.c"], tmp_path / "driver",
                       include_dirs=[tmp_path], sanitize=True)
    rng = np.random.default_rng(3)
    lut, exp_table = lut_table("tanh", 0.03, 11), softmax_table(0.02)
    codes = np.arange(-128, 128, dtype=np.int8)
    vectors = [rng.integers(-128, 128, int(rng.integers(1, 50))).astype(np.int8) for _ in range(300)]
    vectors += [np.array([127, -128], np.int8), np.full(1, -128, np.int8), np.full(65535, 127, np.int8)]
    blocks = np.array([0, 256], "<i4").tobytes() + codes.tobytes()
    blocks += b"".join(np.array([1, v.size], "<i4").tobytes() + v.tobytes() for v in vectors)
    out = np.frombuffer(run_host(exe, [], lut.astype(np.int8).tobytes() + exp_table.astype("<u2").tobytes() + blocks,
                                 sanitize=True), np.int8)
    np.testing.assert_array_equal(out[:256], table_s8(lut, codes))
    want = np.concatenate([softmax_s8(exp_table, v) for v in vectors])
    np.testing.assert_array_equal(out[256:], want)


def test_random_models_with_hidden_activations_validate():
    """irgen's random models draw every activation for hidden and head layers; all valid."""
    seen = set()
    for seed in range(40):
        model = irgen.random_model(np.random.default_rng(seed), max_size=12, extreme=(0.0, 1.0)[seed % 2],
                                   activations=DENSE_ACTIVATIONS, hidden_activations=DENSE_ACTIVATIONS)
        validate(model)
        seen |= {layer.activation for layer in model.layers[:-1] if layer.kind == "dense" and layer.has_table}
    assert seen == set(TABLE_ACTIVATIONS)


@needs_gcc
@pytest.mark.parametrize("seed", range(3))
def test_random_models_host_equal_golden(seed, tmp_path):
    rng = np.random.default_rng(500 + seed)
    model = irgen.random_model(rng, max_size=16, extreme=(0.0, 0.3, 1.0)[seed],
                               activations=DENSE_ACTIVATIONS, hidden_activations=TABLE_ACTIVATIONS)
    x = _inputs(rng, model, 4, int(rng.integers(1, 7)))
    np.testing.assert_array_equal(HostModel(model, tmp_path).step(x), irgen.golden_step_outputs(model, x))


def test_quantize_builds_tables_and_chains_their_quantization(tmp_path):
    """Hidden sigmoid/tanh/softmax get a table and TFLite's output grid, which the next
    layer reads; relu6's range ends at 6 (the pre-activation reaches 8.8 here); the last
    layer stays logits; int8 logits within 3 % RMS of float's."""
    for hidden in DENSE_ACTIVATIONS:
        rng = np.random.default_rng(7)
        fmodel = _float_model(rng, hidden, head="softmax")
        x = rng.normal(0, 1, (64, 7, 3)).astype(np.float32)
        q = quantize_model(fmodel, x)
        mid, head = q.layers[1], q.layers[2]
        assert mid.has_table == (hidden in TABLE_ACTIVATIONS) and not head.has_table
        if mid.has_table:
            assert (mid.table_scale, mid.table_zero_point) == OUTPUT_QUANT[hidden]
        assert (head.input_scale, head.input_zero_point) == (mid.result_scale, mid.result_zero_point)
        if hidden == "relu6":
            assert (127 - mid.output_zero_point) * mid.output_scale <= 6.0 + mid.output_scale
        path = tmp_path / f"{hidden}.tnr"
        tnr.save(q, path)
        back = tnr.load(path)
        assert back.content_hash() == q.content_hash() and np.array_equal(back.layers[1].table, mid.table)
        logits = (run_model(q, q.input_quant.quantize(x)).astype(np.int64) - q.output_zero_point) * q.output_scale
        ref = fmodel.run(x)
        error = np.sqrt(np.mean((logits - ref) ** 2)) / np.std(ref)  # measured 0.010 (sigmoid) to 0.020 (tanh)
        assert error < 0.03, (hidden, error)


def test_documents_without_tables_keep_their_hash():
    """A model with no table has no table fields in its document (its hash is what it was)."""
    model = irgen.build_model(np.random.default_rng(0), 4, [5], [3, 2])
    doc, arrays = to_document(model)
    assert not any(k.endswith("table") for k in arrays)
    assert not {"table", "table_scale", "table_zero_point"} & set(doc["layers"][1])


def _table_model():
    return _stack_model(np.random.default_rng(2), ("sigmoid", "softmax"), seq=False)


def _set(k: int, **changes):
    return lambda m: m.layers.__setitem__(k, dataclasses.replace(m.layers[k], **changes))


@pytest.mark.parametrize("mutate, message", [
    (_set(1, table=np.zeros(255, np.int32)), r"layer 1: field 'table' has 255 entries"),
    (_set(1, table=np.full(256, 200, np.int32)), r"layer 1: field 'table' values must lie in \[-128, 127\]"),
    (_set(2, table=np.zeros(256, np.int32)), r"layer 2: field 'table' values must lie in \[0, 32768\]"),
    (_set(2, table_scale=1 / 128), r"layer 2: field 'table_scale'"),
    (_set(1, table=np.zeros(0, np.int32), table_scale=None, table_zero_point=None), r"layer 1: .*needs its"),
    (_set(3, table=np.zeros(256, np.int32), table_scale=1 / 256, table_zero_point=-128), r"layer 3: .*last"),
    (_set(1, table_zero_point=300), r"layer 1: field 'table_zero_point'"),
    (_set(1, activation="relu"), r"layer 1: .*relu Dense layer takes no table"),
])
def test_validate_refuses_bad_tables(mutate, message, tmp_path):
    model = _table_model()
    validate(model)
    mutate(model)
    with pytest.raises(TinyrnnError, match=message) as err:
        validate(model)
    assert "\n" not in str(err.value)
    with pytest.raises(TinyrnnError, match=message.split(":", 1)[1].strip()):
        generate(model, tmp_path)  # codegen refuses it too


def test_activation_kernel_only_when_used(tmp_path):
    plain = generate(irgen.build_model(np.random.default_rng(0), 4, [5], [3, 2]), tmp_path / "a")
    tables = generate(_table_model(), tmp_path / "b")
    assert not any(f.endswith("tinyrnn_activation_s8.c") for f in plain["files"])
    assert any(f.endswith("tinyrnn_activation_s8.c") for f in tables["files"])


@pytest.mark.qemu
@pytest.mark.skipif(not _have_tools, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_default_board_equals_golden(tmp_path):
    """mps2-an386 (Cortex-M4, DSP path): every table kind and relu6 hidden, every step's output."""
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    rng = np.random.default_rng(31)
    model = _stack_model(rng)
    x = _inputs(rng, model, 4, 5)
    with connect("qemu:mps2-an386", model, tmp_path / "fw") as (device, _):
        result = verify_device(device, model, x, progress=False)
    assert (result.error, result.sequences, result.mismatches) == (None, len(x), 0), result.first_mismatch


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m0plus"])
def test_cross_compile_cortex_m_pedantic(cpu, tmp_path):
    """The table kernel, the Conv1D kernel and the models calling them: warning-free for Cortex-M at -Wpedantic."""
    from tinyrnn.core.boards import CORE_PATHS

    out = generate(_stack_model(np.random.default_rng(4)), tmp_path / "src", name="acts", path=CORE_PATHS[cpu])
    front = [(8, 3, 2, "valid", "relu6", 2), ("average", 3, 2)]  # and the Conv1D/pooling front end
    conv = irgen.conv_model(np.random.default_rng(4), 5, front)
    sources = out["files"] + generate(conv, tmp_path / "conv", name="conv", path=CORE_PATHS[cpu])["files"]
    for src in (f for f in sources if f.endswith(".c")):
        cmd = ["arm-none-eabi-gcc", f"-mcpu={cpu}", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-Wconversion",
               "-Werror", "-Wpedantic", "-Wshadow", "-c", src, "-o", str(tmp_path / "x.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{src}:\n{proc.stderr}"
