"""HAR accuracy and device bit-exactness of Bidirectional(LSTM(32)) (issue 13).

    .venv/bin/python benchmarks/har_bidirectional.py                 # → results/bidirectional.{md,json}
    .venv/bin/python benchmarks/har_bidirectional.py --epochs 1 --device-windows 4 --out /tmp/bidir   # smoke run

Same data, split and training recipe as ``har_accuracy.py`` (its ``load_data``/``train``:
held-out recording sessions never trained or calibrated on, Normalization layer, Adam
1e-3, batch 64, training seed 0, 30 epochs), with ``--arch bilstm`` (merge concat, 32
units per direction). Keras float accuracy, the float twin's agreement with Keras (the
referee), tinyrnn int8 accuracy (quantize defaults + golden model) and the paired
difference; then the int8 model's whole-window ``_run`` on a QEMU board over the first
``--device-windows`` held-out windows, every output compared with the golden model.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from har_accuracy import DEFAULT_DATA, REPO, load_data, log, train
from har_architectures import _pct, _sqnr, run_meta, write_results


def measure(args, train_ds, test, calib, tmp: Path) -> dict:
    from tinyrnn.app.targets import connect
    from tinyrnn.core.golden.model import dequantize_output, run_model
    from tinyrnn.harness.verify import verify_device
    from tinyrnn.quantize import referee
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    log(f"training bilstm(32), {args.epochs} epochs")
    model, path, seconds = train("bilstm", True, train_ds, args.epochs, args.seed, tmp)
    float_model = load_keras(path)
    agreement = referee.check(model, float_model, calib)
    keras_pred = np.argmax(model.predict(test.x, verbose=0), -1)
    q = quantize_model(float_model, calib)
    x_q = q.input_quant.quantize(test.x)
    int8_logits = dequantize_output(q, run_model(q, x_q))
    int8_pred = np.argmax(int8_logits, -1)
    diff = (int8_pred == test.y).astype(float) - (keras_pred == test.y).astype(float)
    row = {"arch": "bilstm", "train_seconds": round(seconds, 1), "float_accuracy": float(np.mean(keras_pred == test.y)),
           "keras_agreement_max_rel_diff": agreement["max_rel_diff"],
           "int8_accuracy": float(np.mean(int8_pred == test.y)),
           "int8_minus_float_pp": 100 * float(diff.mean()),
           "paired_se_pp": 100 * float(diff.std() / np.sqrt(len(diff))),
           "int8_agrees_with_float": float(np.mean(int8_pred == keras_pred)),
           "int8_logits_sqnr_db": _sqnr(float_model.run(test.x), int8_logits), "max_steps": q.layers[0].max_steps}
    log(f"  float {row['float_accuracy']:.4f}, int8 {row['int8_accuracy']:.4f} "
        f"({row['int8_minus_float_pp']:+.2f} ± {row['paired_se_pp']:.2f} pp)")
    t0 = time.perf_counter()
    with connect(f"qemu:{args.board}", q, tmp / "fw") as (device, _):
        r = verify_device(device, q, x_q[:args.device_windows], progress=False)
    row["device"] = {"board": args.board, **r.summary(), "seconds": round(time.perf_counter() - t0, 1)}
    log(f"  {args.board}: {r.sequences} windows, {r.mismatched_elements} mismatched elements, error {r.error}")
    return row


def render(results: dict) -> str:
    m, r = results["meta"], results["model"]
    d = r["device"]
    return "\n".join([
        "# Bidirectional(LSTM(32)) on HAR (issue 13)", "",
        (f"Regenerate: `{m['command']}` ({m['runtime_minutes']} min). HAR (`../shared/data/har_train.npz`), split by "
         f"recording session as `har_accuracy.py` does: {m['train_windows']} training windows, {m['test_windows']} "
         f"held-out windows (one window = {100 / m['test_windows']:.2f} pp), {m['calibration_windows']} calibration "
         f"windows; Normalization + Bidirectional(LSTM(32), concat) + Dense(6, softmax), {m['epochs']} epochs, "
         f"training seed {m['seed']}."), "",
        "| model | Keras float | tinyrnn int8 | int8 − float (paired SE) | int8 logits SQNR | float twin vs Keras |",
        "|---|---|---|---|---|---|",
        (f"| Bidirectional(LSTM(32)) | {_pct(r['float_accuracy'])} | {_pct(r['int8_accuracy'])} "
         f"| {r['int8_minus_float_pp']:+.2f} ± {r['paired_se_pp']:.2f} pp | {r['int8_logits_sqnr_db']:.1f} dB "
         f"| {r['keras_agreement_max_rel_diff']:.1g} (relative) |"), "",
        (f"Device: the generated whole-window `_run` (MAX_STEPS {r['max_steps']}) on QEMU {d['board']} (Cortex-M4, DSP "
         f"path), the first {d['sequences']} held-out windows, each sent in several RUN chunks and run at the last: "
         f"{d['mismatched_elements']} mismatched output elements against the golden model"
         f"{'' if d['error'] is None else ', error ' + d['error']}; {d['ticks_per_inference']} ticks per window."), ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device-windows", type=int, default=50)
    ap.add_argument("--board", default="mps2-an386")
    ap.add_argument("--out", type=Path, default=REPO / "results")
    args = ap.parse_args()
    t0 = time.perf_counter()
    _, train_ds, test, calib = load_data(args.data, args.seed)
    with tempfile.TemporaryDirectory(prefix="tinyrnn-bidir-") as tmp:
        row = measure(args, train_ds, test, calib, Path(tmp))
    results = {"meta": run_meta("har_bidirectional.py", args, (train_ds, test, calib), t0), "model": row}
    write_results(args.out / "bidirectional", results, render)


if __name__ == "__main__":
    main()
