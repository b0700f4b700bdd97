"""Tasks beyond classification: regression targets (RMSE/MAE/R² per output, never an
accuracy) and per-step labels of sequence models (per-step accuracy), in eval, report
and verify. Expected figures are computed here from the golden model's int8 outputs
with plain numpy; the device is bit-exact with the golden model, so its figures must be
the same numbers."""

from __future__ import annotations

import irgen
import numpy as np
import pytest
from test_cli import assert_user_error, run_cli, run_json

from tinyrnn.core import tnr
from tinyrnn.core.golden.model import run_model
from tinyrnn.quantize.float_model import FloatDense, FloatLSTM, FloatModel
from tinyrnn.quantize.pipeline import quantize_model
from tinyrnn.quantize.report import build_report, text_summary
from tinyrnn.quantize.report_html import render_html

STEPS, FEATURES = 8, 4


def _golden_float(model, x):
    y = run_model(model, model.input_quant.quantize(x)).astype(np.float64)
    return (y - model.output_zero_point) * model.output_scale


def _rmse_mae_r2(pred, y):
    """Per output column, written out independently of tinyrnn.core.metrics."""
    out = []
    for k in range(pred.shape[1]):
        e = [p - t for p, t in zip(pred[:, k], y[:, k])]
        mean = sum(y[:, k]) / len(e)
        sst = sum((t - mean) ** 2 for t in y[:, k])
        out.append(((sum(v * v for v in e) / len(e)) ** 0.5, sum(abs(v) for v in e) / len(e), 1 - sum(v * v for v in e) / sst))
    return [list(col) for col in zip(*out)]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A 1-output and a 2-output model, a sequence model, and their data files."""
    d = tmp_path_factory.mktemp("tasks")
    rng = np.random.default_rng(11)
    models = {"one": irgen.build_model(rng, FEATURES, [8], [1], name="one"),
              "two": irgen.build_model(rng, FEATURES, [8], [2], name="two"),
              "seq": irgen.build_model(rng, FEATURES, [8], [3], returns_sequences=True, name="seq")}  # fmt: skip
    for name, m in models.items():
        tnr.save(m, d / f"{name}.tnr")
    x = rng.normal(scale=40.0, size=(12, STEPS, FEATURES)).astype(np.float32)
    np.savez(d / "reg1.npz", x=x, y=rng.normal(size=12))
    np.savez(d / "reg2.npz", x=x, y=rng.normal(size=(12, 2)))
    np.savez(d / "bin.npz", x=x, y=rng.integers(0, 2, 12))
    np.savez(d / "steps.npz", x=x, y=rng.integers(0, 3, (12, STEPS)))
    return d, models, x


def test_eval_regression_gives_rmse_mae_r2_per_output(work):
    d, models, x = work
    for name, data in (("one", "reg1"), ("two", "reg2")):
        y = np.load(d / f"{data}.npz")["y"].reshape(12, -1)
        r = run_json("eval", d / f"{name}.tnr", "--data", d / f"{data}.npz")
        want = _rmse_mae_r2(_golden_float(models[name], x), y)
        assert r["task"] == "regression" and "accuracy" not in r and "int8_accuracy" not in r
        for key, values in zip(("rmse", "mae", "r2"), want):
            assert r[key] == pytest.approx(values, rel=1e-9) and r[f"int8_{key}"] == r[key]


def test_eval_one_output_with_class_ids_thresholds_the_logit(work):
    d, models, x = work
    y = np.load(d / "bin.npz")["y"]
    r = run_json("eval", d / "one.tnr", "--data", d / "bin.npz")
    want = np.mean((run_model(models["one"], models["one"].input_quant.quantize(x))[:, 0] > models["one"].output_zero_point) == y)
    assert r["task"] == "classification" and r["accuracy"] == pytest.approx(want)


def test_eval_per_step_accuracy(work):
    d, models, x = work
    y = np.load(d / "steps.npz")["y"]
    r = run_json("eval", d / "seq.tnr", "--data", d / "steps.npz")
    want = np.mean(np.argmax(run_model(models["seq"], models["seq"].input_quant.quantize(x)), axis=-1) == y)
    assert r["task"] == "sequence-labelling" and r["accuracy"] == pytest.approx(want) and r["n"] == 12


@pytest.mark.parametrize("model, data, fragment", [
    ("two", "reg1", "1 regression target(s) per window, the model has 2 output(s)"),
    ("seq", "reg1", "the model returns sequences"),
    ("two", "steps", "per-step labels (N, T) need a model that returns sequences"),
    ("seq", "bin", "labels (N,) need one output per window"),
    ("one", "steps", "per-step labels (N, T) need a model"),
])  # fmt: skip
def test_labels_that_do_not_fit_the_model_are_one_line(work, model, data, fragment):
    d, _, _ = work
    assert_user_error(run_cli("eval", d / f"{model}.tnr", "--data", d / f"{data}.npz"), fragment, f"{data}.npz")


@pytest.mark.qemu
def test_verify_regression_on_qemu_reports_rmse_and_no_accuracy(work):
    """Before: a one-output model verified with any labels reported device_accuracy 1.0
    (argmax over one value is always 0)."""
    d, models, x = work
    y = np.load(d / "reg1.npz")["y"].reshape(12, 1)
    proc = run_cli("verify", "--model", d / "one.tnr", "--target", "qemu:mps2-an386", "--data", d / "reg1.npz", "--n", 12)
    assert proc.returncode == 0 and "device RMSE" in proc.stderr + proc.stdout and "accuracy" not in proc.stderr + proc.stdout
    r = run_json("verify", "--model", d / "one.tnr", "--target", "qemu:mps2-an386", "--data", d / "reg1.npz", "--n", 12)
    assert r["verified"] and r["task"] == "regression" and r["device_accuracy"] is None
    for key, values in zip(("rmse", "mae", "r2"), _rmse_mae_r2(_golden_float(models["one"], x), y)):
        assert r[f"device_{key}"] == pytest.approx(values, rel=1e-9)
    r = run_json("verify", "--model", d / "seq.tnr", "--target", "qemu:mps2-an386", "--data", d / "steps.npz", "--n", 12)
    labels = np.load(d / "steps.npz")["y"]
    want = np.mean(np.argmax(run_model(models["seq"], models["seq"].input_quant.quantize(x)), axis=-1) == labels)
    assert r["verified"] and r["device_accuracy"] == pytest.approx(want) and r["device_rmse"] is None


def _float_regressor(rng, outputs: int) -> FloatModel:
    units = 10
    lstm = FloatLSTM("lstm", rng.normal(scale=0.4, size=(FEATURES, 4 * units)),
                     rng.normal(scale=0.3, size=(units, 4 * units)), rng.normal(scale=0.1, size=4 * units), False)
    head = FloatDense("head", rng.normal(scale=0.5, size=(units, outputs)), rng.normal(scale=0.1, size=outputs), "linear")
    return FloatModel("reg", (STEPS, FEATURES), np.zeros(FEATURES), np.ones(FEATURES), [lstm, head],
                      {"file": "reg.keras", "format": "keras"})


def test_report_regression_section():
    rng = np.random.default_rng(5)
    float_model = _float_regressor(rng, 2)
    x = rng.normal(size=(60, STEPS, FEATURES)).astype(np.float32)
    y = float_model.run(x) + rng.normal(scale=0.05, size=(60, 2))  # targets the float model nearly fits
    q = quantize_model(float_model, x)
    device = {"rmse": [0.1, 0.2], "mae": [0.1, 0.1], "r2": [0.9, 0.8], "target": "qemu:mps2-an386"}
    report = build_report(float_model, q, x, y, device=device, progress=False)
    reg = report["regression"]
    assert report["task"] == "regression" and report["accuracy"] is None
    want_f, want_q = _rmse_mae_r2(float_model.run(x), y), _rmse_mae_r2(_golden_float(q, x), y)
    for i, key in enumerate(("rmse", "mae", "r2")):
        assert reg["float"][key] == pytest.approx(want_f[i]) and reg["int8"][key] == pytest.approx(want_q[i])
    assert reg["rmse_ratio"] == pytest.approx([b / a for a, b in zip(want_f[0], want_q[0])])
    assert report["headline"]["rmse_on_qemu:mps2-an386"] == [0.1, 0.2] and report["headline"]["argmax_agreement"] is None
    text = text_summary(report)
    assert "rmse: float" in text and "r2: float" in text and "argmax" not in text and "accuracy" not in text
    html = render_html(report, plots=False)
    assert 'id="regression-table"' in html and "Regression error" in html and "argmax agreement" not in html


def test_report_per_step_labels():
    rng = np.random.default_rng(6)
    float_model = _float_regressor(rng, 3)
    float_model.layers[0].return_sequences = True
    x = rng.normal(size=(30, STEPS, FEATURES)).astype(np.float32)
    y = rng.integers(0, 3, (30, STEPS))
    q = quantize_model(float_model, x)
    acc = build_report(float_model, q, x, y, progress=False)["accuracy"]
    assert acc["samples"] == 30 * STEPS
    assert acc["int8"] == pytest.approx(np.mean(np.argmax(_golden_float(q, x), axis=-1) == y))
    assert acc["float"] == pytest.approx(np.mean(np.argmax(float_model.run(x), axis=-1) == y))


@pytest.mark.tf
def test_train_a_regressor_then_eval_float_and_int8(tmp_path):
    """Float targets train a linear-head model with MSE; eval of the .keras and of its
    artifact give RMSE per output; the training RMSE is Keras's own MSE, square-rooted."""
    from tinyrnn.tfsupport import import_keras

    rng = np.random.default_rng(8)
    x = rng.normal(size=(160, STEPS, FEATURES)).astype(np.float32)
    y = np.stack([x[:, :, 0].mean(axis=1), x[:, -3:, 1].sum(axis=1)], axis=1)
    np.savez(tmp_path / "r.npz", x=x, y=y)
    r = run_json("train", "--data", tmp_path / "r.npz", "--units", 8, "--epochs", 3, "--out", tmp_path / "m.keras")
    assert "val_accuracy" not in r and r["val_rmse"] > 0 and r["n_classes"] == 2
    model = import_keras().models.load_model(tmp_path / "m.keras")
    assert model.layers[-1].get_config()["activation"] == "linear"
    from tinyrnn.app import api  # in-process from here: one TensorFlow import, not one per command

    api.quantize_file(str(tmp_path / "m.keras"), str(tmp_path / "r.npz"), str(tmp_path / "m.tnr"))
    f, q = (api.evaluate(str(tmp_path / name), str(tmp_path / "r.npz")) for name in ("m.keras", "m.tnr"))
    assert f["rmse"] == pytest.approx(_rmse_mae_r2(model.predict(x, verbose=0), y)[0], rel=1e-4)
    assert len(q["rmse"]) == 2 and all(a < 1.5 * b for a, b in zip(q["rmse"], f["rmse"]))
    verified = {"device_accuracy": None, "device_rmse": q["rmse"], "device_mae": q["mae"], "device_r2": q["r2"],
                "target": "qemu:x", "sequences": 160, "mismatches": 0}  # fmt: skip
    report = api.write_report(str(tmp_path / "m.keras"), str(tmp_path / "m.tnr"), str(tmp_path / "r.npz"),
                              str(tmp_path / "v.html"), verified, progress=False)
    assert report["headline"]["rmse_int8"] == pytest.approx(q["rmse"]) and report["headline"]["accuracy_int8"] is None
    assert report["regression"]["devices"] == [{"target": "qemu:x", "rmse": q["rmse"], "mae": q["mae"], "r2": q["r2"]}]


