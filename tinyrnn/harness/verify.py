"""Device == golden model, element for element, with a count of what differed.

Only outputs actually received are compared: if the link fails mid-run, the
result says exactly which sequences were verified before the failure (``indices``;
with one device that is always a prefix, with several it may have gaps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import Model
from tinyrnn.core.progress import Progress
from tinyrnn.harness.dut import Device


@dataclass
class VerifyResult:
    sequences: int = 0  # sequences compared
    mismatches: int = 0  # sequences with at least one differing element
    mismatched_elements: int = 0
    first_mismatch: dict | None = None
    ticks: list = field(default_factory=list)  # per inference, in sequence order
    outputs: list = field(default_factory=list)  # device outputs (int8, int16 for 16x8), in sequence order
    indices: list = field(default_factory=list)  # the sequence index of each output
    error: str | None = None  # link failure that ended the run early
    rate: float = 0.0  # sequences per second
    jobs: int = 1  # devices used at once

    def record(self, index: int, got, ticks: int, want: np.ndarray) -> int:
        """Compare one received output with the golden one; returns the differing count.

        Call in increasing index order (the parallel runner merges before calling)."""
        got = np.asarray(got, want.dtype)
        if got.size != want.size:
            raise TinyrnnError(f"sequence {index}: the device sent {got.size} output values, the model has "
                               f"{want.size}: the firmware was not built from this artifact")
        got = got.reshape(want.shape)
        differ = int(np.count_nonzero(got != want))
        if differ:
            self.mismatches += 1
            self.mismatched_elements += differ
            if self.first_mismatch is None:
                self.first_mismatch = _first_difference(index, got, want)
        self.sequences += 1
        self.ticks.append(int(ticks))
        self.outputs.append(got)
        self.indices.append(int(index))
        return differ

    def verified_ranges(self) -> str:
        """The compared sequence indices as text, e.g. "0-39, 60-99"."""
        return index_ranges(self.indices)

    def summary(self) -> dict:
        ticks = np.asarray(self.ticks, np.int64)
        return {
            "sequences": self.sequences,
            "mismatches": self.mismatches,
            "mismatched_elements": self.mismatched_elements,
            "first_mismatch": self.first_mismatch,
            "ticks_per_inference": int(np.median(ticks)) if ticks.size else None,
            "ticks_spread": [int(ticks.min()), int(ticks.max())] if ticks.size else None,
            "sequences_per_second": round(self.rate, 2),
            "error": self.error,
        }


def index_ranges(indices) -> str:
    """Sorted indices as compact ranges: [0, 1, 2, 5] → "0-2, 5"; none → "none"."""
    out: list[str] = []
    idx = sorted(int(i) for i in indices)
    start = prev = None
    for i in idx + [None]:
        if start is not None and (i is None or i != prev + 1):
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ", ".join(out) or "none"


def _first_difference(index: int, got: np.ndarray, want: np.ndarray) -> dict:
    where = np.argwhere(got != want)[0]
    flat = int(np.ravel_multi_index(tuple(where), want.shape))
    return {"sequence": index, "element": flat, "device": int(got.flat[flat]), "golden": int(want.flat[flat])}


def check_input(model: Model, x_q) -> np.ndarray:
    x_q = np.asarray(x_q, model.int_dtype)
    if x_q.ndim != 3 or x_q.shape[2] != model.input_size:
        raise TinyrnnError(f"input must be (N, T, {model.input_size}) {np.dtype(model.int_dtype)}, got {x_q.shape}")
    return x_q


def check_layout(device: Device, model: Model) -> None:
    """The device's INFO sizes must be the model's: a firmware whose hash matches but whose
    sizes do not (a glue bug, a hand-edited build) would otherwise fail deep in a comparison."""
    info = device.info()
    want = (model.input_size, model.output_size, 0 if model.returns_sequences else 1, model.activation_bits // 8,
            model.output_bits // 8)
    got = (info.input_size, info.output_size, info.out_steps, info.element_size, info.output_element_size)
    if got != want:
        names = ("input size", "output size", "outputs per window (0 = every step)", "bytes per input value",
                 "bytes per output value")
        diff = "; ".join(f"{n} {g} (model: {w})" for n, g, w in zip(names, got, want) if g != w)
        raise TinyrnnError(f"{device.link.url} ({info.board}) reports {diff}: the firmware was not built from "
                           "this artifact, or its model glue is broken")


def verify_device(device: Device, model: Model, x_q: np.ndarray, progress: bool = True,
                  valid: np.ndarray | None = None) -> VerifyResult:
    """Run every sequence of x_q (N, T, F) int8 (int16: 16x8) on the device and compare with the golden model.

    ``valid`` (N, T) bool (``model.valid_steps`` of the float windows): masked steps."""
    x_q = check_input(model, x_q)
    check_layout(device, model)
    expected = run_model(model, x_q, valid=valid)
    result = VerifyResult()
    with Progress(len(x_q), "verify", enabled=progress) as bar:
        for i, seq in enumerate(x_q):
            try:
                got, ticks = device.run(seq, None if valid is None else valid[i])
            except TinyrnnError as exc:
                result.error = f"sequence {i}: {exc}"
                break
            result.record(i, got, ticks, expected[i])
            bar.update(1, mismatches=result.mismatches)
        result.rate = bar.rate()
    return result
