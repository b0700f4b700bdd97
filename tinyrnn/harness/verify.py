"""Device == golden model, element for element, with a count of what differed.

Only outputs actually received are compared: if the link fails mid-run, the
result says exactly how many sequences were verified before the failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import TinyrnnError
from ..golden.model import run_model
from ..ir import Model
from ..progress import Progress
from .dut import Device


@dataclass
class VerifyResult:
    sequences: int = 0  # sequences compared
    mismatches: int = 0  # sequences with at least one differing element
    mismatched_elements: int = 0
    first_mismatch: dict | None = None
    ticks: list = field(default_factory=list)  # per inference
    outputs: list = field(default_factory=list)  # device outputs, int8
    error: str | None = None  # link failure that ended the run early
    rate: float = 0.0  # sequences per second

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


def _first_difference(index: int, got: np.ndarray, want: np.ndarray) -> dict:
    where = np.argwhere(got != want)[0]
    flat = int(np.ravel_multi_index(tuple(where), want.shape))
    return {"sequence": index, "element": flat, "device": int(got.flat[flat]), "golden": int(want.flat[flat])}


def verify_device(device: Device, model: Model, x_q: np.ndarray, progress: bool = True) -> VerifyResult:
    """Run every sequence of x_q (N, T, F) int8 on the device and compare with the golden model."""
    x_q = np.asarray(x_q, np.int8)
    if x_q.ndim != 3 or x_q.shape[2] != model.input_size:
        raise TinyrnnError(f"input must be (N, T, {model.input_size}) int8, got {x_q.shape}")
    expected = run_model(model, x_q)
    result = VerifyResult()
    with Progress(len(x_q), "verify", enabled=progress) as bar:
        for i, seq in enumerate(x_q):
            try:
                got, ticks = device.run(seq)
            except TinyrnnError as exc:
                result.error = f"sequence {i}: {exc}"
                break
            got = np.asarray(got, np.int8).reshape(expected[i].shape)
            differ = int(np.count_nonzero(got != expected[i]))
            if differ:
                result.mismatches += 1
                result.mismatched_elements += differ
                if result.first_mismatch is None:
                    result.first_mismatch = _first_difference(i, got, expected[i])
            result.sequences += 1
            result.ticks.append(int(ticks))
            result.outputs.append(got)
            bar.update(1, mismatches=result.mismatches)
        result.rate = bar.rate()
    return result
