"""Every kernel path equals the golden model, element for element, on every QEMU board.

Each board builds its default int8 path (tinyrnn_arch.h: PLAIN on M0 and M3, DSP8 on
M4/M7/M33, MVE on M55) and M3/M4 their int16 layouts too (WIDE, DSP), so two small
models per board cover every kernel: a realistic
stack of LSTM, GRU (reset_after) and GRU (reset_after=False) with a Dense head, odd
sizes so every padding and tail path runs; and an extreme one whose saturating
parameters force the reference requantization path. Both return sequences, so every
step's output is compared. On the host: the DSP path (intrinsics emulated in C), the
PLAIN and WIDE paths under sanitizers, and the WIDE path's chunking past 252 columns.
"""

from __future__ import annotations

import shutil
import subprocess

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.generate import build_context
from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core.boards import qemu_boards

_have_tools = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")


def stack_model():
    rng = np.random.default_rng(51)
    return irgen.build_model(rng, 13, [11, 9, 7], [5], returns_sequences=True, kinds=["lstm", "gru", "gru_before"],
                             name="stack")


def extreme_model():
    rng = np.random.default_rng(17)
    return irgen.build_model(rng, 6, [5, 6, 3], [4], returns_sequences=True, extreme=0.6,
                             kinds=["gru_before", "lstm", "gru"], name="extreme")


def _inputs(model, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = irgen.random_input(rng, model, 3, 5)
    x[2] = irgen.random_input(rng, model, 1, 5, extreme=True)[0]  # rails: every saturation
    return x


def test_models_cover_every_kernel_branch():
    """The fixtures above really reach what the docstring promises."""
    stack, extreme = build_context(stack_model(), "m"), build_context(extreme_model(), "m")
    assert [r["kind"] for r in stack["recurrent"]] == ["lstm", "gru", "gru"]
    assert [r["fields"]["reset_after"] for r in stack["recurrent"][1:]] == [1, 0]
    assert not any(r["fields"]["reference"] for r in stack["recurrent"])
    assert any(r["fields"]["reference"] for r in extreme["recurrent"] if r["kind"] == "lstm")
    assert any(r["fields"]["reference"] for r in extreme["recurrent"] if r["kind"] == "gru")
    sizes = [(r["fields"]["input_size"], r["size"]) for r in stack["recurrent"]]
    assert any(i % 4 and i % 16 for i, _ in sizes) and any(h % 4 for _, h in sizes)  # tails and padding


@pytest.mark.qemu
@pytest.mark.skipif(not _have_tools, reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board", qemu_boards())
def test_board_equals_golden(board, tmp_path):
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    for k, model in enumerate((stack_model(), extreme_model())):
        x = _inputs(model, 100 + k)
        with connect(f"qemu:{board}", model, tmp_path / model.name) as (device, _):
            result = verify_device(device, model, x, progress=False)
        assert result.error is None, f"{board} {model.name}: {result.error}"
        assert result.sequences == len(x), f"{board} {model.name}: only {result.sequences} sequences ran"
        assert result.mismatches == 0, f"{board} {model.name}: first mismatch {result.first_mismatch}"


@pytest.mark.qemu
@pytest.mark.skipif(not _have_tools, reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board", ["mps2-an385", "mps2-an386"])
def test_int16_weight_layout_on_its_boards(board, tmp_path):
    """Boards build the int8 layout by default; the opt-in int16 layouts (M3 packed pairs,
    M4 SMLAD on pre-widened weights), each verified as above."""
    from tinyrnn.codegen.project import render_project
    from tinyrnn.harness.dut import Device
    from tinyrnn.harness.qemu import Qemu
    from tinyrnn.harness.verify import verify_device

    for k, model in enumerate((stack_model(), extreme_model())):
        project = render_project(model, board, tmp_path / model.name, weights="int16")
        assert project["weights"] == "int16" and project["path"] in ("wide", "dsp")
        subprocess.run(["make", "-C", project["project_dir"], "-j2", "firmware.elf"], check=True, capture_output=True,
                       timeout=300)
        x = _inputs(model, 300 + k)
        with Qemu(board, tmp_path / model.name / "firmware.elf") as qemu, \
                Device.open(qemu.url, expected_hash=model.content_hash()) as device:
            result = verify_device(device, model, x, progress=False)
        assert (result.error, result.sequences, result.mismatches) == (None, len(x), 0), result.first_mismatch


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("path", ["plain", "wide", "dsp", "dsp8"],
                         ids=["plain", "wide", "dsp-emulated", "dsp8-emulated"])
def test_host_paths_equal_golden(path, tmp_path):
    """Each C path compiled for the host under ASan + UBSan; the extreme model has every
    kernel (both GRU variants), tails, saturation and the reference requantization."""
    model = extreme_model()
    x = _inputs(model, 200)
    host = HostModel(model, tmp_path, sanitize=True, path=path)
    np.testing.assert_array_equal(host.step(x), irgen.golden_step_outputs(model, x))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_wide_path_splits_long_rows(tmp_path):
    """More than 252 columns: the WIDE path's packed sums are split in chunks (at rails,
    where the low field would otherwise spill into the high one)."""
    rng = np.random.default_rng(5)
    model = irgen.build_model(rng, 300, [3], [], returns_sequences=True, kinds=["lstm"])
    for layer in model.layers:
        layer.w_x[...] = -128
    x = np.full((2, 3, 300), -128, np.int8)
    x[1] = irgen.random_input(rng, model, 1, 3)[0]
    for path in ("wide", "dsp", "dsp8"):
        host = HostModel(model, tmp_path / f"p{path}", path=path)
        np.testing.assert_array_equal(host.step(x), irgen.golden_step_outputs(model, x))
