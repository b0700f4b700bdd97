"""Conv1D front end → params fields, const arrays and state of ``tinyrnn_conv1d_s8`` (see its header).

Each conv layer streams: its state is a ring buffer of the last ``span`` inputs (stored
twice, so the taps read one contiguous window), the ring's write slot and how many inputs
it holds, and the output step it passes on. The recurrent stack steps only when the last
conv emits (``_front.c.j2``).
"""

from __future__ import annotations

import numpy as np

from tinyrnn.codegen import layout
from tinyrnn.codegen.checks import as_int, check_range
from tinyrnn.core import domain
from tinyrnn.core.golden.conv1d_s8 import effective_bias
from tinyrnn.core.golden.dense_s8 import activation_range
from tinyrnn.core.ir import Conv1DLayer
from tinyrnn.core.validate import check_conv


def conv_entry(layer: Conv1DLayer, k: int, prefix: str, where: str, source: str) -> tuple[dict, list]:
    """Template entry of one conv layer (params fields, call arguments, state members) and its arrays."""
    O, K, I = layer.output_size, layer.kernel_size, layer.input_size
    check_conv(layer, where)  # the kernel sizes and options validate accepts
    for zp in ("input_zero_point", "output_zero_point"):
        check_range(where, zp, getattr(layer, zp), -128, 127)
    w = as_int(where, "weights", layer.weights, np.int8, (O, K, I))
    as_int(where, "bias", layer.bias, np.int32, (O,))
    mult = as_int(where, "multiplier", layer.multiplier, np.int32, (O,))
    shift = as_int(where, "shift", layer.shift, np.int32, (O,))
    domain.check_layer(layer, where)
    arrays = [
        layout.c_array(f"{prefix}_weights", w, np.int8, f"{where}: weights [O][K][C], tap 0 the oldest"),
        layout.c_array(f"{prefix}_bias", effective_bias(layer), np.int32, f"{where}: effective bias [O]"),
        layout.c_array(f"{prefix}_multiplier", mult, np.int32, f"{where}: per-channel multiplier [O]"),
        layout.c_array(f"{prefix}_shift", shift, np.int32, f"{where}: per-channel shift [O]"),
    ]
    act_min, act_max = activation_range(layer)
    fields = {"input_size": I, "output_size": O, "kernel_size": K, "dilation": int(layer.dilation),
              "span": layer.span, "weights": arrays[0]["cname"], "bias": arrays[1]["cname"],
              "multiplier": arrays[2]["cname"], "shift": arrays[3]["cname"],
              "output_zero_point": int(layer.output_zero_point), "activation_min": act_min, "activation_max": act_max}
    ring, out = f"l{k}_ring", f"l{k}_out"
    # Causal: the ring starts full of the input zero point (real 0) but for the newest slot.
    state = [("int32_t", f"l{k}_pos", 1, 0, f"{where}: ring write slot"),
             ("int32_t", f"l{k}_held", 1, layer.span - 1 - layer.warmup, f"{where}: inputs in the ring"),
             ("int8_t", ring, 2 * layer.span * I, int(layer.input_zero_point), f"{where}: last {layer.span} inputs, "
              "each twice"),
             ("int8_t", out, O, int(layer.output_zero_point), f"{where}: output step")]
    entry = {"index": k, "params": f"{prefix}_params", "fields": fields, "comment": where, "state": state,
             "args": f"st->{ring}, st->l{k}_pos, st->l{k}_held, {source}, st->{out}", "out": out}
    return entry, arrays
