"""Where a SimpleRNN corpus model's int8 accuracy goes (input, weight or hidden-state
rounding): float simulations beside the int8 and 16x8 golden models, per training seed.

    .venv/bin/python benchmarks/rnn_weight_precision.py              # → results/rnn_weight_precision.{md,json}
    .venv/bin/python benchmarks/rnn_weight_precision.py --seeds 0 --epochs 1 --out /tmp/wp   # smoke run

The corpus recipe (benchmarks/corpus.py: ``corpus.build``, ``_fit`` with the seed, 20
epochs, the HAR split, calibration and held-out windows) for ``--models`` (SimpleRNN →
Dense). Per seed: Keras float accuracy; the int8 golden model's (defaults: int16
logits); the 16x8 golden model's (``--activations int16``: int16 input and state, int8
weights); the 16x16 one's (``--rnn-weights int16`` too: int16 SimpleRNN weights); and the float twin with one thing rounded at a time, the rest float64: the
input on the int8 input grid; the SimpleRNN weights on the quantizer's int8 grid (one
scale per matrix, ``symmetric_weights``); the same with one scale per unit; and the
hidden state rounded to the int8 grid every step (float weights). "simulation, nothing
rounded" checks the simulation against Keras. For reference, TFLite's own int8: the same
weights in a tf_keras copy (SimpleRNN unroll=True, which the converter turns into int8
FULLY_CONNECTED ops; a Keras 3 SimpleRNN becomes a WHILE loop it cannot calibrate),
converted with the calibration windows as representative data, run by LiteRT.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_attribution import corpus, corpus_benchmark, corpus_setup  # noqa: E402  (the corpus recipe)
import har_s16  # noqa: E402  (its bench_rows: a bench model and its 16x8 twin)
from har_accuracy import DEFAULT_DATA, REPO, log  # noqa: E402

COLUMNS = {"float": "Keras float", "int8": "int8 golden", "16x8": "16x8 golden", "16x16": "16x16 golden",
           "tflite": "TFLite int8 (LiteRT)",
           "twin": "simulation, nothing rounded",
           "input": "input rounded only",
           "weights": "weights int8, one scale per matrix", "unit_weights": "weights int8, one scale per unit",
           "hidden": "hidden state on its int8 grid only"}


def simulate(fm, qm, x: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy of the float twin with one of input, weights or hidden state rounded."""
    from tinyrnn.quantize.layers import symmetric_weights

    rnn, head, q = fm.layers[0], fm.layers[1], qm.layers[0]
    act = (lambda v: np.maximum(v, 0.0)) if rnn.activation == "relu" else np.tanh
    x_f = fm.normalize(x).astype(np.float64)
    x_q = (qm.input_quant.quantize(x).astype(np.float64) - qm.input_quant.zero_point) * q.input_scale

    def rounded(w, axis=None):
        w_q, scale = symmetric_weights(w.T, axis=axis)
        return (w_q * np.reshape(scale, (-1, 1) if axis is not None else ())).T

    def accuracy(inp, wx, wh, h_grid=None):
        h = np.zeros((len(inp), wx.shape[1]))
        for t in range(inp.shape[1]):
            h = act(inp[:, t] @ wx + h @ wh + rnn.bias)
            if h_grid is not None:
                h = np.clip(np.round(h / h_grid[0]) + h_grid[1], -128, 127) - h_grid[1]
                h = h * h_grid[0]
        return float(np.mean(np.argmax(h @ head.kernel + head.bias, -1) == labels))

    w = (rnn.kernel, rnn.recurrent_kernel)
    return {"twin": accuracy(x_f, *w), "input": accuracy(x_q, *w), "weights": accuracy(x_f, *(rounded(m) for m in w)),
            "unit_weights": accuracy(x_f, *(rounded(m, axis=1) for m in w)),
            "hidden": accuracy(x_f, *w, (q.hidden_scale, q.hidden_zero_point))}


