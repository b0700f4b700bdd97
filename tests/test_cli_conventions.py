"""CLI conventions and the first-run defects of issue 17, each reproduced as a user hits it:
results on stdout, progress on stderr (-q silences it), one-line errors for bad arguments,
URLs, files and devices, defaults in --help, `tinyrnn boards`, the user's umask."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import irgen
import numpy as np
import pytest
import tomllib
from fakedev import FakeDevice
from test_cli import assert_user_error, run_cli, run_json

from tinyrnn.core import boards, tnr

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    work = tmp_path_factory.mktemp("conv")
    rng = np.random.default_rng(7)
    model = irgen.build_model(rng, 4, [8, 6], [3], kinds=["lstm", "gru"])
    tnr.save(model, work / "m.tnr")
    x = rng.normal(scale=40.0, size=(6, 10, 4)).astype(np.float32)
    np.savez(work / "d.npz", x=x, y=rng.integers(0, 3, 6))
    return work, model


# ---------------------------------------------------------------- stdout / stderr, -q / -v
def test_human_result_goes_to_stdout_so_a_pipe_keeps_it(small):
    work, _ = small
    proc = run_cli("eval", work / "m.tnr", "--data", work / "d.npz")
    assert proc.returncode == 0 and proc.stdout.startswith("accuracy on 6 sequences: int8 ") and proc.stderr == ""


def test_progress_on_stderr_without_a_terminal_and_quiet_silences_it(small):
    work, model = small
    for quiet in (False, True):
        dev = FakeDevice(model.content_hash(), model.input_size, model.output_size)
        proc = run_cli("verify", "--model", work / "m.tnr", "--data", work / "d.npz", "--target", dev.url, "--json",
                       *(["-q"] if quiet else []), timeout=60)  # fmt: skip
        dev.close()
        assert proc.returncode in (0, 1) and json.loads(proc.stdout)["sequences"] == 6, proc.stderr
        assert proc.stderr == "" if quiet else "verify: 0/6 started" in proc.stderr and "verify: 6/6" in proc.stderr


def test_verbose_and_quiet_exclude_each_other():
    assert_user_error(run_cli("boards", "-q", "-v"), "not allowed with argument")


# ---------------------------------------------------------------- arguments and --help
def test_argument_errors_are_one_line_with_our_prefix(small):
    work, _ = small
    assert_user_error(run_cli("verify", "--model", work / "m.tnr"), "verify:", "--target, --data", "tinyrnn verify --help")
    assert_user_error(run_cli("nosuchcommand"), "invalid choice")
    assert_user_error(run_cli("verify", "--n", "many"), "--n", "invalid int value")


def test_help_shows_defaults_and_points_to_commands_that_exist():
    verify = run_cli("verify", "--help").stdout
    assert re.search(r"--jobs JOBS\s+devices verifying in parallel.*\(default:\s+1\)", verify, re.DOTALL)
    assert re.search(r"--n N\s+number of sequences \(default: 100\)", verify)
    codegen = run_cli("codegen", "--help").stdout
    assert "(default: mps2-an386)" in codegen and "`tinyrnn boards`" in codegen
    assert run_cli("boards", "--help").returncode == 0


def test_boards_lists_every_board_and_its_core():
    listed = run_json("boards")["boards"]
    assert [b["board"] for b in listed] == boards.board_names()
    for b in listed:
        assert b["core"] == boards.get_board(b["board"])["cpu"] and b["core"].startswith("cortex-m")
    text = run_cli("boards").stdout.splitlines()
    assert len(text) == len(listed) and all(b["board"] in line and b["core"] in line for b, line in zip(listed, text))


# ---------------------------------------------------------------- targets and devices
def test_bad_network_urls_name_the_expected_form(small):
    work, _ = small
    for url in ("socket://127.0.0.1:99999", "socket://127.0.0.1", "rfc2217://:4000"):
        proc = run_cli("verify", "--model", work / "m.tnr", "--data", work / "d.npz", "--target", url)
        assert_user_error(proc, f"cannot open {url}", "HOST:PORT with PORT in 1-65535")


def test_device_reporting_another_output_size_is_one_line(small):
    work, model = small
    dev = FakeDevice(model.content_hash(), model.input_size, model.output_size + 2)
    proc = run_cli("verify", "--model", work / "m.tnr", "--data", work / "d.npz", "--target", dev.url, timeout=60)
    dev.close()
    assert_user_error(proc, "reports output size 5 (model: 3)", "not built from this artifact")


# ---------------------------------------------------------------- files
def test_npy_named_npz_fifo_and_directory_are_named(small, tmp_path):
    work, _ = small
    np.save(tmp_path / "x.npy", np.zeros((2, 10, 4), np.float32))
    os.rename(tmp_path / "x.npy", tmp_path / "x.npz")
    os.mkfifo(tmp_path / "fifo.tnr")
    os.mkfifo(tmp_path / "fifo.npz")
    (tmp_path / "dir.tnr").mkdir()
    art, data = work / "m.tnr", work / "d.npz"
    assert_user_error(run_cli("eval", art, "--data", tmp_path / "x.npz"), "x.npz: a single .npy array", "np.savez")
    assert_user_error(run_cli("eval", tmp_path / "fifo.tnr", "--data", data, timeout=30), "fifo.tnr: a FIFO")
    assert_user_error(run_cli("eval", art, "--data", tmp_path / "fifo.npz", timeout=30), "fifo.npz: a FIFO")
    assert_user_error(run_cli("eval", tmp_path / "dir.tnr", "--data", data), "dir.tnr: a directory, not a file")
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(300))
    assert_user_error(run_cli("eval", art, "--data", tmp_path / "noise.npz"), "noise.npz: not an .npz file (no zip header)")


def test_full_disk_is_named_without_none(small, tmp_path, monkeypatch, capsys):
    from tinyrnn.app import api, cli

    _, model = small

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(api, "load_tflite", lambda _path: model)
    monkeypatch.setattr(api.tnr, "save", full)
    (tmp_path / "m.tflite").write_bytes(b"")
    assert cli.main(["quantize", str(tmp_path / "m.tflite"), "--out", str(tmp_path / "q.tnr")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tinyrnn: error: {tmp_path / 'q.tnr'}: cannot write the artifact (No space left on device)"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_artifacts_get_the_users_umask(small, tmp_path, umask):
    _, model = small
    old = os.umask(umask)
    try:
        tnr.save(model, tmp_path / "a.tnr")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.tnr").stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_failed_build_leaves_no_older_firmware_beside_the_new_manifest(small, tmp_path):
    work, _ = small
    fw = tmp_path / "fw"
    run_json("codegen", work / "m.tnr", "--out", fw, "--app")
    run_json("build", fw)
    assert (fw / "firmware.elf").is_file()
    other = irgen.build_model(np.random.default_rng(8), 4, [5], [3])
    tnr.save(other, tmp_path / "other.tnr")
    run_json("codegen", tmp_path / "other.tnr", "--out", fw, "--app")
    glue = fw / "app" / "model_glue.c"
    glue.write_text(glue.read_text() + "\nthis does not compile;\n")  # the build fails half-way
    assert_user_error(run_cli("build", fw), "firmware build failed")
    assert json.loads((fw / "tinyrnn.json").read_text())["model_hash"] == other.content_hash()
    assert not (fw / "firmware.elf").exists() and not (fw / "firmware.map").exists()


# ---------------------------------------------------------------- pytest plugin and packaging
def test_plugin_without_firmware_for_a_qemu_board_is_one_usage_line(small, tmp_path):
    work, _ = small
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-c", str(tmp_path / "pytest.ini"), "-p",
                           "no:cacheprovider", "-p", "no:labgrid", "-p", "no:pytest_embedded", "-p",
                           "tinyrnn.harness.pytest_plugin", str(ROOT / "examples" / "hil" / "test_model_on_device.py"),
                           "--tinyrnn-target", "qemu:mps2-an386", "--tinyrnn-model", str(work / "m.tnr")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)  # fmt: skip
    out = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 4 and "Traceback" not in proc.stdout + proc.stderr, out
    assert out == ["ERROR: --tinyrnn-target qemu:mps2-an386 is a QEMU board: give its ELF with --tinyrnn-firmware"]


def test_hil_extra_has_what_the_readme_hil_example_needs():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("pytest") and not r.startswith("pytest-") for r in extras["hil"])
    assert any(r.startswith("labgrid") for r in extras["labgrid"])


def test_readme_pipeline_creates_every_file_it_reads():
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## The pipeline, step by step"):]
    block = block[block.index("```sh"):block.index("```", block.index("```sh") + 5)]
    made = set()
    for line in block.splitlines():
        for used in re.findall(r"--(?:data|calib) (\S+\.npz)", line):
            assert used in made or used.startswith("../shared/"), f"{used} is read before anything creates it"
        made |= set(re.findall(r"save_npz\(\w+, '(\S+?)'\)", line)) | set(re.findall(r"--out (\S+)", line))
