"""Every catalogue board boots the echo test app in QEMU: UART round trip, SysTick
calibration against a loop of known instruction count, 32/64-bit tick extension,
stack painting, fault marker. Plus the Qemu runner's error paths."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import time
from importlib import resources
from pathlib import Path

import pytest

from tinyrnn.codegen.build import build
from tinyrnn.codegen.firmware import render_firmware
from tinyrnn.core import boards as catalogue
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.harness import qemu as qemu_mod
from tinyrnn.harness.qemu import Qemu

ECHO_APP = str(Path(__file__).parent / "fixtures" / "firmware_echo" / "echo_app.c")
# A short SysTick period so a test crosses several wraps within a few million instructions.
PERIOD = 0x10000
# The fault handlers' marker, from the C header that defines it.
FAULT_MARKER = re.search(
    r'#define BOARD_FAULT_MARKER "([^"]+)"',
    resources.files("tinyrnn.firmware_templates").joinpath("common/board.h").read_text(),
).group(1).encode()
_have_tools = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
needs_tools = pytest.mark.skipif(not _have_tools, reason="needs arm-none-eabi-gcc and qemu")


def test_host_side_fault_marker_matches_firmware():
    from tinyrnn.harness.link import FAULT_MARKER as link_marker

    assert link_marker == FAULT_MARKER


@pytest.fixture(scope="module", params=catalogue.qemu_boards())
def firmware(request, tmp_path_factory):
    board = request.param
    info = render_firmware(tmp_path_factory.mktemp(board), board, [ECHO_APP],
                           defines={"BOARD_SYSTICK_RELOAD": hex(PERIOD - 1)})
    return board, build(info["project_dir"])["elf"]


def _cmd(ser, op: bytes, arg: int | None = None) -> list[bytes]:
    ser.write(op + (b"" if arg is None else struct.pack("<I", arg)))
    line = ser.readline()
    assert line.endswith(b"\n"), f"no reply to {op!r}: {line!r}"
    return line.split()


def _check_echo(ser):
    payload = bytes(range(256))
    for chunk in (payload[:255], payload[255:]):
        ser.write(b"e" + bytes([len(chunk)]) + chunk)
        assert ser.read(len(chunk)) == chunk


def _check_calibration(ser, factor: float):
    # Loop as long as fits in one SysTick period (IRQs are off while it runs).
    for n in (1000, int(0.9 * PERIOD * factor / 2)):
        _, a, b = _cmd(ser, b"c", n)
        ticks = (int(a) - int(b)) % PERIOD
        assert abs(ticks - (2 * n + 1) / factor) <= 1, (n, ticks)


def _check_extended_ticks(ser, factor: float):
    n = int(3.5 * PERIOD * factor / 2)  # crosses 3 or 4 SysTick wraps
    ticks = int(_cmd(ser, b"t", n)[1])
    # call overhead and the wrap interrupts add a few dozen instructions
    assert 0 <= ticks * factor - 2 * n <= 100 + factor, ticks
    mono, status, first, last = _cmd(ser, b"m", 3 * PERIOD)
    assert (mono, status) == (b"MONO", b"ok")
    assert int(last) - int(first) >= 3 * PERIOD


def _check_stack(ser):
    idle = int(_cmd(ser, b"u", 0)[1])
    _, peak, size = _cmd(ser, b"u", 2000)
    assert 0 < idle < 256 and 2000 <= int(peak) <= 2000 + idle + 64 and int(size) > 2000


@pytest.mark.qemu
@needs_tools
def test_board_echo_ticks_stack_fault(firmware):
    board, elf = firmware
    entry = catalogue.get_board(board)
    factor = catalogue.instructions_per_tick(board)
    with Qemu(board, elf, timeout_s=30) as q:
        ser = q.serial(timeout=10)
        ready = ser.readline().split()
        assert ready[:2] == [b"READY", board.encode()]
        _check_echo(ser)
        _check_calibration(ser, factor)
        _check_extended_ticks(ser, factor)
        _check_stack(ser)
        fp = _cmd(ser, b"x")
        assert fp[:2] == [b"FP", b"3"]
        assert fp[2:] == ([b"MVE", b"56"] if entry["mve"] else [])
        ser.write(b"f")
        assert FAULT_MARKER in ser.read_until(b"hfsr=")


@pytest.mark.qemu
@needs_tools
def test_stack_overflow_faults(firmware):
    board, elf = firmware
    with Qemu(board, elf, timeout_s=30) as q:
        ser = q.serial(timeout=10)
        ser.readline()
        ser.write(b"u" + struct.pack("<I", 32768))  # beyond every board's stack
        assert FAULT_MARKER in ser.read_until(b"hfsr=")


@pytest.fixture(scope="module")
def an386_elf(tmp_path_factory):
    info = render_firmware(tmp_path_factory.mktemp("an386"), "mps2-an386", [ECHO_APP])
    return build(info["project_dir"])["elf"]


def test_missing_qemu_gives_apt_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TinyrnnError, match="apt-get install qemu-system-arm"):
        with Qemu("mps2-an386", tmp_path / "firmware.elf"):
            pass


def test_unknown_board_is_rejected(tmp_path):
    with pytest.raises(TinyrnnError, match="valid boards"):
        Qemu("nope", tmp_path / "firmware.elf")


@needs_tools
def test_missing_elf_is_reported(tmp_path):
    with pytest.raises(TinyrnnError, match="does not exist"):
        with Qemu("mps2-an386", tmp_path / "none.elf"):
            pass


@pytest.mark.qemu
@needs_tools
def test_qemu_dying_at_start_reports_stderr(monkeypatch, an386_elf):
    real = qemu_mod.qemu_command
    monkeypatch.setattr(qemu_mod, "qemu_command",
                        lambda *a: real(*a) + ["-no-such-option"])
    with pytest.raises(TinyrnnError, match="exited at start.*no-such-option"):
        with Qemu("mps2-an386", an386_elf):
            pass


@pytest.mark.qemu
@needs_tools
def test_busy_port_is_retried(monkeypatch, an386_elf):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = [busy.getsockname()[1]]
        real = qemu_mod._free_port
        monkeypatch.setattr(qemu_mod, "_free_port",
                            lambda: ports.pop() if ports else real())
        with Qemu("mps2-an386", an386_elf, timeout_s=20) as q:
            assert q.port != busy.getsockname()[1]
            assert q.serial(timeout=10).readline().startswith(b"READY mps2-an386")


@pytest.mark.qemu
@needs_tools
def test_serial_keeps_boot_output(monkeypatch, an386_elf):
    """pyserial's socket open() flushes input after connecting, and connecting starts
    the guest: widen that window and the banner must still arrive via Qemu.serial()."""
    import serial.urlhandler.protocol_socket as ps

    real = ps.Serial._reconfigure_port
    monkeypatch.setattr(ps.Serial, "_reconfigure_port",
                        lambda self, *a, **k: (time.sleep(0.2), real(self, *a, **k))[1])
    with Qemu("mps2-an386", an386_elf, timeout_s=20) as q:
        assert q.serial(timeout=5).readline().startswith(b"READY mps2-an386")


@pytest.mark.qemu
@needs_tools
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_qemu_killed_on_exception(an386_elf, exc):
    with pytest.raises(exc):
        with Qemu("mps2-an386", an386_elf) as q:
            assert q.alive()
            raise exc()
    assert not q.alive()


@pytest.mark.qemu
@needs_tools
def test_watchdog_kills_hung_session(an386_elf):
    with pytest.raises(TinyrnnError, match="timeout_s=1"):
        with Qemu("mps2-an386", an386_elf, timeout_s=1) as q:
            ser = q.serial(timeout=5)
            ser.readline()
            ser.read(1)  # the app waits for a command: nothing comes until the kill
            ser.read(1)
