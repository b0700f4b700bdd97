"""The float side of a generated model: input quantizer, output dequantizer, probabilities.

Firmware holds float sensor samples; the model wants int8. ``_quantize_input`` must give
exactly ``InputQuant.quantize`` (tinyrnn/core/ir.py): float32 ``(x - offset) / scale``,
numpy's round half to even, ``+ zero_point``, clip to int8, NaN to the zero point. So the
per-channel offsets and scales are emitted bit for bit (C99 hexadecimal float literals)
and the C does the same two float32 operations in the same order.

Probabilities come from tables computed here in float64 and rounded to float32 once, so
the C needs no libm: softmax from exp(-scale * d) for d = max - y in [0, 255] (a logit's
distance from the largest), sigmoid from one entry per int8 value. int16 logits use two
256-entry tables instead, exp(-scale * d) = hi[d >> 8] * lo[d & 255] (one float32
product: within an ulp or so of exp), for softmax's d and sigmoid's |y|.
"""

from __future__ import annotations

import re

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import Model


def hex_float(value) -> str:
    """Exact C99 float literal of ``value`` rounded to float32."""
    v = np.float32(value)
    if not np.isfinite(v):
        raise TinyrnnError(f"value {value} is not finite")
    return re.sub(r"\.?0*p", "p", float(v).hex()) + "f"


def float_array(cname: str, values, comment: str) -> dict:
    """Template entry of one const float array (as layout.c_array for integers)."""
    flat = [hex_float(v) for v in np.asarray(values, np.float32).reshape(-1)]
    rows = [", ".join(flat[i:i + 4]) for i in range(0, len(flat), 4)]
    return {"cname": cname, "ctype": "float", "length": len(flat), "rows": rows, "bytes": 4 * len(flat),
            "comment": comment}


def _softmax_table(scale: float) -> np.ndarray:
    """exp(-scale * d) for d = 0..255, cut after the last entry float32 keeps above 0."""
    table = np.exp(-float(scale) * np.arange(256, dtype=np.float64)).astype(np.float32)
    nonzero = np.flatnonzero(table > 0)
    return table[: int(nonzero[-1]) + 1]


def _sigmoid_table(scale: float, zero_point: int) -> np.ndarray:
    """sigmoid((y - zero_point) * scale) for y = -128..127."""
    real = (np.arange(-128, 128, dtype=np.float64) - zero_point) * float(scale)
    return (1.0 / (1.0 + np.exp(-real))).astype(np.float32)


def _exp_tables(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo): exp(-scale * 256 * j) and exp(-scale * i) for j, i = 0..255 (int16 logits)."""
    steps = np.arange(256, dtype=np.float64)
    return np.exp(-float(scale) * 256 * steps).astype(np.float32), np.exp(-float(scale) * steps).astype(np.float32)


def io_context(model: Model, name: str, activation: str) -> tuple[dict, list]:
    """Template entries of the float helpers and the const arrays they read."""
    quant = model.input_quant
    offset = np.asarray(quant.offset, np.float32).reshape(-1)
    scale = np.asarray(quant.scale, np.float32).reshape(-1)
    if offset.shape != (model.input_size,) or scale.shape != (model.input_size,):
        raise TinyrnnError(f"input quantization has {offset.size} offsets and {scale.size} scales for "
                           f"{model.input_size} input channels")
    if not (np.all(np.isfinite(offset)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise TinyrnnError("input quantization: offsets must be finite and scales finite and positive")
    zero_point = int(quant.zero_point)
    if not -128 <= zero_point <= 127:
        raise TinyrnnError(f"input quantization: zero point {zero_point} outside int8")
    prefix = f"tinyrnn_{name}"
    arrays = [float_array(f"{prefix}_input_offset", offset, "input quantization: per-channel offset"),
              float_array(f"{prefix}_input_scale", scale, "input quantization: per-channel scale")]
    # Probabilities from one table over int8 codes, or two over int16 logits' distances.
    classifier = activation in ("softmax", "sigmoid")
    wide = model.output_bits == 16
    out_scale, out_zp = float(model.output_scale), int(model.output_zero_point)
    if classifier and wide:
        hi, lo = _exp_tables(out_scale)
        arrays.append(float_array(f"{prefix}_exp_hi", hi, "exp(-OUTPUT_SCALE * 256 * j)"))
        arrays.append(float_array(f"{prefix}_exp_lo", lo, "exp(-OUTPUT_SCALE * i)"))
    elif activation == "softmax":
        arrays.append(float_array(f"{prefix}_softmax_exp", _softmax_table(out_scale),
                                  "exp(-OUTPUT_SCALE * d), d = max logit - logit"))
    elif activation == "sigmoid":
        arrays.append(float_array(f"{prefix}_sigmoid_prob", _sigmoid_table(out_scale, out_zp),
                                  "sigmoid((y - OUTPUT_ZERO_POINT) * OUTPUT_SCALE), index y + 128"))
    context = {"input_zero_point": zero_point, "output_scale_hex": hex_float(out_scale),
               "classifier": classifier, "argmax": activation == "softmax", "wide_probabilities": classifier and wide,
               "exp_hi": arrays[-2]["cname"] if classifier and wide else None,
               "prob_table": arrays[-1]["cname"] if classifier else None,
               "prob_table_length": arrays[-1]["length"] if classifier else 0,
               "input_offset": arrays[0]["cname"], "input_scale": arrays[1]["cname"]}
    return context, arrays
