"""Reproducible training of the quantizer-friendly LSTM/GRU classifier.

Same seed, same machine → byte-identical weights: ``keras.utils.set_random_seed``
plus ``tf.config.experimental.enable_op_determinism``. Early stopping watches the
validation loss and always restores the best epoch's weights. Progress goes to
stderr: a tqdm bar on a terminal, one plain line per epoch otherwise. The model
is saved atomically (temp file in the target folder, then rename).

:func:`train` optionally follows the float training with quantization-aware
fine-tuning (``qat``, :mod:`tinyrnn.train.qat_finetune`: kept only if the int8
model does better on the validation windows) and writes an int8 ``.tflite``
(``export_tflite``, :mod:`tinyrnn.train.export`). Bad options (an LSTM export
without legacy Keras, a wrong suffix, an --arch list that contradicts --layers)
fail before any training.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path


from tinyrnn.errors import TinyrnnError

from .datasets import Dataset, load_dataset, split
from .model import arch_label, build_model, count_params, get_keras, resolve_archs


# ----------------------------------------------------------------------------- progress

def _is_sized_terminal(stream) -> bool:
    """A TTY with a known, non-zero size (a 0x0 pty would hide a tqdm bar)."""
    try:
        if not stream.isatty():
            return False
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return size.columns >= 40 and size.lines >= 1


class _Progress:
    """Per-epoch progress on stderr: tqdm on a TTY, plain lines otherwise."""

    def __init__(self, enabled: bool, epochs: int, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.epochs = epochs
        self.bar = None
        if enabled and _is_sized_terminal(self.stream):
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=epochs, file=self.stream, unit="epoch",
                                dynamic_ncols=True, leave=True)
            except ImportError:
                self.bar = None

    def info(self, text: str) -> None:
        if self.enabled:
            (self.bar.write if self.bar else self._line)(text)

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        stats = (f"loss {row['loss']:.4f}  acc {row['accuracy']:.4f}  "
                 f"val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}")
        if self.bar is not None:
            self.bar.set_postfix_str(stats.replace("  ", " "), refresh=False)
            self.bar.update(1)
        else:
            self._line(f"epoch {row['epoch']}/{self.epochs}  {stats}  ({row['seconds']:.1f} s)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _make_callback(keras, progress: _Progress, patience: int):
    """Keras callback: history rows, progress, early stopping with best-weight restore."""

    class _Monitor(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rows, self.best, self.best_epoch, self.best_weights = [], math.inf, 0, None
            self._t0 = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._t0, 3)}
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                row[key] = float(logs.get(key, math.nan))
            self.rows.append(row)
            progress.epoch(row)
            if math.isfinite(row["val_loss"]) and row["val_loss"] < self.best:
                self.best, self.best_epoch = row["val_loss"], epoch + 1
                self.best_weights = self.model.get_weights()
            elif not math.isfinite(row["loss"]) or epoch + 1 - self.best_epoch >= patience:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return _Monitor()


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
    keras = get_keras(legacy_keras)
    set_determinism(seed, legacy_keras)
    n_classes = max(train_ds.n_classes, val_ds.n_classes)
    model = build_model(kinds, units, None, train_ds.x.shape[1:], n_classes,
                        normalization_data=train_ds.x, legacy_keras=legacy_keras)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    bar = _Progress(progress, epochs)
    bar.info(f"training {arch_label(kinds)}({units})x{len(kinds)} on {len(train_ds)} windows "
             f"(validation {len(val_ds)}), T={train_ds.timesteps} F={train_ds.features}, "
             f"{n_classes} classes, seed {seed}")
    monitor = _make_callback(keras, bar, patience)
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


def final_scores(model, train_ds: Dataset, val_ds: Dataset, batch_size: int = 64) -> dict:
    """Float loss and accuracy of ``model`` on both parts."""
    out = {}
    for part, ds in (("train", train_ds), ("val", val_ds)):
        res = model.evaluate(ds.x, ds.y, batch_size=batch_size, verbose=0, return_dict=True)
        out[f"{part}_loss"], out[f"{part}_accuracy"] = float(res["loss"]), float(res["accuracy"])
    return out


def save_model(model, out_path) -> Path:
    """Save a Keras model to ``out_path`` (``.keras``) atomically."""
    out = Path(out_path)
    if out.suffix != ".keras":
        raise TinyrnnError(f"{out}: the model file must end in .keras")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".keras")
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


def _qat_options(qat) -> dict | None:
    """``qat``: False/None (off), True (defaults) or a dict of :func:`finetune` options."""
    if not qat:
        return None
    opts = {"epochs": 5, "learning_rate": 1e-4, "keep": "if-better"}
    opts.update({} if qat is True else dict(qat))
    if int(opts["epochs"]) < 1 or not float(opts["learning_rate"]) > 0:
        raise TinyrnnError(f"QAT needs at least 1 epoch and a positive learning rate, got {opts['epochs']} "
                           f"and {opts['learning_rate']}")
    if opts["keep"] not in ("if-better", "always", "never"):
        raise TinyrnnError(f"QAT keep rule must be if-better, always or never, got {opts['keep']!r}")
    return opts


def _check_out_paths(out_path, kinds: list[str], legacy_keras: bool, export_tflite):
    if Path(out_path).suffix != ".keras":
        raise TinyrnnError(f"{out_path}: the model file must end in .keras")
    if export_tflite is None or export_tflite is False:
        return None
    from .export import check_export, tflite_path_for

    check_export(kinds, legacy_keras)
    return tflite_path_for(out_path, export_tflite if isinstance(export_tflite, (str, os.PathLike)) else None)


def train(spec_or_dataset, arch="lstm", units: int = 32, layers: int | None = None,
          epochs: int = 20, seed: int = 0, out_path="model.keras", batch_size: int = 64,
          legacy_keras: bool = False, progress: bool = True, *, val: Dataset | None = None,
          val_fraction: float = 0.2, patience: int = 5, learning_rate: float = 1e-3,
          n: int | None = None, qat=False, export_tflite=None) -> dict:
    """Load/split the data, train, optionally fine-tune with QAT, save; a JSON-able summary.

    ``spec_or_dataset``: a :class:`Dataset` or a spec for :func:`load_dataset`
    (``n`` = synthetic size). Without ``val`` a ``val_fraction`` split is taken
    (by group where the data has groups, seeded by ``seed``). ``arch``: "lstm",
    "gru" or a comma list, one kind per layer. ``qat``: True or a dict of
    :func:`tinyrnn.train.qat_finetune.finetune` options (epochs, learning_rate, keep).
    ``export_tflite``: True/"" (beside ``out_path``) or a ``.tflite`` path.
    """
    kinds = resolve_archs(arch, layers)
    tflite_out = _check_out_paths(out_path, kinds, legacy_keras, export_tflite)
    qat_opts = _qat_options(qat)
    data = load_dataset(spec_or_dataset, n=n, seed=seed)
    train_ds, val_ds = (data, val) if val is not None else split(data, val_fraction, seed)
    model, info = train_model(train_ds, val_ds, kinds, units, None, epochs, seed, batch_size,
                              legacy_keras, progress, patience, learning_rate)
    calib_x = None
    if qat_opts is not None:
        from .qat_finetune import calibration_windows, finetune

        calib_x = calibration_windows(train_ds, seed=seed)
        model, info["qat"] = finetune(model, train_ds, val_ds, batch_size=batch_size, seed=seed,
                                      progress=progress, calib_x=calib_x, **qat_opts)
        info.update(final_scores(model, train_ds, val_ds, batch_size))
    out = save_model(model, out_path)
    result = {
        "out_path": str(out), "dataset": data.name, "arch": arch_label(kinds), "archs": kinds,
        "units": int(units), "layers": len(kinds), "epochs": int(epochs), "seed": int(seed),
        "batch_size": int(batch_size), "learning_rate": float(learning_rate),
        "patience": int(patience), "input_shape": [train_ds.timesteps, train_ds.features],
        "classes": list(data.classes) if data.classes else None,
        "n_train": len(train_ds), "n_val": len(val_ds),
        "split_by_group": val is None and data.groups is not None,
        "params": count_params(model), **_versions(legacy_keras), **info,
    }
    if tflite_out is not None:
        from .export import export_tflite as convert
        from .qat_finetune import calibration_windows

        calib_x = calibration_windows(train_ds, seed=seed) if calib_x is None else calib_x
        result.update(convert(out, tflite_out, calib_x, kinds, legacy_keras, val_ds.x, val_ds.y))
    if progress:
        print(f"saved {out}: val accuracy {result['val_accuracy']:.4f} "
              f"(best epoch {result['best_epoch']}/{result['epochs_run']})",
              file=sys.stderr, flush=True)
    return result
