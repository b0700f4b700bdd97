"""Where a corpus model's int8 accuracy goes: per-layer attribution over training seeds.

    .venv/bin/python benchmarks/stack_attribution.py     # → results/stack_attribution_tables.md, .json
    .venv/bin/python benchmarks/stack_attribution.py --seeds 0 --epochs 1 --out /tmp/sa   # smoke run

The corpus recipe (benchmarks/corpus.py: ``corpus.build`` and ``_fit`` with the seed,
20 epochs, the same HAR split, calibration windows and held-out windows), once per
``--seeds``; each trained model quantized twice, with one input scale (the default)
and with per-channel input scales (``input_scales="channel"``, quantize/equalize.py). Per seed and quantization:
Keras float and int8 golden accuracy, the paired window counts (float right / int8
wrong and the reverse), the changed decisions that were float near-ties (top-two
margin below one int8 logit step), output SQNR, and the accuracy when only the input
is rounded; per layer, with the others in float
("alone": the float input to that layer put on its int8 input grid, the layer's int8
kernel, its output dequantized and the rest in float) and in the full int8 chain
("chain": every layer int8 up to it): SQNR of the layer's output against the float
twin's, and for "alone" the model's accuracy; plus the int8 codes the layer's output
range occupies on its grid.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import corpus  # noqa: E402  (tests/corpus.py: the models)
from har_accuracy import DEFAULT_DATA, REPO, load_data, log  # noqa: E402

# benchmarks/corpus.py's training recipe (its module name is taken by tests/corpus.py)
_spec = importlib.util.spec_from_file_location("corpus_benchmark", Path(__file__).with_name("corpus.py"))
corpus_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus_benchmark)


def corpus_setup(path: Path):
    """(keras, (dataset, train, test, calibration windows)): the corpus recipe's HAR split, with
    tests/corpus.py's models sized for it."""
    from tinyrnn.tfsupport import import_keras

    data = load_data(path, 0)
    corpus.configure(data[1].x.shape[1], data[1].x.shape[2], 6)
    return import_keras(), data


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    noise = np.mean((np.asarray(got, np.float64) - ref) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.mean(ref**2) / noise))


def out_grid(q) -> tuple[float, int]:
    """(scale, zero point) of an IR layer's integer output (int8, or a head's int16 logits)."""
    if q.kind == "dense":
        return q.output_scale, q.output_zero_point
    return q.hidden_scale, q.hidden_zero_point


def run_int8(q, x_q: np.ndarray) -> np.ndarray:
    """One IR layer on int8 inputs → its output (last step unless it returns sequences)."""
    from tinyrnn.core.golden.model import RECURRENT, kernel

    if q.kind == "dense":
        return kernel(q)(q, x_q)  # dense_s8, or dense_s8_s16 for int16 logits
    seq, _ = RECURRENT[q.kind](q, x_q)
    return seq if q.return_sequences else seq[:, -1]


def run_float(model, k: int, y: np.ndarray) -> np.ndarray:
    layer = model.layers[k]
    if layer.kind == "dense":
        return layer.run(y, None, last=k == len(model.layers) - 1)
    seq = layer.run(y, None, None)
    return seq if layer.return_sequences else seq[:, -1]


def attribution(fm, qm, x: np.ndarray, labels: np.ndarray) -> list:
    """Per layer: SQNR alone and in the chain, accuracy with only that layer int8, codes used."""
    from tinyrnn.core.golden.fixedpoint import sat8

    floats = [fm.normalize(x)]
    for k in range(len(fm.layers)):
        floats.append(run_float(fm, k, floats[-1]))
    chain = qm.input_quant.quantize(x)
    rows = []
    in_scale, in_zp = qm.layers[0].input_scale, qm.layers[0].input_zero_point
    for k, q in enumerate(qm.layers):
        scale, zp = out_grid(q)
        x_q = sat8(np.round(floats[k] / in_scale) + in_zp) if k else qm.input_quant.quantize(x)
        alone = (run_int8(q, x_q).astype(np.float64) - zp) * scale
        y = alone
        for j in range(k + 1, len(fm.layers)):
            y = run_float(fm, j, y)
        chain = run_int8(q, chain)
        ref = floats[k + 1]
        codes = (ref.max() - ref.min()) / scale
        rows.append({"layer": q.name, "kind": q.kind, "sqnr_alone_db": sqnr_db(ref, alone),
                     "sqnr_chain_db": sqnr_db(ref, (chain.astype(np.float64) - zp) * scale),
                     "accuracy_alone": float(np.mean(np.argmax(y, -1) == labels)),
                     "float_range": [float(ref.min()), float(ref.max())], "scale": float(scale), "codes": float(codes)})  # fmt: skip
        in_scale, in_zp = scale, zp
    return rows


def input_only_accuracy(fm, qm, x: np.ndarray, labels: np.ndarray) -> float:
    """The float model on the int8 input quantizer's dequantized output: what input rounding alone costs."""
    iq = qm.input_quant
    back = (iq.quantize(x).astype(np.float64) - iq.zero_point) * iq.scale + iq.offset
    return float(np.mean(np.argmax(fm.run(back), -1) == labels))


