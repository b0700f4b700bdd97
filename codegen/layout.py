"""Weight layouts of the kernels' inner-loop paths and precomputed requantization.

The C kernels (``kernels/tinyrnn_dot.h``) read one unit's block of R rows (gates) per
pass over the input vector; this module arranges the rows that way for each path, so
the inner loops do no shuffling. Everything is numpy on exact integers; the layouts are
a permutation (plain), a widening with zero padding (dsp) or an exact packing (wide)
of the same int8 weights.

  plain  [N][R][K] int8                          Cortex-M0 and other cores without DSP
  mve    [N][R][K16] int8, K padded to a multiple of 16 with zero weights (Cortex-M55)
  dsp    [N][ceil(K/4)][R][2] words, each two int16: (w[4q], w[4q+2]), (w[4q+1], w[4q+3]),
         matching SXTB16 of four int8 inputs; K padded with zero weights
  dsp8   [N][ceil(K/4)][R] words of 4 int8 (w[4q] .. w[4q+3], little-endian), K padded
  wide   [N][K4][ceil(R/2)] int32 words w[2p] + w[2p+1] * 2^23 (a missing odd row is 0),
         K padded to K4 = 4 ceil(K/4) with zero weights

Codegen picks one path per library (``tinyrnn.core.boards.kernel_path``) and emits
only its layout; the weights file refuses to compile under another ``TINYRNN_PATH``
(``kernels/tinyrnn_arch.h``).
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
WIDE_SHIFT = 23
# Largest |int16 * int16| product the LSTM cell requantizes: a Q0.15 gate in [0, 32767]
# times an int16 value (cell state, tanh output).
CELL_PRODUCT_BOUND = 32767 * 32768
# Path name → its TINYRNN_PATH_* value in kernels/tinyrnn_arch.h.
PATH_IDS = {"plain": 0, "wide": 1, "dsp": 2, "mve": 3, "dsp8": 4}
WORD_PATHS = ("dsp", "dsp8", "wide")  # weights stored as int32 words


def _as_int32(words: np.ndarray) -> np.ndarray:
    """uint32 bit patterns (held in int64) → the int32 values with the same bits."""
    words = np.asarray(words, np.int64) & 0xFFFFFFFF
    return np.where(words >= 2**31, words - 2**32, words)


def blocks_plain(rows: np.ndarray) -> np.ndarray:
    """rows (R, N, K) int8 → [N][R][K]."""
    return np.ascontiguousarray(np.asarray(rows).transpose(1, 0, 2))


def blocks_mve(rows: np.ndarray) -> np.ndarray:
    """rows (R, N, K) int8 → [N][R][K16], K16 = 16 ceil(K/16), zero padded."""
    rows = np.asarray(rows)
    R, N, K = rows.shape
    padded = np.zeros((R, N, 16 * -(-K // 16)), np.int64)
    padded[..., :K] = rows
    return blocks_plain(padded)


def _quads(rows: np.ndarray) -> np.ndarray:
    """rows (R, N, K) → (R, N, G, 4) int64, zero-padded to G = ceil(K/4) groups of four."""
    rows = np.asarray(rows, np.int64)
    R, N, K = rows.shape
    groups = -(-K // 4)
    padded = np.zeros((R, N, 4 * groups), np.int64)
    padded[..., :K] = rows
    return padded.reshape(R, N, groups, 4)


def blocks_dsp(rows: np.ndarray) -> np.ndarray:
    """rows (R, N, K) int8 → [N][G][R][2] int32 words of int16 pairs, G = ceil(K/4)."""
    q = _quads(rows) & 0xFFFF
    words = np.stack([q[..., 0] | q[..., 2] << 16, q[..., 1] | q[..., 3] << 16], axis=-1)  # (R, N, G, 2)
    return _as_int32(words.transpose(1, 2, 0, 3))


def blocks_dsp8(rows: np.ndarray) -> np.ndarray:
    """rows (R, N, K) int8 → [N][G][R] int32 words holding w[4q..4q+3] little-endian."""
    q = _quads(rows) & 0xFF
    words = q[..., 0] | q[..., 1] << 8 | q[..., 2] << 16 | q[..., 3] << 24  # (R, N, G)
    return _as_int32(words.transpose(1, 2, 0))


def blocks_wide(rows: np.ndarray) -> np.ndarray:
    """rows (R, N, K) int8 → [N][4 ceil(K/4)][ceil(R/2)] int32 words w_a + w_b * 2^23."""
    rows = np.asarray(rows, np.int64)
    R, N, K = rows.shape
    pairs = -(-R // 2)
    padded = np.zeros((2 * pairs, N, 4 * -(-K // 4)), np.int64)
    padded[:R, :, :K] = rows
    words = padded[0::2] + padded[1::2] * (1 << WIDE_SHIFT)  # (P, N, K); |.| <= 2^30
    return words.transpose(1, 2, 0)


LAYOUTS = {"plain": blocks_plain, "mve": blocks_mve, "dsp": blocks_dsp, "dsp8": blocks_dsp8, "wide": blocks_wide}


def unpack(path: str, blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Inverse of the layout functions, (R, N, K) int8; the tests use it to prove the
    packing loses nothing."""
    blocks = np.asarray(blocks, np.int64)
    if path in ("plain", "mve"):
        padded = cols if path == "plain" else 16 * -(-cols // 16)
        return blocks.reshape(-1, rows, padded)[..., :cols].transpose(1, 0, 2)
    if path == "wide":
        words = blocks.reshape(-1, 4 * -(-cols // 4), -(-rows // 2))[:, :cols]  # (N, K, P)
        low = (words + (1 << (WIDE_SHIFT - 1))) % (1 << WIDE_SHIFT) - (1 << (WIDE_SHIFT - 1))
        high = (words - low) >> WIDE_SHIFT
        return np.stack([low, high], axis=-1).reshape(words.shape[0], cols, -1)[..., :rows].transpose(2, 0, 1)
    if path == "dsp8":
        words = blocks.reshape(-1, -(-cols // 4), rows) & 0xFFFFFFFF  # (N, G, R)
        b = np.stack([(words >> (8 * i)) & 0xFF for i in range(4)], axis=-1)  # (N, G, R, 4)
        b = np.where(b >= 128, b - 256, b).transpose(0, 2, 1, 3).reshape(words.shape[0], rows, -1)
        return b[..., :cols].transpose(1, 0, 2)
    words = blocks.reshape(-1, -(-cols // 4), rows, 2) & 0xFFFFFFFF  # (N, G, R, 2)
    half = np.stack([words & 0xFFFF, words >> 16], axis=-1)  # (N, G, R, 2 words, lo/hi)
    half = np.where(half >= 2**15, half - 2**16, half)
    cols4 = half.transpose(0, 2, 1, 4, 3).reshape(words.shape[0], rows, -1)  # k order 4q + (0, 1, 2, 3)
    return cols4[..., :cols].transpose(1, 0, 2)


def stage_words(n: int) -> int:
    """Words of kernel work area one staged vector of n values takes (TINYRNN_STAGE_WORDS)."""
    return 2 * -(-int(n) // 4) if n > 4 else 4


def requant(multiplier: int, shift: int, bound: int) -> list[int]:
    """``tinyrnn_requant_t`` {multiplier, left, right, round, neg, shift} for accumulators
    with |acc| <= bound. ``left`` = max(shift, 0) + 1 when bound << left still fits int32
    (the kernel's one-multiply form is then exact), else 0 (the kernel takes the
    reference path, which is exact for any int32)."""
    left_shift, right = max(int(shift), 0), max(-int(shift), 0)
    left = left_shift + 1 if int(bound) << (left_shift + 1) <= INT32_MAX else 0
    return [int(multiplier), left, right, (1 << (right - 1)) if right else 0, 1 if right else 0, int(shift)]


def tanh_prescale(left_shift: int) -> tuple[int, int, int]:
    """(mul, round, shift) with (x * mul + round) >> shift == 3 x 2^left_shift rounded as
    tinyrnn_act_prescale does."""
    if left_shift >= 0:
        return 3 << left_shift, 0, 0
    return 3, 1 << (-left_shift - 1), -left_shift


def unit_biases(bias_x: np.ndarray, bias_h: np.ndarray) -> np.ndarray:
    """(gates, H) input and recurrent matmul biases → one row per unit, gate g's at g and
    gates + g: the kernels' accumulator order (TINYRNN_LSTM_ACC_X/H, TINYRNN_GRU_ACC_X/H)."""
    return np.concatenate([bias_x.T, bias_h.T], axis=1)


def gate_requants(mults: dict, bound_x: np.ndarray, bound_h: np.ndarray) -> list:
    """Descriptors of the gates' two matmuls, [2g] input and [2g+1] recurrent (the kernels'
    TINYRNN_LSTM_RQ_X/H, TINYRNN_GRU_RQ_X/H); bounds are (gates, units) accumulator
    bounds, the largest unit counts."""
    out = []
    for g in range(len(bound_x)):
        out.append(requant(mults["gate_x_multiplier"][g], mults["gate_x_shift"][g], bound_x[g].max()))
        out.append(requant(mults["gate_h_multiplier"][g], mults["gate_h_shift"][g], bound_h[g].max()))
    return out


def needs_reference(*groups) -> int:
    """1 when some descriptor (in lists of them, or single ones) has left == 0: the
    kernel then requantizes that layer with the reference computation."""
    flat = [q for group in groups for q in (group if isinstance(group[0], list) else [group])]
    return int(any(q[1] == 0 for q in flat))


# --------------------------------------------------------------------------- C text
_CTYPES = {np.int8: "int8_t", np.int16: "int16_t", np.int32: "int32_t", np.uint16: "uint16_t", np.int64: "int64_t"}
_PER_LINE = {np.int8: 16, np.int16: 12, np.int32: 8, np.uint16: 12, np.int64: 4}


def c_int(v: int) -> str:
    # "-2147483648" is a unary minus on a constant too big for int; spell it safely.
    return "(-2147483647 - 1)" if v == INT32_MIN else str(v)


def c_struct(descriptor: list) -> str:
    """C initializer of one tinyrnn_requant_t."""
    return "{" + ", ".join(c_int(v) for v in descriptor) + "}"


def c_structs(descriptors: list) -> str:
    """C initializer of an array of tinyrnn_requant_t."""
    return "{" + ", ".join(c_struct(q) for q in descriptors) + "}"


def requant_array(cname: str, descriptors: list, comment: str) -> dict:
    """Template entry of a const tinyrnn_requant_t array (24 bytes each)."""
    return {"cname": cname, "ctype": "tinyrnn_requant_t", "length": len(descriptors),
            "rows": [c_struct(q) for q in descriptors], "bytes": 24 * len(descriptors), "comment": comment}


def c_array(cname: str, values: np.ndarray, dtype, comment: str) -> dict:
    """Template entry of one const array: rows of C literals, length, bytes."""
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    step = _PER_LINE[dtype]
    rows = [", ".join(c_int(v) for v in flat[i:i + step]) for i in range(0, len(flat), step)]
    size = len(flat) * np.dtype(dtype).itemsize
    return {"cname": cname, "ctype": _CTYPES[dtype], "length": len(flat), "rows": rows, "bytes": size,
            "comment": comment}


def weight_array(cname: str, rows: np.ndarray, comment: str, path: str) -> dict:
    """Weight rows (R, N, K) int8 in ``path``'s layout (tinyrnn_weight_t elements)."""
    return packed_array(cname, LAYOUTS[path](rows), comment, path)


def packed_array(cname: str, blocks: np.ndarray, comment: str, path: str) -> dict:
    """Weights already in ``path``'s layout as a tinyrnn_weight_t array."""
    dtype = np.int32 if path in WORD_PATHS else np.int8
    return {**c_array(cname, blocks, dtype, f"{comment}, {path} layout"), "ctype": "tinyrnn_weight_t"}
