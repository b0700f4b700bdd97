"""HAR accuracy and device bit-exactness of a CNN-LSTM with "same" padding and global
average pooling over time (issue 13).

    .venv/bin/python benchmarks/har_global_pool.py                 # → results/global_pool.{md,json}
    .venv/bin/python benchmarks/har_global_pool.py --epochs 1 --device-windows 4 --out /tmp/gap   # smoke run

Same data, split and training recipe as ``har_accuracy.py`` (its ``load_data``: held-out
recording sessions never trained or calibrated on; Normalization layer, Adam 1e-3, batch
64, training seed 0). Model: Normalization + Conv1D(16, 5, padding="same", relu) +
MaxPooling1D(2) + LSTM(32, return_sequences=True) + GlobalAveragePooling1D + Dense(6,
softmax). Keras float accuracy, the float twin's agreement with Keras (the referee),
tinyrnn int8 accuracy (quantize defaults + golden model) and the paired difference; then
the int8 model's whole-window ``_run`` (a "same" conv has no step API) over the first
``--device-windows`` held-out windows on the QEMU boards of ``har_architectures``, every
output compared with the golden model.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from har_accuracy import UNITS, log
from har_architectures import measure_whole_window, render_whole_window, run_one_model

MODEL = (f"Normalization + Conv1D(16, 5, same, relu) + MaxPooling1D(2) + LSTM({UNITS}, return_sequences) + "
         "GlobalAveragePooling1D + Dense(6, softmax)")


def train(train_ds, epochs: int, seed: int, out: Path):
    """The Keras model, trained → (model, saved .keras path, seconds)."""
    from tinyrnn.tfsupport import import_keras
    from tinyrnn.train.trainer import set_determinism

    keras = import_keras()
    set_determinism(seed)
    norm = keras.layers.Normalization()
    norm.adapt(train_ds.x)
    L = keras.layers
    model = keras.Sequential([keras.Input(train_ds.x.shape[1:]), norm,
                              L.Conv1D(16, 5, padding="same", activation="relu"), L.MaxPooling1D(2),
                              L.LSTM(UNITS, return_sequences=True), L.GlobalAveragePooling1D(),
                              L.Dense(6, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(train_ds.x, train_ds.y, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    seconds = time.perf_counter() - t0
    model.save(out / "conv_same_lstm_gap.keras")
    return model, out / "conv_same_lstm_gap.keras", seconds


def measure(args, train_ds, test, calib, tmp: Path) -> dict:
    log(f"training {MODEL}, {args.epochs} epochs")
    model, path, seconds = train(train_ds, args.epochs, args.seed, tmp)
    return measure_whole_window(model, path, seconds, args, test, calib, tmp)


def render(results: dict) -> str:
    return render_whole_window(results, "CNN-LSTM with \"same\" padding and global average pooling on HAR (issue 13)",
                               MODEL, f"Conv1D(same) + LSTM({UNITS}) + GlobalAveragePooling1D",
                               steps_note=": the conv's right padding is fed after the window")


def main() -> None:
    run_one_model("har_global_pool.py", "global_pool", __doc__, measure, render, 20)


if __name__ == "__main__":
    main()
