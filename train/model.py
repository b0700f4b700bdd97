"""Keras model building restricted to what the tinyrnn quantizer supports.

Graph: ``Input(shape=(T, F))`` (fixed T) → ``Normalization`` (adapted on the
training windows, per feature) → 1..3 ``LSTM``/``GRU`` layers with default
activations and ``unroll=False`` (``return_sequences`` on all but the last) →
``Dense(n_classes, softmax)``. No masking, no Bidirectional, no dropout.

Keras 3 by default. ``legacy_keras=True`` builds with ``tf_keras`` (Keras 2),
which the TensorFlow Lite converter turns into a fused LSTM op; that path sets
``TF_USE_LEGACY_KERAS=1`` when TensorFlow is not imported yet (so ``tf.keras``
is ``tf_keras`` in that process). The converter needs a fixed batch size for
the fused op, e.g. a concrete function of ``TensorSpec([1, T, F])``.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from tinyrnn.errors import TinyrnnError

ARCHS = ("lstm", "gru")
MAX_LAYERS = 3


def get_keras(legacy_keras: bool = False):
    """The Keras module to build with: ``keras`` (3) or ``tf_keras`` (2)."""
    if legacy_keras:
        # Route tf.keras to tf_keras for the whole process, but only while that is
        # still possible: once TensorFlow is imported, flipping the variable could
        # re-route tf.keras under code that already relies on Keras 3.
        if "tensorflow" not in sys.modules:
            os.environ["TF_USE_LEGACY_KERAS"] = "1"
        try:
            import tf_keras
        except ImportError:
            raise TinyrnnError("legacy Keras needs the tf_keras package "
                               "(pip install 'tinyrnn[train]')") from None
        return tf_keras
    try:
        import keras
    except ImportError:
        raise TinyrnnError("training needs TensorFlow and Keras "
                           "(pip install 'tinyrnn[train]')") from None
    return keras


def _check_args(arch: str, units: int, layers: int, input_shape, n_classes: int) -> None:
    if arch not in ARCHS:
        raise TinyrnnError(f"architecture must be one of {', '.join(ARCHS)}, got {arch!r}")
    if not 1 <= int(units) <= 1024:
        raise TinyrnnError(f"units must be 1..1024, got {units}")
    if not 1 <= int(layers) <= MAX_LAYERS:
        raise TinyrnnError(f"layers must be 1..{MAX_LAYERS}, got {layers}")
    if len(input_shape) != 2 or min(int(d) for d in input_shape) < 1:
        raise TinyrnnError(f"input shape must be (T, F) with T, F >= 1, got {tuple(input_shape)}")
    if int(n_classes) < 2:
        raise TinyrnnError(f"need at least 2 classes, got {n_classes}")


def build_model(arch: str, units: int, layers: int = 1, input_shape=(None, None),
                n_classes: int = 2, normalization_data: np.ndarray | None = None,
                legacy_keras: bool = False, name: str | None = None):
    """Build (and not compile) the classifier; returns a Keras ``Model``.

    ``normalization_data`` (N, T, F) adapts the Normalization layer's per-feature
    mean and variance; without it the layer is the identity (mean 0, variance 1).
    """
    _check_args(arch, units, layers, input_shape, n_classes)
    keras = get_keras(legacy_keras)
    T, F = (int(d) for d in input_shape)
    inputs = keras.Input(shape=(T, F), name="x")
    if normalization_data is not None:
        data = np.asarray(normalization_data, dtype=np.float32)
        if data.ndim != 3 or data.shape[2] != F:
            raise TinyrnnError(f"normalization data must be (N, T, {F}), got {data.shape}")
        norm = keras.layers.Normalization(axis=-1, name="normalization")
        norm.adapt(data)
    else:
        norm = keras.layers.Normalization(axis=-1, mean=np.zeros(F), variance=np.ones(F),
                                          name="normalization")
    h = norm(inputs)
    rnn = keras.layers.LSTM if arch == "lstm" else keras.layers.GRU
    for i in range(int(layers)):
        h = rnn(int(units), return_sequences=i < int(layers) - 1, unroll=False,
                name=f"{arch}_{i}")(h)
    outputs = keras.layers.Dense(int(n_classes), activation="softmax", name="head")(h)
    return keras.Model(inputs, outputs, name=name or f"tinyrnn_{arch}{units}x{layers}")


def count_params(model) -> int:
    """Total number of weights (trainable and not, e.g. normalization statistics)."""
    return int(sum(int(np.prod(w.shape)) for w in model.weights))
