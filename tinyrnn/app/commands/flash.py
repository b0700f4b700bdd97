"""`tinyrnn flash`: build the firmware for a real board if needed, then program it.

    tinyrnn flash model.tnr --board nucleo-f446re                   # render, build, flash (pyOCD)
    tinyrnn flash fw/ --probe openocd                               # an existing project
    tinyrnn flash model.tnr --board nrf52840-dk --dry-run --json    # the exact command, nothing run

The probe settings (pyOCD target and CMSIS pack, OpenOCD configuration) are catalogue
data (``probe`` in boards.json). ``--dry-run`` still builds, so the printed command
names a real ELF, and reports (without failing) whether the tool is installed; a real flash
checks the tool before it builds.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

from tinyrnn.codegen.build import build
from tinyrnn.codegen.project import read_manifest, render_project
from tinyrnn.core import tnr
from tinyrnn.core.boards import get_board, real_boards
from tinyrnn.core.errors import TinyrnnError

HELP = "build (if needed) and flash firmware to a real board with pyOCD or OpenOCD"

PROBES = ("pyocd", "openocd")
INSTALL = {
    "pyocd": "pip install pyocd (or: pip install 'tinyrnn[hil]')",
    "openocd": "sudo apt-get install openocd",
}


def configure(parser) -> None:
    parser.add_argument("source", metavar="ARTIFACT_OR_PROJECT",
                        help="an artifact (.tnr) to build for --board, or a project directory from `tinyrnn codegen`")
    parser.add_argument("--board", help="catalogue board with a probe (nucleo-f446re, nrf52840-dk); "
                                        "for a project, defaults to the project's board")
    parser.add_argument("--probe", choices=PROBES,
                        help="flashing tool (default: the board's first in the catalogue: pyocd for "
                             "nucleo-f446re, openocd for nrf52840-dk, whose J-Link OB needs no SEGGER library with it)")
    parser.add_argument("--probe-serial", help="USB serial number of the debug probe when several are connected")
    parser.add_argument("--build-dir",
                        help="project directory for an artifact (default: ARTIFACT_STEM-fw-BOARD beside it)")
    parser.add_argument("--dry-run", action="store_true", help="print the command and check the tool; do not flash")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds the flashing tool may take (default 180)")


def _project(source: str, board: str | None, build_dir: str | None) -> tuple[str, str]:
    """(project directory, board) for an artifact or an existing project."""
    path = Path(source)
    if path.is_dir():
        meta = path / "board.json"
        if not (path / "Makefile").is_file() or not meta.is_file():
            raise TinyrnnError(f"{source}: not a firmware project (no Makefile/board.json): "
                               "run `tinyrnn codegen` first")
        own = json.loads(meta.read_text())["name"]
        if board and board != own:
            raise TinyrnnError(f"{source} was generated for {own}, not {board}: "
                               f"re-run `tinyrnn codegen --board {board}`")
        return str(path), own
    if not board:
        raise TinyrnnError("flashing an artifact needs --board (one of the boards with a probe)")

    probe_settings(board)  # refuse QEMU-only boards before generating anything
    out = build_dir or str(path.with_name(f"{path.stem}-fw-{board}"))
    render_project(tnr.load(source), board, out)
    return out, board


def probe_settings(board: str) -> dict:
    probe = get_board(board).get("probe")
    if not probe:
        raise TinyrnnError(f"board {board!r} has no flash probe in the catalogue (QEMU only: verify it with "
                           f"--target qemu:{board}); boards with a probe: {', '.join(real_boards())}")
    return probe


def flash_command(board: str, probe: str, elf: str, probe_serial: str | None = None) -> list[str]:
    """The exact argv that programs ``elf`` into ``board`` (verify, then reset and run)."""
    settings = probe_settings(board)
    if probe not in settings:
        raise TinyrnnError(f"board {board!r} has no {probe} settings in the catalogue; "
                           f"try --probe {' or '.join(settings)}")
    if probe == "pyocd":
        cmd = ["pyocd", "flash", "--target", settings["pyocd"]["target"]]
        if probe_serial:
            cmd += ["--uid", probe_serial]
        return cmd + [elf]
    cmd = ["openocd", *settings["openocd"]]
    if probe_serial:
        cmd += ["-c", f"adapter serial {probe_serial}"]
    # Braces: Tcl quoting, so a path with spaces stays one word.
    return cmd + ["-c", f"program {{{elf}}} verify reset exit"]


def check_tool(board: str, probe: str, timeout: float) -> tuple[str | None, str | None]:
    """(path of the tool, what is wrong with it or None); for pyOCD also whether it knows the
    target (packs are per user)."""
    path = shutil.which(probe)
    if path is None:
        return None, f"{probe} not found on PATH; install it with: {INSTALL[probe]}"
    pyocd = probe_settings(board).get("pyocd", {})
    if probe == "pyocd" and pyocd.get("pack"):
        try:
            listed = subprocess.run([path, "list", "--targets"], capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return path, f"`pyocd list --targets` failed: {exc}"
        if pyocd["target"] not in listed.stdout.lower().split():
            return path, (f"pyOCD does not know target {pyocd['target']}: install its CMSIS pack once with: "
                          f"pyocd pack install {pyocd['pack']}")
    return path, None


def run_tool(cmd: list[str], timeout: float) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TinyrnnError(f"{cmd[0]} did not finish within {timeout:g} s "
                           "(is the board connected and powered?)") from None
    except OSError as exc:
        raise TinyrnnError(f"cannot run {cmd[0]}: {exc}") from None
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        lines = [ln for ln in output.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()] or lines or ["(no output)"]
        raise TinyrnnError(f"{cmd[0]} failed (exit {proc.returncode}): {errors[0].strip()}")
    return output


def run(args):
    project_dir, board = _project(args.source, args.board, args.build_dir)
    probe = args.probe or next(iter(probe_settings(board)))
    flash_command(board, probe, "firmware.elf", args.probe_serial)  # a wrong --probe fails before the build
    tool, problem = check_tool(board, probe, args.timeout)  # before the build, which takes a while
    if problem and not args.dry_run:
        raise TinyrnnError(problem)
    sizes = build(project_dir)
    elf = str(Path(sizes["elf"]).resolve())  # the printed command works from any directory
    cmd = flash_command(board, probe, elf, args.probe_serial)
    line = shlex.join(cmd)
    result = {
        "board": board, "probe": probe, "project_dir": project_dir, "elf": elf,
        "flash_bytes": sizes["flash_bytes"], "ram_bytes": sizes["ram_bytes"],
        "model_hash": read_manifest(project_dir).get("model_hash"), "command": cmd, "command_line": line,
        "tool": tool, "tool_problem": problem, "dry_run": bool(args.dry_run), "flashed": False,
        "hardware_tested": bool(get_board(board).get("hardware_tested")),
    }  # fmt: skip
    if args.dry_run:
        sized = f"flash {sizes['flash_bytes']} B, RAM {sizes['ram_bytes']} B"
        found = f"{probe} found at {tool}" if tool else f"{probe} not installed"
        return result, f"would run: {line}\n({found}; {sized})" + (f"\nnote: {problem}" if problem else "")
    run_tool(cmd, args.timeout)
    result["flashed"] = True
    return result, f"flashed {elf} to {board} with {probe}; verify it with --target auto:{board}"
