"""The library API under the CLI: each function is one job a command (or a script) runs.

Commands in :mod:`tinyrnn.app.commands` parse arguments and print; everything they do
is here, so `tinyrnn demo` and `tinyrnn report` chain the same functions the stage
commands call. The TensorFlow-backed parts (Keras import, training, QAT, TFLite) load
TensorFlow only when called, so `verify` on a lab PC never does.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyrnn.app.targets import QEMU_PREFIX, build_firmware, connect, farm_job
from tinyrnn.core import tnr
from tinyrnn.core.boards import instructions_per_tick
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.fileio import os_error_text
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.core.metrics import REGRESSION, REGRESSION_METRICS, check_labels, scores, task_of
from tinyrnn.harness.discovery import resolve_target
from tinyrnn.harness.labgrid import LABGRID_PREFIX
from tinyrnn.harness.parallel import QemuJob, verify_parallel
from tinyrnn.harness.verify import verify_device
from tinyrnn.quantize import qat_finetune, tflite_export
from tinyrnn.quantize.calibrate import check_calibration_data
from tinyrnn.quantize import referee
from tinyrnn.quantize.keras_import import import_model, load_keras, open_keras
from tinyrnn.quantize.pipeline import quantize_model
from tinyrnn.quantize.report import agreement_summary, build_report, float_agreement, write_html, write_json
from tinyrnn.quantize.tflite_import import load_tflite
from tinyrnn.train import trainer
from tinyrnn.train.data import save_npz, split
from tinyrnn.train.datasets import load_dataset
from tinyrnn.train.model import CONV_FRONT, resolve_archs


def is_artifact(path: str) -> bool:
    return not path.endswith((".keras", ".h5", ".tflite"))


def output_shape(model, steps: int) -> tuple:
    """The model's outputs per window: (O,), or (T, O) when it returns sequences."""
    return (steps, model.output_size) if model.returns_sequences else (model.output_size,)


def load_data(spec: str, model=None):
    """An npz/UCI/synthetic dataset, checked against the model's input and output shapes if given."""

    data = load_dataset(spec)
    if model is not None:
        if data.features != model.input_size:
            raise TinyrnnError(f"{spec}: data has {data.features} features per step, the model expects {model.input_size}")
        check_labels(data.y, output_shape(model, data.timesteps), spec)
    return data


def qat_options(qat) -> dict | None:
    """``qat``: False/None (off), True (defaults) or a dict of :func:`finetune` options."""
    if not qat:
        return None
    opts = {"epochs": 5, "learning_rate": 1e-4, "keep": "if-better"}
    opts.update({} if qat is True else dict(qat))
    if int(opts["epochs"]) < 1 or not float(opts["learning_rate"]) > 0:
        raise TinyrnnError(f"QAT needs at least 1 epoch and a positive learning rate, got {opts['epochs']} "
                           f"and {opts['learning_rate']}")
    if opts["keep"] not in ("if-better", "always", "never"):
        raise TinyrnnError(f"QAT keep rule must be if-better, always or never, got {opts['keep']!r}")
    return opts


