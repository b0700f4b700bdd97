"""Shared fixtures: the ../shared folder beside the repository (data and vectors).

``TINYRNN_SHARED`` points elsewhere (e.g. from a git worktree). When ``CI`` is set, a
missing file is a failure, not a skip: the TFLM vector tests must not vanish from a green run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINYRNN_SHARED") or REPO.parent / "shared")


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test (fail under CI) saying exactly what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        why = f"{path} not present (../shared beside the repository, or TINYRNN_SHARED, holds data and vectors)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set: {why}", pytrace=False)
        pytest.skip(why)
    return path


@pytest.fixture
def har_npz() -> Path:
    return shared_path("data", "har_train.npz")


@pytest.fixture
def vector_files() -> list[Path]:
    files = sorted(shared_path("vectors", "tflm_lstm_s8").glob("*.json"))
    if not files:
        pytest.fail(f"{SHARED / 'vectors' / 'tflm_lstm_s8'} holds no .json vector files", pytrace=False)
    return files
