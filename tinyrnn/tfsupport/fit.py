"""Keras fitting support shared by training and QAT fine-tuning: per-epoch progress and
the monitor callback (history rows, early stopping, best-weight restore)."""

from __future__ import annotations

import math
import os
import sys
import time

from tinyrnn.core.progress import progress_quiet


def _is_sized_terminal(stream) -> bool:
    """A TTY with a known, non-zero size (a 0x0 pty would hide a tqdm bar)."""
    try:
        if not stream.isatty():
            return False
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return size.columns >= 40 and size.lines >= 1


class EpochProgress:
    """Per-epoch progress on stderr: tqdm on a TTY, plain lines otherwise."""

    def __init__(self, enabled: bool, epochs: int, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and not progress_quiet()
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


def make_monitor(keras, progress: EpochProgress, patience: int):
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
