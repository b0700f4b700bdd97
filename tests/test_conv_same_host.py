"""Conv1D padding "same" (Keras's, strides 1): whole-window ``_run`` in generated C (host,
QEMU) against the golden model; the right padding is fed after the window, at each
"same" layer once everything before it has flushed. No step API; T > MAX_STEPS and
windows the front end gives no output for are refused by _run."""

from __future__ import annotations

import dataclasses
import shutil

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core import tnr
from tinyrnn.core.boards import qemu_boards
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.conv1d_s8 import conv1d_s8
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import POOLS, Model
from tinyrnn.core.validate import validate

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
_have_arm = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
MAX_STEPS = 14


def same_model(seed: int, max_steps: int = MAX_STEPS, extreme: float = 0.0) -> Model:
    """1–2 "same" convs (kernel 1–5, dilation 1–3), maybe a pool or a causal conv between,
    then a recurrent stack and a head (the conv buffers: ``max_steps``)."""
    rng = np.random.default_rng(8100 + seed)
    convs = [(int(rng.integers(1, 8)), int(rng.integers(1, 6)), int(rng.integers(1, 4)), "same", "relu")]
    if rng.random() < 0.5:
        convs.append((str(rng.choice(POOLS)), 2, int(rng.integers(1, 3))) if rng.random() < 0.5 else
                     (int(rng.integers(1, 8)), 3, 1, "causal", "linear"))
    if rng.random() < 0.6:
        convs.append((int(rng.integers(1, 8)), int(rng.integers(2, 6)), int(rng.integers(1, 3)), "same", "relu6"))
    kind = str(rng.choice(["lstm", "gru", "rnn"]))
    model = irgen.conv_model(rng, int(rng.integers(1, 6)), convs, kinds=[kind], hidden=[int(rng.integers(1, 8))],
                             dense=[int(rng.integers(1, 5))], extreme=extreme, name=f"same{seed}")
    layers = [dataclasses.replace(la, max_steps=max_steps) if getattr(la, "padding", "") == "same" else la
              for la in model.layers]
    return dataclasses.replace(model, layers=layers)


def test_golden_same_is_valid_over_the_padded_window():
    """Keras's split: (span − 1) // 2 zero-point steps before, the rest after."""
    rng = np.random.default_rng(2)
    for kernel_size, dilation in ((1, 1), (2, 1), (3, 2), (4, 3), (5, 1)):
        layer = dataclasses.replace(irgen.conv_layer(rng, 3, 4, kernel_size=kernel_size, dilation=dilation,
                                                     padding="same", activation="relu"), max_steps=9)
        x = irgen.random_input(rng, Model("m", 3, irgen.identity_input_quant(3), [layer]), 2, 9)
        left = (layer.span - 1) // 2
        pad = lambda n: np.full((2, n, 3), layer.input_zero_point, np.int8)  # noqa: E731
        padded = np.concatenate([pad(left), x, pad(layer.span - 1 - left)], axis=1)
        want = conv1d_s8(dataclasses.replace(layer, padding="valid"), padded)
        assert want.shape[1] == 9 and (layer.pad_left, layer.pad_right) == (left, layer.span - 1 - left)
        np.testing.assert_array_equal(conv1d_s8(layer, x), want)


@needs_gcc
@pytest.mark.parametrize("seed", [0, 2, 3])
def test_random_same_models_equal_golden(seed, tmp_path):
    model = same_model(seed, extreme=(0.0, 0.3, 1.0)[seed % 3])
    tnr.save(model, tmp_path / "m.tnr")  # validate accepts it, the artifact round-trips
    assert tnr.load(tmp_path / "m.tnr").content_hash() == model.content_hash() and model.whole_window
    host = HostModel(model, tmp_path, sanitize=seed == 0)
    header = (tmp_path / "src" / "model.h").read_text()
    assert "tinyrnn_model_step" not in header and f"#define TINYRNN_MODEL_MAX_STEPS {MAX_STEPS}" in header
    rng = np.random.default_rng(seed)
    shortest = next(t for t in range(1, MAX_STEPS + 1) if _emits(model, t))
    for steps in sorted({shortest, int(rng.integers(shortest, MAX_STEPS + 1)), MAX_STEPS}):
        x = np.concatenate([irgen.random_input(rng, model, 4, steps),
                            irgen.random_input(rng, model, 2, steps, extreme=True)])
        np.testing.assert_array_equal(host.run(x), run_model(model, x),
                                      err_msg=f"seed {seed} {[la.kind for la in model.layers]} T={steps}")
    for steps in ([shortest - 1] if shortest > 1 else []) + [MAX_STEPS + 1]:  # no front-end output; too long
        with pytest.raises(TinyrnnError, match="exit 6"):
            host.run(irgen.random_input(rng, model, 1, steps))


def _emits(model: Model, steps: int) -> bool:
    try:
        run_model(model, np.zeros((1, steps, model.input_size), np.int8))
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("change, message", [
    (lambda la: dataclasses.replace(la, strides=2), "padding 'same' needs strides 1 and max_steps at least 1"),
    (lambda la: dataclasses.replace(la, max_steps=0), "padding 'same' needs strides 1 and max_steps at least 1"),
])
def test_invalid_same_refused(change, message):
    model = same_model(0)
    with pytest.raises(TinyrnnError, match=message):
        validate(dataclasses.replace(model, layers=[change(model.layers[0]), *model.layers[1:]]))


@pytest.mark.qemu
@pytest.mark.skipif(not _have_arm or "mps2-an386" not in qemu_boards(), reason="needs arm-none-eabi-gcc, QEMU")
def test_qemu_mps2_an386_equals_golden(tmp_path):
    """M4 through the verification firmware: the window arrives in RUN chunks, runs at the last."""
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    model = same_model(3, max_steps=60)
    x = irgen.random_input(np.random.default_rng(5), model, 3, 60)
    assert len(np.unique(run_model(model, x))) > 2  # the compared outputs are live
    with connect("qemu:mps2-an386", model, tmp_path / "fw") as (device, _):
        result = verify_device(device, model, x, progress=False)
    assert result.error is None and result.mismatches == 0, result.summary()
