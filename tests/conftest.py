"""Shared fixtures: the ../shared folder beside the repository (data and vectors)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test saying exactly what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared beside the repository holds data and vectors; CI has it)")
    return path


@pytest.fixture
def har_npz() -> Path:
    return shared_path("data", "har_train.npz")


@pytest.fixture
def vector_files() -> list[Path]:
    return sorted(shared_path("vectors", "tflm_lstm_s8").glob("*.json"))
