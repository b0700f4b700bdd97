"""HAR accuracy and device bit-exactness of Bidirectional(LSTM(32)) (issue 13).

    .venv/bin/python benchmarks/har_bidirectional.py                 # → results/bidirectional.{md,json}
    .venv/bin/python benchmarks/har_bidirectional.py --epochs 1 --device-windows 4 --out /tmp/bidir   # smoke run

Same data, split and training recipe as ``har_accuracy.py`` (its ``load_data``/``train``:
held-out recording sessions never trained or calibrated on, Normalization layer, Adam
1e-3, batch 64, training seed 0, 30 epochs), with ``--arch bilstm`` (merge concat, 32
units per direction). Keras float accuracy, the float twin's agreement with Keras (the
referee), tinyrnn int8 accuracy (quantize defaults + golden model) and the paired
difference; then the int8 model's whole-window ``_run`` over the first
``--device-windows`` held-out windows on QEMU boards (M4, M0, M55), every output compared
with the golden model.
"""

from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from har_accuracy import log, train
from har_architectures import measure_whole_window, render_whole_window, run_one_model


def measure(args, train_ds, test, calib, tmp: Path) -> dict:
    log(f"training bilstm(32), {args.epochs} epochs")
    model, path, seconds = train("bilstm", True, train_ds, args.epochs, args.seed, tmp)
    return {"arch": "bilstm", **measure_whole_window(model, path, seconds, args, test, calib, tmp)}


def render(results: dict) -> str:
    return render_whole_window(results, "Bidirectional(LSTM(32)) on HAR (issue 13)",
                               "Normalization + Bidirectional(LSTM(32), concat) + Dense(6, softmax)",
                               "Bidirectional(LSTM(32))", boards_note=": M4 DSP, M0 plain C, M55 Helium paths")


def main() -> None:
    run_one_model("har_bidirectional.py", "bidirectional", __doc__, measure, render, 30)


if __name__ == "__main__":
    main()
