"""Whole-window models (Bidirectional, Flatten, a "same" Conv1D): the merge's params, the plan of ``_run``.

A Bidirectional layer's backward direction starts at the window's last step, a Flatten
reads every step at once and a "same" conv pads after the last, so such a model has no
step API: ``_run`` (``templates/model_window.c.j2``) runs a front end over the window
(then the "same" right padding), and one layer after another over the whole window,
through sequence buffers for ``max_steps`` steps that live in the state struct (no
heap, no other static memory). The directions are the
LSTM/GRU/SimpleRNN kernels unchanged; ``tinyrnn_bidirectional_s8`` merges them per step.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.codegen.checks import as_int, check_range
from tinyrnn.codegen.layout import c_array, c_int
from tinyrnn.core import domain
from tinyrnn.core.golden.bidirectional_s8 import LEFT_SHIFT
from tinyrnn.core.ir import BidirectionalLayer, FlattenLayer, Model

# IR merge mode → the kernel's (tinyrnn_bidirectional_s8.h): ave is a sum whose output
# multiplier holds the 1/2.
MERGE_MODES = {"concat": "TINYRNN_BIDIR_CONCAT", "sum": "TINYRNN_BIDIR_SUM", "ave": "TINYRNN_BIDIR_SUM",
               "mul": "TINYRNN_BIDIR_MUL"}


def inner_kinds(model: Model) -> set:
    """The recurrent kinds inside Bidirectional layers (their kernels are needed too)."""
    return {layer.forward.kind for layer in model.layers if isinstance(layer, BidirectionalLayer)}


def merge(layer: BidirectionalLayer, prefix: str, where: str) -> dict:
    """Template entry of the merge's params struct (tinyrnn_bidirectional_s8_params)."""
    mult = as_int(where, "merge_multiplier", layer.merge_multiplier, np.int32, (3,))
    shift = as_int(where, "merge_shift", layer.merge_shift, np.int32, (3,))
    zero_points = {"forward_zero_point": int(layer.forward.hidden_zero_point),
                   "backward_zero_point": int(layer.backward.hidden_zero_point),
                   "output_zero_point": int(layer.output_zero_point)}
    for name, value in zero_points.items():
        check_range(where, name, value, -128, 127)
    domain.check_merge(layer, where)
    fields = {"size": layer.hidden_size, "mode": MERGE_MODES[layer.merge_mode], "left_shift": LEFT_SHIFT,
              **zero_points, "multiplier": "{" + ", ".join(c_int(int(v)) for v in mult) + "}",
              "shift": "{" + ", ".join(str(int(v)) for v in shift) + "}"}
    return {"params": f"{prefix}_merge", "ctype": "tinyrnn_bidirectional_s8_params", "fields": fields,
            "comment": f"{where}: merge {layer.merge_mode}"}


def step(layer, where: str, dirs: list, merge_entry: dict | None = None) -> dict:
    """One recurrent layer of the plan: its direction entries (codegen.generate._recurrent)
    and, for a Bidirectional layer, its merge."""
    return {"dirs": dirs, "merge": merge_entry, "seq": bool(layer.return_sequences), "size": layer.hidden_size,
            "width": layer.output_size, "in_width": layer.input_size, "comment": where}


def front_pass(model: Model, front: list, members: list, arrays: list, steps: int, name: str) -> dict:
    """A front end in a whole-window model writes its output rows (at most ``steps``: no
    layer lengthens the window) to ``st->fseq``; then each "same" conv's right padding is
    fed to it (a row of its input zero point, a const array appended to ``arrays``)."""
    if not front:
        return {"front_flush": []}
    layers = model.layers[: len(front)]
    for i, entry in enumerate(front):  # x_t enters at layer `first`: the model input, or a right padding
        entry["window_input"] = "x_t" if i == 0 else f"first == {i} ? x_t : {entry['input']}"
    flush = []
    for i, layer in enumerate(layers):
        if getattr(layer, "pad_right", 0):
            pad = c_array(f"tinyrnn_{name}_l{i}_pad", np.full(layer.input_size, layer.input_zero_point, np.int8),
                          np.int8, f"{front[i]['comment']}: a step of the input zero point (right padding)")
            arrays.append(pad)
            flush.append({"layer": i, "count": layer.pad_right, "zeros": pad["cname"], "comment": front[i]["comment"]})
    width = layers[-1].output_size
    members.append(("int8_t", "fseq", steps * width, 0, f"whole window: front end outputs, {steps} steps"))
    return {"front_flush": flush, "front_width": width, "front_out": front[-1]["out"]}


def context(model: Model, plan: list, head: list, members: list, tails: list, front: dict) -> dict:
    """The whole-window part of the template context; appends the sequence buffers to
    ``members`` (the state struct). Streaming models get {"whole_window": False}. A
    global pool (``tails``) pools the last layer's rows; a Flatten's head reads them all
    as one row, and ``_run`` then takes exactly its steps. ``front``: the front end's
    entries, the const ``arrays`` list and the model's C ``name`` (``front_pass``)."""
    if not model.whole_window:
        return {"whole_window": False, "merges": []}
    flat = [layer.window for layer in model.layers if isinstance(layer, FlattenLayer)]
    buffered = [layer.max_steps for layer in model.layers if layer.kind == "bidirectional" or
                getattr(layer, "padding", "") == "same"]
    steps = min(buffered + flat)
    passes = front_pass(model, front["entries"], members, front["arrays"], steps, front["name"])
    buffers: dict = {}
    for k, entry in enumerate(plan):
        entry["input"] = ("st->fseq" if front["entries"] else "x") if k == 0 else plan[k - 1]["output"]
        if entry["seq"] or entry["merge"]:  # a sequence, or the one merged row
            name = f"seq{k % 2}"
            buffers[name] = max(buffers.get(name, 0), (steps if entry["seq"] else 1) * entry["width"])
            entry["output"] = f"st->{name}"
        else:  # the last layer's final h is its output
            entry["output"] = f"st->{entry['dirs'][0]['h']}"
    for name, length in sorted(buffers.items()):
        members.append(("int8_t", name, length, 0, f"whole window: layer outputs, {steps} steps"))
    merged_rows = [e["size"] for e in plan if e["merge"] and e["seq"]]
    if merged_rows:
        members.append(("int8_t", "dir", steps * max(merged_rows), 0, "whole window: backward outputs to merge"))
    window_head = [dict(d, input="in") if i == 0 else d for i, d in enumerate(head)]
    return {"whole_window": True, "max_steps": steps, "window_layers": plan, "window_head": window_head,
            "window_pool": tails[0] if tails else None, "window_exact": bool(flat), **passes,
            "merges": [e["merge"] for e in plan if e["merge"]], "window_out": plan[-1]["output"],
            "window_width": plan[-1]["width"], "window_rows": "T" if model.returns_sequences else "1"}
