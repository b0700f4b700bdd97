"""TFLite Micro referees tinyrnn on 950 HAR windows: every output, hidden and cell state.

Four tf_keras LSTM models (H=16, 32, 64 and a 64+32 stack, Normalization in front,
Dense(6) head, trained ``EPOCHS`` epochs on the other HAR windows) are converted to int8
by the TFLite converter (``tests/tflm_convert.py``), run by TFLM's interpreter
(``tflite-micro``) and by tinyrnn (``load_tflite`` → golden model → host C), on the int8
tensor TFLM fed the first LSTM. Cell states per step come from TFLM's one-step copy of
each model (``tinyrnn.quantize.tflm``). The same comparison with the former float32
products of the scales shows what the fix changed. Writes results/tflm_referee.{json,md}.

Run: ``.venv/bin/python benchmarks/tflm_referee.py [HAR.npz]`` (default ../shared/data/har_train.npz).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from tflm_convert import float32_products, to_16x8  # noqa: E402

from tinyrnn.codegen.hostlib import HostModel  # noqa: E402
from tinyrnn.core.golden.model import dequantize_output, run_model  # noqa: E402
from tinyrnn.quantize.tflite_import import load_lstm_s16, load_tflite  # noqa: E402
from tinyrnn.quantize.tflm import compare_s16_with_tflm, compare_with_tflm  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "har_train.npz"
WINDOWS, EPOCHS = 950, 2
SPECS = [{"name": f"lstm{'_'.join(map(str, u))}", "units": u, "dense": d, "epochs": EPOCHS}
         for u, d in (([16], "per_tensor"), ([32], "per_channel"), ([64], "per_channel"), ([64, 32], "per_channel"))]  # fmt: skip


def _sum(report: dict, what: str) -> int:
    return sum(layer[what]["mismatched"] for layer in report["layers"])


def _sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((got - ref) ** 2))
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref**2) / noise))


def _median_gain(ref: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """10 log10 of the median per-window squared error of a over that of b: robust to the
    few windows whose trajectory drifts away (which dominate a total SQNR)."""
    ea, eb = np.median(np.sum((a - ref) ** 2, axis=1)), np.median(np.sum((b - ref) ** 2, axis=1))
    return float(10 * np.log10(ea / eb)) if ea > 0 and eb > 0 else float("nan")


def _int16_input(model, x: np.ndarray, s16: float) -> np.ndarray:
    """The first LSTM's real input (the folded Normalization) quantized to int16 at s16."""
    q = model.input_quant
    real = (x - q.offset) / q.scale * model.layers[0].input_scale
    return np.clip(np.round(real / s16), -32768, 32767).astype(np.int16)


def _16x8(spec: dict, path: Path, model, x: np.ndarray, y: np.ndarray, work: Path) -> dict:
    """16x8 LSTM stack vs TFLM, and int8 vs 16x8 against float: the last LSTM's final hidden
    state, and logits of the float Dense head on it (only the LSTMs are quantized there)."""
    ref = np.load(path.with_suffix(".float.npz"))
    path16 = work / f"{spec['name']}_16x8.tflite"
    to_16x8(path, path16)
    layers = load_lstm_s16(path16)
    x16 = _int16_input(model, x, layers[0].input_scale)
    r16 = compare_s16_with_tflm(path16, layers, x16)
    h16 = r16["golden_output"][:, -1].astype(np.float64) * layers[-1].hidden_scale
    # int8 on the same footing: tinyrnn's per-channel input quantization of the same windows.
    probes: list = []
    logits8 = dequantize_output(model, run_model(model, model.input_quant.quantize(x), probes))
    last8 = model.layers[len(layers) - 1]
    h8 = (np.stack(probes[len(layers) - 1]["hidden"], 1)[:, -1].astype(np.float64)
          - last8.hidden_zero_point) * last8.hidden_scale  # fmt: skip
    head = lambda h: h @ ref["dense_w"] + ref["dense_b"]  # noqa: E731 (float logits, before softmax)
    acc = lambda logits: float(np.mean(np.argmax(logits, -1) == y))  # noqa: E731
    return {"s16_hidden_mismatched": _sum(r16, "hidden"), "s16_cell_mismatched": _sum(r16, "cell"),
            "sqnr_h_int8_db": _sqnr(ref["h_last"], h8), "sqnr_h_16x8_db": _sqnr(ref["h_last"], h16),
            "median_noise_gain_h_db": _median_gain(ref["h_last"], h8, h16),
            "sqnr_logits_int8_head_db": _sqnr(head(ref["h_last"]), logits8),
            "sqnr_logits_int8_lstm_db": _sqnr(head(ref["h_last"]), head(h8)),
            "sqnr_logits_16x8_lstm_db": _sqnr(head(ref["h_last"]), head(h16)),
            "acc_float": acc(ref["logits"]), "acc_int8": acc(logits8), "acc_int8_lstm_float_head": acc(head(h8)),
            "acc_16x8_lstm_float_head": acc(head(h16))}  # fmt: skip


