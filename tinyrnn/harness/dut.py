"""The device under test: typed requests on top of a Link.

``Device`` turns protocol frames into numpy arrays and tick counts, chunks RUN windows
to the device's payload limit, and refuses to talk to firmware built from a different
model artifact than the one being verified (the bit-exact comparison would be
meaningless, and the error would otherwise look like a kernel bug).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.harness.link import Link
from tinyrnn.harness.protocol import (
    BENCH_REPLY,
    BENCH_REQUEST,
    INFO_REPLY,
    PROTOCOL_VERSION,
    RUN_FIRST,
    RUN_LAST,
    RUN_MASKED,
    STACK_UNKNOWN,
    TICKS_REPLY,
    FrameType,
    LinkError,
)

__all__ = ["BenchResult", "Device", "DeviceInfo"]


@dataclass(frozen=True)
class DeviceInfo:
    protocol_version: int
    kernel_abi: int
    model_hash: str  # 64 lowercase hex chars
    tick_hz: int  # 0 = unknown
    max_payload: int
    input_size: int
    output_size: int
    out_steps: int  # 1 = last step of a window, 0 = one output per step
    board: str
    element_size: int = 1  # bytes per input value: 1 int8, 2 int16 (a 16x8 model)
    output_element_size: int = 1  # bytes per output value: 2 for a 16x8 model or int16 logits

    @property
    def returns_sequences(self) -> bool:
        return self.out_steps == 0

    @property
    def dtype(self) -> np.dtype:
        """The inputs' wire type: int8, or little-endian int16."""
        return _wire(self.element_size)

    @property
    def output_dtype(self) -> np.dtype:
        return _wire(self.output_element_size)


def _wire(size: int) -> np.dtype:
    return np.dtype("<i2" if size == 2 else "i1")


@dataclass(frozen=True)
class BenchResult:
    n: int
    ticks: int
    stack_peak_bytes: int | None  # None: the board cannot tell
    cycles: int | None = None  # core clock cycles of the n steps (DWT); None: the board has no counter

    def ticks_per_step(self) -> float:
        return self.ticks / self.n


def normalize_hash(h: str | bytes) -> str:
    """64-char lowercase hex from a hex string or 32 raw bytes."""
    if isinstance(h, (bytes, bytearray)) and len(h) == 32:
        return bytes(h).hex()
    text = h.decode("ascii", "replace") if isinstance(h, (bytes, bytearray)) else str(h)
    text = text.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise TinyrnnError(f"model hash {text!r} is not 64 hex characters (SHA-256)")
    return text


