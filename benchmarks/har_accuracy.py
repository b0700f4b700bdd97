"""HAR accuracy table: float vs tinyrnn int8 vs the TFLite converter's int8, with SQNR per layer.

    .venv/bin/python benchmarks/har_accuracy.py            # → results/har_accuracy.{md,json}
    .venv/bin/python benchmarks/har_accuracy.py --epochs 2 --out /tmp/har   # smoke run

Data: ../shared/data/har_train.npz (2,400 UCI HAR windows), split by recording session
(``tinyrnn.train.datasets.split``, 20 % held out, seed fixed): the held-out windows are
never trained or calibrated on. LSTM(32)/GRU(32) + Dense(6, softmax), Keras 3, Adam,
``--epochs`` (30) epochs, each with and without a Normalization layer in front.

Per model: float accuracy; tinyrnn int8 (``quantize_model`` + golden model) with min/max
and percentile calibration; SQNR (dB) of the int8 hidden states (all steps) and logits
against float. With Normalization, the same weights go through the TFLite converter in
a subprocess (tf_keras, fused LSTM; a crash is recorded, not fatal) and the .tflite is
run by LiteRT and imported with ``load_tflite`` (golden model on the imported IR).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "har_train.npz"
UNITS, CALIB_WINDOWS, SEED = 32, 300, 0

_CONVERT = r"""
import sys, numpy as np
from tinyrnn.tfenv import import_keras
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
from tinyrnn.tfenv import import_keras
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


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((np.asarray(got, np.float64) - ref) ** 2))
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(np.asarray(ref, np.float64) ** 2) / noise))


def load_data(path: Path, seed: int):
    from tinyrnn.train.datasets import load_dataset, split

    ds = load_dataset(str(path))
    train, test = split(ds, 0.2, seed)  # by recording session: no overlapping window leaks
    assert not set(train.groups) & set(test.groups)
    rng = np.random.default_rng(seed)
    calib = train.x[np.sort(rng.choice(len(train), min(CALIB_WINDOWS, len(train)), replace=False))]
    return ds, train, test, calib


def train(arch: str, norm: bool, train_ds, epochs: int, seed: int, out: Path):
    """Keras 3 model → (keras model, saved .keras path, seconds)."""
    from tinyrnn.tfenv import import_keras
    from tinyrnn.train.model import build_model
    from tinyrnn.train.trainer import set_determinism

    keras = import_keras()
    set_determinism(seed)
    model = build_model(arch, UNITS, 1, train_ds.x.shape[1:], 6, normalization_data=train_ds.x if norm else None)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(train_ds.x, train_ds.y, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    seconds = time.perf_counter() - t0
    path = out / f"{arch}_{'norm' if norm else 'raw'}.keras"
    model.save(path)
    return model, path, seconds


def layer_sqnr(float_model, traces: list, q, probes: list, y_int: np.ndarray) -> dict:
    """SQNR (dB) of each recurrent layer's hidden state (all steps) and of the logits vs float."""
    out = {}
    for flayer, qlayer, trace, probe in zip(float_model.layers, q.layers, traces, probes):
        if qlayer.kind == "dense":
            continue
        ref = np.stack(trace["hidden"], axis=1)
        h = np.stack(probe["hidden"], axis=1).astype(np.float64)
        got = h / 32768.0 if qlayer.kind == "gru" else (h - qlayer.hidden_zero_point) * qlayer.hidden_scale
        out[f"{qlayer.name} hidden"] = sqnr_db(ref, got)
    if q.layers[-1].kind == "dense":
        out["logits"] = sqnr_db(traces[-1]["logits"][0], (y_int.astype(np.float64) - q.output_zero_point) * q.output_scale)
    return out


def input_sqnr(float_model, q, x: np.ndarray, kernel_in: np.ndarray | None = None) -> list:
    """Per input channel: SQNR (dB) of the int8 kernel input vs the float normalized input."""
    ref = float_model.normalize(x)
    k = q.input_quant.quantize(x) if kernel_in is None else kernel_in
    first = q.layers[0]
    got = (k.astype(np.float64) - first.input_zero_point) * first.input_scale
    return [round(sqnr_db(ref[..., c], got[..., c]), 2) for c in range(x.shape[-1])]


def evaluate_int8(float_model, q, x: np.ndarray, y: np.ndarray, traces: list) -> dict:
    from tinyrnn.golden.model import run_model

    probes: list = []
    y_int = run_model(q, q.input_quant.quantize(x), probes)
    return {
        "accuracy": float(np.mean(np.argmax(y_int, -1) == y)),
        "sqnr_db": layer_sqnr(float_model, traces, q, probes, y_int),
        "input_sqnr_db": input_sqnr(float_model, q, x),
    }


def ours(arch: str, norm: bool, train_ds, test, calib, args, tmp: Path) -> tuple[dict, object]:
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    log(f"training {arch}({UNITS}) {'with' if norm else 'without'} Normalization, {args.epochs} epochs")
    model, path, seconds = train(arch, norm, train_ds, args.epochs, args.seed, tmp)
    float_model = load_keras(path)
    traces: list = []
    logits = float_model.run(test.x, traces)
    keras_pred = np.argmax(model.predict(test.x, verbose=0), -1)
    row = {
        "arch": arch, "normalization": norm, "train_seconds": round(seconds, 1),
        "float_accuracy": float(np.mean(keras_pred == test.y)),
        "float_twin_agrees_with_keras": float(np.mean(np.argmax(logits, -1) == keras_pred)),
        "int8": {},
    }  # fmt: skip
    for method in ("minmax", "percentile"):
        q = quantize_model(float_model, calib, method=method)
        row["int8"][method] = evaluate_int8(float_model, q, test.x, test.y, traces)
        log(f"  {arch} norm={norm} {method}: int8 {row['int8'][method]['accuracy']:.3f} "
            f"(float {row['float_accuracy']:.3f})")  # fmt: skip
    return row, (model, float_model, traces)


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
    from tinyrnn.golden.model import run_model
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


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f} %"


