"""HAR accuracy and device bit-exactness of the newer architectures (issue 13): SimpleRNN(32), tanh and relu.

    tinyrnn bench --models rnn_i9_h32 --json > bench.json
    .venv/bin/python benchmarks/har_architectures.py --bench bench.json   # → results/architectures.{md,json}
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
from har_accuracy import DEFAULT_DATA, REPO, load_data, log, train

BOARDS = ("mps2-an386", "microbit", "mps3-an547")
ARCHS = ("rnn", "rnn_relu")


def rounded_state_run(layer, x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """FloatSimpleRNN.run with h put on the int8 grid (scale, zero point) after every time step."""
    lo, hi = (-128 - zero_point) * scale, (127 - zero_point) * scale
    h = np.zeros((x.shape[0], layer.units))
    out = np.empty((*x.shape[:2], layer.units))
    xk = x.astype(np.float64) @ layer.kernel + layer.bias
    for t in range(x.shape[1]):
        pre = xk[:, t] + h @ layer.recurrent_kernel
        h = np.tanh(pre) if layer.activation == "tanh" else np.maximum(pre, 0.0)
        h = np.clip(np.round(h / scale) * scale, lo, hi)
        out[:, t] = h
    return out


def state_study(float_model, q, test) -> dict:
    """Accuracy and hidden-state SQNR of the float twin with the state on the int8 grid the
    quantizer chose (first recurrent layer), everything else float."""
    rnn = float_model.layers[0]
    y = float_model.normalize(test.x)
    exact = rnn.run(y)
    rounded = rounded_state_run(rnn, y, q.layers[0].hidden_scale, q.layers[0].hidden_zero_point)
    sqnr = 10 * np.log10(np.sum(exact**2) / np.sum((rounded - exact) ** 2))
    logits = rounded if rnn.return_sequences else rounded[:, -1]
    for layer in float_model.layers[1:]:
        logits = layer.run(logits)
    return {"hidden_sqnr_db": float(sqnr), "logits_sqnr_db": _sqnr(float_model.run(test.x), logits),
            "accuracy": float(np.mean(np.argmax(logits, -1) == test.y))}


def _sqnr(ref: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


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
    from tinyrnn.core.golden.model import dequantize_output, run_model
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    log(f"training {arch}(32), {args.epochs} epochs")
    model, path, seconds = train(arch, True, train_ds, args.epochs, args.seed, tmp)
    float_model = load_keras(path)
    keras_pred = np.argmax(model.predict(test.x, verbose=0), -1)
    twin_pred = np.argmax(float_model.run(test.x), -1)
    q = quantize_model(float_model, calib)
    int8_logits = dequantize_output(q, run_model(q, q.input_quant.quantize(test.x)))
    int8_pred = np.argmax(int8_logits, -1)
    diff = (int8_pred == test.y).astype(float) - (keras_pred == test.y).astype(float)
    row = {"arch": arch, "train_seconds": round(seconds, 1), "float_accuracy": float(np.mean(keras_pred == test.y)),
           "float_twin_agrees_with_keras": float(np.mean(twin_pred == keras_pred)),
           "int8_accuracy": float(np.mean(int8_pred == test.y)),
           "int8_minus_float_pp": 100 * float(diff.mean()), "paired_se_pp": 100 * float(diff.std() / np.sqrt(len(diff))),
           "int8_agrees_with_float": float(np.mean(int8_pred == keras_pred)),
           "int8_logits_sqnr_db": _sqnr(float_model.run(test.x), int8_logits),
           "int8_state_float_twin": state_study(float_model, q, test)}
    log(f"  float {row['float_accuracy']:.4f}, int8 {row['int8_accuracy']:.4f} "
        f"({row['int8_minus_float_pp']:+.2f} ± {row['paired_se_pp']:.2f} pp)")
    row["device"] = device_check(q, q.input_quant.quantize(test.x[:args.device_windows]), tmp / f"fw-{arch}")
    row["device_windows"] = int(min(args.device_windows, len(test)))
    return row


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def render(results: dict) -> str:
    """results/architectures.md from the JSON (HAR rows, then the bench rows beside LSTM/GRU)."""
    m = results["meta"]
    command = m["command"] if "--bench" in m["command"] else f"{m['command']} --bench bench.json"
    md = ["# Architectures beyond LSTM/GRU (issue 13): SimpleRNN", "",
          (f"Regenerate: `tinyrnn bench --models rnn_i9_h32 --json > bench.json` then `{command}` "
          f"({m['runtime_minutes']} min). HAR (`../shared/data/har_train.npz`), split by recording session as "
          f"`har_accuracy.py` does: {m['train_windows']} training windows, {m['test_windows']} held-out windows "
          f"(one window = {100 / m['test_windows']:.2f} pp), {m['calibration_windows']} calibration windows, "
          f"Normalization + SimpleRNN(32) + Dense(6, softmax), {m['epochs']} epochs, training seed {m['seed']}."), "",
          ("| model | Keras float | tinyrnn int8 | int8 − float (paired SE) | int8 logits SQNR | devices: windows, "
          "mismatched elements |"), "|---|---|---|---|---|---|"]
    for r in results["models"]:
        dev = ", ".join(f"{b} {d['sequences']}/{d['mismatched_elements']}" for b, d in r["device"].items())
        md.append(f"| {r['arch']}(32) | {_pct(r['float_accuracy'])} | {_pct(r['int8_accuracy'])} "
                  f"| {r['int8_minus_float_pp']:+.2f} ± {r['paired_se_pp']:.2f} pp | {r['int8_logits_sqnr_db']:.1f} dB "
                  f"| {dev} |")
    md += ["", ("Same split and recipe in `results/har_accuracy.md`: LSTM(32) and GRU(32) reach more float accuracy "
           "on these 128-step windows; SimpleRNN is the cheapest recurrent layer (a quarter of the LSTM's MACs), not "
           "the most accurate. \"devices\": the int8 model on QEMU (M4, M0, M55), every output of every held-out "
           "window compared with the golden model."),
           "", ("**Hidden state int8, not int16.** The state is recomputed from scratch every step (no leaky "
           "integration as in the GRU, where small (1−z)·h~ increments round away in int8), so it is carried as "
           "int8. Measured on the float twin with only the state put on the int8 grid after every step:"), "",
           ("| model | hidden SQNR (int8 state only) | logits SQNR (int8 state only) | logits SQNR (whole int8 model) "
           "| accuracy (int8 state only) |"), "|---|---|---|---|---|"]
    for r in results["models"]:
        s = r["int8_state_float_twin"]
        md.append(f"| {r['arch']}(32) | {s['hidden_sqnr_db']:.1f} dB | {s['logits_sqnr_db']:.1f} dB "
                  f"| {r['int8_logits_sqnr_db']:.1f} dB | {_pct(s['accuracy'])} |")
    if results.get("bench"):
        md += ["", "## Cost per step (`tinyrnn bench`, QEMU -icount, random int8 weights, 9 inputs, 32 units)", "",
               "| board | model | instructions/step | MACs/step | instructions/MAC | code B | weights B | RAM B |",
               "|---|---|---|---|---|---|---|---|"]
        for r in results["bench"]:
            md.append(f"| {r['board']} | {r['model']} | {r['instructions_per_step']} | {r['macs_per_step']} "
                      f"| {r['instructions_per_step'] / r['macs_per_step']:.2f} | {r['flash_code_bytes']} "
                      f"| {r['flash_weights_bytes']} | {r['ram_bytes']} |")
        steps = {(r["board"], r["model"]): r["instructions_per_step"] for r in results["bench"]}
        ratios = ", ".join(f"{b} {steps[(b, 'lstm_i9_h32')] / steps[(b, m)]:.1f}×" for b, m in steps
                           if m == "rnn_i9_h32" and (b, "lstm_i9_h32") in steps)
        md += ["", ("rnn rows measured here; the LSTM/GRU rows are the committed `results/bench.json`. Per MAC the "
               "SimpleRNN costs a little more (one tanh and two requantizations per unit spread over a quarter of "
               f"the LSTM's MACs). LSTM(32) instructions/step ÷ SimpleRNN(32)'s: {ratios}.")]
    return "\n".join(md) + "\n"


def _bench_rows(path: Path | None) -> list:
    """rnn rows from a `tinyrnn bench --json` output, with the committed LSTM/GRU rows of the same boards."""
    if path is None:
        return []
    rows = json.loads(path.read_text().strip().splitlines()[-1])["results"]
    boards = [r["board"] for r in rows]
    committed = json.loads((REPO / "results" / "bench.json").read_text())["results"]
    ref = [r for r in committed if r["board"] in boards and r["model"] in ("lstm_i9_h32", "gru_i9_h32")]
    return sorted(rows + ref, key=lambda r: (boards.index(r["board"]), r["model"]))


def har_args(doc: str, epochs: int, device_windows: int) -> argparse.ArgumentParser:
    """The options of every HAR results script (--data, --epochs, --seed, --device-windows, --out)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device-windows", type=int, default=device_windows)
    ap.add_argument("--out", type=Path, default=REPO / "results")
    return ap


