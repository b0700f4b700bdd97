"""IR model → C sources: ``NAME.c/.h`` (API), ``NAME_weights.c/.h`` (const data), kernels.

Every integer the C code uses is computed and range-checked here; the Jinja2 templates
only place ready-made numbers and names. The checks are the preconditions under which
the kernels are free of undefined behaviour and equal the golden model bit for bit
(accumulators fit int32, shifts in [-31, 30], zero points in int8, ...); a model outside
them is rejected with a TinyrnnError naming the layer rather than compiled into C that
could silently differ.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import numpy as np

from tinyrnn.codegen import conv, layout, pooling, quant_io, rnn, wide, window
from tinyrnn.codegen.checks import as_int as _as_int
from tinyrnn.codegen.checks import check_range as _check_range
from tinyrnn.codegen.kernel_set import KERNEL_SOURCES, kernel_key, kernel_selection
from tinyrnn.core import domain
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden import gru_s8, lstm_s8
from tinyrnn.core.golden.dense_s8 import activation_range, effective_bias
from tinyrnn.core.golden.dense_s16 import activation_range_s16
from tinyrnn.core.golden.lut import sigmoid_table_uint16
from tinyrnn.core.ir import (
    DENSE_ACTIVATIONS,
    FRONT_KINDS,
    GLOBAL_KINDS,
    RECURRENT_KINDS,
    Conv1DLayer,
    DenseLayer,
    GRULayer,
    LSTMLayer,
    Model,
    SimpleRNNLayer,
)
from tinyrnn.core.validate import check_front, check_global, check_output_bits, check_table

# Bump when a kernel signature or params struct changes: the device reports it (INFO).
# 2: tinyrnn_gru_s8 added. 3: per-path weight layouts, precomputed requantization.
# 4: tinyrnn_activation_s8 (hidden Dense sigmoid/tanh/softmax tables), relu6.
# 5: tinyrnn_bidirectional_s8 (the Bidirectional merge); the device glue's run_chunk gets "last";
#    tinyrnn_conv1d_s8 and tinyrnn_pool1d_s8 (the streaming front end).
# 6: tinyrnn_global_pool1d_s8; tinyrnn_lstm_s16 and tinyrnn_dense_s16 (16x8 models: int16 inputs and
#    outputs).
KERNEL_ABI_VERSION = 6
# A hidden Dense layer's table activation: its kernel and the C type of its table.
TABLE_KERNELS = {"sigmoid": ("tinyrnn_table_s8", np.int8), "tanh": ("tinyrnn_table_s8", np.int8),
                 "softmax": ("tinyrnn_softmax_s8", np.uint16)}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def template_env() -> jinja2.Environment:
    """The Jinja2 environment over the package's templates (StrictUndefined: a missing
    value is an error, never an empty string in C)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tinyrnn.codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


# --------------------------------------------------------------------------- checks
def _check_structure(model: Model, name: str) -> None:
    if not _NAME_RE.match(name):
        raise TinyrnnError(f"model name {name!r} is not a C identifier (letters, digits, _)")
    if not model.layers:
        raise TinyrnnError("model has no layers")
    seen_dense = seen_recurrent = False
    for k, layer in enumerate(model.layers):
        where = f"layer {k} ({layer.name})"
        if isinstance(layer, DenseLayer):
            seen_dense = True
            check_output_bits(layer, where, last=k == len(model.layers) - 1)
        elif layer.kind in FRONT_KINDS:
            if seen_dense or seen_recurrent:
                raise TinyrnnError(f"{where}: a Conv1D or pooling layer must come before the recurrent layers")
        elif layer.kind in GLOBAL_KINDS:
            check_global(model, k, where)
        elif not isinstance(layer, (LSTMLayer, GRULayer, SimpleRNNLayer)) and layer.kind != "bidirectional":
            raise TinyrnnError(f"{where}: layer kind {layer.kind!r} has no C kernel yet")
        elif seen_dense:
            raise TinyrnnError(f"{where}: recurrent layers must come before the Dense head")
        else:
            seen_recurrent = True
    width = model.input_size
    for k, layer in enumerate(model.layers):
        where = f"layer {k} ({layer.name})"
        if layer.input_size != width:
            raise TinyrnnError(f"{where}: input size {layer.input_size} != previous output {width}")
        if min(layer.input_size, layer.output_size) < 1:
            raise TinyrnnError(f"{where}: empty layer")
        width = layer.output_size
    check_front(model)
    recurrent = [layer for layer in model.layers if layer.kind in RECURRENT_KINDS]
    if not recurrent:
        raise TinyrnnError("model has no recurrent layer")
    for layer in recurrent[:-1]:
        if not layer.return_sequences:
            raise TinyrnnError(f"layer {layer.name}: a stacked recurrent layer must return sequences")


