"""The TFLite converter side of the HAR benchmark: convert the same weights, run LiteRT, import.

With Normalization, the trained weights go through the TFLite converter in a
subprocess (tf_keras, fused LSTM; a crash is recorded, not fatal); the .tflite is run
by LiteRT and imported with ``load_tflite`` (golden model on the imported IR). The
Keras 3 model's conversion is tried too and its outcome recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from har_levers import UNITS, db, input_sqnr, layer_sqnr, pct, sqnr_db

REPO = Path(__file__).resolve().parents[1]

_CONVERT = r"""
import sys, numpy as np
from tinyrnn.tfsupport import import_keras
keras = import_keras(legacy=True)  # tf_keras: the converter fuses its LSTM
import tensorflow as tf
w = np.load(sys.argv[1])
arch, steps, feats, classes = str(w["arch"]), int(w["steps"]), int(w["features"]), int(w["classes"])
rnn = keras.layers.LSTM if arch == "lstm" else keras.layers.GRU
model = keras.Sequential([
    keras.Input((steps, feats)),
    keras.layers.Normalization(axis=-1, mean=w["mean"], variance=w["variance"]),
    rnn(int(w["units"])), keras.layers.Dense(classes, activation="softmax")])
model.layers[1].set_weights([w[k] for k in ("rnn_0", "rnn_1", "rnn_2")])
model.layers[2].set_weights([w["dense_0"], w["dense_1"]])
calib = w["calib"]
np.save(sys.argv[2] + ".float.npy", model.predict(w["x_test"], verbose=0))
fn = tf.function(lambda t: model(t))
conv = tf.lite.TFLiteConverter.from_concrete_functions(
    [fn.get_concrete_function(tf.TensorSpec((1, steps, feats), tf.float32))], model)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = lambda: ([calib[i : i + 1]] for i in range(len(calib)))
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
open(sys.argv[2], "wb").write(conv.convert())
"""

_KERAS3 = r"""
import sys, numpy as np
from tinyrnn.tfsupport import import_keras
keras = import_keras()
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
model = keras.models.load_model(sys.argv[1], compile=False)
calib = np.load(sys.argv[2])
fn = tf.function(lambda t: model(t))
conv = tf.lite.TFLiteConverter.from_concrete_functions(
    [fn.get_concrete_function(tf.TensorSpec((1,) + calib.shape[1:], tf.float32))], model)
if sys.argv[3] == "int8":
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i : i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
m = schema.ModelT.InitFromPackedBuf(conv.convert(), 0)
names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
codes = m.operatorCodes
print("OPS", " ".join(names[max(codes[o.opcodeIndex].builtinCode, codes[o.opcodeIndex].deprecatedBuiltinCode)]
                      for o in m.subgraphs[0].operators))