def train_file(spec_or_dataset, arch="lstm", units: int = 32, layers: int | None = None, epochs: int = 20,
               seed: int = 0, out_path="model.keras", batch_size: int = 64, legacy_keras: bool = False,
               progress: bool = True, *, qat=False, export_tflite=None, **fit_options) -> dict:
    """`tinyrnn train`: float training (the arguments of :func:`tinyrnn.train.trainer.fit`), then
    optionally QAT fine-tuning (kept only if the int8 model does better on the validation
    windows) and an int8 ``.tflite`` by the TFLite converter (True/"" = beside ``out_path``).
    Bad options fail before any training."""
    trainer.check_out_path(out_path)
    tflite_out = None
    if export_tflite is not None and export_tflite is not False:
        tflite_export.check_export(resolve_archs(arch, layers), legacy_keras)
        tflite_out = tflite_export.tflite_path_for(
            out_path, export_tflite if isinstance(export_tflite, (str, os.PathLike)) else None)
    qat_opts = qat_options(qat)
    if qat_opts is not None and {"rnn", "rnn_relu"} & set(resolve_archs(arch, layers)):
        raise TinyrnnError("--qat does not support SimpleRNN (rnn) layers yet")
    if qat_opts is not None and resolve_archs(arch, layers)[0].startswith(CONV_FRONT):
        raise TinyrnnError("--qat does not support the Conv1D front end (conv-lstm, conv-gru) yet")
    if qat_opts or tflite_out:  # both score int8 classes: refuse regression targets before training
        spec_or_dataset = load_dataset(spec_or_dataset, n=fit_options.get("n"), seed=seed)
        if spec_or_dataset.is_regression:
            raise TinyrnnError(f"{spec_or_dataset.name}: --qat and --export-tflite need class labels, "
                               "the data holds regression targets")
    fitted = trainer.fit(spec_or_dataset, arch, units, layers, epochs, seed, batch_size, legacy_keras, progress,
                         **fit_options)
    calib_x = qat_finetune.calibration_windows(fitted.train_ds, seed=seed) if qat_opts or tflite_out else None
    if qat_opts is not None:
        fitted.model, fitted.info["qat"] = qat_finetune.finetune(
            fitted.model, fitted.train_ds, fitted.val_ds, batch_size=batch_size, seed=seed, progress=progress,
            calib_x=calib_x, **qat_opts)
        fitted.info.update(trainer.final_scores(fitted.model, fitted.train_ds, fitted.val_ds, batch_size))
    result = trainer.finish(fitted, out_path)
    if tflite_out is not None:
        result.update(tflite_export.export_tflite(result["out_path"], tflite_out, calib_x, fitted.kinds, legacy_keras,
                                                  fitted.val_ds.x, fitted.val_ds.y))
    return result


# Regression targets of held-out data lie beyond the calibration outputs: half the range
# more on each side keeps int8 RMSE within +2.7 % of float (results/har_regression.md;
# 0 clips them, up to 2.1×). Classifiers keep their calibrated logit range.
REGRESSION_HEADROOM = 0.5


def quantize_file(model_path: str, calib_spec: str | None, out: str, method="percentile", samples=500,
                  output: str | None = None, **levers) -> dict:  # fmt: skip
    """``levers``: quantize_model's keyword options (percentile, bias_correction, cell_power, weights,
    output_headroom, input_scales, activations, logits, rnn_weights);
    ``output``: the output layer of a Keras model with several. A Keras model is refused
    unless its float twin agrees with Keras's own predict (quantize/referee.py)."""
    if output is not None and not model_path.endswith(".keras"):
        raise TinyrnnError(f"{model_path}: --output selects an output of a .keras model only")
    if model_path.endswith(".tflite"):
        keras_only = {"activations": "int8", "rnn_weights": "int8", "logits": None}  # lever: its value for a .tflite
        lever = next((k for k, v in keras_only.items() if k in levers and levers[k] != v), None)
        if lever:
            raise TinyrnnError(f"{model_path}: --{lever.replace('_', '-')} applies to a .keras model (a .tflite brings "
                               "its own)")
        model, used = load_tflite(model_path), 0
    elif model_path.endswith(".keras"):
        if not calib_spec:
            raise TinyrnnError(f"{model_path}: a .keras model needs --calib data")
        if samples < 1:
            raise TinyrnnError(f"--calib-samples must be at least 1, got {samples}")
        data = load_data(calib_spec)  # before the model: bad data fails fast, without TensorFlow
        keras_model = open_keras(model_path)
        float_model = import_model(keras_model, model_path, output)
        calib_x = check_calibration_data(data.x[:samples], float_model, calib_spec)
        if levers.get("output_headroom") is None:
            levers["output_headroom"] = REGRESSION_HEADROOM if task_of(data.y) == REGRESSION else 0.0
        agreement = referee.check(keras_model, float_model, calib_x, model_path)
        model = quantize_model(float_model, calib_x, method=method, classes=list(data.classes or ()), **levers)
        model.meta["keras_agreement"] = agreement
        model.meta["float_agreement"] = float_agreement(float_model, model, calib_x, task_of(data.y) == REGRESSION)
        used = int(calib_x.shape[0])
    else:
        raise TinyrnnError(f"{model_path}: unsupported model format (expected .keras or .tflite)")
    tnr.validate(model, model_path)  # never write an artifact that would not load
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        digest = tnr.save(model, out)  # atomic: temp file + rename
    except OSError as exc:
        raise TinyrnnError(f"{out}: cannot write the artifact ({os_error_text(exc)})") from None
    return {"artifact": out, "hash": digest, "layers": [layer.kind for layer in model.layers],
            "keras_agreement": model.meta.get("keras_agreement"), "float_agreement": model.meta.get("float_agreement"),
            "calibration_samples": used, "method": method if used else "from .tflite",
            "levers": model.meta.get("calibration", {}) if used else {}}  # fmt: skip


