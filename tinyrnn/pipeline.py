"""Whole-pipeline jobs built from the stage commands: `tinyrnn demo` and `tinyrnn report`.

The demo is the main job a new user runs (``make demo``): generated data → Keras
training → int8 quantization → C → firmware → QEMU → every output byte compared with
the golden model, then a summary and a quantization report.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .commands import evaluate, quantize_file, verify
from .errors import TinyrnnError

DEFAULT_BOARD = "mps2-an386"
DEMO_TASK = "synthetic:multitone"


def report_cost(verified: dict, steps: int) -> dict | None:
    """The report's cost section from a verify result (QEMU builds know their sizes from the link map)."""
    if not verified.get("model_code_bytes"):
        return None
    instructions = verified.get("instructions_per_inference")
    return {verified["board"]: {
        "flash_code": verified["model_code_bytes"], "flash_weights": verified["model_weights_bytes"],
        "ram_state": verified.get("state_bytes"), "instructions_per_inference": instructions,
        "instructions_per_step": round(instructions / steps) if instructions else None,
    }}  # fmt: skip


def write_report(keras_path: str, artifact: str, data_spec: str, out_html: str, verified: dict | None = None,
                 n: int | None = None, progress: bool = True) -> dict:  # fmt: skip
    """Build the quantization report (HTML + JSON beside it); returns the report dict."""
    from tinyrnn import ir
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.report import build_report, write_html, write_json

    from .commands import load_data

    if n is not None and n < 1:
        raise TinyrnnError(f"--n must be at least 1, got {n}")
    model = ir.load(artifact)
    data = load_data(data_spec, model)
    x, y = (data.x, data.y) if n is None else (data.x[:n], data.y[:n])
    device = None
    if verified and verified.get("device_accuracy") is not None:
        device = {"accuracy": verified["device_accuracy"], "target": verified["target"],
                  "sequences": verified["sequences"], "mismatches": verified["mismatches"]}  # fmt: skip
    cost = report_cost(verified, x.shape[1]) if verified else None
    report = build_report(load_keras(keras_path), model, x, y, device=device, cost=cost, progress=progress)
    # Both files are written under temporary names and renamed only once both are complete.
    html, js = Path(out_html), Path(out_html).with_suffix(".json")
    temps = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in (html, js)]
    try:
        html.parent.mkdir(parents=True, exist_ok=True)
        write_html(report, str(temps[0]))
        write_json(report, str(temps[1]))
        os.replace(temps[1], js)
        os.replace(temps[0], html)
    except OSError as exc:
        raise TinyrnnError(f"{out_html}: cannot write the report ({exc.strerror or exc})") from None
    finally:
        for tmp in (*temps, Path(f"{temps[0]}.tmp")):  # write_html's own temp file too
            tmp.unlink(missing_ok=True)
    return report


def run_demo(out_dir: str, arch: str = "lstm", board: str = DEFAULT_BOARD, n_verify: int = 100, units: int = 24,
             epochs: int = 12, seed: int = 0, progress: bool = True) -> dict:  # fmt: skip
    from tinyrnn.train.datasets import load_dataset, save_npz, split
    from tinyrnn.train.trainer import train

    started = time.monotonic()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(DEMO_TASK, n=2000, seed=seed)
    train_part, test_part = split(data, 0.25, seed=seed)
    if len(test_part) < n_verify:
        raise TinyrnnError(f"demo: only {len(test_part)} test sequences, asked to verify {n_verify}")
    paths = {k: str(out / f) for k, f in (("train", "train.npz"), ("test", "test.npz"), ("keras", "model.keras"),
                                         ("artifact", "model.tnr"), ("firmware", "firmware"), ("report", "report.html"))}  # fmt: skip
    save_npz(train_part, paths["train"])
    save_npz(test_part, paths["test"])
    trained = train(train_part, arch=arch, units=units, epochs=epochs, seed=seed, out_path=paths["keras"], progress=progress)
    quantize_file(paths["keras"], paths["train"], paths["artifact"])
    float_acc = evaluate(paths["keras"], paths["test"])["accuracy"]
    int8_acc = evaluate(paths["artifact"], paths["test"])["accuracy"]
    verified = verify(paths["artifact"], f"qemu:{board}", paths["test"], n_verify, build_dir=paths["firmware"], progress=progress)
    write_report(paths["keras"], paths["artifact"], paths["test"], paths["report"], verified, progress=progress)
    return {
        "verified": verified["verified"], "sequences": verified["sequences"], "mismatches": verified["mismatches"],
        "board": board, "arch": arch, "instructions_per_inference": verified["instructions_per_inference"],
        "flash_bytes": verified["flash_bytes"], "ram_bytes": verified["ram_bytes"],
        "float_accuracy": float_acc, "int8_accuracy": int8_acc, "device_accuracy": verified["device_accuracy"],
        "val_accuracy_training": trained.get("val_accuracy"), "seconds": round(time.monotonic() - started, 1),
        "artifacts": paths, "first_mismatch": verified["first_mismatch"], "error": verified["error"],
    }  # fmt: skip


def demo_summary(r: dict) -> str:
    verdict = "device == golden model, bit for bit" if r["verified"] else "VERIFICATION FAILED"
    steps = f"{r['instructions_per_inference']:,}" if r["instructions_per_inference"] else "n/a"
    return "\n".join([
        f"tinyrnn demo: {r['arch'].upper()} on {r['board']} (QEMU) — {verdict}",
        f"  sequences verified : {r['sequences']} ({r['mismatches']} mismatching)",
        f"  accuracy           : float {r['float_accuracy']:.2%}, int8 golden {r['int8_accuracy']:.2%}, "
        f"device {r['device_accuracy']:.2%} (first {r['sequences']} test sequences)",
        f"  cost on device     : {steps} instructions/inference, flash {r['flash_bytes']:,} B, RAM {r['ram_bytes']:,} B",
        f"  artifacts          : {Path(r['artifacts']['artifact']).parent}/ (model.keras, model.tnr, firmware/, report.html)",
        f"  took               : {r['seconds']} s",
    ])  # fmt: skip
