"""Calibration and quantizer levers (range rule, bias correction, cell power), without TensorFlow.

Models are built from random numpy weights (FloatLSTM/FloatGRU/FloatDense in a
FloatModel), quantized with ``quantize_model`` and run by the golden model.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.quantize.calibrate import calibrate, quantization_mse, value_range
from tinyrnn.quantize.float_model import FloatDense, FloatGRU, FloatLSTM, FloatModel
from tinyrnn.quantize.layers import cell_scale_power, choose_cell_power, symmetric_weights
from tinyrnn.quantize.pipeline import quantize_model

STEPS, FEATURES, UNITS, CLASSES = 10, 4, 8, 3


def _coarse_weights(rng, shape):
    """Small weights plus one large one per row: the per-block int8 step is coarse, rounding errors big."""
    w = rng.normal(0.0, 0.15, shape)
    w[0, :] = rng.choice([-1.0, 1.0], shape[1]) * 1.5
    return w


def _model(rng, kind: str, reset_after: bool = True, dense_only: bool = False) -> FloatModel:
    head_in = FEATURES if dense_only else UNITS
    head = FloatDense("head", _coarse_weights(rng, (head_in, CLASSES)), rng.normal(0.0, 0.1, CLASSES), "linear")
    layers = [head]
    if kind == "lstm":
        layers.insert(0, FloatLSTM("lstm", _coarse_weights(rng, (FEATURES, 4 * UNITS)),
                                   _coarse_weights(rng, (UNITS, 4 * UNITS)) * 0.5, rng.normal(0.0, 0.1, 4 * UNITS), False))  # fmt: skip
    elif kind == "gru":
        rec_bias = rng.normal(0.0, 0.1, 3 * UNITS) if reset_after else np.zeros(3 * UNITS)
        layers.insert(0, FloatGRU("gru", _coarse_weights(rng, (FEATURES, 3 * UNITS)), _coarse_weights(rng, (UNITS, 3 * UNITS)) * 0.5,
                                  rng.normal(0.0, 0.1, 3 * UNITS), rec_bias, False, reset_after))  # fmt: skip
    return FloatModel("m", (STEPS, FEATURES), np.zeros(FEATURES), np.ones(FEATURES), layers)


def _inputs(rng, n=64):
    """Raw inputs with non-zero means (like gravity on an accelerometer): E[x] drives the bias shift."""
    return (rng.normal(0.0, 0.3, (n, STEPS, FEATURES)) + [1.0, -0.8, 0.6, 0.0]).astype(np.float32)


# ---------------------------------------------------------------- value_range


def test_minmax_and_percentile_ranges():
    rng = np.random.default_rng(0)
    v = rng.normal(size=10_000)
    assert value_range(v, "minmax") == (v.min(), v.max())
    lo, hi = value_range(v, "percentile", 99.0)
    assert lo == pytest.approx(np.percentile(v, 1.0)) and hi == pytest.approx(np.percentile(v, 99.0))
    assert value_range(v, "percentile", 100.0) == pytest.approx((v.min(), v.max()))


def test_mse_clips_heavy_tails_and_beats_minmax():
    v = np.random.default_rng(1).laplace(size=200_000)  # heavy (exponential) tails: min/max lie far out
    lo_m, hi_m = value_range(v, "minmax")
    lo, hi = value_range(v, "mse")
    assert lo_m < lo < 0.0 < hi < hi_m
    assert quantization_mse(v, lo, hi) < 0.85 * quantization_mse(v, lo_m, hi_m)
    assert quantization_mse(v, lo, hi) < quantization_mse(v, *value_range(v, "percentile"))
    # Rare but huge outliers: clipping them would cost more than the resolution gained.
    v[:40] = 50.0
    assert value_range(v, "mse")[1] > 40.0


def test_mse_keeps_nearly_the_whole_range_of_uniform_values():
    v = np.random.default_rng(2).uniform(-1.0, 2.0, 50_000)
    lo, hi = value_range(v, "mse")
    assert v.min() <= lo <= 0.95 * v.min() and 0.95 * v.max() <= hi <= v.max()
    assert quantization_mse(v, lo, hi) <= quantization_mse(v, v.min(), v.max())


# ---------------------------------------------------------------- bias correction


def _dense_mean_error(model: FloatModel, x: np.ndarray, bias_correction: bool) -> float:
    q = quantize_model(model, x, method="minmax", bias_correction=bias_correction)
    got = dequantize_output(q, run_model(q, q.input_quant.quantize(x)))
    return float(np.abs((got - model.run(x)).reshape(-1, CLASSES).mean(axis=0)).max())


def test_bias_correction_removes_the_mean_output_shift_of_a_dense_layer():
    rng = np.random.default_rng(3)
    model, x = _model(rng, "dense", dense_only=True), _inputs(rng)
    plain, corrected = _dense_mean_error(model, x, False), _dense_mean_error(model, x, True)
    assert corrected < 0.3 * plain, (plain, corrected)


def _gate_mean_error(model: FloatModel, x: np.ndarray, bias_correction: bool) -> float:
    """Largest |mean error| of a gate pre-activation (int Q3.12 vs float), over calibration data."""
    q = quantize_model(model, x, method="minmax", bias_correction=bias_correction)
    probes: list = []
    run_model(q, q.input_quant.quantize(x), probes)
    traces: list = []
    model.run(x, traces)
    ref = np.stack(traces[0]["gates"], axis=1)  # (N, T, G·H)
    names = [k for k in probes[0] if k.startswith("gate_")]
    got = np.concatenate([np.stack(probes[0][k], axis=1) for k in names], axis=-1) / 4096.0
    return float(np.abs((got - ref).reshape(-1, ref.shape[-1]).mean(axis=0)).max())


@pytest.mark.parametrize("kind, reset_after", [("lstm", True), ("gru", True), ("gru", False)])
def test_bias_correction_reduces_the_mean_gate_error_of_a_recurrent_layer(kind, reset_after):
    rng = np.random.default_rng(4)
    model, x = _model(rng, kind, reset_after), _inputs(rng)
    plain, corrected = _gate_mean_error(model, x, False), _gate_mean_error(model, x, True)
    assert corrected < 0.5 * plain, (plain, corrected)


def test_bias_correction_changes_only_biases():
    rng = np.random.default_rng(5)
    model, x = _model(rng, "gru", reset_after=False), _inputs(rng)
    a, b = quantize_model(model, x, bias_correction=False), quantize_model(model, x, bias_correction=True)
    assert np.array_equal(a.layers[0].w_x, b.layers[0].w_x) and np.array_equal(a.layers[0].w_h, b.layers[0].w_h)
    assert not np.array_equal(a.layers[0].bias_x, b.layers[0].bias_x)
    assert not b.layers[0].bias_h[2].any()  # reset_after=False: the candidate's recurrent bias row stays 0
    assert b.meta["calibration"]["bias_correction"] is True


# ---------------------------------------------------------------- cell power


def test_cell_power_rules():
    assert cell_scale_power(0.0) == -15 and cell_scale_power(1e-9) == -15
    assert cell_scale_power(3.0) == -13 and cell_scale_power(4.0) == -13 and cell_scale_power(4.01) == -12
    ranges = {"abs_cell": 5.0, "abs_cell_percentile": 1.5}
    assert choose_cell_power(ranges, "max") == -12  # 5 ≤ 2^3
    assert choose_cell_power(ranges, "tight") == -13  # one lower: |c| > 4 saturates
    assert choose_cell_power(ranges, "percentile") == -14  # 1.5 ≤ 2^1
    assert choose_cell_power({"abs_cell": 1e-6}, "tight") == -15


def test_cell_power_option_on_a_model():
    rng = np.random.default_rng(6)
    model, x = _model(rng, "lstm"), _inputs(rng)
    stats = calibrate(model, x).layers[0]
    powers = {rule: quantize_model(model, x, cell_power=rule).layers[0].cell_scale_power for rule in ("max", "tight", "percentile")}
    assert stats["abs_cell"] <= 2.0 ** (15 + powers["max"]) < 2 * stats["abs_cell"]  # covers the extremes, no more
    assert powers["tight"] == powers["max"] - 1
    assert powers["percentile"] == cell_scale_power(stats["abs_cell_percentile"]) <= powers["max"]
    assert quantize_model(model, x, percentile=60.0, cell_power="percentile").layers[0].cell_scale_power < powers["max"]


# ---------------------------------------------------------------- weight scales


def _weight_mse(w, q, scale):
    return float(np.mean((q * scale - w) ** 2))


def test_mse_weight_scale_clips_heavy_tails_and_lowers_the_error():
    # A large heavy-tailed block: its extremes lie beyond the MSE-optimal 8-bit clip (small blocks rarely do).
    w = np.random.default_rng(8).laplace(0.0, 0.05, (256, 256))
    q_max, s_max = symmetric_weights(w)
    q_mse, s_mse = symmetric_weights(w, rule="mse")
    assert s_mse < 0.9 * s_max and np.count_nonzero(np.abs(q_mse) == 127) > 1  # the largest weights saturate
    assert _weight_mse(w, q_mse, s_mse) < 0.85 * _weight_mse(w, q_max, s_max)
    lone = np.full((8, 8), 0.01)
    lone[0, 0] = 1.0  # one far outlier: clipping it would cost more than the resolution gained
    assert symmetric_weights(lone, rule="mse")[1] == symmetric_weights(lone)[1]


def test_mse_weight_scales_per_row_never_worse_than_max():
    w = np.random.default_rng(9).uniform(-1.0, 1.0, (6, 40))
    q_max, s_max = symmetric_weights(w, axis=1)
    q_mse, s_mse = symmetric_weights(w, axis=1, rule="mse")
    assert s_mse.shape == (6,) and np.all(s_mse <= s_max)
    for row in range(6):
        assert _weight_mse(w[row], q_mse[row], s_mse[row]) <= _weight_mse(w[row], q_max[row], s_max[row])
    assert symmetric_weights(np.zeros((3, 3)), rule="mse")[1] == 1.0


# ---------------------------------------------------------------- option checks


@pytest.mark.parametrize(
    "options, message",
    [
        ({"method": "kmeans"}, "method 'kmeans'"),
        ({"percentile": 20.0}, "percentile"),
        ({"percentile": "high"}, "percentile"),
        ({"percentile": float("nan")}, "percentile"),
        ({"cell_power": "huge"}, "cell_power 'huge'"),
        ({"bias_correction": "yes"}, "bias_correction"),
        ({"weights": "fp16"}, "weights 'fp16'"),
    ],
)
def test_invalid_options_name_the_option(options, message):
    rng = np.random.default_rng(7)
    model, x = _model(rng, "lstm"), _inputs(rng, 4)
    with pytest.raises(TinyrnnError, match=message):
        quantize_model(model, x, **options)


def test_precomputed_ranges_give_the_same_model():
    rng = np.random.default_rng(10)
    model, x = _model(rng, "lstm"), _inputs(rng, 16)
    ranges = calibrate(model, x, "mse")
    a = quantize_model(model, x, method="mse", bias_correction=True)
    b = quantize_model(model, x, method="mse", bias_correction=True, ranges=ranges)
    assert a.content_hash() == b.content_hash()
    ranges.layers.pop()
    with pytest.raises(TinyrnnError, match="ranges cover 1 layers"):
        quantize_model(model, x, ranges=ranges)


def test_value_range_refuses_unknown_method_and_empty_values():
    with pytest.raises(TinyrnnError, match="method 'median'"):
        value_range(np.ones(3), "median")
    with pytest.raises(TinyrnnError, match="no values"):
        value_range(np.ones(0), "minmax")


def test_cli_parses_the_levers():
    from tinyrnn.app.cli import _parser

    args = _parser().parse_args(["quantize", "m.keras", "--calib", "d.npz", "--out", "m.tnr", "--method", "mse",
                                 "--bias-correction", "--cell-power", "tight", "--percentile", "99.9", "--weights", "mse"])  # fmt: skip
    assert (args.method, args.bias_correction, args.cell_power, args.percentile, args.weights) == ("mse", True, "tight", 99.9, "mse")
    with pytest.raises(SystemExit):
        _parser().parse_args(["quantize", "m.keras", "--out", "m.tnr", "--cell-power", "huge"])


def test_cli_and_quantize_model_share_the_defaults():
    import inspect

    from tinyrnn.app.cli import _parser
    from tinyrnn.quantize.pipeline import DEFAULTS

    args = vars(_parser().parse_args(["quantize", "m.keras", "--out", "m.tnr"]))
    # the CLI leaves the headroom to quantize_file, which picks it from the calibration targets, and
    # the logits width to quantize_model (given for a .tflite, it is refused)
    late = ("output_headroom", "logits")
    assert args["output_headroom"] is None and args["logits"] is None
    assert {k: args[k] for k in DEFAULTS if k not in late} == {k: v for k, v in DEFAULTS.items() if k not in late}
    params = inspect.signature(quantize_model).parameters
    assert {k: params[k].default for k in DEFAULTS} == DEFAULTS
    assert _parser().parse_args(["quantize", "m.keras", "--out", "m.tnr", "--no-bias-correction"]).bias_correction is False
