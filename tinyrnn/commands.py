"""CLI subcommands: argument set-up and a handler each, returning (result dict, human text).

Handlers import their stage lazily so `tinyrnn verify` on a lab PC never loads
TensorFlow, and `--help` stays fast.
"""

from __future__ import annotations

import contextlib
import tempfile

import numpy as np

from .errors import TinyrnnError


def _is_artifact(path: str) -> bool:
    return not path.endswith((".keras", ".h5", ".tflite"))


def load_data(spec: str, model=None):
    """An npz/UCI/synthetic dataset, checked against the model's input shape if given."""
    from tinyrnn.train.datasets import load_dataset

    data = load_dataset(spec)
    if model is not None and data.features != model.input_size:
        raise TinyrnnError(f"{spec}: data has {data.features} features per step, the model expects {model.input_size}")
    classes = model.output_size if model is not None and not model.returns_sequences else 0
    if classes > 1 and int(data.y.max()) >= classes:
        i = int(np.argmax(data.y >= classes))
        raise TinyrnnError(f"{spec}: label y[{i}] = {int(data.y[i])} out of range for the model's {classes} outputs")
    return data


# ---------------------------------------------------------------- train
def _train_args(p):
    p.add_argument("--data", required=True, help="NPZ file, UCI HAR folder or synthetic:NAME")
    p.add_argument("--arch", default="lstm",
                   help="lstm, gru, or one kind per layer for a mixed stack, first layer first (lstm,gru)")
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--layers", type=int, help="stack depth, 1..3 (default 1, or the length of an --arch list)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=5, help="early stopping: epochs without a better validation loss")
    p.add_argument("--val-fraction", type=float, default=0.2, help="held out for validation (by group if any)")
    p.add_argument("--n", type=int, help="windows to generate for synthetic:NAME (default 2000)")
    p.add_argument("--qat", action="store_true",
                   help="quantization-aware fine-tuning after float training; the fine-tuned weights are kept "
                        "only if the int8 model does better on the validation windows")
    p.add_argument("--qat-epochs", type=int, default=5)
    p.add_argument("--qat-learning-rate", type=float, default=1e-4)
    p.add_argument("--qat-keep", choices=("if-better", "always", "never"), default="if-better",
                   help="never = only measure what QAT would give")
    p.add_argument("--legacy-keras", action="store_true", help="build with tf_keras (for a TFLite fused-LSTM export)")
    p.add_argument("--export-tflite", nargs="?", const="", metavar="PATH",
                   help="also write an int8 .tflite by the TFLite converter (default: beside --out); "
                        "an LSTM needs --legacy-keras")
    p.add_argument("--out", required=True, help="output .keras file")


def _train(args):
    from tinyrnn.train.trainer import train

    qat = {"epochs": args.qat_epochs, "learning_rate": args.qat_learning_rate, "keep": args.qat_keep} if args.qat else None
    result = train(args.data, arch=args.arch, units=args.units, layers=args.layers, epochs=args.epochs,
                   seed=args.seed, out_path=args.out, batch_size=args.batch_size, legacy_keras=args.legacy_keras,
                   val_fraction=args.val_fraction, patience=args.patience, learning_rate=args.learning_rate,
                   n=args.n, qat=qat, export_tflite=args.export_tflite)  # fmt: skip
    human = (f"trained {result['arch']}({result['units']})x{result['layers']} → {result['out_path']}: "
             f"val accuracy {result['val_accuracy']:.4f} (best epoch {result['best_epoch']}/{result['epochs_run']})")
    if "qat" in result:
        q = result["qat"]
        human += (f"\nQAT: int8 val accuracy {q['int8_val_accuracy_before']:.4f} → {q['int8_val_accuracy_after']:.4f}, "
                  f"{'fine-tuned weights kept' if q['kept'] else 'float-trained weights kept'}")
    if "tflite_path" in result:
        acc = result.get("tflite_val_accuracy")
        human += (f"\nTFLite int8 → {result['tflite_path']} ({result['tflite_bytes']} B"
                  f"{f', LiteRT val accuracy {acc:.4f}' if acc is not None else ''}; "
                  f"{'tinyrnn imports it' if result['tflite_importable'] else 'not importable by tinyrnn'})")
    return result, human


