"""Import Keras/TensorFlow quietly: one place for the environment TF needs.

TensorFlow's C++ runtime writes CUDA probing lines to stderr before its own log
level applies; they would bury tinyrnn's one-line messages, so stderr is muted at
the file-descriptor level for the import only.
"""

from __future__ import annotations

import contextlib
import os
import sys

from tinyrnn.core.errors import TinyrnnError


@contextlib.contextmanager
def muted_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_keras(legacy: bool = False):
    """Keras 3, or tf_keras when ``legacy`` (the converter emits fused LSTM ops only from it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if legacy:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    try:
        with muted_stderr():
            import tensorflow  # noqa: F401  (loads the runtime once, quietly)

            if legacy:
                import tf_keras as keras
            else:
                import keras
    except ImportError as exc:
        extra = "tinyrnn[train]"
        raise TinyrnnError(f"TensorFlow/Keras not installed ({exc.name}); install {extra}") from None
    return keras
