"""QEMU killed in the middle of a run: the result says exactly which sequences were
verified, every one of them really equal to the golden model, and the run is not
reported as verified (CLI: exit 1, JSON "sequences" and "error")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import irgen
import numpy as np
import pytest
from test_cli import TINYRNN

from tinyrnn.core import tnr
from tinyrnn.core.golden.model import run_model

pytestmark = pytest.mark.qemu
BOARD = "mps2-an386"
KILL_AFTER = 25


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Artifact, data and the firmware already built in verify's --build-dir layout."""
    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project

    work = tmp_path_factory.mktemp("kill")
    rng = np.random.default_rng(12)
    model = irgen.build_model(rng, 5, [12, 8], [4], kinds=["gru", "lstm"])
    tnr.save(model, work / "m.tnr")
    np.savez(work / "d.npz", x=rng.normal(scale=50.0, size=(500, 16, 5)).astype(np.float32), y=rng.integers(0, 4, 500))
    elf = build(render_project(model, BOARD, work / "build" / f"fw-{BOARD}")["project_dir"])["elf"]
    return model, work, elf


class _Counting:
    """A Device stand-in that counts completed runs (what the killer thread watches)."""

    def __init__(self, device):
        self.device, self.done = device, 0

    def run(self, x, valid=None):
        out = self.device.run(x, valid)
        self.done += 1
        return out

    def __getattr__(self, name):  # info(), link: verify_device checks the layout first
        return getattr(self.device, name)


def test_killed_qemu_reports_exactly_the_verified_sequences(setup):
    from tinyrnn.harness.dut import Device
    from tinyrnn.harness.qemu import Qemu
    from tinyrnn.harness.verify import verify_device

    model, _, elf = setup
    x = irgen.random_input(np.random.default_rng(3), model, 400, 16)
    with Qemu(BOARD, elf) as qemu, Device.open(qemu.url, expected_hash=model.content_hash()) as device:
        counting = _Counting(device)

        def killer():
            while counting.done < KILL_AFTER:
                time.sleep(0.001)
            qemu.proc.kill()  # this QEMU only, by its process handle

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        res = verify_device(counting, model, x, progress=False)
        thread.join(10)
    assert KILL_AFTER <= res.sequences < len(x), res.sequences
    assert res.error is not None and res.error.startswith(f"sequence {res.sequences}:"), res.error
    assert len(res.outputs) == len(res.ticks) == res.sequences
    if hasattr(res, "indices"):  # which sequences, not only how many
        assert list(res.indices) == list(range(res.sequences))
    golden = run_model(model, x[: res.sequences])
    assert np.array_equal(np.stack(res.outputs), golden) and res.mismatches == 0


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(c) for c in (task / "children").read_text().split()]
    return kids


def test_cli_verify_with_qemu_killed_midway(setup):
    model, work, _ = setup
    args = ["verify", "--model", work / "m.tnr", "--target", f"qemu:{BOARD}", "--data", work / "d.npz",
            "--n", 500, "--build-dir", work / "build", "--json"]  # fmt: skip
    proc = subprocess.Popen([*TINYRNN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline().startswith("verify: 0/500 started")  # printed at once, even into a pipe
    first_progress = proc.stderr.readline()  # "verify: 50/500 ..." once a tenth is done
    assert first_progress.startswith("verify: ") and not first_progress.startswith("verify: 0/"), first_progress
    qemu = [pid for pid in _children(proc.pid) if b"qemu-system-arm" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(qemu) == 1, qemu
    os.kill(qemu[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    result = json.loads(out)
    done = int(first_progress.split()[1].split("/")[0])
    assert result["verified"] is False and done <= result["sequences"] < 500
    assert result["error"].startswith(f"sequence {result['sequences']}:"), result["error"]
    assert result["mismatches"] == 0 and result["requested"] == 500


def _as_from_a_terminal() -> None:
    """SIGINT back to its default in the child: a suite started as a background job of a
    non-interactive shell ignores it, and an ignored SIGINT is inherited (Python then
    installs no KeyboardInterrupt handler), unlike for the user at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_mid_run_exits_130_and_leaves_no_qemu(setup):
    model, work, _ = setup
    args = ["verify", "--model", work / "m.tnr", "--target", f"qemu:{BOARD}", "--data", work / "d.npz",
            "--n", 500, "--build-dir", work / "build"]  # fmt: skip
    proc = subprocess.Popen([*TINYRNN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_terminal)  # fmt: skip
    assert proc.stderr.readline().startswith("verify: ")
    qemu = [pid for pid in _children(proc.pid) if b"qemu-system-arm" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(qemu) == 1, qemu
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "tinyrnn: interrupted" in err and "Traceback" not in err, err
    assert out == ""
    deadline = time.monotonic() + 10
    while Path(f"/proc/{qemu[0]}").exists() and time.monotonic() < deadline:  # reaped by the CLI on exit
        time.sleep(0.05)
    assert not Path(f"/proc/{qemu[0]}").exists(), "QEMU outlived the interrupted CLI"