# ---------------------------------------------------------------- quantize
def _quantize_args(p):
    p.add_argument("model", help=".keras model file, or an int8 .tflite with a fused LSTM")
    p.add_argument("--calib", help="calibration data for a .keras model (NPZ file, UCI HAR folder or synthetic:NAME)")
    p.add_argument("--out", required=True, help="output artifact file (.tnr)")
    import argparse

    from tinyrnn.quantize.calibrate import METHODS
    from tinyrnn.quantize.layers import CELL_POWERS, WEIGHT_RULES
    from tinyrnn.quantize.pipeline import DEFAULTS

    p.add_argument("--method", choices=METHODS, default=DEFAULTS["method"],
                   help="range rule for input, hidden state and logits (mse: least quantization error)")
    p.add_argument("--percentile", type=float, default=DEFAULTS["percentile"], help="for --method percentile and --cell-power percentile")
    p.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=DEFAULTS["bias_correction"],
                   help="fold the mean shift caused by weight rounding into the biases")
    p.add_argument("--cell-power", choices=CELL_POWERS, default=DEFAULTS["cell_power"],
                   help="LSTM cell scale 2^p: max (no saturation on calibration data), tight (one lower), percentile")
    p.add_argument("--weights", choices=WEIGHT_RULES, default=DEFAULTS["weights"],
                   help="weight scales: max |w|, or mse (clip outlier weights where that lowers the error)")
    p.add_argument("--calib-samples", type=int, default=500, help="windows used for calibration")


def quantize_file(model_path: str, calib_spec: str | None, out: str, method="percentile", samples=500, **levers) -> dict:
    """``levers``: quantize_model's keyword options (percentile, bias_correction, cell_power, weights)."""
    import os

    from tinyrnn import ir

    if model_path.endswith(".tflite"):
        from tinyrnn.quantize.tflite_import import load_tflite

        model, used = load_tflite(model_path), 0
    elif model_path.endswith(".keras"):
        from tinyrnn.quantize.calibrate import check_calibration_data
        from tinyrnn.quantize.keras_import import load_keras
        from tinyrnn.quantize.pipeline import quantize_model

        if not calib_spec:
            raise TinyrnnError(f"{model_path}: a .keras model needs --calib data")
        if samples < 1:
            raise TinyrnnError(f"--calib-samples must be at least 1, got {samples}")
        data = load_data(calib_spec)  # before the model: bad data fails fast, without TensorFlow
        float_model = load_keras(model_path)
        calib_x = check_calibration_data(data.x[:samples], float_model, calib_spec)
        model = quantize_model(float_model, calib_x, method=method, classes=list(data.classes or ()), **levers)
        used = int(calib_x.shape[0])
    else:
        raise TinyrnnError(f"{model_path}: unsupported model format (expected .keras or .tflite)")
    ir.validate(model, model_path)  # never write an artifact that would not load
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        digest = ir.save(model, out)  # atomic: temp file + rename
    except OSError as exc:
        raise TinyrnnError(f"{out}: cannot write the artifact ({exc.strerror or exc}: {exc.filename})") from None
    return {"artifact": out, "hash": digest, "layers": [layer.kind for layer in model.layers],
            "calibration_samples": used, "method": method if used else "from .tflite",
            "levers": model.meta.get("calibration", {}) if used else {}}  # fmt: skip


def _quantize(args):
    result = quantize_file(args.model, args.calib, args.out, args.method, args.calib_samples, percentile=args.percentile,
                           bias_correction=args.bias_correction, cell_power=args.cell_power, weights=args.weights)  # fmt: skip
    return result, f"quantized {args.model} → {args.out} (hash {result['hash'][:12]})"


# ---------------------------------------------------------------- eval
def _eval_args(p):
    p.add_argument("model", help=".keras file (float) or artifact (int8 golden)")
    p.add_argument("--data", required=True)
    p.add_argument("--quantized", help="also the int8 artifact of this .keras model (same windows)")
    p.add_argument("--target", help="also run on qemu:BOARD or a pyserial URL (device accuracy, same windows)")
    p.add_argument("--n", type=int, help="use the first N windows (default: all; with --target: 100)")


