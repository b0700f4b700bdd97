"""HAR accuracy and device bit-exactness of the newer architectures (issue 13): SimpleRNN(32).

    .venv/bin/python benchmarks/har_architectures.py        # → results/architectures.json (+ prints the table)
    .venv/bin/python benchmarks/har_architectures.py --epochs 2 --device-windows 4 --out /tmp/arch   # smoke run

Same data, split and training recipe as ``har_accuracy.py`` (its ``load_data``/``train``:
held-out recording sessions never trained or calibrated on, Normalization layer, Adam
1e-3, batch 64, training seed 0). Per model: Keras float accuracy, the float twin's
agreement with Keras, tinyrnn int8 (quantize defaults + golden model) accuracy and the
paired difference; then the int8 model on QEMU boards over the first ``--device-windows``
held-out windows, every output compared with the golden model.

The hidden-state question (int8 or int16 between steps) is measured on the float twin:
the same weights run in float with the state rounded to the int8 grid (1/128) after
every step, against plain float. That isolates what an int8 state costs, apart from the
rest of the quantization.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from har_accuracy import DEFAULT_DATA, REPO, load_data, log, train  # noqa: E402

BOARDS = ("mps2-an386", "microbit", "mps3-an547")
ARCHS = ("rnn",)


def rounded_state_run(layer, x: np.ndarray, step: float) -> np.ndarray:
    """FloatSimpleRNN.run with h rounded to multiples of ``step`` after every time step."""
    h = np.zeros((x.shape[0], layer.units))
    out = np.empty((*x.shape[:2], layer.units))
    xk = x.astype(np.float64) @ layer.kernel + layer.bias
    for t in range(x.shape[1]):
        pre = xk[:, t] + h @ layer.recurrent_kernel
        h = np.round((np.tanh(pre) if layer.activation == "tanh" else np.maximum(pre, 0.0)) / step) * step
        out[:, t] = h
    return out


def state_study(float_model, test) -> dict:
    """Accuracy and hidden-state SQNR of the float twin with an int8-grid state (first recurrent layer)."""
    rnn = float_model.layers[0]
    y = float_model.normalize(test.x)
    exact = rnn.run(y)
    rounded = rounded_state_run(rnn, y, 1.0 / 128)
    sqnr = 10 * np.log10(np.sum(exact**2) / np.sum((rounded - exact) ** 2))
    head = float_model.layers[1:]
    logits = rounded if rnn.return_sequences else rounded[:, -1]
    for layer in head:
        logits = layer.run(logits)
    return {"hidden_sqnr_db": float(sqnr), "accuracy": float(np.mean(np.argmax(logits, -1) == test.y))}


def device_check(q, x_q: np.ndarray, workdir: Path) -> dict:
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    out = {}
    for board in BOARDS:
        t0 = time.perf_counter()
        with connect(f"qemu:{board}", q, workdir / board) as (device, _):
            r = verify_device(device, q, x_q, progress=False)
        out[board] = {"sequences": r.sequences, "mismatched_elements": r.mismatched_elements, "error": r.error,
                      "seconds": round(time.perf_counter() - t0, 1)}
        log(f"  {board}: {r.sequences} windows, {r.mismatched_elements} mismatched elements, error {r.error}")
    return out


def one(arch: str, args, train_ds, test, calib, tmp: Path) -> dict:
    from tinyrnn.core.golden.model import predict
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    log(f"training {arch}(32), {args.epochs} epochs")
    model, path, seconds = train(arch, True, train_ds, args.epochs, args.seed, tmp)
    float_model = load_keras(path)
    keras_pred = np.argmax(model.predict(test.x, verbose=0), -1)
    twin_pred = np.argmax(float_model.run(test.x), -1)
    q = quantize_model(float_model, calib)
    int8_pred = predict(q, test.x)
    diff = (int8_pred == test.y).astype(float) - (keras_pred == test.y).astype(float)
    row = {"arch": arch, "train_seconds": round(seconds, 1), "float_accuracy": float(np.mean(keras_pred == test.y)),
           "float_twin_agrees_with_keras": float(np.mean(twin_pred == keras_pred)),
           "int8_accuracy": float(np.mean(int8_pred == test.y)),
           "int8_minus_float_pp": 100 * float(diff.mean()), "paired_se_pp": 100 * float(diff.std() / np.sqrt(len(diff))),
           "int8_agrees_with_float": float(np.mean(int8_pred == keras_pred)),
           "int8_state_float_twin": state_study(float_model, test)}
    log(f"  float {row['float_accuracy']:.4f}, int8 {row['int8_accuracy']:.4f} "
        f"({row['int8_minus_float_pp']:+.2f} ± {row['paired_se_pp']:.2f} pp)")
    row["device"] = device_check(q, q.input_quant.quantize(test.x[:args.device_windows]), tmp / f"fw-{arch}")
    row["device_windows"] = int(min(args.device_windows, len(test)))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device-windows", type=int, default=100)
    ap.add_argument("--out", type=Path, default=REPO / "results")
    args = ap.parse_args()
    t0 = time.perf_counter()
    ds, train_ds, test, calib = load_data(args.data, args.seed)
    with tempfile.TemporaryDirectory(prefix="tinyrnn-arch-") as tmp:
        rows = [one(arch, args, train_ds, test, calib, Path(tmp)) for arch in ARCHS]
    meta = {"command": " ".join(["benchmarks/har_architectures.py", *sys.argv[1:]]), "epochs": args.epochs,
            "seed": args.seed, "train_windows": len(train_ds), "test_windows": len(test),
            "calibration_windows": len(calib), "runtime_minutes": round((time.perf_counter() - t0) / 60, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "architectures.json").write_text(json.dumps({"meta": meta, "models": rows}, indent=1) + "\n")
    print(json.dumps({"meta": meta, "models": rows}, indent=1))


if __name__ == "__main__":
    main()