"""


def convert_tflite(arch: str, model, test, calib, tmp: Path) -> dict:
    """Run the TFLite converter (tf_keras) in a subprocess on the same weights."""
    arrays = {"arch": arch, "units": UNITS, "steps": test.x.shape[1], "features": test.x.shape[2], "classes": 6,
              "calib": calib, "x_test": test.x}  # fmt: skip
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name == "normalization":
            arrays["mean"], arrays["variance"] = (np.asarray(w).reshape(-1) for w in weights[:2])
        elif layer.name in (f"{arch}_0", "head"):
            prefix = "rnn" if layer.name != "head" else "dense"
            arrays.update({f"{prefix}_{i}": w for i, w in enumerate(weights)})
    np.savez(tmp / f"{arch}_weights.npz", **arrays)
    out = tmp / f"{arch}.tflite"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", _CONVERT, str(tmp / f"{arch}_weights.npz"), str(out)],
                          capture_output=True, text=True, env=env, timeout=1800)  # fmt: skip
    result = {"returncode": proc.returncode}
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        crash = "segmentation fault" if proc.returncode == -11 else f"exit code {proc.returncode}"
        last = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-1:] or [""]
        result.update(ok=False, error=f"conversion crashed ({crash})" if proc.returncode < 0 else f"conversion failed ({crash}): {last[0][:200]}")
        return result
    result.update(ok=True, path=str(out), tf_keras_float=np.load(str(out) + ".float.npy"))
    return result


def tflite_eval(arch: str, conv: dict, float_model, traces: list, test) -> dict:
    """LiteRT accuracy, our golden model on the imported IR, their agreement, SQNR of both vs float."""
    from tinyrnn.core.golden.model import run_model
    from tinyrnn.quantize.litert import compare_with_litert, run_litert
    from tinyrnn.quantize.tflite_import import load_tflite

    path = conv["path"]
    q = load_tflite(path)
    tensors = q.meta["tflite"]["tensors"]
    got = run_litert(path, test.x, {"hidden": tensors["layer_outputs"][0], "logits": tensors["ir_output"],
                                    "kernel_input": tensors["kernel_input"]})  # fmt: skip
    agree = compare_with_litert(path, q, test.x)
    ref_kernel = compare_with_litert(path, q, test.x, reference_kernels=True)
    lstm, dense = q.layers[0], q.layers[-1]
    litert_sqnr = {
        f"{lstm.name} hidden": sqnr_db(np.stack(traces[0]["hidden"], 1),
                                       (got["hidden"].astype(np.float64) - lstm.hidden_zero_point) * lstm.hidden_scale),
        "logits": sqnr_db(traces[-1]["logits"][0], (got["logits"].astype(np.float64) - dense.output_zero_point) * dense.output_scale),
    }  # fmt: skip
    probes: list = []
    y_int = run_model(q, q.input_quant.quantize(test.x), probes)
    tf_keras_pred = np.argmax(conv["tf_keras_float"], -1)
    return {
        "ops": q.meta["tflite"]["ops"],
        "tf_keras_float_accuracy": float(np.mean(tf_keras_pred == test.y)),
        "litert_accuracy": float(np.mean(np.argmax(got["output"], -1) == test.y)),
        "litert_sqnr_db": litert_sqnr,
        "litert_input_sqnr_db": input_sqnr(float_model, q, test.x, got["kernel_input"]),
        "golden_on_imported_ir": {
            "accuracy": float(np.mean(np.argmax(y_int, -1) == test.y)),
            "sqnr_db": layer_sqnr(float_model, traces, q, probes, y_int),
            "input_sqnr_db": input_sqnr(float_model, q, test.x),
        },
        "agreement": {k: agree[k] for k in ("backend", "samples", "kernel", "hidden", "end_to_end")},
        "agreement_reference_kernels": {k: ref_kernel[k] for k in ("backend", "kernel", "hidden", "end_to_end")},
        "cell_scale_power": int(lstm.cell_scale_power), "cell_clip": int(lstm.cell_clip),
        "hidden_scale": float(lstm.hidden_scale), "hidden_zero_point": int(lstm.hidden_zero_point),
    }  # fmt: skip


def tflite_section(rows: list) -> list:
    lines = []
    for r in (r for r in rows if r["normalization"] and "tflite" in r):
        t, name = r["tflite"], f"{r['arch'].upper()}({UNITS})"
        if not t.get("ok"):
            lines += [f"- **{name}**: {t['error']} (TF 2.21, tf_keras, int8 with a representative dataset).", ""]
            continue
        a, ar, g = t["agreement"], t["agreement_reference_kernels"], t["golden_on_imported_ir"]
        lines += [
            f"- **{name}** — ops: `{' → '.join(t['ops'])}`; cell state scale 2^{t['cell_scale_power']}, "
            f"quantized cell clip {t['cell_clip']}.",
            f"  - tf_keras float (same weights) {pct(t['tf_keras_float_accuracy'])}; LiteRT int8 "
            f"{pct(t['litert_accuracy'])}; golden on the imported IR {pct(g['accuracy'])}.",
            f"  - SQNR vs float, LiteRT: hidden {db(next(iter(t['litert_sqnr_db'].values())))} dB, logits "
            f"{db(t['litert_sqnr_db']['logits'])} dB; golden on imported IR: hidden "
            f"{db(next(iter(g['sqnr_db'].values())))} dB, logits {db(g['sqnr_db'].get('logits'))} dB.",
            f"  - input SQNR per channel (dB), TFLite's QUANTIZE→SUB→MUL: {t['litert_input_sqnr_db']}; "
            f"imported into tinyrnn's per-channel input quantizer: {g['input_sqnr_db']}.",
        ]
        for label, ag in (("LiteRT (default kernels)", a), ("LiteRT (reference kernels)", ar)):
            k, h, e = ag["kernel"], ag["hidden"], ag["end_to_end"]
            lines.append(f"  - golden vs {label}, same int8 LSTM input, {a['samples']} windows: logits max "
                         f"{k['max_abs_diff_lsb']} LSB, {pct(k['identical_bytes'])} identical bytes, argmax "
                         f"{pct(k['argmax_agreement'])}; hidden states (all steps) max {h['max_abs_diff_lsb']} LSB, "
                         f"{pct(h['identical_bytes'])} identical, {pct(h['windows_within_1_lsb'])} of windows never more than 1 LSB "
                         f"apart; end to end (each side's own input "
                         f"quantization) argmax {pct(e['argmax_agreement'])}.")  # fmt: skip
        lines.append("")
    return lines


def keras3_conversion(keras_path: Path, calib: np.ndarray, tmp: Path) -> dict:
    """What the converter makes of the Keras 3 LSTM (float and int8), each in its own subprocess."""
    np.save(tmp / "calib_small.npy", calib[:50])
    out = {}
    for mode in ("float", "int8"):
        proc = subprocess.run([sys.executable, "-c", _KERAS3, str(keras_path), str(tmp / "calib_small.npy"), mode],
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=1800)  # fmt: skip
        ops = [ln[4:] for ln in proc.stdout.splitlines() if ln.startswith("OPS ")]
        errors = [ln.strip() for ln in proc.stderr.splitlines() if "Error" in ln or "error:" in ln]
        if ops:
            out[mode] = f"top-level ops: {ops[0]}"
        elif proc.returncode < 0:
            out[mode] = f"converter crashed (signal {-proc.returncode})"
        else:
            out[mode] = f"conversion failed: {(errors[-1] if errors else 'exit code %d' % proc.returncode)[:240]}"
    return out


READING_TEXT = [
    "- Desktop TFLite's integer LSTM is not TFLM's (gemmlowp fixed-point sigmoid/tanh instead of TFLM's lookup "
    "table; cell products rounded by shifts): on the same int8 input the golden model and LiteRT differ in the "
    "last bit now and then, and over 128 recurrent steps a few windows drift further apart before converging "
    "again. The golden LSTM kernel's equality with TFLM is checked by the TFLM conformance vectors; "
    "`load_tflite` derives every multiplier and shift from the file's scales as TFLM's Prepare does.",
    "- TFLite's int8 graph quantizes the raw input with one scale before SUB/MUL (the Normalization), so the "
    "small-range channels lose resolution (input SQNR above); `load_tflite` folds that preprocessing "
    "into tinyrnn's per-channel input quantizer instead, which is why the golden model on the imported IR "
    "tracks float more closely than LiteRT does (SQNR), on identical weights.",
]
