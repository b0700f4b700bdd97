"""`tinyrnn boards`: the board catalogue — every board, its core, and how it runs.

    tinyrnn boards            # one line per board: name, core, FPU/DSP/MVE, QEMU or probe
    tinyrnn boards --json     # the same as data, for scripts
"""

from __future__ import annotations

from tinyrnn.core import boards as catalogue

HELP = "list the catalogue boards and their cores (what --board and qemu:BOARD accept)"


def configure(parser) -> None:
    pass


def _row(name: str) -> dict:
    b = catalogue.get_board(name)
    return {"board": name, "core": b["cpu"], "fpu": b["fpu"] or None, "dsp": bool(b["dsp"]), "mve": bool(b["mve"]),
            "qemu": bool(b["qemu"]), "probe": list(b.get("probe") or {}), "flash": catalogue.parse_int(b["flash"]["length"]),
            "ram": catalogue.parse_int(b["ram"]["length"]), "hardware_tested": bool(b.get("hardware_tested")),
            "description": b["description"], "default": name == catalogue.default_board()}  # fmt: skip


def _line(r: dict) -> str:
    features = ", ".join(f for f, on in (("FPU " + str(r["fpu"]), r["fpu"]), ("DSP", r["dsp"]), ("MVE", r["mve"])) if on)
    runs = "qemu:" + r["board"] if r["qemu"] else "real board, flash with " + "/".join(r["probe"])
    default = " (default)" if r["default"] else ""
    return (f"{r['board'] + default:<24} {r['core']:<11} {features or 'no FPU/DSP':<26} "
            f"flash {r['flash'] // 1024:>5} KiB, RAM {r['ram'] // 1024:>4} KiB  {runs}")


def run(args):
    rows = [_row(name) for name in catalogue.board_names()]
    return {"boards": rows}, "\n".join(_line(r) for r in rows)
