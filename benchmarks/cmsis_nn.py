"""CMSIS-NN's int8 LSTM measured beside tinyrnn's, same weights, same boards, same counting.

    python benchmarks/cmsis_nn.py --cmsis-nn PATH            # a CMSIS-NN checkout (Include/, Source/)
    python benchmarks/cmsis_nn.py --cmsis-nn PATH --out results

For every (board, LSTM bench model) pair this builds ``arm_lstm_unidirectional_s8`` from
the user's checkout (never vendored into this repo) into a firmware for the board, with
the weights, biases and requantization constants of ``tinyrnn bench``'s model of that
name, runs ``--steps`` steps of the bench input under QEMU ``-icount shift=0`` and
checks every output byte against the golden model (a mismatch is a failed run, not a
figure). instructions/step = SysTick ticks x the board's tick factor / steps, exactly as
``tinyrnn bench`` counts; the ratio column is tinyrnn / CMSIS-NN in *instructions*.
tinyrnn's figures come from a ``tinyrnn bench`` run in the same process.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import serial

from tinyrnn.app import cycles
from tinyrnn.app.commands import bench
from tinyrnn.codegen.build import build, map_code_ranges
from tinyrnn.codegen.firmware import render_firmware
from tinyrnn.core.boards import get_board, instructions_per_tick
from tinyrnn.core.golden.lstm_s8 import lstm_s8
from tinyrnn.harness import trace
from tinyrnn.harness.qemu import Qemu

SOURCES = ("LSTMFunctions/arm_lstm_unidirectional_s8.c", "NNSupportFunctions/arm_nn_lstm_step_s8.c",
           "NNSupportFunctions/arm_nn_lstm_calculate_gate_s8_s16.c",
           "NNSupportFunctions/arm_nn_vec_mat_mul_result_acc_s8_s16.c", "ActivationFunctions/arm_nn_activation_s16.c",
           "BasicMathFunctions/arm_elementwise_mul_s16_s8.c", "BasicMathFunctions/arm_elementwise_mul_s16.c",
           "BasicMathFunctions/arm_elementwise_mul_acc_s16.c", "FullyConnectedFunctions/arm_vector_sum_s8.c", "NNSupportFunctions/arm_nntables.c")
GATES = ("input", "forget", "cell", "output")  # the IR's gate order
BOARDS = ("mps2-an385", "mps2-an386", "mps3-an547", "microbit")
LSTM_MODELS = tuple(m for m in bench.MODELS if m.startswith("lstm"))

MAIN_C = """/* CMSIS-NN baseline app (benchmarks/cmsis_nn.py): T steps, ticks and outputs as text. */
#include <stdint.h>
#include "arm_nnfunctions.h"
#include "board.h"
#include "data.h"

static int32_t sum_x[4][H], sum_h[4][H];
static int16_t temp1[H], temp2[H], cell[H];
static int8_t out[T * H];

static void put_hex(uint32_t v, int digits)
{
    for (int i = digits - 1; i >= 0; --i) {
        board_putc((uint8_t)"0123456789abcdef"[(v >> (4 * i)) & 0xFu]);
    }
}

static cmsis_nn_lstm_gate gate(int g, arm_nn_activation_type act)
{
    arm_vector_sum_s8(sum_x[g], I, H, w_x[g], INPUT_OFFSET, 0, bias[g]);
    arm_vector_sum_s8(sum_h[g], H, H, w_h[g], -OUTPUT_OFFSET, 0, NULL);
    const cmsis_nn_lstm_gate q = {mx[g], sx[g], w_x[g], sum_x[g], mh[g], sh[g], w_h[g], sum_h[g], bias[g], act};
    return q;
}