def _accuracy(pred: np.ndarray, y: np.ndarray, model_path: str) -> float:
    if pred.ndim != 1:
        raise TinyrnnError(f"{model_path}: accuracy needs a model with one output per sequence")
    return float(np.mean(pred == y))


def evaluate(model_path: str, data_spec: str, n: int | None = None) -> dict:
    """Accuracy of a .keras model (float twin) or an artifact (int8 golden) on the first n windows."""
    if n is not None and n < 1:
        raise TinyrnnError(f"--n must be at least 1, got {n}")
    if _is_artifact(model_path):
        from tinyrnn import ir
        from tinyrnn.golden.model import predict

        model = ir.load(model_path)
        data = load_data(data_spec, model)
        x, y = data.x[:n], data.y[:n]
        return {"accuracy": _accuracy(predict(model, x), y, model_path), "n": int(len(y)), "kind": "int8-golden"}
    from tinyrnn.quantize.keras_import import load_keras

    float_model = load_keras(model_path)
    data = load_data(data_spec)
    if data.features != float_model.input_shape[1]:
        raise TinyrnnError(f"{data_spec}: data has {data.features} features, the model expects {float_model.input_shape[1]}")
    x, y = data.x[:n], data.y[:n]
    out = float_model.run(x)
    if out.ndim == 2 and out.shape[1] > 1 and int(y.max()) >= out.shape[1]:
        raise TinyrnnError(f"{data_spec}: label {int(y.max())} out of range for the model's {out.shape[1]} outputs")
    pred = np.argmax(out, axis=-1)
    return {"accuracy": _accuracy(pred, y, model_path), "n": int(len(y)), "kind": "float"}


def _eval(args):
    n = args.n if args.n is not None else (100 if args.target else None)
    result = evaluate(args.model, args.data, n)
    result[f"{'float' if result['kind'] == 'float' else 'int8'}_accuracy"] = result["accuracy"]
    artifact = args.quantized or (args.model if _is_artifact(args.model) else None)
    if args.quantized:
        result["int8_accuracy"] = evaluate(args.quantized, args.data, n)["accuracy"]
    if args.target:
        if artifact is None:
            raise TinyrnnError("--target needs an int8 artifact: pass one as MODEL or with --quantized")
        ran = verify(artifact, args.target, args.data, result["n"])
        result.update(device_accuracy=ran["device_accuracy"], verified=ran["verified"], mismatches=ran["mismatches"], target=args.target)
    parts = [f"{k.split('_')[0]} {result[k]:.4f}" for k in ("float_accuracy", "int8_accuracy", "device_accuracy") if result.get(k) is not None]
    return result, f"accuracy on {result['n']} sequences: " + ", ".join(parts)


# ---------------------------------------------------------------- vectors
def _vectors_args(p):
    p.add_argument("action", choices=("run",))
    p.add_argument("file", help="vector case (.json, CMSIS-NN LSTM layout)")
    p.add_argument("--target", default="golden", help="golden | host | qemu:BOARD")


def _vectors(args):
    from tinyrnn.vectors import load_case

    case = load_case(args.file)
    if args.target == "golden":
        from tinyrnn.golden.lstm_s8 import lstm_s8

        out, _ = lstm_s8(case.layer, case.x)
    else:
        from tinyrnn.targets import run_layer_on_target

        with tempfile.TemporaryDirectory(prefix="tinyrnn-vec-") as work:
            out = run_layer_on_target(case.layer, case.x, args.target, work)
    diff = np.abs(out.astype(np.int64) - case.expected.astype(np.int64))
    result = {"case": case.name, "elements": int(diff.size), "mismatches": int((diff > 0).sum()),
              "max_abs_diff": int(diff.max(initial=0)), "target": args.target}  # fmt: skip
    human = f"{case.name} on {args.target}: {result['mismatches']} of {result['elements']} elements differ"
    return result, human


# ---------------------------------------------------------------- codegen / build
def _codegen_args(p):
    p.add_argument("artifact")
    p.add_argument("--board", default="mps2-an386", help="catalogue board (see `tinyrnn boards`)")
    p.add_argument("--out", required=True, help="firmware project directory")
    p.add_argument("--name", default="model", help="C name of the model (tinyrnn_NAME_step, ...)")


