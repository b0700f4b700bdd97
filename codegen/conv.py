"""Conv1D/pooling front end → params fields, const arrays and state of ``tinyrnn_conv1d_s8``
and ``tinyrnn_pool1d_s8`` (see their headers).

Each layer streams: its state is a ring buffer of its last inputs (a conv stores each
twice, so the taps read one contiguous window), the ring's write slot, the count of
inputs until its next output is due, and the output step it passes on. The recurrent
stack steps only when the last front layer emits (``_front.c.j2``).
"""

from __future__ import annotations

import numpy as np

from tinyrnn.codegen import layout
from tinyrnn.codegen.checks import as_int, check_range
from tinyrnn.core import domain
from tinyrnn.core.golden.conv1d_s8 import effective_bias
from tinyrnn.core.golden.dense_s8 import activation_range
from tinyrnn.core.ir import Conv1DLayer, Pool1DLayer
from tinyrnn.core.validate import check_front_layer

CONV_ROWS = 4  # filters per pass over the window (TINYRNN_CONV_ROWS in tinyrnn_conv1d_s8.c)


def conv_blocks(weights: np.ndarray, dilation: int, path: str) -> np.ndarray:
    """weights [O][K][C] → the kernel's blocks in ``path``'s layout: per unit of 4 filters
    (the last one 1–4), per tap, that unit's rows over the tap's columns. Dilation 1 makes the
    window contiguous, so it is one tap of K·C columns; else K taps of C columns."""
    O, K, C = weights.shape
    taps, cols = (1, K * C) if dilation == 1 else (K, C)
    units = [weights[o:o + CONV_ROWS].reshape(-1, taps, cols) for o in range(0, O, CONV_ROWS)]  # (R, N=taps, cols)
    return np.concatenate([np.asarray(layout.LAYOUTS[path](rows)).reshape(-1) for rows in units])


def conv_entry(layer: Conv1DLayer, k: int, prefix: str, where: str, source: str,
               path: str) -> tuple[dict, list]:
    """Template entry of one conv layer (params fields, call arguments, state members) and its arrays."""
    O, K, I = layer.output_size, layer.kernel_size, layer.input_size
    check_front_layer(layer, where)  # the kernel sizes and options validate accepts
    for zp in ("input_zero_point", "output_zero_point"):
        check_range(where, zp, getattr(layer, zp), -128, 127)
    w = as_int(where, "weights", layer.weights, np.int8, (O, K, I))
    as_int(where, "bias", layer.bias, np.int32, (O,))
    mult = as_int(where, "multiplier", layer.multiplier, np.int32, (O,))
    shift = as_int(where, "shift", layer.shift, np.int32, (O,))
    bound = domain.check_layer(layer, where)["bound"]
    arrays = [
        layout.packed_array(f"{prefix}_weights", conv_blocks(w, int(layer.dilation), path),
                            f"{where}: weights per 4 filters and tap (tap 0 the oldest)", path),
        layout.c_array(f"{prefix}_bias", effective_bias(layer), np.int32, f"{where}: effective bias [O]"),
        layout.requant_array(f"{prefix}_requant", [layout.requant(m, s, b) for m, s, b in zip(mult, shift, bound)],
                             f"{where}: per-filter requantization [O]"),
    ]
    act_min, act_max = activation_range(layer)
    fields = {"input_size": I, "output_size": O, "kernel_size": K, "dilation": int(layer.dilation),
              "span": layer.span, "strides": int(layer.strides), "weights": arrays[0]["cname"],
              "bias": arrays[1]["cname"], "requant": arrays[2]["cname"],
              "output_zero_point": int(layer.output_zero_point), "activation_min": act_min, "activation_max": act_max}
    entry = _entry(k, prefix, where, source, "conv1d", fields, 2 * layer.span * I, O, layer.first + 1,
                   int(layer.input_zero_point), int(layer.output_zero_point))
    return entry, arrays


def pool_entry(layer: Pool1DLayer, k: int, prefix: str, where: str, source: str) -> tuple[dict, list]:
    """Template entry of one pooling layer (it has no arrays)."""
    check_front_layer(layer, where)
    check_range(where, "input_zero_point", layer.input_zero_point, -128, 127)
    fields = {"channels": layer.input_size, "pool_size": int(layer.pool_size), "strides": int(layer.strides),
              "average": int(layer.pool == "average")}
    zp = int(layer.input_zero_point)
    return _entry(k, prefix, where, source, "pool1d", fields, layer.pool_size * layer.input_size, layer.input_size,
                  layer.pool_size, zp, zp), []


def _entry(k: int, prefix: str, where: str, source: str, kind: str, fields: dict, ring_bytes: int, out_bytes: int,
           due: int, ring_zp: int, out_zp: int) -> dict:
    """The entry of a front layer of ``kind``: its state members (the ring starts at the
    input zero point: a causal conv's padding) and the kernel call's arguments."""
    ring, out, pos, left = f"l{k}_ring", f"l{k}_out", f"l{k}_pos", f"l{k}_due"
    state = [("int32_t", pos, 1, 0, f"{where}: ring write slot"),
             ("int32_t", left, 1, due, f"{where}: inputs until the next output"),
             ("int8_t", ring, ring_bytes, ring_zp, f"{where}: last inputs"),
             ("int8_t", out, out_bytes, out_zp, f"{where}: output step")]
    return {"index": k, "params": f"{prefix}_params", "fields": fields, "comment": where, "state": state,
            "kernel": f"tinyrnn_{kind}_s8_step", "ctype": f"tinyrnn_{kind}_s8_params", "out": out, "input": source,
            "ring_args": f"st->{ring}, st->{pos}, st->{left}",
            "args": f"st->{ring}, st->{pos}, st->{left}, {source}, st->{out}"}
