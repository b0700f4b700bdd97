"""Fidelity: the integer golden model against the float twin, tensor by tensor.

Both runs keep every time step of every gate (int64 probes, float64 traces), which for a
realistic evaluation set is gigabytes; so the data goes through in chunks of sequences
and each tensor keeps only running sums (signal and noise energy, saturation counts,
histogram counts on fixed bins). Sums over chunks equal sums over the whole set, so the
numbers do not depend on the chunk size.
"""

from __future__ import annotations

import math

import numpy as np

from tinyrnn.core.activations import activate
from tinyrnn.core.golden.model import RECURRENT, kernel
from tinyrnn.core.ir import TABLE_ACTIVATIONS, Model
from tinyrnn.quantize.report_stats import (
    GATE_SYMBOLS, GATES, HIST_BINS, INT8, INT16, MARGIN, NO_WEIGHTS, ONE_TENSOR, PER_CHANNEL, Q15, Q312, act_dtype,
    out_bits, pre_scale, sqnr_db,
)


class TensorStats:
    """Running error and range statistics of one integer tensor against its float twin."""

    def __init__(self, name, label, dtype, limits, dequant, saturates=(True, True)):
        self.name, self.label, self.dtype, self.limits = name, label, dtype, limits
        # A relu output's lowest code is its zero, not a clipped value: not counted as saturated.
        self.sat_lo = limits[0] if saturates[0] else limits[0] - 1
        self.sat_hi = limits[1] if saturates[1] else limits[1] + 1
        self.real_range = [float(dequant(np.float64(limits[0]))), float(dequant(np.float64(limits[1])))]
        # Bins are whole runs of integer codes, so the int histogram has no aliasing
        # stripes; a margin beside the int range keeps float values beyond it visible.
        span = limits[1] - limits[0] + 1
        width = max(1, math.ceil(span * (1 + 2 * MARGIN) / HIST_BINS))
        margin = math.ceil(span * MARGIN / width) * width
        codes = np.arange(limits[0] - 0.5 - margin, limits[1] + 0.5 + margin + width / 2, width)
        self.edges = dequant(codes)
        self.signal = self.noise = 0.0
        self.saturated = self.total = 0
        self.q_min, self.q_max = limits[1], limits[0]
        self.hist_float = np.zeros(len(self.edges) - 1, np.int64)
        self.hist_int = np.zeros(len(self.edges) - 1, np.int64)

    def add(self, ref: np.ndarray, q: np.ndarray, deq: np.ndarray) -> None:
        self.signal += float(np.sum(ref**2))
        self.noise += float(np.sum((deq - ref) ** 2))
        self.saturated += int(np.count_nonzero((q <= self.sat_lo) | (q >= self.sat_hi)))
        self.total += int(q.size)
        self.q_min, self.q_max = min(self.q_min, int(q.min())), max(self.q_max, int(q.max()))
        lo, hi = self.edges[0], self.edges[-1]
        self.hist_float += np.histogram(np.clip(ref, lo, hi), self.edges)[0]
        self.hist_int += np.histogram(np.clip(deq, lo, hi), self.edges)[0]

    def result(self) -> dict:
        span = self.limits[1] - self.limits[0]
        return {
            "tensor": self.name, "label": self.label, "dtype": self.dtype,
            "sqnr_db": sqnr_db(self.signal, self.noise),
            "rms_error": float(np.sqrt(self.noise / max(self.total, 1))),
            "saturated": self.saturated, "total": self.total,
            "saturated_pct": 100.0 * self.saturated / max(self.total, 1),
            "range_used_pct": 100.0 * max(self.q_max - self.q_min, 0) / span,
        }  # fmt: skip

    def histogram(self) -> dict:
        return {"title": self.label, "edges": self.edges.tolist(), "float": self.hist_float.tolist(),
                "int": self.hist_int.tolist(), "range": self.real_range}  # fmt: skip


def _tensor_specs(q) -> list:
    """(probe name, label, dtype, int limits, dequantize: int code → real value)."""
    if q.kind in ONE_TENSOR:  # what the layer passes on: after its table, if it has one
        # The low rail is no saturation after a relu, nor in pooling over a grid from 0 (it passes a relu's on).
        relu = getattr(q, "activation", "") in ("relu", "relu6") or (q.kind in NO_WEIGHTS and q.input_zero_point == -128)
        return [("output", "output", f"int{out_bits(q)}", INT16 if out_bits(q) == 16 else INT8,
                 lambda v: (v - q.result_zero_point) * q.result_scale,
                 (not relu, True))]
    if q.kind == "bidirectional":  # the merged output; its directions' states are not probed
        return [("output", "output", "int8", INT8, lambda v: (v - q.output_zero_point) * q.output_scale)]
    if q.kind == "rnn":
        relu, unit = q.activation == "relu", pre_scale(q)
        return [("pre_activation", "pre-activation (a)", "int16" if relu else "Q3.12", INT16, lambda v: v * unit),
                ("hidden", "hidden state", act_dtype(q), q.int_limits,
                 lambda v: (v - q.hidden_zero_point) * q.hidden_scale, (not relu, True))]
    gates = GATES[q.kind]
    specs = [(f"gate_{g}", f"{g} gate ({GATE_SYMBOLS[g]}) pre-act.", "Q3.12", INT16, lambda v: v / Q312) for g in gates]
    if q.kind == "lstm":
        c = 2.0**q.cell_scale_power
        specs.append(("cell", "cell state", "int16", INT16, lambda v: v * c))
        specs.append(("hidden", "hidden state", act_dtype(q), q.int_limits,
                      lambda v: (v - q.hidden_zero_point) * q.hidden_scale))
    else:
        specs.append(("hidden", "hidden state", "Q0.15", INT16, lambda v: v / Q15))
    return specs


