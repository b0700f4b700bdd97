"""16x8 LSTM (int16 activations, int8 weights, int64 biases): the golden model against
CMSIS-NN's s16 test vectors (expected outputs from the TFLM reference interpreter), and
the portable C kernel (host, ASan+UBSan) against the golden model on those cases and on
random layers with extreme int16 inputs.

The C kernel is driven directly (parameters streamed in from Python, computed by the
functions below); generated 16x8 models: test_s16_model.py.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from conftest import shared_path

from tinyrnn.codegen import layout
from tinyrnn.codegen.kernel_set import SUPPORT_SOURCES, kernel_files
from tinyrnn.codegen.hostlib import compile_host, run_host
from tinyrnn.core import domain
from tinyrnn.core.golden.fixedpoint import quantize_multiplier, reduced_multiplier
from tinyrnn.core.golden.lstm_s16 import lstm_s16
from tinyrnn.core.golden.lut import sigmoid_table_uint16
from tinyrnn.core.vectors import load_case

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

DRIVER = r"""
#include <stdio.h>
#include "tinyrnn_activation_s16.h"
#include "tinyrnn_lstm_s16.h"

#define MAX_W 65536
static int8_t w_x[MAX_W], w_h[MAX_W];
static int64_t bias[4096];
static int16_t x[MAX_W], h[1024], c[1024], work[1024];
static uint16_t lut[TINYRNN_SIGMOID_LUT_SIZE];

static int read_all(void *dst, size_t size, size_t n) { return fread(dst, size, n, stdin) == n; }

int main(void)
{
    int32_t dims[4]; /* I, H, B, T */
    int32_t q[16 + 18 + 5];
    tinyrnn_lstm_s16_params p;
    if (!read_all(dims, 4, 4) || dims[1] > 1024 || 4 * dims[1] * dims[0] > MAX_W || 4 * dims[1] * dims[1] > MAX_W ||
        dims[0] * dims[3] > MAX_W) {
        return 2;
    }
    const size_t n_x = (size_t)(4 * dims[1] * dims[0]), n_h = (size_t)(4 * dims[1] * dims[1]);
    if (!read_all(w_x, 1, n_x) || !read_all(w_h, 1, n_h) || !read_all(bias, 8, (size_t)(4 * dims[1])) ||
        !read_all(q, 4, sizeof q / 4) || !read_all(lut, 2, TINYRNN_SIGMOID_LUT_SIZE)) {
        return 3;
    }
    p.input_size = dims[0];
    p.hidden_size = dims[1];
    p.w_x = w_x;
    p.w_h = w_h;
    p.bias = bias;
    for (int k = 0; k < 8; ++k) {
        p.gate_mul[k] = q[k];
        p.gate_rshift[k] = q[8 + k];
    }
    tinyrnn_requant_t *rq[3] = {&p.forget_to_cell, &p.input_to_cell, &p.hidden};
    for (int k = 0; k < 3; ++k) {
        const int32_t *d = q + 16 + 6 * k;
        tinyrnn_requant_t r = {d[0], d[1], d[2], d[3], d[4], d[5]};
        *rq[k] = r;
    }
    p.cell_min = q[34];
    p.cell_max = q[35];
    p.tanh_cell_mul = q[36];
    p.tanh_cell_round = q[37];
    p.tanh_cell_shift = q[38];
    p.sigmoid_lut = lut;
    for (int32_t b = 0; b < dims[2]; ++b) {
        if (!read_all(x, 2, (size_t)(dims[0] * dims[3]))) {
            return 4;
        }
        for (int32_t j = 0; j < dims[1]; ++j) {
            h[j] = 0;
            c[j] = 0;
        }
        for (int32_t t = 0; t < dims[3]; ++t) {
            tinyrnn_lstm_s16_step(&p, x + t * dims[0], h, c, work);
            fwrite(h, 2, (size_t)dims[1], stdout);
        }
    }
    return 0;
}
"""


def params(layer) -> bytes:
    """The kernel's parameters of a 16x8 LSTMLayer, computed here once (tinyrnn_lstm_s16.h)."""
    mults = np.stack([layer.gate_x_multiplier, layer.gate_h_multiplier], 1).reshape(-1)  # [2g] x, [2g+1] h
    shifts = np.stack([layer.gate_x_shift, layer.gate_h_shift], 1).reshape(-1)
    cell = [layout.requant(getattr(layer, f"{stem}_multiplier"), getattr(layer, f"{stem}_shift"),
                           domain.CELL_PRODUCT_BOUND) for stem in ("forget_to_cell", "input_to_cell", "hidden")]  # fmt: skip
    clip = int(layer.cell_clip)
    clip_range = [max(-clip, -32768), min(clip, 32767)] if clip > 0 else [-32768, 32767]
    q = [*reduced_multiplier(mults), *(15 - shifts), *sum(cell, []), *clip_range,
         *layout.tanh_prescale(int(layer.cell_scale_power) + 12)]  # fmt: skip
    rows = lambda w: np.ascontiguousarray(np.asarray(w).transpose(1, 0, 2)).astype(np.int8).tobytes()  # noqa: E731
    return (rows(layer.w_x) + rows(layer.w_h) + np.ascontiguousarray(layer.bias.T).astype("<i8").tobytes()
            + np.array(q, "<i4").tobytes() + sigmoid_table_uint16().astype("<u2").tobytes())  # fmt: skip


