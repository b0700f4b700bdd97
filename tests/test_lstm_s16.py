"""16x8 LSTM (int16 activations, int8 weights, int64 biases): the golden model against
CMSIS-NN's s16 test vectors (expected outputs from the TFLM reference interpreter), and
the C kernel against the golden model on those cases and on random layers with extreme
int16 inputs: on the host (ASan+UBSan) its portable and DSP paths (the DSP instructions
modelled in C), under QEMU each core's own path (M0 portable, M4 SMLALD, M55 Helium).

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


def param_arrays(layer) -> dict:
    """The kernel's parameters of a 16x8 LSTMLayer, computed here once (tinyrnn_lstm_s16.h):
    w_x, w_h as [H][4][K] rows, bias [H][4], q: the int32 fields in DRIVER's order."""
    mults = np.stack([layer.gate_x_multiplier, layer.gate_h_multiplier], 1).reshape(-1)  # [2g] x, [2g+1] h
    shifts = np.stack([layer.gate_x_shift, layer.gate_h_shift], 1).reshape(-1)
    cell = [layout.requant(getattr(layer, f"{stem}_multiplier"), getattr(layer, f"{stem}_shift"),
                           domain.CELL_PRODUCT_BOUND) for stem in ("forget_to_cell", "input_to_cell", "hidden")]  # fmt: skip
    clip = int(layer.cell_clip)
    clip_range = [max(-clip, -32768), min(clip, 32767)] if clip > 0 else [-32768, 32767]
    q = [*reduced_multiplier(mults), *(15 - shifts), *sum(cell, []), *clip_range,
         *layout.tanh_prescale(int(layer.cell_scale_power) + 12)]  # fmt: skip
    rows = lambda w: np.ascontiguousarray(np.asarray(w).transpose(1, 0, 2)).astype(np.int8)  # noqa: E731
    return {"w_x": rows(layer.w_x), "w_h": rows(layer.w_h), "bias": np.ascontiguousarray(layer.bias.T).astype(np.int64),
            "q": np.array(q, np.int32)}


def params(layer) -> bytes:
    """param_arrays() and the sigmoid table as DRIVER reads them."""
    a = param_arrays(layer)
    return (a["w_x"].tobytes() + a["w_h"].tobytes() + a["bias"].astype("<i8").tobytes() + a["q"].astype("<i4").tobytes()
            + sigmoid_table_uint16().astype("<u2").tobytes())  # fmt: skip