def _codegen(args):
    from tinyrnn import ir
    from tinyrnn.codegen.project import render_project

    project = render_project(ir.load(args.artifact), args.board, args.out, args.name)
    result = {k: project[k] for k in ("project_dir", "board", "model_hash", "state_bytes", "weights_bytes")}
    human = f"wrote {args.out} for {args.board}: state {result['state_bytes']} B, weights {result['weights_bytes']} B"
    return result, human


def _build_args(p):
    p.add_argument("dir", help="firmware project directory from `tinyrnn codegen`")


def _build(args):
    from tinyrnn.codegen.build import build

    sizes = build(args.dir)
    result = {"elf": sizes["elf"], "flash_bytes": sizes["flash_bytes"], "ram_bytes": sizes["ram_bytes"],
              "stack_bytes": sizes.get("stack")}  # fmt: skip
    return result, f"built {result['elf']}: flash {result['flash_bytes']} B, RAM {result['ram_bytes']} B"


# ---------------------------------------------------------------- verify
def _verify_args(p):
    p.add_argument("--model", required=True, help="artifact file")
    p.add_argument("--target", required=True,
                   help="qemu:BOARD, auto:BOARD[:SERIAL] (a USB port found by VID:PID) or a pyserial URL (socket://host:port, /dev/ttyACM0)")
    p.add_argument("--data", required=True, help="NPZ file (x float, y labels)")
    p.add_argument("--n", type=int, default=100, help="number of sequences (default 100)")
    p.add_argument("--build-dir", help="keep the QEMU firmware build here (default: a temporary directory)")
    p.add_argument("--jobs", type=int, default=1, help="QEMU instances verifying in parallel (qemu:BOARD targets; default 1)")
    p.add_argument("--report", help="also write the quantization report here (.html, JSON beside it); needs --keras")
    p.add_argument("--keras", help="the float .keras model the artifact came from (for --report)")


def verify(artifact: str, target: str, data_spec: str, n: int, build_dir: str | None = None, progress=True,
           jobs: int = 1) -> dict:
    from tinyrnn import ir
    from tinyrnn.harness.ports import resolve_target
    from tinyrnn.harness.verify import verify_device
    from tinyrnn.targets import QEMU_PREFIX, build_firmware, connect

    model = ir.load(artifact)
    data = load_data(data_spec, model)
    if n < 1 or jobs < 1:
        raise TinyrnnError(f"--n and --jobs must be at least 1, got {n} and {jobs}")
    if jobs > 1 and not target.startswith(QEMU_PREFIX):
        raise TinyrnnError(f"--jobs {jobs} needs a qemu:BOARD target (one emulated device per job), not {target}")
    target = resolve_target(target)
    x_q = model.input_quant.quantize(data.x[:n])
    with contextlib.ExitStack() as stack:
        workdir = build_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="tinyrnn-verify-"))
        if jobs > 1:  # build once, then every worker boots its own QEMU with this ELF
            from tinyrnn.firmware_templates.catalogue import instructions_per_tick
            from tinyrnn.harness.parallel import QemuJob, verify_parallel

            board = target[len(QEMU_PREFIX):]
            info = {"board": board, "instructions_per_tick": instructions_per_tick(board),
                    **build_firmware(model, board, f"{workdir}/fw-{board}")}
            job = QemuJob(board, info["elf"], model.content_hash(), lifetime_s=120.0 + 2.0 * len(x_q))
            res = verify_parallel(model, x_q, job, jobs, progress=progress)
        else:
            device, info = stack.enter_context(connect(target, model, workdir))
            res = verify_device(device, model, x_q, progress=progress)
    summary = res.summary()
    factor = info.get("instructions_per_tick")
    ticks = summary["ticks_per_inference"]
    outputs = np.asarray(res.outputs)
    labels = np.asarray(data.y)[res.indices] if len(res.indices) else None
    device_acc = float(np.mean(np.argmax(outputs, -1) == labels)) if outputs.ndim == 2 and len(outputs) else None
    return {
        "verified": res.error is None and res.mismatches == 0 and res.sequences == len(x_q),
        "sequences": res.sequences, "requested": int(len(x_q)), "mismatches": res.mismatches,
        "board": info["board"], "target": target, "jobs": res.jobs,
        "instructions_per_inference": int(round(ticks * factor)) if factor and ticks is not None else None,
        "ticks_per_inference": ticks, "device_accuracy": device_acc,
        "flash_bytes": info.get("flash_bytes"), "ram_bytes": info.get("ram_bytes"),
        "state_bytes": info.get("state_bytes"), "model_code_bytes": info.get("model_code_bytes"),
        "model_weights_bytes": info.get("model_weights_bytes"),
        "sequences_per_second": summary["sequences_per_second"],
        "first_mismatch": summary["first_mismatch"], "error": summary["error"], "model_hash": model.content_hash(),
    }  # fmt: skip


