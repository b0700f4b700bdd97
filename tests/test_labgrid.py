"""labgrid: a coordinator and an exporter on loopback publish two QEMU boards' serial ports as
NetworkSerialPort resources; `tinyrnn verify --target labgrid:...` acquires the places through
the coordinator, verifies bit-exact over both, and releases them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import irgen
import numpy as np
import pytest
from labfarm import Farm, free_port, tool
from test_cli import run_cli

from tinyrnn.core import tnr
from tinyrnn.harness.labgrid import select_places, serial_url

BOARD = "mps2-an386"
# per run; TINYRNN_LABGRID_SEQUENCES=200 measures the README's figure
N = int(os.environ.get("TINYRNN_LABGRID_SEQUENCES", "40"))

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.skipif(tool("labgrid-coordinator") is None, reason="labgrid not installed")]


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project

    work = tmp_path_factory.mktemp("labgrid")
    rng = np.random.default_rng(11)
    model = irgen.build_model(rng, 4, [8, 6], [3], kinds=["lstm", "gru"])
    tnr.save(model, work / "m.tnr")
    x = rng.normal(scale=40.0, size=(N, 12, 4)).astype(np.float32)
    np.savez(work / "d.npz", x=x, y=rng.integers(0, 3, N))
    elf = build(render_project(model, BOARD, work / "fw")["project_dir"])["elf"]
    with Farm(work, BOARD, elf, count=2) as lab:
        yield lab, work


def _verify(lab, work, *extra, n=5):
    proc = run_cli("verify", "--model", work / "m.tnr", "--data", work / "d.npz", "--n", n,
                   "--coordinator", lab.address, "--json", *extra, timeout=300)  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_verify_over_two_places_of_the_farm(farm):
    lab, work = farm
    proc = _verify(lab, work, "--target", "labgrid:tinyrnn-lab-*", "--jobs", 2, n=N)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["verified"] is True and r["sequences"] == N and r["mismatches"] == 0
    assert r["jobs"] == 2 and sorted(r["places"]) == lab.places and r["board"] == BOARD
    held = lab.client("places", "--acquired")
    assert not any(p in held for p in lab.places), held  # released again


def test_a_place_held_by_another_user_is_skipped(farm):
    lab, work = farm
    # someone else (another user name) holds the first board
    subprocess.run([tool("labgrid-client"), "-x", lab.address, "-p", lab.places[0], "acquire"], check=True,
                   capture_output=True, env={**os.environ, "LG_USERNAME": "colleague"}, timeout=60)  # fmt: skip
    try:
        proc = _verify(lab, work, "--target", "labgrid:tinyrnn-lab-*")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["places"] == [lab.places[1]]
        proc = _verify(lab, work, "--target", f"labgrid:{lab.places[0]}")
        assert proc.returncode == 2 and "acquired by someone else" in proc.stderr, proc.stderr
    finally:
        lab.client("-p", lab.places[0], "release", "--kick")


def test_a_place_this_user_already_holds_is_used_and_kept(farm):
    """As in a labgrid pytest session: `labgrid-client acquire` first, then the tests."""
    lab, work = farm
    lab.client("-p", lab.places[1], "acquire")
    try:
        proc = _verify(lab, work, "--target", f"labgrid:{lab.places[1]}")
        assert proc.returncode == 0 and json.loads(proc.stdout)["verified"], proc.stderr
        assert lab.places[1] in lab.client("places", "--acquired")  # still ours
    finally:
        lab.client("-p", lab.places[1], "release")


def test_unknown_place_and_missing_coordinator_are_one_line_errors(farm):
    lab, work = farm
    proc = _verify(lab, work, "--target", "labgrid:nosuchplace")
    assert proc.returncode == 2 and "no place matches 'nosuchplace'" in proc.stderr and lab.places[0] in proc.stderr
    proc = run_cli("verify", "--model", work / "m.tnr", "--data", work / "d.npz", "--target", "labgrid:x",
                   "--coordinator", f"127.0.0.1:{free_port()}", timeout=120)  # nothing listens there
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "labgrid coordinator 127.0.0.1:" in proc.stderr and "cannot connect" in proc.stderr


def test_serial_urls_and_place_patterns():
    assert serial_url("NetworkSerialPort", {"host": "h", "port": 5000, "protocol": "raw"}, "p") == "socket://h:5000"
    assert serial_url("NetworkSerialPort", {"host": "h", "port": 5000}, "p") == "rfc2217://h:5000"
    assert select_places(["a-1", "a-2", "b"], "b,a-*") == ["b", "a-1", "a-2"]


def test_plugin_inside_a_labgrid_pytest_session(farm):
    """The HIL example under labgrid's own pytest plugin (--lg-env with the place as a RemotePlace,
    acquired first as labgrid sessions expect), its device reached with --tinyrnn-target labgrid:PLACE."""
    lab, work = farm
    place = lab.places[0]
    (work / "env.yaml").write_text(f"targets:\n  main:\n    resources:\n      RemotePlace:\n        name: {place}\n")
    (work / "pytest.ini").write_text("[pytest]\n")
    example = Path(__file__).resolve().parents[1] / "examples" / "hil" / "test_model_on_device.py"
    lab.client("-p", place, "acquire")
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-c", str(work / "pytest.ini"), "-p",
                               "no:cacheprovider", "-p", "no:pytest_embedded", "-p", "tinyrnn.harness.pytest_plugin",
                               "--lg-env", str(work / "env.yaml"), "--lg-coordinator", lab.address,
                               "--tinyrnn-target", f"labgrid:{place}", "--tinyrnn-model", str(work / "m.tnr"),
                               str(example)], capture_output=True, text=True, timeout=300, cwd=work, check=False,
                              env={**os.environ, "LG_COORDINATOR": lab.address})  # fmt: skip
    finally:
        lab.client("-p", place, "release")
    assert proc.returncode == 0 and "8 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
