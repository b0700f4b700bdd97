"""Quantization report: how far the int8 model is from its float twin, and what it costs.

``build_report`` returns a plain JSON-serializable dict (every number the HTML shows,
plot data included as histogram counts and curves), ``write_html`` renders it as one
self-contained page, ``text_summary`` gives the headline for the terminal. The HTML is
a pure function of the dict, so a saved ``report.json`` re-renders the same page.
"""

from __future__ import annotations

import datetime
import json
import math
import os

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.core.ir import KINDS_16, Model
from tinyrnn.core.metrics import (
    REGRESSION,
    REGRESSION_METRICS,
    check_labels,
    predicted_classes,
    regression_scores,
    task_of,
)
from tinyrnn.core.progress import Progress
from tinyrnn.quantize.float_model import FloatModel
from tinyrnn.quantize.referee import summary as referee_summary
from tinyrnn.quantize.report_html import write_html  # noqa: F401  (public API: report.write_html)
from tinyrnn.quantize.report_fidelity import Fidelity, run_int_layers
from tinyrnn.quantize.report_stats import model_summary, quant_scheme, sqnr_db, weight_histograms

REPORT_FORMAT = "tinyrnn-quant-report"
REPORT_VERSION = 1
CHUNK = 256  # sequences per golden/float pass: bounds memory of the per-step probes
COST_KEYS = ("flash_code", "flash_weights", "ram_state", "ram_scratch", "stack_peak",
             "instructions_per_step", "instructions_per_inference")  # fmt: skip


def _check_data(float_model: FloatModel, model: Model, x, y):
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] == 0:
        raise TinyrnnError(f"report: evaluation data must be (N, T, F) with N > 0, got shape {x.shape}")
    if x.shape[2] != model.input_size:
        raise TinyrnnError(f"report: evaluation data has {x.shape[2]} features, the model takes {model.input_size}")
    if not np.all(np.isfinite(x)):
        raise TinyrnnError("report: evaluation data contains NaN or Inf")
    kinds_f = [layer.kind for layer in float_model.layers]
    kinds_q = [layer.kind for layer in model.layers]
    if kinds_f != kinds_q:
        raise TinyrnnError(f"report: float model layers {kinds_f} do not match the quantized model's {kinds_q}")
    if y is not None:
        y = np.asarray(y)
        if y.shape[0] != x.shape[0]:
            raise TinyrnnError(f"report: {y.shape[0]} labels for {x.shape[0]} sequences")
    return x.astype(np.float32), y


def _input_fidelity(float_model: FloatModel, model: Model, x: np.ndarray) -> dict:
    """Input quantization alone, compared where the network sees it (after normalization)."""
    iq = model.input_quant
    q = iq.quantize(x)
    x_deq = (q.astype(np.float64) - iq.zero_point) * iq.scale + iq.offset
    ref, deq = float_model.normalize(x), float_model.normalize(x_deq)
    sat = int(np.count_nonzero(np.isin(q, iq.int_limits)))
    return {
        "sqnr_db": sqnr_db(float(np.sum(ref**2)), float(np.sum((deq - ref) ** 2))),
        "saturated": sat, "total": int(q.size), "saturated_pct": 100.0 * sat / q.size,
    }  # fmt: skip


def _run_both(float_model: FloatModel, model: Model, x: np.ndarray, progress: bool):
    """Float and integer passes chunk by chunk: (float outputs, dequantized int outputs, fidelity)."""
    fidelity = Fidelity(model, x.shape[1])
    outs_f, outs_q = [], []
    with Progress(x.shape[0], "report", enabled=progress) as bar:
        for start in range(0, x.shape[0], CHUNK):
            chunk = x[start : start + CHUNK]
            traces: list = []
            outs_f.append(float_model.run(chunk, traces))
            y_q, probes = run_int_layers(model, model.input_quant.quantize(chunk), model.valid_steps(chunk))
            outs_q.append(dequantize_output(model, y_q))
            fidelity.add(float_model, traces, probes)
            bar.update(chunk.shape[0])
    return np.concatenate(outs_f), np.concatenate(outs_q), fidelity


