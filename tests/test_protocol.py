"""The framed protocol on pyserial loop:// with a scripted Python 'device'.

Host writes are intercepted and answered by a script that writes its reply bytes into
the loop, so every wire fault (CRC, garbage, truncation, silence, stale seq, reset) can
be staged exactly. Every request runs under a watchdog thread: a hang fails the test
instead of stalling the suite.
"""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.harness import protocol as P
from tinyrnn.harness.link import FAULT_MARKER, Link, LinkError

ROOT = Path(__file__).resolve().parents[1]
T = 0.5  # request timeout for these tests


def decode(data: bytes) -> tuple[int, int, bytes]:
    """Independent decoder (struct only) to cross-check encode_frame."""
    assert data[:2] == b"\xa5\x5a"
    ftype, seq, n = struct.unpack_from("<BBH", data, 2)
    payload = data[6:6 + n]
    (crc,) = struct.unpack_from("<H", data, 6 + n)
    assert len(data) == n + 8
    assert crc == P.crc16(data[2:6 + n])
    return ftype, seq, payload


class ScriptedDevice:
    """Answers each host frame with script(ftype, seq, payload, n) -> bytes for the line."""

    def __init__(self, link: Link, script):
        self.requests: list[tuple[int, int, bytes]] = []
        self.fillers = 0
        self._loop_write = link.serial.write
        self.script = script
        link.serial.write = self._on_write  # instance attribute shadows the method

    def _on_write(self, data):
        if not any(data):  # Link.resync() filler: a real device parser ignores zeros
            self.fillers += 1
            return len(data)
        frame = decode(bytes(data))
        self.requests.append(frame)
        out = self.script(*frame, len(self.requests))
        if out:
            self._loop_write(out)
        return len(data)


def ok(ftype, seq, payload, n=0):
    return P.encode_frame(ftype | P.REPLY_BIT, seq, payload)