int main(void)
{
    board_init();
    const cmsis_nn_lstm_params p = {1, 1, T, I, H, INPUT_OFFSET, F2C_M, F2C_S, I2C_M, I2C_S, CELL_CLIP, CELL_POWER,
                                    HID_M, HID_S, OUTPUT_OFFSET, gate(1, ARM_SIGMOID), gate(0, ARM_SIGMOID),
                                    gate(2, ARM_TANH), gate(3, ARM_SIGMOID)};
    cmsis_nn_lstm_context ctx = {temp1, temp2, cell, NULL};
    const uint32_t t0 = board_ticks();
    const arm_cmsis_nn_status status = arm_lstm_unidirectional_s8(x, out, &p, &ctx);
    const uint32_t ticks = board_ticks() - t0;
    const char *tag = "ticks=";
    while (*tag) board_putc((uint8_t)*tag++);
    put_hex(ticks, 8);
    board_putc(' ');
    put_hex((uint32_t)status, 2);
    board_putc('\\n');
    for (int k = 0; k < T * H; ++k) put_hex((uint8_t)out[k], 2);
    board_putc('\\n');
    for (;;) {
    }
}
"""


def _array(name: str, a: np.ndarray, ctype: str) -> str:
    dims = "".join(f"[{d}]" for d in a.shape)
    return f"static const {ctype} {name}{dims} = {{{', '.join(str(int(v)) for v in a.ravel())}}};\n"


def data_header(name: str, steps: int) -> tuple[str, np.ndarray]:
    """The bench model ``name`` as CMSIS-NN data, and the T x I input (the bench input, every step)."""
    layer = bench.bench_model(name).layers[0]
    x = np.tile(bench.bench_input(name), (steps, 1))
    consts = {"I": layer.input_size, "H": layer.hidden_size, "T": steps,
              "INPUT_OFFSET": -layer.input_zero_point, "OUTPUT_OFFSET": layer.hidden_zero_point,
              "F2C_M": layer.forget_to_cell_multiplier, "F2C_S": layer.forget_to_cell_shift,
              "I2C_M": layer.input_to_cell_multiplier, "I2C_S": layer.input_to_cell_shift,
              # CMSIS-NN clamps the cell to +-cell_clip; the IR's 0 means int16's own range.
              "CELL_CLIP": layer.cell_clip or 32767, "CELL_POWER": layer.cell_scale_power,
              "HID_M": layer.hidden_multiplier, "HID_S": layer.hidden_shift}
    text = "".join(f"#define {k} ({int(v)})\n" for k, v in consts.items())
    text += _array("w_x", layer.w_x, "int8_t") + _array("w_h", layer.w_h, "int8_t")
    text += _array("bias", layer.bias, "int32_t") + _array("x", x, "int8_t")
    for key, arr in (("mx", layer.gate_x_multiplier), ("sx", layer.gate_x_shift),
                     ("mh", layer.gate_h_multiplier), ("sh", layer.gate_h_shift)):
        text += _array(key, np.asarray(arr), "int32_t")
    return text, x


def _cmsis_commit(checkout: Path) -> str:
    proc = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown (not a git checkout)"


def build_baseline(checkout: Path, board: str, name: str, steps: int, work: Path) -> tuple[str, np.ndarray]:
    header, x = data_header(name, steps)
    app = work / "src"
    app.mkdir(parents=True, exist_ok=True)
    (app / "main.c").write_text(MAIN_C)
    (app / "data.h").write_text(header)
    project = render_firmware(work / "fw", board, [str(app / "main.c"), str(app / "data.h")])
    makefile = Path(project["makefile"])
    text = makefile.read_text()
    srcs = " ".join(str(checkout / "Source" / s) for s in SOURCES)
    # Third-party code: its own warnings are not ours to fail on.
    text = text.replace("-Werror ", "").replace("CPPFLAGS := ", f"CPPFLAGS := -I{checkout / 'Include'} ")
    text = re.sub(r"^SRCS := (.*)$", lambda m: f"SRCS := {m.group(1)} {srcs}", text, flags=re.M)
    makefile.write_text(text)
    return build(project["project_dir"])["elf"], x


def run_baseline(board: str, elf: str, timeout_s: float, extra_args: tuple = ()) -> tuple[int, np.ndarray]:
    with Qemu(board, elf, timeout_s=timeout_s + 30, extra_args=extra_args) as qemu:
        port = serial.serial_for_url(qemu.url, timeout=timeout_s)
        lines = [port.readline().decode().strip() for _ in range(2)]
        port.close()
    head = re.fullmatch(r"ticks=([0-9a-f]{8}) ([0-9a-f]{2})", lines[0])
    if not head or head.group(2) != "00":
        raise RuntimeError(f"{board}: CMSIS-NN run failed: {lines[0]!r}")
    return int(head.group(1), 16), np.frombuffer(bytes.fromhex(lines[1]), np.uint8).astype(np.int8)


def measure(checkout: Path, board: str, name: str, steps: int, work: Path) -> dict:
    elf, x = build_baseline(checkout, board, name, steps, work / f"{board}-{name}")
    timeout = 60.0 + steps * bench.macs_per_step(name) / 2e4
    ticks, out = run_baseline(board, elf, timeout)
    expected, _ = lstm_s8(bench.bench_model(name).layers[0], x[None])
    mismatches = int(np.count_nonzero(out != expected.ravel()))
    return {"board": board, "model": name, "cmsis_nn_instructions_per_step":
            int(round(ticks * instructions_per_tick(board) / steps)), "outputs_compared": int(out.size),
            "mismatches_vs_golden": mismatches, "cmsis_nn_est_cycles_per_step": est_cycles(board, elf, steps, timeout)}


def est_cycles(board: str, elf: str, steps: int, timeout_s: float) -> int | None:
    """tinyrnn.app.cycles' estimate of the timed LSTM call, from a traced second run (start-up
    kernel sums excluded), or None where the core is not modelled."""
    core = get_board(board)["cpu"]
    if core not in cycles.MODELLED:
        return None
    map_file = Path(elf).with_name("firmware.map")
    objects = {Path(s).with_suffix(".o").name for s in SOURCES} - {"arm_vector_sum_s8.o"}
    log = Path(elf).with_name("trace.log")
    args = ("-d", "in_asm,exec,nochain", "-dfilter", trace.dfilter(map_code_ranges(map_file, objects)), "-D", str(log))
    run_baseline(board, elf, timeout_s * 10, args)
    return int(round(cycles.estimate(core, trace.executed(log)) / steps))


def table(rows: list, commit: str) -> str:
    lines = [f"# tinyrnn vs CMSIS-NN `arm_lstm_unidirectional_s8` (CMSIS-NN {commit})", "",
             "Same weights and inputs (`tinyrnn bench` models), QEMU `-icount shift=0`, gcc -O2; instructions per",
             "step; ratio = tinyrnn / CMSIS-NN **instructions** (not cycles). CMSIS-NN stores int8 weights.",
             "Regenerate: `python benchmarks/cmsis_nn.py --cmsis-nn PATH --out results`.", "",
             "Est. cycles: the same static estimate as `tinyrnn bench --cycles` (`tinyrnn/app/cycles.py`), M0/M3/M4 only.",
             "",
             "| board | model | tinyrnn instr. | CMSIS-NN instr. | ratio (instr.) | tinyrnn est. cycles | CMSIS-NN est. "
             "cycles | ratio (est. cycles) | CMSIS-NN outputs == golden |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ours = r["tinyrnn_instructions_per_step"]
        theirs = r["cmsis_nn_instructions_per_step"]
        same = "yes" if r["mismatches_vs_golden"] == 0 else f"NO ({r['mismatches_vs_golden']} differ)"
        oc, tc = r.get("tinyrnn_est_cycles_per_step"), r.get("cmsis_nn_est_cycles_per_step")
        cyc = f"{oc:,} | {tc:,} | {oc / tc:.2f}x" if oc and tc else "– | – | –"
        lines.append(f"| {r['board']} | {r['model']} | {ours:,} | {theirs:,} | {ours / theirs:.2f}x | {cyc} | "
                     f"{same} ({r['outputs_compared']} bytes) |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cmsis-nn", required=True, type=Path, help="CMSIS-NN checkout (with Include/ and Source/)")
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--models", default=",".join(LSTM_MODELS))
    ap.add_argument("--steps", type=int, default=bench.DEFAULT_STEPS)
    ap.add_argument("--out", type=Path, help="write OUT/cmsis_nn.md and OUT/cmsis_nn.json")
    args = ap.parse_args(argv)
    if not (args.cmsis_nn / "Include" / "arm_nnfunctions.h").is_file():
        sys.exit(f"cmsis_nn.py: error: {args.cmsis_nn} is not a CMSIS-NN checkout (no Include/arm_nnfunctions.h)")
    boards, models = args.boards.split(","), args.models.split(",")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinyrnn-cmsis-") as tmp:
        ours = {(r["board"], r["model"]): r for r in
                bench.bench_all(boards, models, Path(tmp) / "ours", args.steps, with_cycles=True)}
        rows = []
        for board in boards:
            for name in models:
                row = measure(args.cmsis_nn, board, name, args.steps, Path(tmp))
                row["tinyrnn_instructions_per_step"] = ours[(board, name)]["instructions_per_step"]
                row["tinyrnn_est_cycles_per_step"] = ours[(board, name)]["est_cycles_per_step"]
                rows.append(row)
                print(f"{board} {name}: tinyrnn {row['tinyrnn_instructions_per_step']}, CMSIS-NN "
                      f"{row['cmsis_nn_instructions_per_step']}, mismatches {row['mismatches_vs_golden']}",
                      file=sys.stderr, flush=True)
    commit = _cmsis_commit(args.cmsis_nn)
    text = table(rows, commit)
    sys.stdout.write(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cmsis_nn.md").write_text(text)
        (args.out / "cmsis_nn.json").write_text(json.dumps({"cmsis_nn_commit": commit, "steps": args.steps,
                                                            "seconds": round(time.monotonic() - started, 1),
                                                            "rows": rows}, indent=1) + "\n")
    return 1 if any(r["mismatches_vs_golden"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