def _memory(layers8: list) -> dict:
    """Bytes of the LSTM layers (weights are the same int8 rows in both modes): biases as the
    kernels hold them (int8: [H][8] int32 effective biases; 16x8: [H][4] int64), recurrent
    state (int8: h int8 + c int16; 16x8: h and c int16) and step work area (staged x and h
    as int32 words / a copy of h), plus each kernel's code (arm-none-eabi-gcc -O2, Cortex-M4)."""
    from tinyrnn.codegen.layout import stage_words

    H = [layer.hidden_size for layer in layers8]
    I = [layer.input_size for layer in layers8]
    out = {"weights": sum(4 * h * (i + h) for h, i in zip(H, I)),
           "bias_int8": sum(32 * h for h in H), "bias_16x8": sum(32 * h for h in H),
           "state_int8": sum(3 * h for h in H), "state_16x8": sum(4 * h for h in H),
           "work_int8": max(4 * (stage_words(i) + stage_words(h)) for h, i in zip(H, I)), "work_16x8": 2 * max(H)}
    kernels = REPO / "codegen" / "kernels"
    for mode, src in (("int8", "tinyrnn_lstm_s8.c"), ("16x8", "tinyrnn_lstm_s16.c")):
        with tempfile.TemporaryDirectory() as tmp:
            obj = Path(tmp) / "k.o"
            subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", "-std=c99", "-c", str(kernels / src),
                            "-I", str(kernels), "-o", str(obj)], check=True)  # fmt: skip
            size = subprocess.run(["arm-none-eabi-size", str(obj)], check=True, capture_output=True, text=True)
            out[f"code_{mode}"] = int(size.stdout.splitlines()[1].split()[0])
    return out


def _row(spec: dict, path: Path, x: np.ndarray, y: np.ndarray, work: Path) -> dict:
    model = load_tflite(path)
    report = compare_with_tflm(path, model, x)
    c_out = HostModel(model, work / spec["name"]).run(report["kernel_input"])
    old_model, changed = float32_products(path, model)
    old = compare_with_tflm(path, old_model, x)
    return {"model": spec["name"], "units": spec["units"], "dense": spec["dense"], "windows": len(x),
            "output_bytes": report["output"]["elements"], "output_mismatched": report["output"]["mismatched"],
            "hidden_values": sum(layer["hidden"]["elements"] for layer in report["layers"]),
            "hidden_mismatched": _sum(report, "hidden"), "cell_mismatched": _sum(report, "cell"),
            "host_c_output_mismatched": int(np.count_nonzero(c_out != report["golden_output"])),
            "float32_layers_changed": changed, "float32_output_mismatched": old["output"]["mismatched"],
            "float32_hidden_mismatched": _sum(old, "hidden"), "float32_cell_mismatched": _sum(old, "cell"),
            "float32_windows_mismatched": max(max(layer[w]["windows_mismatched"] for w in ("hidden", "cell"))
                                              for layer in old["layers"]),
            **_16x8(spec, path, model, x, y, work),
            "memory": _memory([layer for layer in model.layers if layer.kind == "lstm"])}  # fmt: skip