def evaluate(model_path: str, data_spec: str, n: int | None = None, output: str | None = None) -> dict:
    """Scores on the first n windows of a .keras model (Keras's own predict, beside the
    float twin's agreement with it) or of an artifact (int8 golden, with the agreement
    stored at quantization): accuracy (per window, or per step for (N, T) labels) or,
    for float targets, RMSE/MAE/R²."""
    if n is not None and n < 1:
        raise TinyrnnError(f"--n must be at least 1, got {n}")
    if is_artifact(model_path):
        if output is not None:
            raise TinyrnnError(f"{model_path}: --output applies to a .keras model (an artifact has one output)")
        model = tnr.load(model_path)
        data = load_data(data_spec, model)
        x, y = data.x[:n], data.y[:n]
        out = dequantize_output(model, run_model(model, model.input_quant.quantize(x), valid=model.valid_steps(x)))
        kind = "16x8-golden" if model.activation_bits == 16 else "int8-golden"
        return {**scores(out, y, data_spec, model.meta.get("float_activation", "linear")), "kind": kind,
                "keras_agreement": model.meta.get("keras_agreement"),
                "float_agreement": model.meta.get("float_agreement")}  # fmt: skip
    data = load_data(data_spec)
    keras_model = open_keras(model_path)
    float_model = import_model(keras_model, model_path, output)
    if data.features != float_model.input_shape[1]:
        raise TinyrnnError(f"{data_spec}: data has {data.features} features, the model expects {float_model.input_shape[1]}")
    x, y = data.x[:n], data.y[:n]
    agreement, keras_out = referee.compare(keras_model, float_model, x, model_path)
    head = float_model.layers[-1].activation if float_model.layers[-1].kind == "dense" else "linear"
    return {**scores(keras_out, y, data_spec, head, applied=True), "kind": "keras", "keras_agreement": agreement}


def device_scores(model, outputs: list, labels) -> dict:
    """verify's device_* figures from the received int8 outputs: accuracy for classes, or
    RMSE/MAE/R² for regression targets (the others None; none at all without outputs)."""
    head = model.meta.get("float_activation", "linear")
    got = scores(dequantize_output(model, np.asarray(outputs)), labels, head=head) if len(outputs) else {}
    return {f"device_{k}": got.get(k) for k in ("accuracy", *REGRESSION_METRICS)}


