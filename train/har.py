"""UCI HAR (Human Activity Recognition Using Smartphones) loaders, numpy only.

Two layouts:

* the original folder (``UCI HAR Dataset/``): ``train/Inertial Signals/
  body_acc_x_train.txt`` ... nine channels of (N, 128) rows,
  ``train/y_train.txt`` labels 1..6 (→ 0..5), ``train/subject_train.txt``
  subject ids (→ ``groups``); the same under ``test/``;
* the shared npz (``x`` (N,128,9), ``y`` 0..5, ``channels``), which has no
  subject ids. Its windows keep the original order (sorted by subject, then by
  recording session: static activities, then walking ones), so consecutive
  windows of one session overlap by 50 %. A random split would leak; the
  loader therefore groups windows by inferred subject
  (:func:`har_subject_groups`: each subject recorded the protocol twice, so
  two consecutive sessions make one subject; the shared file has 42 sessions,
  the 21 training subjects).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.train.data import HAR_CHANNELS, HAR_CLASSES, Dataset, load_npz, make_dataset

_STATIC = (3, 4, 5)  # sitting, standing, laying (0-based)


def har_session_groups(y: np.ndarray) -> np.ndarray:
    """Session ids for windows in original UCI HAR order.

    A session starts where a static activity (sitting/standing/laying) follows a
    walking one: each subject's recording is "static block, then walking block",
    so a session is one subject's recording (about 55 windows in the shared file).
    """
    y = np.asarray(y)
    static = np.isin(y, _STATIC)
    starts = np.zeros(len(y), bool)
    starts[1:] = static[1:] & ~static[:-1]
    return np.cumsum(starts).astype(np.int64)


def har_subject_groups(y: np.ndarray) -> np.ndarray:
    """Approximate subject ids: consecutive pairs of :func:`har_session_groups`.

    UCI HAR subjects each ran the protocol twice, one after the other in file
    order. With an odd number of sessions the pairing is unknowable and the
    session ids are returned unchanged.
    """
    sessions = har_session_groups(y)
    n_sessions = int(sessions[-1]) + 1 if len(sessions) else 0
    return sessions // 2 if n_sessions % 2 == 0 else sessions


def _resolve_root(path: Path) -> Path:
    for cand in (path, path / "UCI HAR Dataset"):
        if (cand / "train").is_dir() or (cand / "test").is_dir():
            return cand
    raise TinyrnnError(f"{path}: not a UCI HAR folder (no train/ or test/ inside)")


def _read_txt(path: Path, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise TinyrnnError(f"{path}: missing (UCI HAR layout expects this file)")
    try:
        arr = np.loadtxt(path, dtype=np.float64, ndmin=ndim)
    except ValueError as exc:
        raise TinyrnnError(f"{path}: not a whitespace-separated number table ({exc})") from None
    if arr.size == 0:
        raise TinyrnnError(f"{path}: empty")
    return arr


def _read_activity_names(root: Path) -> tuple[str, ...]:
    f = root / "activity_labels.txt"
    if not f.is_file():
        return HAR_CLASSES
    names = []
    for line in f.read_text().split("\n"):
        parts = line.split()
        if len(parts) >= 2:
            names.append(parts[1].lower())
    return tuple(names) if len(names) == len(HAR_CLASSES) else HAR_CLASSES


def _load_part(root: Path, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base = root / part
    chans = []
    for ch in HAR_CHANNELS:
        f = base / "Inertial Signals" / f"{ch}_{part}.txt"
        arr = _read_txt(f, 2)
        if chans and arr.shape != chans[0].shape:
            raise TinyrnnError(f"{f}: shape {arr.shape} differs from "
                               f"{HAR_CHANNELS[0]}_{part}.txt {chans[0].shape}")
        chans.append(arr)
    x = np.stack(chans, axis=-1).astype(np.float32)
    labels = _read_txt(base / f"y_{part}.txt", 1)
    subjects = _read_txt(base / f"subject_{part}.txt", 1)
    for f, arr in ((f"y_{part}.txt", labels), (f"subject_{part}.txt", subjects)):
        if arr.ndim != 1 or arr.shape[0] != x.shape[0]:
            raise TinyrnnError(f"{base / f}: {arr.shape[0] if arr.ndim else 0} rows but "
                               f"the signals have {x.shape[0]} windows")
    bad = (labels != np.round(labels)) | (labels < 1) | (labels > len(HAR_CLASSES))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise TinyrnnError(f"{base / f'y_{part}.txt'}: line {i + 1}: label {labels[i]:g} "
                           f"is not an activity 1..{len(HAR_CLASSES)}")
    return x, labels.astype(np.int64) - 1, subjects.astype(np.int64)


def _load_folder(path: Path, part: str) -> Dataset:
    root = _resolve_root(path)
    parts = ("train", "test") if part == "all" else (part,)
    xs, ys, gs = zip(*(_load_part(root, p) for p in parts))
    return make_dataset(str(root), np.concatenate(xs), np.concatenate(ys),
                        np.concatenate(gs), _read_activity_names(root),
                        name=f"uci_har-{part}", meta={"channels": list(HAR_CHANNELS)})


def adopt_shared_npz(ds: Dataset, path) -> Dataset:
    """Check an npz-loaded Dataset against the HAR layout; add sessions and names."""
    if ds.features != len(HAR_CHANNELS):
        raise TinyrnnError(f"{path}: UCI HAR windows have {len(HAR_CHANNELS)} channels, "
                           f"got {ds.features}")
    if ds.n_classes > len(HAR_CLASSES):
        raise TinyrnnError(f"{path}: label {int(ds.y.max())} out of range for the "
                           f"{len(HAR_CLASSES)} HAR activities (0..5)")
    if ds.groups is None:
        ds.groups = har_subject_groups(ds.y)
        ds.meta["groups_inferred"] = "har_session_pairs"
    if ds.classes is None:
        ds.classes = HAR_CLASSES
    ds.meta.setdefault("channels", list(HAR_CHANNELS))
    return ds


def load_uci_har(path, part: str = "train") -> Dataset:
    """Load UCI HAR from a folder (``part`` = train, test or all) or a shared-layout npz.

    ``groups`` are subject ids for the folder layout and, unless the npz has a
    ``groups`` key, inferred subjects (pairs of recording sessions) for the npz.
    """
    path = Path(path)
    if part not in ("train", "test", "all"):
        raise TinyrnnError(f"UCI HAR part must be train, test or all, got {part!r}")
    if path.is_file() and path.suffix == ".npz":
        return adopt_shared_npz(load_npz(path), path)
    if path.is_dir():
        return _load_folder(path, part)
    raise TinyrnnError(f"{path}: neither a UCI HAR folder nor an .npz file")