def output_error(y_float: np.ndarray, y_int: np.ndarray) -> dict:
    """STM32Cube.AI-style metrics on the dequantized outputs (logits), flattened."""
    ref = y_float.reshape(-1).astype(np.float64)
    got = y_int.reshape(-1).astype(np.float64)
    diff = got - ref
    norm_ref, norm_got = float(np.linalg.norm(ref)), float(np.linalg.norm(got))
    cosine = float(ref @ got / (norm_ref * norm_got)) if norm_ref > 0 and norm_got > 0 else None
    spread = float(np.sum((ref - ref.mean()) ** 2))
    # A window flips when the class of any of its outputs differs between float and int8.
    flips = (predicted_classes(y_float) != predicted_classes(y_int)).reshape(y_float.shape[0], -1).any(axis=1)
    return {
        "max_abs": float(np.abs(diff).max()), "mean_abs": float(np.abs(diff).mean()),
        "mean": float(diff.mean()), "std": float(diff.std()),
        "rmse": float(np.sqrt(np.mean(diff**2))), "cosine": cosine,
        "l2r": float(np.linalg.norm(diff) / norm_ref) if norm_ref > 0 else None,
        # Nash-Sutcliffe efficiency: 1 - Σ error² / Σ (float - its mean)²; 1 = exact.
        "nse": 1.0 - float(diff @ diff) / spread if spread > 0 else None,
        "sqnr_db": sqnr_db(float(ref @ ref), float(diff @ diff)),
        "argmax_agreement": float(np.mean(predicted_classes(y_float) == predicted_classes(y_int))),
        "flipped_windows": np.flatnonzero(flips).tolist(),
    }  # fmt: skip


# Below this share of same decisions the int8 model's accuracy may differ from float's by
# more than 1 pp (it differs by at most the share of changed decisions): quantize says so and
# names the wider modes this model's layers have.
DECISION_BAR = 0.99


def wider_modes(model: Model) -> list:
    """The quantize options that widen this model's arithmetic: 16x8 where every layer has a
    16x8 kernel, then int16 weights for its SimpleRNN layers."""
    if any(layer.kind not in KINDS_16 for layer in model.layers):
        return []
    rnn = any(layer.kind == "rnn" and layer.weight_bits == 8 for layer in model.layers)
    return ["--activations int16"] * (model.activation_bits == 8) + ["--rnn-weights int16"] * rnn


def float_agreement(float_model: FloatModel, model: Model, x: np.ndarray, regression: bool = False) -> dict:
    """The integer model's link to float, measured where it is made (``quantize`` stores it
    in the artifact): its dequantized outputs against the float twin's on ``x`` — output
    SQNR (dB, None if exact) and the share of outputs whose decision (argmax, or one
    logit's sign) is the float one's (None for regression); below ``DECISION_BAR``, the
    ``wider`` modes that could keep more of them."""
    y_float = float_model.run(x)
    y_int = dequantize_output(model, run_model(model, model.input_quant.quantize(x), valid=model.valid_steps(x)))
    err = output_error(y_float, y_int)
    decided = None if regression else err["argmax_agreement"]
    low = {"wider": wider_modes(model)} if decided is not None and decided < DECISION_BAR else {}
    return {"windows": int(x.shape[0]), "bits": model.activation_bits, "sqnr_db": err["sqnr_db"],
            "decision_agreement": decided, **low}


def agreement_summary(agreement: dict | None) -> str:
    """One line for quantize/eval/demo: the stored float_agreement, or why there is none."""
    if not agreement:
        return "int8 vs float twin: not measured (no float model: a .tflite, or an artifact from before)"
    width = "16x8" if agreement["bits"] == 16 else "int8"
    sqnr = "exact" if agreement["sqnr_db"] is None else f"output SQNR {agreement['sqnr_db']:.1f} dB"
    decided = agreement["decision_agreement"]
    same = "" if decided is None else f", same decision on {100 * decided:.1f} %"
    if "wider" in agreement:
        remedy = f"try {' '.join(agreement['wider'])}" if agreement["wider"] else "no wider mode for these layers"
        same += (f" (under {100 * DECISION_BAR:.0f} %: accuracy may move by up to {100 * (1 - decided):.1f} pp; "
                 f"{remedy})")
    return f"{width} vs float twin on {agreement['windows']} calibration windows: {sqnr}{same}"


