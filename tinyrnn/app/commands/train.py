"""`tinyrnn train`: train a Keras LSTM/GRU/SimpleRNN classifier."""

from __future__ import annotations

from tinyrnn.app.api import train_file
from tinyrnn.train.trainer import score_text

HELP = "train a Keras LSTM/GRU/SimpleRNN classifier (or regressor: float targets in the data)"


def configure(p) -> None:
    p.add_argument("--data", required=True, help="NPZ file, UCI HAR folder or synthetic:NAME; float y (N,) or (N, K) "
                   "trains a regressor (linear Dense head, MSE loss)")
    p.add_argument("--arch", default="lstm",
                   help="lstm, gru, rnn (SimpleRNN, tanh), rnn_relu, bilstm, bigru (Bidirectional: whole-window C "
                        "API), or one kind per layer for a mixed stack, first layer first (lstm,gru); "
                        "conv-lstm, conv-gru: Conv1D(16, 5, causal, relu) + MaxPooling1D(2) first")
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--layers", type=int, help="stack depth, 1..3 (default 1, or the length of an --arch list)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=5, help="early stopping: epochs without a better validation loss")
    p.add_argument("--val-fraction", type=float, default=0.2, help="held out for validation (by group if any)")
    p.add_argument("--n", type=int, help="windows to generate for synthetic:NAME (default 2000)")
    p.add_argument("--qat", action="store_true",
                   help="quantization-aware fine-tuning after float training; the fine-tuned weights are kept "
                        "only if the int8 model does better on the validation windows")
    p.add_argument("--qat-epochs", type=int, default=5)
    p.add_argument("--qat-learning-rate", type=float, default=1e-4)
    p.add_argument("--qat-keep", choices=("if-better", "always", "never"), default="if-better",
                   help="never = only measure what QAT would give")
    p.add_argument("--legacy-keras", action="store_true", help="build with tf_keras (for a TFLite fused-LSTM export)")
    p.add_argument("--export-tflite", nargs="?", const="", metavar="PATH",
                   help="also write an int8 .tflite by the TFLite converter (default: beside --out); "
                        "an LSTM needs --legacy-keras")
    p.add_argument("--out", required=True, help="output .keras file")

def run(args):
    qat = {"epochs": args.qat_epochs, "learning_rate": args.qat_learning_rate, "keep": args.qat_keep} if args.qat else None
    result = train_file(args.data, arch=args.arch, units=args.units, layers=args.layers, epochs=args.epochs,
                   seed=args.seed, out_path=args.out, batch_size=args.batch_size, legacy_keras=args.legacy_keras,
                   val_fraction=args.val_fraction, patience=args.patience, learning_rate=args.learning_rate,
                   n=args.n, qat=qat, export_tflite=args.export_tflite)  # fmt: skip
    human = (f"trained {result['arch']}({result['units']})x{result['layers']} → {result['out_path']}: "
             f"{score_text(result)} (best epoch {result['best_epoch']}/{result['epochs_run']})")
    if "qat" in result:
        q = result["qat"]
        human += (f"\nQAT: int8 val accuracy {q['int8_val_accuracy_before']:.4f} → {q['int8_val_accuracy_after']:.4f}, "
                  f"{'fine-tuned weights kept' if q['kept'] else 'float-trained weights kept'}")
    if "tflite_path" in result:
        acc = result.get("tflite_val_accuracy")
        human += (f"\nTFLite int8 → {result['tflite_path']} ({result['tflite_bytes']} B"
                  f"{f', LiteRT val accuracy {acc:.4f}' if acc is not None else ''}; "
                  f"{'tinyrnn imports it' if result['tflite_importable'] else 'not importable by tinyrnn'})")
    return result, human