def run_one_model(script: str, stem: str, doc: str, measure, render_md, epochs: int) -> None:
    """main() of a one-model HAR script: its options, the split, ``measure(args, train, test,
    calib, tmp)`` in a temporary folder, then results/STEM.{json,md}."""
    args = har_args(doc, epochs, 50).parse_args()
    t0 = time.perf_counter()
    _, train_ds, test, calib = load_data(args.data, args.seed)
    with tempfile.TemporaryDirectory(prefix=f"tinyrnn-{stem}-") as tmp:
        row = measure(args, train_ds, test, calib, Path(tmp))
    meta = run_meta(script, args, (train_ds, test, calib), t0)
    meta["device_windows"] = args.device_windows
    write_results(args.out / stem, {"meta": meta, "model": row}, render_md)


def measure_whole_window(model, path: Path, seconds: float, args, test, calib, tmp: Path) -> dict:
    """A trained whole-window Keras model (saved at ``path``): the referee's agreement, Keras
    float and tinyrnn int8 accuracy on ``test`` and their paired difference, the int8
    logits' SQNR, then ``_run`` on the QEMU boards over the first ``args.device_windows``."""
    from tinyrnn.core.golden.model import dequantize_output, run_model
    from tinyrnn.quantize import referee
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    float_model = load_keras(path)
    agreement = referee.check(model, float_model, calib)
    keras_pred = np.argmax(model.predict(test.x, verbose=0), -1)
    q = quantize_model(float_model, calib)
    x_q = q.input_quant.quantize(test.x)
    int8_logits = dequantize_output(q, run_model(q, x_q))
    int8_pred = np.argmax(int8_logits, -1)
    diff = (int8_pred == test.y).astype(float) - (keras_pred == test.y).astype(float)
    row = {"layers": [layer.kind for layer in q.layers], "train_seconds": round(seconds, 1),
           "float_accuracy": float(np.mean(keras_pred == test.y)),
           "keras_agreement_max_rel_diff": agreement["max_rel_diff"],
           "int8_accuracy": float(np.mean(int8_pred == test.y)), "int8_minus_float_pp": 100 * float(diff.mean()),
           "paired_se_pp": 100 * float(diff.std() / np.sqrt(len(diff))),
           "int8_agrees_with_float": float(np.mean(int8_pred == keras_pred)),
           "int8_logits_sqnr_db": _sqnr(float_model.run(test.x), int8_logits), "max_steps": q.layers[0].max_steps}
    log(f"  float {row['float_accuracy']:.4f}, int8 {row['int8_accuracy']:.4f} "
        f"({row['int8_minus_float_pp']:+.2f} ± {row['paired_se_pp']:.2f} pp)")
    row["device"] = device_check(q, x_q[:args.device_windows], tmp / "fw")
    return row


