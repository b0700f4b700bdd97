"""Load and check the board catalogue ``boards.json`` (the data lives there, not here).

Shared by ``tinyrnn.codegen`` (rendering, compiler flags) and ``tinyrnn.harness``
(QEMU machine, tick factor), so neither has to import the other. Standard library only.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources

from tinyrnn.core.errors import TinyrnnError

# Keys every board entry must have; nested ones are checked by _check_entry.
_REQUIRED = ("description", "cpu", "float_abi", "fpu", "dsp", "mve", "flash", "ram",
             "stack_bytes", "uart", "clock_enable", "systick", "qemu")
_FLOAT_ABIS = ("soft", "softfp", "hard")


# Kernel path (codegen/kernels/tinyrnn_arch.h) each core gets by default; a board's
# dsp/mve flags decide for the catalogue boards. "host" is a PC build (tests, simulation).
CORE_PATHS = {"cortex-m0": "plain", "cortex-m0plus": "plain", "cortex-m1": "plain", "cortex-m23": "plain",
              "cortex-m3": "wide", "cortex-m4": "dsp", "cortex-m7": "dsp", "cortex-m33": "dsp",
              "cortex-m35p": "dsp", "cortex-m55": "mve", "cortex-m85": "mve", "host": "wide"}
KERNEL_PATHS = ("plain", "wide", "dsp", "mve", "dsp8")
# The weight layout is the user's flash/speed trade (codegen --weights): int8 keeps one
# byte per weight on every core; int16 pre-widens them where a core family has a faster
# path for that (M3 packed pairs, M4/M7/M33 SMLAD). _FAMILY_PATHS: a core family's path per
# layout; PATH_WEIGHTS (derived): the layout each path stores.
WEIGHT_LAYOUTS = ("int8", "int16")
DEFAULT_WEIGHTS = "int8"
_FAMILY_PATHS = {"plain": {"int8": "plain"}, "wide": {"int8": "plain", "int16": "wide"},
                 "dsp": {"int8": "dsp8", "int16": "dsp"}, "mve": {"int8": "mve"}}
PATH_WEIGHTS = {path: weights for paths in _FAMILY_PATHS.values() for weights, path in paths.items()}


def parse_int(value: int | str) -> int:
    """Catalogue numbers are ints or strings such as "0x20000000" (JSON has no hex)."""
    return value if isinstance(value, int) else int(value, 0)


@functools.lru_cache(maxsize=1)
def _load() -> dict:
    text = resources.files("tinyrnn.firmware_templates").joinpath("boards.json").read_text()
    data = json.loads(text)
    for name, entry in data["boards"].items():
        _check_entry(name, entry)
    if data["default"] not in data["boards"]:
        raise TinyrnnError(f"boards.json: default board {data['default']!r} has no entry")
    return data


def _check_entry(name: str, entry: dict) -> None:
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise TinyrnnError(f"boards.json: board {name!r} lacks {', '.join(missing)}")
    if entry["float_abi"] not in _FLOAT_ABIS:
        raise TinyrnnError(f"boards.json: board {name!r}: float_abi must be one of {_FLOAT_ABIS}")
    if entry["float_abi"] != "soft" and not entry["fpu"]:
        raise TinyrnnError(f"boards.json: board {name!r}: float_abi "
                           f"{entry['float_abi']!r} needs an fpu")
    for region in ("flash", "ram"):
        parse_int(entry[region]["origin"]), parse_int(entry[region]["length"])
    for key in ("kind", "base", "clock_hz", "baud"):
        if key not in entry["uart"]:
            raise TinyrnnError(f"boards.json: board {name!r}: uart lacks {key!r}")
    if parse_int(entry["stack_bytes"]) % 8 or \
            parse_int(entry["stack_bytes"]) >= parse_int(entry["ram"]["length"]):
        raise TinyrnnError(f"boards.json: board {name!r}: stack_bytes must be a multiple "
                           "of 8 and smaller than RAM")
    for vid_pid in entry.get("usb", []):
        parse_usb_id(vid_pid, f"board {name!r}")
    probe = entry.get("probe") or {}
    if "pyocd" in probe and not probe["pyocd"].get("target"):
        raise TinyrnnError(f"boards.json: board {name!r}: probe.pyocd needs a target")
    if "openocd" in probe and not all(isinstance(a, str) for a in probe["openocd"]):
        raise TinyrnnError(f"boards.json: board {name!r}: probe.openocd must be a list of arguments")


def parse_usb_id(text: str, where: str = "usb id") -> tuple[int, int]:
    """ "0483:374B" → (0x0483, 0x374B); the form lsusb and pyserial's hwid print."""
    try:
        vid, pid = (int(part, 16) for part in text.split(":"))
    except ValueError:
        raise TinyrnnError(f"boards.json: {where}: {text!r} is not VID:PID in hex") from None
    if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
        raise TinyrnnError(f"boards.json: {where}: {text!r} is out of the 16-bit range")
    return vid, pid


