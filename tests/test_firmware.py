"""Host-side tests of the board catalogue, project rendering and the firmware build
(arm-none-eabi-gcc needed for the build tests, QEMU not)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tinyrnn.codegen.build import build, elf_sizes, first_error_line
from tinyrnn.codegen.firmware import render_firmware
from tinyrnn.core import boards as catalogue
from tinyrnn.core.errors import TinyrnnError

ECHO_APP = str(Path(__file__).parent / "fixtures" / "firmware_echo" / "echo_app.c")
ALL_BOARDS = ["mps2-an386", "mps2-an385", "mps2-an500", "mps2-an505", "mps3-an547",
              "netduinoplus2", "microbit"]
needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not installed")


def test_catalogue_lists_all_boards_default_first():
    names = catalogue.board_names()
    assert names[0] == "mps2-an386" == catalogue.default_board()
    assert sorted(catalogue.qemu_boards()) == sorted(ALL_BOARDS)
    assert set(catalogue.qemu_boards()) < set(names)  # real boards have no QEMU machine


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_catalogue_entry_is_consistent(board):
    entry = catalogue.get_board(board)
    systick = entry["systick"]
    # Under -icount shift=0 one instruction is 1 ns: the factor is 1 GHz / SysTick clock.
    assert systick["instructions_per_tick"] == pytest.approx(1e9 / systick["clock_hz"])
    assert catalogue.instructions_per_tick(board) == systick["instructions_per_tick"]
    assert entry["mve"] == (entry["cpu"] == "cortex-m55")
    assert entry["uart"]["kind"] in ("cmsdk", "stm32", "nrf51")


def test_get_board_returns_a_copy():
    catalogue.get_board("microbit")["ram"]["length"] = 1
    assert catalogue.parse_int(catalogue.get_board("microbit")["ram"]["length"]) == 16384


def test_unknown_board_names_it_and_lists_valid_ones(tmp_path):
    with pytest.raises(TinyrnnError) as err:
        render_firmware(tmp_path, "stm32-nope", [ECHO_APP])
    msg = str(err.value)
    assert "'stm32-nope'" in msg
    assert all(b in msg for b in ALL_BOARDS)


def test_render_writes_complete_project(tmp_path):
    info = render_firmware(tmp_path / "p", "netduinoplus2", [ECHO_APP],
                           defines={"EXTRA": 3, "FLAG": None}, stack_bytes=4096)
    p = Path(info["project_dir"])
    for rel in ("Makefile", "linker.ld", "board.json", "board/board.h", "board/startup.c",
                "board/board_config.h", "board/uart_stm32.c", "app/echo_app.c"):
        assert (p / rel).is_file(), rel
    assert info["sources"][-1] == "app/echo_app.c"
    assert info["arch_flags"] == ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                                  "-mfpu=fpv4-sp-d16"]
    linker = (p / "linker.ld").read_text()
    assert "ORIGIN = 0x08000000, LENGTH = 0x00100000" in linker
    assert "ORIGIN = 0x20000000, LENGTH = 0x00020000" in linker
    assert ". += 4096;" in linker
    makefile = (p / "Makefile").read_text()
    assert "-DEXTRA=3 -DFLAG" in makefile and "-Werror" in makefile
    config = (p / "board" / "board_config.h").read_text()
    assert "BOARD_UART_BASE 0x40011000u" in config
    assert "{ 0x40023844u, 0x00000010u }" in config
    assert json.loads((p / "board.json").read_text())["name"] == "netduinoplus2"


def test_rerender_keeps_mtimes_and_drops_stale_app_files(tmp_path):
    extra = tmp_path / "extra.h"
    extra.write_text("#define X 1\n")
    render_firmware(tmp_path / "p", "microbit", [ECHO_APP, str(extra)])
    makefile = tmp_path / "p" / "Makefile"
    before = makefile.stat().st_mtime_ns
    render_firmware(tmp_path / "p", "microbit", [ECHO_APP])
    assert makefile.stat().st_mtime_ns == before
    assert not (tmp_path / "p" / "app" / "extra.h").exists()


def test_bad_app_sources_are_reported(tmp_path):
    with pytest.raises(TinyrnnError, match="not a .c or .h"):
        render_firmware(tmp_path, "microbit", [str(tmp_path / "x.txt")])
    with pytest.raises(TinyrnnError, match="does not exist"):
        render_firmware(tmp_path, "microbit", [str(tmp_path / "missing.c")])
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(ECHO_APP, other)
    with pytest.raises(TinyrnnError, match="two app sources"):
        render_firmware(tmp_path / "p", "microbit", [ECHO_APP, str(other / "echo_app.c")])


def test_default_app_plus_extra_sources(tmp_path):
    glue = tmp_path / "model_glue.c"
    glue.write_text("/* generated model glue */\n")
    info = render_firmware(tmp_path / "p", "mps2-an386", extra_sources=[str(glue)])
    assert "app/app_main.c" in info["sources"] and "app/model_glue.c" in info["sources"]


def test_bad_stack_size_is_reported(tmp_path):
    with pytest.raises(TinyrnnError, match="stack_bytes"):
        render_firmware(tmp_path, "microbit", [ECHO_APP], stack_bytes=16384)


def _path_with_only(tmp_path, tools):
    """A PATH directory holding links to just ``tools`` (simulates missing ones)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        os.symlink(shutil.which(tool), bin_dir / tool)
    return str(bin_dir)


