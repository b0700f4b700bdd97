"""Task scores shared by eval, verify and the report: what a model's outputs are judged by.

The task follows from the labels: integer ``y`` (N,) are class ids (accuracy), integer
``y`` (N, T) are per-step class ids of a sequence model (per-step accuracy), float ``y``
(N,) or (N, K) are regression targets (RMSE, MAE and R² per output; never an accuracy).
Outputs are dequantized floats (..., O). A single output is a sigmoid classifier's logit
(class 1 when > 0), never an argmax over one value. numpy only.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.activations import activate
from tinyrnn.core.errors import TinyrnnError

CLASSIFICATION, LABELLING, REGRESSION = "classification", "sequence-labelling", "regression"
REGRESSION_METRICS = ("rmse", "mae", "r2")  # each a list with one value per output


def task_of(y: np.ndarray) -> str:
    y = np.asarray(y)
    if y.dtype.kind == "f":
        return REGRESSION
    return LABELLING if y.ndim == 2 else CLASSIFICATION


def predicted_classes(out: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Class per output vector: argmax, or > threshold for a single (sigmoid) output: a
    logit > 0, or a probability (Keras's output) > 0.5."""
    out = np.asarray(out)
    return (out[..., 0] > threshold).astype(np.int64) if out.shape[-1] == 1 else np.argmax(out, axis=-1)


def check_labels(y: np.ndarray, out_shape: tuple, where: str = "data") -> None:
    """Labels or targets fit outputs of shape ``out_shape`` per window: (O,) or (T, O)."""
    y, out_shape = np.asarray(y), tuple(out_shape)
    n_out = out_shape[-1]
    if task_of(y) == REGRESSION:
        k = 1 if y.ndim == 1 else y.shape[1]
        if len(out_shape) != 1:
            raise TinyrnnError(f"{where}: regression needs one output vector per window, the model returns sequences")
        if k != n_out:
            raise TinyrnnError(f"{where}: {k} regression target(s) per window, the model has {n_out} output(s)")
        return
    if y.shape[1:] != out_shape[:-1]:
        what = ("per-step labels (N, T) need a model that returns sequences" if y.ndim == 2 and len(out_shape) == 1
                else "labels (N,) need one output per window (this model returns sequences: give y (N, T))"
                if y.ndim == 1 else f"per-step labels must be (N, {out_shape[0]})")
        raise TinyrnnError(f"{where}: {what}; got labels {y.shape}")
    top = 1 if n_out == 1 else n_out - 1
    bad = np.flatnonzero(((y < 0) | (y > top)).reshape(len(y), -1).any(axis=1))
    if bad.size:
        i = int(bad[0])
        value = int(y[i].max() if y[i].max() > top else y[i].min())
        raise TinyrnnError(f"{where}: label y[{i}] = {value} out of range for the model's {n_out} "
                           f"{'outputs' if n_out > 1 else 'output (a sigmoid: labels 0 or 1)'}")


def regression_scores(out: np.ndarray, y: np.ndarray) -> dict:
    """RMSE, MAE and R² per output (lists of K); R² is None for a constant target."""
    pred = np.asarray(out, np.float64).reshape(len(out), -1)
    err = pred - np.asarray(y, np.float64).reshape(pred.shape)
    target = pred - err
    sse = np.sum(err**2, axis=0)
    sst = np.sum((target - target.mean(axis=0)) ** 2, axis=0)
    r2 = [float(1.0 - a / b) if b > 0 else None for a, b in zip(sse, sst)]
    return {"rmse": np.sqrt(np.mean(err**2, axis=0)).tolist(), "mae": np.mean(np.abs(err), axis=0).tolist(), "r2": r2}


def accuracy(out: np.ndarray, y: np.ndarray, threshold: float = 0.0) -> float:
    """Fraction of windows (or of steps, for (N, T) labels) whose predicted class is the label."""
    return float(np.mean(predicted_classes(out, threshold) == np.asarray(y)))


def scores(out: np.ndarray, y: np.ndarray, where: str = "data", head: str = "linear", applied: bool = False) -> dict:
    """{"task", "n", and "accuracy" or "rmse"/"mae"/"r2"} of float outputs against labels.

    ``head``: the last layer's activation. The int8 contract stops before it (``applied``
    False: regression errors are taken after it, classes from the logits); Keras's own
    outputs come after it (``applied`` True)."""
    out, task = np.asarray(out), task_of(y)
    check_labels(y, out.shape[1:], where)
    info = {"task": task, "n": int(len(y))}
    if task == REGRESSION:
        return {**info, **regression_scores(out if applied else activate(head, out), y)}
    return {**info, "accuracy": accuracy(out, y, 0.5 if applied and head == "sigmoid" else 0.0)}
