"""Fault injection between the harness and a real firmware in QEMU.

A loopback TCP proxy sits between Link and QEMU's serial socket and drops, corrupts,
delays or swallows bytes in either direction, from a seeded RNG. Every scenario runs
under a watchdog (a hang fails the test) and must end in one of two ways: every
sequence verified with no mismatch, or an error that names exactly how many
sequences were verified — never a mismatch the device did not produce.
"""

from __future__ import annotations

import collections
import select
import shutil
import socket
import threading
import time

import irgen
import numpy as np
import pytest

from tinyrnn.core.golden.model import run_model
from tinyrnn.harness.dut import Device
from tinyrnn.harness.qemu import Qemu
from tinyrnn.harness.verify import verify_device

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]
BOARD = "mps2-an386"
TIMEOUT_S = 0.5  # per request (a reply takes ~10 ms): a lost request costs this much
RETRIES = 8  # window resends: at these fault rates a window fails ~1 time in 3, never 9 times running


class FaultProxy:
    """client ↔ proxy ↔ QEMU on 127.0.0.1, faults applied per byte and per direction.

    faults: {"up"|"down": {"drop": p, "corrupt": p, "delay": (p, seconds), "garbage": p}}
    ("up" = host → device). blackhole_after: after this many bytes in total, forward
    nothing more (a cable pulled out mid-run). Delayed bytes hold back the ones after
    them, as on a stalled line: order is kept.
    """

    def __init__(self, upstream_port: int, faults: dict, seed: int = 0, blackhole_after: int | None = None):
        self.upstream_port = upstream_port
        self.faults = faults
        self.armed = False  # faults start once the test says so (after the connection is up)
        self.rng = np.random.default_rng(seed)
        self.blackhole_after = blackhole_after
        self.forwarded = 0
        self.injected: collections.Counter = collections.Counter()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        assert not self._thread.is_alive(), "proxy thread did not stop"

    def _mangle(self, direction: str, data: bytes) -> list[tuple[float, bytes]]:
        """(delay before, bytes) pieces for one received chunk."""
        f = self.faults.get(direction, {}) if self.armed else {}
        pieces, cur = [], bytearray()
        for b in data:
            self.forwarded += 1
            if self.blackhole_after is not None and self.forwarded > self.blackhole_after:
                self.injected["blackholed"] += 1
                continue
            r = self.rng.random()
            if r < f.get("drop", 0.0):
                self.injected[f"{direction} drop"] += 1
                continue
            if r < f.get("drop", 0.0) + f.get("corrupt", 0.0):
                self.injected[f"{direction} corrupt"] += 1
                b ^= 1 << int(self.rng.integers(8))
            elif r < f.get("drop", 0.0) + f.get("corrupt", 0.0) + f.get("garbage", 0.0):
                self.injected[f"{direction} garbage"] += 1
                cur += self.rng.integers(0, 256, int(self.rng.integers(1, 20))).astype(np.uint8).tobytes()
            elif "delay" in f and self.rng.random() < f["delay"][0]:
                self.injected[f"{direction} delay"] += 1
                pieces.append((0.0, bytes(cur)))
                cur = bytearray()
                pieces.append((f["delay"][1], b""))
            cur.append(b)
        pieces.append((0.0, bytes(cur)))
        return pieces

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                self._pump(client, upstream)
            return

    def _pump(self, client, upstream) -> None:
        queues = {client: collections.deque(), upstream: collections.deque()}  # (release time, bytes)
        while not self._stop.is_set():
            now = time.monotonic()
            for dst, q in queues.items():
                while q and q[0][0] <= now:
                    dst.sendall(q.popleft()[1])
            ready, _, _ = select.select([client, upstream], [], [], 0.01)
            for src in ready:
                data = src.recv(4096)
                if not data:
                    return
                dst = upstream if src is client else client
                release = max([time.monotonic()] + [t for t, _ in queues[dst]][-1:])
                for delay, piece in self._mangle("up" if src is client else "down", data):
                    release += delay
                    queues[dst].append((release, piece))


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    from tinyrnn.app.targets import build_firmware

    model = irgen.build_model(np.random.default_rng(5), 4, [8], [3])
    built = build_firmware(model, BOARD, tmp_path_factory.mktemp("faults") / "fw")
    x = np.random.default_rng(6).integers(-128, 128, (14, 80, 4)).astype(np.int8)  # 320 B: two RUN chunks
    return model, built["elf"], x


