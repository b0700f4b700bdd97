"""Datasets for training and calibration: ``synthetic:NAME``, npz files, UCI HAR folders.

The one dispatcher over the loaders (:mod:`tinyrnn.train.data`, :mod:`~tinyrnn.train.har`,
:mod:`~tinyrnn.train.synthetic`); numpy only, TensorFlow is never imported here.
"""

from __future__ import annotations

from pathlib import Path

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.train.data import HAR_CHANNELS, Dataset, load_npz
from tinyrnn.train.har import adopt_shared_npz, load_uci_har
from tinyrnn.train.synthetic import GENERATORS, generate


def load_dataset(spec, n: int | None = None, seed: int = 0, part: str = "train") -> Dataset:
    """Resolve ``synthetic:NAME``, an ``.npz`` path or a UCI HAR directory.

    ``n`` and ``seed`` apply to synthetic data; ``part`` (train/test/all) to a
    UCI HAR folder. An npz in the shared HAR layout (``channels`` = the nine
    HAR signals, no ``groups``) gets recording-session groups (see
    :func:`tinyrnn.train.har.load_uci_har`).
    """
    if isinstance(spec, Dataset):
        return spec
    spec = str(spec)
    if spec.startswith("synthetic:"):
        return generate(spec.split(":", 1)[1], n=2000 if n is None else n, seed=seed)
    path = Path(spec)
    if path.is_dir():
        return load_uci_har(path, part=part)
    if path.suffix == ".npz":
        ds = load_npz(path)
        if ds.groups is None and tuple(ds.meta.get("channels", ())) == HAR_CHANNELS:
            return adopt_shared_npz(ds, path)
        return ds
    if not path.exists():
        names = ", ".join(f"synthetic:{k}" for k in GENERATORS)
        raise TinyrnnError(f"{spec}: no such file or directory "
                           f"(expected an .npz file, a UCI HAR folder or one of {names})")
    raise TinyrnnError(f"{spec}: unsupported dataset (expected an .npz file or a UCI HAR folder)")
