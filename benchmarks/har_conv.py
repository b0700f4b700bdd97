"""HAR accuracy and device bit-exactness of the CNN-RNN front end (issue 13): conv-lstm, conv-gru.

    .venv/bin/python benchmarks/har_conv.py                         # → results/har_conv.{md,json} (~5 min)
    .venv/bin/python benchmarks/har_conv.py --epochs 1 --device-windows 4 --out /tmp/conv   # smoke run

Same data, split and training recipe as ``har_accuracy.py`` (its ``load_data``/``train``:
held-out recording sessions never trained or calibrated on, Normalization layer, Adam
1e-3, batch 64, training seed 0); the model is ``tinyrnn train --arch conv-lstm`` /
``conv-gru``'s: Conv1D(16, 5, causal, relu) + MaxPooling1D(2) + LSTM/GRU(32) + Dense(6).
Per model: Keras float accuracy, the referee's float twin agreement, tinyrnn int8
accuracy (quantize defaults + golden model) and the paired difference; then on QEMU
mps2-an386 the first ``--device-windows`` held-out windows through ``_run`` and the first
``--stream-windows`` one sample per ``_step``, every output compared with the golden
model (``run_model``, ``run_steps``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from har_accuracy import UNITS, load_data, log, train
from har_architectures import har_args

ARCHS = ("conv-lstm", "conv-gru")
BOARD = "mps2-an386"


def device_check(q, x_q: np.ndarray, streamed: int, workdir: Path) -> dict:
    """_run on every window and _step on the first ``streamed``, against the golden model."""
    from tinyrnn.app.targets import connect
    from tinyrnn.core.golden.model import run_steps
    from tinyrnn.harness.verify import verify_device

    t0 = time.perf_counter()
    with connect(f"qemu:{BOARD}", q, workdir) as (device, _):
        r = verify_device(device, q, x_q, progress=False)
        want, stream_mismatches = run_steps(q, x_q[:streamed]), 0
        for n in range(len(want)):
            device.reset()
            got = np.stack([device.step(x_q[n, t])[0] for t in range(x_q.shape[1])])
            stream_mismatches += int(np.sum(got != want[n]))
    out = {"board": BOARD, "run_windows": r.sequences, "run_mismatched_elements": r.mismatched_elements,
           "error": r.error, "stream_windows": int(len(want)), "stream_steps": int(want.shape[0] * want.shape[1]),
           "stream_mismatched_elements": stream_mismatches, "seconds": round(time.perf_counter() - t0, 1)}
    log(f"  {BOARD}: _run {r.sequences} windows, {r.mismatched_elements} mismatched; _step {out['stream_steps']} "
        f"steps, {stream_mismatches} mismatched; error {r.error}")
    return out


def one(arch: str, args, train_ds, test, calib, tmp: Path) -> dict:
    from tinyrnn.core.golden.model import dequantize_output, run_model
    from tinyrnn.quantize import referee
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    log(f"training {arch}({UNITS}), {args.epochs} epochs")
    model, path, seconds = train(arch, True, train_ds, args.epochs, args.seed, tmp)
    float_model = load_keras(path)
    agreement = referee.check(model, float_model, calib[:64])
    keras_pred = np.argmax(model.predict(test.x, verbose=0), -1)
    q = quantize_model(float_model, calib)
    ref = float_model.run(test.x)
    int8_logits = dequantize_output(q, run_model(q, q.input_quant.quantize(test.x)))
    int8_pred = np.argmax(int8_logits, -1)
    diff = (int8_pred == test.y).astype(float) - (keras_pred == test.y).astype(float)
    row = {"arch": arch, "layers": [layer.kind for layer in q.layers], "train_seconds": round(seconds, 1),
           "referee_max_rel_diff": agreement["max_rel_diff"], "float_accuracy": float(np.mean(keras_pred == test.y)),
           "int8_accuracy": float(np.mean(int8_pred == test.y)), "int8_minus_float_pp": 100 * float(diff.mean()),
           "paired_se_pp": 100 * float(diff.std() / np.sqrt(len(diff))),
           "int8_agrees_with_float": float(np.mean(int8_pred == keras_pred)),
           "int8_logits_sqnr_db": float(10 * np.log10(np.sum(ref**2) / np.sum((int8_logits - ref) ** 2))),
           "front_timing": list(q.front_timing)}
    log(f"  float {row['float_accuracy']:.4f}, int8 {row['int8_accuracy']:.4f} "
        f"({row['int8_minus_float_pp']:+.2f} ± {row['paired_se_pp']:.2f} pp)")
    x_q = q.input_quant.quantize(test.x[: args.device_windows])
    row["device"] = device_check(q, x_q, args.stream_windows, tmp / f"fw-{arch}")
    return row


def render(results: dict) -> str:
    m = results["meta"]
    md = ["# CNN-RNN on HAR (issue 13): Conv1D + MaxPooling1D + LSTM/GRU", "",
          (f"Regenerate: `{m['command']}` ({m['runtime_minutes']} min). HAR (`../shared/data/har_train.npz`), split "
           f"by recording session as `har_accuracy.py` does: {m['train_windows']} training windows, "
           f"{m['test_windows']} held-out windows (one window = {100 / m['test_windows']:.2f} pp), "
           f"{m['calibration_windows']} calibration windows, {m['epochs']} epochs, training seed {m['seed']}. "
           f"Model: Normalization + Conv1D(16, 5, causal, relu) + MaxPooling1D(2) + LSTM/GRU({UNITS}) + "
           "Dense(6, softmax) (`tinyrnn train --arch conv-lstm|conv-gru`)."), "",
          "| model | Keras float | tinyrnn int8 | int8 − float (paired SE) | int8 logits SQNR | referee max rel. Δ |",
          "|---|---|---|---|---|---|"]
    for r in results["models"]:
        md.append(f"| {r['arch']}({UNITS}) | {100 * r['float_accuracy']:.1f} % | {100 * r['int8_accuracy']:.1f} % "
                  f"| {r['int8_minus_float_pp']:+.2f} ± {r['paired_se_pp']:.2f} pp | {r['int8_logits_sqnr_db']:.1f} dB "
                  f"| {r['referee_max_rel_diff']:.1e} |")
    md += ["", f"Device ({BOARD}, Cortex-M4, QEMU): whole windows through `_run`, and streamed one sample per "
               "`_step` call (the recurrent stack steps every second sample, after the pooling), every output "
               "element compared with the golden model (`run_model`, `run_steps`).", "",
           "| model | `_run` windows | mismatched elements | `_step` calls | mismatched elements |",
           "|---|---|---|---|---|"]
    for r in results["models"]:
        d = r["device"]
        md.append(f"| {r['arch']}({UNITS}) | {d['run_windows']} | {d['run_mismatched_elements']} | {d['stream_steps']} "
                  f"| {d['stream_mismatched_elements']} |")
    return "\n".join(md) + "\n"


def main() -> None:
    ap = har_args(__doc__, 20, 50)
    ap.add_argument("--stream-windows", type=int, default=4)
    ap.add_argument("--archs", default=",".join(ARCHS))
    args = ap.parse_args()
    t0 = time.perf_counter()
    _, train_ds, test, calib = load_data(args.data, args.seed)
    with tempfile.TemporaryDirectory(prefix="tinyrnn-conv-") as tmp:
        rows = [one(arch, args, train_ds, test, calib, Path(tmp)) for arch in args.archs.split(",")]
    meta = {"command": " ".join(["benchmarks/har_conv.py", *sys.argv[1:]]), "epochs": args.epochs, "seed": args.seed,
            "train_windows": len(train_ds), "test_windows": len(test), "calibration_windows": len(calib),
            "runtime_minutes": round((time.perf_counter() - t0) / 60, 1)}
    results = {"meta": meta, "models": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "har_conv.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "har_conv.md").write_text(render(results))
    log(f"wrote {args.out / 'har_conv.md'}")


if __name__ == "__main__":
    main()
