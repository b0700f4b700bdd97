"""Cycle estimates: the trace counts what QEMU's instruction counter counts, and each
instruction is priced as the core's TRM says (hand-computed cases)."""

from __future__ import annotations

import shutil

import pytest

from tinyrnn.app import cycles
from tinyrnn.app.commands import bench
from tinyrnn.codegen.build import build, map_code_ranges
from tinyrnn.codegen.project import model_objects, render_project
from tinyrnn.core.boards import instructions_per_tick
from tinyrnn.harness import trace
from tinyrnn.harness.dut import Device
from tinyrnn.harness.qemu import Qemu
from tinyrnn.harness.trace import Insn

LOG = """----------------
IN: f
0x00000100:  b510       push     {r4, lr}
0x00000102:  6808       ldr      r0, [r1]
0x00000104:  6849       ldr      r1, [r1, #4]
0x00000106:  3801       subs     r0, #1
0x00000108:  d1fb       bne      #0x102

Trace 0: 0x7f00 [00000000/00000100/00000000/00000000] f
----------------
IN: f
0x00000102:  6808       ldr      r0, [r1]
0x00000104:  6849       ldr      r1, [r1, #4]
0x00000106:  3801       subs     r0, #1
0x00000108:  d1fb       bne      #0x102

Trace 0: 0x7f10 [00000000/00000102/00000000/00000000] f
Trace 0: 0x7f10 [00000000/00000102/00000000/00000000] f
----------------
IN: f
0x0000010a:  bd10       pop      {r4, pc}

Trace 0: 0x7f20 [00000000/0000010a/00000000/00000000] f
"""


def test_trace_counts_block_executions_and_taken_branches(tmp_path):
    (tmp_path / "log").write_text(LOG)
    rows = {(i.address, i.mnemonic): (n, t) for i, n, t in trace.executed(tmp_path / "log")}
    # 0x100 ran once (its bne taken to 0x102); 0x102 ran twice (taken once, then fell through to 0x10a).
    assert rows[(0x100, "push")] == (1, 0) and rows[(0x108, "bne")] == (2, 1) and rows[(0x10a, "pop")] == (1, 1)
    assert trace.dfilter([(0x100, 0x10c), (0x200, 0x200)]) == "0x100+0xc"


@pytest.mark.parametrize("core, want", [
    # Per address over all blocks: push{r4,lr} 1x(1+2); ldr@102 3x2; ldr@104 3x(1: follows a load on M3/M4, 2 on
    # M0); subs 3x1; bne 3x1 + 2 taken x 2; pop{r4,pc} 1+2 registers+2 refill.
    ("cortex-m4", 3 + 6 + 3 + 3 + 7 + 5),
    ("cortex-m0", 3 + 6 + 6 + 3 + 7 + 5),
])
def test_hand_priced_loop(tmp_path, core, want):
    (tmp_path / "log").write_text(LOG)
    rows = trace.executed(tmp_path / "log")
    assert sum(n for _, n, _ in rows) == 5 + 2 * 4 + 1
    assert cycles.estimate(core, rows) == want
    assert cycles.estimate("cortex-m7", rows) is None


def test_instruction_classes():
    assert [cycles.base_mnemonic(m) for m in ("ldr.w", "ldrbeq", "bls", "lsls", "movs", "popne", "bl")] == \
        ["ldr", "ldrb", "b", "lsls", "movs", "pop", "bl"]
    smlal = Insn(0, 4, "smlal", "r0, r1, r2, r3")
    assert cycles.insn_cycles("cortex-m3", smlal, 10, 0, False) == 60
    assert cycles.insn_cycles("cortex-m4", smlal, 10, 0, False) == 10
    assert cycles.insn_cycles("cortex-m4", Insn(0, 4, "ldm.w", "r0!, {r4, r5, r6, r8}"), 1, 0, False) == 5


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_traced_instructions_equal_the_instruction_counter(tmp_path):
    """The trace of the model's code sees the instructions SysTick counts, less the bench loop's own."""
    board, name, steps = "mps2-an386", "lstm_i9_h32", 8
    model = bench.bench_model(name)
    project = render_project(model, board, tmp_path / "fw")
    build(project["project_dir"])
    ranges = map_code_ranges(tmp_path / "fw" / "firmware.map", model_objects(tmp_path / "fw")[0])
    log = tmp_path / "trace.log"
    args = ("-d", "in_asm,exec,nochain", "-dfilter", trace.dfilter(ranges), "-D", str(log))
    with Qemu(board, project["elf"], timeout_s=120, extra_args=args) as qemu, \
            Device.open(qemu.url, expected_hash=model.content_hash()) as device:
        counted = device.bench(steps, bench.bench_input(name)).ticks * instructions_per_tick(board)
    traced = sum(n for _, n, _ in trace.executed(log))
    # Plus the RESET at connect: model code the bench does not time (a few hundred instructions at most).
    assert counted - 40 * steps <= traced <= counted + 40 + 300, (traced, counted)
