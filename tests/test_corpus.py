"""The model corpus (tests/corpus.py) through the front door: every accepted model is
quantized with Keras as referee (twin == Keras per layer, the figure in the artifact),
its int8 golden outputs track Keras's, and the generated C equals the golden model on
the host (all of them) and on QEMU (a subset); every refused model gets exactly one
line naming the layer and option."""

from __future__ import annotations

import shutil

import corpus
import numpy as np
import pytest

from tinyrnn.core import tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf
QEMU_SUBSET = ("dense_softmax_hidden", "masking_gru", "time_distributed", "batchnorm_after_dense")
# int8 logits against Keras's (untrained models, 64 windows): SQNR floor; the lowest measured
# is printed by benchmarks/corpus.py into results/corpus.md.
SQNR_FLOOR_DB = 15.0


def _labels(name: str, out: np.ndarray, rng) -> np.ndarray:
    if name == "regression_head":
        return out.astype(np.float32)  # any float targets: regression
    classes = 2 if out.shape[-1] == 1 else out.shape[-1]
    return rng.integers(0, classes, out.shape[:-1])


def _save(tmp_path, name: str):
    keras = import_keras()
    model = corpus.build(keras, name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return model, path


def _quantize(tmp_path, name: str):
    from tinyrnn.app.api import quantize_file

    model, path = _save(tmp_path, name)
    x, y = corpus.data(masked=name.startswith("masking"))
    out = None
    if name in corpus.ACCEPTED:  # labels shaped as its outputs (refused ones may not even predict on x)
        out = model.predict(x, verbose=0)
        if name in corpus.OUTPUT:  # predict returns every head
            out = out[list(model.output_names).index(corpus.OUTPUT[name])]
        y = _labels(name, out, np.random.default_rng(0))
    npz = tmp_path / f"{name}.npz"
    np.savez(npz, x=x, y=y)
    result = quantize_file(str(path), str(npz), str(tmp_path / f"{name}.tnr"), output=corpus.OUTPUT.get(name))
    return tnr.load(result["artifact"]), x, out, npz


def _sqnr(ref, y) -> float:
    noise = np.sum((y - ref) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref**2) / noise))


@pytest.mark.parametrize("name", sorted(corpus.ACCEPTED))
def test_accepted_model_matches_keras_and_c_matches_golden(name, tmp_path):
    from tinyrnn.codegen.hostlib import HostModel
    from tinyrnn.core.activations import activate
    from tinyrnn.quantize.referee import TOLERANCE

    model, x, keras_out, _ = _quantize(tmp_path, name)
    agreement = model.meta["keras_agreement"]
    assert agreement["windows"] == len(x) and agreement["max_rel_diff"] <= TOLERANCE
    assert [p["layer"] for p in agreement["layers"]][-1] and len(agreement["layers"]) == len(model.layers)
    # float targets in the calibration file: the regression default headroom (tinyrnn.app.api)
    assert model.meta["calibration"]["output_headroom"] == (0.5 if name == "regression_head" else 0.0)
    x_q, valid = model.input_quant.quantize(x), model.valid_steps(x)
    y_q = run_model(model, x_q, valid=valid)
    got = activate(model.meta["float_activation"], dequantize_output(model, y_q))
    assert _sqnr(keras_out, got) > SQNR_FLOOR_DB, f"{name}: int8 vs Keras SQNR {_sqnr(keras_out, got):.1f} dB"
    if shutil.which("gcc"):
        host = HostModel(model, tmp_path / "c")
        c_out = host.run(x_q) if valid is None else host.run_masked(x_q, valid)
        np.testing.assert_array_equal(c_out, y_q)


@pytest.mark.parametrize("name", sorted(corpus.REFUSED))
def test_refused_model_gets_one_line_naming_the_layer(name, tmp_path):
    pattern = corpus.REFUSED[name][1]
    with pytest.raises(TinyrnnError, match=pattern) as err:
        _quantize(tmp_path, name)
    assert "\n" not in str(err.value)


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("name", QEMU_SUBSET)
def test_device_equals_golden_on_qemu(name, tmp_path):
    from tinyrnn.app.api import verify

    _, _, _, npz = _quantize(tmp_path, name)
    result = verify(str(tmp_path / f"{name}.tnr"), "qemu:mps2-an386", str(npz), 4, progress=False)
    assert result["verified"] and result["sequences"] == 4 and result["mismatches"] == 0, result


def test_readme_support_table_is_the_importers():
    from pathlib import Path

    from tinyrnn.quantize.keras_import import support_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- support-table:")
    block = readme[readme.index("\n", start) + 1 : readme.index("<!-- /support-table -->")].strip()
    assert block == support_table()