def _markdown(rows: list, meta: dict) -> str:
    lines = [
        "# TFLite Micro referee on HAR windows", "",
        f"Regenerate: `.venv/bin/python benchmarks/tflm_referee.py` ({meta['minutes']:.1f} min). TFLM: "
        f"`tflite-micro` {meta['tflm_version']} (its reference kernels). {meta['windows']} windows of "
        f"`../shared/data/har_train.npz` (128 steps × 9 channels), models trained {EPOCHS} epochs on the "
        "other windows, converted by TF 2.21's converter (tf_keras, int8). Both sides run the int8 tensor "
        "TFLM fed the first LSTM; every element is compared; cell states per step from TFLM's one-step copy.", "",
        "| model | Dense head | output bytes ≠ | hidden states ≠ (of) | cell states ≠ | host C output ≠ "
        "| with float32 scale products: hidden ≠ / cell ≠ / windows off / logits ≠ |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['model']} | {r['dense']} | {r['output_mismatched']} of {r['output_bytes']} | "
                     f"{r['hidden_mismatched']} ({r['hidden_values']}) | {r['cell_mismatched']} | "
                     f"{r['host_c_output_mismatched']} | {r['float32_hidden_mismatched']} / {r['float32_cell_mismatched']}"
                     f" / {r['float32_windows_mismatched']} / {r['float32_output_mismatched']} |")  # fmt: skip
    lines += [
        "", "## 16x8 LSTM (int16 activations, int8 weights, int64 biases)", "",
        "The TF 2.21 converter cannot make a 16x8 LSTM, so each model's LSTM stack is rewritten to 16x8 "
        "(`tests/tflm_convert.py:to_16x8`: symmetric int16 over the int8 tensors' real range, int64 biases, "
        "same weights) and run by TFLM and by the golden `lstm_s16` on the same int16 input (the folded "
        "Normalization of the float windows, quantized at the int16 input scale). SQNR against the float "
        "Keras model: of the last LSTM's final hidden state, and of logits when the float Dense head runs on "
        "the quantized LSTM's hidden state (isolates the recurrent part; there is no 16x8 Dense kernel yet). "
        f"Accuracy on the same {meta['windows']} windows. The cell state (int16 at the int8 model's power-of-two "
        "scale) and the Q3.12 gates are the same in both modes; only x and h gain resolution. A total SQNR is "
        "dominated by the few windows whose trajectory drifts away from float (lstm32: two windows carry most of "
        "the 16x8 error), so the median per-window gain of 16x8 over int8 is given too.", "",
        "| model | 16x8 vs TFLM: hidden ≠ / cell ≠ | SQNR h_T int8 / 16x8 (dB) | median per-window h_T error, "
        "int8 over 16x8 (dB) | SQNR logits, float head: "
        "int8 LSTM / 16x8 LSTM (dB) | SQNR logits all-int8 (dB) | accuracy float / all-int8 / int8 LSTM+float "
        "head / 16x8 LSTM+float head |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['model']} | {r['s16_hidden_mismatched']} / {r['s16_cell_mismatched']} | "
                     f"{r['sqnr_h_int8_db']:.1f} / {r['sqnr_h_16x8_db']:.1f} | {r['median_noise_gain_h_db']:+.1f} | "
                     f"{r['sqnr_logits_int8_lstm_db']:.1f} / "
                     f"{r['sqnr_logits_16x8_lstm_db']:.1f} | {r['sqnr_logits_int8_head_db']:.1f} | "
                     f"{100 * r['acc_float']:.1f} / {100 * r['acc_int8']:.1f} / {100 * r['acc_int8_lstm_float_head']:.1f}"
                     f" / {100 * r['acc_16x8_lstm_float_head']:.1f} % |")  # fmt: skip
    lines += ["", "Memory of the LSTM layers in bytes (exact sizes of the arrays the kernels read; code: .text of "
              "the kernel object, Cortex-M4 -O2; weights as int8 rows, a path's layout may widen them, see "
              "`tinyrnn bench`). Instructions per step are not measured yet: the 16x8 kernel "
              "has no firmware path (codegen does not emit 16x8 models).", "",
              "| model | weights (both) | biases int8 / 16x8 | state int8 / 16x8 | step work int8 / 16x8 | "
              "kernel code int8 / 16x8 |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        m = r["memory"]
        lines.append(f"| {r['model']} | {m['weights']} | {m['bias_int8']} / {m['bias_16x8']} | {m['state_int8']} / "
                     f"{m['state_16x8']} | {m['work_int8']} / {m['work_16x8']} | {m['code_int8']} / {m['code_16x8']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    start = time.time()
    data = np.load(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA)
    x, y = data["x"].astype(np.float32), data["y"].astype(np.int64)
    x_eval, y_eval, x_train, y_train = x[:WINDOWS], y[:WINDOWS], x[WINDOWS:], y[WINDOWS:]
    with tempfile.TemporaryDirectory(prefix="tflm-referee-") as tmp:
        work = Path(tmp)
        np.savez(work / "train.npz", x=x_train, y=y_train, x_eval=x_eval)
        (work / "specs.json").write_text(json.dumps(SPECS))
        subprocess.run([sys.executable, str(REPO / "tests" / "tflm_convert.py"), str(work / "specs.json"),
                        str(work / "train.npz"), str(work)], check=True, capture_output=True)  # fmt: skip
        rows = [_row(spec, work / f"{spec['name']}.tflite", x_eval, y_eval, work) for spec in SPECS]
        for row in rows:
            print(row, flush=True)
    from tinyrnn.quantize.tflm import tflm_version

    meta = {"tflm_version": tflm_version(), "windows": WINDOWS, "minutes": (time.time() - start) / 60}
    out = REPO / "results"
    (out / "tflm_referee.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    (out / "tflm_referee.md").write_text(_markdown(rows, meta))


if __name__ == "__main__":
    main()
