"""Numbers behind the quantization report: model summary and quantization scheme (the
fidelity statistics are in report_fidelity.py), and the tensor vocabulary both use.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core.golden.rnn_s8 import OUTPUT_SHIFT
from tinyrnn.core.ir import GATES_GRU, GATES_LSTM, GLOBAL_KINDS, Model

SQNR_FLOOR = -99.0
HIST_BINS = 160  # about; int8 tensors get one bin per two codes
MARGIN = 0.1  # of the int range, on each side of the activation histograms
Q312 = 4096.0  # gate pre-activations are Q3.12
Q15 = 32768.0  # GRU hidden state is Q0.15
INT16 = (-32768, 32767)
INT8 = (-128, 127)
GATE_SYMBOLS = {"input": "i", "forget": "f", "cell": "g", "output": "o", "update": "z", "reset": "r", "candidate": "h~",
                "pre_activation": "a"}
GATES = {"lstm": GATES_LSTM, "gru": GATES_GRU, "rnn": ("pre_activation",)}  # SimpleRNN: its one pre-activation
# Layers with per-output-channel weights (a Conv1D is the Dense of a window); with pooling,
# the layers whose one tensor is their output.
PER_CHANNEL = ("dense", "conv1d")
NO_WEIGHTS = ("pool1d", "global_pool1d", "flatten")  # their output is their input's grid
ONE_TENSOR = (*PER_CHANNEL, *NO_WEIGHTS)


def _gate_params(q, g: int) -> tuple:
    """(w_x, w_h, x multiplier, x shift, h multiplier, h shift) of gate g."""
    if q.kind == "rnn":
        return q.w_x, q.w_h, q.x_multiplier, q.x_shift, q.h_multiplier, q.h_shift
    return q.w_x[g], q.w_h[g], q.gate_x_multiplier[g], q.gate_x_shift[g], q.gate_h_multiplier[g], q.gate_h_shift[g]


def pre_scale(q) -> float:
    """Real value of one unit of a gate pre-activation: Q3.12, or a relu SimpleRNN's s_h·2^-shift
    (16x8: s_h itself, quantize_rnn)."""
    if q.kind == "rnn" and q.activation == "relu":
        return q.hidden_scale * 2.0 ** (0 if q.activation_bits == 16 else -OUTPUT_SHIFT["relu"])
    return 1.0 / Q312


def real_multiplier(multiplier, shift) -> np.ndarray:
    """The real factor a (Q31 multiplier, shift) pair stands for: m·2^shift / 2^31."""
    return np.asarray(multiplier, np.float64) * np.exp2(np.asarray(shift, np.float64) - 31.0)


def sqnr_db(signal_energy: float, noise_energy: float) -> float | None:
    """10·log10(Σref² / Σ(q−ref)²); None when the integer values are exact (no noise).

    An all-zero float tensor with integer noise gets SQNR_FLOOR: finite (strict JSON
    has no −Infinity) and far below anything acceptable.
    """
    if noise_energy <= 0.0:
        return None
    if signal_energy <= 0.0:
        return SQNR_FLOOR
    return max(SQNR_FLOOR, float(10.0 * np.log10(signal_energy / noise_energy)))


# ----------------------------------------------------------------------------- model summary


def _layer_counts(flayer, qlayer) -> tuple[int, int, int]:
    """(float parameters, weight bytes (int8; a 16x16 SimpleRNN's int16), bias bytes (int32,
    int64 at 16x8)) of one layer."""
    arrays = ("kernel", "recurrent_kernel", "bias", "input_bias", "recurrent_bias")
    params = sum(int(np.size(getattr(flayer, a))) for a in arrays if hasattr(flayer, a))
    if qlayer.kind in NO_WEIGHTS:
        return 0, 0, 0
    if qlayer.kind == "bidirectional":
        both = [_layer_counts(f, q) for f, q in ((flayer.forward, qlayer.forward), (flayer.backward, qlayer.backward))]
        return tuple(sum(column) for column in zip(*both))
    if qlayer.kind in PER_CHANNEL:
        return params, int(qlayer.weights.size), _bias_bytes(qlayer) * int(qlayer.bias.size)
    biases = qlayer.bias.size if qlayer.kind in ("lstm", "rnn") else qlayer.bias_x.size + qlayer.bias_h.size
    weight_bytes = (qlayer.w_x.size + qlayer.w_h.size) * getattr(qlayer, "weight_bits", 8) // 8
    return params, int(weight_bytes), _bias_bytes(qlayer) * int(biases)


def _bias_bytes(q) -> int:
    return 8 if getattr(q, "activation_bits", 8) == 16 else 4


def model_summary(float_model, model: Model, steps: int) -> dict:
    """Layers with shapes, parameter counts and MACs; a Dense after a non-sequence layer runs once."""
    layers, per_step, per_inference = [], 0, 0
    sequence = True  # does the tensor entering this layer have a time axis?
    for flayer, qlayer in zip(float_model.layers, model.layers):
        params, w_bytes, b_bytes = _layer_counts(flayer, qlayer)
        if qlayer.kind in ONE_TENSOR:
            macs = getattr(qlayer, "weights", np.zeros(0)).size
        else:
            inner = qlayer.forward if qlayer.kind == "bidirectional" else qlayer
            macs = len(GATES[inner.kind]) * qlayer.hidden_size * (qlayer.input_size + qlayer.hidden_size)
            macs *= 2 if qlayer.kind == "bidirectional" else 1
        runs_per_step = sequence
        per_step += macs if runs_per_step else 0
        per_inference += macs * (steps if runs_per_step else 1)
        layers.append({
            "name": qlayer.name, "kind": qlayer.kind, "input_size": int(qlayer.input_size),
            "output_size": int(qlayer.output_size), "units": int(qlayer.output_size),
            "return_sequences": bool(getattr(qlayer, "return_sequences", sequence)),
            "activation": getattr(qlayer, "activation", getattr(qlayer, "pool", getattr(qlayer, "merge_mode", "tanh"))),
            "params": params, "weight_bytes": w_bytes, "bias_bytes": b_bytes,
            "macs": int(macs), "runs": "every step" if runs_per_step else "once per sequence",
        })  # fmt: skip
        if qlayer.kind not in ONE_TENSOR:
            sequence = bool(qlayer.return_sequences)
        elif qlayer.kind in GLOBAL_KINDS:
            sequence = False
    return {
        "name": model.name, "hash": model.content_hash(), "source": dict(model.meta.get("source", {})),
        "calibration": dict(model.meta.get("calibration", {})), "input_shape": [int(steps), int(model.input_size)],
        "output_size": int(model.output_size), "returns_sequences": bool(model.returns_sequences),
        "classes": list(model.classes), "layers": layers, "activation_bits": model.activation_bits,
        "totals": {
            "params": sum(x["params"] for x in layers), "weight_bytes": sum(x["weight_bytes"] for x in layers),
            "bias_bytes": sum(x["bias_bytes"] for x in layers), "macs_per_step": int(per_step),
            "macs_per_inference": int(per_inference),
        },
    }  # fmt: skip


# ----------------------------------------------------------------------------- quantization scheme


def _weight_sqnr(w_float, w_int, scale) -> float | None:
    ref = np.asarray(w_float, np.float64)
    err = np.asarray(w_int, np.float64) * np.asarray(scale, np.float64) - ref
    return sqnr_db(float(np.sum(ref**2)), float(np.sum(err**2)))


def _recurrent_gate_rows(flayer, q) -> list:
    """Per gate and path: weight scale (recovered from the IR's multiplier), multiplier, shift."""
    rows, top = [], 2 ** (getattr(q, "weight_bits", 8) - 1) - 1
    for g, gate in enumerate(GATES[q.kind]):
        w_float = flayer.gate_weights(g)
        w_x, w_h, mx, sx, mh, sh = _gate_params(q, g)
        for path, w_int, mult, shift, act_scale, wf in (
            ("x", w_x, mx, sx, q.input_scale, w_float[0]),
            ("h", w_h, mh, sh, q.hidden_scale, w_float[1]),
        ):
            real = float(real_multiplier(mult, shift))
            w_scale = real * pre_scale(q) / act_scale  # the multiplier maps s_act·s_w to the pre-activation
            rows.append({
                "gate": gate, "path": path, "weight_scale": w_scale, "range": [-top * w_scale, top * w_scale],
                "multiplier": int(mult), "shift": int(shift), "real_multiplier": real,
                "weight_sqnr_db": _weight_sqnr(wf, w_int, w_scale),
            })  # fmt: skip
    return rows


def _lstm_rescales(q) -> list:
    pairs = (("forget·cell → cell", q.forget_to_cell_multiplier, q.forget_to_cell_shift),
             ("input·cell-gate → cell", q.input_to_cell_multiplier, q.input_to_cell_shift),
             ("output·tanh(cell) → hidden", q.hidden_multiplier, q.hidden_shift))  # fmt: skip
    return [{"name": n, "multiplier": int(m), "shift": int(s), "real_multiplier": float(real_multiplier(m, s))}
            for n, m, s in pairs]  # fmt: skip


def _tensor_row(tensor: str, dtype: str, scale: float, zero_point: int, note: str) -> dict:
    return {"tensor": tensor, "dtype": dtype, "scale": float(scale), "zero_point": int(zero_point), "note": note}


def act_dtype(q) -> str:
    return f"int{getattr(q, 'activation_bits', 8)}"


def out_bits(q) -> int:
    """The layer output's width: int16 for a 16x8 layer and for int16 logits."""
    return max(getattr(q, "activation_bits", 8), getattr(q, "output_bits", 8))


def _grid(q) -> str:
    return "symmetric" if getattr(q, "activation_bits", 8) == 16 else "asymmetric"


def _dense_scheme(flayer, q) -> dict:
    real = real_multiplier(q.multiplier, q.shift)
    w_scale = real * q.output_scale / q.input_scale  # per output channel
    gates = [{
        "gate": "kernel", "path": "per channel", "weight_scale": [float(w_scale.min()), float(w_scale.max())],
        "range": [float(-127 * w_scale.max()), float(127 * w_scale.max())],
        "multiplier": [int(q.multiplier.min()), int(q.multiplier.max())], "shift": [int(q.shift.min()), int(q.shift.max())],
        "real_multiplier": [float(real.min()), float(real.max())],
        "weight_sqnr_db": _weight_sqnr(flayer.kernel.reshape(-1, q.output_size).T, q.weights.reshape(q.output_size, -1),
                                       w_scale[:, None]),
    }]  # fmt: skip
    tensors = [_tensor_row("input", act_dtype(q), q.input_scale, q.input_zero_point, _grid(q)),
               _tensor_row("output", f"int{out_bits(q)}", q.output_scale, q.output_zero_point,
                           f"activation {q.activation}")]  # fmt: skip
    return {"name": q.name, "kind": q.kind, "tensors": tensors, "gates": gates, "rescales": []}


def _layer_scheme(flayer, q) -> dict:
    if q.kind in PER_CHANNEL:
        return _dense_scheme(flayer, q)
    if q.kind == "bidirectional":  # its directions have rows of their own (scheme_pairs); here the merge
        tensors = [_tensor_row("output", "int8", q.output_scale, q.output_zero_point, f"merge {q.merge_mode}")]
        rescales = [] if q.merge_mode == "concat" else [
            {"name": name, "multiplier": int(m), "shift": int(s), "real_multiplier": float(real_multiplier(m, s))}
            for name, m, s in zip(("forward → sum", "backward → sum", "merge → output"), q.merge_multiplier,
                                  q.merge_shift) if q.merge_mode != "mul" or name.startswith("merge")]
        return {"name": q.name, "kind": q.kind, "tensors": tensors, "gates": [], "rescales": rescales}
    if q.kind in NO_WEIGHTS:
        what = f"{q.pool} pooling" if hasattr(q, "pool") else "flattened"
        tensors = [_tensor_row("input, output", "int8", q.input_scale, q.input_zero_point, what)]
        return {"name": q.name, "kind": q.kind, "tensors": tensors, "gates": [], "rescales": []}
    tensors = [_tensor_row("input", act_dtype(q), q.input_scale, q.input_zero_point, _grid(q))]
    wide = getattr(q, "activation_bits", 8) == 16  # a GRU has no 16x8 mode
    if q.kind == "rnn" and q.activation == "relu":
        tensors.append(_tensor_row("pre-activation", "int16", pre_scale(q), 0,
                                   "hidden scale" if wide else "hidden scale / 64"))
    else:
        tensors.append(_tensor_row("gate pre-activations", "int16 Q3.12", 1.0 / Q312, 0, "range ±8"))
    if q.kind == "rnn":
        grid = ("symmetric (relu)" if wide else "asymmetric (relu)") if q.activation == "relu" else (
            "tanh, Q0.15" if wide else "tanh / 256")
        tensors.append(_tensor_row("hidden", act_dtype(q), q.hidden_scale, q.hidden_zero_point, grid))
    elif q.kind == "lstm":
        p = int(q.cell_scale_power)
        tensors.append(_tensor_row("cell state", "int16", 2.0**p, 0, f"power of two 2^{p}, range ±{2.0 ** (15 + p):g}"))
        tensors.append(_tensor_row("hidden", act_dtype(q), q.hidden_scale, q.hidden_zero_point, _grid(q)))
    else:
        tensors.append(_tensor_row("hidden state", "int16 Q0.15", 1.0 / Q15, 0, "carried between steps"))
        tensors.append(_tensor_row("hidden (matmuls, output)", "int8", q.hidden_scale, q.hidden_zero_point, "h16 / 256"))
    rescales = _lstm_rescales(q) if q.kind == "lstm" else []
    return {"name": q.name, "kind": q.kind, "tensors": tensors, "gates": _recurrent_gate_rows(flayer, q), "rescales": rescales}


def _has_normalization(float_model) -> bool:
    return bool(np.any(np.asarray(float_model.mean) != 0) or np.any(np.asarray(float_model.std) != 1))


def scheme_pairs(float_model, model: Model) -> list:
    """(float layer, int8 layer) per scheme row: a Bidirectional layer gives its forward and
    backward directions (named ``layer.forward``, ``layer.backward``), then its merge."""
    pairs = []
    for f, q in zip(float_model.layers, model.layers):
        if q.kind == "bidirectional":
            pairs += [(getattr(f, d), dataclasses.replace(getattr(q, d), name=f"{q.name}.{d}"))
                      for d in ("forward", "backward")]
        pairs.append((f, q))
    return pairs


def quant_scheme(float_model, model: Model) -> dict:
    iq = model.input_quant
    scale = np.asarray(iq.scale, np.float64)
    inp = {"dtype": act_dtype(iq), "zero_point": int(iq.zero_point), "scale": scale.tolist(), "offset": np.asarray(iq.offset, np.float64).tolist(),
           "note": "per-channel offset and scale (the Keras Normalization layer folded in)" if _has_normalization(float_model)
           else "per-channel offset and scale (calibrated ranges; the model has no Normalization layer)"}  # fmt: skip
    return {"input": inp, "layers": [_layer_scheme(f, q) for f, q in scheme_pairs(float_model, model)]}


def weight_histograms(report_scheme: dict, float_model, model: Model) -> list:
    """Float weights per layer/gate/path on bins covering the integer range (±127·scale in int8)."""
    out = []
    for (flayer, _), scheme in zip(scheme_pairs(float_model, model), report_scheme["layers"]):
        panels = []
        for row in scheme["gates"]:
            if scheme["kind"] in PER_CHANNEL:
                w = flayer.kernel
            else:
                g = GATES[scheme["kind"]].index(row["gate"])
                w = flayer.gate_weights(g)[0 if row["path"] == "x" else 1]
            reach = max(abs(row["range"][1]), float(np.abs(w).max(initial=0.0)), 1e-12) * 1.08
            edges = np.linspace(-reach, reach, 41)
            counts, _ = np.histogram(np.clip(w, edges[0], edges[-1]), edges)
            title = ("kernel" if scheme["kind"] in PER_CHANNEL
                     else f"{row['gate']} ({GATE_SYMBOLS[row['gate']]}), {row['path']}")
            panels.append({"title": title, "edges": edges.tolist(), "counts": counts.tolist(), "range": row["range"]})
        if panels:  # pooling and a Bidirectional's merge have no weights
            out.append({"layer": scheme["name"], "kind": scheme["kind"], "panels": panels})
    return out