# --------------------------------------------------------------------------- layers
_cint, _array = layout.c_int, layout.c_array


def _comment(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.,:;()\[\]+\-= ]", "_", str(text))


def _lstm(layer: LSTMLayer, prefix: str, where: str, lut_name: str, path: str) -> tuple[dict, list]:
    H, I, G = layer.hidden_size, layer.input_size, len(lstm_s8.GATES)
    w_x = _as_int(where, "w_x", layer.w_x, np.int8, (G, H, I))
    w_h = _as_int(where, "w_h", layer.w_h, np.int8, (G, H, H))
    _as_int(where, "bias", layer.bias, np.int32, (G, H))
    mults = {k: _as_int(where, k, getattr(layer, k), np.int32, (G,)) for k in
             ("gate_x_multiplier", "gate_x_shift", "gate_h_multiplier", "gate_h_shift")}
    scalars = {k: int(getattr(layer, k)) for k in (
        "forget_to_cell_multiplier", "forget_to_cell_shift", "input_to_cell_multiplier",
        "input_to_cell_shift", "hidden_multiplier", "hidden_shift")}
    for k in ("forget_to_cell_multiplier", "input_to_cell_multiplier", "hidden_multiplier"):
        _check_range(where, k, scalars[k], INT32_MIN, INT32_MAX)
    _check_range(where, "input_zero_point", layer.input_zero_point, -128, 127)
    _check_range(where, "hidden_zero_point", layer.hidden_zero_point, -128, 127)
    bounds = domain.check_layer(layer, where)  # the one numeric domain validate applies at load
    bias_x, bias_h = lstm_s8.effective_biases(layer)
    bound_x, bound_h = bounds["bound_x"], bounds["bound_h"]  # (G, H)
    tanh_shift = int(layer.cell_scale_power) + 12  # cell state (scale 2^p) → Q3.12
    clip = int(layer.cell_clip)
    cell_min, cell_max = (max(-clip, -32768), min(clip, 32767)) if clip > 0 else (-32768, 32767)

    # One block per unit with its four gate rows (see tinyrnn_lstm_s8.h, codegen/layout.py).
    arrays = [
        layout.weight_array(f"{prefix}_w_x", w_x, f"{where}: input weights, 4 gate rows per unit over I", path),
        layout.weight_array(f"{prefix}_w_h", w_h, f"{where}: recurrent weights, 4 gate rows per unit over H", path),
        _array(f"{prefix}_bias", layout.unit_biases(bias_x, bias_h), np.int32,
               f"{where}: [H][8] effective input biases of the 4 gates, then recurrent"),
    ]
    gates = layout.gate_requants(mults, bound_x, bound_h)
    cell = {stem: layout.requant(scalars[f"{stem}_multiplier"], scalars[f"{stem}_shift"], domain.CELL_PRODUCT_BOUND)
            for stem in ("forget_to_cell", "input_to_cell", "hidden")}
    tanh_mul, tanh_round, tanh_rshift = layout.tanh_prescale(tanh_shift)
    fields = {"input_size": I, "hidden_size": H, "w_x": arrays[0]["cname"], "w_h": arrays[1]["cname"],
              "bias": arrays[2]["cname"], "gate": layout.c_structs(gates),
              **{stem: layout.c_struct(q) for stem, q in cell.items()},
              "hidden_zero_point": int(layer.hidden_zero_point),
              "reference": layout.needs_reference(gates, *cell.values()), "cell_clipped": int((cell_min, cell_max) != (-32768, 32767)),
              "cell_min": cell_min, "cell_max": cell_max, "tanh_cell_mul": tanh_mul, "tanh_cell_round": tanh_round,
              "tanh_cell_shift": tanh_rshift, "sigmoid_lut": lut_name}
    return fields, arrays