def test_qat_of_a_regressor_is_refused_before_training(work):
    d, _, _ = work
    proc = run_cli("train", "--data", d / "reg2.npz", "--qat", "--out", d / "q.keras")
    assert_user_error(proc, "--qat and --export-tflite need class labels", "reg2")


def test_output_headroom_widens_only_the_head_range():
    """A regression head meets targets beyond the calibration outputs: headroom h covers
    h × the calibrated span more on each side (minmax calibration: the span is known here)."""
    from tinyrnn.core.errors import TinyrnnError

    rng = np.random.default_rng(9)
    float_model = _float_regressor(rng, 2)
    x = rng.normal(size=(50, STEPS, FEATURES)).astype(np.float32)
    out = float_model.run(x)
    lo, hi = out.min(), out.max()
    # int8 logits: an asymmetric grid, whose ends are the calibrated range's
    plain = quantize_model(float_model, x, method="minmax", logits="int8")
    wide = quantize_model(float_model, x, method="minmax", output_headroom=0.5, logits="int8")
    grid = lambda m: ((-128 - m.output_zero_point) * m.output_scale, (127 - m.output_zero_point) * m.output_scale)  # noqa: E731
    step = plain.output_scale  # the zero point is rounded onto the grid: ends move by up to a step
    assert abs(grid(plain)[0] - lo) <= step and abs(grid(plain)[1] - hi) <= step
    assert abs(grid(wide)[0] - (lo - 0.5 * (hi - lo))) <= 2 * step and abs(grid(wide)[1] - (hi + 0.5 * (hi - lo))) <= 2 * step
    assert wide.layers[0].hidden_scale == plain.layers[0].hidden_scale and wide.meta["calibration"]["output_headroom"] == 0.5
    no_head = FloatModel("r", (STEPS, FEATURES), np.zeros(FEATURES), np.ones(FEATURES), float_model.layers[:1])
    with pytest.raises(TinyrnnError, match="needs a model ending in a Dense layer"):
        quantize_model(no_head, x, output_headroom=0.5)
    with pytest.raises(TinyrnnError, match="output headroom must be between 0 and 10"):
        quantize_model(float_model, x, output_headroom=-1)
