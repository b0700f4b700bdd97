"""The QAT fine-tuning run: float model in, fine-tuned float model out (or the input, unchanged).

``finetune`` builds the fake-quantizing twin (:mod:`tinyrnn.quantize.qat`), fits it
for a few epochs at a low learning rate with early stopping on its validation loss
(best epoch restored), re-deriving every scale from the current weights before each
epoch, and copies the weights back into the plain model. It then quantizes the
model before and after and keeps the fine-tuned weights only if the int8 golden
model does better on the validation windows (higher accuracy, or equal accuracy and
lower cross-entropy); otherwise the float-trained weights are restored. Both
figures are returned either way.
"""

from __future__ import annotations

import time

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.quantize import qat
from tinyrnn.tfsupport.fit import EpochProgress, make_monitor

CALIBRATION_WINDOWS = 300


def calibration_windows(ds, n: int = CALIBRATION_WINDOWS, seed: int = 0) -> np.ndarray:
    """A seeded random subset of ``ds`` (sorted), as the quantizer's calibration data."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(ds), min(n, len(ds)), replace=False))
    return ds.x[pick]


def qat_helps(before: dict, after: dict) -> bool:
    """The keep rule on int8 validation scores: higher accuracy, or equal and lower cross-entropy."""
    return after["accuracy"] > before["accuracy"] or (
        after["accuracy"] == before["accuracy"] and after["loss"] < before["loss"])


def _recalibrate_callback(keras, model, pairs, quant_in, calib_x, log: list):
    class _Recalibrate(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 0:
                return  # scales were set from the float-trained weights
            qat.copy_back(pairs)
            ir_model = qat.quantize_in_memory(model, calib_x)
            qat.assign_scales(pairs, quant_in, ir_model)
            log.append(_scale_summary(ir_model))

    return _Recalibrate()


def _scale_summary(ir_model) -> dict:
    out = {"input_scale": float(ir_model.layers[0].input_scale)}
    for layer in ir_model.layers:
        if layer.kind == "lstm":
            out[layer.name] = {"hidden_scale": float(layer.hidden_scale), "cell_scale_power": int(layer.cell_scale_power)}
        elif layer.kind == "dense":
            out[layer.name] = {"output_scale": float(layer.output_scale)}
    return out


def _fit(qmodel, train_ds, val_ds, callbacks, epochs, batch_size, seed):
    keras = qat.import_keras()
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
    qmodel.fit(train_ds.x, train_ds.y, batch_size=batch_size, epochs=epochs, verbose=0,
               validation_data=(val_ds.x, val_ds.y), shuffle=True, callbacks=callbacks)


def finetune(model, train_ds, val_ds, *, epochs: int = 5, learning_rate: float = 1e-4,
             batch_size: int = 64, patience: int = 3, seed: int = 0, progress: bool = True,
             calib_x: np.ndarray | None = None, keep: str = "if-better") -> tuple[object, dict]:
    """Quantization-aware fine-tuning of a plain ``build_model`` model, in place.

    ``keep``: "if-better" (default, see module doc), "always" or "never" (measure only).
    Returns (model, info) with the int8 validation figures before and after.
    """

    if epochs < 1 or keep not in ("if-better", "always", "never"):
        raise TinyrnnError("QAT needs epochs >= 1 and keep in if-better/always/never")
    keras = qat._keras()
    calib_x = calibration_windows(train_ds, seed=seed) if calib_x is None else calib_x
    original = model.get_weights()
    ir_before = qat.quantize_in_memory(model, calib_x)
    before = qat.int8_scores(ir_before, val_ds.x, val_ds.y)
    qmodel, pairs, quant_in = qat.build_qat_model(model)
    qat.assign_scales(pairs, quant_in, ir_before)
    qmodel.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    bar = EpochProgress(progress, epochs)
    bar.info(f"quantization-aware fine-tuning: {epochs} epochs at learning rate {learning_rate:g}; "
             f"int8 validation accuracy before {before['accuracy']:.4f}")
    scales: list = [_scale_summary(ir_before)]
    monitor = make_monitor(keras, bar, patience)
    t0 = time.perf_counter()
    try:
        _fit(qmodel, train_ds, val_ds, [_recalibrate_callback(keras, model, pairs, quant_in, calib_x, scales), monitor],
             epochs, batch_size, seed)
    finally:
        bar.close()
    if monitor.best_weights is None:
        raise TinyrnnError("QAT diverged: validation loss was never finite (try a lower --qat-lr)")
    qat.copy_back(pairs)
    after = qat.int8_scores(qat.quantize_in_memory(model, calib_x), val_ds.x, val_ds.y)
    float_after = model.evaluate(val_ds.x, val_ds.y, batch_size=batch_size, verbose=0, return_dict=True)
    kept = keep == "always" or (keep == "if-better" and qat_helps(before, after))
    if not kept:
        model.set_weights(original)
    bar.info(f"QAT: int8 validation accuracy {before['accuracy']:.4f} → {after['accuracy']:.4f}; "
             f"{'kept the fine-tuned weights' if kept else 'kept the float-trained weights'}")
    info = {
        "epochs": int(epochs), "learning_rate": float(learning_rate), "kept": bool(kept), "keep_rule": keep,
        "history": monitor.rows, "best_epoch": monitor.best_epoch, "epochs_run": len(monitor.rows),
        "seconds": round(time.perf_counter() - t0, 3), "calibration_windows": int(len(calib_x)),
        "int8_val_accuracy_before": before["accuracy"], "int8_val_loss_before": before["loss"],
        "int8_val_accuracy_after": after["accuracy"], "int8_val_loss_after": after["loss"],
        "float_val_accuracy_after": float(float_after["accuracy"]), "scales_per_epoch": scales,
    }
    return model, info
