"""Training results on HAR: float, int8 (golden), QAT int8 and device accuracy, one command.

    .venv/bin/python benchmarks/training_results.py             # → results/training.{md,json}
    .venv/bin/python benchmarks/training_results.py --epochs 2 --qat-epochs 1 --device-n 10 \\
        --out /tmp/tr --models lstm                              # smoke run

Data: ../shared/data/har_train.npz, split by recording session (``split``, 20 %,
seed 0): the held-out windows are never trained, validated or calibrated on. The
training part is split again by session (20 %, same seed) into fit and validation
windows, as ``tinyrnn train`` does: validation drives early stopping and the
``--qat`` keep rule. Calibration: 300 random fit windows (``calibration_windows``).

Per model (units 32, Dense(6, softmax) head):
1. float training, ``--epochs`` epochs with early stopping (``train_model``);
2. int8 = ``tinyrnn quantize``'s defaults on those weights, run by the golden model;
3. QAT: ``finetune`` (``--qat-epochs`` at 1e-4), int8 again; and a control run —
   the same fine-tuning without fake quantization — so that "QAT helps" is not
   confused with "a few more epochs help";
4. device: the artifact ``tinyrnn train --qat`` would keep (validation rule) runs on
   QEMU ``mps2-an386`` on ``--device-n`` held-out windows spread evenly over the
   held-out set, in a background process while the next model trains.
Standard errors: binomial for an accuracy; paired (per-window differences) for a
difference of two models on the same windows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "har_train.npz"
UNITS, BOARD = 32, "mps2-an386"
MODELS = {  # key: (label, arch, layers, int8 target: max pp below float)
    "lstm": ("LSTM(32)", "lstm", 1, 1.0),
    "gru": ("GRU(32)", "gru", 1, 1.0),
    "lstm2": ("LSTM(32)→LSTM(32)", "lstm", 2, 1.5),
    "gru2": ("GRU(32)→GRU(32)", "gru", 2, 1.5),
    "lstm_gru": ("LSTM(32)→GRU(32)", "lstm,gru", None, 1.5),
}

_VERIFY = r"""
import json, sys
from tinyrnn.app.commands import verify
r = verify(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), progress=False)
json.dump(r, open(sys.argv[5], "w"))
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def score(correct: np.ndarray) -> dict:
    """Accuracy and its binomial standard error."""
    p = float(np.mean(correct))
    return {"accuracy": p, "se": float(np.sqrt(p * (1 - p) / len(correct))), "n": int(len(correct))}


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """a − b on the same windows, with the standard error of the paired difference."""
    d = a.astype(np.float64) - b.astype(np.float64)
    return {"diff": float(d.mean()), "se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0}


def golden_correct(ir_model, ds) -> np.ndarray:
    from tinyrnn.core.golden.model import predict

    return predict(ir_model, ds.x) == ds.y


def keras_correct(model, ds) -> np.ndarray:
    return np.argmax(model.predict(ds.x, batch_size=256, verbose=0), -1) == ds.y


def float_finetune(model, fit, val, epochs: int, lr: float, seed: int) -> dict:
    """The control: the same fine-tuning as QAT (epochs, rate, patience, seed), float only."""
    from tinyrnn.tfsupport import import_keras
    from tinyrnn.train.trainer import _make_callback, _Progress, set_determinism

    keras = import_keras()
    set_determinism(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    monitor = _make_callback(keras, _Progress(False, epochs), 3)
    model.fit(fit.x, fit.y, batch_size=64, epochs=epochs, verbose=0, validation_data=(val.x, val.y),
              shuffle=True, callbacks=[monitor])
    return {"epochs_run": len(monitor.rows), "best_epoch": monitor.best_epoch}


def quantized(model, calib, path: Path):
    from tinyrnn.core import tnr
    from tinyrnn.quantize.qat import quantize_in_memory

    q = quantize_in_memory(model, calib)
    tnr.save(q, path)
    return q


def train_float(key: str, data: dict, args, work: Path):
    from tinyrnn.quantize.qat_finetune import calibration_windows
    from tinyrnn.train.trainer import save_model, train_model

    label, arch, layers, _ = MODELS[key]
    log(f"{label}: float training ({args.epochs} epochs max)")
    model, info = train_model(data["fit"], data["val"], arch, UNITS, layers, args.epochs, args.seed, progress=False)
    save_model(model, work / f"{key}_float.keras")
    calib = calibration_windows(data["fit"], seed=args.seed)
    return model, info, calib


def run_model(key: str, data: dict, args, work: Path) -> tuple[dict, Path]:
    """Everything but the device for one model; returns (row, artifact to verify)."""
    from tinyrnn.quantize.qat_finetune import finetune, qat_helps
    from tinyrnn.train.model import resolve_archs
    from tinyrnn.train.trainer import save_model

    label, arch, layers, target = MODELS[key]
    t0 = time.perf_counter()
    model, info, calib = train_float(key, data, args, work)
    test = data["test"]
    float_w = model.get_weights()
    ok = {"float": keras_correct(model, test),
          "int8": golden_correct(quantized(model, calib, work / f"{key}_float.tnr"), test)}
    log(f"{label}: float {ok['float'].mean():.4f}, int8 {ok['int8'].mean():.4f}; QAT ({args.qat_epochs} epochs)")
    model, qinfo = finetune(model, data["fit"], data["val"], epochs=args.qat_epochs, learning_rate=args.qat_lr,
                            seed=args.seed, progress=False, calib_x=calib, keep="always")
    save_model(model, work / f"{key}_qat.keras")
    ok["qat_float"] = keras_correct(model, test)
    ok["qat_int8"] = golden_correct(quantized(model, calib, work / f"{key}_qat.tnr"), test)
    model.set_weights(float_w)
    control = float_finetune(model, data["fit"], data["val"], args.qat_epochs, args.qat_lr, args.seed)
    ok["control_int8"] = golden_correct(quantized(model, calib, work / f"{key}_control.tnr"), test)
    before = {"accuracy": qinfo["int8_val_accuracy_before"], "loss": qinfo["int8_val_loss_before"]}
    after = {"accuracy": qinfo["int8_val_accuracy_after"], "loss": qinfo["int8_val_loss_after"]}
    kept = qat_helps(before, after)
    row = {
        "key": key, "model": label, "arch": arch, "layers": len(resolve_archs(arch, layers)), "target_pp": target, "seconds": 0.0, "float_training": {k: info[k] for k in ("best_epoch", "epochs_run", "val_accuracy", "history")},
        "qat": {k: v for k, v in qinfo.items() if k != "history"} | {"kept_by_rule": kept},
        "control": control, "test": {k: score(v) for k, v in ok.items()},
        "deltas": {"int8_minus_float": paired(ok["int8"], ok["float"]),
                   "qat_int8_minus_int8": paired(ok["qat_int8"], ok["int8"]),
                   "qat_int8_minus_control_int8": paired(ok["qat_int8"], ok["control_int8"])},
        "deployed": "qat" if kept else "float",
    }  # fmt: skip
    row["deployed_test_int8"] = row["test"]["qat_int8" if kept else "int8"]
    row["seconds"] = round(time.perf_counter() - t0, 1)
    log(f"{label}: QAT int8 {ok['qat_int8'].mean():.4f}, control int8 {ok['control_int8'].mean():.4f}, "
        f"kept by rule: {kept} ({row['seconds']} s)")
    return row, work / f"{key}_{'qat' if kept else 'float'}.tnr"


def start_device(artifact: Path, device_npz: Path, n: int, out_json: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-c", _VERIFY, str(artifact), f"qemu:{BOARD}", str(device_npz), str(n), str(out_json)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish_device(proc: subprocess.Popen, row: dict, out_json: Path, device_ds) -> None:
    """Wait for the verification; device accuracy next to the golden model's on the same windows."""
    from tinyrnn.core import tnr
    from tinyrnn.core.golden.model import predict

    _, err = proc.communicate()
    artifact = Path(proc.args[3])
    golden = score(predict(tnr.load(artifact), device_ds.x) == device_ds.y)
    if proc.returncode != 0 or not out_json.is_file():
        row["device"] = {"error": (err.strip().splitlines() or ["failed"])[-1][:300], "golden_same_windows": golden}
        log(f"{row['model']}: device verification FAILED: {row['device']['error']}")
        return
    r = json.loads(out_json.read_text())
    row["device"] = {"accuracy": r["device_accuracy"], "n": r["sequences"], "verified": r["verified"],
                     "mismatches": r["mismatches"], "instructions_per_inference": r["instructions_per_inference"],
                     "flash_bytes": r["flash_bytes"], "ram_bytes": r["ram_bytes"], "golden_same_windows": golden,
                     "artifact": artifact.name}  # fmt: skip
    log(f"{row['model']}: device {r['device_accuracy']:.4f} on {r['sequences']} windows, verified {r['verified']}")


def load_data(args, work: Path) -> dict:
    from tinyrnn.train.data import save_npz, split
    from tinyrnn.train.datasets import load_dataset

    ds = load_dataset(str(args.data))
    train, test = split(ds, 0.2, args.seed)
    fit, val = split(train, 0.2, args.seed)
    assert not set(train.groups) & set(test.groups) and not set(fit.groups) & set(val.groups)
    idx = np.unique(np.linspace(0, len(test) - 1, min(args.device_n, len(test))).round().astype(int))
    device = test.subset(idx, "har-device")
    save_npz(device, work / "device.npz")
    return {"all": ds, "fit": fit, "val": val, "test": test, "device": device, "device_npz": work / "device.npz"}


# ----------------------------------------------------------------------------- report

def _pct(s: dict) -> str:
    return f"{100 * s['accuracy']:.1f} ± {100 * s['se']:.1f}"


def _pp(d: dict) -> str:
    return f"{100 * d['diff']:+.1f} ± {100 * d['se']:.1f}"


def _device_cell(row: dict) -> str:
    d = row.get("device") or {}
    if "accuracy" not in d:
        return f"failed: {d.get('error', 'not run')}"
    verdict = "bit-exact" if d["verified"] else f"NOT verified ({d['mismatches']} mismatching)"
    return f"{100 * d['accuracy']:.1f} % ({d['n']} windows, {verdict}; golden {100 * d['golden_same_windows']['accuracy']:.1f} %)"


def _accuracy_table(rows: list) -> list:
    lines = ["| model | float | int8 (golden) | int8 − float | target | QAT int8 | deployed by `--qat` | device, QEMU mps2-an386 |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        t, d = r["test"], r["deltas"]["int8_minus_float"]
        met = "met" if -100 * d["diff"] <= r["target_pp"] else "**missed**"
        lines.append(f"| {r['model']} + Dense(6) | {_pct(t['float'])} | {_pct(t['int8'])} | {_pp(d)} pp "
                     f"| ≥ −{r['target_pp']:.1f} pp: {met} | {_pct(t['qat_int8'])} "
                     f"| {'QAT' if r['deployed'] == 'qat' else 'float-trained'} | {_device_cell(r)} |")
    return lines


def _qat_table(rows: list) -> list:
    lines = ["| model | int8 | QAT int8 | QAT − int8 | control int8 (float fine-tune) | QAT − control "
             "| QAT float | validation int8 before → after QAT | QAT epochs run |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        t, d, q = r["test"], r["deltas"], r["qat"]
        lines.append(f"| {r['model']} | {_pct(t['int8'])} | {_pct(t['qat_int8'])} | {_pp(d['qat_int8_minus_int8'])} pp "
                     f"| {_pct(t['control_int8'])} | {_pp(d['qat_int8_minus_control_int8'])} pp | {_pct(t['qat_float'])} "
                     f"| {100 * q['int8_val_accuracy_before']:.1f} → {100 * q['int8_val_accuracy_after']:.1f} % "
                     f"| {q['epochs_run']} (best {q['best_epoch']}) |")
    return lines


def write_results(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "training.json").write_text(json.dumps(results, indent=1) + "\n")
    m, rows = results["meta"], results["models"]
    text = [
        "# Training results on HAR: float, int8, QAT int8, device", "",
        f"Regenerate: `{m['command']}` ({m['runtime_minutes']:.1f} min on this 2-core machine). "
        f"Data: `{m['data']}`, {m['windows']} windows of {m['steps']} steps × {m['features']} channels, split by "
        f"recording session with seed {m['seed']}: **{m['test_windows']} held-out windows** ({m['test_sessions']} sessions; "
        f"never trained, validated or calibrated on); the rest split again by session into {m['fit_windows']} fit and "
        f"{m['val_windows']} validation windows (early stopping, QAT keep rule). Training seed {m['seed']}, "
        f"≤ {m['epochs']} epochs (patience 5), Adam 1e-3, batch 64; QAT ≤ {m['qat_epochs']} epochs at {m['qat_lr']:g} "
        f"(patience 3); calibration {m['calibration_windows']} fit windows, `tinyrnn quantize` defaults. "
        f"Keras {m['versions']['keras']}, TensorFlow {m['versions']['tensorflow']}.", "",
        "Accuracy in % ± one standard error (binomial, n = held-out windows); differences in percentage points ± the "
        "standard error of the paired per-window difference. Windows overlap by half, so the true uncertainty is larger.",
        "", *_accuracy_table(rows), "",
        f"Device: the artifact `tinyrnn train --qat` keeps (validation rule) on {m['device_windows']} held-out windows "
        "spread evenly over the held-out set; every output byte compared with the golden model; \"golden\" is the "
        "golden model's accuracy on the same windows."
        + (f" Device column re-run on {m['device_rerun']['when']} (`--device-only`, same artifacts)."
           if m.get("device_rerun") else ""), "",
        "## Quantization-aware fine-tuning", "",
        "QAT = `--qat`: the model's fake-quantized twin (`train/qat.py`) fine-tuned for a few epochs, then quantized "
        "again. The control applies the same fine-tuning (epochs, rate, patience, seed) without fake quantization: "
        "QAT − control isolates what the quantization-aware part adds.", "",
        *_qat_table(rows), "", *results.get("conclusions", []),
    ]
    (out / "training.md").write_text("\n".join(text).rstrip() + "\n")


def _conclusions(rows: list) -> list:
    """Read the tables for the reader: targets, where QAT helps beyond two standard errors, device."""
    out = ["## Reading the numbers", ""]
    missed = [r["model"] for r in rows if -100 * r["deltas"]["int8_minus_float"]["diff"] > r["target_pp"]]
    out.append(f"- int8 vs float: {'every model within its target' if not missed else 'target missed by ' + ', '.join(missed)} "
               "(1.0 pp for one layer, 1.5 pp for the stacks).")
    for name, key in (("int8 after QAT vs int8 without it", "qat_int8_minus_int8"),
                      ("QAT vs the float fine-tuning control", "qat_int8_minus_control_int8")):
        up = [r["model"] for r in rows if r["deltas"][key]["diff"] > 2 * r["deltas"][key]["se"] > 0]
        down = [r["model"] for r in rows if -r["deltas"][key]["diff"] > 2 * r["deltas"][key]["se"] > 0]
        span = ", ".join(f"{r['model']} {_pp(r['deltas'][key])}" for r in rows)
        verdict = (f"better by more than two paired standard errors for {', '.join(up)}" if up
                   else "no gain beyond two paired standard errors")
        verdict += f"; worse beyond two for {', '.join(down)}" if down else ""
        out.append(f"- {name}: {verdict} ({span} pp).")
    helps = [r["model"] for r in rows if r["deltas"]["qat_int8_minus_control_int8"]["diff"]
             > 2 * r["deltas"]["qat_int8_minus_control_int8"]["se"] > 0]
    gap = max(-100 * r["deltas"]["int8_minus_float"]["diff"] for r in rows)
    out.append(f"- Decision: {'QAT measurably helps ' + ', '.join(helps) if helps else 'QAT does not measurably help any model here'}. "
               + (f"The largest int8 loss against float is {gap:.1f} pp" if gap >= 0.05 else
                  "int8 is nowhere below float by even 0.1 pp")
               + ", so there is little quantization loss for QAT to recover; `--qat` stays opt-in, and when used its keep rule decides per model on the validation windows.")
    kept = [r["model"] for r in rows if r["deployed"] == "qat"]
    out.append(f"- The `--qat` keep rule (int8 validation accuracy, then cross-entropy) kept the fine-tuned weights for "
               f"{', '.join(kept) if kept else 'no model'}; the others deploy the float-trained weights.")
    dev = [r for r in rows if "accuracy" in (r.get("device") or {})]
    exact = all(r["device"]["verified"] for r in dev)
    out.append(f"- Device: {len(dev)} of {len(rows)} models ran on QEMU; "
               f"{'all bit-exact with the golden model (device accuracy = golden accuracy on those windows)' if exact and dev else 'see the table for failures'}.")
    return out


def _meta(args, data: dict, seconds: float) -> dict:
    from tinyrnn.quantize.qat_finetune import CALIBRATION_WINDOWS
    from tinyrnn.tfsupport import import_keras

    keras = import_keras()
    import tensorflow as tf

    test = data["test"]
    return {
        "command": " ".join([".venv/bin/python benchmarks/training_results.py", *sys.argv[1:]]),
        "argv": sys.argv[1:], "data": "../shared/data/" + args.data.name, "windows": len(data["all"]),
        "steps": test.timesteps, "features": test.features, "seed": args.seed,
        "fit_windows": len(data["fit"]), "val_windows": len(data["val"]), "test_windows": len(test),
        "test_sessions": len(set(test.groups)), "device_windows": len(data["device"]), "board": BOARD,
        "epochs": args.epochs, "qat_epochs": args.qat_epochs, "qat_lr": args.qat_lr, "units": UNITS,
        "calibration_windows": CALIBRATION_WINDOWS, "runtime_minutes": seconds / 60,
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }  # fmt: skip


def device_only(args) -> int:
    """Re-run only the device step on the artifacts of the last full run (training.json + --work)."""
    from tinyrnn.train.data import load_npz

    t0 = time.time()
    results = json.loads((args.out / "training.json").read_text())
    device_ds = load_npz(args.work / "device.npz")
    for row in results["models"]:
        artifact = args.work / f"{row['key']}_{row['deployed']}.tnr"
        out_json = args.work / f"{row['key']}_device.json"
        out_json.unlink(missing_ok=True)
        log(f"{row['model']}: device run of {artifact.name}")
        finish_device(start_device(artifact, args.work / "device.npz", len(device_ds), out_json), row, out_json, device_ds)
    meta = results["meta"]
    meta["device_rerun"] = {"minutes": round((time.time() - t0) / 60, 1), "when": time.strftime("%Y-%m-%d %H:%M")}
    results["conclusions"] = _conclusions(results["models"])
    write_results(results, args.out)
    log(f"rewrote {args.out / 'training.md'} and .json")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--qat-epochs", type=int, default=5)
    ap.add_argument("--qat-lr", type=float, default=1e-4)
    ap.add_argument("--device-n", type=int, default=100, help="held-out windows run on QEMU per model (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    ap.add_argument("--out", type=Path, default=REPO / "results")
    ap.add_argument("--work", type=Path, default=REPO / "out" / "training_results")
    ap.add_argument("--device-only", action="store_true",
                    help="re-run only the device step on the artifacts of the last run (--out, --work)")
    args = ap.parse_args(argv)
    if args.device_only:
        return device_only(args)
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the shared HAR data)", file=sys.stderr)
        return 2
    keys = [k.strip() for k in args.models.split(",")]
    if unknown := [k for k in keys if k not in MODELS]:
        ap.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    t0 = time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    data = load_data(args, args.work)
    log(f"held-out {len(data['test'])} windows, fit {len(data['fit'])}, validation {len(data['val'])}")
    rows, pending = [], None
    for key in keys:
        row, artifact = run_model(key, data, args, args.work)
        rows.append(row)
        if pending:
            finish_device(*pending)
            pending = None
        if args.device_n > 0:
            out_json = args.work / f"{key}_device.json"
            out_json.unlink(missing_ok=True)
            proc = start_device(artifact, data["device_npz"], len(data["device"]), out_json)
            pending = (proc, row, out_json, data["device"])
    if pending:
        finish_device(*pending)
    results = {"meta": _meta(args, data, time.time() - t0), "models": rows, "conclusions": _conclusions(rows)}
    write_results(results, args.out)
    log(f"wrote {args.out / 'training.md'} and .json ({(time.time() - t0) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