def render_whole_window(results: dict, title: str, model_text: str, label: str, steps_note: str = "",
                        boards_note: str = "") -> str:
    """The .md of a ``measure_whole_window`` result: recipe, the accuracy row, the devices."""
    m, r = results["meta"], results["model"]
    devices = ", ".join(f"{b} {d['sequences']} windows / {d['mismatched_elements']}"
                        + ("" if d["error"] is None else f" (error: {d['error']})") for b, d in r["device"].items())
    return "\n".join([
        f"# {title}", "",
        (f"Regenerate: `{m['command']}` ({m['runtime_minutes']} min). HAR (`../shared/data/har_train.npz`), split by "
         f"recording session as `har_accuracy.py` does: {m['train_windows']} training windows, {m['test_windows']} "
         f"held-out windows (one window = {100 / m['test_windows']:.2f} pp), {m['calibration_windows']} calibration "
         f"windows; {model_text}, {m['epochs']} epochs, training seed {m['seed']}."), "",
        "| model | Keras float | tinyrnn int8 | int8 − float (paired SE) | int8 logits SQNR | float twin vs Keras |",
        "|---|---|---|---|---|---|",
        (f"| {label} | {_pct(r['float_accuracy'])} | {_pct(r['int8_accuracy'])} "
         f"| {r['int8_minus_float_pp']:+.2f} ± {r['paired_se_pp']:.2f} pp | {r['int8_logits_sqnr_db']:.1f} dB "
         f"| {r['keras_agreement_max_rel_diff']:.1g} (relative) |"), "",
        (f"Devices: the generated whole-window `_run` (MAX_STEPS {r['max_steps']}{steps_note}) on QEMU "
         f"({', '.join(BOARDS)}{boards_note}) over the first {m['device_windows']} held-out windows, each sent in "
         f"several RUN chunks and run at the last; windows / mismatched output elements against the golden model: "
         f"{devices}."), ""])


