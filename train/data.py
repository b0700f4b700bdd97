"""The dataset type and npz files: what every loader returns and every stage reads.

numpy only; TensorFlow is never imported here. Every loader returns a
:class:`Dataset` with ``x`` (N, T, F) float32, ``y`` (N,) int64 class ids
(or (N, T) per-step class ids, or float64 regression targets (N,) / (N, K)),
optional ``groups`` (N,) (e.g. subject ids: :func:`split` keeps a group on one
side) and optional ``classes`` (class names). Bad input raises
:class:`tinyrnn.core.errors.TinyrnnError` with a one-line message naming the file.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.fileio import require_regular_file

__all__ = [
    "Dataset", "load_npz", "save_npz", "split", "make_dataset",
    "HAR_CHANNELS", "HAR_CLASSES",
]

HAR_CHANNELS = (
    "body_acc_x", "body_acc_y", "body_acc_z",
    "body_gyro_x", "body_gyro_y", "body_gyro_z",
    "total_acc_x", "total_acc_y", "total_acc_z",
)
HAR_CLASSES = ("walking", "walking_upstairs", "walking_downstairs",
               "sitting", "standing", "laying")


@dataclass
class Dataset:
    """Windows ``x`` (N, T, F) float32 with labels ``y`` (N,) or (N, T) int64, or float64 targets."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray | None = None
    classes: tuple[str, ...] | None = None
    name: str = "dataset"
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def timesteps(self) -> int:
        return int(self.x.shape[1])

    @property
    def features(self) -> int:
        return int(self.x.shape[2])

    @property
    def is_regression(self) -> bool:
        return self.y.dtype.kind == "f"

    @property
    def n_classes(self) -> int:
        """0 for regression targets."""
        if self.is_regression:
            return 0
        top = int(self.y.max()) + 1 if len(self.y) else 0
        return max(top, len(self.classes or ()))

    def subset(self, index, name: str | None = None) -> "Dataset":
        """The windows at ``index`` (array of ints or bool mask), same metadata."""
        index = np.asarray(index)
        return Dataset(
            x=self.x[index], y=self.y[index],
            groups=None if self.groups is None else self.groups[index],
            classes=self.classes, name=name or self.name, meta=dict(self.meta))


# ----------------------------------------------------------------------------- npz

