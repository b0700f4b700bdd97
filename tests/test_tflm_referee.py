"""TFLite Micro's own interpreter referees the chain: converter .tflite → import → golden → host C.

Small tf_keras LSTMs (1 and 2 layers, H 16-64, a sequence output, per-tensor and
per-channel Dense heads) are converted to int8 and run by TFLM (``tflite-micro``). On the
int8 tensor TFLM fed the first LSTM, the golden model must reproduce every output byte,
every hidden state and every cell state at every step, and the host C every output byte
and every hidden state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_lstm_s16 import run_c  # noqa: F401 (fixture: the 16x8 C kernel on the host)

pytestmark = pytest.mark.tf

STEPS, FEATURES, WINDOWS = 16, 3, 100
SPECS = [
    {"name": "h16_per_tensor", "units": [16], "dense": "per_tensor", "epochs": 2},
    {"name": "h32_per_channel", "units": [32], "dense": "per_channel", "epochs": 2},
    {"name": "h64_h24_stack", "units": [64, 24], "dense": "per_channel", "epochs": 2},
    {"name": "h24_sequences", "units": [24], "dense": None},  # return_sequences: every h is the output
]


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, STEPS, FEATURES)) * [0.05, 1.0, 5.0] + [0.0, 2.0, -1.0]
    y = 2 * (x[:, :, 1].mean(1) > 2.0) + (x[:, :, 2].mean(1) > -1.0)
    return x.astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tflm")
    x, y = _data(256, 0)
    np.savez(tmp / "data.npz", x=x, y=y)
    (tmp / "specs.json").write_text(json.dumps(SPECS))
    script = Path(__file__).with_name("tflm_convert.py")
    proc = subprocess.run([sys.executable, str(script), str(tmp / "specs.json"), str(tmp / "data.npz"), str(tmp)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, _data(WINDOWS, 1)[0]


@pytest.mark.parametrize("spec", SPECS, ids=[s["name"] for s in SPECS])
def test_golden_and_host_c_match_tflm_on_every_state(converted, spec, tmp_path):
    from tinyrnn.codegen.hostlib import HostModel, run_layer
    from tinyrnn.quantize.tflite_import import load_tflite
    from tinyrnn.quantize.tflm import compare_with_tflm

    tmp, x = converted
    path = tmp / f"{spec['name']}.tflite"
    model = load_tflite(path)
    report = compare_with_tflm(path, model, x)
    lstms = [layer for layer in model.layers if layer.kind == "lstm"]
    assert len(report["layers"]) == len(lstms) == len(spec["units"])
    assert [layer.hidden_size for layer in lstms] == spec["units"]
    assert report["output"]["elements"] > 0 and report["output"]["mismatched"] == 0, report["output"]
    for k, layer in enumerate(report["layers"]):
        for what in ("hidden", "cell"):
            assert layer[what]["elements"] == WINDOWS * STEPS * spec["units"][k], layer
            assert layer[what]["mismatched"] == 0, (k, what, layer[what])

    kernel_in, probes = report["kernel_input"], report["golden_probes"]
    c_out = HostModel(model, tmp_path / "model").run(kernel_in)
    np.testing.assert_array_equal(c_out, report["golden_output"])
    layer_in = kernel_in
    for k, layer in enumerate(lstms):
        hidden = np.stack(probes[k]["hidden"], axis=1)
        np.testing.assert_array_equal(run_layer(layer, layer_in, tmp_path / f"layer{k}"), hidden)
        layer_in = hidden


def test_dense_heads_are_per_tensor_and_per_channel_as_asked(converted):
    from tinyrnn.quantize.litert import read_tflite

    tmp, _ = converted
    for spec in SPECS:
        if spec["dense"]:
            g = read_tflite(tmp / f"{spec['name']}.tflite")
            fc = next(op for name, op in zip(g.ops, g.sub.operators) if name == "FULLY_CONNECTED")
            scales = g.quant(int(fc.inputs[1]))[0]
            assert (scales.size == 1) == (spec["dense"] == "per_tensor"), (spec, scales.size)


def test_float32_scale_products_would_be_caught(converted):
    """The referee can see the multiplier bug it guards against: with float32 products of
    the scales (tinyrnn before TFLM's double products), some gate multiplier of these
    models changes, and the golden model then leaves TFLM's cell states."""
    from tflm_convert import float32_products

    from tinyrnn.quantize.tflite_import import load_tflite
    from tinyrnn.quantize.tflm import compare_with_tflm

    tmp, x = converted
    changed, mismatches = 0, []
    for spec in SPECS:
        path = tmp / f"{spec['name']}.tflite"
        model, n = float32_products(path, load_tflite(path))
        changed += n
        report = compare_with_tflm(path, model, x)
        mismatches.append(sum(layer["cell"]["mismatched"] for layer in report["layers"]))
    assert changed >= 2, changed
    assert sum(mismatches) > 0, mismatches


@pytest.mark.parametrize("spec", SPECS, ids=[s["name"] for s in SPECS])
def test_16x8_golden_and_host_c_match_tflm_on_every_state(converted, spec, tmp_path, run_c):
    """16x8: the converter cannot make it for an LSTM (TF 2.21), so each model's LSTM stack
    is rewritten to int16 activations / int64 biases (tflm_convert.to_16x8) and run by
    TFLM; golden lstm_s16 must match every hidden and cell state, the C every hidden state:
    the kernel alone, and the library generated from the artifact ``tinyrnn quantize``
    makes of the 16x8 .tflite."""
    from tflm_convert import to_16x8

    from tinyrnn.app.api import quantize_file
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.core import tnr
    from tinyrnn.quantize.tflite_import import load_lstm_s16
    from tinyrnn.quantize.tflm import compare_s16_with_tflm

    tmp, _ = converted
    path = tmp_path / "m16.tflite"
    to_16x8(tmp / f"{spec['name']}.tflite", path)
    layers = load_lstm_s16(path)
    assert [layer.hidden_size for layer in layers] == spec["units"] and layers[0].bias.dtype == np.int64
    rng = np.random.default_rng(5)
    x = rng.integers(-32768, 32768, (30, STEPS, FEATURES)).astype(np.int16)
    x[:10] //= 64  # small inputs too: the gates away from the rails
    report = compare_s16_with_tflm(path, layers, x)
    for k, layer in enumerate(report["layers"]):
        for what in ("hidden", "cell"):
            assert layer[what]["elements"] == 30 * STEPS * spec["units"][k], layer
            assert layer[what]["mismatched"] == 0, (k, what, layer[what])
    y = x
    for layer in layers:
        y = run_c(layer, y)
    np.testing.assert_array_equal(y, report["golden_output"])
    quantize_file(str(path), None, str(tmp_path / "m16.tnr"))
    model = tnr.load(tmp_path / "m16.tnr")
    assert model.activation_bits == 16 and model.returns_sequences
    host = HostModel(model, tmp_path / "host", sanitize=True)
    np.testing.assert_array_equal(host.run(x[:8]), report["golden_output"][:8])