def board_names() -> list[str]:
    """All catalogue boards, default first."""
    data = _load()
    return [data["default"]] + sorted(n for n in data["boards"] if n != data["default"])


def default_board() -> str:
    return _load()["default"]


def get_board(name: str) -> dict:
    """A deep copy of one board entry; unknown names raise TinyrnnError listing the valid ones."""
    boards = _load()["boards"]
    if name not in boards:
        raise TinyrnnError(f"unknown board {name!r}; valid boards: {', '.join(board_names())}")
    return copy.deepcopy(boards[name])


def qemu_boards() -> list[str]:
    """Boards QEMU can run (real-hardware-only entries have "qemu": null)."""
    return [n for n in board_names() if _load()["boards"][n]["qemu"]]


def instructions_per_tick(name: str) -> float:
    """Guest instructions per SysTick tick under ``qemu -icount shift=0``."""
    factor = get_board(name)["systick"].get("instructions_per_tick")
    if factor is None:
        raise TinyrnnError(f"board {name!r} has no calibrated instructions_per_tick "
                           "(not a QEMU board, or not calibrated yet)")
    return float(factor)


def real_boards() -> list[str]:
    """Boards that have a way to be programmed (a "probe" section): real hardware."""
    return [n for n in board_names() if _load()["boards"][n].get("probe")]


def usb_names() -> dict[tuple[int, int], str]:
    """(vid, pid) → human name of every known USB serial device."""
    return {parse_usb_id(k, "usb_ids"): v for k, v in _load().get("usb_ids", {}).items()}


def boards_for_usb(vid: int | None, pid: int | None) -> list[str]:
    """Catalogue boards whose probe enumerates with this VID:PID."""
    if vid is None or pid is None:
        return []
    return [n for n in board_names()
            if (vid, pid) in {parse_usb_id(u) for u in _load()["boards"][n].get("usb", [])}]


def core_family(board: str | None = None, core: str | None = None) -> str:
    """The family of kernels a core runs ("plain", "wide", "dsp", "mve"; CORE_PATHS), from
    ``core`` or the board's dsp/mve flags; the default board when neither is given."""
    if core is not None:
        if core not in CORE_PATHS:
            raise TinyrnnError(f"unknown core {core!r}; valid cores: {', '.join(CORE_PATHS)}")
        return CORE_PATHS[core]
    entry = get_board(board or default_board())
    if entry["mve"]:
        return "mve"
    if entry["dsp"]:
        return "dsp"
    return "plain" if CORE_PATHS.get(entry["cpu"]) == "plain" else "wide"


def weight_layouts(board: str | None = None, core: str | None = None) -> list:
    """The weight layouts the core has a kernel path for (M0 and M55: int8 only)."""
    return list(_FAMILY_PATHS[core_family(board, core)])


def kernel_path(board: str | None = None, core: str | None = None, weights: str = DEFAULT_WEIGHTS) -> str:
    """The kernel path a library for ``board`` or ``core`` uses with the ``weights`` layout."""
    if weights not in WEIGHT_LAYOUTS:
        raise TinyrnnError(f"unknown weight layout {weights!r}; valid: {', '.join(WEIGHT_LAYOUTS)}")
    family = core_family(board, core)
    path = _FAMILY_PATHS[family].get(weights)
    if path is None:
        only = ", ".join(_FAMILY_PATHS[family])
        raise TinyrnnError(f"--weights {weights}: {core or get_board(board or default_board())['cpu']} has no "
                           f"{weights} weight layout (its kernels read {only} weights)")
    return path
