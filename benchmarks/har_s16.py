"""16x8 against int8 on HAR: one Keras LSTM(32) quantized both ways.

    .venv/bin/python benchmarks/har_s16.py      # → results/har_s16.{md,json}

The ``tinyrnn train`` model (Normalization → LSTM(32) → Dense(6, softmax)) on the UCI HAR
windows of ../shared/data/har_train.npz (2,400 windows, 128 steps of 9 channels), 20 %
of the recording sessions held out. Quantized from the .keras by ``tinyrnn quantize`` with
500 random training windows as calibration, ``--activations int8`` and ``int16`` (16x8:
int16 activations, int8 weights, int64 biases). Per mode on the held-out windows: accuracy
against Keras float, SQNR of the dequantized logits against the float twin's; on QEMU
mps2-an386 (Cortex-M4) the first ``--verify`` held-out windows (device == golden, bit for
bit), the model's flash (code, weights) and RAM (state) from the link map and the
instructions per step (per window / 128). Then ``tinyrnn bench``'s lstm_i9_h32 and its
16x8 twin (``bench.wide_model``) on the M4 and the QEMU board with a Cortex-M0 (microbit)
for instructions per step.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODES = ("int8", "int16")


def _sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((got - ref) ** 2)))


def _median_sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    """The median over windows of each window's logits SQNR: the typical window, where the
    total is dominated by the few whose trajectories drift away."""
    return float(np.median(10 * np.log10(np.sum(ref**2, axis=1) / np.sum((got - ref) ** 2, axis=1))))


def measure(work: Path, epochs: int, verify_n: int) -> dict:
    from tinyrnn.app import api
    from tinyrnn.core import tnr
    from tinyrnn.core.golden.model import dequantize_output, run_model
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.train.datasets import load_dataset

    keras_path, test = str(work / "lstm32.keras"), str(work / "test.npz")
    trained = api.train_file(str(work / "train.npz"), arch="lstm", units=32, epochs=epochs, seed=0, progress=False,
                             out_path=keras_path)  # fmt: skip
    f = api.evaluate(keras_path, test)
    x = load_dataset(test).x
    ref = load_keras(keras_path).run(x)
    row = {"epochs_run": trained["epochs_run"], "n_test": f["n"], "float_accuracy": f["accuracy"]}
    for mode in MODES:
        artifact = str(work / f"lstm32_{mode}.tnr")
        api.quantize_file(keras_path, str(work / "calib.npz"), artifact, activations=mode)
        model = tnr.load(artifact)
        logits = dequantize_output(model, run_model(model, model.input_quant.quantize(x)))
        r = api.verify(artifact, "qemu:mps2-an386", test, verify_n, progress=False)
        row[mode] = {"accuracy": api.evaluate(artifact, test)["accuracy"], "logits_sqnr_db": _sqnr(ref, logits),
                     "median_window_sqnr_db": _median_sqnr(ref, logits),
                     "device_verified": r["verified"], "device_windows": r["sequences"],
                     "device_mismatches": r["mismatches"], "flash_code_bytes": r["model_code_bytes"],
                     "flash_weights_bytes": r["model_weights_bytes"], "ram_state_bytes": r["state_bytes"],
                     "instructions_per_step": round(r["instructions_per_inference"] / x.shape[1])}  # fmt: skip
        print(json.dumps({mode: row[mode]}), file=sys.stderr)
    return row


def bench_rows(work: Path, name: str = "lstm_i9_h32", weights16: bool = False) -> list:
    """``tinyrnn bench`` model ``name`` and its 16x8 twin (and, ``weights16``, its 16x16 twin:
    a SimpleRNN's) on the M4 and the M0 board: instructions per step."""
    from tinyrnn.app.commands import bench
    from tinyrnn.core.boards import get_board, qemu_boards

    boards = ["mps2-an386"] + [b for b in qemu_boards() if get_board(b)["cpu"] == "cortex-m0"][:1]
    twins = [("int8", None), ("16x8", bench.wide_model(name))]
    twins += [("16x16", bench.wide_model(name, weight_bits=16))] if weights16 else []
    rows = []
    for board in boards:
        for mode, model in twins:
            r = bench.bench_one(board, name, work / "bench", model=model)
            rows.append({"mode": mode, "cpu": get_board(board)["cpu"], **r})
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def table(row: dict, benched: list, meta: dict) -> str:
    lines = ["# HAR LSTM(32): 16x8 against int8", "",
             f"Normalization → LSTM(32) → Dense(6, softmax), trained {row['epochs_run']} epochs on {meta['n_train']} "
             f"UCI HAR windows, {row['n_test']} held-out windows (split by recording session); quantized from the "
             "same .keras with 500 random training windows as calibration. Produced by benchmarks/har_s16.py.", "",
             "Logits SQNR against the float twin: over all held-out windows, and the median of the "
             "windows' own (a few windows whose trajectories drift away dominate the total).", "",
             "| mode | accuracy (Keras float " + f"{row['float_accuracy']:.2%}) | logits SQNR: total | median window "
             "| device (QEMU M4) | flash code | flash weights | RAM (state) | instructions/step (M4) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for mode in MODES:
        r = row[mode]
        name = "16x8" if mode == "int16" else "int8"
        lines.append(f"| {name} | {r['accuracy']:.2%} ({100 * (r['accuracy'] - row['float_accuracy']):+.2f} pp) "
                     f"| {r['logits_sqnr_db']:.1f} dB | {r['median_window_sqnr_db']:.1f} dB | {r['device_windows']} windows, {r['device_mismatches']} "
                     f"mismatching | {r['flash_code_bytes']:,} B | {r['flash_weights_bytes']:,} B "
                     f"| {r['ram_state_bytes']:,} B | {r['instructions_per_step']:,} |")
    lines.append(bench_table(benched, "`tinyrnn bench`'s lstm_i9_h32 (random weights, fixed seed)", "; the cells are "
                                      "portable C"))  # fmt: skip
    return "\n".join(lines) + "\n"


def bench_table(benched: list, what: str, note: str = "") -> str:
    """bench_rows() as markdown: ``what`` names the model, ``note`` ends the paragraph's parenthesis."""
    lines = ["", f"{what} and its 16x8 twin (`bench.wide_model`: the same weights, int16 activations"
             + ("; the 16x16 twin: the same weights ×256 in int16" if any(b["mode"] == "16x16" for b in benched) else "")
             + "), one `_step` per BENCH step under QEMU, int8 weight layout (the 16-bit dot products: SMLALD on the "
             f"M4, portable C on the M0{note}):", "",
             "| board | core | mode | path | instructions/step | flash code | flash weights | RAM |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for b in benched:
        lines.append(f"| {b['board']} | {b['cpu']} | {b['mode']} | {b['path']} | {b['instructions_per_step']:,} "
                     f"| {b['flash_code_bytes']:,} B | {b['flash_weights_bytes']:,} B | {b['ram_bytes']:,} B |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from tinyrnn.train.data import save_npz, split
    from tinyrnn.train.datasets import load_dataset

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--har", default=str(ROOT.parent / "shared" / "data" / "har_train.npz"))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--verify", type=int, default=50, help="held-out windows run on QEMU per mode")
    p.add_argument("--out", default=str(ROOT / "results" / "har_s16"))
    args = p.parse_args(argv)
    train, test = split(load_dataset(args.har), 0.2, seed=0)
    with tempfile.TemporaryDirectory(prefix="tinyrnn-har-s16-") as tmp:
        work = Path(tmp)
        save_npz(train, work / "train.npz")
        save_npz(train.subset(np.sort(np.random.default_rng(0).permutation(len(train))[:500])), work / "calib.npz")
        save_npz(test, work / "test.npz")
        row, benched = measure(work, args.epochs, args.verify), bench_rows(work)
    meta = {"n_train": len(train), "n_test": len(test), "epochs": args.epochs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.json").write_text(json.dumps({"meta": meta, "har": row, "bench": benched}, indent=1) + "\n")
    Path(f"{args.out}.md").write_text(table(row, benched, meta))
    print(table(row, benched, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