def _gru(layer: GRULayer, prefix: str, where: str, lut_name: str, path: str) -> tuple[dict, list]:
    H, I, G = layer.hidden_size, layer.input_size, len(gru_s8.GATES)
    w_x = _as_int(where, "w_x", layer.w_x, np.int8, (G, H, I))
    w_h = _as_int(where, "w_h", layer.w_h, np.int8, (G, H, H))
    _as_int(where, "bias_x", layer.bias_x, np.int32, (G, H))
    _as_int(where, "bias_h", layer.bias_h, np.int32, (G, H))
    mults = {k: _as_int(where, k, getattr(layer, k), np.int32, (G,)) for k in
             ("gate_x_multiplier", "gate_x_shift", "gate_h_multiplier", "gate_h_shift")}
    _check_range(where, "input_zero_point", layer.input_zero_point, -128, 127)
    # The kernel's h8 is round(h16 / 256): scale 1/128, zero point 0, whatever the IR says.
    if int(layer.hidden_zero_point) != 0 or float(layer.hidden_scale) != 1.0 / 128:
        raise TinyrnnError(f"{where}: GRU hidden state must have scale 1/128 and zero point 0 "
                           f"(got {layer.hidden_scale}, {layer.hidden_zero_point})")
    if layer.reset_after not in (True, False):
        raise TinyrnnError(f"{where}: reset_after must be a bool, got {layer.reset_after!r}")
    bounds = domain.check_layer(layer, where)
    bias_x, bias_h = gru_s8.effective_biases(layer)
    bound_x, bound_h = bounds["bound_x"], bounds["bound_h"]  # (G, H); |h8|, |r*h| <= 128

    # One block per unit with its gate rows (see tinyrnn_gru_s8.h, codegen/layout.py).
    # Without reset_after the candidate rows (the last gate's) are read by a second pass over r*h.
    arrays = [layout.weight_array(f"{prefix}_w_x", w_x, f"{where}: input weights, 3 gate rows per unit over I", path)]
    if layer.reset_after:
        arrays.append(layout.weight_array(f"{prefix}_w_h", w_h, f"{where}: recurrent weights, 3 gate rows per unit "
                                          "over H", path))
    else:
        split = gru_s8.GATE_CANDIDATE
        arrays.append(layout.weight_array(f"{prefix}_w_h", w_h[:split], f"{where}: recurrent update and reset rows "
                                          "over H", path))
        arrays.append(layout.weight_array(f"{prefix}_w_hc", w_h[split:], f"{where}: recurrent candidate rows over r*h",
                                          path))
    arrays.append(_array(f"{prefix}_bias", layout.unit_biases(bias_x, bias_h), np.int32,
                         f"{where}: [H][6] effective input biases of the 3 gates, then recurrent"))
    gates = layout.gate_requants(mults, bound_x, bound_h)
    fields = {"input_size": I, "hidden_size": H, "reset_after": int(bool(layer.reset_after)),
              "w_x": arrays[0]["cname"], "w_h": arrays[1]["cname"],
              "w_hc": "0" if layer.reset_after else arrays[2]["cname"], "bias": arrays[-1]["cname"],
              "gate": layout.c_structs(gates), "reference": layout.needs_reference(gates), "sigmoid_lut": lut_name}
    return fields, arrays


def _dense_table(layer: DenseLayer, prefix: str, where: str) -> tuple[dict | None, list]:
    """The call of a hidden layer's table activation (kernel, table, size) and its const array."""
    if not layer.has_table:
        return None, []
    kernel, dtype = TABLE_KERNELS[layer.activation]
    array = _array(f"{prefix}_table", _as_int(where, "table", layer.table, dtype, (256,)), dtype,
                   f"{where}: {layer.activation} table (tinyrnn.core.golden.activation_s8)")
    call = {"kernel": kernel, "table": array["cname"], "size": layer.output_size, "activation": layer.activation}
    return call, [array]


