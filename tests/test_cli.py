"""The CLI contract: the result on stdout (one JSON object with --json, text otherwise),
progress on stderr, one error line and exit 2 on user mistakes, never a traceback, never a
hang; QEMU runs verified from the CLI. (More conventions: test_cli_conventions.py.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import irgen
import numpy as np
import pytest

from tinyrnn.core import tnr

TINYRNN = [sys.executable, "-m", "tinyrnn"]


def run_cli(*args, env=None, timeout=240):
    proc = subprocess.run([*TINYRNN, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})  # fmt: skip
    return proc


def run_json(*args, **kw) -> dict:
    proc = run_cli(*args, "--json", **kw)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must be exactly one JSON object, got {proc.stdout!r}"
    return json.loads(lines[0])


def assert_user_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("tinyrnn: error:")]
    assert len(errors) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert proc.stdout == ""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A random 2-layer model artifact and matching float data (no TensorFlow needed)."""
    work = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(7)
    model = irgen.build_model(rng, 4, [8, 6], [3], kinds=["lstm", "gru"])
    path = work / "m.tnr"
    tnr.save(model, path)
    x = rng.normal(scale=40.0, size=(6, 10, 4)).astype(np.float32)  # identity input quantizer: x_q = round(x)
    np.savez(work / "d.npz", x=x, y=rng.integers(0, 3, 6))
    return path, work / "d.npz", model


@pytest.mark.qemu
def test_codegen_build_verify_on_qemu_every_byte(small, tmp_path):
    artifact, data, model = small
    out = run_json("codegen", artifact, "--board", "mps2-an386", "--app", "--out", tmp_path / "fw")
    assert out["model_hash"] == model.content_hash()
    built = run_json("build", tmp_path / "fw")
    assert built["flash_bytes"] > 0 and built["ram_bytes"] > 0 and os.path.isfile(built["elf"])
    r = run_json("verify", "--model", artifact, "--target", "qemu:mps2-an386", "--data", data, "--n", 6)
    assert r["verified"] is True and r["sequences"] == 6 and r["mismatches"] == 0
    assert r["board"] == "mps2-an386" and r["instructions_per_inference"] > 0 and r["weights"] == "int8"
    wide = run_json("verify", "--model", artifact, "--target", "qemu:mps2-an386", "--data", data, "--n", 6,
                    "--weights", "int16")
    assert (wide["verified"], wide["mismatches"], wide["weights"]) == (True, 0, "int16")
    assert wide["model_weights_bytes"] > r["model_weights_bytes"]
    assert_user_error(run_cli("verify", "--model", artifact, "--target", "socket://127.0.0.1:9", "--data", data,
                              "--weights", "int16"), "--weights sets the layout of a qemu:BOARD build")


def test_eval_of_an_artifact_uses_the_golden_model(small):
    artifact, data, _ = small
    r = run_json("eval", artifact, "--data", data)
    assert r["n"] == 6 and 0.0 <= r["accuracy"] <= 1.0 and r["kind"] == "int8-golden"


def test_text_result_on_stdout_json_only_with_the_flag(small):
    artifact, data, _ = small
    text = run_cli("eval", artifact, "--data", data)
    assert text.returncode == 0 and text.stdout.startswith("accuracy on 6 sequences") and text.stderr == ""
    assert run_json("eval", artifact, "--data", data)["n"] == 6


def test_vectors_on_golden_and_host(vector_files):
    for target in ("golden", "host"):
        r = run_json("vectors", "run", vector_files[0], "--target", target)
        assert r["mismatches"] == 0 and r["elements"] > 0 and r["max_abs_diff"] == 0


@pytest.mark.qemu
def test_vectors_on_qemu(vector_files):
    for path in vector_files:
        r = run_json("vectors", "run", path, "--target", "qemu:mps2-an386")
        assert r["mismatches"] == 0 and r["elements"] > 0, path.name


def test_bad_inputs_one_line_each(small, tmp_path):
    artifact, data, _ = small
    corrupt = tmp_path / "bad.tnr"
    corrupt.write_bytes(artifact.read_bytes()[:100])
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((2, 10, 5), np.float32), y=np.zeros(2, int))
    cases = [
        (("eval", tmp_path / "none.tnr", "--data", data), ("no such artifact file",)),
        (("eval", corrupt, "--data", data), ("bad.tnr",)),
        (("eval", artifact, "--data", wrong), ("5 features", "expects 4")),
        (("codegen", artifact, "--board", "nosuchboard", "--out", tmp_path / "x"), ("nosuchboard", "mps2-an386")),
        (("verify", "--model", artifact, "--target", "qemu:nosuchboard", "--data", data), ("nosuchboard",)),
        (("quantize", "/etc/hostname", "--out", tmp_path / "q.tnr"), ("unsupported model format",)),
        (("vectors", "run", data, "--target", "golden"), ("d.npz",)),
    ]
    for args, fragments in cases:
        assert_user_error(run_cli(*args), *fragments)
    assert not (tmp_path / "q.tnr").exists() and not (tmp_path / "x").exists()


def test_missing_cross_compiler_and_qemu_are_named(small, tmp_path):
    artifact, data, _ = small
    bare = {"PATH": os.path.dirname(sys.executable)}  # python only: no make, gcc or qemu
    run_json("codegen", artifact, "--board", "mps2-an386", "--app", "--out", tmp_path / "fw")
    assert_user_error(run_cli("build", tmp_path / "fw", env=bare), "apt-get install")
    proc = run_cli("verify", "--model", artifact, "--target", "qemu:mps2-an386", "--data", data, env=bare)
    assert_user_error(proc, "apt-get install")


def test_a_port_that_never_answers_times_out_with_a_clear_error(small):
    artifact, data, _ = small
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    port = server.getsockname()[1]
    proc = run_cli("verify", "--model", artifact, "--target", f"socket://127.0.0.1:{port}", "--data", data, timeout=60)
    server.close()
    assert_user_error(proc, "127.0.0.1")
