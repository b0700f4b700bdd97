"""tinyrnn.train: datasets (numpy only) and Keras model building/training.

Importing this package does not import TensorFlow; :func:`build_model` and
:func:`train` import it when called. ``train.qat`` / ``train.qat_finetune``:
quantization-aware fine-tuning (``tinyrnn train --qat``); ``train.export``: int8
``.tflite`` through the TFLite converter (``--export-tflite``).
"""

from .datasets import (HAR_CHANNELS, HAR_CLASSES, Dataset, load_dataset, load_npz,
                       load_uci_har, make_dataset, save_npz, split)
from .model import build_model, resolve_archs
from .synthetic import GENERATORS, delayed_recall, generate, multitone
from .trainer import train, train_model

__all__ = [
    "Dataset", "load_npz", "save_npz", "make_dataset", "split", "load_dataset",
    "load_uci_har", "HAR_CHANNELS", "HAR_CLASSES",
    "GENERATORS", "generate", "delayed_recall", "multitone",
    "build_model", "resolve_archs", "train", "train_model",
]
