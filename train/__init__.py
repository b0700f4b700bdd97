"""tinyrnn.train: datasets (numpy only) and Keras model building/training.

Importing this package does not import TensorFlow; :func:`build_model` and
:func:`train` import it when called. Float training only: QAT fine-tuning and the
TFLite export belong to :mod:`tinyrnn.quantize`.
"""

from tinyrnn.train.data import HAR_CHANNELS, HAR_CLASSES, Dataset, load_npz, make_dataset, save_npz, split
from tinyrnn.train.datasets import load_dataset
from tinyrnn.train.har import load_uci_har
from tinyrnn.train.model import build_model, resolve_archs
from tinyrnn.train.synthetic import GENERATORS, delayed_recall, generate, multitone
from tinyrnn.train.trainer import train, train_model

__all__ = [
    "Dataset", "load_npz", "save_npz", "make_dataset", "split", "load_dataset",
    "load_uci_har", "HAR_CHANNELS", "HAR_CLASSES",
    "GENERATORS", "generate", "delayed_recall", "multitone",
    "build_model", "resolve_archs", "train", "train_model",
]