def _db(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def _main_table(rows: list) -> list:
    lines = ["| model | float | tinyrnn int8, percentile | tinyrnn int8, min/max | TFLite converter int8 (LiteRT) "
             "| golden model on the imported .tflite |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in (r for r in rows if r["normalization"]):
        t = r.get("tflite", {})
        if t.get("ok"):
            tfl, imported = _pct(t["litert_accuracy"]), _pct(t["golden_on_imported_ir"]["accuracy"])
        else:
            tfl, imported = t.get("error", "not run"), "—"
        lines.append(f"| {r['arch'].upper()}({UNITS}) + Dense(6) | {_pct(r['float_accuracy'])} "
                     f"| {_pct(r['int8']['percentile']['accuracy'])} | {_pct(r['int8']['minmax']['accuracy'])} "
                     f"| {tfl} | {imported} |")  # fmt: skip
    return lines


def _lever_table(rows: list) -> list:
    lines = ["| model | Normalization layer | calibration | float | int8 | int8 − float | SQNR hidden (dB) "
             "| SQNR logits (dB) | input SQNR per channel, min / median (dB) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        for method, res in r["int8"].items():
            hidden = next(v for k, v in res["sqnr_db"].items() if k.endswith("hidden"))
            ins = res["input_sqnr_db"]
            lines.append(f"| {r['arch'].upper()}({UNITS}) | {'yes (folded)' if r['normalization'] else 'no'} | {method} "
                         f"| {_pct(r['float_accuracy'])} | {_pct(res['accuracy'])} "
                         f"| {100 * (res['accuracy'] - r['float_accuracy']):+.1f} pt | {_db(hidden)} "
                         f"| {_db(res['sqnr_db'].get('logits'))} | {min(ins):.1f} / {np.median(ins):.1f} |")  # fmt: skip
    return lines


def _tflite_section(rows: list) -> list:
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
            f"  - tf_keras float (same weights) {_pct(t['tf_keras_float_accuracy'])}; LiteRT int8 "
            f"{_pct(t['litert_accuracy'])}; golden on the imported IR {_pct(g['accuracy'])}.",
            f"  - SQNR vs float, LiteRT: hidden {_db(next(iter(t['litert_sqnr_db'].values())))} dB, logits "
            f"{_db(t['litert_sqnr_db']['logits'])} dB; golden on imported IR: hidden "
            f"{_db(next(iter(g['sqnr_db'].values())))} dB, logits {_db(g['sqnr_db'].get('logits'))} dB.",
            f"  - input SQNR per channel (dB), TFLite's QUANTIZE→SUB→MUL: {t['litert_input_sqnr_db']}; "
            f"imported into tinyrnn's per-channel input quantizer: {g['input_sqnr_db']}.",
        ]
        for label, ag in (("LiteRT (default kernels)", a), ("LiteRT (reference kernels)", ar)):
            k, h, e = ag["kernel"], ag["hidden"], ag["end_to_end"]
            lines.append(f"  - golden vs {label}, same int8 LSTM input, {a['samples']} windows: logits max "
                         f"{k['max_abs_diff_lsb']} LSB, {_pct(k['identical_bytes'])} identical bytes, argmax "
                         f"{_pct(k['argmax_agreement'])}; hidden states (all steps) max {h['max_abs_diff_lsb']} LSB, "
                         f"{_pct(h['identical_bytes'])} identical, {_pct(h['windows_within_1_lsb'])} of windows never more than 1 LSB "
                         f"apart; end to end (each side's own input "
                         f"quantization) argmax {_pct(e['argmax_agreement'])}.")  # fmt: skip
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


def write_results(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "har_accuracy.json").write_text(json.dumps(results, indent=1, default=_json_default) + "\n")
    rows, meta = results["models"], results["meta"]
    md = [
        "# HAR accuracy: float vs tinyrnn int8 vs TensorFlow Lite int8", "",
        f"Regenerate: `{meta['command']}` ({meta['runtime_minutes']:.1f} min on this machine). "
        f"Data: `{meta['data']}`, {meta['windows']} windows of 128 steps × 9 channels, split by recording "
        f"session (seed {meta['seed']}): {meta['train_windows']} training windows, {meta['test_windows']} held-out "
        f"windows from {meta['test_sessions']} other sessions (never trained or calibrated on). "
        f"Calibration: {meta['calibration_windows']} training windows. {meta['epochs']} epochs, Adam 1e-3, batch 64, "
        f"Keras {meta['versions']['keras']}, TensorFlow {meta['versions']['tensorflow']}. All accuracies are on the "
        "held-out windows; the shared README's reference numbers use the official UCI test subjects instead.", "",
        *_main_table(rows), "",
        "## Quantizer levers", "",
        "SQNR = 10·log10(Σ float² / Σ (int8 dequantized − float)²) over the held-out windows; hidden = every "
        "time step of the recurrent layer's output. Input SQNR: the int8 kernel input vs the float normalized input, "
        "per channel (channels 0-2 body_acc, 3-5 body_gyro, 6-8 total_acc). Without a Normalization layer the input "
        "quantizer has nothing to fold: one scale for all nine raw channels.", "",
        *_lever_table(rows), "",
        "## TensorFlow Lite converter path", "",
        *_tflite_section(rows),
        "Keras 3 LSTM through the converter (same weights, concrete function with batch 1, TF "
        + meta["versions"]["tensorflow"] + "): "
        + "; ".join(f"{k}: {v}" for k, v in results.get("keras3_conversion", {}).items()), "",
        "## Reading the numbers", "",
        f"- {meta['test_windows']} held-out windows: one window is {100 / meta['test_windows']:.2f} pt; one standard "
        f"error of an accuracy near 90 % is about {100 * np.sqrt(0.09 / meta['test_windows']):.1f} pt (more in "
        "truth: windows overlap by half). Differences of one or two points between columns are noise.",
        "- Desktop TFLite's integer LSTM is not TFLM's (gemmlowp fixed-point sigmoid/tanh instead of TFLM's lookup "
        "table; cell products rounded by shifts): on the same int8 input the golden model and LiteRT differ in the "
        "last bit now and then, and over 128 recurrent steps a few windows drift further apart before converging "
        "again. The golden LSTM kernel's equality with TFLM is checked by the TFLM conformance vectors; "
        "`load_tflite` derives every multiplier and shift from the file's scales as TFLM's Prepare does.",
        "- TFLite's int8 graph quantizes the raw input with one scale before SUB/MUL (the Normalization), so the "
        "small-range channels lose resolution (input SQNR column above); `load_tflite` folds that preprocessing "
        "into tinyrnn's per-channel input quantizer instead, which is why the golden model on the imported IR "
        "tracks float more closely than LiteRT does (SQNR), on identical weights.",
        "",
    ]  # fmt: skip
    (out_dir / "har_accuracy.md").write_text("\n".join(md))


def _json_default(obj):
    return obj.tolist() if isinstance(obj, (np.generic, np.ndarray)) else str(obj)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=REPO / "results")
    args = ap.parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data}: not present (../shared/data beside the repository holds it)", file=sys.stderr)
        return 2
    t0 = time.time()
    ds, train_ds, test, calib = load_data(args.data, args.seed)
    log(f"{len(train_ds)} training / {len(test)} held-out windows ({len(set(test.groups))} sessions)")
    rows, keras3 = [], {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for arch in ("lstm", "gru"):
            for norm in (True, False):
                row, (model, float_model, traces) = ours(arch, norm, train_ds, test, calib, args, tmp)
                if norm:
                    log(f"  converting {arch} with the TFLite converter (tf_keras, subprocess)")
                    conv = convert_tflite(arch, model, test, calib, tmp)
                    row["tflite"] = tflite_eval(arch, conv, float_model, traces, test) | {"ok": True} if conv["ok"] else conv
                    log(f"  tflite: {row['tflite'].get('litert_accuracy', row['tflite'].get('error'))}")
                    if arch == "lstm":
                        keras3 = keras3_conversion(tmp / "lstm_norm.keras", calib, tmp)
                        log(f"  keras 3 conversion: {keras3}")
                rows.append(row)
    results = {"meta": _meta(args, ds, train_ds, test, time.time() - t0), "models": rows, "keras3_conversion": keras3}
    write_results(results, args.out)
    log(f"wrote {args.out / 'har_accuracy.md'} and .json")
    return 0


def _meta(args, ds, train_ds, test, seconds: float) -> dict:
    import keras
    import tensorflow as tf

    cmd = ".venv/bin/python benchmarks/har_accuracy.py" + (f" --epochs {args.epochs}" if args.epochs != 30 else "")
    return {
        "command": cmd, "data": "../shared/data/" + args.data.name, "windows": len(ds), "seed": args.seed,
        "train_windows": len(train_ds), "test_windows": len(test), "test_sessions": len(set(test.groups)),
        "calibration_windows": CALIB_WINDOWS, "epochs": args.epochs, "units": UNITS,
        "runtime_minutes": seconds / 60, "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
