"""SimpleRNN layer → params fields and const arrays of ``tinyrnn_rnn_s8`` (see its header).

The kernel runs four units per ``tinyrnn_dot`` block (the rows the LSTM uses for its
four gates), so the weight rows are regrouped here: unit 4n + r is row r of block n,
a partial last block padded with zero rows (and zero biases) whose results the kernel
drops.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.codegen import layout
from tinyrnn.codegen.checks import as_int, check_range
from tinyrnn.core import domain
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden import rnn_s8
from tinyrnn.core.ir import RNN_ACTIVATIONS, SimpleRNNLayer

BLOCK = 4  # TINYRNN_RNN_BLOCK


def block_rows(w: np.ndarray) -> np.ndarray:
    """(H, K) unit rows → (BLOCK, ceil(H/BLOCK), K): the rows of each block of four units."""
    h, k = w.shape
    padded = np.zeros((-(-h // BLOCK) * BLOCK, k), w.dtype)
    padded[:h] = w
    return np.ascontiguousarray(padded.reshape(-1, BLOCK, k).transpose(1, 0, 2))


def _block_bias(bias: np.ndarray) -> np.ndarray:
    """(H,) → (ceil(H/BLOCK), BLOCK), zero padded."""
    padded = np.zeros(-(-bias.size // BLOCK) * BLOCK, np.int64)
    padded[: bias.size] = bias
    return padded.reshape(-1, BLOCK)


def check_activation(layer: SimpleRNNLayer, where: str) -> None:
    """A known activation; a tanh state at the scale the kernel's table output has (zero point 0)."""
    if layer.activation not in RNN_ACTIVATIONS:
        raise TinyrnnError(f"{where}: activation {layer.activation!r} not one of {', '.join(RNN_ACTIVATIONS)}")
    if layer.activation == "tanh" and (int(layer.hidden_zero_point) != 0 or float(layer.hidden_scale) != layer.tanh_scale):
        raise TinyrnnError(f"{where}: a tanh SimpleRNN state must have scale 1/{round(1 / layer.tanh_scale)} and zero point 0 "
                           f"(got {layer.hidden_scale}, {layer.hidden_zero_point})")


def _check(layer: SimpleRNNLayer, where: str) -> None:
    check_activation(layer, where)
    check_range(where, "input_zero_point", layer.input_zero_point, -128, 127)
    check_range(where, "hidden_zero_point", layer.hidden_zero_point, -128, 127)
    for k in ("x_multiplier", "h_multiplier"):
        check_range(where, k, getattr(layer, k), -(2**31), 2**31 - 1)


def rnn_fields(layer: SimpleRNNLayer, prefix: str, where: str, lut_name: str, path: str) -> tuple[dict, list]:
    """The params struct's fields (C initializers) and the layer's arrays."""
    H, I = layer.hidden_size, layer.input_size
    w_x = as_int(where, "w_x", layer.w_x, np.int8, (H, I))
    w_h = as_int(where, "w_h", layer.w_h, np.int8, (H, H))
    as_int(where, "bias", layer.bias, np.int32, (H,))
    _check(layer, where)
    bounds = domain.check_layer(layer, where)  # the one numeric domain validate applies at load
    bias_x, bias_h = rnn_s8.effective_biases(layer)
    bound_x, bound_h = bounds["bound_x"], bounds["bound_h"]  # (H,); |x|, |h| <= 128
    arrays = [
        layout.weight_array(f"{prefix}_w_x", block_rows(w_x), f"{where}: input weights, blocks of 4 units over I", path),
        layout.weight_array(f"{prefix}_w_h", block_rows(w_h), f"{where}: recurrent weights, blocks of 4 units over H", path),
        layout.c_array(f"{prefix}_bias", np.concatenate([_block_bias(bias_x), _block_bias(bias_h)], axis=1),
                       np.int32, f"{where}: [ceil(H/4)][8] effective input biases of 4 units, then recurrent"),
    ]
    x_rq = layout.requant(int(layer.x_multiplier), int(layer.x_shift), int(bound_x.max()))
    h_rq = layout.requant(int(layer.h_multiplier), int(layer.h_shift), int(bound_h.max()))
    fields = {"input_size": I, "hidden_size": H, "tanh": int(layer.activation == "tanh"),
              "w_x": arrays[0]["cname"], "w_h": arrays[1]["cname"], "bias": arrays[2]["cname"],
              "x_rq": layout.c_struct(x_rq), "h_rq": layout.c_struct(h_rq),
              "reference": layout.needs_reference(x_rq, h_rq),
              "output_shift": rnn_s8.OUTPUT_SHIFT[layer.activation],
              "hidden_zero_point": int(layer.hidden_zero_point), "activation_min": rnn_s8.activation_min(layer),
              "sigmoid_lut": lut_name}
    return fields, arrays
