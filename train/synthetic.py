"""Synthetic sequence-classification tasks that need memory (numpy only).

Neither task can be solved from the last time step alone: the label-bearing
part of the sequence lies in the past and the last step is label-independent
noise. Both are deterministic under ``seed`` (``numpy.random.default_rng``).
Use them as ``synthetic:NAME`` specs (see :func:`tinyrnn.train.load_dataset`).
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.train.data import Dataset

__all__ = ["delayed_recall", "multitone", "generate", "GENERATORS"]


def _balanced_labels(rng, n: int, n_classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % n_classes).astype(np.int64)


def _check_common(name: str, n: int, timesteps: int, min_t: int) -> None:
    if n < 1:
        raise TinyrnnError(f"synthetic:{name}: n must be >= 1, got {n}")
    if timesteps < min_t:
        raise TinyrnnError(f"synthetic:{name}: T must be >= {min_t}, got {timesteps}")


def delayed_recall(n: int = 2000, timesteps: int = 24, n_classes: int = 4,
                   seed: int = 0, noise: float = 0.2, distractor_rate: float = 0.2,
                   cue_steps: int = 3) -> Dataset:
    """Remember a cue shown early, among look-alike distractors.

    F = ``n_classes`` + 1 channels. Channel 0 is a marker; channels 1..C carry
    one-hot class patterns. For ``cue_steps`` steps starting in the first quarter
    of the sequence the marker is 1 and the pattern is the label's one-hot (the
    cue). At other steps (each with probability ``distractor_rate``) a random
    class pattern appears *without* the marker. All channels get Gaussian noise.
    Label = cue class; the last step holds only noise and label-independent
    distractors, and at least T/4 steps separate the cue from the end.
    """
    _check_common("delayed_recall", n, timesteps, 8)
    if n_classes < 2:
        raise TinyrnnError(f"synthetic:delayed_recall: need >= 2 classes, got {n_classes}")
    if not 1 <= cue_steps <= timesteps // 2:
        raise TinyrnnError(f"synthetic:delayed_recall: cue_steps must be 1..T/2, got {cue_steps}")
    rng = np.random.default_rng(seed)
    feats = n_classes + 1
    y = _balanced_labels(rng, n, n_classes)
    x = rng.normal(0.0, noise, size=(n, timesteps, feats))
    rows = np.arange(n)
    # distractors: class patterns without the marker, anywhere
    dmask = rng.random((n, timesteps)) < distractor_rate
    dcls = rng.integers(0, n_classes, size=(n, timesteps))
    r, t = np.nonzero(dmask)
    x[r, t, 1 + dcls[r, t]] += 1.0
    # the cue: marker + label pattern for cue_steps steps starting in [1, T/4)
    t_cue = rng.integers(1, max(2, timesteps // 4), size=n)
    for k in range(cue_steps):
        t = t_cue + k
        x[rows, t, 1:] = rng.normal(0.0, noise, size=(n, n_classes))
        x[rows, t, 0] += 1.0
        x[rows, t, 1 + y] += 1.0
    return Dataset(x=x.astype(np.float32), y=y, classes=tuple(f"cue{i}" for i in range(n_classes)),
                   name="delayed_recall",
                   meta={"generator": "delayed_recall", "seed": seed,
                         "channels": ["marker"] + [f"pattern{i}" for i in range(n_classes)]})


def multitone(n: int = 2000, timesteps: int = 48, features: int = 3, seed: int = 0,
              segments: int = 2, noise: float = 0.2, periods=(16.0, 4.0)) -> Dataset:
    """Tell which sequence of tones was played (label = tone order pattern).

    The sequence is cut into ``segments`` parts (boundaries jittered by up to
    T/8); each part is a sine of either the slow or the fast ``periods`` (in
    steps) with random phase and amplitude 0.7..1.3. The signal reaches the
    ``features`` channels through a random unit direction per sequence, plus
    Gaussian noise. Label = binary pattern of tones (slow=0, fast=1, first
    segment most significant): 2**segments classes. One sample of a sine with a
    random phase says nothing about its frequency, so the last step alone is at
    chance, and the early segments are only visible in the past.
    """
    _check_common("multitone", n, timesteps, 4 * segments)
    if not 1 <= segments <= 4:
        raise TinyrnnError(f"synthetic:multitone: segments must be 1..4, got {segments}")
    rng = np.random.default_rng(seed)
    n_classes = 2 ** segments
    y = _balanced_labels(rng, n, n_classes)
    bits = (y[:, None] >> np.arange(segments - 1, -1, -1)[None, :]) & 1   # (n, segments)
    seg_len = timesteps / segments
    jitter = rng.integers(-int(seg_len // 4), int(seg_len // 4) + 1, size=(n, segments - 1))
    bounds = np.round(np.arange(1, segments) * seg_len).astype(int)[None, :] + jitter
    t = np.arange(timesteps)
    seg = (t[None, :, None] >= bounds[:, None, :]).sum(-1)                # (n, T) segment index
    period = np.asarray(periods, float)[np.take_along_axis(bits, seg, axis=1)]
    phase = rng.uniform(0, 2 * np.pi, size=(n, segments))
    amp = rng.uniform(0.7, 1.3, size=(n, segments))
    sig = (np.take_along_axis(amp, seg, 1)
           * np.sin(2 * np.pi * t[None, :] / period + np.take_along_axis(phase, seg, 1)))
    direction = rng.normal(size=(n, features))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    x = sig[:, :, None] * direction[:, None, :] + rng.normal(0.0, noise, (n, timesteps, features))
    names = tuple("".join("sf"[b] for b in row) for row in
                  ((c >> np.arange(segments - 1, -1, -1)) & 1 for c in range(n_classes)))
    return Dataset(x=x.astype(np.float32), y=y, classes=names, name="multitone",
                   meta={"generator": "multitone", "seed": seed})


GENERATORS = {"delayed_recall": delayed_recall, "multitone": multitone}


def generate(name: str, n: int = 2000, seed: int = 0, **kwargs) -> Dataset:
    """Run the generator ``name`` (a key of :data:`GENERATORS`)."""
    if name not in GENERATORS:
        raise TinyrnnError(f"synthetic:{name}: unknown generator "
                           f"(known: {', '.join(GENERATORS)})")
    return GENERATORS[name](n=n, seed=seed, **kwargs)