def _open_npz(path: Path) -> dict:
    require_regular_file(path, "data file")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):  # else numpy tries unpickling
        raise TinyrnnError(f"{path}: not an .npz file (no zip header)")
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files"):  # np.load reads a .npy file too, whatever its name
            raise TinyrnnError(f"{path}: a single .npy array, not an .npz archive: "
                               "save x and y together with np.savez(path, x=x, y=y)")
        with data:
            return {k: data[k] for k in data.files}
    except TinyrnnError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise TinyrnnError(f"{path}: holds Python objects (pickled); "
                               "store plain numeric/string arrays") from None
        raise TinyrnnError(f"{path}: unreadable npz ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise TinyrnnError(f"{path}: not a readable .npz file ({exc})") from None


def _check_x(where: str, x: np.ndarray) -> np.ndarray:
    if x.ndim != 3:
        raise TinyrnnError(f"{where}: x must be (N, T, F), got shape {x.shape}")
    if x.dtype.kind not in "iuf":
        raise TinyrnnError(f"{where}: x must be numeric, got dtype {x.dtype}")
    if 0 in x.shape:
        raise TinyrnnError(f"{where}: empty x (shape {x.shape})")
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    bad = ~np.isfinite(x32)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise TinyrnnError(f"{where}: x has {int(bad.sum())} NaN/Inf values "
                           f"(first in window {first})")
    return x32


def _check_targets(where: str, y: np.ndarray) -> np.ndarray:
    """Regression targets (N,) or (N, K): finite floats, kept as float64."""
    if y.ndim not in (1, 2):
        raise TinyrnnError(f"{where}: regression targets y must be (N,) or (N, K), got shape {y.shape}")
    y = y.astype(np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        raise TinyrnnError(f"{where}: y has {int(bad.sum())} NaN/Inf targets (first in window {int(np.argwhere(bad)[0][0])})")
    return y


def _check_y(where: str, y: np.ndarray, n_classes: int | None = None, steps: int | None = None,
             task: str | None = None) -> np.ndarray:
    """Class ids (N,), per-step class ids (N, T) or, for float values, regression targets.

    Float labels that are all whole numbers stay class ids (files written by pandas);
    ``task="regression"`` (an npz key) keeps whole-number targets as floats.
    """
    if y.size == 0:
        raise TinyrnnError(f"{where}: empty y")
    whole = y.dtype.kind in "iu" or (y.dtype.kind == "f" and bool(np.all(np.isfinite(y) & (y == np.round(y)))))
    if task == "regression" or (y.dtype.kind == "f" and not whole):
        return _check_targets(where, y)
    if task not in (None, "classification"):
        raise TinyrnnError(f"{where}: task must be 'classification' or 'regression', got {task!r}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape[1] != steps:
        raise TinyrnnError(f"{where}: y must be (N,) class ids or (N, {steps}) per-step ids, got shape {y.shape}"
                           " (one-hot? store argmax)")
    if y.ndim not in (1, 2):
        raise TinyrnnError(f"{where}: y must be (N,) class ids, got shape {y.shape}")
    if not whole:
        raise TinyrnnError(f"{where}: labels must be integer class ids (or float regression targets), got dtype {y.dtype}")
    y64 = y.astype(np.int64)
    if (y64 < 0).any():
        i = int(np.flatnonzero(y64.reshape(len(y64), -1).min(axis=1) < 0)[0])
        raise TinyrnnError(f"{where}: negative label y[{i}] = {y64[i].min()}")
    if n_classes is not None and (y64 >= n_classes).any():
        i = int(np.flatnonzero(y64.reshape(len(y64), -1).max(axis=1) >= n_classes)[0])
        raise TinyrnnError(f"{where}: label y[{i}] = {y64[i].max()} out of range for "
                           f"{n_classes} classes")
    return y64


def _check_groups(where: str, groups: np.ndarray, n: int) -> np.ndarray:
    if groups.ndim != 1 or groups.shape[0] != n:
        raise TinyrnnError(f"{where}: groups must be ({n},), got shape {groups.shape}")
    if groups.dtype.kind not in "iuUS":
        raise TinyrnnError(f"{where}: groups must be integers or strings, got {groups.dtype}")
    return groups


def _check_classes(where: str, classes: np.ndarray) -> tuple[str, ...]:
    if classes.ndim != 1 or classes.size == 0 or classes.dtype.kind not in "US":
        raise TinyrnnError(f"{where}: classes must be a non-empty 1-D array of names")
    return tuple(str(c) for c in classes)


def make_dataset(where: str, x, y, groups=None, classes=None, name: str = "dataset",
                 meta: dict | None = None, task: str | None = None) -> Dataset:
    """Validate arrays (as :func:`load_npz` does) and wrap them in a Dataset."""
    x = _check_x(where, np.asarray(x))
    cls = None if classes is None else _check_classes(where, np.asarray(classes))
    y = _check_y(where, np.asarray(y), None if cls is None else len(cls), x.shape[1], task)
    if x.shape[0] != y.shape[0]:
        raise TinyrnnError(f"{where}: x has {x.shape[0]} windows but y has {y.shape[0]} labels")
    g = None if groups is None else _check_groups(where, np.asarray(groups), len(y))
    return Dataset(x=x, y=y, groups=g, classes=cls, name=name, meta=dict(meta or {}))


def load_npz(path) -> Dataset:
    """Load ``x`` (N,T,F), ``y`` (N,) and optional ``groups``/``classes`` from an npz.

    Other keys (e.g. ``channels``) land in ``Dataset.meta``.
    """
    path = Path(path)
    arrays = _open_npz(path)
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        have = ", ".join(sorted(arrays)) or "nothing"
        raise TinyrnnError(f"{path}: missing key {' and '.join(map(repr, missing))} "
                           f"(has: {have})")
    meta = {k: v.tolist() for k, v in arrays.items()
            if k not in ("x", "y", "groups", "classes", "task") and v.size <= 256}
    task = str(arrays["task"]) if "task" in arrays else None
    return make_dataset(str(path), arrays["x"], arrays["y"], arrays.get("groups"),
                        arrays.get("classes"), name=path.stem, meta=meta, task=task)


def save_npz(dataset: Dataset, path) -> Path:
    """Write ``dataset`` as an npz :func:`load_npz` reads back (atomic rename)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise TinyrnnError(f"{path}: dataset files must end in .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"x": np.asarray(dataset.x, np.float32), "y": np.asarray(dataset.y)}
    if dataset.groups is not None:
        arrays["groups"] = np.asarray(dataset.groups)
    if dataset.classes is not None:
        arrays["classes"] = np.asarray(dataset.classes, dtype=str)
    if dataset.is_regression:  # whole-number targets would otherwise load back as class ids
        arrays["task"] = np.asarray("regression")
    if "channels" in dataset.meta:
        arrays["channels"] = np.asarray(dataset.meta["channels"], dtype=str)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ----------------------------------------------------------------------------- split

def _stratified_val_index(y: np.ndarray, val_fraction: float, rng) -> np.ndarray:
    picks = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        picks.append(idx[: int(round(val_fraction * len(idx)))])
    return np.sort(np.concatenate(picks))


def _group_val_index(groups: np.ndarray, val_fraction: float, rng) -> np.ndarray:
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(uniq) < 2:
        raise TinyrnnError("cannot split by group: the dataset has only one group")
    target = val_fraction * len(groups)
    chosen, total = [], 0
    for g in rng.permutation(len(uniq)):
        if total >= target or len(chosen) == len(uniq) - 1:
            break
        # take the group if it brings the validation size closer to the target
        if not chosen or abs(total + counts[g] - target) <= abs(total - target):
            chosen.append(g)
            total += counts[g]
    return np.flatnonzero(np.isin(inverse, chosen))


def split(dataset: Dataset, val_fraction: float = 0.2, seed: int = 0,
          by_group: bool = True) -> tuple[Dataset, Dataset]:
    """Split into (train, val), deterministically under ``seed``.

    With groups and ``by_group`` no group lands in both parts (validation gets
    about ``val_fraction`` of the windows, in whole groups); otherwise the split
    is stratified by label (random for regression targets and per-step labels).
    """
    if not 0.0 < val_fraction < 1.0:
        raise TinyrnnError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    if len(dataset) < 2:
        raise TinyrnnError(f"{dataset.name}: need at least 2 windows to split")
    rng = np.random.default_rng(seed)
    if by_group and dataset.groups is not None:
        val_idx = _group_val_index(dataset.groups, val_fraction, rng)
    elif dataset.y.ndim == 1 and not dataset.is_regression:
        val_idx = _stratified_val_index(dataset.y, val_fraction, rng)
    else:  # targets and per-step labels have no one class per window to stratify by
        val_idx = np.sort(rng.permutation(len(dataset))[: int(round(val_fraction * len(dataset)))])
    mask = np.zeros(len(dataset), bool)
    mask[val_idx] = True
    if mask.all() or not mask.any():
        raise TinyrnnError(f"{dataset.name}: split with fraction {val_fraction} "
                           "leaves one side empty")
    return dataset.subset(~mask, dataset.name + "-train"), dataset.subset(mask, dataset.name + "-val")
