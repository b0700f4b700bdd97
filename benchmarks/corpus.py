"""The model corpus (tests/corpus.py) on real data: every accepted HAR classifier trained
briefly, quantized with Keras as referee, scored on held-out recording sessions and run
on QEMU; every other entry (refused, or not a 6-class window classifier) through the
front door on the corpus's synthetic windows.

    .venv/bin/python benchmarks/corpus.py                      # → results/corpus.{md,json}
    .venv/bin/python benchmarks/corpus.py --epochs 1 --only lstm_dense --out /tmp/c   # smoke run
    .venv/bin/python benchmarks/corpus.py --only stack_lstm_gru_rnn --update   # rerun rows into results/corpus.*

Columns: accepted or the refusal; the float twin's largest difference from Keras's
predict (absolute, over every layer's output, on the calibration windows); Keras float
and tinyrnn int8 (golden) accuracy on the held-out windows and the paired difference;
the share of calibration windows where the int8 model takes the float model's decision
(what ``quantize`` stores); int8 with per-channel input scales (the opt-in lever
``input_scales="channel"``, quantize/equalize.py), 16x8 (``--activations int16``, where
every layer has a 16x8 kernel) and 16x16 (``--rnn-weights int16`` too, where a layer is a
SimpleRNN) for comparison;
the device: ``--device-windows`` held-out windows on QEMU mps2-an386 (Cortex-M4), every
output compared with the golden model.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import corpus  # noqa: E402
from har_accuracy import DEFAULT_DATA, REPO, load_data, log  # noqa: E402

NOT_HAR = ("regression_head", "sigmoid_binary_head", "time_distributed", "sequence_dense", "two_heads_output_cls")
BOARD = "mps2-an386"


def _fit(keras, model, train, epochs: int, seed: int) -> None:
    keras.utils.set_random_seed(seed)
    probs = model.layers[-1].get_config().get("activation") == "softmax" or type(model.layers[-1]).__name__ == "Softmax"
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not probs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    model.fit(train.x, train.y, epochs=epochs, batch_size=64, shuffle=True, verbose=0)


def har_row(name: str, keras, train, test, calib, epochs: int, n_device: int, work: Path) -> dict:
    from tinyrnn.app.api import evaluate, quantize_file, verify
    from tinyrnn.core.errors import TinyrnnError

    model = corpus.build(keras, name)
    _fit(keras, model, train, epochs, seed=0)
    path, calib_npz, test_npz = work / f"{name}.keras", work / "calib.npz", work / "test.npz"
    model.save(path)
    try:
        q = quantize_file(str(path), str(calib_npz), str(work / f"{name}.tnr"))
    except TinyrnnError as exc:
        return {"model": name, "data": "HAR", "accepted": False, "refusal": str(exc).split(": ", 1)[-1]}
    float_acc = evaluate(str(path), str(test_npz))["accuracy"]
    int8_acc = evaluate(q["artifact"], str(test_npz))["accuracy"]
    per_channel = quantize_file(str(path), str(calib_npz), str(work / f"{name}_ch.tnr"), input_scales="channel")
    per_channel_acc = evaluate(per_channel["artifact"], str(test_npz))["accuracy"]
    wide_acc = {}
    for weights in ("int8", "int16"):  # 16x8 where every layer has a 16x8 kernel; 16x16 where one is a SimpleRNN
        try:
            wide = quantize_file(str(path), str(calib_npz), str(work / f"{name}_16_{weights}.tnr"), activations="int16",
                                 rnn_weights=weights)  # fmt: skip
            wide_acc[weights] = evaluate(wide["artifact"], str(test_npz))["accuracy"]
        except TinyrnnError:
            wide_acc[weights] = None
    dev = verify(q["artifact"], f"qemu:{BOARD}", str(test_npz), n_device, build_dir=str(work / f"{name}_fw"),
                 progress=False)  # fmt: skip
    log(f"{name}: Keras {float_acc:.4f}, int8 {int8_acc:.4f}, device {dev['sequences']} seq, "
        f"{dev['mismatches']} mismatching; twin vs Keras {q['keras_agreement']['max_abs_diff']:.2g}")
    return {"model": name, "data": "HAR", "accepted": True, "keras_max_abs_diff": q["keras_agreement"]["max_abs_diff"],
            "keras_max_rel_diff": q["keras_agreement"]["max_rel_diff"], "float_accuracy": float_acc,
            "int8_accuracy": int8_acc, "delta_pp": 100 * (int8_acc - float_acc),
            "int8_channel_scales_accuracy": per_channel_acc, "int16_accuracy": wide_acc["int8"],
            "rnn_int16_weights_accuracy": wide_acc["int16"],
            "int8_decision_agreement": q["float_agreement"]["decision_agreement"],
            "device_sequences": dev["sequences"],
            "device_mismatches": dev["mismatches"], "device_verified": dev["verified"]}  # fmt: skip


def synthetic_row(name: str, keras, work: Path, n_device: int) -> dict:
    """Untrained, on the corpus's own windows: accepted (twin vs Keras figure, the device
    against golden on ``n_device`` windows) or the refusal."""
    from tinyrnn.app.api import quantize_file, verify
    from tinyrnn.core.errors import TinyrnnError

    model = corpus.build(keras, name)
    path, npz = work / f"{name}.keras", work / f"{name}_syn.npz"
    model.save(path)
    x, y = corpus.data(masked=name.startswith("masking"))
    if name == "regression_head":
        y = np.random.default_rng(0).normal(size=(len(x), 2)).astype(np.float32)
    elif name in ("time_distributed", "sequence_dense"):
        y = np.zeros(x.shape[:2], np.int64)
    elif name == "sigmoid_binary_head":
        y = y % 2  # one sigmoid output: labels 0 or 1
    np.savez(npz, x=x, y=y)
    try:
        q = quantize_file(str(path), str(npz), str(work / f"{name}.tnr"), output=corpus.OUTPUT.get(name))
    except TinyrnnError as exc:
        return {"model": name, "data": "synthetic", "accepted": False, "refusal": str(exc).split(".keras: ", 1)[-1]}
    dev = verify(q["artifact"], f"qemu:{BOARD}", str(npz), n_device, build_dir=str(work / f"{name}_fw"), progress=False)
    return {"model": name, "data": "synthetic", "accepted": True,
            "keras_max_abs_diff": q["keras_agreement"]["max_abs_diff"],
            "keras_max_rel_diff": q["keras_agreement"]["max_rel_diff"], "device_sequences": dev["sequences"],
            "device_mismatches": dev["mismatches"], "device_verified": dev["verified"]}  # fmt: skip


def _pct(v):
    return "–" if v is None else f"{100 * v:.1f} %"


def markdown(rows: list, args) -> str:
    from tinyrnn.quantize.report import DECISION_BAR

    lines = ["# The model corpus through the front door", "",
             f"`{' '.join(['benchmarks/corpus.py', *sys.argv[1:]])}`: tests/corpus.py's models. HAR rows: trained "
             f"{args.epochs} epochs (Adam 3e-3, batch 64, seed 0) on the training sessions of "
             "`../shared/data/har_train.npz`, quantized with defaults (int16 logits) on 300 training windows (the Keras referee on the "
             f"same windows), scored on held-out sessions; device: the first {args.device_windows} held-out windows on "
             f"QEMU {BOARD} (Cortex-M4), every output byte compared with the golden model. Synthetic rows: untrained "
             "(weights as initialized, biases randomized), the corpus's 96 windows."
             + (" Rows of models not named by --only are kept from the earlier run." if args.update else ""), "",
             "| model | data | result | twin vs Keras max abs diff | Keras float | int8 | Δ pp | int8 = float decisions "
             "(calibration) | int8, per-channel input scales | 16x8 (`--activations int16`) | 16x16 SimpleRNN "
             "(`--rnn-weights int16`) | device == golden |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for r in rows:
        if not r["accepted"]:
            lines.append(f"| {r['model']} | {r['data']} | refused: {r['refusal']} | | | | | | | | | |")
            continue
        device = "" if "device_sequences" not in r else (
            f"{r['device_sequences']} seq, {r['device_mismatches']} mismatching")
        delta = f"{r['delta_pp']:+.2f}" if "delta_pp" in r else ""
        lines.append(f"| {r['model']} | {r['data']} | accepted | {r['keras_max_abs_diff']:.2g} | "
                     f"{_pct(r.get('float_accuracy'))} | {_pct(r.get('int8_accuracy'))} | {delta} | "
                     f"{_pct(r.get('int8_decision_agreement'))} | {_pct(r.get('int8_channel_scales_accuracy'))} | "
                     f"{_pct(r.get('int16_accuracy'))} | {_pct(r.get('rnn_int16_weights_accuracy'))} | {device} |")
    har = [r for r in rows if r["accepted"] and r["data"] == "HAR"]
    if har:
        worst = min(har, key=lambda r: r["delta_pp"])
        lines += ["", f"HAR classifiers: {len(har)}; worst int8 − float {worst['delta_pp']:+.2f} pp ({worst['model']}); "
                      f"largest twin vs Keras difference {max(r['keras_max_abs_diff'] for r in rows if r['accepted']):.2g}; "
                      f"device mismatches {sum(r.get('device_mismatches', 0) for r in rows if r['accepted'])} "
                      f"over {sum(r.get('device_sequences', 0) for r in rows if r['accepted'])} sequences."]  # fmt: skip
        both = [r for r in har if "int8_channel_scales_accuracy" in r]
        if both:
            gain = [100 * (r["int8_channel_scales_accuracy"] - r["int8_accuracy"]) for r in both]
            lines += ["", f"Per-channel input scales vs one input scale, {len(both)} HAR classifiers: mean "
                          f"{np.mean(gain):+.2f} pp (better on {sum(g > 0 for g in gain)}, worse on "
                          f"{sum(g < 0 for g in gain)}, worst {min(gain):+.2f} pp)."]  # fmt: skip
        wide = [r for r in har if r.get("int16_accuracy") is not None]
        if wide:
            d16 = {r["model"]: 100 * (r["int16_accuracy"] - r["float_accuracy"]) for r in wide}
            low = min(d16, key=d16.get)
            lines += ["", f"16x8 (every layer LSTM, SimpleRNN or Dense), {len(wide)} HAR classifiers: mean "
                          f"{np.mean(list(d16.values())):+.2f} pp vs Keras (int8 on the same: "
                          f"{np.mean([r['delta_pp'] for r in wide]):+.2f} pp), worst {d16[low]:+.2f} pp ({low}); "
                          f"within 1 pp: {sum(v >= -1.0 for v in d16.values())} of {len(wide)}."]  # fmt: skip
        low = [r for r in har if r.get("int8_decision_agreement") is not None
               and r["int8_decision_agreement"] < DECISION_BAR]
        if low:
            lines += ["", f"int8 = float decisions under {100 * DECISION_BAR:.0f} % of the calibration windows (where "
                          f"`quantize` names the wider modes): {len(low)} of {len(har)}, " + ", ".join(
                              f"{r['model']} {100 * r['int8_decision_agreement']:.1f} %"
                              for r in sorted(low, key=lambda r: r["int8_decision_agreement"])) + "."]
        for r in har:
            if r.get("rnn_int16_weights_accuracy") is not None:
                lines += ["", f"16x16 SimpleRNN, {r['model']}: "
                              f"{100 * (r['rnn_int16_weights_accuracy'] - r['float_accuracy']):+.2f} pp vs Keras "
                              f"(int8 {r['delta_pp']:+.2f}, 16x8 {100 * (r['int16_accuracy'] - r['float_accuracy']):+.2f})."]
    return "\n".join(lines) + "\n"


def merged(path: Path, rows: list, epochs: int) -> list:
    """The rows of an earlier run at ``path`` with those of the same models replaced by ``rows``."""
    old = json.loads(path.read_text())
    if old["epochs"] != epochs:
        raise SystemExit(f"{path}: made with {old['epochs']} epochs, this run {epochs}: rerun it whole")
    new = {r["model"]: r for r in rows}
    return [new.pop(r["model"], r) for r in old["rows"]] + list(new.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--device-windows", type=int, default=10)
    ap.add_argument("--only", help="comma-separated corpus names")
    ap.add_argument("--out", type=Path, default=REPO / "results")
    ap.add_argument("--update", action="store_true",
                    help="replace only the rerun models' rows in OUT/corpus.json (the others are kept), "
                         "rewrite the table")
    args = ap.parse_args()
    from tinyrnn.tfsupport import import_keras
    from tinyrnn.train.data import save_npz

    keras = import_keras()
    names = args.only.split(",") if args.only else [*corpus.ACCEPTED, *corpus.REFUSED]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in names:  # synthetic first: the corpus's own sizes
            if name in corpus.REFUSED or name in NOT_HAR:
                rows.append(synthetic_row(name, keras, work, args.device_windows))
        _, train, test, calib = load_data(args.data, 0)
        save_npz(test, str(work / "test.npz"))
        np.savez(work / "calib.npz", x=calib, y=np.zeros(len(calib), np.int64))
        corpus.configure(train.x.shape[1], train.x.shape[2], 6)
        for name in names:
            if name in corpus.ACCEPTED and name not in NOT_HAR:
                rows.append(har_row(name, keras, train, test, calib, args.epochs, args.device_windows, work))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.update:
        rows = merged(args.out / "corpus.json", rows, args.epochs)
    (args.out / "corpus.json").write_text(json.dumps({"epochs": args.epochs, "rows": rows}, indent=1) + "\n")
    (args.out / "corpus.md").write_text(markdown(rows, args))
    log(f"wrote {args.out / 'corpus.md'}")


if __name__ == "__main__":
    main()
