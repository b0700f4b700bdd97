"""Render a complete, buildable firmware project for one catalogue board.

Layout written into ``out_dir``::

    Makefile        builds firmware.elf (arm-none-eabi-gcc, see codegen/build.py)
    linker.ld       from project/linker.ld.j2 and the board's memory map
    board.json      copy of the board's catalogue entry (plus "name")
    board/          board.h, board_config.h (generated), startup.c, board_common.c,
                    uart_<kind>.c
    app/            the application sources (.c compiled, .h on the include path);
                    owned by the renderer: files not passed in are removed
    (library)       a model library folder the caller put in place; the Makefile
                    includes its tinyrnn.mk and builds its sources with the app's

All numbers are computed here; the Jinja templates only substitute strings.
Templates are read through importlib.resources, so an installed wheel works too.
"""

from __future__ import annotations

import json
import shlex
import shutil
from importlib import resources
from pathlib import Path

import jinja2

from tinyrnn.core.boards import get_board, parse_int
from tinyrnn.core.errors import TinyrnnError

_PKG = "tinyrnn.firmware_templates"
_BOARD_FILES = ("common/board.h", "common/board_internal.h", "common/startup.c",
                "common/board_common.c")
_APP_SUFFIXES = (".c", ".h")


def _templates():
    return resources.files(_PKG)


def _write_if_changed(path: Path, content: str | bytes) -> None:
    """Keep mtimes of unchanged files so re-rendering does not force a full rebuild."""
    data = content.encode() if isinstance(content, str) else content
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def arch_flags(entry: dict) -> list[str]:
    """gcc code-generation flags for a board entry (also used for the model's C)."""
    flags = [f"-mcpu={entry['cpu']}", "-mthumb", f"-mfloat-abi={entry['float_abi']}"]
    if entry["fpu"]:
        flags.append(f"-mfpu={entry['fpu']}")
    return flags


def _format_define(key: str, value) -> str:
    # shell-quoted: the Makefile hands CPPFLAGS to /bin/sh (string macros need quotes)
    return shlex.quote(f"-D{key}" if value is None else f"-D{key}={value}")


def _context(name: str, entry: dict, stack_bytes: int, sources: list[str],
             defines: dict, library: tuple | None = None) -> dict:
    uart = entry["uart"]
    hex32 = "0x{:08X}".format
    return {
        "name": name,
        "flash_origin": hex32(parse_int(entry["flash"]["origin"])),
        "flash_length": hex32(parse_int(entry["flash"]["length"])),
        "ram_origin": hex32(parse_int(entry["ram"]["origin"])),
        "ram_length": hex32(parse_int(entry["ram"]["length"])),
        "stack_bytes": str(stack_bytes),
        "uart_base": hex32(parse_int(uart["base"])),
        "uart_clock_hz": str(parse_int(uart["clock_hz"])),
        "uart_baud": str(parse_int(uart["baud"])),
        "uart_tx_pin": uart.get("tx_pin"),
        "uart_rx_pin": uart.get("rx_pin"),
        "systick_hz": str(parse_int(entry["systick"]["clock_hz"])),
        "enable_fpu": "1" if entry["fpu"] else "0",
        "clock_enables": [(hex32(parse_int(r)), hex32(parse_int(b)))
                          for r, b in entry["clock_enable"]],
        "arch_flags": " ".join(arch_flags(entry)),
        "include_flags": "-Iboard -Iapp",
        "defines": " ".join(_format_define(k, v) for k, v in sorted(defines.items())),
        "sources": " ".join(sources),
        "library_mk": library[0] if library else None,
        "library_var": f"TINYRNN_{library[1]}" if library else None,
    }


def _render(template: str, ctx: dict) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    text = _templates().joinpath("project", template).read_text()
    return env.from_string(text).render(ctx)


def _default_app_sources() -> list:
    """The device protocol loop in firmware_templates/app/, once it exists."""
    app_dir = _templates().joinpath("app")
    files = [f for f in app_dir.iterdir() if f.name.endswith(_APP_SUFFIXES)] \
        if app_dir.is_dir() else []
    if not files:
        raise TinyrnnError(f"no default application in {_PKG}/app yet: "
                           "pass app_sources=[...] to render_firmware")
    return sorted(files, key=lambda f: f.name)


