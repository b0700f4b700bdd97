"""Host side of the framed serial protocol: one request, one reply, every read under a deadline.

``Link`` opens any pyserial URL (``socket://``, ``/dev/ttyACM0``, ``rfc2217://``,
``spy://``, ``loop://``) through ``serial.serial_for_url`` only, so the same code talks to
QEMU, a USB-CDC board or a network serial server. Everything that can go wrong on the
wire becomes a ``LinkError`` naming the byte offset in the received stream (the same
offsets the traffic log prints) and what was expected there.

Retries: a request is resent (with a fresh sequence number, after ``resync()``)
only when the failure was on the wire and the request is idempotent — INFO, RESET,
ECHO and BENCH. STEP advances the model, so it is never resent here; ``Device.run``
retries a whole RUN window instead (its first chunk resets the state).
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from typing import TextIO

import serial

from tinyrnn.harness.protocol import (
    CRC,
    ERROR_REPLY,
    HEADER,
    IDLE_TIMEOUT_MS,
    OVERHEAD,
    SYNC,
    TRANSPORT_ERRORS,
    ErrorCode,
    FrameType,
    LinkError,
    crc16,
    encode_frame,
    reply_type,
    type_name,
)
from tinyrnn.harness.serialport import check_open_port, check_url, no_delay

__all__ = ["Frame", "Link", "LinkError", "FAULT_MARKER", "RETRY_SAFE"]

log = logging.getLogger(__name__)

RETRY_SAFE = frozenset({FrameType.INFO, FrameType.RESET, FrameType.ECHO, FrameType.BENCH})
FAULT_MARKER = b"!!TINYRNN-FAULT"  # printed by the board's fault handlers (firmware_templates/common/board.h)
_POLL_S = 0.05  # serial read slice; the deadline, not this, bounds every wait
_GARBAGE_LIMIT = 4096  # stop hunting for a frame after this much non-frame data
_HEADER_END = len(SYNC) + HEADER.size
_UNKNOWN_MAX_PAYLOAD = 1024  # resync filler before INFO told us the device's real limit


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes
    offset: int  # rx stream offset of the first sync byte


def _preview(data: bytes, limit: int = 48) -> str:
    """Garbage shown the way a human recognises it: text if it is text, hex otherwise."""
    chunk = bytes(data[:limit])
    more = "…" if len(data) > limit else ""
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in chunk)
    if chunk and printable >= 0.8 * len(chunk):
        return repr(chunk.decode("ascii", "replace")) + more
    return chunk.hex(" ") + more


class Link:
    """A framed request/reply channel to one device over a pyserial URL (or an open port: from_serial)."""

    def __init__(self, url: str, timeout_s: float = 2.0, *, baudrate: int = 115200, retries: int = 2,
                 log_file: TextIO | None = None, _port=None):
        self.url = url
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.log_file = log_file  # traffic log (hex), swapped per test by the pytest plugin
        self.max_payload = 0xFFFF  # lowered to the device's limit once INFO was read
        self.stats: collections.Counter = collections.Counter()
        self._rx = bytearray()
        self._rx_offset = 0  # stream offset of self._rx[0]
        self._tx_offset = 0
        self._seq = 0
        self._wait_s = self.timeout_s  # the current request's timeout, for messages
        self._junk = b""  # last non-frame data skipped before the first reply, for messages
        self._synced = False  # no good reply yet: boot banners and BOOT frames are expected
        self._abandoned: collections.deque = collections.deque(maxlen=8)  # seqs whose reply may still come
        self._owned = _port is None  # close() closes only a port this Link opened
        if _port is not None:
            self._ser = _port
            self._ser.timeout, self._ser.write_timeout = min(_POLL_S, self.timeout_s), self.timeout_s
        else:
            check_url(url)
            try:
                self._ser = serial.serial_for_url(
                    url, baudrate=baudrate, timeout=min(_POLL_S, self.timeout_s), write_timeout=self.timeout_s
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                raise LinkError(f"cannot open {url}: {exc}", kind="open") from None
        no_delay(self._ser)
        self._note(f"{'open' if self._owned else 'use open port'} {url}")

    @classmethod
    def from_serial(cls, port, timeout_s: float = 2.0, **kwargs) -> Link:
        """A Link over a port someone else opened (a pytest-embedded ``dut.serial.proc``, a
        labgrid SerialDriver's port, any pyserial-like object with read/write/flush,
        in_waiting, timeout and write_timeout). Nothing else may read from it meanwhile:
        pause pytest-embedded's redirect thread (``dut.serial.disable_redirect_thread()``).
        Its read/write timeouts are set to the Link's; close() leaves the port open."""
        return cls(check_open_port(port), timeout_s, _port=port, **kwargs)

    # ------------------------------------------------------------------ lifecycle
    @property
    def serial(self):
        return self._ser

    def close(self) -> None:
        if self._owned and self._ser.is_open:
            self._note("close")
            self._ser.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ logging
    def _note(self, text: str) -> None:
        if self.log_file is not None:
            self.log_file.write(f"{time.monotonic():12.3f} -- {text}\n")
            self.log_file.flush()

    def _log_bytes(self, direction: str, offset: int, data: bytes) -> None:
        if self.log_file is None or not data:
            return
        for i in range(0, len(data), 16):
            self.log_file.write(f"{time.monotonic():12.3f} {direction} @{offset + i:08d} {data[i:i + 16].hex(' ')}\n")
        self.log_file.flush()

    # ------------------------------------------------------------------ raw I/O
    def _write(self, data: bytes) -> None:
        self._log_bytes("TX", self._tx_offset, data)
        self._tx_offset += len(data)
        try:
            self._ser.write(data)
            self._ser.flush()
        except serial.SerialTimeoutException:
            raise LinkError(f"write to {self.url} blocked for {self.timeout_s} s", kind="write") from None
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"write to {self.url} failed: {exc}", kind="io") from None

    def _read_some(self, need: int = 1) -> bytes:
        """Up to one poll slice of waiting for `need` bytes (more if already waiting).

        Asking for exactly what the parser lacks lets one read return a whole frame
        (socket:// reports in_waiting as 0/1, so it cannot size reads by itself).
        """
        try:
            data = self._ser.read(max(need, min(self._ser.in_waiting, 4096)))
        except (serial.SerialException, OSError) as exc:
            raise LinkError(
                f"read from {self.url} failed: {exc}",
                kind="io", offset=self._rx_offset + len(self._rx),
            ) from None
        if data:
            self._log_bytes("RX", self._rx_offset + len(self._rx), data)
            self._rx += data
        return data

    def _consume(self, n: int) -> bytes:
        out = bytes(self._rx[:n])
        del self._rx[:n]
        self._rx_offset += n
        return out

    def drain(self, quiet_s: float = 2 * IDLE_TIMEOUT_MS / 1000, max_s: float = 1.0) -> bytes:
        """Discard input until the line was quiet for quiet_s (bounded by max_s).

        Quiet for longer than the device's idle timeout means the device parser has
        also dropped any half frame, so both ends start the next frame clean.
        """
        end = time.monotonic() + max_s
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet_s:
            if self._read_some():
                last = time.monotonic()
        dropped = self._consume(len(self._rx))
        if dropped:
            self._note(f"drained {len(dropped)} bytes")
        return dropped

    def resync(self) -> bytes:
        """Bring both ends back to a frame boundary, whatever the device parser holds.

        max_payload + OVERHEAD zero bytes complete any phantom frame the device may be
        collecting (it ends in a CRC error, drained here); zeros never contain the sync
        pattern. The device's own idle timeout would get there too, but it counts board
        ticks, which under QEMU's -icount run many times slower than wall-clock time.
        """
        known = self.max_payload if self.max_payload != 0xFFFF else _UNKNOWN_MAX_PAYLOAD
        self._note("resync")
        self._write(bytes(known + OVERHEAD))
        return self.drain()

    # ------------------------------------------------------------------ frame reader
    def _fill(self, deadline: float, what: str, start: int | None, need: int = 1) -> None:
        """Read more, or raise the right error once the deadline has passed.

        The deadline is checked before every read, so even a device that trickles
        bytes forever cannot keep us here past it.
        """
        while time.monotonic() < deadline:
            if self._read_some(need):
                return
        have, at = bytes(self._rx), self._rx_offset
        if FAULT_MARKER in have:
            k = have.index(FAULT_MARKER)
            raise LinkError(f"device crashed: {_preview(have[k:], 96)}", kind="fault", offset=at + k)
        if start is not None:
            got = len(have) - (start - at)
            raise LinkError(
                f"truncated frame: {got} bytes, then nothing until the deadline",
                kind="truncated", offset=start, expected=what, retryable=True,
            )
        if have or self._junk:
            junk = have or self._junk
            raise LinkError(
                f"no frame before the deadline, only non-frame data: {_preview(junk)}",
                kind="garbage", offset=at, expected=what, retryable=True,
            )
        # Before the first reply the device may still be booting (USB boards reset on
        # open): then, and only then, silence is worth another try.
        raise LinkError(
            f"no reply from {self.url} within {self._wait_s:g} s",
            kind="timeout", offset=at, expected=what, retryable=not self._synced,
        )

    def _raise_if_fault_line(self) -> None:
        """A complete fault report needs no timeout: the device will not answer any more."""
        k = self._rx.find(FAULT_MARKER)
        if k >= 0 and b"\n" in self._rx[k:]:
            line = bytes(self._rx[k:self._rx.index(b"\n", k)]).rstrip(b"\r")
            raise LinkError(f"device crashed: {_preview(line, 96)}", kind="fault", offset=self._rx_offset + k)

    def _hunt(self, deadline: float, what: str) -> None:
        """Drop bytes before the next sync pattern; garbage is an error once synced."""
        while True:
            i = self._rx.find(SYNC)
            if i == 0:
                return
            if i < 0 and len(self._rx) <= _GARBAGE_LIMIT:
                self._raise_if_fault_line()
                self._fill(deadline, what, None)
                continue
            i = i if i > 0 else len(self._rx) - 1  # keep a possible first sync byte
            at, junk = self._rx_offset, bytes(self._rx[:i])
            if FAULT_MARKER in junk:
                at += junk.index(FAULT_MARKER)
                raise LinkError(
                    f"device crashed: {_preview(junk[junk.index(FAULT_MARKER):], 96)}",
                    kind="fault", offset=at,
                )
            self._consume(i)
            self.stats["garbage_bytes"] += i
            if self._synced:
                raise LinkError(
                    f"{i} bytes of garbage: {_preview(junk)}",
                    kind="garbage", offset=at, expected=what, retryable=True,
                )
            self._junk = junk
            self._note(f"skipped {i} bytes before the first frame: {_preview(junk)}")

    def read_frame(self, deadline: float, what: str = "a frame") -> Frame:
        """The next complete, CRC-checked frame; LinkError on anything else."""
        self._hunt(deadline, what)
        start = self._rx_offset
        while len(self._rx) < _HEADER_END:
            self._fill(deadline, what, start, _HEADER_END - len(self._rx))
        ftype, seq, n = HEADER.unpack_from(self._rx, len(SYNC))
        if n > self.max_payload:
            self._consume(len(SYNC))  # maybe a false sync inside garbage: hunt on from here
            raise LinkError(
                f"length field {n} exceeds the device's max payload {self.max_payload}",
                kind="length", offset=start + len(SYNC) + 2, expected=what, retryable=True,
            )
        total = n + OVERHEAD
        while len(self._rx) < total:
            self._fill(deadline, f"{total} bytes of {type_name(ftype)} frame seq {seq}", start, total - len(self._rx))
        raw = self._consume(total)
        (crc_rx,) = CRC.unpack_from(raw, total - CRC.size)
        crc = crc16(raw[len(SYNC):total - CRC.size])
        if crc != crc_rx:
            self.stats["crc_errors"] += 1
            raise LinkError(
                f"CRC error in {type_name(ftype)} frame seq {seq} (got {crc_rx:04X}, computed {crc:04X})",
                kind="crc", offset=start + total - CRC.size, expected=what, retryable=True,
            )
        return Frame(ftype, seq, raw[_HEADER_END:total - CRC.size], start)

    # ------------------------------------------------------------------ requests
    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _check_reply(self, f: Frame, ftype: int, seq: int, what: str) -> bool:
        """True: f is the reply. False: f is to be skipped. Raises for anything wrong."""
        if f.type == FrameType.BOOT:
            if not self._synced:
                self._note("skipped BOOT frame before the first reply")
                return False
            raise LinkError(f"device reset (BOOT frame) while waiting for {what}", kind="reset", offset=f.offset)
        if f.seq != seq and f.seq in self._abandoned:
            self._note(f"skipped late {type_name(f.type)} seq {f.seq}")
            return False
        if f.type == FrameType.ERROR:
            try:
                err = ERROR_REPLY.unpack(f.payload)
                code = ErrorCode(err["code"])
                name, text = code.name, err["text"].decode("ascii", "replace")
            except (LinkError, ValueError):
                code, name, text = None, "?", f.payload.hex(" ")
            retry = code in TRANSPORT_ERRORS
            if f.seq == seq or retry:  # a CRC-damaged request may have a damaged seq too
                raise LinkError(
                    f"device answered {what} with ERROR {name}: {text}",
                    kind="device", offset=f.offset, retryable=retry, code=code,
                )
        if f.seq != seq:
            raise LinkError(
                f"{type_name(f.type)} frame with seq {f.seq}",
                kind="seq", offset=f.offset, expected=what, retryable=True,
            )
        if f.type != reply_type(ftype):
            hint = " (did the device reset?)" if f.type == reply_type(FrameType.INFO) else ""
            hint = " (the line echoes what we send)" if f.type == ftype else hint
            raise LinkError(
                f"{type_name(f.type)} frame{hint}",
                kind="type", offset=f.offset, expected=what, retryable=True,
            )
        return True

    def _transact(self, ftype: int, seq: int, payload: bytes, timeout_s: float) -> Frame:
        self._wait_s, self._junk = timeout_s, b""
        boots = 0
        while True:
            what = f"{type_name(ftype)} reply seq {seq}"
            self._write(encode_frame(ftype, seq, payload))
            deadline = time.monotonic() + timeout_s
            while True:
                f = self.read_frame(deadline, what)
                if f.type == FrameType.BOOT and not self._synced and ftype in RETRY_SAFE:
                    break  # resend below
                if self._check_reply(f, ftype, seq, what):
                    self._synced = True
                    return f
            # A boot announced after we sent: a UART that was not yet listening may have
            # dropped the request (STM32 under QEMU does), so ask again at once instead
            # of waiting out the deadline. A late reply to the first ask is skipped.
            boots += 1
            if boots > 2:
                raise LinkError(f"device keeps rebooting ({boots} BOOT frames)", kind="reset", offset=f.offset)
            self._note(f"BOOT frame before the first reply: resending {type_name(ftype)}")
            self._abandoned.append(seq)
            seq = self._next_seq()

    def request(self, ftype: int, payload: bytes = b"", *, timeout_s: float | None = None,
                retries: int | None = None) -> Frame:
        """Send one request, return its reply frame (LinkError for anything else).

        retries: resends after a wire error; default self.retries for idempotent types
        (RETRY_SAFE), else 0. Silence is retried only before the first good reply.
        """
        if len(payload) > self.max_payload:
            raise LinkError(
                f"{type_name(ftype)} payload of {len(payload)} bytes exceeds the device's max payload {self.max_payload}",
                kind="oversize",
            )
        if retries is None:
            retries = self.retries if ftype in RETRY_SAFE else 0
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        for attempt in range(retries + 1):
            seq = self._next_seq()
            try:
                return self._transact(ftype, seq, payload, timeout_s)
            except LinkError as exc:
                self._abandoned.append(self._seq)  # the last seq sent (a BOOT resend takes a new one)
                self.stats[f"error_{exc.kind}"] += 1
                self._note(f"error: {exc}")
                if not exc.retryable or attempt == retries:
                    if attempt:
                        exc.args = (f"{exc.args[0]} [after {attempt + 1} attempts]",)
                    raise
                log.info("retrying %s after: %s", type_name(ftype), exc)
                self.stats["retries"] += 1
                self.resync()
        raise AssertionError("unreachable")
