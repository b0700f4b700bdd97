"""Under CI a missing ../shared fails the tests that need it instead of skipping them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TEST = "tests/test_golden.py::test_every_tflm_vector_case_bit_exact"


def _run(tmp_path, ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TINYRNN_SHARED"] = str(tmp_path / "no-shared-here")
    if ci:
        env["CI"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", TEST],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_missing_shared_fails_under_ci_and_skips_otherwise(tmp_path):
    ci = _run(tmp_path, ci=True)
    assert ci.returncode == 1 and "CI is set" in ci.stdout and "1 error" in ci.stdout, ci.stdout[-2000:]
    local = _run(tmp_path, ci=False)
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout[-2000:]
