"""A labgrid farm on loopback for tests: a coordinator, one exporter publishing the TCP serial
ports of QEMU boards as NetworkSerialPort resources, and one place per board.

Every process is started here and killed by PID on exit. QEMU's serial port is a TCP server
with wait=off, as a ser2net port of a real exporter is: the board runs whether or not a client
is connected, and accepts the next client when one disconnects.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tinyrnn.harness.qemu import qemu_command

BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    path = BIN / name
    return str(path) if path.is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout_s} s")


class Farm:
    def __init__(self, workdir: Path, board: str, elf: str, count: int = 2, prefix: str = "tinyrnn-lab"):
        self.workdir, self.board, self.elf, self.count, self.prefix = Path(workdir), board, elf, count, prefix
        self.procs: list[subprocess.Popen] = []
        self.address = f"127.0.0.1:{free_port()}"
        self.places = [f"{prefix}-{k}" for k in range(count)]

    def _start(self, argv, log: str) -> subprocess.Popen:
        out = open(self.workdir / log, "wb")  # noqa: SIM115 - closed with the farm
        # cwd: the coordinator keeps places.yaml and resources.yaml in its working directory
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=self.workdir, env={**os.environ, "LG_COORDINATOR": self.address})
        self.procs.append(proc)
        return proc

    def client(self, *args: str) -> str:
        proc = subprocess.run([tool("labgrid-client"), "-x", self.address, *args], capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout

    def start(self) -> Farm:
        ports = []
        for k in range(self.count):
            port = free_port()
            argv = qemu_command(self.board, self.elf, port)
            argv[-1] = f"tcp:127.0.0.1:{port},server=on,wait=off,nodelay=on"
            _wait_listening(port, self._start(argv, f"qemu-{k}.log"), f"QEMU {k}")
            ports.append(port)
        port = self.address.rsplit(":", 1)[1]
        _wait_listening(int(port), self._start([tool("labgrid-coordinator"), "-l", self.address], "coordinator.log"),
                        "labgrid-coordinator")  # fmt: skip
        config = self.workdir / "exporter.yaml"
        config.write_text("".join(f"{self.prefix}-board-{k}:\n  NetworkSerialPort:\n    host: 127.0.0.1\n"
                                  f"    port: {p}\n    protocol: raw\n    speed: 115200\n" for k, p in enumerate(ports)))
        self._start([tool("labgrid-exporter"), "-c", self.address, "-n", "loopback", str(config)], "exporter.log")
        deadline = time.monotonic() + 30
        while self.client("resources").count("NetworkSerialPort") < self.count:
            assert time.monotonic() < deadline, "the exporter did not register its resources"
            time.sleep(0.2)
        for k, place in enumerate(self.places):
            self.client("-p", place, "create")
            self.client("-p", place, "add-match", f"loopback/{self.prefix}-board-{k}/NetworkSerialPort")
            self.client("-p", place, "set-tags", f"board={self.board}")
        return self

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self.procs.clear()

    def __enter__(self) -> Farm:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()