def verify(artifact: str, target: str, data_spec: str, n: int, build_dir: str | None = None, progress=True,
           jobs: int = 1, coordinator: str | None = None, weights: str | None = None) -> dict:
    """``coordinator``: labgrid coordinator HOST:PORT for labgrid: targets (default $LG_COORDINATOR);
    ``weights``: the weight layout of a qemu: build (int8 by default)."""
    model = tnr.load(artifact)
    data = load_data(data_spec, model)
    if n < 1 or jobs < 1:
        raise TinyrnnError(f"--n and --jobs must be at least 1, got {n} and {jobs}")
    if jobs > 1 and not target.startswith((QEMU_PREFIX, LABGRID_PREFIX)):
        raise TinyrnnError(f"--jobs {jobs} needs a qemu:BOARD or labgrid:PLACES target (one device per job), "
                           f"not {target}")
    target = resolve_target(target)
    if weights is not None and not target.startswith(QEMU_PREFIX):
        raise TinyrnnError(f"--weights sets the layout of a qemu:BOARD build; {target} runs the firmware it was flashed with")
    x_q, valid = model.input_quant.quantize(data.x[:n]), model.valid_steps(data.x[:n])
    with contextlib.ExitStack() as stack:
        workdir = build_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="tinyrnn-verify-"))
        if jobs > 1 and target.startswith(LABGRID_PREFIX):  # one worker per acquired place
            job, info = stack.enter_context(farm_job(target, model, jobs, coordinator))
            res = verify_parallel(model, x_q, job, jobs, progress=progress, valid=valid)
        elif jobs > 1:  # build once, then every worker boots its own QEMU with this ELF
            board = target[len(QEMU_PREFIX):]
            info = {"board": board, "instructions_per_tick": instructions_per_tick(board),
                    **build_firmware(model, board, f"{workdir}/fw-{board}", weights)}
            job = QemuJob(board, info["elf"], model.content_hash(), lifetime_s=120.0 + 2.0 * len(x_q))
            res = verify_parallel(model, x_q, job, jobs, progress=progress, valid=valid)
        else:
            device, info = stack.enter_context(connect(target, model, workdir, coordinator=coordinator, weights=weights))
            res = verify_device(device, model, x_q, progress=progress, valid=valid)
    summary = res.summary()
    factor = info.get("instructions_per_tick")
    ticks = summary["ticks_per_inference"]
    return {
        "verified": res.error is None and res.mismatches == 0 and res.sequences == len(x_q),
        "sequences": res.sequences, "requested": int(len(x_q)), "mismatches": res.mismatches,
        "board": info["board"], "target": target, "jobs": res.jobs, "places": info.get("places"),
        "instructions_per_inference": int(round(ticks * factor)) if factor and ticks is not None else None,
        "ticks_per_inference": ticks, "task": task_of(data.y),
        **device_scores(model, res.outputs, np.asarray(data.y)[res.indices]),
        "weights": info.get("weights"), "flash_bytes": info.get("flash_bytes"), "ram_bytes": info.get("ram_bytes"),
        "state_bytes": info.get("state_bytes"), "model_code_bytes": info.get("model_code_bytes"),
        "model_weights_bytes": info.get("model_weights_bytes"),
        "sequences_per_second": summary["sequences_per_second"],
        "first_mismatch": summary["first_mismatch"], "error": summary["error"], "model_hash": model.content_hash(),
    }  # fmt: skip


DEFAULT_BOARD = "mps2-an386"
DEMO_TASK = "synthetic:multitone"


def report_cost(verified: dict, steps: int) -> dict | None:
    """The report's cost section from a verify result (QEMU builds know their sizes from the link map)."""
    if not verified.get("model_code_bytes"):
        return None
    instructions = verified.get("instructions_per_inference")
    return {verified["board"]: {
        "flash_code": verified["model_code_bytes"], "flash_weights": verified["model_weights_bytes"],
        "ram_state": verified.get("state_bytes"), "instructions_per_inference": instructions,
        "instructions_per_step": round(instructions / steps) if instructions else None,
        "windows": verified.get("sequences"),  # the windows the instruction counts are the median of
    }}  # fmt: skip


def write_report(keras_path: str, artifact: str, data_spec: str, out_html: str, verified: dict | None = None,
                 n: int | None = None, progress: bool = True) -> dict:  # fmt: skip
    """Build the quantization report (HTML + JSON beside it); returns the report dict."""
    if n is not None and n < 1:
        raise TinyrnnError(f"--n must be at least 1, got {n}")
    model = tnr.load(artifact)
    data = load_data(data_spec, model)
    x, y = (data.x, data.y) if n is None else (data.x[:n], data.y[:n])
    device = None
    measured = {k: verified.get(f"device_{k}") for k in ("accuracy", *REGRESSION_METRICS)} if verified else {}
    if any(v is not None for v in measured.values()):
        device = {**{k: v for k, v in measured.items() if v is not None}, "target": verified["target"],
                  "sequences": verified["sequences"], "mismatches": verified["mismatches"]}  # fmt: skip
    cost = report_cost(verified, x.shape[1]) if verified else None
    twin = load_keras(keras_path, model.meta.get("source", {}).get("output"))
    report = build_report(twin, model, x, y, device=device, cost=cost, progress=progress)
    # Both files are written under temporary names and renamed only once both are complete.
    html, js = Path(out_html), Path(out_html).with_suffix(".json")
    temps = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in (html, js)]
    try:
        html.parent.mkdir(parents=True, exist_ok=True)
        write_html(report, str(temps[0]))
        write_json(report, str(temps[1]))
        os.replace(temps[1], js)
        os.replace(temps[0], html)
    except OSError as exc:
        raise TinyrnnError(f"{out_html}: cannot write the report ({os_error_text(exc)})") from None
    finally:
        for tmp in (*temps, Path(f"{temps[0]}.tmp")):  # write_html's own temp file too
            tmp.unlink(missing_ok=True)
    return report


