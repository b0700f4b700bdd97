"""`tinyrnn bench`: the CLI on a small subset (one model, the two boards with CMSIS-NN
figures), its targets, the linker-map sizes, and the committed results it regenerates."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.app import cmsis_nn
from tinyrnn.app.commands import bench
from tinyrnn.codegen.build import map_sizes
from tinyrnn.codegen.generate import build_context
from tinyrnn.core.boards import qemu_boards, weight_layouts
from tinyrnn.core.golden.conv1d_s8 import conv1d_s8

RESULTS = Path(__file__).resolve().parents[1] / "results"
CODE_BUDGET = 3072  # one LSTM layer: kernels + generated runtime, weights excluded (issue #5)
# Measured by `tinyrnn bench --cmsis-nn` on the same weights (results/bench.md names the CMSIS-NN commit).
CMSIS_NN = bench.baseline_of(bench.load_cmsis(RESULTS / "bench.json"))
# Issue #5's bounds (tinyrnn / CMSIS-NN instructions), met by the int16 layout and kept as a
# regression guard; issue #15's goals (bench.GOALS) are reported in the table, met or not.
INT16_BOUND = {"mps2-an386": 0.5, "mps2-an385": 0.6}
_have_tools = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "tinyrnn", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


MAP = """\
Discarded input sections

 .text.tinyrnn_lstm_s8_step
                0x00000000      0x999 build/app/tinyrnn_lstm_s8.o

Linker script and memory map

 .text.tinyrnn_model_step
                0x00000440       0x38 build/app/model.o
 .text.glue_step
                0x000004b8       0x10 build/app/model_glue.o
 .text          0x00000500       0x20 build/app/tinyrnn_lstm_s8.o
 .text.tinyrnn_lstm_s8_step
                0x00000520      0x400 build/app/tinyrnn_lstm_s8.o
 .rodata.tinyrnn_app_model
                0x000023d4       0x18 build/app/model_glue.o
 .rodata.tinyrnn_model_l0_w_h
                0x00002928     0x2000 build/app/model_weights.o
 .bss.g_state   0x20004240       0xb8 build/app/model_glue.o
"""


def test_map_sizes_count_only_the_model(tmp_path):
    (tmp_path / "firmware.map").write_text(MAP)
    sizes = map_sizes(tmp_path / "firmware.map", {"model.o", "tinyrnn_lstm_s8.o"}, {"model_weights.o"})
    assert sizes == {"flash_code_bytes": 0x38 + 0x20 + 0x400, "flash_weights_bytes": 0x2000, "ram_bytes": 0xB8}


def test_models_are_fixed_and_take_the_fast_path():
    for name, (kind, inputs, hidden, _) in bench.MODELS.items():
        model, again = bench.bench_model(name), bench.bench_model(name)
        assert model.content_hash() == again.content_hash()
        cell = model.layers[-1]
        assert (cell.kind, model.input_size, cell.hidden_size) == (kind.removeprefix("conv_"), inputs, hidden)
        if kind != "conv_lstm":
            assert bench.macs_per_step(name) == {"lstm": 4, "gru": 3, "rnn": 1}[kind] * hidden * (inputs + hidden)
        context = build_context(model, "model")
        assert context["recurrent"][0]["fields"]["reference"] == 0, f"{name} would measure the reference path"


def test_conv_lstm_is_the_har_cnn_lstm_on_its_twins_lstm():
    """Conv1D(16, k=5, causal, relu) + MaxPooling1D(2) + LSTM(32) on 9 channels; its LSTM is
    lstm_i16_h32's, stepping at half the calls, so MACs per call = conv + LSTM / 2."""
    model = bench.bench_model("conv_lstm_i9_h32")
    conv, pool, lstm = model.layers
    assert (conv.kind, conv.input_size, conv.output_size, conv.kernel_size, conv.padding, conv.activation) == \
        ("conv1d", 9, 16, 5, "causal", "relu")
    assert (pool.kind, pool.pool, pool.pool_size, pool.strides) == ("pool1d", "max", 2, 2)
    twin = bench.bench_model("lstm_i16_h32")
    assert dataclasses.replace(twin, layers=[lstm]).content_hash() == twin.content_hash()
    # The LSTM steps at calls 1, 3, ..., so a bench run's calls hold exactly half as many LSTM steps.
    assert model.front_timing == (1, 2) and bench.DEFAULT_STEPS % 2 == 0
    assert bench.conv_macs("conv_lstm_i9_h32") == 16 * 5 * 9 == 720
    assert bench.macs_per_step("conv_lstm_i9_h32") == 720 + 4 * 32 * (16 + 32) // 2
    # Relu outputs spread over the int8 range (realistic multipliers), neither all clamped nor all saturated.
    codes = conv1d_s8(conv, np.random.default_rng(0).integers(-128, 128, (4, 64, 9), dtype=np.int8))
    assert 0.2 < np.mean(codes == conv.output_zero_point) < 0.8 and np.mean(codes == 127) < 0.1