def _float_tensors(flayer, trace: dict, q) -> dict:
    """Float traces per probe name, each (N, T, H) (Dense: its output as it leaves the
    layer, i.e. as its int8 twin ``q``: the last layer's sigmoid/tanh/softmax not applied)."""
    if flayer.kind in NO_WEIGHTS:
        return {"output": trace["output"][0]}
    if flayer.kind == "bidirectional":
        return {"output": trace["merged"][0]}
    if flayer.kind in PER_CHANNEL:
        z = trace["logits"][0]
        head = flayer.activation in TABLE_ACTIVATIONS and not q.has_table
        return {"output": z if head else activate(flayer.activation, z)}
    if flayer.kind == "rnn":
        return {"pre_activation": np.stack(trace["gates"], axis=1), "hidden": np.stack(trace["hidden"], axis=1)}
    names = GATES[flayer.kind]
    gates = np.split(np.stack(trace["gates"], axis=1), len(names), axis=-1)
    out = {f"gate_{g}": v for g, v in zip(names, gates)}
    out["hidden"] = np.stack(trace["hidden"], axis=1)
    if flayer.kind == "lstm":
        out["cell"] = np.stack(trace["cell"], axis=1)
    return out


def run_int_layers(model: Model, x_q: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, list]:
    """The golden model layer by layer (as ``run_model``), also keeping each Dense layer's output.

    ``run_model`` probes only recurrent layers; an intermediate Dense layer's output
    is needed to compare it with the float twin.
    """
    y, probes = np.asarray(x_q, model.int_dtype), []
    for layer in model.layers:
        record: dict = {}
        if layer.kind in ONE_TENSOR:
            y = kernel(layer)(layer, y)
            record["output"] = [y]
        elif layer.kind == "bidirectional":  # (N, T, W), or (N, 1, W) as the float twin traces it
            seq, _ = RECURRENT[layer.kind](layer, y, valid=valid)
            record["output"] = [seq]
            y = seq if layer.return_sequences else seq[:, -1]
        else:
            seq, _ = kernel(layer)(layer, y, probe=lambda name, v, r=record: r.setdefault(name, []).append(np.asarray(v)),
                                   valid=valid)
            y = seq if layer.return_sequences else seq[:, -1]
        probes.append(record)
    return y, probes


class Fidelity:
    """Accumulates per-layer tensor statistics and per-step hidden-state error over chunks."""

    def __init__(self, model: Model, steps: int):
        self.model = model
        self.layers = [[TensorStats(*spec) for spec in _tensor_specs(q)] for q in model.layers]
        self.dequant = [{spec[0]: spec[4] for spec in _tensor_specs(q)} for q in model.layers]
        self.err_sq = [np.zeros(steps) for _ in model.layers]
        self.ref_sq = [np.zeros(steps) for _ in model.layers]
        self.count = [0 for _ in model.layers]

    def add(self, float_model, traces: list, probes: list) -> None:
        for i, (flayer, trace, record) in enumerate(zip(float_model.layers, traces, probes)):
            ref = _float_tensors(flayer, trace, self.model.layers[i])
            for stats in self.layers[i]:
                q = np.stack(record[stats.name], axis=1) if stats.name != "output" else record["output"][0]
                deq = self.dequant[i][stats.name](q.astype(np.float64))
                stats.add(ref[stats.name], q, deq)
                if stats.name == "hidden":  # (N, T, H): error per time step, a valid Conv1D's shorter T at the end
                    self.err_sq[i][-q.shape[1]:] += np.sum((deq - ref["hidden"]) ** 2, axis=(0, 2))
                    self.ref_sq[i][-q.shape[1]:] += np.sum(ref["hidden"] ** 2, axis=(0, 2))
                    self.count[i] += q.shape[0] * q.shape[2]

    def result(self) -> list:
        out = []
        for q, stats, err, ref, n in zip(self.model.layers, self.layers, self.err_sq, self.ref_sq, self.count):
            entry = {"name": q.name, "kind": q.kind, "tensors": [s.result() for s in stats], "histograms": [s.histogram() for s in stats]}
            if any(s.name == "hidden" for s in stats):
                entry["error_over_time"] = {"rms_error": np.sqrt(err / max(n, 1)).tolist(), "rms_float": np.sqrt(ref / max(n, 1)).tolist()}
            out.append(entry)
        return out