def _verify(args):
    if args.report and not args.keras:
        raise TinyrnnError("--report needs --keras MODEL (the float model the artifact was quantized from)")
    r = verify(args.model, args.target, args.data, args.n, args.build_dir, jobs=args.jobs)
    if args.report:
        from tinyrnn.pipeline import write_report

        write_report(args.keras, args.model, args.data, args.report, r, n=args.n)
        r["report"] = args.report
    verdict = "VERIFIED bit-exact" if r["verified"] else "NOT verified"
    human = (f"{verdict}: {r['sequences']}/{r['requested']} sequences on {r['board']}, {r['mismatches']} mismatching"
             f"{'; ' + r['error'] if r['error'] else ''}; {r['instructions_per_inference']} instructions/inference; "
             f"{r['sequences_per_second']} sequences/s with {r['jobs']} job(s)")
    return r, human


# ---------------------------------------------------------------- demo / report
def _demo_args(p):
    p.add_argument("--out", default="out/demo", help="directory for every artifact (default out/demo)")
    p.add_argument("--arch", choices=("lstm", "gru"), default="lstm")
    p.add_argument("--board", default="mps2-an386")
    p.add_argument("--n", type=int, default=100, help="sequences to verify on the device (default 100)")
    p.add_argument("--epochs", type=int, default=12)


def _demo(args):
    from tinyrnn.pipeline import demo_summary, run_demo

    result = run_demo(args.out, arch=args.arch, board=args.board, n_verify=args.n, epochs=args.epochs)
    return result, demo_summary(result)


def _report_args(p):
    p.add_argument("keras_model", help="the float .keras model")
    p.add_argument("artifact", help="its quantized artifact")
    p.add_argument("--data", required=True, help="evaluation data (NPZ with x and y)")
    p.add_argument("--target", help="also run on qemu:BOARD or a pyserial URL for device accuracy and cost")
    p.add_argument("--n", type=int, help="use the first N sequences")
    p.add_argument("--out", required=True, help="report .html (JSON written beside it)")


def _report(args):
    from tinyrnn.pipeline import write_report
    from tinyrnn.quantize.report import text_summary

    verified = verify(args.artifact, args.target, args.data, args.n or 100) if args.target else None
    report = write_report(args.keras_model, args.artifact, args.data, args.out, verified, args.n)
    return {"report": args.out, "json": args.out.rsplit(".", 1)[0] + ".json", "headline": report["headline"]}, text_summary(report)


# Values: (run, configure, help) for commands defined here, or the dotted name of a
# module that defines run(args), configure(parser) and HELP (see cli._resolve).
REGISTRY = {
    "train": (_train, _train_args, "train a Keras LSTM/GRU classifier"),
    "quantize": (_quantize, _quantize_args, "quantize a Keras model to an int8 artifact"),
    "eval": (_eval, _eval_args, "accuracy of a float model or an int8 artifact"),
    "vectors": (_vectors, _vectors_args, "run a conformance vector case"),
    "codegen": (_codegen, _codegen_args, "generate C and a firmware project for a board"),
    "build": (_build, _build_args, "build a firmware project; sizes from the ELF"),
    "verify": (_verify, _verify_args, "run sequences on a device and compare with the golden model"),
    "report": (_report, _report_args, "quantization report (HTML + JSON)"),
    "demo": (_demo, _demo_args, "the whole pipeline on generated data, verified on an emulated Cortex-M4"),
    "flash": "tinyrnn.flash",
    "ports": "tinyrnn.ports",
    "bench": "tinyrnn.bench",
}