@pytest.fixture(scope="module")
def run_c(tmp_path_factory):
    work = tmp_path_factory.mktemp("lstm16")
    for f in kernel_files():
        (work / f.name).write_bytes(f.read_bytes())
    (work / "driver.c").write_text(DRIVER)
    sources = [work / "driver.c", work / "tinyrnn_lstm_s16.c", *(work / s for s in SUPPORT_SOURCES)]
    exe = compile_host(sources, work / "driver", include_dirs=[work], sanitize=True)

    def run(layer, x: np.ndarray) -> np.ndarray:
        b, t, i = x.shape
        head = np.array([i, layer.hidden_size, b, t], "<i4").tobytes()
        out = run_host(exe, [], head + params(layer) + x.astype("<i2").tobytes(), sanitize=True)
        return np.frombuffer(out, "<i2").reshape(b, t, layer.hidden_size)

    return run


@pytest.fixture
def s16_cases():
    files = sorted(shared_path("vectors", "tflm_lstm_s16").glob("*.json"))
    assert len(files) == 3, files
    return [load_case(f) for f in files]


def test_golden_reproduces_every_cmsis_nn_s16_vector(s16_cases):
    for case in s16_cases:
        out, _ = lstm_s16(case.layer, case.x)
        assert out.dtype == np.int16 and out.shape == case.expected.shape
        np.testing.assert_array_equal(out, case.expected, err_msg=case.name)


def test_host_c_reproduces_every_cmsis_nn_s16_vector(s16_cases, run_c):
    for case in s16_cases:
        np.testing.assert_array_equal(run_c(case.layer, case.x), case.expected, err_msg=case.name)


def _random_layer(rng, base, inputs: int, hidden: int, extreme: bool):
    """A 16x8 layer with the vectors' cell/hidden scaling and random weights, biases and
    gate multipliers; ``extreme``: weights at the int8 rails and large biases."""
    w = (lambda shape: rng.choice(np.array([-128, 127], np.int8), shape)) if extreme else (
        lambda shape: rng.integers(-128, 128, shape, dtype=np.int8))  # fmt: skip
    pairs = [quantize_multiplier(float(r)) for r in 2.0 ** rng.uniform(-14, -6, 8)]
    mults, shifts = np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)
    bias = rng.integers(-(2**34) if extreme else -(2**20), 2**34 if extreme else 2**20, (4, hidden), dtype=np.int64)
    return dataclasses.replace(base, input_size=inputs, hidden_size=hidden, w_x=w((4, hidden, inputs)),
                               w_h=w((4, hidden, hidden)), bias=bias, gate_x_multiplier=mults[:4],
                               gate_x_shift=shifts[:4], gate_h_multiplier=mults[4:], gate_h_shift=shifts[4:])  # fmt: skip


@pytest.mark.parametrize("extreme", [False, True])
def test_host_c_equals_golden_on_random_layers(s16_cases, run_c, extreme):
    rng = np.random.default_rng(16 + extreme)
    for inputs, hidden in ((1, 1), (5, 3), (22, 11), (9, 40)):
        layer = _random_layer(rng, s16_cases[0].layer, inputs, hidden, extreme)
        x = rng.choice(np.array([-32768, 32767], np.int16), (3, 12, inputs)) if extreme else rng.integers(
            -32768, 32768, (3, 12, inputs), dtype=np.int16)  # fmt: skip
        np.testing.assert_array_equal(run_c(layer, x), lstm_s16(layer, x)[0], err_msg=f"{inputs}x{hidden}")


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4", "cortex-m55"])
def test_kernel_cross_compiles_warning_free(tmp_path, cpu):
    import subprocess

    for f in kernel_files():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    cmd = ["arm-none-eabi-gcc", f"-mcpu={cpu}", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-Wconversion",
           "-Werror", "-Wpedantic", "-Wshadow", "-c", str(tmp_path / "tinyrnn_lstm_s16.c"), "-o", str(tmp_path / "k.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
