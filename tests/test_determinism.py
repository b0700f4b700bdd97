"""Determinism: one artifact → the same bytes of C everywhere, and the same outputs from
every build of them (-O0/-O2/-Os, gcc/clang on the host, -O0/-Os firmware on QEMU), all
equal to the golden model."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import irgen
import numpy as np
import pytest
from test_cli import TINYRNN

from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.codegen.library import write_library
from tinyrnn.core import tnr
from tinyrnn.core.golden.model import run_model

BOARD = "mps2-an386"


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(77)
    return irgen.build_model(rng, 6, [10, 7, 5], [4], kinds=["lstm", "gru", "gru_before"], extreme=0.3)


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_codegen_is_byte_identical_across_processes_cwds_and_hash_seeds(model, tmp_path):
    artifact = tmp_path / "m.tnr"
    tnr.save(model, artifact)
    trees = []
    for run, seed in enumerate(("0", "4242", "random")):
        cwd = tmp_path.joinpath(f"cwd{run}", *["deeper"] * run)
        cwd.mkdir(parents=True)
        out = "fw" if run < 2 else str(cwd / "abs-fw")  # relative and absolute --out
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([*TINYRNN, "codegen", str(artifact), "--board", BOARD, "--app", "--name", "kws",
                               "--out", out],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        trees.append(_tree(cwd / out))
    assert trees[0].keys() == trees[1].keys() == trees[2].keys()
    for name in trees[0]:
        assert trees[0][name] == trees[1][name] == trees[2][name], f"{name} differs between runs"
    # The same library as write_library() in this process (another PYTHONHASHSEED again).
    lib = write_library(tnr.load(artifact), tmp_path / "inproc", "kws", board=BOARD)
    for rel in lib["files"]:
        assert (tmp_path / "inproc" / rel).read_bytes() == trees[0][f"lib/{rel}"], rel


def test_host_outputs_identical_across_opt_levels_and_compilers(model, tmp_path):
    rng = np.random.default_rng(1)
    x = np.concatenate([irgen.random_input(rng, model, 12, 8), irgen.random_input(rng, model, 6, 8, extreme=True)])
    golden = run_model(model, x)
    golden_steps = irgen.golden_step_outputs(model, x)
    compilers = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
    assert "gcc" in compilers
    for cc in compilers:
        for opt in ("-O0", "-O2", "-Os"):
            host = HostModel(model, tmp_path / f"{cc}{opt}", cc=cc, opt=opt)
            assert np.array_equal(host.run(x), golden), f"{cc} {opt}: _run differs from golden"
            assert np.array_equal(host.step(x), golden_steps), f"{cc} {opt}: _step differs from golden"


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("board", [BOARD, "microbit"])
def test_firmware_outputs_identical_at_O0_and_Os(model, board, tmp_path):
    """The device itself: the project built at -O0 and -Os gives the golden outputs too
    (-O2, the default, is what every other QEMU test runs); on the M0, -Os builds the
    Thumb-1 dot loop's assembly with no high registers left to the compiler."""
    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project
    from tinyrnn.harness.dut import Device
    from tinyrnn.harness.qemu import Qemu

    render_project(model, board, tmp_path / "O2")
    rng = np.random.default_rng(2)
    x = np.concatenate([irgen.random_input(rng, model, 4, 8), irgen.random_input(rng, model, 3, 8, extreme=True)])
    golden = run_model(model, x)
    for opt in ("-O0", "-Os"):
        project = tmp_path / opt
        shutil.copytree(tmp_path / "O2", project)
        makefile = project / "Makefile"
        text = makefile.read_text()
        assert " -O2 " in text
        makefile.write_text(text.replace(" -O2 ", f" {opt} "))
        elf = build(project)["elf"]
        with Qemu(board, elf) as qemu, Device.open(qemu.url, expected_hash=model.content_hash()) as device:
            got = np.stack([device.run(seq)[0] for seq in x])
        assert np.array_equal(got, golden), f"firmware at {opt} differs from golden"
