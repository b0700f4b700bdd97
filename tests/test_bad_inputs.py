"""Bad input, through the CLI as a user runs it (docs/failure_modes.md has the table).

Every row: one line ``tinyrnn: error: ...`` naming the cause, exit 2, no traceback, and
no output left behind that could pass for a result (the output directory holds exactly
what it held before). Rows run concurrently: each is a subprocess, most of them idle.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import irgen
import numpy as np
import pytest
from test_cli import TINYRNN, assert_user_error, run_cli

from tinyrnn.core import ir, tnr

ARM_GCC = shutil.which("arm-none-eabi-gcc")
BOARD = "mps2-an386"


# ---------------------------------------------------------------- files
def _rewrite_artifact(src: Path, dst: Path, mutate, rehash: bool) -> None:
    """Copy an artifact with ``mutate(header, arrays)`` applied; ``rehash`` keeps the hash valid."""
    with zipfile.ZipFile(src) as zf:
        header = json.loads(zf.read("ir.json"))
        arrays = {n[len("arrays/"):-len(".npy")]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist() if n.endswith(".npy")}
    mutate(header, arrays)
    if rehash:
        header["hash"] = ir.digest_of(header["model"], arrays)
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("ir.json", json.dumps(header))
        for key, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a)
            zf.writestr(f"arrays/{key}.npy", buf.getvalue())


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A valid artifact (4 features, 3 classes), valid data, and one broken file per row."""
    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(3)
    model = irgen.build_model(rng, 4, [8, 6], [3], kinds=["lstm", "gru"])
    tnr.save(model, d / "m.tnr")
    tnr.save(irgen.build_model(np.random.default_rng(4), 4, [5], [3]), d / "other.tnr")
    x = rng.normal(scale=40.0, size=(6, 10, 4)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    np.savez(d / "d.npz", x=x, y=y)
    good = (d / "m.tnr").read_bytes()
    (d / "truncated.tnr").write_bytes(good[: len(good) // 2])
    mid = len(good) // 2
    (d / "flipped.tnr").write_bytes(good[:mid] + bytes(b ^ 0x5A for b in good[mid:mid + 16]) + good[mid + 16:])
    (d / "garbage.tnr").write_bytes(rng.bytes(3000))
    _rewrite_artifact(d / "m.tnr", d / "newer.tnr", lambda h, a: h.update(version=ir.IR_VERSION + 1), rehash=True)
    _rewrite_artifact(d / "m.tnr", d / "edited.tnr", lambda h, a: h["model"]["layers"][0].update(input_zero_point=3), rehash=False)
    _rewrite_artifact(d / "m.tnr", d / "badshape.tnr", lambda h, a: a.update({"layers.0.w_x": a["layers.0.w_x"][:, :, :2]}), rehash=True)
    (d / "notzip.keras").write_bytes(b"this is not a keras file")
    (d / "garbage.tflite").write_bytes(rng.bytes(4000))
    (d / "corrupt.tflite").write_bytes(b"\0\0\0\0TFL3" + rng.bytes(400))
    (d / "model.onnx").write_bytes(b"onnx")
    np.savez(d / "nan.npz", x=np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, x), y=y)
    np.savez(d / "empty.npz", x=np.zeros((0, 10, 4), np.float32), y=np.zeros(0, int))
    np.savez(d / "rank2.npz", x=x[:, :, 0], y=y)
    np.savez(d / "five.npz", x=np.zeros((6, 10, 5), np.float32), y=y)
    np.savez(d / "label7.npz", x=x, y=np.array([0, 1, 7, 2, 0, 1]))
    np.savez(d / "negative.npz", x=x, y=np.array([0, -1, 2, 2, 0, 1]))
    np.savez(d / "noy.npz", x=x)
    (d / "garbage.npz").write_bytes(rng.bytes(500))
    return d


def _run_rows(rows, cwd: Path) -> None:
    """Run (args, fragments[, env]) rows concurrently; each must be a one-line user error."""
    before = sorted(p.name for p in cwd.rglob("*"))

    def one(row):
        args, fragments, env = (*row, None)[:3]
        return args, fragments, run_cli(*args, env=env, timeout=120)

    failures = []
    with ThreadPoolExecutor(max_workers=6) as pool:
        for args, fragments, proc in pool.map(one, rows):
            try:
                assert_user_error(proc, *fragments)
            except AssertionError as exc:
                failures.append(f"tinyrnn {' '.join(map(str, args))}:\n  {exc}")
    assert not failures, "\n".join(failures)
    assert sorted(p.name for p in cwd.rglob("*")) == before, "a failed command left files behind"


# ---------------------------------------------------------------- rows without tools or devices
def test_bad_files_and_data_are_named_and_leave_nothing(files):
    d, data = files, files / "d.npz"
    art = d / "m.tnr"
    rows = [
        (("eval", d / "none.tnr", "--data", data), ("none.tnr", "no such artifact file")),
        (("codegen", d / "truncated.tnr", "--out", d / "fw1"), ("truncated.tnr", "not a tinyrnn artifact or damaged")),
        (("eval", d / "flipped.tnr", "--data", data), ("flipped.tnr", "damaged")),
        (("verify", "--model", d / "garbage.tnr", "--target", f"qemu:{BOARD}", "--data", data), ("garbage.tnr", "not a tinyrnn artifact")),
        (("eval", d / "newer.tnr", "--data", data), ("newer.tnr", "newer than this tinyrnn reads", "upgrade tinyrnn")),
        (("codegen", d / "edited.tnr", "--out", d / "fw2"), ("edited.tnr", "content hash mismatch")),
        (("codegen", d / "badshape.tnr", "--out", d / "fw3"), ("badshape.tnr", "layer 0", "'w_x' has shape (4, 8, 2)")),
        (("quantize", d / "notzip.keras", "--calib", data, "--out", d / "q1.tnr"), ("notzip.keras", "not a Keras .keras file")),
        (("quantize", d / "garbage.tflite", "--out", d / "q2.tnr"), ("garbage.tflite", "not a .tflite file")),
        (("quantize", d / "corrupt.tflite", "--out", d / "q3.tnr"), ("corrupt.tflite", "truncated or corrupt")),
        (("quantize", d / "model.onnx", "--out", d / "q4.tnr"), ("model.onnx", "unsupported model format")),
        (("quantize", d / "notzip.keras", "--calib", d / "nan.npz", "--out", d / "q5.tnr"), ("nan.npz", "1 NaN/Inf values")),
        (("quantize", d / "notzip.keras", "--calib", data, "--calib-samples", 0, "--out", d / "q6.tnr"), ("--calib-samples",)),
        (("eval", art, "--data", d / "nan.npz"), ("nan.npz", "NaN/Inf")),
        (("eval", art, "--data", d / "empty.npz"), ("empty.npz", "empty x")),
        (("eval", art, "--data", d / "rank2.npz"), ("rank2.npz", "must be (N, T, F)")),
        (("verify", "--model", art, "--target", f"qemu:{BOARD}", "--data", d / "five.npz"), ("five.npz", "5 features", "expects 4")),
        (("eval", art, "--data", d / "label7.npz"), ("label7.npz", "y[2] = 7", "3 outputs")),
        (("eval", art, "--data", d / "negative.npz"), ("negative.npz", "negative label y[1]")),
        (("eval", art, "--data", d / "noy.npz"), ("noy.npz", "missing key 'y'")),
        (("eval", art, "--data", d / "garbage.npz"), ("garbage.npz", "npz")),
        (("eval", art, "--data", "synthetic:nosuch"), ("synthetic:nosuch",)),
        (("eval", art, "--data", data, "--n", 0), ("--n must be at least 1",)),
        (("verify", "--model", art, "--target", f"qemu:{BOARD}", "--data", data, "--n", -1), ("--n", "must be at least 1", "-1")),
        (("codegen", art, "--board", "nosuchboard", "--out", d / "fw4"), ("unknown board 'nosuchboard'", BOARD)),
        (("verify", "--model", art, "--target", "qemu:nosuchboard", "--data", data), ("nosuchboard",)),
        (("verify", "--model", art, "--target", "COMX", "--data", data), ("COMX",)),
        (("verify", "--model", art, "--target", "somewhere", "--data", data), ("expected qemu:BOARD, labgrid:PLACE or a pyserial URL",)),
        (("codegen", art, "--out", data), ("d.npz", "not a directory")),
        (("train", "--data", d / "nan.npz", "--out", d / "t.keras"), ("nan.npz", "NaN/Inf")),
        (("train", "--data", data, "--out", d / "t.h5"), ("t.h5", "must end in .keras")),
        (("report", d / "notzip.keras", art, "--data", d / "five.npz", "--out", d / "r" / "report.html"), ("five.npz", "5 features")),
    ]
    _run_rows(rows, d)


def test_ports_that_refuse_or_never_answer(files):
    d = files
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    accepted = []  # kept open: accepts, then says nothing
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens here once the probe is closed
    common = ("verify", "--model", d / "m.tnr", "--data", d / "d.npz", "--target")
    rows = [
        ((*common, f"socket://127.0.0.1:{silent.getsockname()[1]}"), ("no reply from socket://127.0.0.1", "within 2 s")),
        ((*common, f"socket://127.0.0.1:{closed}"), ("cannot open socket://127.0.0.1", "refused")),
    ]
    try:
        _run_rows(rows, d)
    finally:
        silent.close()


# ---------------------------------------------------------------- missing tools, devices
@pytest.fixture(scope="module")
def built(files) -> Path:
    """verify --build-dir layout with the firmware of m.tnr already built (make finds it up to date)."""
    if ARM_GCC is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    project = files / "build" / f"fw-{BOARD}"
    for args in (("codegen", files / "m.tnr", "--board", BOARD, "--app", "--out", project), ("build", project)):
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
    return files / "build"


def _path_without(tmp: Path, *hidden: str) -> dict:
    """A PATH of symlinks to everything in /usr/bin and /bin except ``hidden``."""
    bindir = tmp / "bin"
    bindir.mkdir(parents=True)
    for src in (Path("/usr/local/bin"), Path("/usr/bin"), Path("/bin")):
        for tool in src.iterdir() if src.is_dir() else ():
            if not any(tool.name.startswith(h) for h in hidden) and not (bindir / tool.name).exists():
                (bindir / tool.name).symlink_to(tool)
    return {"PATH": str(bindir)}


def test_missing_cross_compiler_and_qemu(files, built, tmp_path):
    d = files
    verify = ("verify", "--model", d / "m.tnr", "--target", f"qemu:{BOARD}", "--data", d / "d.npz", "--build-dir", built)
    rows = [
        (("build", built / f"fw-{BOARD}"), ("arm-none-eabi-gcc not found", "apt-get install gcc-arm-none-eabi"),
         _path_without(tmp_path / "a", "arm-none-eabi-")),
        (verify, ("qemu-system-arm not found", "apt-get install qemu-system-arm"), _path_without(tmp_path / "b", "qemu-system-")),
    ]
    _run_rows(rows, d)


@pytest.mark.qemu
def test_device_running_another_model_is_refused(files, built):
    from tinyrnn.harness.qemu import Qemu

    with Qemu(BOARD, built / f"fw-{BOARD}" / "firmware.elf") as qemu:  # firmware of m.tnr
        proc = run_cli("verify", "--model", files / "other.tnr", "--target", qemu.url, "--data", files / "d.npz")
    other = tnr.load(files / "other.tnr").content_hash()
    assert_user_error(proc, "runs the model with hash", tnr.load(files / "m.tnr").content_hash(), other)


@pytest.mark.qemu
def test_device_computing_something_else_fails_verification(files, tmp_path):
    """Firmware that claims m.tnr's hash but computes with another Dense bias: every
    differing byte is caught, exit 1, and the first mismatch is pinned down."""
    import dataclasses

    from tinyrnn.codegen.build import build
    from tinyrnn.codegen.project import render_project
    from tinyrnn.harness.qemu import Qemu

    if ARM_GCC is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    model = tnr.load(files / "m.tnr")
    head = model.layers[-1]
    tampered = dataclasses.replace(model, layers=[*model.layers[:-1], dataclasses.replace(head, bias=head.bias + 3000)])
    project = Path(render_project(tampered, BOARD, tmp_path / "fw")["project_dir"])
    for src in (project / "lib" / "src").iterdir():  # the lie: the tampered C reports the genuine hash
        src.write_text(src.read_text().replace(tampered.content_hash(), model.content_hash()))
    with Qemu(BOARD, build(project)["elf"]) as qemu:
        proc = run_cli("verify", "--model", files / "m.tnr", "--target", qemu.url, "--data", files / "d.npz", "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout)
    assert result["verified"] is False and result["sequences"] == 6 and result["mismatches"] > 0
    first = result["first_mismatch"]
    assert set(first) == {"sequence", "element", "device", "golden"} and first["device"] != first["golden"]


BUSY_PORT_SCRIPT = """
import os, sys
import tinyrnn.harness.qemu as qemu
busy, real = [int(os.environ["BUSY_PORT"])], qemu._free_port
qemu._free_port = lambda: busy.pop() if busy else real()  # the first port offered is taken
from tinyrnn.app.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.qemu
def test_busy_port_is_skipped_and_the_run_verifies(files, built):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        args = ["verify", "--model", files / "m.tnr", "--target", f"qemu:{BOARD}", "--data", files / "d.npz",
                "--n", 3, "--build-dir", built, "--json"]  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", BUSY_PORT_SCRIPT, *map(str, args)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "BUSY_PORT": str(busy.getsockname()[1])})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["verified"] is True and result["sequences"] == 3


# ---------------------------------------------------------------- Keras files (TensorFlow)
KERAS_DRIVER = """
import contextlib, io, json, sys, traceback
import numpy as np
from tinyrnn.tfsupport import import_keras
from tinyrnn.app.cli import main
keras = import_keras()
keras.utils.set_random_seed(0)
folder, rows = sys.argv[1], json.loads(sys.argv[2])
def save(name, *layers):
    m = keras.Sequential([keras.Input((10, 4)), *layers])
    m.save(f"{folder}/{name}.keras")
    return m
save("good", keras.layers.LSTM(8), keras.layers.Dense(3, activation="softmax"))
m = save("nan", keras.layers.LSTM(8, name="rnn"), keras.layers.Dense(3))
w = m.layers[0].get_weights(); w[1][2, 5] = np.nan; m.layers[0].set_weights(w); m.save(f"{folder}/nan.keras")
save("conv", keras.layers.Conv1D(4, 3, padding="same", strides=2, name="conv"), keras.layers.LSTM(4),
     keras.layers.Dense(3))
save("back", keras.layers.LSTM(4, go_backwards=True, name="backwards"), keras.layers.Dense(3))
save("nannorm", keras.layers.Normalization(mean=[0.0, np.nan, 0.0, 0.0], variance=[1.0] * 4, name="norm"),
     keras.layers.LSTM(4), keras.layers.Dense(3))
good = open(f"{folder}/good.keras", "rb").read()
open(f"{folder}/truncated.keras", "wb").write(good[: len(good) // 2])
results = []
for argv in rows:  # the CLI entry point, as `tinyrnn ARGS` runs it; TensorFlow imported once
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except BaseException:
            traceback.print_exc()
            rc = -1
    results.append({"returncode": rc, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


@pytest.mark.tf
def test_keras_models_the_quantizer_refuses(files, tmp_path):
    """TensorFlow loads in one process (8 imports would cost half a minute of CPU): the
    rows go through ``tinyrnn.cli.main`` there, the function the ``tinyrnn`` script runs."""
    pytest.importorskip("tensorflow")
    k, data = tmp_path, files / "d.npz"
    shutil.copy(files / "m.tnr", k / "artifact.keras")  # a zip, but not a Keras model
    np.savez(k / "steps7.npz", x=np.zeros((4, 7, 4), np.float32), y=np.zeros(4, int))
    q = ("--calib", data, "--out", k / "q.tnr")
    rows = [
        (("quantize", k / "nan.keras", *q), ("layer 'rnn' (LSTM)", "1 NaN/Inf values", "recurrent_kernel")),
        (("quantize", k / "conv.keras", *q), ("layer 'conv' (Conv1D)", "option padding='same' with strides > 1 is not "
                                                                        "supported")),
        (("quantize", k / "back.keras", *q), ("layer 'backwards' (LSTM)", "go_backwards=True is not supported")),
        (("quantize", k / "nannorm.keras", *q), ("layer 'norm' (Normalization)", "NaN")),
        (("quantize", k / "truncated.keras", *q), ("truncated.keras", "not a Keras .keras file")),
        (("quantize", k / "artifact.keras", *q), ("artifact.keras", "cannot load Keras model")),
        (("quantize", k / "good.keras", "--calib", k / "steps7.npz", "--out", k / "q.tnr"), ("steps7.npz", "(7, 4)", "(10, 4)")),
        (("quantize", k / "good.keras", "--calib", data, "--out", data / "q.tnr"), ("cannot write the artifact", "d.npz")),
    ]
    argv = json.dumps([list(map(str, args)) for args, _ in rows])
    proc = subprocess.run([*TINYRNN[:1], "-c", KERAS_DRIVER, str(k), argv], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for (args, fragments), result in zip(rows, json.loads(proc.stdout.strip().splitlines()[-1])):
        assert_user_error(subprocess.CompletedProcess(args, **result), *fragments)
    assert not (k / "q.tnr").exists() and not [p for p in k.iterdir() if "tmp" in p.name], sorted(k.iterdir())


# ---------------------------------------------------------------- writes that fail half-way
def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_codegen_that_fails_half_way_leaves_no_valid_looking_project(tmp_path, monkeypatch):
    from tinyrnn.codegen import project as proj
    from tinyrnn.core.errors import TinyrnnError

    model = irgen.build_model(np.random.default_rng(1), 4, [6], [3])
    real = proj.render_firmware

    def disk_full(out, board, **kw):
        real(out, board, **kw)  # the whole project is written ...
        raise OSError(28, "No space left on device")  # ... and then the disk fills up

    monkeypatch.setattr(proj, "render_firmware", disk_full)
    with pytest.raises(TinyrnnError, match="No space left on device"):
        proj.render_project(model, BOARD, tmp_path / "fw")
    assert list(tmp_path.iterdir()) == [], "a half-written project (or its temp dir) was left"

    monkeypatch.setattr(proj, "render_firmware", real)
    proj.render_project(model, BOARD, tmp_path / "fw")
    before = _tree(tmp_path / "fw")
    assert proj.read_manifest(tmp_path / "fw")["model_hash"] == model.content_hash()
    monkeypatch.setattr(proj, "render_firmware", disk_full)
    with pytest.raises(TinyrnnError):  # re-rendering fails while staging: the old project is untouched
        proj.render_project(irgen.build_model(np.random.default_rng(2), 4, [5], [3]), BOARD, tmp_path / "fw")
    assert _tree(tmp_path / "fw") == before and sorted(p.name for p in tmp_path.iterdir()) == ["fw"]

    monkeypatch.setattr(proj, "render_firmware", real)
    copied = []
    real_sync = proj._sync_file

    def fails_on_third(src, dst):
        copied.append(dst)
        if len(copied) == 3:
            raise OSError(5, "Input/output error")
        real_sync(src, dst)

    monkeypatch.setattr(proj, "_sync_file", fails_on_third)
    with pytest.raises(TinyrnnError, match="Input/output error"):  # fails while updating in place
        proj.render_project(irgen.build_model(np.random.default_rng(3), 4, [7], [3]), BOARD, tmp_path / "fw")
    assert proj.read_manifest(tmp_path / "fw") == {}, "a half-updated project still has its manifest"


def test_report_that_fails_half_way_leaves_neither_file(files, tmp_path, monkeypatch):
    import tinyrnn.app.api as api
    from tinyrnn.core.errors import TinyrnnError

    def half_json(rep, path):
        Path(path).write_text('{"headline": ')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(api, "load_keras", lambda path, output=None: None)
    monkeypatch.setattr(api, "build_report", lambda *a, **k: {"headline": {}})
    monkeypatch.setattr(api, "write_html", lambda rep, path: Path(path).write_text("<html>complete</html>"))
    monkeypatch.setattr(api, "write_json", half_json)
    out = tmp_path / "r" / "report.html"
    with pytest.raises(TinyrnnError, match="cannot write the report"):
        api.write_report("model.keras", str(files / "m.tnr"), str(files / "d.npz"), str(out), progress=False)
    assert list(out.parent.iterdir()) == []


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_calibration_refuses_a_float_run_that_overflows():
    """Defensive: a float run that overflows (Inf) must not turn into NaN scales in an artifact."""
    from tinyrnn.core.errors import TinyrnnError
    from tinyrnn.quantize.calibrate import calibrate
    from tinyrnn.quantize.float_model import FloatDense, FloatLSTM, FloatModel

    rng = np.random.default_rng(0)
    lstm = FloatLSTM("rnn", rng.normal(size=(3, 16)), rng.normal(size=(4, 16)), np.zeros(16), False)
    x = rng.normal(size=(8, 5, 3))
    tiny_std = FloatModel("m", (5, 3), np.zeros(3), np.full(3, 1e-310), [lstm, FloatDense("head", np.ones((4, 2)), np.zeros(2), "linear")])
    with pytest.raises(TinyrnnError, match="normalized input: .* NaN/Inf values in the float run"):
        calibrate(tiny_std, x)
    huge_bias = FloatDense("head", np.ones((4, 2)), np.array([np.inf, 0.0]), "linear")
    with pytest.raises(TinyrnnError, match="layer 'head' \\(logits\\): 8 NaN/Inf values"):
        calibrate(FloatModel("m", (5, 3), np.zeros(3), np.ones(3), [lstm, huge_bias]), x)
