"""tinyrnn.train: datasets (numpy only) and Keras model building/training.

Importing this package does not import TensorFlow; :func:`build_model` and
:func:`train` import it when called.
"""

from .datasets import (HAR_CHANNELS, HAR_CLASSES, Dataset, load_dataset, load_npz,
                       load_uci_har, make_dataset, save_npz, split)
from .model import build_model
from .synthetic import GENERATORS, delayed_recall, generate, multitone
from .trainer import train, train_model

__all__ = [
    "Dataset", "load_npz", "save_npz", "make_dataset", "split", "load_dataset",
    "load_uci_har", "HAR_CHANNELS", "HAR_CLASSES",
    "GENERATORS", "generate", "delayed_recall", "multitone",
    "build_model", "train", "train_model",
]
