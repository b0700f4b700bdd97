"""Conformance vectors in the CMSIS-NN/TFLM LSTM format (see ../shared/vectors/README.md).

A case file holds ``config`` scalars and ``arrays`` ({dtype, data}); this module turns
it into an IR ``LSTMLayer``, the input batch (B, T, I) and the expected output
(B, T, H), whatever the case's time/batch-major layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.fileio import os_error_text
from tinyrnn.core.ir import LSTMLayer

_GATES = ("input", "forget", "cell", "output")


@dataclass
class VectorCase:
    name: str
    layer: LSTMLayer
    x: np.ndarray  # (B, T, I) int8
    expected: np.ndarray  # (B, T, H) int8


def _array(arrays: dict, key: str, path: str) -> np.ndarray:
    if key not in arrays:
        raise TinyrnnError(f"{path}: array '{key}' missing")
    entry = arrays[key]
    try:
        return np.asarray(entry["data"], dtype=np.dtype(entry["dtype"]))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise TinyrnnError(f"{path}: array '{key}' malformed ({exc})") from None


def _batch_major(a: np.ndarray, cfg: dict, width: int) -> np.ndarray:
    b, t = cfg["batch_size"], cfg["time_steps"]
    if cfg["time_major"]:
        return a.reshape(t, b, width).transpose(1, 0, 2)
    return a.reshape(b, t, width)


def load_case(path: str | os.PathLike) -> VectorCase:
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        cfg, arrays = doc["config"], doc["arrays"]
        hidden, inputs = int(cfg["hidden_size"]), int(cfg["input_size"])
    except OSError as exc:
        raise TinyrnnError(f"{path}: cannot read vector file ({os_error_text(exc)})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TinyrnnError(f"{path}: not a tinyrnn/CMSIS-NN LSTM vector file ({exc})") from None

    def stack(suffix, shape):
        return np.stack([_array(arrays, f"{g}_gate_{suffix}", path).reshape(shape) for g in _GATES])

    def pair(kind):
        return (
            np.array([cfg[f"{g}_gate_{kind}_multiplier"] for g in _GATES], np.int32),
            np.array([cfg[f"{g}_gate_{kind}_shift"] for g in _GATES], np.int32),
        )

    try:
        (mx, sx), (mh, sh) = pair("input"), pair("hidden")
        layer = LSTMLayer(
            name=os.path.splitext(os.path.basename(path))[0],
            input_size=inputs,
            hidden_size=hidden,
            return_sequences=True,
            w_x=stack("input_weights", (hidden, inputs)),
            w_h=stack("hidden_weights", (hidden, hidden)),
            bias=stack("bias", (hidden,)),
            # The file's input_zero_point is the offset *added* to x (CMSIS-NN convention).
            input_zero_point=-int(cfg["input_zero_point"]),
            hidden_zero_point=int(cfg["output_zero_point"]),
            input_scale=1.0,
            hidden_scale=1.0,
            gate_x_multiplier=mx,
            gate_x_shift=sx,
            gate_h_multiplier=mh,
            gate_h_shift=sh,
            cell_scale_power=int(cfg["cell_scale_power"]),
            cell_clip=int(cfg["cell_clip"]),
            forget_to_cell_multiplier=int(cfg["forget_to_cell_multiplier"]),
            forget_to_cell_shift=int(cfg["forget_to_cell_shift"]),
            input_to_cell_multiplier=int(cfg["input_to_cell_multiplier"]),
            input_to_cell_shift=int(cfg["input_to_cell_shift"]),
            hidden_multiplier=int(cfg["output_multiplier"]),
            hidden_shift=int(cfg["output_shift"]),
        )
        x = _batch_major(_array(arrays, "input_tensor", path), cfg, inputs)
        expected = _batch_major(_array(arrays, "output", path), cfg, hidden)
    except (KeyError, ValueError) as exc:
        raise TinyrnnError(f"{path}: vector case incomplete or inconsistent ({exc})") from None
    return VectorCase(layer.name, layer, x, expected)