def int8_result(fm, qm, x: np.ndarray, labels: np.ndarray, float_pred: np.ndarray, ref: np.ndarray) -> dict:
    """Accuracy, paired counts against float, output SQNR and how many changed decisions were near-ties:
    windows whose float top-two margin is below one step of the int8 logits grid."""
    from tinyrnn.core.golden.model import dequantize_output, run_model

    out = dequantize_output(qm, run_model(qm, qm.input_quant.quantize(x), valid=qm.valid_steps(x)))
    pred = np.argmax(out, -1)
    ok_f, ok_q = float_pred == labels, pred == labels
    top2 = np.sort(ref, -1)[:, -2:]
    near = top2[:, 1] - top2[:, 0] < qm.output_scale
    return {"accuracy": float(ok_q.mean()), "delta_pp": float(100 * (ok_q.mean() - ok_f.mean())),
            "float_only": int(np.sum(ok_f & ~ok_q)), "int8_only": int(np.sum(ok_q & ~ok_f)),
            "changed": int(np.sum(pred != float_pred)), "changed_near_ties": int(np.sum((pred != float_pred) & near)),
            "near_ties": int(near.sum()), "output_sqnr_db": sqnr_db(ref, out),
            "input_only_accuracy": input_only_accuracy(fm, qm, x, labels)}  # fmt: skip


SCALES = {"tensor": "one input scale (the default)", "channel": "per-channel input scales (--input-scales channel)"}


def seed_row(keras, name: str, seed: int, data, epochs: int) -> dict:
    from tinyrnn.quantize.keras_import import import_model
    from tinyrnn.quantize.pipeline import quantize_model

    _, train, test, calib = data
    model = corpus.build(keras, name, seed)
    corpus_benchmark._fit(keras, model, train, epochs, seed)
    float_pred = np.argmax(model.predict(test.x, verbose=0), -1)
    fm = import_model(model, name)
    ref = fm.run(test.x)
    row = {"seed": seed, "float_accuracy": float(np.mean(float_pred == test.y))}
    for scales in SCALES:
        qm = quantize_model(fm, calib, input_scales=scales)
        row[scales] = int8_result(fm, qm, test.x, test.y, float_pred, ref)
        row[scales]["layers"] = attribution(fm, qm, test.x, test.y)
    log(f"{name} seed {seed}: float {row['float_accuracy']:.4f}, int8 {row['tensor']['accuracy']:.4f} one input "
        f"scale, {row['channel']['accuracy']:.4f} per-channel input scales")
    return row


SEED_HEADER = ["| seed | Keras float | int8 | Δ pp | float right, int8 wrong | int8 right, float wrong | decisions changed "
               "(of them float near-ties) | near-ties | output SQNR dB | input rounding only, rest float |",
               "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
LAYER_HEADER = ["| seed | layer | kind | SQNR alone dB | SQNR chain dB | accuracy, only this layer int8 | float output range "
                "| int8 codes used |", "|---:|---|---|---:|---:|---:|---|---:|"]  # fmt: skip


def markdown(name: str, rows: list, argv: list) -> str:
    lines = [f"# int8 attribution: {name}", "", f"`{' '.join(['benchmarks/stack_attribution.py', *argv])}`", "",
             "Held-out HAR windows; the corpus recipe (benchmarks/corpus.py) per training seed. A near-tie is a window "
             "whose two largest float logits differ by less than one step of the int8 logits grid.", ""]  # fmt: skip
    for scales, title in SCALES.items():
        lines += [f"## Float vs int8 per training seed: {title}", "", *SEED_HEADER]
        for r in rows:
            q = r[scales]
            lines.append(f"| {r['seed']} | {100 * r['float_accuracy']:.2f} % | {100 * q['accuracy']:.2f} % | "
                         f"{q['delta_pp']:+.2f} | {q['float_only']} | {q['int8_only']} | {q['changed']} "
                         f"({q['changed_near_ties']}) | {q['near_ties']} | {q['output_sqnr_db']:.1f} | "
                         f"{100 * q['input_only_accuracy']:.2f} % |")
        d = np.array([r[scales]["delta_pp"] for r in rows])
        lines += ["", f"Mean Δ {d.mean():+.2f} pp over {len(rows)} seeds (min {d.min():+.2f}, max {d.max():+.2f}).",
                  ""]  # fmt: skip
    for scales, title in SCALES.items():
        lines += [f"## Per layer, {title} (alone: only this layer int8; chain: all layers int8 up to it)", "",
                  *LAYER_HEADER]
        for r in rows:
            for lay in r[scales]["layers"]:
                lo, hi = lay["float_range"]
                lines.append(f"| {r['seed']} | {lay['layer']} | {lay['kind']} | {lay['sqnr_alone_db']:.1f} | "
                             f"{lay['sqnr_chain_db']:.1f} | {100 * lay['accuracy_alone']:.2f} % | [{lo:.3f}, {hi:.3f}] | "
                             f"{lay['codes']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default="stack_lstm_gru_rnn", help="a tests/corpus.py name")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", type=Path, default=REPO / "results")
    args = ap.parse_args()
    keras, data = corpus_setup(args.data)
    rows = [seed_row(keras, args.model, int(s), data, args.epochs) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.model}_attribution" if args.model != "stack_lstm_gru_rnn" else "stack_attribution"
    result = {"model": args.model, "epochs": args.epochs, "rows": rows}
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    # tables only: results/stack_attribution.md is the reading of them, written by hand
    (args.out / f"{stem}_tables.md").write_text(markdown(args.model, rows, sys.argv[1:]))
    log(f"wrote {args.out / stem}_tables.md")


if __name__ == "__main__":
    main()