def _copy_app(app_sources: list, app_dir: Path) -> list[str]:
    """Copy .c/.h files into app/ (flat); return the .c paths relative to the project."""
    names = {}
    for src in app_sources:
        src_path = src if hasattr(src, "read_text") else Path(src)
        if not src_path.name.endswith(_APP_SUFFIXES):
            raise TinyrnnError(f"app source {src} is not a .c or .h file")
        if not src_path.is_file():
            raise TinyrnnError(f"app source {src} does not exist")
        if src_path.name in names:
            raise TinyrnnError(f"two app sources are named {src_path.name}: "
                               f"{names[src_path.name]} and {src}")
        names[src_path.name] = src
        _write_if_changed(app_dir / src_path.name, src_path.read_bytes())
    # Files left from an earlier render could shadow headers: drop them.
    for stale in app_dir.iterdir():
        if stale.name in names:
            continue
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    return [f"app/{n}" for n in sorted(names) if n.endswith(".c")]


def _copy_board(entry: dict, board_dir: Path) -> list[str]:
    uart_file = f"uart/uart_{entry['uart']['kind']}.c"
    src = _templates().joinpath(uart_file)
    if not src.is_file():
        raise TinyrnnError(f"no UART driver {_PKG}/{uart_file} for uart kind "
                           f"{entry['uart']['kind']!r}")
    for rel in _BOARD_FILES + (uart_file,):
        _write_if_changed(board_dir / Path(rel).name, _templates().joinpath(rel).read_bytes())
    return [f"board/{Path(rel).name}" for rel in _BOARD_FILES + (uart_file,)
            if rel.endswith(".c")]


def render_firmware(out_dir, board: str, app_sources: list[str] | None = None, *,
                    extra_sources: list[str] | None = None, defines: dict | None = None,
                    stack_bytes: int | None = None, library: tuple | None = None) -> dict:
    """Write a firmware project for ``board`` into ``out_dir`` and describe it.

    app_sources: .c/.h files of the application (must define ``int main(void)`` that
    calls ``board_init()``); None takes the default app in firmware_templates/app/.
    extra_sources: more .c/.h files copied next to the app, e.g. model_glue.c that binds
    the model library to the default app.
    defines: extra preprocessor macros for every file ({"NAME": value or None}).
    stack_bytes: overrides the catalogue's stack reservation (multiple of 8).
    library: (its tinyrnn.mk relative to the project, NAME) of a model library folder
    (codegen/library.py) already inside ``out_dir``: its sources join the build.
    Returns {"project_dir", "board", "elf", "makefile", "linker_script", "sources",
    "arch_flags", "entry"}; "elf" is where build() will put firmware.elf.
    """
    entry = get_board(board)
    stack = parse_int(entry["stack_bytes"]) if stack_bytes is None else int(stack_bytes)
    if stack <= 0 or stack % 8 or stack >= parse_int(entry["ram"]["length"]):
        raise TinyrnnError(f"stack_bytes={stack} must be a positive multiple of 8 "
                           f"below the RAM size of {board}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = _copy_board(entry, out / "board")
    (out / "app").mkdir(exist_ok=True)
    app = _default_app_sources() if app_sources is None else list(app_sources)
    sources += _copy_app(app + list(extra_sources or []), out / "app")
    ctx = _context(board, entry, stack, sources, defines or {}, library)
    _write_if_changed(out / "board" / "board_config.h", _render("board_config.h.j2", ctx))
    _write_if_changed(out / "linker.ld", _render("linker.ld.j2", ctx))
    _write_if_changed(out / "Makefile", _render("Makefile.j2", ctx))
    _write_if_changed(out / "board.json", json.dumps({"name": board, **entry}, indent=2) + "\n")
    return {
        "project_dir": str(out),
        "board": board,
        "elf": str(out / "firmware.elf"),
        "makefile": str(out / "Makefile"),
        "linker_script": str(out / "linker.ld"),
        "sources": sources,
        "arch_flags": arch_flags(entry),
        "entry": entry,
    }