def test_kernel_table_takes_the_front_end_as_a_difference():
    rows = [{"board": "mps2-an386", "model": m, "weights": "int8", "instructions_per_step": n}
            for m, n in (("lstm_i9_h32", 10496), ("lstm_i16_h32", 12000), ("conv_lstm_i9_h32", 7440))]
    table = bench.render_kernels(rows).splitlines()
    assert len(table) == 3
    # LSTM 10,496 / 5,248 MACs; front end (7,440 - 12,000 / 2) / 720 MACs = 1,440 / 720
    assert table[2] == "| mps2-an386 | M4 | int8 | 2.00 | – | – | 2.00 (1,440 per input step) |"


def test_unknown_board_or_model_is_a_user_error(tmp_path):
    for args, fragment in ((["--boards", "mps2-an386,nope"], "unknown board nope"),
                           (["--models", "lstm_i1_h1"], "unknown model lstm_i1_h1"),
                           (["--steps", "0"], "--steps"),
                           (["--cmsis-nn", str(tmp_path)], "not a CMSIS-NN checkout"),
                           (["--cmsis-nn", str(tmp_path), "--baseline", str(RESULTS / "bench.json")], "give one"),
                           (["--baseline", str(RESULTS / "README.md")], "no CMSIS-NN figures")):
        proc = run_cli(*args, "--json")
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("tinyrnn: error:")]
        assert len(errors) == 1 and fragment in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.qemu
