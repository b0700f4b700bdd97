"""Bidirectional layers in generated C (whole-window ``_run``) against the golden model.

Random models (tests/irgen.py): every inner kind (LSTM, both GRU variants, SimpleRNN
tanh/relu) and merge mode (concat, sum, ave, mul), returning sequences or not, alone or
stacked with other recurrent layers and under Dense heads; extreme parameters saturate
every path. Every output element compared. Plus: no step API in the header, _run's
refusal of T > MAX_STEPS, ASan+UBSan, and one QEMU mps2-an386 run over two RUN chunks.
"""

from __future__ import annotations

import shutil

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core import tnr
from tinyrnn.core.boards import qemu_boards
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import MERGE_MODES, BidirectionalLayer, Model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
_have_arm = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
KINDS = ("lstm", "gru", "gru_before", "rnn", "rnn_relu")
MAX_STEPS = 12
# (merge mode, layer returns sequences): every pair once, inner kinds cycling through KINDS.
CASES = [(mode, seq) for mode in MERGE_MODES for seq in (False, True)]


def bidir_model(seed: int, mode: str, seq: bool, extreme: float = 0.3, max_steps: int = MAX_STEPS) -> Model:
    """[recurrent?] Bidirectional(kind, mode) [recurrent?] [Dense 0-2]: the model returns
    sequences when ``seq`` (then no recurrent layer follows with a final output)."""
    rng = np.random.default_rng(9000 + seed)
    kind, other = KINDS[seed % len(KINDS)], KINDS[(seed + 2) % len(KINDS)]
    size = lambda: int(rng.integers(1, 9))  # noqa: E731
    width, layers = size(), []
    if rng.random() < 0.5:
        layers.append(irgen.recurrent_layer(rng, other, width, size(), extreme=extreme, name="before"))
    after = rng.random() < 0.5
    layers.append(irgen.bidirectional_layer(rng, kind, layers[-1].output_size if layers else width, size(),
                                            merge_mode=mode, return_sequences=seq or after, max_steps=max_steps,
                                            extreme=extreme, name="bidir"))
    if after:
        layers.append(irgen.recurrent_layer(rng, other, layers[-1].output_size, size(), return_sequences=seq,
                                            extreme=extreme, name="after"))
    n_dense = int(rng.integers(0, 3))
    for k in range(n_dense):
        hidden = k < n_dense - 1
        layers.append(irgen.dense_layer(rng, layers[-1].output_size, size(), activation="tanh" if hidden else "linear",
                                        extreme=extreme, name=f"dense{k}", hidden=hidden))
    return Model(name=f"bidir_{seed}", input_size=width, input_quant=irgen.identity_input_quant(width), layers=layers)


def _inputs(rng, model, steps: int) -> np.ndarray:
    return np.concatenate([irgen.random_input(rng, model, 4, steps), irgen.random_input(rng, model, 2, steps,
                                                                                        extreme=True)])


@needs_gcc
@pytest.mark.parametrize("case", range(len(CASES)))
def test_random_bidirectional_models_equal_golden(case, tmp_path):
    mode, seq = CASES[case]
    model = bidir_model(case, mode, seq, extreme=(0.0, 0.3, 1.0)[case % 3])
    tnr.save(model, tmp_path / "m.tnr")  # validate accepts it
    host = HostModel(model, tmp_path)
    rng = np.random.default_rng(case)
    kinds = [layer.kind for layer in model.layers]
    for steps in (1, int(rng.integers(2, MAX_STEPS)), MAX_STEPS):
        x = _inputs(rng, model, steps)
        np.testing.assert_array_equal(host.run(x), run_model(model, x), err_msg=f"{mode} seq={seq} {kinds} T={steps}")


@needs_gcc
def test_whole_window_api_and_limits(tmp_path):
    """No step API in the header, T > MAX_STEPS refused by _run, sanitizers clean."""
    model = bidir_model(3, "ave", True, extreme=1.0, max_steps=5)
    host = HostModel(model, tmp_path, sanitize=True)
    header = (tmp_path / "src" / "model.h").read_text()
    assert "tinyrnn_model_step" not in header and "tinyrnn_model_run_masked" not in header
    assert "#define TINYRNN_MODEL_MAX_STEPS 5" in header
    x = _inputs(np.random.default_rng(1), model, 5)
    np.testing.assert_array_equal(host.run(x), run_model(model, x))
    with pytest.raises(TinyrnnError, match="exit 6"):
        host.run(_inputs(np.random.default_rng(1), model, 6))


@pytest.mark.parametrize("mode", ["sum", "ave", "mul"])
def test_integer_merge_tracks_the_real_merge(mode):
    """The merge's integer spec against the real-valued merge of the dequantized inputs,
    with the quantizer's grid and multipliers: within one output step (plus rounding)."""
    from types import SimpleNamespace

    from tinyrnn.core.golden.bidirectional_s8 import merge_s8
    from tinyrnn.quantize.float_model import MERGES
    from tinyrnn.quantize.layers import merge_grid

    rng = np.random.default_rng(2)
    f, b = (rng.integers(-128, 128, size=(2000, 3)) for _ in range(2))
    (s_f, zp_f), (s_b, zp_b) = (0.01, -5), (0.023, 17)
    real = MERGES[mode]((f - zp_f) * s_f, (b - zp_b) * s_b)
    s_y, zp_y, m, s = merge_grid(mode, s_f, s_b, (float(real.min()), float(real.max())))
    directions = (SimpleNamespace(hidden_zero_point=zp_f), SimpleNamespace(hidden_zero_point=zp_b))
    layer = BidirectionalLayer("b", mode, *directions, s_y, zp_y, m, s, 1)
    got = (merge_s8(layer, f.astype(np.int8), b.astype(np.int8)).astype(float) - zp_y) * s_y
    assert np.abs(got - real).max() <= 0.51 * s_y + 1e-9


@pytest.mark.qemu
@pytest.mark.skipif(not _have_arm or "mps2-an386" not in qemu_boards(), reason="needs arm-none-eabi-gcc, QEMU")
def test_qemu_mps2_an386_equals_golden(tmp_path):
    """DSP path (M4) through the verification firmware: the window arrives in two RUN chunks."""
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    model = bidir_model(0, "concat", False, extreme=0.0, max_steps=90)
    rng = np.random.default_rng(5)
    x = irgen.random_input(rng, model, 3, 90)
    assert len(np.unique(run_model(model, x))) > 2  # the compared outputs are live
    with connect("qemu:mps2-an386", model, tmp_path / "fw") as (device, _):
        assert device.steps_per_chunk() < 90
        result = verify_device(device, model, x, progress=False)
    assert result.error is None and result.sequences == len(x) and result.mismatches == 0, result.summary()
