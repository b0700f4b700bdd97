"""Static cycle estimates from a dynamic instruction mix (QEMU counts instructions, not cycles).

Each executed instruction (:func:`tinyrnn.harness.trace.executed`) is priced with the
instruction timings the core's Technical Reference Manual publishes for a single-issue
pipeline with zero-wait-state memory:

- Cortex-M0 (TRM DDI 0432C, table 3-1): 1 cycle, loads and stores 2, LDM/STM/PUSH 1+N,
  POP with PC 3+N, taken branch 3 (B) / 4 (BL), BX/BLX 3, MULS 1 (the single-cycle
  multiplier; the nRF51's M0 has it).
- Cortex-M3 (TRM DDI 0337I, table 18-1): 1 cycle, LDR 2 (1 when it follows another
  load or store: the address phase pipelines), LDM/STM 1+N, taken branch 1+P with the
  pipeline refill P = 2 assumed (the manual gives 1-3), SMULL/UMULL 3-5 taken as 4 and
  SMLAL/UMLAL 4-7 taken as 6 (early termination needs small operands, and the packed
  two-row weights are large), divides 2-12 taken as 7.
- Cortex-M4 and Cortex-M33 (M4 TRM DDI 0439B, table 3-1; the M33 has the same 3-stage
  pipeline): as the M3, but SMULL/SMLAL and every DSP multiply 1 cycle, LDRD/STRD 3.

Cortex-M7 (dual issue) and Cortex-M55 (dual issue, MVE beats) are not modelled: an
estimate that ignores pairing would be a guess, so they report instructions only.
"""

from __future__ import annotations

import re

from tinyrnn.harness.trace import Insn

MODELLED = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m33")
_BRANCH_REFILL = 2  # P in 1+P: the TRMs' range is 1-3
_LOADS = ("ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex")
_STORES = ("str", "strb", "strh", "strex")
_LONG_MULS = ("smull", "umull", "smlal", "umlal", "smlald", "smlsld")
_COND = r"(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)"
_MULTI = ("ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "push", "pop")
# Longest first, so that "ldrb" is not read as "ldr" + condition "b…".
_PRICED = sorted(set(_MULTI + _LOADS + _STORES + _LONG_MULS + ("ldrd", "strd", "sdiv", "udiv", "bl", "blx", "bx",
                                                             "cbz", "cbnz", "b")), key=len, reverse=True)


def base_mnemonic(mnemonic: str) -> str:
    """``ldr.w`` → ``ldr``, ``bne`` → ``b``, ``popeq`` → ``pop``: the operation of the
    mnemonics priced apart (width and condition dropped); any other comes back as given."""
    name = mnemonic.lower().split(".")[0]
    for op in _PRICED:
        if name == op or re.fullmatch(op + _COND, name):
            return op
    return name


def _registers(operands: str) -> int:
    inside = operands[operands.find("{") + 1:operands.find("}")] if "{" in operands else ""
    count = 0
    for part in filter(None, (p.strip() for p in inside.split(","))):
        lo, _, hi = part.partition("-")
        count += int(hi.lstrip("r")) - int(lo.lstrip("r")) + 1 if hi else 1
    return count


def _writes_pc(insn: Insn) -> bool:
    return "pc" in insn.operands.split("{")[-1] or insn.operands.startswith("pc")


def insn_cycles(core: str, insn: Insn, runs: int, taken: int, after_memory: bool) -> int:
    """Cycles of ``runs`` executions of ``insn`` (``taken`` of them as a taken branch)."""
    op, m0 = base_mnemonic(insn.mnemonic), core.startswith("cortex-m0")
    if op in _MULTI:
        n = _registers(insn.operands)
        return runs * (1 + n + ((2 if m0 else _BRANCH_REFILL) if op in ("pop", "ldm", "ldmia") and
                                _writes_pc(insn) else 0))
    if op in ("ldrd", "strd"):
        return runs * 3
    if op in _LOADS or op in _STORES:
        return runs * (2 if m0 or not after_memory else 1)
    if op in ("b", "cbz", "cbnz"):
        return runs + taken * ((2 if m0 else _BRANCH_REFILL) if op == "b" else _BRANCH_REFILL)
    if op in ("bl", "blx", "bx"):
        return runs * ((4 if op == "bl" else 3) if m0 else 1 + _BRANCH_REFILL)
    if op in _LONG_MULS:
        return runs * ((4 if op in ("smull", "umull") else 6) if core == "cortex-m3" else 1)
    if op in ("sdiv", "udiv"):
        return runs * 7
    return runs


def estimate(core: str, rows) -> int | None:
    """Total cycles of ``rows`` (from :func:`tinyrnn.harness.trace.executed`) on ``core``, or
    None where the core's pipeline is not modelled."""
    if core not in MODELLED:
        return None
    merged: dict[int, list] = {}  # one instruction translated into several blocks counts once
    for insn, runs, taken in rows:
        entry = merged.setdefault(insn.address, [insn, 0, 0])
        entry[1] += runs
        entry[2] += taken
    total, previous = 0, None
    for insn, runs, taken in (merged[a] for a in sorted(merged)):
        memory = previous is not None and previous.address + previous.size == insn.address and \
            base_mnemonic(previous.mnemonic) in _LOADS + _STORES
        total += insn_cycles(core, insn, runs, taken, memory)
        previous = insn
    return total