class Device:
    """A tinyrnn firmware on the other end of a Link."""

    def __init__(self, link: Link, expected_hash: str | bytes | None = None):
        self.link = link
        self._info: DeviceInfo | None = None
        if expected_hash is not None:
            self.check_hash(expected_hash)

    @classmethod
    def open(cls, url: str, expected_hash: str | bytes | None = None, **link_kwargs) -> Device:
        link = Link(url, **link_kwargs)
        try:
            return cls(link, expected_hash)
        except BaseException:
            link.close()
            raise

    @classmethod
    def from_serial(cls, port, expected_hash: str | bytes | None = None, **link_kwargs) -> Device:
        """A Device over an open pyserial-like port (see :meth:`Link.from_serial`); close() leaves it open."""
        return cls(Link.from_serial(port, **link_kwargs), expected_hash)

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ queries
    def info(self, refresh: bool = False) -> DeviceInfo:
        if self._info is None or refresh:
            f = self.link.request(FrameType.INFO)
            d = INFO_REPLY.unpack(f.payload)
            info = DeviceInfo(
                protocol_version=d["protocol_version"], kernel_abi=d["kernel_abi"], model_hash=d["model_hash"].hex(),
                tick_hz=d["tick_hz"], max_payload=d["max_payload"], input_size=d["input_size"],
                output_size=d["output_size"], out_steps=d["out_steps"], board=d["board"].decode("ascii", "replace"),
                element_size=d["element_size"], output_element_size=d["output_element_size"],
            )
            if info.protocol_version != PROTOCOL_VERSION:
                raise TinyrnnError(
                    f"{self.link.url}: firmware speaks protocol v{info.protocol_version}, this tinyrnn speaks "
                    f"v{PROTOCOL_VERSION}: rebuild the firmware with this tinyrnn"
                )
            if info.out_steps not in (0, 1) or info.input_size == 0 or info.output_size == 0 or \
                    info.element_size not in (1, 2) or info.output_element_size not in (1, 2):
                raise LinkError(f"INFO reply has impossible sizes {info}", kind="layout", offset=f.offset)
            self.link.max_payload = info.max_payload
            self._info = info
        return self._info

    def check_hash(self, expected: str | bytes) -> DeviceInfo:
        want = normalize_hash(expected)
        info = self.info()
        if info.model_hash != want:
            raise TinyrnnError(
                f"{self.link.url} ({info.board}) runs the model with hash {info.model_hash}, "
                f"but the expected artifact has hash {want}: flash firmware built from that artifact"
            )
        return info

    def echo(self, data: bytes) -> bytes:
        if len(data) > self.info().max_payload:
            raise TinyrnnError(f"ECHO of {len(data)} bytes exceeds the device's max payload {self.info().max_payload}")
        f = self.link.request(FrameType.ECHO, bytes(data))
        if f.payload != bytes(data):
            raise LinkError(
                f"ECHO came back different ({len(f.payload)} bytes for {len(data)})",
                kind="echo", offset=f.offset,
            )
        return f.payload

    def reset(self) -> None:
        self.link.request(FrameType.RESET)

    # ------------------------------------------------------------------ model
    def _as_codes(self, x, ndim: int, what: str) -> np.ndarray:
        """x as the device's wire values (int8, or int16 for a 16x8 model)."""
        x, dtype = np.asarray(x), self.info().dtype
        if x.dtype.kind != "i" or x.dtype.itemsize != dtype.itemsize:
            raise TinyrnnError(f"{what} must be int{8 * dtype.itemsize} (quantized), got {x.dtype}")
        if x.ndim != ndim or x.shape[-1] != self.info().input_size:
            shape = "(T, F)" if ndim == 2 else "(F,)"
            raise TinyrnnError(f"{what} has shape {x.shape}, the device model wants {shape} with F={self.info().input_size}")
        return np.ascontiguousarray(x.astype(dtype))

    def _values(self, y: bytes) -> np.ndarray:
        info = self.info()
        return np.frombuffer(y, info.output_dtype).astype(np.int16 if info.output_element_size == 2 else np.int8)

    def step(self, x_t) -> tuple[np.ndarray, int]:
        """One time step on the device's current state → (y (O,), ticks)."""
        x = self._as_codes(x_t, 1, "x_t")
        f = self.link.request(FrameType.STEP, x.tobytes())
        d = TICKS_REPLY.unpack(f.payload)
        self._expect_len(d["y"], self.info().output_size * self.info().output_element_size, "STEP", f.offset)
        return self._values(d["y"]), d["ticks"]

    def _expect_len(self, y: bytes, n: int, what: str, offset: int) -> None:
        if len(y) != n:
            raise LinkError(
                f"{what} reply carries {len(y)} output bytes",
                kind="layout", offset=offset, expected=f"{n}",
            )

    def steps_per_chunk(self, masked: bool = False) -> int:
        info = self.info()
        n = (info.max_payload - 1) // (info.input_size * info.element_size + int(masked))  # + one valid flag per step
        if info.returns_sequences:
            n = min(n, (info.max_payload - TICKS_REPLY.fixed_size) // (info.output_size * info.output_element_size))
        if n < 1:
            raise TinyrnnError(f"{self.link.url}: one time step does not fit the device's {info.max_payload}-byte payload")
        return n

    def _run_once(self, x: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, int]:
        info, per = self.info(), self.steps_per_chunk(valid is not None)
        T, outs, ticks = x.shape[0], [], 0
        for start in range(0, T, per):
            end = min(T, start + per)
            flags = (RUN_FIRST if start == 0 else 0) | (RUN_LAST if end == T else 0)
            head = b"" if valid is None else valid[start:end].tobytes()
            flags |= 0 if valid is None else RUN_MASKED
            # A whole-window model (Bidirectional) computes the window at its last chunk: wait
            # for it as for all the chunks together.
            wait = self.link.timeout_s * -(-T // per) if end == T else None
            f = self.link.request(FrameType.RUN, bytes([flags]) + head + x[start:end].tobytes(), retries=0,
                                  timeout_s=wait)
            d = TICKS_REPLY.unpack(f.payload)
            want = (end - start) * info.output_size if info.returns_sequences else (info.output_size if end == T else 0)
            self._expect_len(d["y"], want * info.output_element_size, f"RUN chunk {start}:{end}", f.offset)
            outs.append(d["y"])
            ticks = d["ticks"]
        y = self._values(b"".join(outs))
        return (y.reshape(T, info.output_size) if info.returns_sequences else y), ticks

    def run(self, x_q, valid=None) -> tuple[np.ndarray, int]:
        """One window from a reset state → (y, ticks in the model for the whole window).

        ``valid`` (T,) bool, optional: False marks a masked step (Keras Masking: the
        device keeps the state and repeats the previous output).

        y is (O,) for last-step models, (T, O) for sequence models. Chunks that would
        not fit one payload are sent as several RUN frames; on a wire error the whole
        window is resent (its first chunk resets the state, so that is safe).

        Silence counts as a wire error here even once the link is synced (Link alone
        does not retry it): a request whose sync byte was lost never reaches the
        device parser, so the device cannot complain about it. A dead device costs
        (retries + 1) timeouts before the error; a crashed one reports its fault at once.
        """
        x = self._as_codes(x_q, 2, "x_q")
        if x.shape[0] == 0:
            raise TinyrnnError("x_q has no time steps")
        if valid is not None:
            valid = np.asarray(valid, bool).astype(np.uint8)
            if valid.shape != x.shape[:1]:
                raise TinyrnnError(f"valid has shape {valid.shape}, the window has {x.shape[0]} steps")
        for attempt in range(self.link.retries + 1):
            try:
                return self._run_once(x, valid)
            except LinkError as exc:
                if not (exc.retryable or exc.kind == "timeout") or attempt == self.link.retries:
                    if attempt:
                        exc.args = (f"{exc.args[0]} [window sent {attempt + 1} times]",)
                    raise
                self.link.stats["window_retries"] += 1
                self.link.resync()
        raise AssertionError("unreachable")

    def bench(self, n: int, x_t=None, timeout_s: float = 30.0) -> BenchResult:
        """n steps of a fixed input (zeros by default) from a reset state; state is reset after."""
        if not 1 <= int(n) <= 0xFFFFFFFF:
            raise TinyrnnError(f"bench n={n} must be in 1..2^32-1")
        x = b"" if x_t is None else self._as_codes(x_t, 1, "x_t").tobytes()
        f = self.link.request(FrameType.BENCH, BENCH_REQUEST.pack(n=int(n), x=x), timeout_s=timeout_s)
        d = BENCH_REPLY.unpack(f.payload)
        if d["n"] != int(n):
            raise LinkError(f"BENCH reply is for n={d['n']}", kind="layout", offset=f.offset, expected=f"n={n}")
        peak = None if d["stack_peak"] == STACK_UNKNOWN else d["stack_peak"]
        return BenchResult(n=d["n"], ticks=d["ticks"], stack_peak_bytes=peak, cycles=d["cycles"] or None)