def run_demo(out_dir: str, arch: str = "lstm", board: str = DEFAULT_BOARD, n_verify: int = 100, units: int = 24,
             epochs: int = 12, seed: int = 0, progress: bool = True) -> dict:  # fmt: skip
    started = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(DEMO_TASK, n=2000, seed=seed)
    train_part, test_part = split(data, 0.25, seed=seed)
    if len(test_part) < n_verify:
        raise TinyrnnError(f"demo: only {len(test_part)} test sequences, asked to verify {n_verify}")
    paths = {k: str(out / f) for k, f in (("train", "train.npz"), ("test", "test.npz"), ("keras", "model.keras"),
                                         ("artifact", "model.tnr"), ("firmware", "firmware"), ("report", "report.html"))}  # fmt: skip
    save_npz(train_part, paths["train"])
    save_npz(test_part, paths["test"])
    trained = trainer.train(train_part, arch=arch, units=units, epochs=epochs, seed=seed, out_path=paths["keras"], progress=progress)
    quantized = quantize_file(paths["keras"], paths["train"], paths["artifact"])
    float_acc = evaluate(paths["keras"], paths["test"])["accuracy"]  # Keras's own predict
    int8_acc = evaluate(paths["artifact"], paths["test"])["accuracy"]
    verified = verify(paths["artifact"], f"qemu:{board}", paths["test"], n_verify, build_dir=paths["firmware"], progress=progress)
    write_report(paths["keras"], paths["artifact"], paths["test"], paths["report"], verified, progress=progress)
    return {
        "verified": verified["verified"], "sequences": verified["sequences"], "mismatches": verified["mismatches"],
        "board": board, "arch": arch, "instructions_per_inference": verified["instructions_per_inference"],
        "flash_bytes": verified["flash_bytes"], "ram_bytes": verified["ram_bytes"],
        "float_accuracy": float_acc, "int8_accuracy": int8_acc, "device_accuracy": verified["device_accuracy"],
        "val_accuracy_training": trained.get("val_accuracy"), "seconds": round(time.monotonic() - started, 1),
        "artifacts": paths, "first_mismatch": verified["first_mismatch"], "error": verified["error"],
        "keras_agreement": quantized["keras_agreement"], "float_agreement": quantized["float_agreement"],
    }  # fmt: skip


def demo_summary(r: dict) -> str:
    verdict = "device == golden model, bit for bit" if r["verified"] else "VERIFICATION FAILED"
    steps = f"{r['instructions_per_inference']:,}" if r["instructions_per_inference"] else "n/a"
    return "\n".join([
        f"tinyrnn demo: {r['arch'].upper()} on {r['board']} (QEMU) — {verdict}",
        f"  sequences verified : {r['sequences']} ({r['mismatches']} mismatching)",
        f"  accuracy           : Keras {r['float_accuracy']:.2%}, int8 golden {r['int8_accuracy']:.2%}, "
        f"device {r['device_accuracy']:.2%} (first {r['sequences']} test sequences)",
        f"  Keras referee      : {referee.summary(r['keras_agreement'])}",
        f"  quantization       : {agreement_summary(r['float_agreement'])}",
        f"  cost on device     : {steps} instructions/inference, flash {r['flash_bytes']:,} B, RAM {r['ram_bytes']:,} B",
        f"  artifacts          : {Path(r['artifacts']['artifact']).parent}/ (model.keras, model.tnr, firmware/, report.html)",
        f"  took               : {r['seconds']} s",
    ])  # fmt: skip
