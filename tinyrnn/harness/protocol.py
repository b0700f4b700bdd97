"""The host ↔ device serial protocol: the one spec, as Python data.

Everything the device needs to agree on (sync bytes, frame types, error codes, payload
field offsets, CRC parameters, limits) is defined once here. ``render_c_header()``
turns it into ``firmware_templates/app/tinyrnn_protocol.h``; a test checks that the
committed header is exactly what this module renders, so the two sides cannot drift.

Frame (all multi-byte integers little-endian)::

    A5 5A | type u8 | seq u8 | len u16 | payload[len] | crc u16

The CRC covers type..payload (not the sync bytes). CRC-16/CCITT-FALSE (poly 0x1021,
init 0xFFFF, no reflection, no xor-out) was chosen over CRC-32: frames are at most a
few hundred bytes, where it detects every burst up to 16 bits and every 3-bit error;
it is ten lines of table-free C (no 1 KiB table on a Cortex-M0) and costs two bytes
per frame. A residual undetected link error is not silent anyway: every model output
is compared bit-exactly against the golden model.

Requests have types 0x01..0x7D; a reply has the request's type | 0x80 and carries the
request's sequence number. Device-originated frames (replies, ERROR, BOOT) all have
bit 7 set, so a host can never mistake its own echo for a reply.

Imports only the standard library (and tinyrnn.errors).
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from enum import IntEnum

from tinyrnn.core.errors import TinyrnnError

# 2: INFO element_size (16x8 models: int16 values), BENCH cycles; 3: INFO output_element_size (int16 logits)
PROTOCOL_VERSION = 3
SYNC = b"\xa5\x5a"  # not ASCII: a text boot banner or printf never looks like a frame start
HEADER = struct.Struct("<BBH")  # type, seq, payload length (after the sync bytes)
CRC = struct.Struct("<H")
OVERHEAD = len(SYNC) + HEADER.size + CRC.size  # 8 bytes around every payload
CRC_INIT = 0xFFFF
CRC_POLY = 0x1021
REPLY_BIT = 0x80
MIN_MAX_PAYLOAD = 64  # every device buffer must hold at least the INFO reply + a short name (12 chars)
BOARD_NAME_MAX = 32
ERROR_TEXT_MAX = 40
IDLE_TIMEOUT_MS = 50  # device drops a half-received frame after this much line silence
STACK_UNKNOWN = 0xFFFFFFFF  # BENCH stack peak when the board did not say where its stack ends
RUN_FIRST = 0x01  # RUN flags: first chunk resets the model state and the tick counter
RUN_LAST = 0x02  # last chunk: the reply carries the window's (last-step) output
RUN_MASKED = 0x04  # x is n valid flags (u8, 0 = masked step: state and output kept), then n steps


class FrameType(IntEnum):
    INFO = 0x01
    RESET = 0x02
    RUN = 0x03
    STEP = 0x04
    BENCH = 0x05
    ECHO = 0x06
    BOOT = 0xFE  # unsolicited, sent once after board_init(): a reset the host did not ask for
    ERROR = 0xFF  # reply to a bad frame: code + short text


REQUEST_TYPES = (FrameType.INFO, FrameType.RESET, FrameType.RUN, FrameType.STEP, FrameType.BENCH, FrameType.ECHO)


class ErrorCode(IntEnum):
    BAD_CRC = 1
    OVERSIZE = 2  # length field above the device's max payload
    TRUNCATED = 3  # line went idle mid-frame
    UNKNOWN_TYPE = 4
    BAD_LENGTH = 5  # payload length wrong for the frame type
    BAD_STATE = 6  # RUN continuation chunk without a first chunk
    BAD_ARG = 7
    CONFIG = 8  # the model's sizes do not fit the device's payload buffer


# Codes caused by the wire, not by what the host asked: resending may succeed.
TRANSPORT_ERRORS = frozenset({ErrorCode.BAD_CRC, ErrorCode.OVERSIZE, ErrorCode.TRUNCATED})


class LinkError(TinyrnnError):
    """The conversation with the device went wrong (CRC, garbage, timeout, reset, …).

    ``offset`` is the byte offset in the received stream (as in the traffic log) where
    the problem was seen; ``retryable`` says whether resending the same request is safe
    as far as the wire is concerned (the caller still decides whether the request is).
    """

    def __init__(self, message: str, *, kind: str, offset: int | None = None, expected: str = "",
                 retryable: bool = False, code: int | None = None):
        where = f" at rx byte {offset}" if offset is not None else ""
        want = f" (expected {expected})" if expected else ""
        super().__init__(f"{message}{where}{want}")
        self.kind = kind
        self.offset = offset
        self.expected = expected
        self.retryable = retryable
        self.code = code


_KINDS = {"u8": ("B", 1), "u16": ("H", 2), "u32": ("I", 4), "hash": ("32s", 32)}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # u8 | u16 | u32 | hash (32 raw bytes) | rest (all remaining bytes, last field only)
    doc: str = ""


@dataclass(frozen=True)
class Layout:
    """A payload: fixed fields at fixed offsets, optionally followed by a 'rest' field."""

    name: str
    fields: tuple[Field, ...] = ()

    @property
    def fixed(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind != "rest")

    @property
    def rest(self) -> Field | None:
        return next((f for f in self.fields if f.kind == "rest"), None)

    @property
    def struct(self) -> struct.Struct:
        return struct.Struct("<" + "".join(_KINDS[f.kind][0] for f in self.fixed))

    @property
    def fixed_size(self) -> int:
        return self.struct.size

    def offsets(self) -> list[tuple[Field, int]]:
        out, off = [], 0
        for f in self.fields:
            out.append((f, off))
            off += _KINDS[f.kind][1] if f.kind != "rest" else 0
        return out

    def pack(self, **values) -> bytes:
        names = {f.name for f in self.fields}
        if set(values) != names:
            raise TypeError(f"{self.name}: fields {sorted(names)} needed, got {sorted(values)}")
        head = self.struct.pack(*(values[f.name] for f in self.fixed))
        return head + (bytes(values[self.rest.name]) if self.rest else b"")

    def unpack(self, payload: bytes) -> dict:
        n = self.fixed_size
        if len(payload) < n or (self.rest is None and len(payload) != n):
            want = f"{n}+" if self.rest else f"{n}"
            raise LinkError(f"{self.name} payload is {len(payload)} bytes", kind="layout", expected=f"{want} bytes")
        out = dict(zip((f.name for f in self.fixed), self.struct.unpack_from(payload)))
        if self.rest:
            out[self.rest.name] = bytes(payload[n:])
        return out


EMPTY = Layout("EMPTY")
INFO_REPLY = Layout("INFO_REPLY", (
    Field("protocol_version", "u16"),
    Field("kernel_abi", "u16", "kernel ABI version of the generated C"),
    Field("model_hash", "hash", "SHA-256 of the IR artifact, raw bytes"),
    Field("tick_hz", "u32", "board_ticks() rate; 0 = unknown"),
    Field("max_payload", "u16", "largest payload the device accepts and sends"),
    Field("input_size", "u16"),
    Field("output_size", "u16"),
    Field("out_steps", "u16", "outputs per RUN window: 1 = last step only, 0 = one per input step"),
    Field("element_size", "u16", "bytes per input value: 1 int8, 2 int16 (16x8, little-endian)"),
    Field("output_element_size", "u16", "bytes per output value: 1 int8, 2 int16 (16x8, or int16 logits)"),
    Field("board", "rest", "board name, ASCII"),
))
RUN_REQUEST = Layout("RUN_REQUEST", (
    Field("flags", "u8", "RUN_FIRST | RUN_LAST | RUN_MASKED"),
    Field("x", "rest", "n whole time steps, n*F values (RUN_MASKED: n valid flags first)"),
))
TICKS_REPLY = Layout("TICKS_REPLY", (
    Field("ticks", "u32", "model ticks (RUN: whole window so far)"), Field("y", "rest", "output values"),
))
STEP_REQUEST = Layout("STEP_REQUEST", (Field("x", "rest", "F values"),))
BENCH_REQUEST = Layout("BENCH_REQUEST", (Field("n", "u32", "steps"), Field("x", "rest", "F values, or empty for zeros")))
BENCH_REPLY = Layout("BENCH_REPLY", (
    Field("n", "u32"), Field("ticks", "u32"), Field("stack_peak", "u32", "bytes; STACK_UNKNOWN if unknown"),
    Field("cycles", "u32", "core clock cycles of the n steps (DWT CYCCNT), mod 2^32; 0: no cycle counter"),
))
ECHO_DATA = Layout("ECHO_DATA", (Field("data", "rest"),))
ERROR_REPLY = Layout("ERROR_REPLY", (Field("code", "u8"), Field("text", "rest", "ASCII, <= ERROR_TEXT_MAX")))
BOOT_FRAME = Layout("BOOT_FRAME", (Field("protocol_version", "u16"), Field("board", "rest")))

# FrameType → (request layout, reply layout). BOOT/ERROR are device-originated.
MESSAGES: dict[FrameType, tuple[Layout, Layout]] = {
    FrameType.INFO: (EMPTY, INFO_REPLY),
    FrameType.RESET: (EMPTY, EMPTY),
    FrameType.RUN: (RUN_REQUEST, TICKS_REPLY),
    FrameType.STEP: (STEP_REQUEST, TICKS_REPLY),
    FrameType.BENCH: (BENCH_REQUEST, BENCH_REPLY),
    FrameType.ECHO: (ECHO_DATA, ECHO_DATA),
    FrameType.BOOT: (BOOT_FRAME, BOOT_FRAME),
    FrameType.ERROR: (ERROR_REPLY, ERROR_REPLY),
}
LAYOUTS = (INFO_REPLY, RUN_REQUEST, TICKS_REPLY, STEP_REQUEST, BENCH_REQUEST, BENCH_REPLY, ECHO_DATA, ERROR_REPLY,
           BOOT_FRAME)


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE; binascii.crc_hqx is exactly this polynomial, unreflected."""
    return binascii.crc_hqx(data, crc)


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    if not 0 <= ftype <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError(f"type {ftype} / seq {seq} out of u8 range")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit the u16 length field")
    body = HEADER.pack(ftype, seq, len(payload)) + bytes(payload)
    return SYNC + body + CRC.pack(crc16(body))


