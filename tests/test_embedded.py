"""pytest-embedded: the example in examples/pytest_embedded runs against a QEMU board through
pytest-embedded's own serial service, and Link.from_serial works on any open port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import irgen
import numpy as np
import pytest
import serial

from tinyrnn.core import tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.harness.link import Link

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pytest_embedded" / "test_dut_bit_exact.py"


def test_from_serial_refuses_what_is_not_an_open_port():
    with pytest.raises(TinyrnnError, match="not a serial port"):
        Link.from_serial(object())
    port = serial.serial_for_url("loop://", do_not_open=True)
    with pytest.raises(TinyrnnError, match="closed: open it first"):
        Link.from_serial(port)


def test_from_serial_leaves_the_port_open_on_close():
    port = serial.serial_for_url("loop://", timeout=1)
    Link.from_serial(port, timeout_s=0.5).close()
    assert port.is_open and port.timeout == 0.05  # the Link's poll slice
    port.close()


@pytest.mark.qemu
def test_pytest_embedded_example_passes_on_qemu(tmp_path):
    pytest.importorskip("pytest_embedded_serial")
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project
    from tinyrnn.harness.qemu import Qemu

    model = irgen.build_model(np.random.default_rng(21), 3, [6], [2])
    tnr.save(model, tmp_path / "m.tnr")
    elf = build(render_project(model, "mps2-an386", tmp_path / "fw")["project_dir"])["elf"]
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not this repository's settings (they block the plugin)
    with Qemu("mps2-an386", elf) as qemu:
        # -p no:labgrid: labgrid's `target` fixture would shadow pytest-embedded's (examples/README.md).
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-c", str(tmp_path / "pytest.ini"), "-p",
                               "no:cacheprovider", "-p", "no:labgrid", "-p", "tinyrnn.harness.pytest_plugin",
                               "--embedded-services", "serial", "--port", qemu.url,
                               "--tinyrnn-model", str(tmp_path / "m.tnr"), "--rootdir", str(tmp_path), str(EXAMPLE)],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
                              env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
