"""Masked steps (Keras Masking): the golden model, the generated C on the host and on
QEMU, and the float twin against Keras itself.

Semantics (Keras's): a masked step keeps every recurrent state and repeats the previous
output; a window's output is its last valid step's. Independent checks: a post-padded
window of length L gives exactly what the first L steps give unmasked; the host C and
the device give exactly what the golden model gives, element for element.
"""

from __future__ import annotations

import dataclasses

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core.golden.model import run_model


def _valid(rng, n: int, steps: int) -> np.ndarray:
    """Post-padded lengths 1..T, and a few masked steps inside the windows too."""
    lengths = rng.integers(1, steps + 1, n)
    valid = np.arange(steps)[None, :] < lengths[:, None]
    valid &= rng.random((n, steps)) > 0.15
    valid[0], valid[1] = True, False  # a full window and an all-masked one
    return valid


def _stepwise(model):
    """The same model with its last recurrent layer returning sequences (the head at every step)."""
    layers = list(model.layers)
    k = max(i for i, layer in enumerate(layers) if layer.kind != "dense")
    layers[k] = dataclasses.replace(layers[k], return_sequences=True)
    return dataclasses.replace(model, layers=layers)


@pytest.mark.parametrize("kinds", [["lstm"], ["gru"], ["lstm", "gru"]])
def test_golden_masking_equals_running_only_the_valid_prefix(kinds):
    rng = np.random.default_rng(len(kinds) * 7 + len(kinds[0]))
    model = irgen.build_model(rng, 3, [6] * len(kinds), [4], kinds=kinds)
    steps = 9
    x = irgen.random_input(rng, model, 10, steps)
    lengths = rng.integers(1, steps + 1, 10)
    valid = np.arange(steps)[None, :] < lengths[:, None]
    masked = run_model(model, x, valid=valid)
    seq = run_model(_stepwise(model), x, valid=valid)
    for i, n in enumerate(lengths):
        assert np.array_equal(masked[i], run_model(model, x[i : i + 1, :n])[0])
        assert (seq[i, n:] == seq[i, n - 1]).all()  # padded steps repeat the last valid output
    assert np.array_equal(run_model(model, x, valid=np.ones((10, steps), bool)), run_model(model, x))


@pytest.mark.parametrize("kinds, sequences", [(["lstm"], False), (["gru"], True), (["lstm", "gru"], False),
                                              (["gru", "lstm"], True)])  # fmt: skip
def test_host_c_masked_equals_golden(tmp_path, kinds, sequences):
    rng = np.random.default_rng(3 + len(kinds) + sequences)
    model = irgen.build_model(rng, 4, [7] * len(kinds), [3], kinds=kinds, returns_sequences=sequences)
    x = irgen.random_input(rng, model, 16, 11)
    valid = _valid(rng, 16, 11)
    host = HostModel(model, tmp_path, sanitize=True)
    want = run_model(model, x, valid=valid)
    assert np.array_equal(host.run_masked(x, valid), want)
    assert np.array_equal(host.run_masked(x, valid, stepwise=True), run_model(_stepwise(model), x, valid=valid))
    assert np.array_equal(host.run(x), run_model(model, x))  # the unmasked _run is _run_masked(NULL)


def _padded(rng, model, n: int, steps: int, pad: float = 0.0):
    """Float windows (identity input quantizer) post-padded with ``pad`` to random lengths."""
    x = rng.normal(scale=40.0, size=(n, steps, model.input_size)).astype(np.float32)
    lengths = rng.integers(2, steps + 1, n)
    x[np.arange(steps)[None, :] >= lengths[:, None]] = pad
    return x, lengths