def bounded(fn, limit_s: float):
    """Run fn in a thread; fail if it has not returned within limit_s (proves no hang)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    t0 = time.monotonic()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(limit_s)
    assert not th.is_alive(), f"still blocked after {limit_s} s"
    box["elapsed"] = time.monotonic() - t0
    return box


@pytest.fixture
def link():
    with Link("loop://", timeout_s=T) as lk:
        yield lk


def synced(link, script):
    """A device that first answers one ECHO normally, so the link counts as synced."""
    dev = ScriptedDevice(link, lambda *a: ok(*a[:3]) if a[3] == 1 else script(*a))
    link.request(P.FrameType.ECHO, b"hi")
    return dev


# ---------------------------------------------------------------- spec and codec


def test_crc_is_ccitt_false():
    assert P.crc16(b"123456789") == 0x29B1


def test_committed_c_header_matches_spec():
    committed = (ROOT / "firmware_templates/app/tinyrnn_protocol.h").read_text()
    assert committed == P.render_c_header(), "re-render: python -m tinyrnn.harness.protocol > firmware_templates/app/tinyrnn_protocol.h"


def test_layouts():
    # 52 fixed bytes (element_size since protocol v2, output_element_size since v3) + a board name of up to 12
    assert P.INFO_REPLY.fixed_size == 52 and P.INFO_REPLY.fixed_size + 12 == P.MIN_MAX_PAYLOAD
    raw = P.BENCH_REPLY.pack(n=5, ticks=7, stack_peak=P.STACK_UNKNOWN, cycles=9)
    assert P.BENCH_REPLY.unpack(raw) == {"n": 5, "ticks": 7, "stack_peak": P.STACK_UNKNOWN, "cycles": 9}
    with pytest.raises(LinkError, match="expected 16 bytes"):
        P.BENCH_REPLY.unpack(raw + b"x")
    assert issubclass(LinkError, TinyrnnError)


@settings(max_examples=60, deadline=None, database=None)
@given(ftype=st.integers(0, 255), seq=st.integers(0, 255), payload=st.binary(max_size=300),
       junk=st.binary(max_size=40).filter(lambda b: b"\xa5" not in b and FAULT_MARKER not in b))
def test_round_trip_and_resync(ftype, seq, payload, junk):
    frame = P.encode_frame(ftype, seq, payload)
    assert decode(frame) == (ftype, seq, payload)
    with Link("loop://", timeout_s=T) as link:  # fresh per example: no state leaks between them
        link.serial.write(junk + frame)  # before the first reply, junk (a boot banner) is skipped
        f = link.read_frame(time.monotonic() + T)
    assert (f.type, f.seq, f.payload) == (ftype, seq, payload)


def test_loopback_line_is_recognised(link):
    with pytest.raises(LinkError, match="echoes"):
        link.request(P.FrameType.STEP, b"\x01")


# ---------------------------------------------------------------- wire faults


def test_request_reply(link):
    dev = ScriptedDevice(link, ok)
    f = link.request(P.FrameType.ECHO, b"abc")
    assert f.payload == b"abc" and f.seq == dev.requests[0][1]


def test_crc_error_retried_when_safe(link):
    def script(ftype, seq, payload, n):
        frame = bytearray(ok(ftype, seq, payload))
        if n == 2:
            frame[-1] ^= 0x40
        return bytes(frame)

    dev = synced(link, script)
    assert link.request(P.FrameType.ECHO, b"xyz").payload == b"xyz"
    assert len(dev.requests) == 3 and link.stats["retries"] == 1 and dev.fillers == 1
    assert dev.requests[1][1] != dev.requests[2][1], "a resend uses a fresh seq"


def test_crc_error_not_retried_for_step(link):
    dev = synced(link, lambda t, s, p, n: ok(t, s, p)[:-1] + b"\x00")
    with pytest.raises(LinkError, match=r"CRC error .* at rx byte \d+") as ei:
        link.request(P.FrameType.STEP, b"\x01\x02")
    assert ei.value.kind == "crc" and len(dev.requests) == 2


def test_garbage_is_reported_with_offset(link):
    synced(link, lambda t, s, p, n: b"hello\r\n" + ok(t, s, p))
    with pytest.raises(LinkError, match=r"7 bytes of garbage: 'hello\\r\\n' at rx byte 10") as ei:
        link.request(P.FrameType.STEP, b"\x01")
    assert ei.value.offset == 10  # the ECHO reply was 8 + 2 bytes


def test_truncated_reply_times_out_in_bounds(link):
    synced(link, lambda t, s, p, n: ok(t, s, p)[:5])
    box = bounded(lambda: link.request(P.FrameType.STEP, b"\x01"), 3 * T)
    assert isinstance(box["error"], LinkError) and box["error"].kind == "truncated"
    assert "truncated frame: 5 bytes" in str(box["error"])
    assert T * 0.9 <= box["elapsed"] <= T + 0.5


def test_silence_is_a_timeout(link):
    dev = ScriptedDevice(link, lambda *a: b"")
    box = bounded(lambda: link.request(P.FrameType.INFO, retries=1), 4 * T)
    # Before the first reply the device may still be booting: one resend.
    assert box["error"].kind == "timeout" and "no reply from loop://" in str(box["error"])
    assert "[after 2 attempts]" in str(box["error"]) and len(dev.requests) == 2


def test_silence_once_synced_is_not_retried(link):
    dev = synced(link, lambda *a: b"")
    box = bounded(lambda: link.request(P.FrameType.INFO), 3 * T)
    assert box["error"].kind == "timeout" and not box["error"].retryable
    assert len(dev.requests) == 2 and box["elapsed"] <= T + 0.5


def test_endless_junk_cannot_outlive_the_deadline(link):
    # Before the first reply junk is tolerated (boot banners), so only the deadline ends this.
    stop = threading.Event()

    def trickle(write):
        while not stop.is_set():
            try:
                write(bytes(500))
            except Exception:  # noqa: BLE001 - loop buffer full: just keep trickling
                pass
            time.sleep(0.002)

    dev = ScriptedDevice(link, lambda *a: threading.Thread(target=trickle, args=(dev._loop_write,), daemon=True).start())
    try:
        box = bounded(lambda: link.request(P.FrameType.INFO, retries=0), 3 * T)
    finally:
        stop.set()
    assert box["error"].kind == "garbage" and box["elapsed"] <= T + 0.5
    assert link.stats["garbage_bytes"] > 4096


def test_wrong_seq(link):
    synced(link, lambda t, s, p, n: ok(t, (s + 7) & 0xFF, p))
    with pytest.raises(LinkError, match=r"seq .* \(expected STEP reply seq") as ei:
        link.request(P.FrameType.STEP, b"\x01")
    assert ei.value.kind == "seq"


def test_late_reply_of_abandoned_request_is_skipped(link):
    late = {}

    def script(t, s, p, n):
        if n == 2:
            late["frame"] = ok(t, s, p)  # too late: delivered before the next reply
            return b""
        return late.pop("frame", b"") + ok(t, s, p)

    synced(link, script)
    with pytest.raises(LinkError, match="no reply"):
        link.request(P.FrameType.STEP, b"\x01")
    assert link.request(P.FrameType.STEP, b"\x02").payload == b"\x02"


def test_boot_frame_means_reset_once_synced(link):
    boot = P.encode_frame(P.FrameType.BOOT, 0, P.BOOT_FRAME.pack(protocol_version=1, board=b"x"))
    ScriptedDevice(link, lambda t, s, p, n: (boot if n in (1, 3) else b"") + ok(t, s, p))
    link.request(P.FrameType.ECHO, b"1")  # BOOT before the first reply: expected (resent once)
    with pytest.raises(LinkError, match="device reset") as ei:
        link.request(P.FrameType.ECHO, b"2")
    assert ei.value.kind == "reset" and not ei.value.retryable


def test_boot_after_first_request_resends_at_once(link):
    boot = P.encode_frame(P.FrameType.BOOT, 0, P.BOOT_FRAME.pack(protocol_version=1, board=b"stm32"))
    # The first request hits a UART that is not listening yet: only the BOOT comes out.
    dev = ScriptedDevice(link, lambda t, s, p, n: boot if n == 1 else ok(t, s, p))
    box = bounded(lambda: link.request(P.FrameType.INFO), 3 * T)
    assert box["value"].type == P.FrameType.INFO | P.REPLY_BIT and box["elapsed"] < T / 2
    assert len(dev.requests) == 2


def test_boot_loop_is_reported(link):
    boot = P.encode_frame(P.FrameType.BOOT, 0, P.BOOT_FRAME.pack(protocol_version=1, board=b"x"))
    ScriptedDevice(link, lambda *a: boot)
    with pytest.raises(LinkError, match="keeps rebooting"):
        link.request(P.FrameType.INFO)


def test_unasked_info_reply_hints_at_reset(link):
    synced(link, lambda t, s, p, n: ok(P.FrameType.INFO, s, b""))
    with pytest.raises(LinkError, match="INFO reply frame \\(did the device reset\\?\\)"):
        link.request(P.FrameType.STEP, b"\x01")


def test_device_error_reply(link):
    err = P.ERROR_REPLY.pack(code=P.ErrorCode.UNKNOWN_TYPE, text=b"unknown frame type")
    dev = ScriptedDevice(link, lambda t, s, p, n: P.encode_frame(P.FrameType.ERROR, s, err))
    with pytest.raises(LinkError, match="ERROR UNKNOWN_TYPE: unknown frame type") as ei:
        link.request(P.FrameType.ECHO, b"")
    assert ei.value.code == P.ErrorCode.UNKNOWN_TYPE and len(dev.requests) == 1


def test_device_crc_error_is_retried(link):
    err = P.ERROR_REPLY.pack(code=P.ErrorCode.BAD_CRC, text=b"crc mismatch")
    dev = ScriptedDevice(link, lambda t, s, p, n: P.encode_frame(P.FrameType.ERROR, 0x55, err) if n == 1 else ok(t, s, p))
    assert link.request(P.FrameType.INFO).type == P.FrameType.INFO | P.REPLY_BIT
    assert len(dev.requests) == 2


def test_fault_marker_is_reported_without_waiting(link):
    synced(link, lambda *a: b"\r\n!!TINYRNN-FAULT pc=00000123 lr=00000456 cfsr=00008200\r\n")
    box = bounded(lambda: link.request(P.FrameType.STEP, b"\x01"), 3 * T)
    assert box["error"].kind == "fault" and "pc=00000123" in str(box["error"])
    assert box["elapsed"] < T / 2, "a complete fault line needs no timeout"


def test_oversize_length_field(link):
    synced(link, lambda t, s, p, n: P.encode_frame(t | P.REPLY_BIT, s, bytes(100)))
    link.max_payload = 64
    with pytest.raises(LinkError, match="length field 100 exceeds"):
        link.request(P.FrameType.STEP, b"\x01")
    with pytest.raises(LinkError, match="exceeds the device's max payload 64"):
        link.request(P.FrameType.ECHO, bytes(65))


def test_traffic_log(tmp_path):
    path = tmp_path / "serial.log"
    with open(path, "w") as fh, Link("loop://", timeout_s=T, log_file=fh) as lk:
        ScriptedDevice(lk, ok)
        lk.request(P.FrameType.ECHO, b"\x11\x22")
    text = path.read_text()
    assert "TX @00000000 a5 5a 06 01 02 00 11 22" in text and "RX @00000000 a5 5a 86 01 02 00 11 22" in text


def test_bad_url_is_a_user_error():
    with pytest.raises(TinyrnnError, match="cannot open nosuch://x"):
        Link("nosuch://x")


# ---------------------------------------------------------------- transport details


def test_socket_links_disable_nagle():
    """A request is one write; with Nagle it would wait for the previous segment's
    delayed ACK (~40 ms a round trip against QEMU, measured)."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        with Link(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout_s=T) as link:
            sock = link.serial._socket
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def info_payload(f: int, o: int, max_payload: int = 64) -> bytes:
    return P.INFO_REPLY.pack(protocol_version=P.PROTOCOL_VERSION, kernel_abi=1, model_hash=bytes(32), tick_hz=0,
                             max_payload=max_payload, input_size=f, output_size=o, out_steps=1, element_size=1,
                             output_element_size=1, board=b"script")


def test_window_is_resent_after_a_lost_request(link):
    """Silence once synced is not retried by Link, but a RUN window is resent whole:
    a request whose sync byte was lost never reaches the device parser."""
    from tinyrnn.harness.dut import Device

    sent = []

    def script(ftype, seq, payload, n):
        if ftype == P.FrameType.INFO:
            return ok(ftype, seq, info_payload(2, 1))
        sent.append(payload[0])
        if len(sent) == 2:  # the second chunk of the first window vanishes
            return b""
        return ok(ftype, seq, P.TICKS_REPLY.pack(ticks=7, y=b"\x05" if payload[0] & P.RUN_LAST else b""))

    ScriptedDevice(link, script)
    dev = Device(link)
    box = bounded(lambda: dev.run(np.zeros((40, 2), np.int8)), 4 * T)  # 31 steps a chunk: two chunks
    assert box["value"][0].tolist() == [5] and link.stats["window_retries"] == 1
    assert sent == [P.RUN_FIRST, P.RUN_LAST, P.RUN_FIRST, P.RUN_LAST]  # the window restarted from its first chunk
    assert T <= box["elapsed"] < 2 * T + 1.5