def main() -> None:
    ap = har_args(__doc__, 30, 100)
    ap.add_argument("--bench", type=Path, help="`tinyrnn bench --models rnn_i9_h32 --json` output for the cost table")
    ap.add_argument("--render-only", action="store_true", help="re-render the .md from OUT/architectures.json")
    args = ap.parse_args()
    if args.render_only:
        results = json.loads((args.out / "architectures.json").read_text())
    else:
        t0 = time.perf_counter()
        _, train_ds, test, calib = load_data(args.data, args.seed)
        with tempfile.TemporaryDirectory(prefix="tinyrnn-arch-") as tmp:
            rows = [one(arch, args, train_ds, test, calib, Path(tmp)) for arch in ARCHS]
        results = {"meta": run_meta("har_architectures.py", args, (train_ds, test, calib), t0), "models": rows}
    if args.bench:
        results["bench"] = _bench_rows(args.bench)
    write_results(args.out / "architectures", results, render)


def run_meta(script: str, args, data: tuple, t0: float) -> dict:
    """The meta block of a HAR results file: command, recipe, split sizes, runtime."""
    train_ds, test, calib = data
    return {"command": " ".join([f"benchmarks/{script}", *sys.argv[1:]]), "epochs": args.epochs, "seed": args.seed,
            "train_windows": len(train_ds), "test_windows": len(test), "calibration_windows": len(calib),
            "runtime_minutes": round((time.perf_counter() - t0) / 60, 1)}


def write_results(stem: Path, results: dict, render_md) -> None:
    """STEM.json and STEM.md (``render_md(results)``), which is also printed."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    stem.with_suffix(".md").write_text(render_md(results))
    print(render_md(results))


if __name__ == "__main__":
    main()
