"""A regression task from HAR: int8 RMSE against float RMSE, per output.

    .venv/bin/python benchmarks/har_regression.py      # → results/har_regression.{md,json}

Task: from the first 96 steps (1.92 s) of each UCI HAR window (../shared/data/har_train.npz,
2,400 windows, 9 channels at 50 Hz) predict the mean of total_acc x, y and z over the
window's last 32 steps (the next 0.64 s): y (N, 3) float. Held-out test windows: 20 % of
the recording sessions (``tinyrnn.train.data.split`` by group), never trained or
calibrated on. Per model (``tinyrnn train`` path: Normalization → LSTM/GRU(32) → linear
Dense(3), MSE): float RMSE/MAE/R² (tinyrnn eval of the .keras), int8 golden (eval of the
artifact, default levers) in three calibration variants (``VARIANTS``): 500 random
training windows, the same with ``output_headroom=0.5`` (a held-out subject's targets lie
beyond the training data's: a range fitted to the calibration outputs clips them), and the
training file's first 500 windows, as ``tinyrnn quantize --calib train.npz`` takes by
default. With ``--verify N`` the first N test windows run on QEMU (device == golden, bit
for bit) for the two random-calibration artifacts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAST, TARGET_CHANNELS = 96, ("total_acc_x", "total_acc_y", "total_acc_z")


def regression_set(path: str):
    from tinyrnn.train.data import make_dataset
    from tinyrnn.train.datasets import load_dataset

    har = load_dataset(path)
    channels = list(har.meta["channels"])
    cols = [channels.index(c) for c in TARGET_CHANNELS]
    y = har.x[:, PAST:, :][:, :, cols].mean(axis=1).astype(np.float64)
    return make_dataset(path, har.x[:, :PAST], y, groups=har.groups, name="har_regression", task="regression")


VARIANTS = {  # name: (calibration file, output headroom)
    "random": ("calib.npz", 0.0), "random_headroom50": ("calib.npz", 0.5), "first500": ("train.npz", 0.0)}


def measure(train_path: Path, test_path: Path, arch: str, seed: int, epochs: int, verify_n: int, work: Path) -> dict:
    from tinyrnn.app import api

    name = f"{arch}_s{seed}"
    trained = api.train_file(str(train_path), arch=arch, units=32, epochs=epochs, seed=seed, progress=False,
                             out_path=str(work / f"{name}.keras"))  # fmt: skip
    f = api.evaluate(str(work / f"{name}.keras"), str(test_path))
    row = {"model": name, "arch": arch, "seed": seed, "epochs_run": trained["epochs_run"], "n_test": f["n"],
           **{f"float_{k}": f[k] for k in ("rmse", "mae", "r2")}}
    for variant, (calib, headroom) in VARIANTS.items():
        artifact = str(work / f"{name}_{variant}.tnr")
        api.quantize_file(str(work / f"{name}.keras"), str(work / calib), artifact, output_headroom=headroom)
        q = api.evaluate(artifact, str(test_path))
        row[variant] = {**{k: q[k] for k in ("rmse", "mae", "r2")},
                        "rmse_ratio": [b / a for a, b in zip(f["rmse"], q["rmse"])]}
        if verify_n and variant != "first500":
            r = api.verify(artifact, "qemu:mps2-an386", str(test_path), verify_n, progress=False)
            row[variant].update(device_verified=r["verified"], device_sequences=r["sequences"],
                                device_mismatches=r["mismatches"], device_rmse=r["device_rmse"])
    return row


def _each(values, spec=".4f") -> str:
    return " / ".join(f"{v:{spec}}" for v in values)


def table(rows: list, meta: dict) -> str:
    lines = ["# HAR-derived regression: int8 vs float RMSE", "",
             f"Predict the mean of {', '.join(TARGET_CHANNELS)} over the last 32 of 128 steps from the first {PAST}; "
             f"{meta['n_train']} training / {meta['n_test']} held-out windows (split by recording session), "
             f"{meta['epochs']} epochs (early stopping), Normalization → RNN(32) → Dense(3, linear), MSE. "
             f"Target std on the test windows: {_each(meta['test_target_std'])}. Produced by benchmarks/har_regression.py.",
             "", "Calibration variants: **random** = 500 random training windows; **random_headroom50** = the same with "
             "`--output-headroom 0.5`; **first500** = the training file's first 500 windows (`--calib train.npz`, default "
             "`--calib-samples 500`).", "",
             "| model | float RMSE (x / y / z) | float R² | int8 / float RMSE: random | random_headroom50 | first500 "
             "| int8 R² (headroom50) | device (QEMU) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in rows:
        h = r["random_headroom50"]
        dev = "; ".join(f"{v}: {r[v]['device_sequences']} windows, {r[v]['device_mismatches']} mismatching"
                        for v in ("random", "random_headroom50") if "device_verified" in r[v]) or "not run"
        lines.append(f"| {r['model']} | {_each(r['float_rmse'])} | {_each(r['float_r2'], '.3f')} "
                     f"| {_each(r['random']['rmse_ratio'], '.3f')} | {_each(h['rmse_ratio'], '.3f')} "
                     f"| {_each(r['first500']['rmse_ratio'], '.3f')} | {_each(h['r2'], '.3f')} | {dev} |")
    for variant in VARIANTS:
        worst = max(max(r[variant]["rmse_ratio"]) for r in rows)
        lines.append(f"\nLargest int8 / float RMSE ratio over every model and output, {variant}: {worst:.3f} "
                     f"({100 * (worst - 1):+.1f} %).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from tinyrnn.train.data import save_npz, split

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--har", default=str(ROOT.parent / "shared" / "data" / "har_train.npz"))
    p.add_argument("--archs", default="lstm,gru")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--verify", type=int, default=50, help="held-out windows run on QEMU per model (0: none)")
    p.add_argument("--out", default=str(ROOT / "results" / "har_regression"))
    args = p.parse_args(argv)
    data = regression_set(args.har)
    train, test = split(data, 0.2, seed=0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyrnn-harreg-") as tmp:
        work = Path(tmp)
        save_npz(train, work / "train.npz")
        save_npz(train.subset(np.sort(np.random.default_rng(0).permutation(len(train))[:500])), work / "calib.npz")
        save_npz(test, work / "test.npz")
        for arch in args.archs.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                rows.append(measure(work / "train.npz", work / "test.npz", arch, seed, args.epochs, args.verify, work))
                print(json.dumps(rows[-1]), file=sys.stderr)
    meta = {"n_train": len(train), "n_test": len(test), "epochs": args.epochs,
            "test_target_std": test.y.std(axis=0).tolist()}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    Path(f"{args.out}.md").write_text(table(rows, meta))
    print(table(rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
