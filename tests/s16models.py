"""Small 16x8 models for the tests, quantized by ``quantize_model(activations="int16")``
from random float twins (numpy only, no TensorFlow): an LSTM or SimpleRNN stack and a Dense head."""

from __future__ import annotations

import numpy as np

from tinyrnn.quantize.float_model import FloatDense, FloatLSTM, FloatModel, FloatSimpleRNN
from tinyrnn.quantize.pipeline import quantize_model


def float_stack(rng, features: int, hidden=(8,), dense=((4, "linear"),), sequences: bool = False,
                rnn: str | None = None) -> FloatModel:
    """LSTM layers of ``hidden`` units (SimpleRNN layers with activation ``rnn`` if given;
    all but the last return sequences, the last as ``sequences``), then Dense layers of
    (units, activation)."""
    layers, width = [], features
    for k, units in enumerate(hidden):
        seq = sequences or k < len(hidden) - 1
        if rnn:  # recurrent weights below 1/sqrt(units): a state that neither dies nor explodes
            layers.append(FloatSimpleRNN(f"rnn_{k}", rng.normal(scale=0.5, size=(width, units)),
                                         rng.normal(scale=0.8 / np.sqrt(units), size=(units, units)),
                                         rng.normal(scale=0.3, size=units), rnn, seq))
        else:
            layers.append(FloatLSTM(f"lstm_{k}", rng.normal(scale=0.5, size=(width, 4 * units)),
                                    rng.normal(scale=0.4, size=(units, 4 * units)), rng.normal(scale=0.3, size=4 * units),
                                    seq))  # fmt: skip
        width = units
    for k, (units, activation) in enumerate(dense):
        layers.append(FloatDense(f"dense_{k}", rng.normal(scale=0.6, size=(width, units)),
                                 rng.normal(scale=0.2, size=units), activation))
        width = units
    return FloatModel("m", (None, features), np.zeros(features), np.ones(features), layers)


def data(rng, n: int, steps: int, features: int) -> np.ndarray:
    return (rng.normal(size=(n, steps, features)) * np.linspace(0.5, 2.0, features)).astype(np.float32)


def model_pair(seed: int = 0, features: int = 3, rnn_weights: str = "int8", **kwargs):
    """(float twin, its 16x8 model (SimpleRNN weights ``rnn_weights``), its int8 model,
    evaluation windows) of one random stack."""
    rng = np.random.default_rng(seed)
    fm = float_stack(rng, features, **kwargs)
    x = data(rng, 120, 10, features)
    wide = quantize_model(fm, x[:80], activations="int16", rnn_weights=rnn_weights)
    return fm, wide, quantize_model(fm, x[:80]), x[80:]


def keras_setup(tmp_path, seed: int, shape: tuple, classes: int):
    """(keras, x) for a CLI test: Keras seeded, random windows ``shape`` (N, T, F) with
    labels in [0, classes) saved as tmp_path/d.npz."""
    from tinyrnn.tfsupport import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=rng.integers(0, classes, shape[0]))
    return keras, x