@pytest.mark.qemu
def test_verify_masked_windows_on_qemu(tmp_path):
    from test_cli import run_json

    from tinyrnn.core import tnr

    rng = np.random.default_rng(21)
    model = dataclasses.replace(irgen.build_model(rng, 3, [6, 5], [3], kinds=["lstm", "gru"]), mask_value=0.0)
    x, lengths = _padded(rng, model, 12, 40)  # 40 steps: more than one RUN chunk on the device
    x_q, valid = model.input_quant.quantize(x), model.valid_steps(x)
    assert np.array_equal(valid.sum(axis=1), lengths)
    masked = run_model(model, x_q, valid=valid)
    assert np.any(masked != run_model(model, x_q)), "the mask must matter for this test to mean anything"
    tnr.save(model, tmp_path / "m.tnr")
    labels = np.argmax(masked, axis=-1)
    np.savez(tmp_path / "d.npz", x=x, y=labels)
    r = run_json("verify", "--model", tmp_path / "m.tnr", "--target", "qemu:mps2-an386", "--data", tmp_path / "d.npz",
                 "--n", 12)  # fmt: skip
    assert r["verified"] and r["mismatches"] == 0 and r["sequences"] == 12
    assert r["device_accuracy"] == 1.0  # labels are the masked golden classes
    r = run_json("verify", "--model", tmp_path / "m.tnr", "--target", "qemu:mps2-an386", "--data", tmp_path / "d.npz",
                 "--n", 12, "--jobs", 2)  # fmt: skip
    assert r["verified"] and r["mismatches"] == 0 and r["jobs"] == 2 and r["device_accuracy"] == 1.0
    assert run_json("eval", tmp_path / "m.tnr", "--data", tmp_path / "d.npz")["accuracy"] == 1.0


@pytest.mark.tf
@pytest.mark.parametrize("sequences", [False, True])
def test_float_twin_equals_keras_with_masking(tmp_path, sequences):
    """Keras's own predict on post-padded windows (and windows with masked steps inside)."""
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model
    from tinyrnn.tfsupport import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 2.0, size=(40, 15, 3)).astype(np.float32)
    x[np.arange(15)[None, :] >= rng.integers(1, 16, 40)[:, None]] = -1.0
    x[::5, 3] = -1.0  # masked steps inside windows too
    norm = keras.layers.Normalization()
    norm.adapt(x)
    layers = [keras.Input((15, 3)), keras.layers.Masking(mask_value=-1.0), norm, keras.layers.LSTM(8, return_sequences=True),
              keras.layers.GRU(6, return_sequences=sequences), keras.layers.Dense(4)]  # fmt: skip
    model = keras.Sequential(layers)
    model.save(tmp_path / "m.keras")
    twin = load_keras(tmp_path / "m.keras")
    assert twin.mask_value == -1.0
    want = model.predict(x, verbose=0)
    assert np.max(np.abs(twin.run(x) - want)) < 1e-5
    unmasked = keras.Sequential([keras.Input((15, 3)), *model.layers[1:]])  # same weights, no mask
    assert np.max(np.abs(unmasked.predict(x, verbose=0) - want)) > 1e-2, "the mask must matter here"
    q = quantize_model(twin, x)
    assert q.mask_value == -1.0
    out = run_model(q, q.input_quant.quantize(x), valid=q.valid_steps(x))
    deq = (out.astype(np.float64) - q.output_zero_point) * q.output_scale
    assert np.mean(np.argmax(deq, -1) == np.argmax(want, -1)) > 0.9
    host = HostModel(q, tmp_path / "c")
    assert np.array_equal(host.run_masked(q.input_quant.quantize(x), q.valid_steps(x)), out)
    from tinyrnn.quantize.report import build_report, text_summary

    report = build_report(twin, q, x, progress=False)  # both passes masked: int8 tracks the float twin
    assert "Masking: steps whose features all equal -1 skipped" in text_summary(report)
    assert report["model"]["mask_value"] == -1.0 and report["fidelity"]["output"]["argmax_agreement"] > 0.9


def test_mask_value_is_saved_and_hashed(tmp_path):
    from tinyrnn.core import tnr
    from tinyrnn.core.errors import TinyrnnError
    from tinyrnn.core.ir import to_document

    model = irgen.build_model(np.random.default_rng(2), 3, [4], [2])
    assert "mask_value" not in to_document(model)[0]  # unmasked artifacts keep their old hash
    masked = dataclasses.replace(model, mask_value=0.0)
    assert masked.content_hash() != model.content_hash()
    tnr.save(masked, tmp_path / "m.tnr")
    assert tnr.load(tmp_path / "m.tnr").mask_value == 0.0
    with pytest.raises(TinyrnnError, match="mask_value"):
        tnr.validate(dataclasses.replace(model, mask_value=float("nan")), "m")