@pytest.mark.skipif(not _have_tools, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_bench_subset_meets_targets_and_matches_committed_results(tmp_path):
    proc = run_cli("--boards", "mps2-an386,mps2-an385", "--models", "lstm_i9_h32", "--json", "--out", tmp_path,
                   "--baseline", RESULTS / "bench.json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    rows = json.loads(lines[0])["results"]
    assert [(r["board"], r["model"], r["weights"], r["path"]) for r in rows] == [
        ("mps2-an386", "lstm_i9_h32", "int8", "dsp8"), ("mps2-an386", "lstm_i9_h32", "int16", "dsp"),
        ("mps2-an385", "lstm_i9_h32", "int8", "plain"), ("mps2-an385", "lstm_i9_h32", "int16", "wide")]
    committed = {(r["board"], r["model"], r["weights"]): r
                 for r in json.loads((RESULTS / "bench.json").read_text())["results"]}
    for r in rows:
        assert set(r) == set(bench.FIELDS)
        assert r["macs_per_step"] == 5248 and 0 < r["stack_peak_bytes"] < 4096
        assert r["flash_code_bytes"] <= CODE_BUDGET and r["ram_bytes"] >= 41
        # the weights' bytes: one per weight in int8 (plus padding), two in int16
        assert 5248 <= r["flash_weights_bytes"] * {"int8": 1, "int16": 0.5}[r["weights"]] < 2 * 5248
        if r["weights"] == "int16":
            limit = INT16_BOUND[r["board"]] * CMSIS_NN[r["board"]][r["model"]]
            assert r["instructions_per_step"] <= limit, f"{r['board']}: {r['instructions_per_step']} > {limit}"
        old = committed[(r["board"], r["model"], r["weights"])]
        for key in ("instructions_per_step", "flash_code_bytes", "flash_weights_bytes", "ram_bytes"):
            assert abs(r[key] - old[key]) <= 0.01 * old[key], \
                f"results/bench.json is stale ({key} {old[key]} → {r[key]}): regenerate with `{bench.REGENERATE}`"
    written = sorted(Path(p).name for p in json.loads(lines[0])["written"])
    assert written == ["bench.json", "bench.md"]
    assert "| mps2-an385 | M3 | lstm_i9_h32 |" in (tmp_path / "bench.md").read_text()


def test_committed_results_cover_every_board_and_model():
    data = json.loads((RESULTS / "bench.json").read_text())
    runs = {(r["board"], r["model"], r["weights"]) for r in data["results"]}
    assert runs == {(b, m, w) for b in qemu_boards() for m in bench.MODELS for w in weight_layouts(b)}
    table = (RESULTS / "bench.md").read_text()
    assert bench.render_markdown(data["results"], data["steps"], data["baseline"]) in table
    assert bench.render_kernels(data["results"]) in table
    # every LSTM row has its CMSIS-NN figure, measured equal to golden, rendered in bench.md
    assert {(r["board"], r["model"]) for r in data["cmsis_nn"]["rows"] if r["mismatches_vs_golden"] == 0} == \
        {(b, m) for b in qemu_boards() for m in bench.MODELS if m.startswith("lstm")}
    assert cmsis_nn.render(data["cmsis_nn"], data["results"]) in table
    for r in data["results"]:
        assert r["instructions_per_step"] > 0 and r["flash_code_bytes"] > 0
        if r["model"].startswith("lstm"):
            assert r["flash_code_bytes"] <= CODE_BUDGET, r
        ref = CMSIS_NN.get(r["board"], {}).get(r["model"])
        if ref and r["weights"] == "int16" and r["board"] in INT16_BOUND:
            assert r["instructions_per_step"] <= INT16_BOUND[r["board"]] * ref, r


def test_readme_conv_lstm_row_is_the_committed_results():
    rows = {(r["board"], r["model"], r["weights"]): r for r in json.loads((RESULTS / "bench.json").read_text())["results"]}
    readme = (RESULTS.parent / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("| conv_lstm_i9_h32 "))
    columns = [("microbit", "int8"), ("mps2-an385", "int8"), ("mps2-an385", "int16"), ("mps2-an386", "int8"),
               ("mps2-an386", "int16"), ("mps3-an547", "int8")]  # M0, M3 ×2, M4 ×2, M55
    figures = [f"{rows[(b, 'conv_lstm_i9_h32', w)]['instructions_per_step']:,}" for b, w in columns]
    assert line.split("|")[3:-1] == [f" {f} " for f in figures]


@pytest.mark.qemu
@pytest.mark.skipif(not _have_tools, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_target_bench_reports_the_boards_own_timing(tmp_path):
    """`bench --target URL --no-flash` against a QEMU-booted bench firmware: the board's SysTick
    time (under -icount 1 µs = 1,000 instructions) agrees with the QEMU row; QEMU's DWT has no
    cycles, which the row says instead of printing 0."""
    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project
    from tinyrnn.harness.qemu import Qemu

    name = "lstm_i9_h32"
    project = render_project(bench.bench_model(name), "mps2-an386", tmp_path / "fw", weights="int8")
    elf = build(project["project_dir"])["elf"]
    qemu_row = bench.bench_one("mps2-an386", name, tmp_path / "q", steps=8)
    with Qemu("mps2-an386", elf) as qemu:
        proc = run_cli("--target", qemu.url, "--board", "mps2-an386", "--no-flash", "--models", name,
                       "--weights", "int8", "--steps", "8", "--json")
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)["target_results"]
    assert (row["model"], row["weights"], row["path"], row["cycles_per_step"]) == (name, "int8", "dsp8", None)
    assert abs(row["us_per_step"] * 1000 - qemu_row["instructions_per_step"]) <= 0.01 * qemu_row["instructions_per_step"]
    assert row["flash_code_bytes"] == qemu_row["flash_code_bytes"] and row["macs_per_step"] == 5248


def test_target_bench_refuses_what_cannot_work():
    for args, fragment in ((["--target", "socket://localhost:1"], "needs --board"),
                           (["--target", "socket://localhost:1", "--board", "mps2-an386", "--no-flash"],
                            "one --models name"),
                           (["--target", "socket://localhost:1", "--board", "mps2-an386", "--models", "lstm_i9_h32"],
                            "no flash probe"),
                           (["--target", "socket://localhost:1", "--board", "mps2-an386", "--no-flash", "--models",
                             "lstm_i9_h32"], "give the one its firmware was built with")):
        proc = run_cli(*args)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("tinyrnn: error:")]
        assert proc.returncode == 2 and len(errors) == 1 and fragment in errors[0], proc.stderr
