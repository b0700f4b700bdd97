"""`tinyrnn verify --jobs N`: several QEMU instances in a process pool, results merged in
sequence order; a dead worker is reported with exactly the sequences verified. Plus:
the CLI refuses a device that runs a different artifact than --model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import irgen
import numpy as np
import pytest

from tinyrnn.core import tnr
from tinyrnn.core.golden.model import run_model
from tinyrnn.harness.parallel import QemuJob, block_size, verify_parallel
from tinyrnn.harness.verify import index_ranges

needs_tools = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                 reason="needs arm-none-eabi-gcc and qemu-system-arm")
BOARD = "mps2-an386"


def test_index_ranges_and_blocks():
    assert index_ranges([]) == "none" and index_ranges([3]) == "3"
    assert index_ranges([5, 0, 1, 2, 7, 8]) == "0-2, 5, 7-8"
    assert block_size(1000, 2) == 25 and block_size(40, 2) == 5 and block_size(3, 4) == 1


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Artifact + data (identity input quantizer: x_q = round(x)) + one shared firmware build."""
    work = tmp_path_factory.mktemp("par")
    rng = np.random.default_rng(9)
    model = irgen.build_model(rng, 4, [8], [3])
    tnr.save(model, work / "m.tnr")
    np.savez(work / "d.npz", x=rng.integers(-128, 128, (60, 30, 4)).astype(np.float32), y=rng.integers(0, 3, 60))
    return work, model


@pytest.fixture(scope="module")
def elf(small):
    """Built where `verify --build-dir WORK/build` builds, so the CLI runs find it up to date."""
    from tinyrnn.app.targets import build_firmware

    work, model = small
    return build_firmware(model, BOARD, work / "build" / f"fw-{BOARD}")["elf"]


def cli_json(*args, expect=0):
    proc = subprocess.run([sys.executable, "-m", "tinyrnn", *map(str, args), "--json"], capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == expect, proc.stderr
    return json.loads(proc.stdout) if expect == 0 else proc


@pytest.mark.qemu
@needs_tools
def test_jobs_give_the_same_answer_as_one_device(small, elf):
    work, model = small
    common = ("verify", "--model", work / "m.tnr", "--target", f"qemu:{BOARD}", "--data", work / "d.npz",
              "--n", 60, "--build-dir", work / "build")
    one = cli_json(*common)
    two = cli_json(*common, "--jobs", 2)
    assert two["verified"] and two["sequences"] == 60 and two["mismatches"] == 0 and two["jobs"] == 2
    assert one["jobs"] == 1 and set(one) == set(two)  # same JSON keys, "jobs" included
    for key in ("ticks_per_inference", "instructions_per_inference", "device_accuracy", "flash_bytes", "model_hash"):
        assert one[key] == two[key], key
    assert two["sequences_per_second"] > 0
    user_error = cli_json("verify", "--model", work / "m.tnr", "--target", "socket://127.0.0.1:9", "--data",
                          work / "d.npz", "--jobs", 2, expect=2)
    assert "--jobs 2 needs a qemu:BOARD or labgrid:PLACES target" in user_error.stderr


def _our_qemus(elf: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and elf in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.qemu
@needs_tools
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds QEMU processes through /proc")
def test_dead_worker_reports_exactly_what_was_verified(small, elf):
    work, model = small
    x = np.random.default_rng(1).integers(-128, 128, (80, 120, 4)).astype(np.int8)
    job = QemuJob(BOARD, elf, model.content_hash(), lifetime_s=60, timeout_s=2.0)
    box = {}
    th = threading.Thread(target=lambda: box.setdefault("r", verify_parallel(model, x, job, 2, progress=False)))
    th.start()
    deadline = time.monotonic() + 30
    while len(_our_qemus(elf)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let a few blocks finish first
    os.kill(_our_qemus(elf)[0], signal.SIGKILL)  # a worker's device dies mid-block
    th.join(60)
    assert not th.is_alive(), "verify_parallel hung after a worker's QEMU died"
    r = box["r"]
    assert r.error and "not verified" in r.error and r.mismatches == 0, r.error
    assert 0 < r.sequences < len(x) and r.indices == sorted(r.indices)
    missing = sorted(set(range(len(x))) - set(r.indices))
    assert f"verified: {index_ranges(r.indices)}; not verified: {index_ranges(missing)}" in r.error
    want = run_model(model, x)
    for i, got in zip(r.indices, r.outputs):
        np.testing.assert_array_equal(got, want[i])
    assert not _our_qemus(elf), "worker QEMUs outlived the pool"


@pytest.mark.qemu
@needs_tools
def test_device_running_another_artifact_is_refused(small, tmp_path):
    """Firmware built from artifact A on the line, `verify --model B`: exit 2, both hashes named."""
    from tinyrnn.app.targets import build_firmware
    from tinyrnn.harness.qemu import Qemu

    work, model = small
    other = irgen.build_model(np.random.default_rng(10), 4, [8], [3])
    elf = build_firmware(other, BOARD, tmp_path / "fw-other")["elf"]
    with Qemu(BOARD, elf, timeout_s=60) as q:
        proc = cli_json("verify", "--model", work / "m.tnr", "--target", q.url, "--data", work / "d.npz", "--n", 5,
                        expect=2)
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in proc.stderr and proc.stdout == ""
    assert f"runs the model with hash {other.content_hash()}" in err[0]
    assert f"the expected artifact has hash {model.content_hash()}" in err[0]
    assert "flash firmware built from that artifact" in err[0]
