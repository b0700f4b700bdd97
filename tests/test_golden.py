"""Golden model: TFLM vectors bit-exact, fixed-point primitives against exact integer math."""

from __future__ import annotations

import numpy as np
import pytest

from tinyrnn.core.golden.activation_s16 import sigmoid_s16, tanh_s16
from tinyrnn.core.golden.fixedpoint import quantize_multiplier, requantize
from tinyrnn.core.golden.lstm_s8 import lstm_s8
from tinyrnn.core.vectors import load_case


def test_every_tflm_vector_case_bit_exact(vector_files):
    assert len(vector_files) >= 3
    for path in vector_files:
        case = load_case(path)
        out, _ = lstm_s8(case.layer, case.x)
        assert out.shape == case.expected.shape, path.name
        np.testing.assert_array_equal(out, case.expected, err_msg=path.name)


def _requantize_exact(acc: int, m: int, s: int) -> int:
    """Python big-int model of gemmlowp's two roundings, independent of numpy."""
    x = acc << max(s, 0)
    prod = x * m
    nudge = (1 << 30) if prod >= 0 else 1 - (1 << 30)
    v = prod + nudge
    high = (abs(v) >> 31) * (1 if v >= 0 else -1)  # C division truncates toward zero
    right = max(-s, 0)
    mask = (1 << right) - 1
    rem, thr = high & mask, (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if rem > thr else 0)


def test_requantize_matches_big_int_model():
    rng = np.random.default_rng(1)
    acc = rng.integers(-(2**24), 2**24, 4000)
    m = rng.integers(2**30, 2**31 - 1, 4000)
    s = rng.integers(-20, 1, 4000)
    got = requantize(acc, m, s)
    want = [_requantize_exact(int(a), int(b), int(c)) for a, b, c in zip(acc, m, s)]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("real", [2.0**-15, 0.3, 1.0 - 1e-12, 1e-9, 3.7e-5, 0.5])
def test_quantize_multiplier_reconstructs_real(real):
    m, s = quantize_multiplier(real)
    assert 2**30 <= m < 2**31
    assert abs(m * 2.0 ** (s - 31) - real) <= real * 2**-30


def test_activations_monotone_and_bounded_over_all_int16():
    x = np.arange(-32768, 32768)
    sig, tan = sigmoid_s16(x).astype(int), tanh_s16(x).astype(int)
    assert np.all(np.diff(sig) >= 0) and np.all(np.diff(tan) >= 0)
    assert sig.min() >= 0 and sig[32768] == 16384  # sigmoid(0) = 0.5 in Q0.15
    assert tan[32768] == 0
    # Within 2 LSB of the real functions over Q3.12 (interpolation + rounding).
    real = x / 4096.0
    assert np.max(np.abs(sig - 32768 / (1 + np.exp(-real)))) < 2.5
    assert np.max(np.abs(tan - 32768 * np.tanh(real))) < 2.5
