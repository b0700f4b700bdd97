"""Run a firmware ELF in QEMU with its console UART on a local TCP port.

    with Qemu("mps2-an386", "build/firmware.elf") as q:
        ser = q.serial(timeout=2)          # or serial.serial_for_url(q.url)
        ser.write(b"...")

QEMU runs with ``-icount shift=0`` (one guest instruction = 1 ns of virtual time), so
SysTick ticks convert to instruction counts with the catalogue's
``systick.instructions_per_tick``. The serial port is a TCP server with wait=on: the
guest does not start until the host connects, so no output is lost. nodelay=on: the
UART sends byte by byte, and with Nagle's algorithm every reply stalled behind the
host's delayed ACK (~40 ms per round trip, measured: a 1-byte ECHO took 48 ms, 0.9 ms
with TCP_NODELAY on both ends). Standard library and pyserial only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path

import serial  # pyserial

from tinyrnn.core.boards import get_board
from tinyrnn.core.errors import TinyrnnError

QEMU_BINARY = "qemu-system-arm"
APT_HINT = "sudo apt-get install qemu-system-arm"
_PORT_ATTEMPTS = 5
# QEMU's stderr note once the server socket listens. Connecting to probe instead would
# use up the console's one connection (and could reach another process on the port).
_LISTENING = "QEMU waiting for connection"


def _free_port() -> int:
    """A port that was free a moment ago; a race with another process is retried."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a kernel-level hang
        pass


def qemu_command(board: str, elf: str, port: int, extra_args: tuple = ()) -> list[str]:
    """The qemu-system-arm command line for ``board`` (catalogue "qemu" section);
    ``extra_args`` go before the serial option (e.g. ``-d exec`` tracing)."""
    qemu = get_board(board)["qemu"]
    if not qemu:
        raise TinyrnnError(f"board {board!r} has no QEMU machine (real hardware only)")
    return [QEMU_BINARY, "-M", qemu["machine"], *qemu.get("args", []),
            "-nographic", "-monitor", "none", "-icount", "shift=0",
            "-kernel", str(elf), *extra_args,
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"]


class Qemu:
    """Context manager owning one QEMU process; always killed on exit.

    timeout_s: the longest QEMU may live; a watchdog kills it after that (a hung
    firmware then shows up as a closed serial port and a TinyrnnError on exit). The
    default is an hour, not minutes: 1,000 HAR windows took 103 s on a loaded 2-core
    machine, and a hung guest is caught sooner by the link's per-request deadlines.
    start_timeout_s: how long to wait for QEMU to open its serial port.
    """

    def __init__(self, board: str, elf: str, timeout_s: float = 3600.0, *,
                 start_timeout_s: float = 10.0, extra_args: tuple = ()):
        get_board(board)  # an unknown name fails here, listing the valid ones
        self.board = board
        self.elf = str(elf)
        self.extra_args = tuple(extra_args)
        self.timeout_s = timeout_s
        self.start_timeout_s = min(start_timeout_s, timeout_s)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.timed_out = False
        self._stderr = None
        self._serials: list = []
        self._watchdog: threading.Timer | None = None
        self._finalizer = None

    @property
    def url(self) -> str:
        """pyserial URL of the console UART, e.g. ``socket://127.0.0.1:40123``."""
        if self.port is None:
            raise TinyrnnError("Qemu is not started: use it as a context manager")
        return f"socket://127.0.0.1:{self.port}"

    def __enter__(self) -> "Qemu":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        if self.timed_out and exc_type is not None and not issubclass(
                exc_type, KeyboardInterrupt):
            raise TinyrnnError(f"QEMU ({self.board}) killed after timeout_s="
                               f"{self.timeout_s}: {exc}") from exc

    def start(self) -> None:
        """Launch QEMU and wait until its serial port listens (retrying busy ports)."""
        if shutil.which(QEMU_BINARY) is None:
            raise TinyrnnError(f"{QEMU_BINARY} not found on PATH; install it with: {APT_HINT}")
        if not Path(self.elf).is_file():
            raise TinyrnnError(f"firmware {self.elf} does not exist: build it first")
        for _ in range(_PORT_ATTEMPTS):
            port = _free_port()
            if self._launch(port):
                self.port = port
                self._watchdog = threading.Timer(self.timeout_s, self._expire)
                self._watchdog.daemon = True
                self._watchdog.start()
                return
        raise TinyrnnError(f"QEMU could not bind a local TCP port in {_PORT_ATTEMPTS} tries")

    def _launch(self, port: int) -> bool:
        """Start QEMU on ``port``; False if the port was taken meanwhile."""
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(qemu_command(self.board, self.elf, port, self.extra_args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr)
        # Killed at interpreter exit or collection too, not only by close().
        self._finalizer = weakref.finalize(self, _kill, self.proc)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.stderr_text()
                if "Address already in use" in err:
                    self._stderr.close()
                    return False
                first = next((ln for ln in err.splitlines() if ln.strip()), "(no output)")
                raise TinyrnnError(f"QEMU ({self.board}) exited at start "
                                   f"(code {self.proc.returncode}): {first.strip()}")
            if _LISTENING in self.stderr_text():
                return True
            time.sleep(0.01)
        raise TinyrnnError(f"QEMU ({self.board}) did not open its serial port "
                           f"within {self.start_timeout_s} s")

    def serial(self, timeout: float = 1.0):
        """Open (and track, to close on exit) a pyserial port on the console UART.

        Prefer this to ``serial_for_url(q.url)`` when the firmware prints at boot:
        pyserial's socket open() ends with reset_input_buffer(), which drops whatever
        the guest (started by the connection itself) has already sent."""
        ser = serial.serial_for_url(self.url, timeout=timeout, do_not_open=True)
        ser.reset_input_buffer = lambda: None  # shadows the method during open() only
        try:
            ser.open()
        finally:
            del ser.reset_input_buffer
        self._serials.append(ser)
        return ser

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self) -> str:
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def _expire(self) -> None:
        self.timed_out = True
        if self.proc is not None:
            _kill(self.proc)

    def close(self) -> None:
        """Close serial ports and kill QEMU; safe to call twice."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        for ser in self._serials:
            try:
                ser.close()
            except Exception:  # noqa: BLE001 - closing a dead socket must not mask errors
                pass
        self._serials.clear()
        if self._finalizer is not None:
            self._finalizer()  # runs _kill once
        if self._stderr is not None:
            self._stderr.close()

