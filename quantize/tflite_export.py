"""int8 ``.tflite`` export through the TensorFlow Lite converter (``tinyrnn train --export-tflite``).

The converter runs in a subprocess: in TF 2.21 it segfaults on GRU layers (int8 with a
representative dataset), and a crash there must not take the training run with it.
Only tf_keras (``--legacy-keras``) LSTMs become the fused int8
``UNIDIRECTIONAL_SEQUENCE_LSTM`` op that ``tinyrnn quantize model.tflite`` and TFLite
Micro run; a Keras 3 LSTM becomes a ``WHILE`` loop over resource variables, so an LSTM
export without ``--legacy-keras`` is refused before training starts. The converted
model is checked after the fact: its ops, whether ``load_tflite`` imports it, and its
LiteRT accuracy on the validation windows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.quantize.litert import read_tflite, run_litert
from tinyrnn.quantize.tflite_import import load_tflite
from tinyrnn.tfsupport import muted_stderr

TIMEOUT_S = 900

_CONVERT = r"""
import os, sys, numpy as np
legacy = sys.argv[4] == "1"
from tinyrnn.tfsupport import import_keras
keras = import_keras(legacy=legacy)
import tensorflow as tf
model = keras.models.load_model(sys.argv[1], compile=False)
calib = np.load(sys.argv[2])
fn = tf.function(lambda t: model(t))
spec = tf.TensorSpec((1,) + calib.shape[1:], tf.float32)  # the fused LSTM needs a fixed batch
conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function(spec)], model)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = lambda: ([calib[i : i + 1]] for i in range(len(calib)))
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
conv.inference_input_type = tf.float32
conv.inference_output_type = tf.float32
buf = conv.convert()
with open(sys.argv[3], "wb") as f:
    f.write(buf)
"""


def tflite_path_for(out_keras, requested: str | None) -> Path:
    """``requested`` or, when empty, the .keras path with a .tflite suffix."""
    path = Path(requested) if requested else Path(out_keras).with_suffix(".tflite")
    if path.suffix != ".tflite":
        raise TinyrnnError(f"{path}: the TFLite file must end in .tflite")
    return path


def check_export(kinds: list[str], legacy_keras: bool) -> None:
    """Refuse, before any training, an export that cannot give a usable int8 LSTM."""
    if "lstm" in kinds and not legacy_keras:
        raise TinyrnnError("--export-tflite with an LSTM needs --legacy-keras: only a tf_keras LSTM converts to the "
                           "fused int8 UNIDIRECTIONAL_SEQUENCE_LSTM op (a Keras 3 LSTM becomes a WHILE loop)")


def _failure(proc: subprocess.CompletedProcess, kinds: list[str], keras_path) -> str:
    if proc.returncode < 0:
        signal = "segmentation fault" if proc.returncode == -11 else f"signal {-proc.returncode}"
        known = " (a known TF 2.21 converter bug for GRU layers)" if "gru" in kinds else ""
        what = f"the TFLite converter crashed ({signal}){known}"
    else:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "Error" in ln or "error" in ln] or lines or ["no message"]
        what = f"the TFLite converter failed (exit code {proc.returncode}): {errors[-1][:200]}"
        if "READ_VARIABLE" in what:
            what += " (Keras 3 recurrent layers convert to a WHILE loop over variables)"
    return (f"--export-tflite: {what}; the trained model is saved as {keras_path} "
            f"(for int8 C use `tinyrnn quantize {keras_path} --calib DATA`)")


def _describe(path: Path, val_x: np.ndarray | None, val_y: np.ndarray | None) -> dict:
    """Ops of the converted file, whether tinyrnn imports it, LiteRT validation accuracy."""
    info = {"tflite_path": str(path), "tflite_bytes": path.stat().st_size, "tflite_ops": read_tflite(path).ops}
    try:
        load_tflite(path)
        info["tflite_importable"], info["tflite_import_error"] = True, None
    except TinyrnnError as exc:
        info["tflite_importable"], info["tflite_import_error"] = False, str(exc)[:300]
    if val_x is not None and len(val_x):
        with muted_stderr():  # LiteRT announces its XNNPACK delegate on stderr
            out = run_litert(path, val_x)["output"]
        info["tflite_val_accuracy"] = float(np.mean(np.argmax(out, -1) == val_y))
    return info


def export_tflite(keras_path, out_path, calib_x: np.ndarray, kinds: list[str], legacy_keras: bool,
                  val_x: np.ndarray | None = None, val_y: np.ndarray | None = None) -> dict:
    """Convert the saved model to an int8 .tflite (float in/out) in a subprocess; atomic write."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tinyrnn-tflite-") as work:
        calib = Path(work) / "calib.npy"
        np.save(calib, np.asarray(calib_x, np.float32))
        tmp = Path(work) / "model.tflite"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        cmd = [sys.executable, "-c", _CONVERT, str(keras_path), str(calib), str(tmp), "1" if legacy_keras else "0"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise TinyrnnError(f"--export-tflite: the TFLite converter took longer than {TIMEOUT_S} s; "
                               f"the trained model is saved as {keras_path}") from None
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            raise TinyrnnError(_failure(proc, kinds, keras_path))
        _copy(tmp, out)  # the temp dir may be on another filesystem: write beside, then rename
    return _describe(out, val_x, val_y)


def _copy(src: Path, dst: Path) -> None:
    part = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    part.write_bytes(src.read_bytes())
    os.replace(part, dst)
