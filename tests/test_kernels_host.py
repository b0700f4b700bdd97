"""The C kernels' building blocks against the golden model, exhaustively where feasible.

One small driver is compiled with ASan+UBSan, so every comparison here is also a run
with zero sanitizer reports (any report fails the call): all 65536 int16 inputs of the
sigmoid/tanh functions the cells call (every gate; the LSTM's tanh(c) at every accepted
prescale shift), and requantize over random and extreme
int32 accumulators, multipliers and every shift in [-31, 30].
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tinyrnn.codegen import layout
from tinyrnn.codegen.hostlib import compile_host, run_host
from tinyrnn.codegen.kernel_set import kernel_files
from tinyrnn.core import domain
from tinyrnn.core.golden.activation_s16 import sigmoid_s16, tanh_s16
from tinyrnn.core.golden.fixedpoint import requantize, sat16
from tinyrnn.core.golden.lut import sigmoid_table_uint16

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

# Test-only driver: blocks of requests on stdin until EOF, each headed by five int32
# (n, kind, mul, round, shift). kind 0: n int16 gate values x -> the cells' sigmoid and tanh
# of the table input 3x; kind 1: n int16 cell states -> the LSTM's tanh(c) through the
# prescale (mul, round, shift); kind 2: n triples (acc, multiplier, shift) -> requantize.
# The sigmoid table comes from Python (tinyrnn.core.golden.lut), never from C source.
DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "tinyrnn_activation_s16.h"
#include "tinyrnn_fixedpoint.h"

static int16_t in16[65536], out16[2 * 65536];
static int32_t req[3 * 65536], out32[65536];
static uint16_t lut[TINYRNN_SIGMOID_LUT_SIZE];

static void activations(size_t n, const int32_t *head)
{
    for (size_t k = 0; k < n; ++k) {
        if (head[1] == 0) {
            out16[2 * k] = (int16_t)tinyrnn_sigmoid_gate(3 * in16[k], lut);
            out16[2 * k + 1] = (int16_t)tinyrnn_tanh_prescaled(3 * in16[k], lut);
        } else {
            out16[k] = (int16_t)tinyrnn_tanh_prescaled(tinyrnn_act_prescale_fixed(in16[k], head[2], head[3], head[4]), lut);
        }
    }
    fwrite(out16, sizeof out16[0], head[1] == 0 ? 2 * n : n, stdout);
}

int main(void)
{
    int32_t head[5];
    if (fread(lut, sizeof lut[0], TINYRNN_SIGMOID_LUT_SIZE, stdin) != TINYRNN_SIGMOID_LUT_SIZE) {
        return 4;
    }
    while (fread(head, sizeof head[0], 5, stdin) == 5) {
        const size_t n = (size_t)head[0];
        if (n > 65536) {
            return 2;
        }
        if (head[1] < 2) {
            if (fread(in16, sizeof in16[0], n, stdin) != n) {
                return 4;
            }
            activations(n, head);
        } else {
            if (fread(req, sizeof req[0], 3 * n, stdin) != 3 * n) {
                return 4;
            }
            for (size_t k = 0; k < n; ++k) {
                out32[k] = tinyrnn_requantize(req[3 * k], req[3 * k + 1], req[3 * k + 2]);
            }
            fwrite(out32, sizeof out32[0], n, stdout);
        }
    }
    return 0;
}
"""


def _head(n: int, kind: int, mul: int = 0, rnd: int = 0, shift: int = 0) -> bytes:
    return np.array([n, kind, mul, rnd, shift], "<i4").tobytes()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    work = tmp_path_factory.mktemp("kernels")
    for f in kernel_files():
        (work / f.name).write_bytes(f.read_bytes())
    (work / "driver.c").write_text(DRIVER)
    sources = [work / "driver.c"]
    exe = compile_host(sources, work / "driver", include_dirs=[work], sanitize=True)
    lut = sigmoid_table_uint16().astype("<u2").tobytes()

    def call(blocks: bytes, out_dtype, count: int) -> np.ndarray:
        out = run_host(exe, [], lut + blocks, sanitize=True)
        return np.frombuffer(out, out_dtype).reshape(-1)[:count] if len(out) else np.zeros(0, out_dtype)

    return call


ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def test_gate_activations_exhaustive(driver):
    """tinyrnn_sigmoid_gate and tinyrnn_tanh_prescaled on 3x, as every LSTM and GRU gate
    calls them, for all 65536 int16 pre-activations."""
    got = driver(_head(65536, 0) + ALL_INT16.astype("<i2").tobytes(), "<i2", 2 * 65536).reshape(65536, 2)
    for k, (kind, golden) in enumerate((("sigmoid", sigmoid_s16), ("tanh", tanh_s16))):
        want = golden(ALL_INT16)
        bad = np.flatnonzero(got[:, k] != want)
        assert bad.size == 0, f"{kind}: x={ALL_INT16[bad[:5]]} C={got[bad[:5], k]} golden={want[bad[:5]]}"


