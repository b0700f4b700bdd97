"""Generated C (compiled for the host) against the golden model, element for element.

Covers the TFLM conformance vectors, random models (shapes 1..40, extreme parameters,
LSTM stacks with relu/linear/logit heads, returns_sequences), a sanitizer run, the
streaming API, determinism of the generated files, and a Cortex-M4 cross-compile.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import irgen
import numpy as np
import pytest

from tinyrnn.codegen import layout
from tinyrnn.codegen.generate import KERNEL_ABI_VERSION, generate
from tinyrnn.codegen.hostlib import HostModel, compile_host, run_host, run_lstm_layer
from tinyrnn.codegen.kernel_set import kernel_files
from tinyrnn.codegen.layout import stage_words
from tinyrnn.core.boards import CORE_PATHS
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden import gru_s8
from tinyrnn.core.golden import lstm_s8 as lstm_golden
from tinyrnn.core.golden.lstm_s8 import initial_state, lstm_s8
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.vectors import load_case

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
ARM_GCC = shutil.which("arm-none-eabi-gcc")


def _assert_same(c_out, golden, what: str) -> None:
    assert c_out.shape == golden.shape, f"{what}: shape {c_out.shape} != {golden.shape}"
    bad = np.argwhere(c_out != golden)
    assert bad.size == 0, f"{what}: {len(bad)} elements differ, first at {bad[0].tolist()}: " \
                          f"C={c_out[tuple(bad[0])]} golden={golden[tuple(bad[0])]}"


def _check_all_modes(host: HostModel, model, x) -> None:
    """_run, T x _step, two interleaved instances: all equal the golden model."""
    _assert_same(host.run(x), run_model(model, x), "_run")
    steps = irgen.golden_step_outputs(model, x)
    _assert_same(host.step(x), steps, "_step")
    if x.shape[0] % 2 == 0:
        _assert_same(host.run_pairs(x), steps, "two instances")


# ----------------------------------------------------------------------------- (a)
@needs_gcc
def test_tflm_vectors(vector_files, tmp_path):
    assert vector_files, "no vector cases found"
    for path in vector_files:
        case = load_case(path)
        golden, _ = lstm_s8(case.layer, case.x)
        c_out = run_lstm_layer(case.layer, case.x, tmp_path / case.name)
        _assert_same(c_out, golden, case.name)
        agree = golden == case.expected  # the golden LUT is another engineer's concern
        assert np.array_equal(c_out[agree], case.expected[agree])
        if "stateful" in case.name:
            # Same case through the explicit initial-state path (h = zp, c = 0 given).
            h0, c0 = initial_state(case.layer, case.x.shape[0])
            c_state = run_lstm_layer(case.layer, case.x, tmp_path / f"{case.name}_state", state=(h0, c0))
            _assert_same(c_state, golden, f"{case.name} from explicit state")


@needs_gcc
def test_explicit_initial_state(tmp_path):
    rng = np.random.default_rng(11)
    layer = irgen.lstm_layer(rng, 5, 7)
    x = rng.integers(-128, 128, (4, 6, 5), dtype=np.int8)
    h0 = rng.integers(-128, 128, (4, 7), dtype=np.int8)
    c0 = rng.integers(-32768, 32768, (4, 7), dtype=np.int16)
    golden, _ = lstm_s8(layer, x, state=(h0, c0))
    _assert_same(run_lstm_layer(layer, x, tmp_path, state=(h0, c0)), golden, "explicit state")


# ----------------------------------------------------------------------------- (b)
CONFIGS = {  # name: (F, hidden sizes, dense sizes, head activation, returns_sequences, extreme)
    "lstm_only": (3, [5], [], "linear", False, 0.0),
    "lstm_seq": (7, [1], [], "linear", True, 0.0),
    "lstm_lstm_dense_linear": (9, [12, 6], [4], "linear", False, 0.0),
    "lstm_lstm_dense_relu": (4, [8, 10], [6], "relu", False, 0.0),
    "lstm_dense_relu_softmax_seq": (6, [9], [7, 3], "softmax", True, 0.0),
    "extreme_stack": (10, [7, 5], [4], "relu", False, 1.0),
    "mixed_stack_seq": (13, [11, 3], [5], "linear", True, 0.4),
    "one_everything": (1, [1], [1], "sigmoid", False, 0.3),
    "forty": (40, [40], [40], "linear", True, 0.2),
}


@needs_gcc
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_configured_models(config, tmp_path):
    features, hidden, dense, act, seq, extreme = CONFIGS[config]
    rng = np.random.default_rng(sorted(CONFIGS).index(config))
    model = irgen.build_model(rng, features, hidden, dense, activation=act, returns_sequences=seq, extreme=extreme)
    host = HostModel(model, tmp_path)
    x = np.concatenate([irgen.random_input(rng, model, 4, 5), irgen.random_input(rng, model, 2, 5, extreme=True)])
    _check_all_modes(host, model, x)


@needs_gcc
@pytest.mark.parametrize("seed", range(10))
def test_random_models(seed, tmp_path):
    rng = np.random.default_rng(1000 + seed)
    model = irgen.random_model(rng, extreme=(0.0, 0.3, 1.0)[seed % 3])
    host = HostModel(model, tmp_path)
    steps = int(rng.integers(1, 9))
    x = np.concatenate([irgen.random_input(rng, model, 4, steps),
                        irgen.random_input(rng, model, 2, steps, extreme=True)])
    _check_all_modes(host, model, x)


@needs_gcc
def test_cell_clip_and_tanh_shift_extremes(tmp_path):
    """A tight cell clip, and cell_scale_power at both ends of what the kernel accepts
    (tanh prescale shift -31 and +14), stacked so one compile covers all three."""
    rng = np.random.default_rng(21)
    model = irgen.build_model(rng, 6, [9, 8, 7], [], returns_sequences=True)
    for layer, power, clip in zip(model.layers, (-15, -43, 2), (200, 0, 1000)):
        layer.cell_scale_power, layer.cell_clip = power, clip
        layer.input_to_cell_multiplier, layer.input_to_cell_shift = 2**30, -8  # large cell steps
    x = irgen.random_input(rng, model, 6, 10)
    _check_all_modes(HostModel(model, tmp_path), model, x)
    assert np.abs(lstm_s8(model.layers[0], x)[1][1]).max() == 200  # the clip was reached


# ----------------------------------------------------------------------------- (c)
@needs_gcc
@pytest.mark.parametrize("extreme", [1.0, 0.3])
def test_sanitizers(extreme, tmp_path):
    """ASan + UBSan build: any report makes the driver exit non-zero → TinyrnnError."""
    rng = np.random.default_rng(int(extreme * 10))
    model = irgen.build_model(rng, 17, [23, 9], [8, 5], activation="relu", extreme=extreme)
    host = HostModel(model, tmp_path, sanitize=True)
    x = np.concatenate([irgen.random_input(rng, model, 6, 9), irgen.random_input(rng, model, 4, 9, extreme=True)])
    _check_all_modes(host, model, x)
    seq = dataclasses.replace(model, layers=[dataclasses.replace(model.layers[0], return_sequences=True),
                                             dataclasses.replace(model.layers[1], return_sequences=True),
                                             *model.layers[2:]])
    _check_all_modes(HostModel(seq, tmp_path / "seq", sanitize=True), seq, x)


# ----------------------------------------------------------------------------- (d)
@needs_gcc
@pytest.mark.parametrize("kinds", [["lstm", "lstm"], ["gru", "gru_before"]])
def test_streaming_reset_and_instances(tmp_path, kinds):
    rng = np.random.default_rng(5)
    model = irgen.build_model(rng, 6, [8, 4], [3], activation="linear", kinds=kinds)
    host = HostModel(model, tmp_path)
    a, b = irgen.random_input(rng, model, 2, 12)
    x = np.stack([a, b, a, a])  # the same sequence after another one: reset must restore state
    y_step = host.step(x)
    assert np.array_equal(y_step[:, -1], host.run(x)), "T calls of _step != _run"
    assert np.array_equal(y_step[0], y_step[2]) and np.array_equal(y_step[0], y_step[3])
    assert not np.array_equal(y_step[0], y_step[1])  # the sequences really differ
    assert np.array_equal(host.run_pairs(x), y_step), "two instances interfere"


# ----------------------------------------------------------------------------- (e)
def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def test_determinism_and_headers(tmp_path):
    rng = np.random.default_rng(3)
    model = irgen.build_model(rng, 5, [6, 4], [3], activation="relu", extreme=0.3)
    first = generate(model, tmp_path / "a", name="kws")
    again = generate(model, tmp_path / "b", name="kws")
    names = [p.split("/")[-1] for p in first["files"]]
    assert names == [p.split("/")[-1] for p in again["files"]]
    assert {"kws.c", "kws.h", "kws_weights.c", "kws_weights.h", "tinyrnn_lstm_s8.c"} <= set(names)
    for name in names:
        data = (tmp_path / "a" / name).read_bytes()
        assert data == (tmp_path / "b" / name).read_bytes(), f"{name} not deterministic"
        if not name.startswith("tinyrnn_"):
            header_line = f"/* generated by tinyrnn from model {model.content_hash()}, do not edit */\n"
            assert data.startswith(header_line.encode())
    header = (tmp_path / "a" / "kws.h").read_text()
    assert f'#define TINYRNN_KWS_HASH "{model.content_hash()}"' in header
    assert f"#define TINYRNN_KWS_STATE_BYTES {first['state_bytes']}" in header
    assert f"#define TINYRNN_KERNEL_ABI_VERSION {KERNEL_ABI_VERSION}\n" in header
    # int32 work area (each layer's x and h staged; the largest layer's) + int16 c + int8 h, 4-aligned.
    work = max(stage_words(5) + stage_words(6), stage_words(6) + stage_words(4))
    assert first["state_bytes"] == _align4(4 * work + 2 * (6 + 4) + (6 + 4)) and first["weights_bytes"] > 0


def test_templates_hold_no_arithmetic():
    from importlib.resources import files

    for tpl in files("tinyrnn.codegen").joinpath("templates").iterdir():
        for expr in re.findall(r"{{(.*?)}}", tpl.read_text()):
            assert not re.search(r"[-+*/%]|\bif\b", expr), f"{tpl.name}: arithmetic in template: {{{{{expr}}}}}"


@pytest.mark.parametrize("mutate, message", [
    (lambda m: setattr(m, "layers", m.layers[::-1]), "before the Dense head"),
    (lambda m: setattr(m.layers[0], "gate_x_shift", np.array([0, 0, 0, -32], np.int32)), "gate_x_shift"),
    (lambda m: setattr(m.layers[0], "hidden_zero_point", 128), "hidden_zero_point"),
    (lambda m: setattr(m.layers[0], "cell_scale_power", 3), "cell_scale_power"),
    (lambda m: setattr(m.layers[-1], "activation", "gelu"), "activation"),
    (lambda m: setattr(m.layers[0], "return_sequences", False), "must return sequences"),
    (lambda m: setattr(m, "input_size", 9), "input size"),
    (lambda m: setattr(m.layers[0], "w_x", m.layers[0].w_x[:, :, :2]), "shape"),
    (lambda m: setattr(m.layers[0], "gate_h_multiplier", np.array([3, 3, 3, 3], np.int32)) or
     setattr(m.layers[0], "gate_h_shift", np.array([30, 30, 30, 30], np.int32)), "gate_h_shift.*overflows int32"),
])
def test_invalid_models_rejected(tmp_path, mutate, message):
    model = irgen.build_model(np.random.default_rng(0), 4, [5, 3], [2])
    mutate(model)
    with pytest.raises(TinyrnnError, match=message):
        generate(model, tmp_path)


def test_bad_name_rejected(tmp_path):
    with pytest.raises(TinyrnnError, match="C identifier"):
        generate(irgen.build_model(np.random.default_rng(0), 4, [5], []), tmp_path, name="my-model")


# ----------------------------------------------------------------------------- (f)
@pytest.mark.skipif(ARM_GCC is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m0plus", "cortex-m3"])
@pytest.mark.parametrize("kinds", [["lstm", "lstm"], ["gru", "lstm", "gru_before"]])
def test_cross_compile_cortex_m(cpu, kinds, tmp_path):
    rng = np.random.default_rng(9)
    hidden = [8, 5, 4][: len(kinds)]
    model = irgen.build_model(rng, 6, hidden, [4, 3], activation="softmax", returns_sequences=True, extreme=0.3,
                              kinds=kinds)
    # The core's own path (what its compiler selects with no -DTINYRNN_PATH); the M3's int8 one.
    out = generate(model, tmp_path / "src", name="har", path="plain" if cpu == "cortex-m3" else CORE_PATHS[cpu])
    chosen = ["-DTINYRNN_PATH=0"] if cpu == "cortex-m3" else []  # a path not the core's default is asked for
    # Thumb-1's dot loop is inline assembly: -Os (no high registers for the allocator) and
    # either inline-assembly syntax must build it, and it must be what runs (on Thumb-1 only).
    variants = [["-O2"]] if cpu == "cortex-m4" else [["-O2"], ["-Os"], ["-O2", "-masm-syntax-unified"]]
    for flags in variants:
        symbols = ""
        for src in (f for f in out["files"] if f.endswith(".c")):
            cmd = [ARM_GCC, f"-mcpu={cpu}", "-mthumb", *flags, *chosen, "-std=c99", "-Wall", "-Wextra", "-Wconversion",
                   "-Werror", "-Wpedantic", "-Wshadow", "-c", src, "-o", str(tmp_path / "x.o")]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, f"{src} {flags}:\n{proc.stderr}"
            symbols += subprocess.run([ARM_GCC.replace("gcc", "nm"), str(tmp_path / "x.o")], capture_output=True,
                                      text=True).stdout  # fmt: skip
        assert ("tinyrnn_dot4_v6m" in symbols) == (cpu == "cortex-m0plus"), flags


# ----------------------------------------------------------------------------- (g)
_GATE_NAMES = {"lstm": (lstm_golden, ("INPUT", "FORGET", "CELL", "OUTPUT")),
               "gru": (gru_s8, ("UPDATE", "RESET", "CANDIDATE"))}


@needs_gcc
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_kernel_gate_indices_match_golden_and_layout(kind, tmp_path):
    """The C kernel's gate names and accumulator/descriptor slots (read from the compiled
    header) say what the golden module's GATE_* and codegen's layout say."""
    golden, names = _GATE_NAMES[kind]
    for f in kernel_files():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    k = f"TINYRNN_{kind.upper()}"
    exprs = [f"{k}_GATES", *(f"{k}_{n}" for n in names),
             *(f"{k}_{slot}({k}_{n})" for n in names for slot in ("ACC_X", "ACC_H", "RQ_X", "RQ_H"))]
    body = "".join(f'    printf("%d\\n", (int)({e}));\n' for e in exprs)
    (tmp_path / "names.c").write_text(f'#include <stdio.h>\n#include "tinyrnn_{kind}_s8.h"\n\n'
                                      f"int main(void)\n{{\n{body}    return 0;\n}}\n")
    exe = compile_host([tmp_path / "names.c"], tmp_path / "names", include_dirs=[tmp_path])
    values = [int(v) for v in run_host(exe, [], b"").split()]
    gates = len(names)
    assert values[0] == len(golden.GATES) == gates
    assert values[1:1 + gates] == [getattr(golden, f"GATE_{n}") for n in names]
    slots = np.array(values[1 + gates:]).reshape(gates, 4)
    units = 3
    bias_x = np.arange(1, gates * units + 1).reshape(gates, units)
    rows = layout.unit_biases(bias_x, -bias_x)
    mults = {"gate_x_multiplier": 1000 + np.arange(gates), "gate_h_multiplier": 2000 + np.arange(gates),
             "gate_x_shift": np.zeros(gates, int), "gate_h_shift": np.zeros(gates, int)}
    descriptors = layout.gate_requants(mults, np.ones((gates, units), int), np.ones((gates, units), int))
    for name, (acc_x, acc_h, rq_x, rq_h) in zip(names, slots):
        g = getattr(golden, f"GATE_{name}")
        assert rows[:, acc_x].tolist() == bias_x[g].tolist() and rows[:, acc_h].tolist() == (-bias_x[g]).tolist(), name
        assert (descriptors[rq_x][0], descriptors[rq_h][0]) == (1000 + g, 2000 + g), name
    if kind == "gru":  # reset_after = 0 splits the candidate's recurrent rows off the end
        assert gru_s8.GATE_CANDIDATE == gates - 1
