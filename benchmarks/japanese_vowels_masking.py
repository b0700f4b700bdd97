"""Variable-length windows: JapaneseVowels post-padded, with and without Keras Masking.

    pip download sktime==1.2.0 --no-deps -d /tmp/sk     # the wheel ships the UEA .ts files
    .venv/bin/python benchmarks/japanese_vowels_masking.py --sktime-wheel /tmp/sk/sktime-1.2.0-py3-none-any.whl
        # → results/japanese_vowels_masking.{md,json}

Data: UEA JapaneseVowels (270 train / 370 test utterances, 12 LPC cepstra per step,
7–29 steps, 9 speakers), read straight from the .ts files inside the sktime wheel (no
sktime import, nothing copied into the repository). Every window is post-padded with
0.0 to 29 steps. Two Keras models per seed, same architecture Normalization → LSTM(32)
→ Dense(9, softmax): one sees the padded windows as they are, the other starts with
``Masking(mask_value=0.0)`` (Keras keeps the state on padded steps). Normalization is
adapted on the real steps only. Per model: Keras's accuracy on the test set, the float
twin's largest difference from Keras's outputs, the int8 golden accuracy (tinyrnn
quantize, calibrated on 200 training windows) and, with ``--verify N``, the first N test
windows on QEMU (device == golden, bit for bit).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TS_DIR = "sktime/datasets/data/JapaneseVowels/"
STEPS, PAD = 29, 0.0


def parse_ts(text: str) -> tuple[list, np.ndarray]:
    """UEA .ts (unequal length, no timestamps): per line 'dim1 values:dim2 values:...:label'."""
    series, labels, body = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "@data":
            body = True
        elif body:
            *dims, label = line.split(":")
            series.append(np.array([[float(v) for v in d.split(",")] for d in dims], np.float32).T)  # (T, F)
            labels.append(int(label) - 1)
    return series, np.array(labels, np.int64)


def load(wheel: str) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        parts = {p: parse_ts(zf.read(f"{TS_DIR}JapaneseVowels_{p.upper()}.ts").decode()) for p in ("train", "test")}
    out = {}
    for part, (series, y) in parts.items():
        x = np.full((len(series), STEPS, series[0].shape[1]), PAD, np.float32)
        for i, s in enumerate(series):
            x[i, : len(s)] = s
        out[part] = (x, y, np.array([len(s) for s in series]))
    return out


def keras_model(keras, masked: bool, x_train: np.ndarray, lengths: np.ndarray):
    norm = keras.layers.Normalization()
    norm.adapt(np.concatenate([w[:n] for w, n in zip(x_train, lengths)]))  # real steps only
    head = [keras.layers.Masking(mask_value=PAD)] if masked else []
    model = keras.Sequential([keras.Input((STEPS, x_train.shape[2])), *head, norm, keras.layers.LSTM(32),
                              keras.layers.Dense(9, activation="softmax")])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def measure(data: dict, masked: bool, seed: int, epochs: int, verify_n: int, work: Path) -> dict:
    from tinyrnn.app import api
    from tinyrnn.core import tnr
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.tfsupport import import_keras
    from tinyrnn.train.data import make_dataset, save_npz

    keras = import_keras()
    keras.utils.set_random_seed(seed)
    (x_tr, y_tr, n_tr), (x_te, y_te, _) = data["train"], data["test"]
    model = keras_model(keras, masked, x_tr, n_tr)
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    name = f"{'masked' if masked else 'padded'}_s{seed}"
    model.save(work / f"{name}.keras")
    keras_out = model.predict(x_te, verbose=0)
    save_npz(make_dataset("train", x_tr, y_tr), work / "train.npz")
    save_npz(make_dataset("test", x_te, y_te), work / "test.npz")
    twin = load_keras(work / f"{name}.keras")
    twin_logits = twin.run(x_te)
    twin_prob = np.exp(twin_logits - twin_logits.max(-1, keepdims=True))
    twin_prob /= twin_prob.sum(-1, keepdims=True)
    api.quantize_file(str(work / f"{name}.keras"), str(work / "train.npz"), str(work / f"{name}.tnr"), samples=200)
    int8 = api.evaluate(str(work / f"{name}.tnr"), str(work / "test.npz"))["accuracy"]
    row = {"model": name, "masking": masked, "seed": seed, "epochs": epochs,
           "keras_accuracy": float(np.mean(np.argmax(keras_out, -1) == y_te)),
           "twin_vs_keras_max_abs": float(np.max(np.abs(twin_prob - keras_out))), "int8_accuracy": int8,
           "mask_value_in_artifact": tnr.load(work / f"{name}.tnr").mask_value}  # fmt: skip
    row["int8_minus_keras_pp"] = 100 * (row["int8_accuracy"] - row["keras_accuracy"])
    if verify_n:
        r = api.verify(str(work / f"{name}.tnr"), "qemu:mps2-an386", str(work / "test.npz"), verify_n, progress=False)
        row.update(device_verified=r["verified"], device_sequences=r["sequences"], device_mismatches=r["mismatches"],
                   device_accuracy=r["device_accuracy"])  # fmt: skip
    return row


def table(rows: list, meta: dict) -> str:
    lines = ["# JapaneseVowels: post-padded windows with and without Masking", "",
             f"{meta['train']} train / {meta['test']} test utterances, {meta['min_len']}–{STEPS} steps, post-padded with "
             f"{PAD} to {STEPS}; Normalization → LSTM(32) → Dense(9, softmax), {meta['epochs']} epochs, Adam 3e-3. "
             "Source: the UEA .ts files shipped in the sktime 1.2.0 wheel. Produced by benchmarks/japanese_vowels_masking.py.",
             "", "| model | Keras acc | int8 acc | int8 − Keras | twin vs Keras max abs (prob.) | device (QEMU) |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for r in rows:
        dev = (f"{r['device_sequences']} windows, {r['device_mismatches']} mismatching, acc {r['device_accuracy']:.4f}"
               if "device_verified" in r else "not run")
        lines.append(f"| {r['model']} | {r['keras_accuracy']:.4f} | {r['int8_accuracy']:.4f} | "
                     f"{r['int8_minus_keras_pp']:+.2f} pp | {r['twin_vs_keras_max_abs']:.2e} | {dev} |")
    for masked in (False, True):
        sel = [r for r in rows if r["masking"] == masked]
        lines.append(f"\nMean over seeds, {'with' if masked else 'without'} masking: Keras "
                     f"{np.mean([r['keras_accuracy'] for r in sel]):.4f}, int8 {np.mean([r['int8_accuracy'] for r in sel]):.4f}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sktime-wheel", required=True, help="sktime-1.2.0-py3-none-any.whl (pip download sktime==1.2.0 --no-deps)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--verify", type=int, default=50, help="test windows run on QEMU per model (0: none)")
    p.add_argument("--out", default=str(ROOT / "results" / "japanese_vowels_masking"))
    args = p.parse_args(argv)
    data = load(args.sktime_wheel)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyrnn-jv-") as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            for masked in (False, True):
                rows.append(measure(data, masked, seed, args.epochs, args.verify, Path(tmp)))
                print(json.dumps(rows[-1]), file=sys.stderr)
    meta = {"train": len(data["train"][1]), "test": len(data["test"][1]), "epochs": args.epochs,
            "min_len": int(min(data["train"][2].min(), data["test"][2].min()))}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    Path(f"{args.out}.md").write_text(table(rows, meta))
    print(table(rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