def _dense(layer: DenseLayer, prefix: str, where: str) -> tuple[dict, list]:
    O, I = layer.output_size, layer.input_size
    w = _as_int(where, "weights", layer.weights, np.int8, (O, I))
    _as_int(where, "bias", layer.bias, np.int32, (O,))
    mult = _as_int(where, "multiplier", layer.multiplier, np.int32, (O,))
    shift = _as_int(where, "shift", layer.shift, np.int32, (O,))
    _check_range(where, "input_zero_point", layer.input_zero_point, -128, 127)
    _check_range(where, "output_zero_point", layer.output_zero_point, -128, 127)
    if layer.activation not in DENSE_ACTIVATIONS:
        raise TinyrnnError(f"{where}: activation {layer.activation!r} not one of {', '.join(DENSE_ACTIVATIONS)}")
    domain.check_layer(layer, where)
    bias = effective_bias(layer)
    arrays = [
        _array(f"{prefix}_weights", w, np.int8, f"{where}: weights [O][I]"),
        _array(f"{prefix}_bias", bias, np.int32, f"{where}: effective bias [O]"),
        _array(f"{prefix}_multiplier", mult, np.int32, f"{where}: per-channel multiplier [O]"),
        _array(f"{prefix}_shift", shift, np.int32, f"{where}: per-channel shift [O]"),
    ]
    fields = {"input_size": I, "output_size": O, "weights": arrays[0]["cname"], "bias": arrays[1]["cname"],
              "multiplier": arrays[2]["cname"], "shift": arrays[3]["cname"],
              "output_zero_point": int(layer.output_zero_point)}
    wide_out = layer.output_bits == 16  # int16 logits (tinyrnn_dense_s8_s16)
    fields["activation_min"], fields["activation_max"] = (activation_range_s16 if wide_out else activation_range)(layer)
    return fields, arrays


# --------------------------------------------------------------------------- context
def _recurrent(layer, k: int, prefix: str, where: str, lut_name: str, source: str, path: str,
               tag: str = "") -> tuple[dict, list]:
    """Template entry of one recurrent layer, its arrays; entry["state"] lists its state
    members (ctype, field, length, reset value, comment) and entry["scratch"] the
    (int32 work, int16, int8) workspace lengths its kernel needs. ``tag`` names a
    Bidirectional layer's direction (its state members are l{k}{tag}_...)."""
    H, h, k = layer.hidden_size, f"l{k}{tag}_h", f"{k}{tag}"
    work = layout.stage_words(layer.input_size) + layout.stage_words(H)  # x and h staged (tinyrnn_dot.h)
    entry = {"index": k, "kind": layer.kind, "params": f"{prefix}_params", "input": source, "h": h, "size": H,
             "comment": where}
    if isinstance(layer, LSTMLayer):
        fields, arrays = _lstm(layer, prefix, where, lut_name, path)
        # h starts at the hidden zero point (real zero), as in the golden model.
        state = [("int16_t", f"l{k}_c", H, 0, f"{where}: cell state"),
                 ("int8_t", h, H, int(layer.hidden_zero_point), f"{where}: hidden state")]
        entry.update(ctype="tinyrnn_lstm_s8_params", kernel="tinyrnn_lstm_s8_step", scratch=(work, 0, 0),
                     args=f"st->{h}, st->l{k}_c, st->work")
    elif isinstance(layer, SimpleRNNLayer):
        fields, arrays = rnn.rnn_fields(layer, prefix, where, lut_name, path)
        state = [("int8_t", h, H, int(layer.hidden_zero_point), f"{where}: hidden state")]
        entry.update(ctype="tinyrnn_rnn_s8_params", kernel="tinyrnn_rnn_s8_step", scratch=(work, 0, 0),
                     args=f"st->{h}, st->work")
    else:
        fields, arrays = _gru(layer, prefix, where, lut_name, path)
        state = [("int16_t", f"l{k}_h16", H, 0, f"{where}: hidden state Q0.15"),
                 ("int8_t", h, H, 0, f"{where}: hidden state int8, round(h16 / 256)")]
        workspace = "0, 0" if layer.reset_after else "st->scratch, st->scratch8"
        entry.update(ctype="tinyrnn_gru_s8_params", kernel="tinyrnn_gru_s8_step",
                     scratch=(work, 0, 0) if layer.reset_after else (work, 2 * H, H),
                     args=f"st->l{k}_h16, st->{h}, st->work, {workspace}")
    # state_io: the order the host driver reads an explicit state in (LSTM h, c; GRU h8, h16; RNN h).
    entry.update(fields=fields, state=state, state_io=[f[1] for f in state[::-1]])
    return entry, arrays


