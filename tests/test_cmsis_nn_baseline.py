"""The CMSIS-NN baseline (benchmarks/cmsis_nn.py) builds, runs and equals the golden model.

Runs only where a CMSIS-NN checkout is named by ``CMSIS_NN_PATH`` (it is never vendored
into this repo); results/cmsis_nn.md says which commit the committed figures used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

CHECKOUT = os.environ.get("CMSIS_NN_PATH")
pytestmark = [pytest.mark.qemu, pytest.mark.skipif(not CHECKOUT, reason="set CMSIS_NN_PATH to a CMSIS-NN checkout")]


def test_cmsis_nn_lstm_equals_golden_on_the_m4(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "cmsis_nn.py"), "--cmsis-nn", CHECKOUT,
                          "--boards", "mps2-an386", "--models", "lstm_i9_h32", "--steps", "8", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    row = (tmp_path / "cmsis_nn.md").read_text().splitlines()[-1]
    assert row.startswith("| mps2-an386 | lstm_i9_h32 |") and row.endswith("| yes (256 bytes) |"), row
    assert (Path(CHECKOUT) / "Include" / "arm_nnfunctions.h").is_file()
