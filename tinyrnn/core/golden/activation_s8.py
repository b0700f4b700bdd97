"""int8 activations of a hidden Dense layer, after its requantization (C twin:
codegen/kernels/tinyrnn_activation_s8.c).

Every parameter is an integer table computed here once, in float64, and emitted as
data; the kernels only look up, add, multiply and divide integers.

- sigmoid, tanh: ``table[q + 128]`` is the int8 output for the int8 pre-activation q,
  ``round_half_even(f((q − zp_pre)·s_pre) / s_out + zp_out)`` clipped to int8. Output
  quantization as TFLite's LOGISTIC and TANH: 1/256 and −128, 1/128 and 0. Error against
  f of the same dequantized input, clipped to int8: at most 0.5 LSB (measured 0.49999).
- softmax over the layer's O outputs (per time step), integer only:
  ``d_i = max_j q_j − q_i`` in [0, 255], ``e_i = table[d_i] = round(exp(−s_pre·d_i)·2^15)``
  (32768 at d = 0, so ``S = Σ e_i >= 32768`` and ``S <= O·32768`` fits int32 for O <=
  SOFTMAX_MAX_SIZE), ``out_i = clamp((e_i·256 + S/2) / S − 128, −128, 127)`` with
  non-negative operands, so C's truncating division is numpy's floor division.
  Output scale 1/256, zero point −128 (TFLite's). Measured against the float softmax of
  the same dequantized inputs (tests/test_dense_activations.py: 20,000 random vectors,
  O in 2..40, s_pre in 1/64..1/2, every tenth at the rails): max abs error 0.507 LSB
  against the unrounded ``256·p − 128`` (clipped to int8), i.e. the final rounding's 0.5
  plus the exp table's rounding; against the ideally rounded int8 it is at most 1 LSB
  off, on 0.04 % of the elements.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.ir import DenseLayer

# Output (scale, zero point) after each table: TFLite's conventions.
OUTPUT_QUANT = {"sigmoid": (1.0 / 256, -128), "tanh": (1.0 / 128, 0), "softmax": (1.0 / 256, -128)}
EXP_ONE = 1 << 15  # exp(0) in the softmax table
SOFTMAX_MAX_SIZE = (2**31 - 1) // EXP_ONE  # S = Σ e_i <= O·2^15 stays within int32
TABLE_SIZE = 256
_FUNCTIONS = {"sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)), "tanh": np.tanh}


def lut_table(kind: str, pre_scale: float, pre_zero_point: int) -> np.ndarray:
    """(256,) int32: the int8 sigmoid/tanh output for each int8 pre-activation q (index q + 128)."""
    out_scale, out_zero_point = OUTPUT_QUANT[kind]
    real = (np.arange(-128, 128, dtype=np.float64) - pre_zero_point) * float(pre_scale)
    q = np.round(_FUNCTIONS[kind](real) / out_scale + out_zero_point)
    return np.clip(q, -128, 127).astype(np.int32)


def softmax_table(pre_scale: float) -> np.ndarray:
    """(256,) int32: round(exp(−s_pre·d)·2^15) for d = max − q in 0..255."""
    return np.round(np.exp(-float(pre_scale) * np.arange(TABLE_SIZE, dtype=np.float64)) * EXP_ONE).astype(np.int32)


def build_table(kind: str, pre_scale: float, pre_zero_point: int) -> tuple[np.ndarray, float, int]:
    """(table, output scale, output zero point) of a hidden ``kind`` Dense layer whose
    pre-activation has the grid (pre_scale, pre_zero_point)."""
    table = softmax_table(pre_scale) if kind == "softmax" else lut_table(kind, pre_scale, pre_zero_point)
    scale, zero_point = OUTPUT_QUANT[kind]
    return table, scale, zero_point


def table_s8(table: np.ndarray, q) -> np.ndarray:
    """y = table[q + 128], elementwise."""
    return np.asarray(table, np.int64)[np.asarray(q, np.int64) + 128].astype(np.int8)


def softmax_s8(table: np.ndarray, q) -> np.ndarray:
    """Integer softmax over the last axis (see the module docstring)."""
    q = np.asarray(q, np.int64)
    e = np.asarray(table, np.int64)[q.max(axis=-1, keepdims=True) - q]
    total = e.sum(axis=-1, keepdims=True)
    return np.clip((e * 256 + total // 2) // total - 128, -128, 127).astype(np.int8)


def activation_s8(layer: DenseLayer, q) -> np.ndarray:
    """The table activation of a hidden Dense layer on its requantized int8 output."""
    if layer.activation == "softmax":
        return softmax_s8(layer.table, q)
    return table_s8(layer.table, q)