def build_context(model: Model, name: str, path: str = "wide") -> dict:
    """Everything the templates need for kernel ``path`` (layout.PATH_IDS), every number
    already computed. The default is what a PC build autodetects (host tests)."""
    _check_structure(model, name)
    if path not in layout.PATH_IDS:
        raise TinyrnnError(f"unknown kernel path {path!r}; valid paths: {', '.join(layout.PATH_IDS)}")
    digest = model.content_hash()
    lut_name = f"tinyrnn_{name}_sigmoid_lut"
    arrays = [_array(lut_name, sigmoid_table_uint16(), np.uint16, "sigmoid(i/24) in Q0.16 (tinyrnn.golden.lut)")]
    recurrent, head, members, front, plan, tails = [], [], [], [], [], []
    act_t = "int16_t" if model.activation_bits == 16 else "int8_t"  # the C type of inputs and hidden states
    out_t = "int16_t" if model.output_bits == 16 else "int8_t"  # of outputs: int16 logits in an int8 model too
    dense_layers = [k for k, layer in enumerate(model.layers) if isinstance(layer, DenseLayer)]
    source = "x_t"
    for k, layer in enumerate(model.layers):
        prefix, where = f"tinyrnn_{name}_l{k}", f"layer {k} ({_comment(layer.name)})"
        if layer.kind in FRONT_KINDS:  # the front end: streams, feeds the recurrent stack
            if isinstance(layer, Conv1DLayer):
                entry, arrs = conv.conv_entry(layer, k, prefix, where, source, path)
            else:
                entry, arrs = conv.pool_entry(layer, k, prefix, where, source)
            front.append(entry)
            members.extend(entry["state"])
            source = f"st->{entry['out']}"
        elif layer.kind == "bidirectional":  # two directions and the merge (codegen/window.py)
            entries = [_recurrent(getattr(layer, d), k, f"{prefix}{d[0]}", f"{where} {d}", lut_name, source, path, d[0])
                       for d in ("forward", "backward")]
            arrs = [a for _, direction in entries for a in direction]
            plan.append(window.step(layer, where, [e for e, _ in entries], window.merge(layer, prefix, where)))
        elif layer.kind == "global_pool1d":  # runs with the stack (codegen/pooling.py)
            tails.append(pooling.global_pool_entry(layer, k, prefix, where, source))
            members.extend(tails[-1]["state"])
            source, arrs = f"st->{tails[-1]['out']}", []
        elif layer.kind == "flatten":  # the head reads the whole-window sequence buffer (codegen/window.py)
            arrs = []
        elif layer.kind in ("lstm", "rnn") and layer.activation_bits == 16:
            entry, arrs = (wide.lstm_entry if layer.kind == "lstm" else wide.rnn_entry)(layer, k, prefix, where,
                                                                                       lut_name, source)
            plan.append(window.step(layer, where, [entry]))
        elif not isinstance(layer, DenseLayer):
            entry, arrs = _recurrent(layer, k, prefix, where, lut_name, source, path)
            plan.append(window.step(layer, where, [entry]))
        if layer.kind in RECURRENT_KINDS:
            recurrent.extend(plan[-1]["dirs"])
            members.extend(f for e in plan[-1]["dirs"] for f in e["state"])
            source = f"st->{recurrent[-1]['h']}"
        elif isinstance(layer, DenseLayer):
            fields, arrs = (wide.dense_fields if layer.activation_bits == 16 else _dense)(layer, prefix, where)
            last = k == dense_layers[-1]
            check_table(layer, where, last)  # a table only in a hidden sigmoid/tanh/softmax layer
            table, table_arrays = _dense_table(layer, prefix, where)
            arrs += table_arrays
            out = None if last else f"l{k}_out"
            if out:
                members.append((act_t, out, layer.output_size, 0, f"{where}: output"))
            stem = KERNEL_SOURCES[kernel_key(layer)][:-2]
            head.append({"index": k, "params": f"{prefix}_params", "fields": fields, "input": source,
                         "kernel": stem, "ctype": f"{stem}_params",
                         "output": "y" if last else f"st->{out}", "comment": where, "table": table})
            source = f"st->{out}"
        arrays.extend(arrs)
    whole = window.context(model, plan, head, members, tails, {"entries": front, "arrays": arrays, "name": name})
    # One workspace shared by all layers (they run one after another); C has no
    # zero-length arrays, so a member exists only when some kernel uses it.
    work, scratch16, scratch8 = (max(r["scratch"][i] for r in recurrent) for i in (0, 1, 2))
    work = max(work, 1)  # a 16x8 model's kernels use none; one word keeps the struct word aligned
    members.append(("int32_t", "work", work, 0, "kernel work area: the step's input vectors, staged"))
    if scratch16:
        members.append(("int16_t", "scratch", scratch16, 0, "kernel scratch (new values until the old ones are dropped)"))
    if scratch8:
        members.append(("int8_t", "scratch8", scratch8, 0, "GRU kernel scratch (r * h of the reset_after=0 variant)"))
    fields_by_type = {t: [f for f in members if f[0] == t] for t in ("int32_t", "int16_t", "int8_t")}
    # Struct layout: int32 members first, then int16, then int8, so sizeof is
    # 4*n32 + 2*n16 + n8 rounded up to 4 on every ABI we target (the work area makes the
    # struct word aligned); the generated C checks sizeof against this number.
    n32, n16, n8 = (sum(f[2] for f in fields_by_type[t]) for t in ("int32_t", "int16_t", "int8_t"))
    state_bytes = -(-(4 * n32 + 2 * n16 + n8) // 4) * 4
    last = model.layers[-1]
    activation = last.activation if isinstance(last, DenseLayer) else "none"
    io, io_arrays = quant_io.io_context(model, name, activation)
    arrays.extend(io_arrays)
    # Kernels by what the layers need: their kinds, and the table activations if any layer has one.
    tables = {"activation"} if any(h["table"] for h in head) else set()
    kernels = {kernel_key(layer) for layer in model.layers if layer.kind != "flatten"}  # a Flatten is the buffer's layout
    kinds = sorted(kernels | tables | window.inner_kinds(model))
    return {
        "name": name, "NAME": name.upper(), "hash": digest, "kernel_abi": KERNEL_ABI_VERSION, "act_t": act_t,
        "act_type": act_t[:-2], "out_t": out_t, "out_type": out_t[:-2], "act_min": -(2 ** (model.activation_bits - 1)),
        "act_max": 2 ** (model.activation_bits - 1) - 1, "quant_clip": 2**model.activation_bits,
        "model_name": _comment(model.name), "path": path, "PATH": path.upper(),
        "path_id": layout.PATH_IDS[path],
        "kinds": kinds, "headers": [KERNEL_SOURCES[k].replace(".c", ".h") for k in kinds],
        "input_size": model.input_size, "output_size": model.output_size,
        "returns_sequences": model.returns_sequences, "returns_sequences_flag": int(model.returns_sequences),
        "state_bytes": state_bytes, "work_bytes": 4 * work + 2 * scratch16 + scratch8,
        "output_zero_point": int(model.output_zero_point),
        "output_activation": activation, "caller_activation": activation in ("sigmoid", "softmax"),
        "recurrent": recurrent, "head": head, "arrays": arrays, "tails": tails,
        "last_h": tails[-1]["out"] if tails else recurrent[-1]["h"],
        "front": front, "warmup": model.front_timing[0], "front_stride": model.front_timing[1],
        "state_fields": [f for t in ("int32_t", "int16_t", "int8_t") for f in fields_by_type[t]],
        "weights_bytes": sum(a["bytes"] for a in arrays), "step_stack_bytes": None, "stack_note": "", **io, **whole,
    }


# --------------------------------------------------------------------------- output
def _write(path: Path, text: str | bytes) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    # newline="" semantics: bytes as rendered, so output is identical on every OS.
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def render(context: dict) -> dict:
    """{file name: text} for the model-specific files."""
    env, name = template_env(), context["name"]
    return {
        f"{name}.h": env.get_template("model.h.j2").render(**context),
        f"{name}.c": env.get_template("model.c.j2").render(**context),
        f"{name}_weights.h": env.get_template("weights.h.j2").render(**context),
        f"{name}_weights.c": env.get_template("weights.c.j2").render(**context),
    }


def write_files(context: dict, out_dir) -> dict:
    """Write the rendered model files and the kernels they need (kernel_set.kernel_selection);
    the result ``generate`` returns."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {**render(context), **{k.name: k.read_bytes() for k in kernel_selection(context["kinds"])}}
    for fname, text in files.items():
        _write(out / fname, text)
    return {"files": [str(out / f) for f in sorted(files)], "state_bytes": context["state_bytes"],
            "weights_bytes": context["weights_bytes"], "path": context["path"]}


def generate(model: Model, out_dir, name: str | None = None, path: str = "wide") -> dict:
    """Render the model's C for kernel ``path`` into ``out_dir``; returns files (paths),
    state_bytes, weights_bytes (this path's layout) and path."""
    return write_files(build_context(model, name or "model", path), out_dir)