def test_cell_tanh_exhaustive_at_every_accepted_shift(driver):
    """The LSTM's tanh(c): codegen's prescale (layout.tanh_prescale) then the table, for
    all int16 cell states at every shift cell_scale_power + 12 the domain accepts."""
    shifts = list(range(domain.ACT_SHIFT_MIN, domain.ACT_SHIFT_MAX + 1))
    blocks = b"".join(_head(65536, 1, *layout.tanh_prescale(s)) + ALL_INT16.astype("<i2").tobytes() for s in shifts)
    got = driver(blocks, "<i2", 65536 * len(shifts)).reshape(len(shifts), 65536)
    for row, shift in zip(got, shifts):
        want = tanh_s16(ALL_INT16, shift)
        bad = np.flatnonzero(row != want)
        assert bad.size == 0, f"tanh shift {shift}: c={ALL_INT16[bad[:5]]} C={row[bad[:5]]} golden={want[bad[:5]]}"


def _requant_cases(rng, n: int):
    edges = np.array([-(2**31), -(2**31) + 1, -(2**30), -65536, -32769, -1, 0, 1, 32767, 2**30, 2**31 - 1], np.int64)
    acc = np.concatenate([rng.integers(-(2**31), 2**31, n), rng.integers(-70000, 70000, n), edges])
    mult = np.concatenate([rng.integers(-(2**31), 2**31, n), rng.integers(2**30, 2**31, n),
                           np.array([-(2**31), 0, 1, 2**30, 2**31 - 1] * 2 + [2**30], np.int64)])
    rng.shuffle(mult)
    return acc, mult[: acc.size]


def test_requantize_right_shifts_exact(driver):
    """shift <= 0: C == golden for any int32 acc and multiplier (no precondition)."""
    rng = np.random.default_rng(7)
    acc, mult = _requant_cases(rng, 3000)
    blocks, cases = b"", []
    for shift in range(-31, 1):
        triples = np.stack([acc, mult, np.full_like(acc, shift)], axis=1)
        blocks += _head(acc.size, 2) + triples.astype("<i4").tobytes()
        cases.append(triples)
    got = driver(blocks, "<i4", acc.size * 32)
    triples = np.concatenate(cases)
    want = requantize(triples[:, 0], triples[:, 1], triples[:, 2])
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"(acc, m, s)={triples[bad[:3]].tolist()} C={got[bad[:3]]} golden={want[bad[:3]]}"


def test_requantize_left_shifts(driver):
    """shift > 0: exact while acc·2^shift fits int32 (tinyrnn.core.domain, which no
    loadable model leaves); beyond it the golden model refuses, and the C saturates to
    the rail the true product's sign points to (after the int16 saturation every caller
    applies, with a normalized multiplier: |true value| >= 2^30)."""
    rng = np.random.default_rng(8)
    shifts = rng.integers(1, 31, 20000)
    limit = (2**31 - 1) >> shifts
    acc = rng.integers(-limit - 1, limit + 1)
    mult = rng.integers(-(2**31), 2**31, shifts.size)
    over_acc = np.where(rng.random(shifts.size) < 0.5, 1, -1) * rng.integers(limit + 1, 2 * limit + 1)
    norm = np.where(rng.random(shifts.size) < 0.5, 1, -1) * rng.integers(2**30, 2**31 - 1, shifts.size)
    triples = np.concatenate([np.stack([acc, mult, shifts], 1), np.stack([over_acc, norm, shifts], 1)])
    blocks = b"".join(_head(len(chunk), 2) + chunk.astype("<i4").tobytes()
                      for chunk in np.array_split(triples, 4))
    got = driver(blocks, "<i4", len(triples)).astype(np.int64)
    n = shifts.size
    assert np.array_equal(got[:n], requantize(triples[:n, 0], triples[:n, 1], triples[:n, 2]))
    with pytest.raises(OverflowError):
        requantize(triples[n:, 0], triples[n:, 1], triples[n:, 2])
    rail = np.where(np.sign(over_acc) * np.sign(norm) > 0, 32767, -32768)
    assert np.array_equal(sat16(got[n:]), rail)