# The portable loop, and the DSP one with its instructions modelled in C (tinyrnn_arch.h).
@pytest.fixture(scope="module", params=[0, 4], ids=["plain", "dsp"])
def run_c(tmp_path_factory, request):
    work = tmp_path_factory.mktemp("lstm16")
    for f in kernel_files():
        (work / f.name).write_bytes(f.read_bytes())
    (work / "driver.c").write_text(DRIVER)
    sources = [work / "driver.c", work / "tinyrnn_lstm_s16.c", *(work / s for s in SUPPORT_SOURCES)]
    exe = compile_host(sources, work / "driver", include_dirs=[work], sanitize=True,
                       extra_flags=[f"-DTINYRNN_PATH={request.param}"])

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
    """The 16x8 recurrent kernels (this LSTM's and the SimpleRNN's with int8 and int16 weights, tests/test_rnn_s16.py)."""
    import subprocess

    for f in kernel_files():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    for kernel in ("tinyrnn_lstm_s16.c", "tinyrnn_rnn_s16.c", "tinyrnn_rnn_s16x16.c"):
        cmd = ["arm-none-eabi-gcc", f"-mcpu={cpu}", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-Wconversion",
               "-Werror", "-Wpedantic", "-Wshadow", "-c", str(tmp_path / kernel), "-o", str(tmp_path / "k.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{kernel}: {proc.stderr}"


APP = r"""
#include "board.h"
#include "data.h"
#include "tinyrnn_lstm_s16.h"

static int16_t h[H], c[H], work[H];

static void put_hex(uint32_t v, int digits)
{
    for (int i = digits - 1; i >= 0; --i) {
        board_putc((uint8_t)"0123456789abcdef"[(v >> (4 * i)) & 0xFu]);
    }
}

int main(void)
{
    board_init();
    tinyrnn_lstm_s16_params p = {I, H, w_x, w_h, bias, {0}, {0},
                                 {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}, 0, 0, 0, 0, 0, lut};
    for (int k = 0; k < 8; ++k) {
        p.gate_mul[k] = q[k];
        p.gate_rshift[k] = q[8 + k];
    }
    tinyrnn_requant_t *rq[3] = {&p.forget_to_cell, &p.input_to_cell, &p.hidden};
    for (int k = 0; k < 3; ++k) {
        const tinyrnn_requant_t r = {q[16 + 6 * k], q[17 + 6 * k], q[18 + 6 * k], q[19 + 6 * k], q[20 + 6 * k],
                                     q[21 + 6 * k]};
        *rq[k] = r;
    }
    p.cell_min = q[34];
    p.cell_max = q[35];
    p.tanh_cell_mul = q[36];
    p.tanh_cell_round = q[37];
    p.tanh_cell_shift = q[38];
    uint32_t ticks = 0;
    for (int t = 0; t < T; ++t) {
        const uint32_t t0 = board_ticks();
        tinyrnn_lstm_s16_step(&p, x + t * I, h, c, work);
        ticks += board_ticks() - t0;
        for (int j = 0; j < H; ++j) {
            put_hex((uint16_t)h[j], 4);
        }
    }
    board_putc('\n');
    put_hex(ticks, 8);
    board_putc('\n');
    for (;;) {
    }
}
"""


def _c_array(name: str, a: np.ndarray, ctype: str) -> str:
    return f"static const {ctype} {name}[{a.size}] = {{{', '.join(str(int(v)) for v in a.ravel())}}};\n"


def _firmware_header(layer, x: np.ndarray) -> str:
    a = param_arrays(layer)
    return ("#include <stdint.h>\n" + f"#define I {layer.input_size}\n#define H {layer.hidden_size}\n#define T {len(x)}\n"
            + _c_array("w_x", a["w_x"], "int8_t") + _c_array("w_h", a["w_h"], "int8_t")
            + _c_array("bias", a["bias"], "int64_t") + _c_array("q", a["q"], "int32_t")
            + _c_array("lut", sigmoid_table_uint16(), "uint16_t") + _c_array("x", x, "int16_t"))  # fmt: skip


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board", ["microbit", "mps2-an386", "mps3-an547"])  # portable, DSP (SMLALD), Helium
def test_each_core_path_equals_golden_on_qemu(s16_cases, board, tmp_path):
    """The kernel as its board's build compiles it (the path from the core), 20 steps of a
    random layer with odd sizes (every loop tail) and the lstm_1_s16 vector's 10."""
    import serial

    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.firmware import render_firmware
    from tinyrnn.harness.qemu import Qemu

    rng = np.random.default_rng(55)
    layers = [(_random_layer(rng, s16_cases[0].layer, 9, 13, False), rng.integers(-32768, 32768, (20, 9), np.int16)),
              (s16_cases[0].layer, s16_cases[0].x[0])]
    kernels = [str(f) for f in kernel_files() if f.suffix == ".h" or f.name in ("tinyrnn_lstm_s16.c", *SUPPORT_SOURCES)]
    for n, (layer, x) in enumerate(layers):
        (tmp_path / f"app{n}").mkdir()
        (tmp_path / f"app{n}" / "main.c").write_text(APP)
        (tmp_path / f"app{n}" / "data.h").write_text(_firmware_header(layer, x))
        project = render_firmware(tmp_path / f"fw{n}", board, [str(tmp_path / f"app{n}" / f) for f in ("main.c", "data.h")],
                                  extra_sources=kernels)
        elf = build(project["project_dir"])["elf"]
        with Qemu(board, elf, timeout_s=60) as qemu:
            port = serial.serial_for_url(qemu.url, timeout=30)
            lines = [port.readline().decode().strip() for _ in range(2)]
            port.close()
        got = np.frombuffer(bytes.fromhex(lines[0]), ">u2").astype(np.int16).reshape(len(x), layer.hidden_size)
        np.testing.assert_array_equal(got, lstm_s16(layer, x[None])[0][0], err_msg=f"{board} layer {n}")
        assert int(lines[1], 16) > 0
