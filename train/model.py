"""Keras model building restricted to what the tinyrnn quantizer supports.

Graph: ``Input(shape=(T, F))`` (fixed T) → ``Normalization`` (adapted on the
training windows, per feature) → 1..3 ``LSTM``/``GRU``/``SimpleRNN`` layers with default
activations and ``unroll=False`` (``return_sequences`` on all but the last) →
``Dense(n_classes, softmax)``. No masking, no dropout. ``bilstm``/``bigru`` wrap their
layer in ``Bidirectional`` (merge_mode concat, ``units`` per direction): the generated
C then has the whole-window ``_run`` only.

Stacks: ``arch="lstm", layers=2`` is LSTM→LSTM; a comma list gives each layer
its own kind, first layer first (``arch="lstm,gru"`` is LSTM→GRU, and sets the
depth). Layer names are ``{kind}_{index}`` (``lstm_0``, ``gru_1``). A ``conv-`` prefix
on the first kind (``conv-lstm``, ``conv-gru``) puts the CNN front end before the stack:
``Conv1D(16, 5, padding="causal", relu)`` (``conv_0``) and ``MaxPooling1D(2)`` (``pool_0``),
which tinyrnn streams in the step API.

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

from tinyrnn.core.errors import TinyrnnError

# rnn: SimpleRNN (tanh); rnn_relu: SimpleRNN(activation="relu"); bilstm, bigru: Bidirectional(LSTM|GRU)
ARCHS = ("lstm", "gru", "rnn", "rnn_relu", "bilstm", "bigru")
KERAS_LAYERS = {"lstm": ("LSTM", {}), "gru": ("GRU", {}), "rnn": ("SimpleRNN", {}),
                "rnn_relu": ("SimpleRNN", {"activation": "relu"}), "bilstm": ("LSTM", {}), "bigru": ("GRU", {})}
BIDIRECTIONAL = ("bilstm", "bigru")
MAX_LAYERS = 3
CONV_FRONT = "conv-"  # prefix of the first kind: the Conv1D + MaxPooling1D front end
CONV_FILTERS, CONV_KERNEL, POOL_SIZE = 16, 5, 2


def get_keras(legacy_keras: bool = False):
    """The Keras module to build with: ``keras`` (3) or ``tf_keras`` (2).

    Imported through :func:`tinyrnn.tfsupport.import_keras` (quiet TensorFlow start-up).
    ``legacy_keras`` routes ``tf.keras`` to tf_keras for the whole process, but only
    while that is still possible: once TensorFlow is imported, flipping
    ``TF_USE_LEGACY_KERAS`` could re-route ``tf.keras`` under code that relies on Keras 3.
    """
    from tinyrnn.tfsupport import import_keras

    if legacy_keras and "tensorflow" in sys.modules:
        saved = os.environ.get("TF_USE_LEGACY_KERAS")
        try:
            return import_keras(True)
        finally:
            if saved is None:
                os.environ.pop("TF_USE_LEGACY_KERAS", None)
            else:
                os.environ["TF_USE_LEGACY_KERAS"] = saved
    return import_keras(bool(legacy_keras))


def resolve_archs(arch, layers: int | None = None) -> list[str]:
    """Per-layer kinds from ``arch`` ("lstm", "gru", "rnn", "lstm,gru", "conv-lstm" or a list) and ``layers``.

    One kind repeats ``layers`` times (default 1); a list sets the depth, and
    ``layers``, if given, must agree with it. The first kind keeps a ``conv-`` prefix
    (the CNN front end): ``conv-gru`` with 2 layers is ["conv-gru", "gru"].
    """
    kinds = [a.strip().lower() for a in (arch.split(",") if isinstance(arch, str) else arch)]
    front = bool(kinds) and kinds[0].startswith(CONV_FRONT)
    kinds[:1] = [kinds[0][len(CONV_FRONT):]] if front else kinds[:1]
    bad = [a for a in kinds if a not in ARCHS]
    if not kinds or bad:
        raise TinyrnnError(f"architecture must be one of {', '.join(ARCHS)} or a comma list of them "
                           f"(one per layer, e.g. lstm,gru; conv-lstm: a Conv1D front end first), got {arch!r}")
    if len(kinds) == 1:
        n = 1 if layers is None else int(layers)
        if not 1 <= n <= MAX_LAYERS:
            raise TinyrnnError(f"layers must be 1..{MAX_LAYERS}, got {layers}")
        kinds = kinds * n
    elif layers is not None and int(layers) != len(kinds):
        raise TinyrnnError(f"architecture {arch!r} lists {len(kinds)} layers but layers is {layers}")
    if len(kinds) > MAX_LAYERS:
        raise TinyrnnError(f"layers must be 1..{MAX_LAYERS}, got {len(kinds)}")
    return [CONV_FRONT + kinds[0], *kinds[1:]] if front else kinds


def arch_label(kinds: list[str]) -> str:
    """"lstm", "gru" or "lstm,gru" for a list of per-layer kinds (a repeated kind collapses)."""
    return kinds[0] if len(set(kinds)) == 1 else ",".join(kinds)


def _check_args(arch, units: int, layers: int | None, input_shape, n_classes: int, regression: bool = False) -> list[str]:
    kinds = resolve_archs(arch, layers)
    if not 1 <= int(units) <= 1024:
        raise TinyrnnError(f"units must be 1..1024, got {units}")
    if len(input_shape) != 2 or min(int(d) for d in input_shape) < 1:
        raise TinyrnnError(f"input shape must be (T, F) with T, F >= 1, got {tuple(input_shape)}")
    if kinds[0].startswith(CONV_FRONT) and int(input_shape[0]) < POOL_SIZE:
        raise TinyrnnError(f"{kinds[0]}: windows of {input_shape[0]} steps are shorter than the pooling ({POOL_SIZE})")
    if int(n_classes) < (1 if regression else 2):
        raise TinyrnnError(f"need at least {'1 target' if regression else '2 classes'}, got {n_classes}")
    return kinds


def build_model(arch, units: int, layers: int | None = 1, input_shape=(None, None),
                n_classes: int = 2, normalization_data: np.ndarray | None = None,
                legacy_keras: bool = False, name: str | None = None, regression: bool = False):
    """Build (and not compile) the classifier, or with ``regression`` a model whose linear
    Dense head gives ``n_classes`` float targets; returns a Keras ``Model``.

    ``normalization_data`` (N, T, F) adapts the Normalization layer's per-feature
    mean and variance; without it the layer is the identity (mean 0, variance 1).
    ``arch``/``layers``: see :func:`resolve_archs`.
    """
    kinds = _check_args(arch, units, layers, input_shape, n_classes, regression)
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
    if kinds[0].startswith(CONV_FRONT):
        h = keras.layers.Conv1D(CONV_FILTERS, CONV_KERNEL, padding="causal", activation="relu", name="conv_0")(h)
        h = keras.layers.MaxPooling1D(POOL_SIZE, name="pool_0")(h)
    for i, kind in enumerate(k.removeprefix(CONV_FRONT) for k in kinds):
        cls, options = KERAS_LAYERS[kind]
        layer = getattr(keras.layers, cls)(int(units), return_sequences=i < len(kinds) - 1, unroll=False,
                                           name=f"{kind}_{i}", **options)
        h = (keras.layers.Bidirectional(layer, name=f"{kind}_{i}_bidirectional") if kind in BIDIRECTIONAL else layer)(h)
    outputs = keras.layers.Dense(int(n_classes), activation="linear" if regression else "softmax", name="head")(h)
    label = ("_".join(kinds) if len(set(kinds)) > 1 else kinds[0]).replace("-", "_")
    return keras.Model(inputs, outputs, name=name or f"tinyrnn_{label}{units}x{len(kinds)}")


def count_params(model) -> int:
    """Total number of weights (trainable and not, e.g. normalization statistics)."""
    return int(sum(int(np.prod(w.shape)) for w in model.weights))
