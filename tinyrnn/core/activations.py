"""Dense head activations in float64, as Keras defines them (softmax over the last axis).

The int8 contract leaves a head's sigmoid/softmax to the caller (int8 logits); the
float twin, the referee and the metrics apply them with these."""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


FUNCTIONS = {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0.0), "relu6": lambda v: np.clip(v, 0.0, 6.0),
             "sigmoid": sigmoid, "tanh": np.tanh, "softmax": softmax}


def activate(activation: str, z) -> np.ndarray:
    return FUNCTIONS[activation](np.asarray(z, np.float64))