def tflite_int8(model, calib: np.ndarray, test) -> float:
    """Accuracy of TFLite's int8 conversion of ``model`` (SimpleRNN → Dense) on ``test``."""
    import tensorflow as tf
    import tf_keras
    from ai_edge_litert.interpreter import Interpreter

    rnn, head = (layer for layer in model.layers if type(layer).__name__ in ("SimpleRNN", "Dense"))
    copy = tf_keras.Sequential([tf_keras.Input(calib.shape[1:]), tf_keras.layers.SimpleRNN(
        rnn.units, activation=rnn.get_config()["activation"], unroll=True), tf_keras.layers.Dense(head.units)])
    copy.layers[0].set_weights(rnn.get_weights())
    copy.layers[1].set_weights(head.get_weights())
    conv = tf.lite.TFLiteConverter.from_keras_model(copy)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i : i + 1].astype(np.float32)] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    interpreter = Interpreter(model_content=conv.convert())
    interpreter.allocate_tensors()
    i, o = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    right = 0
    for x, label in zip(test.x, test.y):
        interpreter.set_tensor(i, x[None].astype(np.float32))
        interpreter.invoke()
        right += int(np.argmax(interpreter.get_tensor(o)[0]) == label)
    return right / len(test.y)


def seed_row(keras, name: str, seed: int, data, epochs: int) -> dict:
    from tinyrnn.core.golden.model import run_model
    from tinyrnn.quantize.keras_import import import_model
    from tinyrnn.quantize.pipeline import quantize_model

    _, train, test, calib = data
    model = corpus.build(keras, name, seed)
    corpus_benchmark._fit(keras, model, train, epochs, seed)
    fm = import_model(model, name)
    qm = quantize_model(fm, calib)
    accuracy = lambda q: float(np.mean(np.argmax(run_model(q, q.input_quant.quantize(test.x)), -1) == test.y))  # noqa: E731
    row = {"model": name, "seed": seed,
           "float": float(np.mean(np.argmax(model.predict(test.x, verbose=0), -1) == test.y)),
           "int8": accuracy(qm), "16x8": accuracy(quantize_model(fm, calib, activations="int16")),
           "16x16": accuracy(quantize_model(fm, calib, activations="int16", rnn_weights="int16")),
           "tflite": tflite_int8(model, calib, test),
           **simulate(fm, qm, test.x, test.y)}
    log(f"{name} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k in COLUMNS))
    return row


def markdown(rows: list, argv: list) -> str:
    lines = ["# SimpleRNN corpus models: where int8 accuracy goes (issue #12)", "",
             f"`benchmarks/rnn_weight_precision.py {' '.join(argv)}`".replace(" `", "`"), "",
             __doc__.split("\n\n", 2)[2].strip().replace("\n", " "), "",
             "| model | seed | " + " | ".join(COLUMNS.values()) + " |", "|---|---:|" + "---:|" * len(COLUMNS)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['seed']} | " + " | ".join(f"{100 * r[k]:.2f} %" for k in COLUMNS) + " |")
    lines.append("")
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        means = {k: np.mean([100 * (r[k] - r["float"]) for r in mine]) for k in COLUMNS if k != "float"}
        lines.append(f"{name}, mean Δ vs Keras float over {len(mine)} seeds: "
                     + ", ".join(f"{COLUMNS[k]} {v:+.2f} pp" for k, v in means.items()) + ".")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--models", default="rnn_relu,rnn_tanh", help="comma-separated tests/corpus.py SimpleRNN models")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", type=Path, default=REPO / "results")
    args = ap.parse_args()
    keras, data = corpus_setup(args.data)
    rows = [seed_row(keras, name, seed, data, args.epochs) for name in args.models.split(",") for seed in args.seeds]
    with tempfile.TemporaryDirectory() as work:
        benched = har_s16.bench_rows(Path(work), "rnn_i9_h32", weights16=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rnn_weight_precision.json").write_text(json.dumps({"rows": rows, "bench": benched}, indent=1) + "\n")
    (args.out / "rnn_weight_precision.md").write_text(markdown(rows, sys.argv[1:]) + har_s16.bench_table(
        benched, "Speed and size: `tinyrnn bench`'s rnn_i9_h32 (SimpleRNN(32), tanh, random weights, fixed seed)") + "\n")
    log(f"wrote {args.out / 'rnn_weight_precision.md'}")


if __name__ == "__main__":
    main()