def reply_type(request: int) -> int:
    return request | REPLY_BIT


def type_name(ftype: int) -> str:
    base = ftype & ~REPLY_BIT if ftype not in (FrameType.BOOT, FrameType.ERROR) else ftype
    try:
        name = FrameType(base).name
    except ValueError:
        return f"0x{ftype:02X}"
    return f"{name} reply" if ftype & REPLY_BIT and base == ftype & ~REPLY_BIT else name


# --------------------------------------------------------------------------- C header


def _c_define(name: str, value: int | str, comment: str = "") -> str:
    text = f"#define {name} {value}"
    return f"{text:<48} /* {comment} */" if comment else text


def render_c_header() -> str:
    """The device-side constants header, generated from the definitions above."""
    d = _c_define
    lines = [
        "/* tinyrnn_protocol.h: GENERATED by tinyrnn.harness.protocol.render_c_header().",
        " * Do not edit: change tinyrnn/harness/protocol.py and re-render",
        " * (python -m tinyrnn.harness.protocol > firmware_templates/app/tinyrnn_protocol.h).",
        " * Frame: A5 5A | type u8 | seq u8 | len u16 | payload | crc16 (little-endian),",
        " * CRC-16/CCITT-FALSE over type..payload. */",
        "#ifndef TINYRNN_PROTOCOL_H",
        "#define TINYRNN_PROTOCOL_H",
        "",
        d("TRP_PROTOCOL_VERSION", f"{PROTOCOL_VERSION}u"),
        d("TRP_SYNC0", f"0x{SYNC[0]:02X}u"),
        d("TRP_SYNC1", f"0x{SYNC[1]:02X}u"),
        d("TRP_HEADER_BYTES", f"{len(SYNC) + HEADER.size}u", "sync + type + seq + len"),
        d("TRP_OVERHEAD_BYTES", f"{OVERHEAD}u", "header + crc"),
        d("TRP_CRC_INIT", f"0x{CRC_INIT:04X}u"),
        d("TRP_CRC_POLY", f"0x{CRC_POLY:04X}u"),
        d("TRP_REPLY_BIT", f"0x{REPLY_BIT:02X}u"),
        d("TRP_MIN_MAX_PAYLOAD", f"{MIN_MAX_PAYLOAD}u"),
        d("TRP_BOARD_NAME_MAX", f"{BOARD_NAME_MAX}u"),
        d("TRP_ERROR_TEXT_MAX", f"{ERROR_TEXT_MAX}u"),
        d("TRP_IDLE_TIMEOUT_MS", f"{IDLE_TIMEOUT_MS}u", "drop a half frame after this silence"),
        d("TRP_STACK_UNKNOWN", f"0x{STACK_UNKNOWN:08X}u"),
        d("TRP_RUN_FIRST", f"0x{RUN_FIRST:02X}u"),
        d("TRP_RUN_LAST", f"0x{RUN_LAST:02X}u"),
        d("TRP_RUN_MASKED", f"0x{RUN_MASKED:02X}u", "x = n valid flags, then n steps"),
        "",
        "/* frame types */",
        *(d(f"TRP_T_{t.name}", f"0x{int(t):02X}u") for t in FrameType),
        "",
        "/* ERROR codes */",
        *(d(f"TRP_E_{e.name}", f"{int(e)}u") for e in ErrorCode),
    ]
    for layout in LAYOUTS:
        lines += ["", f"/* {layout.name}: byte offsets; _FIXED = bytes before the variable part */"]
        for f, off in layout.offsets():
            lines.append(d(f"TRP_{layout.name}_{f.name.upper()}", f"{off}u", f"{f.kind}{': ' + f.doc if f.doc else ''}"))
        lines.append(d(f"TRP_{layout.name}_FIXED", f"{layout.fixed_size}u"))
    lines += ["", "#endif /* TINYRNN_PROTOCOL_H */", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_c_header(), end="")
