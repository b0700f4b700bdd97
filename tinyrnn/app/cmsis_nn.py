"""CMSIS-NN's ``arm_lstm_unidirectional_s8`` measured beside tinyrnn, for ``tinyrnn bench --cmsis-nn PATH``.

For a bench LSTM layer and board this builds CMSIS-NN from the user's checkout (never
vendored into this repo) into a firmware with the very weights, biases and requantization
constants of tinyrnn's bench model, runs T steps of the bench input under QEMU
``-icount shift=0`` and checks every output byte against the golden model: a mismatch is a
failed measurement, never a figure. instructions/step = SysTick ticks x the board's tick
factor / T, as tinyrnn's rows count.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import serial

from tinyrnn.app import cycles
from tinyrnn.codegen.build import build, map_code_ranges
from tinyrnn.codegen.firmware import render_firmware
from tinyrnn.core.boards import get_board, instructions_per_tick
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.lstm_s8 import lstm_s8
from tinyrnn.harness import trace
from tinyrnn.harness.qemu import Qemu

SOURCES = ("LSTMFunctions/arm_lstm_unidirectional_s8.c", "NNSupportFunctions/arm_nn_lstm_step_s8.c",
           "NNSupportFunctions/arm_nn_lstm_calculate_gate_s8_s16.c",
           "NNSupportFunctions/arm_nn_vec_mat_mul_result_acc_s8_s16.c", "ActivationFunctions/arm_nn_activation_s16.c",
           "BasicMathFunctions/arm_elementwise_mul_s16_s8.c", "BasicMathFunctions/arm_elementwise_mul_s16.c",
           "BasicMathFunctions/arm_elementwise_mul_acc_s16.c", "FullyConnectedFunctions/arm_vector_sum_s8.c",
           "NNSupportFunctions/arm_nntables.c")

MAIN_C = """/* CMSIS-NN baseline app (tinyrnn bench --cmsis-nn): T steps, ticks and outputs as text. */
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


def data_header(layer, x: np.ndarray) -> str:
    """The LSTM ``layer`` (tinyrnn IR) and the T x I input ``x`` as CMSIS-NN's constants."""
    consts = {"I": layer.input_size, "H": layer.hidden_size, "T": len(x),
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
    return text


def checkout_commit(checkout: Path) -> str:
    """The checkout's short commit, after checking it is a CMSIS-NN tree at all."""
    if not (Path(checkout) / "Include" / "arm_nnfunctions.h").is_file():
        raise TinyrnnError(f"--cmsis-nn {checkout}: not a CMSIS-NN checkout (no Include/arm_nnfunctions.h)")
    proc = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown (not a git checkout)"


def build_baseline(checkout: Path, board: str, layer, x: np.ndarray, work: Path) -> str:
    app = work / "src"
    app.mkdir(parents=True, exist_ok=True)
    (app / "main.c").write_text(MAIN_C)
    (app / "data.h").write_text(data_header(layer, x))
    project = render_firmware(work / "fw", board, [str(app / "main.c"), str(app / "data.h")])
    makefile = Path(project["makefile"])
    text = makefile.read_text()
    srcs = " ".join(str(Path(checkout) / "Source" / s) for s in SOURCES)
    # Third-party code: its own warnings are not ours to fail on.
    text = text.replace("-Werror ", "").replace("CPPFLAGS := ", f"CPPFLAGS := -I{Path(checkout) / 'Include'} ")
    text = re.sub(r"^SRCS := (.*)$", lambda m: f"SRCS := {m.group(1)} {srcs}", text, flags=re.M)
    makefile.write_text(text)
    return build(project["project_dir"])["elf"]


def run_baseline(board: str, elf: str, timeout_s: float, extra_args: tuple = ()) -> tuple[int, np.ndarray]:
    with Qemu(board, elf, timeout_s=timeout_s + 30, extra_args=extra_args) as qemu:
        port = serial.serial_for_url(qemu.url, timeout=timeout_s)
        lines = [port.readline().decode(errors="replace").strip() for _ in range(2)]
        port.close()
    head = re.fullmatch(r"ticks=([0-9a-f]{8}) ([0-9a-f]{2})", lines[0])
    if not head or head.group(2) != "00":
        raise TinyrnnError(f"{board}: the CMSIS-NN baseline run failed: {lines[0]!r}")
    return int(head.group(1), 16), np.frombuffer(bytes.fromhex(lines[1]), np.uint8).astype(np.int8)


def measure(checkout: Path, board: str, layer, x: np.ndarray, work: Path, timeout_s: float,
            with_cycles: bool = False) -> dict:
    """One board and LSTM layer: CMSIS-NN's instructions (and est. cycles) per step, and how many
    of its output bytes differ from the golden model's."""
    elf = build_baseline(checkout, board, layer, x, work)
    ticks, out = run_baseline(board, elf, timeout_s)
    expected, _ = lstm_s8(layer, x[None])
    return {"instructions_per_step": int(round(ticks * instructions_per_tick(board) / len(x))),
            "est_cycles_per_step": est_cycles(board, elf, len(x), timeout_s) if with_cycles else None,
            "outputs_compared": int(out.size), "mismatches_vs_golden": int(np.count_nonzero(out != expected.ravel()))}


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
    estimate = cycles.estimate(core, trace.executed(log))
    log.unlink()
    return int(round(estimate / steps))


def render(section: dict, ours: list) -> str:
    """The CMSIS-NN rows of ``tinyrnn bench --cmsis-nn`` beside tinyrnn's int8 rows ``ours``."""
    mine = {(r["board"], r["model"]): r for r in ours if r["weights"] == "int8"}
    lines = [f"CMSIS-NN commit `{section['commit']}`, {section['steps']} steps per measurement, built from the "
             "checkout given to `--cmsis-nn` with the firmware's flags; ratio = tinyrnn int8 / CMSIS-NN.", "",
             "| board | model | CMSIS-NN instructions/step | tinyrnn int8 | ratio (instructions) | CMSIS-NN est. "
             "cycles/step | tinyrnn int8 est. cycles | ratio (est. cycles) | CMSIS-NN outputs == golden |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in section["rows"]:
        own = mine.get((r["board"], r["model"]), {})
        same = "yes" if r["mismatches_vs_golden"] == 0 else f"NO ({r['mismatches_vs_golden']} differ)"
        cells = []
        for key in ("instructions_per_step", "est_cycles_per_step"):
            theirs, us = r.get(key), own.get(key)
            cells += [f"{theirs:,}" if theirs else "–", f"{us:,}" if us else "–",
                      f"{us / theirs:.2f}" if us and theirs else "–"]
        lines.append(f"| {r['board']} | {r['model']} | " + " | ".join(cells) + f" | {same} ({r['outputs_compared']} bytes) |")
    return "\n".join(lines)