def run_through_proxy(firmware, faults, seed, limit_s, log_path, blackhole_after=None, retries=RETRIES):
    """verify_device through a FaultProxy, under a watchdog; returns (result, proxy, link stats, seconds).

    The link's traffic log (hex, with notes on every error and resync) goes to log_path."""
    model, elf, x = firmware
    box: dict = {}
    with Qemu(BOARD, elf, timeout_s=limit_s + 30) as q, open(log_path, "w") as log:
        proxy = FaultProxy(q.port, faults, seed=seed, blackhole_after=blackhole_after)

        def session():
            with Device.open(proxy.url, expected_hash=model.content_hash(), timeout_s=TIMEOUT_S, retries=retries,
                             log_file=log) as dev:
                proxy.armed = True  # INFO/hash check done: faults from the first window on
                box["result"] = verify_device(dev, model, x, progress=False)
                box["stats"] = dict(dev.link.stats)

        t0 = time.monotonic()
        th = threading.Thread(target=session, daemon=True)
        th.start()
        th.join(limit_s)
        elapsed = time.monotonic() - t0
        proxy.close()
        assert not th.is_alive(), f"verification still running after {limit_s} s: the harness hung"
    return box["result"], proxy, box["stats"], elapsed


def assert_only_what_was_seen(result, firmware):
    """No mismatch may ever be reported, and every counted sequence really matched."""
    model, _, x = firmware
    want = run_model(model, x)
    assert result.mismatches == 0 and result.first_mismatch is None
    assert result.indices == list(range(result.sequences))
    for i, got in zip(result.indices, result.outputs):
        np.testing.assert_array_equal(got, want[i])


@pytest.mark.parametrize("name, faults, detected", [
    # Rates per byte; replies are short (~14 bytes a chunk), so "down" rates are higher.
    ("corrupt+garbage", {"up": {"corrupt": 0.0005}, "down": {"corrupt": 0.005, "garbage": 0.005}},
     ("crc_errors", "error_device", "error_garbage", "error_length")),
    ("drop+delay", {"up": {"drop": 0.0002, "delay": (0.002, 0.05)}, "down": {"drop": 0.006, "delay": (0.01, 0.05)}},
     ("error_truncated", "error_timeout", "error_device", "error_length")),
])
def test_faults_are_detected_and_recovered(firmware, name, faults, detected, tmp_path):
    result, proxy, stats, elapsed = run_through_proxy(firmware, faults, seed=11, limit_s=40, log_path=tmp_path / "serial.log")
    injected = sum(proxy.injected.values())
    print(f"{name}: injected {dict(proxy.injected)}; link {stats}; {elapsed:.1f} s")
    assert injected >= 3, "the scenario must actually inject faults"
    assert result.error is None, result.error
    assert result.sequences == len(firmware[2])
    assert_only_what_was_seen(result, firmware)
    assert any(stats.get(k, 0) for k in detected), stats  # detected ...
    assert stats.get("window_retries", 0) + stats.get("retries", 0) >= 1, stats  # ... and recovered


def test_pulled_cable_ends_in_bounded_time_with_an_exact_count(firmware, tmp_path):
    result, proxy, stats, elapsed = run_through_proxy(firmware, {}, seed=0, limit_s=30, log_path=tmp_path / "serial.log",
                                                      blackhole_after=2000, retries=2)
    assert proxy.injected["blackholed"] > 0
    assert result.error is not None and result.error.startswith(f"sequence {result.sequences}:"), result.error
    assert 0 < result.sequences < len(firmware[2])
    assert_only_what_was_seen(result, firmware)
    # (retries + 1) timeouts plus a resync drain each: the bound a user waits at most.
    assert elapsed < (2 + 1) * (TIMEOUT_S + 1.2) + 3, elapsed
