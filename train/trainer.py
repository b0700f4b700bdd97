"""Reproducible training of the quantizer-friendly LSTM/GRU classifier.

Same seed, same machine → byte-identical weights: ``keras.utils.set_random_seed``
plus ``tf.config.experimental.enable_op_determinism``. Early stopping watches the
validation loss and always restores the best epoch's weights. Progress goes to
stderr: a tqdm bar on a terminal, one plain line per epoch otherwise. The model
is saved atomically (temp file in the target folder, then rename).

Float training only: quantization-aware fine-tuning and the TFLite export are the
quantizer's (:mod:`tinyrnn.quantize.qat_finetune`, :mod:`tinyrnn.quantize.tflite_export`);
``tinyrnn train`` chains them (:func:`tinyrnn.app.api.train_file`) between :func:`fit`
and :func:`finish`.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.fileio import temp_beside
from tinyrnn.tfsupport.fit import EpochProgress, make_monitor
from tinyrnn.train.data import Dataset, split
from tinyrnn.train.datasets import load_dataset
from tinyrnn.train.model import arch_label, build_model, count_params, get_keras, resolve_archs

# ----------------------------------------------------------------------------- training

def set_determinism(seed: int, legacy_keras: bool = False) -> None:
    """Seed Python, numpy and TensorFlow and make TF ops deterministic."""
    keras = get_keras(legacy_keras)
    import tensorflow as tf
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def _check_pair(train_ds: Dataset, val_ds: Dataset) -> None:
    if len(train_ds) == 0 or len(val_ds) == 0:
        raise TinyrnnError("training and validation sets must both be non-empty")
    if train_ds.x.shape[1:] != val_ds.x.shape[1:]:
        raise TinyrnnError(f"training windows {train_ds.x.shape[1:]} and validation windows "
                           f"{val_ds.x.shape[1:]} differ in shape")


def train_model(train_ds: Dataset, val_ds: Dataset, arch="lstm", units: int = 32,
                layers: int | None = None, epochs: int = 20, seed: int = 0, batch_size: int = 64,
                legacy_keras: bool = False, progress: bool = True, patience: int = 5,
                learning_rate: float = 1e-3):
    """Train on ``train_ds`` with early stopping on ``val_ds``; returns (model, info).

    ``arch``/``layers``: see :func:`tinyrnn.train.model.resolve_archs` ("lstm,gru" = LSTM→GRU).
    """
    _check_pair(train_ds, val_ds)
    if epochs < 1 or batch_size < 1 or patience < 1:
        raise TinyrnnError("epochs, batch size and patience must be >= 1")
    kinds = resolve_archs(arch, layers)
    regression = _task(train_ds, val_ds)
    keras = get_keras(legacy_keras)
    set_determinism(seed, legacy_keras)
    n_classes = (train_ds.y.reshape(len(train_ds), -1).shape[1] if regression
                 else max(train_ds.n_classes, val_ds.n_classes))
    model = build_model(kinds, units, None, train_ds.x.shape[1:], n_classes,
                        normalization_data=train_ds.x, legacy_keras=legacy_keras, regression=regression)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  **({"loss": "mse", "metrics": ["mae"]} if regression else
                     {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}))
    bar = EpochProgress(progress, epochs)
    bar.info(f"training {arch_label(kinds)}({units})x{len(kinds)} on {len(train_ds)} windows "
             f"(validation {len(val_ds)}), T={train_ds.timesteps} F={train_ds.features}, "
             f"{n_classes} {'regression targets' if regression else 'classes'}, seed {seed}")
    monitor = make_monitor(keras, bar, patience)
    t0 = time.perf_counter()
    try:
        model.fit(train_ds.x, train_ds.y, batch_size=batch_size, epochs=epochs, verbose=0,
                  validation_data=(val_ds.x, val_ds.y), shuffle=True, callbacks=[monitor])
    finally:
        bar.close()
    if monitor.best_weights is None:
        raise TinyrnnError("training diverged: validation loss was never finite "
                           "(try a lower learning rate)")
    seconds = time.perf_counter() - t0
    info = {"history": monitor.rows, "best_epoch": monitor.best_epoch,
            "epochs_run": len(monitor.rows), "train_seconds": round(seconds, 3),
            **final_scores(model, train_ds, val_ds, batch_size), "n_classes": int(n_classes)}
    return model, info


def _task(train_ds: Dataset, val_ds: Dataset) -> bool:
    """True for regression targets (a linear head, MSE); per-step labels are not trained here."""
    if train_ds.is_regression != val_ds.is_regression:
        raise TinyrnnError("training and validation sets must both hold class labels or both regression targets")
    if not train_ds.is_regression and train_ds.y.ndim != 1:
        raise TinyrnnError(f"{train_ds.name}: per-step labels (N, T): tinyrnn train builds whole-window models "
                           "(train a return_sequences model in Keras; eval, report and verify take it)")
    return train_ds.is_regression


def final_scores(model, train_ds: Dataset, val_ds: Dataset, batch_size: int = 64) -> dict:
    """Float loss and accuracy (or, for regression, RMSE and MAE over all targets) on both parts."""
    out = {}
    for part, ds in (("train", train_ds), ("val", val_ds)):
        res = model.evaluate(ds.x, ds.y, batch_size=batch_size, verbose=0, return_dict=True)
        out[f"{part}_loss"] = float(res["loss"])
        if ds.is_regression:
            out[f"{part}_rmse"], out[f"{part}_mae"] = float(res["loss"]) ** 0.5, float(res["mae"])
        else:
            out[f"{part}_accuracy"] = float(res["accuracy"])
    return out


def score_text(result: dict) -> str:
    """"val accuracy 0.9123" or "val RMSE 0.0412" for the progress line and the CLI."""
    if "val_rmse" in result:
        return f"val RMSE {result['val_rmse']:.4g}"
    return f"val accuracy {result['val_accuracy']:.4f}"


def save_model(model, out_path) -> Path:
    """Save a Keras model to ``out_path`` (``.keras``) atomically."""
    out = Path(out_path)
    if out.suffix != ".keras":
        raise TinyrnnError(f"{out}: the model file must end in .keras")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(out, prefix=f".{out.stem}.", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _versions(legacy_keras: bool) -> dict:
    keras = get_keras(legacy_keras)
    import tensorflow as tf
    return {"keras_version": keras.__version__, "tensorflow_version": tf.__version__,
            "legacy_keras": bool(legacy_keras)}


@dataclass
class Fitted:
    """A float-trained model with the data it saw; :func:`finish` saves and describes it."""
    model: object
    info: dict
    data: Dataset
    train_ds: Dataset
    val_ds: Dataset
    kinds: list
    options: dict
    split_by_group: bool


def check_out_path(out_path) -> None:
    if Path(out_path).suffix != ".keras":
        raise TinyrnnError(f"{out_path}: the model file must end in .keras")


def fit(spec_or_dataset, arch="lstm", units: int = 32, layers: int | None = None, epochs: int = 20, seed: int = 0,
        batch_size: int = 64, legacy_keras: bool = False, progress: bool = True, *, val: Dataset | None = None,
        val_fraction: float = 0.2, patience: int = 5, learning_rate: float = 1e-3, n: int | None = None) -> Fitted:
    """Load/split the data and train. ``spec_or_dataset``: a :class:`Dataset` or a spec for
    :func:`load_dataset` (``n`` = synthetic size). Without ``val`` a ``val_fraction`` split is
    taken (by group where the data has groups, seeded by ``seed``). ``arch``: "lstm", "gru" or a
    comma list, one kind per layer."""
    kinds = resolve_archs(arch, layers)
    data = load_dataset(spec_or_dataset, n=n, seed=seed)
    train_ds, val_ds = (data, val) if val is not None else split(data, val_fraction, seed)
    model, info = train_model(train_ds, val_ds, kinds, units, None, epochs, seed, batch_size,
                              legacy_keras, progress, patience, learning_rate)
    options = {"units": int(units), "epochs": int(epochs), "seed": int(seed), "batch_size": int(batch_size),
               "learning_rate": float(learning_rate), "patience": int(patience), "legacy_keras": bool(legacy_keras),
               "progress": progress}
    return Fitted(model, info, data, train_ds, val_ds, kinds, options, val is None and data.groups is not None)


def finish(fitted: Fitted, out_path) -> dict:
    """Save the model atomically; a JSON-able summary of the run."""
    f, o = fitted, fitted.options
    out = save_model(f.model, out_path)
    result = {
        "out_path": str(out), "dataset": f.data.name, "arch": arch_label(f.kinds), "archs": f.kinds,
        "units": o["units"], "layers": len(f.kinds), "epochs": o["epochs"], "seed": o["seed"],
        "batch_size": o["batch_size"], "learning_rate": o["learning_rate"],
        "patience": o["patience"], "input_shape": [f.train_ds.timesteps, f.train_ds.features],
        "classes": list(f.data.classes) if f.data.classes else None,
        "n_train": len(f.train_ds), "n_val": len(f.val_ds), "split_by_group": f.split_by_group,
        "params": count_params(f.model), **_versions(o["legacy_keras"]), **f.info,
    }
    if o["progress"]:
        print(f"saved {out}: {score_text(result)} "
              f"(best epoch {result['best_epoch']}/{result['epochs_run']})",
              file=sys.stderr, flush=True)
    return result


def train(spec_or_dataset, arch="lstm", units: int = 32, layers: int | None = None, epochs: int = 20, seed: int = 0,
          out_path="model.keras", batch_size: int = 64, legacy_keras: bool = False, progress: bool = True,
          **fit_options) -> dict:
    """Float training end to end: :func:`fit` (``fit_options``: its keyword options), then :func:`finish`."""
    check_out_path(out_path)
    return finish(fit(spec_or_dataset, arch, units, layers, epochs, seed, batch_size, legacy_keras, progress,
                      **fit_options), out_path)
