"""Build a rendered firmware project and report its flash/RAM footprint.

Sizes come from the ELF section headers, parsed here (no arm-none-eabi-size needed):

* text  — allocated read-only sections (.text with the vector table, .rodata, .ARM.exidx)
* data  — allocated writable sections with contents (.data; stored in flash, copied to RAM)
* bss   — allocated sections without contents (.bss), **excluding** the stack
* stack — the ``.stack`` reservation of the generated linker script (bottom of RAM)

flash_bytes = text + data; ram_bytes = data + bss + stack (the linker script reserves
the stack; there is no heap).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

from tinyrnn.core.errors import TinyrnnError

_APT = {
    "arm-none-eabi-gcc": "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "make": "sudo apt-get install make",
}
# Lines that name the cause of a failed build, in the order the tools print them.
_ERROR_LINE = re.compile(r"error:|undefined reference|overflowed|will not fit|"
                         r"No rule to make target|cannot find|No such file", re.IGNORECASE)

_SHF_WRITE, _SHF_ALLOC = 0x1, 0x2
_SHT_NOBITS = 8


def require_tool(tool: str) -> str:
    """Path of ``tool`` on PATH, or TinyrnnError with the apt-get line that installs it."""
    path = shutil.which(tool)
    if path is None:
        hint = _APT.get(tool, f"install {tool}")
        raise TinyrnnError(f"{tool} not found on PATH; install it with: {hint}")
    return path


def first_error_line(output: str) -> str:
    """The first line of compiler/linker output that says what went wrong."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for line in lines:
        if _ERROR_LINE.search(line):
            return line
    return lines[0] if lines else "(no output)"


def elf_sections(elf_path) -> list[tuple[str, int, int, int]]:
    """(name, type, flags, size) of every section of a little-endian ELF32 file."""
    data = Path(elf_path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise TinyrnnError(f"{elf_path} is not a little-endian 32-bit ELF file")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
               for i in range(shnum)]
    strtab_off = headers[shstrndx][4]

    def name(offset: int) -> str:
        end = data.index(b"\0", strtab_off + offset)
        return data[strtab_off + offset:end].decode()

    return [(name(h[0]), h[1], h[2], h[5]) for h in headers]


def elf_sizes(elf_path) -> dict:
    """text/data/bss/stack byte counts and flash/RAM totals (see module docstring)."""
    sizes = {"text": 0, "data": 0, "bss": 0, "stack": 0}
    for name, sh_type, flags, size in elf_sections(elf_path):
        if not flags & _SHF_ALLOC:
            continue
        if name == ".stack":
            sizes["stack"] += size
        elif sh_type == _SHT_NOBITS:
            sizes["bss"] += size
        elif flags & _SHF_WRITE:
            sizes["data"] += size
        else:
            sizes["text"] += size
    sizes["flash_bytes"] = sizes["text"] + sizes["data"]
    sizes["ram_bytes"] = sizes["data"] + sizes["bss"] + sizes["stack"]
    return sizes


def _drop_outputs(project: Path) -> None:
    """After a failed build: an older firmware.elf (another model's, maybe) must not stay
    beside the project's new manifest, where `flash` or a test would take it for this one."""
    for name in ("firmware.elf", "firmware.map"):
        (project / name).unlink(missing_ok=True)


def build(project_dir, jobs: int = 2, *, timeout_s: float = 600) -> dict:
    """Run the project's Makefile; return {"elf", "flash_bytes", "ram_bytes", "text",
    "data", "bss", "stack"}. Missing tools and compile/link errors raise TinyrnnError."""
    project = Path(project_dir)
    if not (project / "Makefile").is_file():
        raise TinyrnnError(f"{project} has no Makefile: render it with render_firmware() first")
    make = require_tool("make")
    require_tool("arm-none-eabi-gcc")
    elf = project / "firmware.elf"
    try:
        proc = subprocess.run([make, "-C", str(project), f"-j{int(jobs)}", "firmware.elf"],
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        _drop_outputs(project)
        raise TinyrnnError(f"firmware build in {project} took over {timeout_s} s") from exc
    if proc.returncode != 0:
        _drop_outputs(project)
        line = first_error_line(proc.stderr if proc.stderr.strip() else proc.stdout)
        raise TinyrnnError(f"firmware build failed in {project}: {line}")
    return {"elf": str(elf), **elf_sizes(elf)}


_MAP_ENTRY = re.compile(r"^ (\.[\w.$]+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S+)$", re.MULTILINE)


def _map_entries(map_file):
    """(section, address, size, object file name) of every placed input section of a GNU ld map.

    Only the "Linker script and memory map" part counts (garbage-collected sections are
    listed before it)."""
    text = Path(map_file).read_text()
    text = text[text.index("Linker script and memory map"):]
    # GNU ld puts a long section name on its own line: join it with its address line.
    text = re.sub(r"^ (\.[\w.$]+)\n\s+(0x)", r" \1 \2", text, flags=re.MULTILINE)
    for section, addr, size, obj in _MAP_ENTRY.findall(text):
        yield section, int(addr, 16), int(size, 16), Path(obj).name


def map_code_ranges(map_file, objects: set) -> list[tuple[int, int]]:
    """[start, end) address ranges of the .text sections of ``objects``, sorted."""
    return sorted((addr, addr + size) for section, addr, size, name in _map_entries(map_file)
                  if section.startswith(".text") and name in objects and size)


def map_sizes(map_file, model_objects: set, weights_objects: set, state_symbol: str = ".bss.g_state") -> dict:
    """Code, constant data and state bytes of the model, from a GNU ld map file:
    code = .text* of ``model_objects``, weights = .rodata*/.data* of
    ``weights_objects``, RAM = the glue's model state plus any .data/.bss of the model."""
    sizes = {"flash_code_bytes": 0, "flash_weights_bytes": 0, "ram_bytes": 0}
    for section, _addr, size, name in _map_entries(map_file):
        if section.startswith(".text") and name in model_objects:
            sizes["flash_code_bytes"] += size
        elif section.startswith((".rodata", ".data")) and name in weights_objects:
            sizes["flash_weights_bytes"] += size
        model_data = section.startswith((".bss", ".data")) and name in model_objects | weights_objects
        if section == state_symbol or model_data:
            sizes["ram_bytes"] += size
    return sizes