def _confusion(y: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


def _normalize_devices(device) -> list:
    if device is None:
        return []
    items = device if isinstance(device, (list, tuple)) else [device]
    out = []
    for item in items:
        if not isinstance(item, dict) or "accuracy" not in item:
            raise TinyrnnError("report: device results must be a dict (or list of dicts) with 'accuracy' and 'target'")
        accuracy = float(item["accuracy"])
        if not 0.0 <= accuracy <= 1.0:
            raise TinyrnnError(f"report: device accuracy must be a fraction 0..1, got {accuracy}")
        out.append({**item, "target": str(item.get("target", "device")), "accuracy": accuracy})
    return out


def _accuracy(model: Model, y, y_float, y_int, device) -> dict | None:
    if y is None:  # device numbers are still worth showing without labels of our own
        devices = _normalize_devices(device)
        return {"samples": None, "float": None, "int8": None, "delta": None, "devices": devices} if devices else None
    pred_f, pred_q = predicted_classes(y_float).reshape(-1), predicted_classes(y_int).reshape(-1)
    labels = np.asarray(y).reshape(-1)
    if labels.shape != pred_f.shape or not np.all(np.equal(np.mod(labels, 1), 0)):
        raise TinyrnnError(f"report: labels {np.shape(y)} must be class indices matching the outputs {y_float.shape[:-1]}")
    labels = labels.astype(np.int64)
    n = max(model.output_size, 2, len(model.classes))
    if labels.min() < 0 or labels.max() >= n:
        raise TinyrnnError(f"report: labels must lie in 0..{n - 1}, got {labels.min()}..{labels.max()}")
    classes = [str(c) for c in model.classes] if len(model.classes) == n else [str(i) for i in range(n)]
    cm_f, cm_q = _confusion(labels, pred_f, n), _confusion(labels, pred_q, n)
    support = cm_f.sum(axis=1)
    recall = lambda cm: [float(cm[i, i] / support[i]) if support[i] else None for i in range(n)]  # noqa: E731
    acc_f, acc_q = float(np.mean(pred_f == labels)), float(np.mean(pred_q == labels))
    return {
        "samples": int(labels.size), "float": acc_f, "int8": acc_q, "delta": acc_q - acc_f,
        "devices": _normalize_devices(device), "classes": classes, "support": support.tolist(),
        "per_class": {"float": recall(cm_f), "int8": recall(cm_q)},
        "confusion": {"float": cm_f.tolist(), "int8": cm_q.tolist()},
    }  # fmt: skip


def _regression(y, y_float, y_int, device) -> dict:
    """RMSE/MAE/R² per output of float and int8 against the targets, and the device's if measured."""
    check_labels(y, y_float.shape[1:], "report")
    f, q = regression_scores(y_float, y), regression_scores(y_int, y)
    items = device if isinstance(device, (list, tuple)) else [device] if device else []
    devices = [{"target": str(d.get("target", "device")), **{k: d[k] for k in REGRESSION_METRICS}}
               for d in items if isinstance(d, dict) and all(k in d for k in REGRESSION_METRICS)]
    return {"samples": int(len(y)), "outputs": int(y_float.shape[-1]), "float": f, "int8": q, "devices": devices,
            "rmse_ratio": [b / a if a > 0 else None for a, b in zip(f["rmse"], q["rmse"])]}  # fmt: skip


def _normalize_cost(cost) -> dict | None:
    """``{board: {metric: value}}`` or ``{"boards": [{"board": name, ...}]}`` → one list of boards."""
    if not cost:
        return None
    boards = cost.get("boards") if isinstance(cost.get("boards"), list) else [{"board": k, **v} for k, v in cost.items() if isinstance(v, dict)]
    if not boards:
        raise TinyrnnError("report: cost must map board names to metric dicts (flash_code, ram_state, ...)")
    extra = sorted({k for b in boards for k in b if k not in COST_KEYS and k != "board"})
    return {"boards": boards, "metrics": list(COST_KEYS) + extra}


def _worst(layers: list) -> tuple:
    """(lowest SQNR tensor, highest saturation tensor) as 'layer/tensor' with their values."""
    rows = [(f"{layer['name']}/{t['tensor']}", t) for layer in layers for t in layer["tensors"]]
    with_sqnr = [(name, t["sqnr_db"]) for name, t in rows if t["sqnr_db"] is not None]
    worst_sqnr = min(with_sqnr, key=lambda r: r[1]) if with_sqnr else (None, None)
    worst_sat = max(((name, t["saturated_pct"]) for name, t in rows), key=lambda r: r[1])
    return worst_sqnr, worst_sat


def _headline(fid: dict, acc: dict | None, cost: dict | None, reg: dict | None = None) -> dict:
    (sqnr_name, sqnr), (sat_name, sat) = _worst(fid["layers"])
    out = fid["output"]
    head = {
        "accuracy_float": (acc or {}).get("float"), "accuracy_int8": (acc or {}).get("int8"),
        "accuracy_delta": (acc or {}).get("delta"),
        "output_sqnr_db": out["sqnr_db"], "output_l2r": out["l2r"], "output_cosine": out["cosine"],
        "argmax_agreement": out["argmax_agreement"],
        "worst_sqnr_db": sqnr, "worst_sqnr_tensor": sqnr_name,
        "max_saturation_pct": sat, "max_saturation_tensor": sat_name,
    }  # fmt: skip
    for dev in acc["devices"] if acc else []:
        head[f"accuracy_on_{dev['target']}"] = dev["accuracy"]
    if reg:
        head.update(rmse_float=reg["float"]["rmse"], rmse_int8=reg["int8"]["rmse"], rmse_ratio=reg["rmse_ratio"],
                    argmax_agreement=None)
        head.update({f"rmse_on_{d['target']}": d["rmse"] for d in reg["devices"]})
    if cost:
        first = cost["boards"][0]
        flash = [first.get(k) for k in ("flash_code", "flash_weights")]
        head["board"] = first["board"]
        head["flash_bytes"] = sum(flash) if all(v is not None for v in flash) else None
        # Only what was measured: a part that is None is left out of the sum and named as such.
        parts = [k for k in ("ram_state", "ram_scratch", "stack_peak") if first.get(k) is not None]
        head["ram_bytes"] = sum(first[k] for k in parts) if parts else None
        head["ram_parts"] = [k.split("_")[-1] for k in parts]
    return head


def jsonable(obj):
    """numpy → Python; non-finite floats → None (strict JSON has no NaN/Infinity)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.integer, bool, np.bool_)):
        return obj.item() if isinstance(obj, np.generic) else obj
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def build_report(float_model: FloatModel, model: Model, x: np.ndarray, y: np.ndarray | None = None,
                 device: dict | None = None, cost: dict | None = None, *, progress: bool = True) -> dict:  # fmt: skip
    """Evaluate ``model`` (int8 golden) against ``float_model`` on ``x`` (N, T, F) → report dict.

    ``y``: class labels (N,) or (N, T) for sequence outputs. ``device``: {"accuracy": 0..1,
    "target": name, ...} or a list of them (board, TFLite). ``cost``: {board: {flash_code,
    flash_weights, ram_state, ram_scratch, stack_peak (bytes), instructions_per_step,
    instructions_per_inference, ...}}. Top-level keys of the result: headline, model,
    quantization, fidelity (input, layers[].tensors[], layers[].error_over_time, output),
    accuracy (None without labels), cost (None if not measured), histograms.
    SQNRs are in dB, None meaning exact; *_pct values are percent, accuracies fractions.
    """
    x, y = _check_data(float_model, model, x, y)
    y_float, y_int, fidelity = _run_both(float_model, model, x, progress)
    layers = fidelity.result()
    fid = {"samples": int(x.shape[0]), "steps": int(x.shape[1]), "input": _input_fidelity(float_model, model, x),
           "layers": layers, "output": output_error(y_float, y_int)}  # fmt: skip
    task = task_of(y) if y is not None else None
    reg = _regression(y, y_float, y_int, device) if task == REGRESSION else None
    acc = None if reg else _accuracy(model, y, y_float, y_int, device)
    scheme = quant_scheme(float_model, model)
    cost_n = _normalize_cost(cost)
    report = {
        "format": REPORT_FORMAT, "version": REPORT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "headline": _headline(fid, acc, cost_n, reg), "task": task,
        "model": {**model_summary(float_model, model, x.shape[1]), "mask_value": model.mask_value,
                  "keras_agreement": model.meta.get("keras_agreement"), "referee": referee_summary(model.meta.get("keras_agreement")),
                  "skipped": list(model.meta.get("source", {}).get("skipped", []))},
        "quantization": scheme,
        "fidelity": fid, "accuracy": acc, "regression": reg, "cost": cost_n,
        "histograms": {"weights": weight_histograms(scheme, float_model, model),
                       "activations": [{"layer": e["name"], "kind": e["kind"], "panels": e.pop("histograms")} for e in layers]},
    }  # fmt: skip
    return jsonable(report)


def write_json(report: dict, path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1, allow_nan=False)


def _fmt(value, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def text_summary(report: dict) -> str:
    """A few lines with the headline numbers, for the terminal."""
    m, h, fid = report["model"], report["headline"], report["fidelity"]
    q = "16x8" if m.get("activation_bits") == 16 else "int8"  # the integer model's label
    arch = " → ".join(f"{layer['kind']}({layer['units']})" for layer in m["layers"])
    lines = [
        f"quantization report: {m['name']} [{m['hash'][:12]}] {arch}, {m['totals']['params']:,} params, "
        f"{m['totals']['macs_per_step']:,} MACs/step",
        f"evaluated on {fid['samples']} sequences × {fid['steps']} steps"
        + ("" if m.get("mask_value") is None else f" (Masking: steps whose features all equal {m['mask_value']:g} skipped)"),
        m["referee"] + (f"; skipped (identity at inference): {', '.join(m['skipped'])}" if m.get("skipped") else ""),
    ]
    acc = report["accuracy"]
    if acc and acc["float"] is None:
        lines.append("accuracy: no labels;" + "".join(f"  {d['target']} {d['accuracy']:.2%}" for d in acc["devices"]))
    elif acc:
        devs = "".join(f"  {d['target']} {d['accuracy']:.2%} (first {d.get('sequences', '?')} windows)"
                       for d in acc["devices"])
        lines.append(f"accuracy: float {acc['float']:.2%}  {q} {acc['int8']:.2%}  ({100 * acc['delta']:+.2f} pp){devs}")
    reg = report.get("regression")
    if reg:
        each = lambda v: "/".join(_fmt(e, ".4g") for e in v)  # noqa: E731  (one value per output)
        for m in REGRESSION_METRICS:
            devs = "".join(f"  {d['target']} {each(d[m])}" for d in reg["devices"])
            lines.append(f"{m}: float {each(reg['float'][m])}  {q} {each(reg['int8'][m])}{devs}")
        lines.append(f"{q} RMSE / float RMSE: {each(reg['rmse_ratio'])}")
    out = fid["output"]
    agree = "" if reg else f"  argmax agreement {out['argmax_agreement']:.2%}"
    lines.append(
        f"output: SQNR {_fmt(out['sqnr_db'], '.1f', ' dB')}  rel. L2 {_fmt(out['l2r'], '.4f')}  cosine {_fmt(out['cosine'], '.5f')}  "
        f"max |err| {out['max_abs']:.4g}  NSE {_fmt(out['nse'], '.5f')}{agree}"
    )
    lines.append(
        f"worst tensor SQNR {_fmt(h['worst_sqnr_db'], '.1f', ' dB')} ({h['worst_sqnr_tensor']}); "
        f"max saturation {h['max_saturation_pct']:.3f} % ({h['max_saturation_tensor']})"
    )
    if report["cost"]:
        for b in report["cost"]["boards"]:
            lines.append("cost " + b["board"] + ": " + ", ".join(f"{k} {b[k]:,}" for k in COST_KEYS if b.get(k) is not None))
    else:
        lines.append("cost: not measured")
    return "\n".join(lines)