@needs_gcc
def test_missing_compiler_gives_apt_command(tmp_path, monkeypatch):
    info = render_firmware(tmp_path / "p", "mps2-an386", [ECHO_APP])
    monkeypatch.setenv("PATH", _path_with_only(tmp_path, ["make"]))
    with pytest.raises(TinyrnnError, match="apt-get install gcc-arm-none-eabi"):
        build(info["project_dir"])


@needs_gcc
def test_missing_make_gives_apt_command(tmp_path, monkeypatch):
    info = render_firmware(tmp_path / "p", "mps2-an386", [ECHO_APP])
    monkeypatch.setenv("PATH", _path_with_only(tmp_path, ["arm-none-eabi-gcc"]))
    with pytest.raises(TinyrnnError, match="apt-get install make"):
        build(info["project_dir"])


def test_build_without_project_is_reported(tmp_path):
    with pytest.raises(TinyrnnError, match="no Makefile"):
        build(tmp_path)


@needs_gcc
def test_compile_error_reports_first_error_line(tmp_path):
    bad = tmp_path / "bad_app.c"
    bad.write_text("#include \"board.h\"\nint main(void) { board_init(); return nope; }\n")
    info = render_firmware(tmp_path / "p", "mps2-an386", [str(bad)])
    with pytest.raises(TinyrnnError) as err:
        build(info["project_dir"])
    assert "app/bad_app.c:2:" in str(err.value) and "'nope' undeclared" in str(err.value)


@needs_gcc
def test_ram_overflow_is_reported(tmp_path):
    big = tmp_path / "big_app.c"
    big.write_text("#include \"board.h\"\nstatic volatile uint8_t buf[20000];\n"
                   "int main(void) { board_init(); buf[0] = 1; return buf[1]; }\n")
    info = render_firmware(tmp_path / "p", "microbit", [str(big)])
    with pytest.raises(TinyrnnError, match="RAM"):
        build(info["project_dir"])


def test_first_error_line_prefers_the_cause():
    out = "make: Entering directory\nld: region `RAM' overflowed by 4 bytes\n" \
          "collect2: error: ld returned 1 exit status\n"
    assert first_error_line(out) == "ld: region `RAM' overflowed by 4 bytes"


def test_non_elf_is_rejected(tmp_path):
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"not an elf")
    with pytest.raises(TinyrnnError, match="not a little-endian 32-bit ELF"):
        elf_sizes(junk)


@needs_gcc
@pytest.mark.parametrize("board", ALL_BOARDS)
def test_echo_app_builds_and_sizes_match_binutils(tmp_path, board):
    info = render_firmware(tmp_path / board, board, [ECHO_APP])
    sizes = build(info["project_dir"])
    stack = catalogue.parse_int(catalogue.get_board(board)["stack_bytes"])
    assert sizes["stack"] == stack
    assert sizes["flash_bytes"] == sizes["text"] + sizes["data"]
    assert sizes["ram_bytes"] == sizes["data"] + sizes["bss"] + stack
    assert 1000 < sizes["text"] < 8000
    size_tool = shutil.which("arm-none-eabi-size")
    if size_tool:  # Berkeley format counts the .stack reservation as bss
        row = subprocess.run([size_tool, sizes["elf"]], capture_output=True, text=True,
                             check=True).stdout.splitlines()[1].split()
        assert [int(v) for v in row[:3]] == [sizes["text"], sizes["data"],
                                             sizes["bss"] + stack]
