"""`tinyrnn bench --cmsis-nn PATH` builds CMSIS-NN's LSTM, runs it and checks it equals the golden model.

Runs only where a CMSIS-NN checkout is named by ``CMSIS_NN_PATH`` (it is never vendored
into this repo); results/bench.md says which commit the committed figures used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHECKOUT = os.environ.get("CMSIS_NN_PATH")
pytestmark = [pytest.mark.qemu, pytest.mark.skipif(not CHECKOUT, reason="set CMSIS_NN_PATH to a CMSIS-NN checkout")]


def test_cmsis_nn_lstm_equals_golden_on_the_m4(tmp_path):
    run = subprocess.run([sys.executable, "-m", "tinyrnn", "bench", "--cmsis-nn", CHECKOUT, "--boards", "mps2-an386",
                          "--models", "lstm_i9_h32", "--steps", "8", "--weights", "int8", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    [row] = json.loads((tmp_path / "bench.json").read_text())["cmsis_nn"]["rows"]
    assert (row["board"], row["model"], row["outputs_compared"], row["mismatches_vs_golden"]) == \
        ("mps2-an386", "lstm_i9_h32", 8 * 32, 0)
    assert row["instructions_per_step"] > 5248 // 2  # above the dual-MAC floor: it really ran the LSTM
    line = next(x for x in (tmp_path / "bench.md").read_text().splitlines() if x.startswith("| mps2-an386 | lstm_i9"))
    assert line.endswith("| yes (256 bytes) |"), line
