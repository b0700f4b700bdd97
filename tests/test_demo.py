"""`tinyrnn demo`: the main job, end to end on the emulated Cortex-M4, for LSTM and GRU."""

from __future__ import annotations

import json
import os

import pytest
from test_cli import run_json

pytestmark = [pytest.mark.qemu, pytest.mark.tf, pytest.mark.slow]

KEYS = {"verified", "sequences", "mismatches", "board", "instructions_per_inference", "flash_bytes",
        "ram_bytes", "float_accuracy", "int8_accuracy"}  # fmt: skip


@pytest.mark.parametrize("arch, n", [("lstm", 100), ("gru", 30)])
def test_demo_verifies_every_byte_and_reports(tmp_path, arch, n):
    r = run_json("demo", "--out", tmp_path / "demo", "--arch", arch, "--n", n, timeout=600)
    assert KEYS <= set(r)
    assert r["verified"] is True and r["sequences"] == n and r["mismatches"] == 0
    assert r["board"] == "mps2-an386"
    assert r["instructions_per_inference"] > 0 and r["flash_bytes"] > 0 and r["ram_bytes"] > 0
    # The generated task needs memory; a trained model must be far above chance (25 %).
    assert r["float_accuracy"] > 0.6 and abs(r["float_accuracy"] - r["int8_accuracy"]) < 0.05
    # quantize measured the int8 model against the float twin on the calibration windows
    assert r["float_agreement"]["windows"] > 0 and r["float_agreement"]["decision_agreement"] > 0.9
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["accuracy"]["devices"][0]["accuracy"] == pytest.approx(r["device_accuracy"])
    for name in ("model.keras", "model.tnr", "report.html", "firmware/fw-mps2-an386/firmware.elf", "test.npz"):
        assert os.path.isfile(tmp_path / "demo" / name), name


def test_eval_reports_float_int8_and_device_on_the_same_windows(tmp_path):
    run_json("demo", "--out", tmp_path / "d", "--n", 10, "--epochs", 3, timeout=600)
    d = tmp_path / "d"
    r = run_json("eval", d / "model.keras", "--quantized", d / "model.tnr", "--data", d / "test.npz",
                 "--target", "qemu:mps2-an386", "--n", 40)  # fmt: skip
    assert r["n"] == 40 and r["verified"] is True and r["mismatches"] == 0
    alone = run_json("eval", d / "model.tnr", "--data", d / "test.npz", "--n", 40)
    assert r["int8_accuracy"] == alone["accuracy"]
    # The device computes exactly the golden outputs, so its accuracy is the golden one.
    assert r["device_accuracy"] == r["int8_accuracy"]
    assert {"keras_accuracy", "accuracy"} <= set(r)


def test_verify_writes_the_report_with_device_accuracy(tmp_path):
    run_json("demo", "--out", tmp_path / "d", "--n", 10, "--epochs", 3, timeout=600)
    d = tmp_path / "d"
    r = run_json("verify", "--model", d / "model.tnr", "--target", "qemu:mps2-an386", "--data", d / "test.npz",
                 "--n", 20, "--keras", d / "model.keras", "--report", tmp_path / "r.html")  # fmt: skip
    report = json.loads((tmp_path / "r.json").read_text())
    assert r["verified"] and report["accuracy"]["devices"][0]["accuracy"] == pytest.approx(r["device_accuracy"])
    assert report["fidelity"]["samples"] == 20 and (tmp_path / "r.html").stat().st_size > 10_000
