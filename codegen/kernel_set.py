"""Which kernel files a model's C needs: only those of its layer kinds (and the table
activations when a hidden Dense layer has one).

A kernel is a source ``tinyrnn_<op>.c`` with its header; KERNEL_SOURCES maps each IR
layer kind, and "activation", to its source (a new kernel is one entry). The headers a selection needs
follow from the ``#include "..."`` lines of the chosen files, and SUPPORT_SOURCES (the
out-of-line helpers the kernels share) join every selection where the package ships them.
"""

from __future__ import annotations

import importlib.resources
import re


def kernel_files() -> list:
    """The kernel sources shipped with the package (Traversables), sorted by name."""
    root = importlib.resources.files("tinyrnn.codegen").joinpath("kernels")
    return sorted((f for f in root.iterdir() if f.name.endswith((".c", ".h"))), key=lambda f: f.name)


# IR layer kind (or "activation": a hidden Dense layer's table; "<kind>_s16": 16x8; "rnn_s16x16": 16x8
# with int16 weights; "dense_s8_s16": int16 logits) -> its kernel source; the
# header has the same stem.
KERNEL_SOURCES = {"lstm": "tinyrnn_lstm_s8.c", "gru": "tinyrnn_gru_s8.c", "rnn": "tinyrnn_rnn_s8.c",
                  "dense": "tinyrnn_dense_s8.c", "activation": "tinyrnn_activation_s8.c",
                  "conv1d": "tinyrnn_conv1d_s8.c", "pool1d": "tinyrnn_pool1d_s8.c",
                  "bidirectional": "tinyrnn_bidirectional_s8.c", "global_pool1d": "tinyrnn_global_pool1d_s8.c",
                  "lstm_s16": "tinyrnn_lstm_s16.c", "rnn_s16": "tinyrnn_rnn_s16.c", "dense_s16": "tinyrnn_dense_s16.c",
                  "rnn_s16x16": "tinyrnn_rnn_s16x16.c", "dense_s8_s16": "tinyrnn_dense_s8_s16.c"}
SUPPORT_SOURCES = ("tinyrnn_support.c",)


def kernel_key(layer) -> str:
    """The KERNEL_SOURCES key of a layer: its kind, "<kind>_s16" for a 16x8 layer,
    "rnn_s16x16" for a 16x8 SimpleRNN with int16 weights, "dense_s8_s16" for int16 logits."""
    if getattr(layer, "output_bits", 8) == 16 and getattr(layer, "activation_bits", 8) == 8:
        return "dense_s8_s16"
    if getattr(layer, "weight_bits", 8) == 16:
        return "rnn_s16x16"
    return f"{layer.kind}_s16" if getattr(layer, "activation_bits", 8) == 16 else layer.kind
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def kernel_selection(kinds) -> list:
    """The kernel files (Traversables) a model with these layer kinds compiles: its
    kernels' sources, the headers they reach and the shared support sources; by name."""
    shipped = {f.name: f for f in kernel_files()}
    todo = [KERNEL_SOURCES[k] for k in kinds] + [s for s in SUPPORT_SOURCES if s in shipped]
    todo += [KERNEL_SOURCES[k].replace(".c", ".h") for k in kinds]
    chosen = {}
    while todo:
        name = todo.pop()
        if name in chosen or name not in shipped:
            continue
        chosen[name] = shipped[name]
        todo.extend(_INCLUDE.findall(chosen[name].read_text()))
    return [chosen[n] for n in sorted(chosen)]
