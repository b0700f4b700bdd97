"""The dynamic instruction stream of a firmware's code, from a QEMU execution trace.

QEMU logs each translated block's disassembly once (``-d in_asm``) and every execution
of a block (``-d exec,nochain``: no block chaining, so none is skipped); ``-dfilter``
keeps only the address ranges asked for (the model's code), so the polling loops of
the serial link never reach the log. :func:`executed` turns the log into
(instruction, times executed, taken) rows: every instruction of a block counts once per
execution of the block, and a block's last instruction counts as a taken branch when
the next logged block does not start where it falls through.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_INSN = re.compile(r"^0x([0-9a-f]{8}):\s+((?:[0-9a-f]{4}\s?)+)\s+(\S+)\s*(.*)$")
_EXEC = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]{8})/")


@dataclass(frozen=True)
class Insn:
    address: int
    size: int  # bytes: 2 or 4 (Thumb)
    mnemonic: str
    operands: str


def dfilter(ranges: list[tuple[int, int]]) -> str:
    """QEMU ``-dfilter`` text for half-open address ranges [start, end)."""
    return ",".join(f"0x{start:x}+0x{end - start:x}" for start, end in ranges if end > start)


def parse_log(text: str) -> tuple[dict[int, list[Insn]], list[int]]:
    """Blocks by start address (the last translation wins) and the executed block starts in order."""
    blocks: dict[int, list[Insn]] = {}
    order: list[int] = []
    current: list[Insn] | None = None
    for line in text.splitlines():
        m = _INSN.match(line)
        if m:
            insn = Insn(int(m.group(1), 16), len(m.group(2).replace(" ", "")) // 2, m.group(3), m.group(4).strip())
            if current is None:
                current = blocks[insn.address] = []
            current.append(insn)
            continue
        current = None
        m = _EXEC.match(line)
        if m:
            order.append(int(m.group(1), 16))
    return blocks, order


def executed(log_file) -> list[tuple[Insn, int, int]]:
    """(instruction, executions, executions as a taken branch) over the whole log."""
    blocks, order = parse_log(Path(log_file).read_text(errors="replace"))
    runs, taken = Counter(order), Counter()
    for here, following in zip(order, order[1:] + [None]):
        block = blocks.get(here)
        if block and following != block[-1].address + block[-1].size:
            taken[here] += 1
    rows = []
    for start, block in blocks.items():
        for i, insn in enumerate(block):
            rows.append((insn, runs[start], taken[start] if i == len(block) - 1 else 0))
    return rows
