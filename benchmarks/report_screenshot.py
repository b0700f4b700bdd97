"""Train a small model, quantize it, write its report and a screenshot for the README.

    .venv/bin/python benchmarks/report_screenshot.py            # → docs/report_screenshot.png
    .venv/bin/python benchmarks/report_screenshot.py --arch gru --cost cost.json

The report itself (HTML + JSON) goes to out/report_screenshot/. The screenshot is the
top 1280×2400 pixels of the page in headless Chromium (apt-get install chromium).
Deterministic data and seeds, so reruns give the same numbers on the same machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _train(arch: str, units: int, epochs: int, out: Path):
    """multitone (4 classes, the order of slow/fast tones): needs memory, trains in seconds."""
    from tinyrnn.tfsupport import import_keras
    from tinyrnn.train.synthetic import generate

    keras = import_keras()
    keras.utils.set_random_seed(0)
    data = generate("multitone", n=1600, seed=0, timesteps=32)
    train, test = slice(0, 1200), slice(1200, None)
    norm = keras.layers.Normalization()
    norm.adapt(data.x[train])
    rnn = keras.layers.LSTM if arch == "lstm" else keras.layers.GRU
    model = keras.Sequential([keras.Input(data.x.shape[1:]), norm, rnn(units, return_sequences=True),
                              rnn(units // 2), keras.layers.Dense(len(data.classes), activation="softmax")],
                             name=f"multitone_{arch}")  # fmt: skip
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data.x[train], data.y[train], epochs=epochs, batch_size=32, verbose=0)
    path = out / f"multitone_{arch}.keras"
    model.save(path)
    return path, data.x[train], data.x[test], data.y[test], list(data.classes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=("lstm", "gru"), default="lstm")
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--cost", type=Path, help="JSON file with per-board cost numbers (see quantize/report.py)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "report_screenshot.png")
    ap.add_argument("--report-dir", type=Path, default=REPO / "out" / "report_screenshot")
    args = ap.parse_args(argv)

    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model
    from tinyrnn.quantize.report import build_report, text_summary, write_json
    from tinyrnn.quantize.report_html import chromium, find_chromium, write_html

    if find_chromium() is None:
        print("no Chromium found: apt-get install -y chromium", file=sys.stderr)
        return 2
    args.report_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    path, x_cal, x_test, y_test, classes = _train(args.arch, args.units, args.epochs, args.report_dir)
    float_model = load_keras(path)
    model = quantize_model(float_model, x_cal[:400], classes=classes)
    cost = json.loads(args.cost.read_text()) if args.cost else None
    report = build_report(float_model, model, x_test, y_test, cost=cost)
    html = write_html(report, args.report_dir / "report.html")
    write_json(report, args.report_dir / "report.json")
    result = chromium(html, screenshot=args.out, window=(1280, 2400))
    if result["console"]:
        print(f"warning: browser console: {result['console']}", file=sys.stderr)
    print(text_summary(report))
    print(f"report {html}\nscreenshot {args.out} ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
