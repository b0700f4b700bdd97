"""The model library folder (codegen/library.py) as a firmware engineer uses it.

A HAR-shaped model (LSTM(32), 9 float inputs, 6 classes) generated for Cortex-M4 is
built by a user's own project (tests/user_firmware: own startup, linker script, C++
main) through the library's CMakeLists.txt and Makefile fragment, for the host and for
QEMU mps2-an386; every build must print exactly the golden model's int8 inputs and
outputs. The float helpers are checked against numpy over edge values.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.hostlib import compile_host
from tinyrnn.codegen.project import render_library
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import InputQuant

USER = Path(__file__).parent / "user_firmware"
README = Path(__file__).parents[1] / "README.md"
ARM_GCC, QEMU, CMAKE = (shutil.which(t) for t in ("arm-none-eabi-gcc", "qemu-system-arm", "cmake"))
STEPS = 16


def har_model(seed: int = 14):
    """LSTM(32) over 9 channels, Dense(6) softmax head with int16 logits (quantize's default);
    per-channel float offsets and scales as a Normalization layer would give."""
    rng = np.random.default_rng(seed)
    model = irgen.int16_logits(rng, irgen.build_model(rng, 9, [32], [6], activation="softmax", name="har"))
    quant = InputQuant(offset=rng.normal(0, 3, 9).astype(np.float32),
                       scale=rng.uniform(0.005, 0.2, 9).astype(np.float32), zero_point=-3)
    return dataclasses.replace(model, input_quant=quant)


def float_windows(model, n: int, seed: int = 3) -> np.ndarray:
    """(n, STEPS, 9) float32 sensor windows spanning the int8 range, clipping both ways,
    plus exact rounding ties, ±inf and NaN in the last window."""
    rng = np.random.default_rng(seed)
    q = model.input_quant
    x = (q.offset + q.scale * rng.normal(0, 60, (n, STEPS, 9))).astype(np.float32)
    ties = rng.integers(-140, 140, (STEPS, 9)) + 0.5
    x[-1] = (q.offset + q.scale * ties).astype(np.float32)
    x[-1, 0, :3] = [np.inf, -np.inf, np.nan]
    return x


def _c_float(v: np.float32) -> str:
    if np.isnan(v):
        return "NAN"
    if np.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return float(v).hex() + "f"


def windows_header(x: np.ndarray, out_dir: Path) -> Path:
    rows = ",\n".join("{" + ", ".join("{" + ", ".join(_c_float(v) for v in step) + "}" for step in window) + "}"
                      for window in x)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "windows.h").write_text(
        "#include <math.h>\n"
        f"#define USER_WINDOWS {x.shape[0]}\n#define USER_STEPS {x.shape[1]}\n"
        f"static const float user_windows[{x.shape[0]}][{x.shape[1]}][{x.shape[2]}] = {{\n{rows}\n}};\n")
    return out_dir


def parse_output(text: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The user program's q/y/c hex lines → (q (n, STEPS, 9), y (n, 6), class (n,))."""
    lines = {tag: [bytes.fromhex(v) for t, v in re.findall(r"^([qyc]) ([0-9a-f]*)$", text, re.M) if t == tag]
             for tag in "qyc"}
    assert text.rstrip().endswith("done"), text[-400:]
    q, c = (np.frombuffer(b"".join(lines[t]), np.int8) for t in "qc")
    y = np.frombuffer(b"".join(lines["y"]), "<i2" if len(lines["y"][0]) == 12 else np.int8)  # int16 or int8 logits
    return q.reshape(n, STEPS, 9), y.reshape(n, 6), c


def assert_golden(model, x: np.ndarray, text: str, where: str) -> None:
    q, y, c = parse_output(text, len(x))
    q_golden = model.input_quant.quantize(x)
    np.testing.assert_array_equal(q, q_golden, err_msg=f"{where}: quantize_input")
    golden = run_model(model, q_golden)
    np.testing.assert_array_equal(y, golden, err_msg=f"{where}: run")
    np.testing.assert_array_equal(c, np.argmax(golden, axis=-1), err_msg=f"{where}: argmax")


@pytest.fixture(scope="module")
def har(tmp_path_factory):
    """The M4 library folder of the HAR model, float windows and their header."""
    root = tmp_path_factory.mktemp("har")
    model = har_model()
    lib = render_library(model, root / "lib", "har", board="mps2-an386")
    x = float_windows(model, 5)
    return model, root / "lib", lib, x, windows_header(x, root / "windows")


def _run(cmd, **kw) -> str:
    """stdout of a successful command (QEMU prints semihosting output on stderr: both)."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr if cmd[0] == QEMU else proc.stdout


# ----------------------------------------------------------------------- the folder
def test_har_m4_library_holds_only_what_the_model_uses(har):
    model, lib_dir, lib, _, _ = har
    files = sorted(str(p.relative_to(lib_dir)) for p in lib_dir.rglob("*") if p.is_file())
    assert files == sorted(lib["files"])
    sources = sorted(p.name for p in (lib_dir / "src").iterdir())
    assert sources == ["har.c", "har.h", "har_weights.c", "har_weights.h", "tinyrnn_activation_s16.h",
                       "tinyrnn_arch.h", "tinyrnn_dense_s8.h", "tinyrnn_dense_s8_s16.c", "tinyrnn_dense_s8_s16.h",
                       "tinyrnn_dot.h",
                       "tinyrnn_fixedpoint.h", "tinyrnn_lstm_s8.c", "tinyrnn_lstm_s8.h",
                       "tinyrnn_mve.h"] + \
        (["tinyrnn_support.c"] if "tinyrnn_support.c" in sources else [])
    weights = (lib_dir / "src" / "har_weights.c").read_text()
    assert "#if" not in weights and weights.count("const tinyrnn_weight_t") == 2  # w_x, w_h: one layout
    # The default int8 layout on a DSP core (dsp8): ceil(K/4) words of four int8 per gate row and unit.
    lengths = [int(n) for n in re.findall(r"tinyrnn_weight_t \w+\[(\d+)\]", weights)]
    assert lengths == [32 * 3 * 4, 32 * 8 * 4]
    assert (lib["path"], lib["weights"], lib["defines"]) == ("dsp8", "int8", {"TINYRNN_PATH": 4})
    assert lib["model_hash"] == model.content_hash()
    sizes = lib["sizes"]
    assert sizes["source_files"] == len(sources)
    assert sizes["source_bytes"] == sum((lib_dir / "src" / s).stat().st_size for s in sources)
    header = (lib_dir / "src" / "har.h").read_text()
    for macro, value in (("STATE_BYTES", sizes["state_bytes"]), ("WORK_BYTES", sizes["work_bytes"]),
                         ("INPUT_ZERO_POINT", -3), ("OUTPUT_ZERO_POINT", model.output_zero_point)):
        assert f"#define TINYRNN_HAR_{macro} {value}\n" in header
    assert 'extern "C" {' in header and "tinyrnn_har_input_scale[9]" in header


@pytest.mark.skipif(ARM_GCC is None, reason="arm-none-eabi-gcc not installed")
def test_step_stack_is_measured_from_the_call_graph(har):
    _, lib_dir, lib, _, _ = har
    stack = lib["stack"]
    # _run calls _step's pieces: its worst case covers the LSTM kernel's frame and more.
    assert 0 < stack["per_function"]["tinyrnn_har_quantize_input"] < stack["per_function"]["tinyrnn_har_run"]
    assert stack["bytes"] == max(stack["per_function"].values()) == lib["sizes"]["step_stack_bytes"]
    assert f"#define TINYRNN_HAR_STEP_STACK_BYTES {stack['bytes']}\n" in (lib_dir / "src" / "har.h").read_text()


def test_a_library_for_another_path_refuses_to_compile_on_the_wrong_one(har, tmp_path):
    _, lib_dir, _, _, _ = har
    src = lib_dir / "src"
    with pytest.raises(Exception, match="generated for TINYRNN_PATH_DSP"):
        compile_host([src / "har_weights.c"], tmp_path / "x", include_dirs=[src], extra_flags=["-c"])


# ----------------------------------------------------------------------- float helpers
_HELPER_DRIVER = r"""
#include <stdio.h>
#include "edge.h"
/* q: float32 steps on stdin -> int8 steps; o: int8 outputs -> float dequantized,
 * float probabilities, int32 argmax. */
int main(int argc, char **argv)
{
    float x[TINYRNN_EDGE_INPUT_SIZE], f[TINYRNN_EDGE_OUTPUT_SIZE], p[TINYRNN_EDGE_OUTPUT_SIZE];
    int8_t q[TINYRNN_EDGE_INPUT_SIZE], y[TINYRNN_EDGE_OUTPUT_SIZE];
    if (argc > 1 && argv[1][0] == 'q') {
        while (fread(x, sizeof x, 1, stdin) == 1) {
            tinyrnn_edge_quantize_input(x, q);
            fwrite(q, sizeof q, 1, stdout);
        }
    } else {
        while (fread(y, sizeof y, 1, stdin) == 1) {
            int32_t c = tinyrnn_edge_argmax(y);
            tinyrnn_edge_dequantize_output(y, f, TINYRNN_EDGE_OUTPUT_SIZE);
            tinyrnn_edge_probabilities(y, p);
            fwrite(f, sizeof f, 1, stdout);
            fwrite(p, sizeof p, 1, stdout);
            fwrite(&c, sizeof c, 1, stdout);
        }
    }
    return 0;
}
"""


def _edge_values(quant: InputQuant) -> np.ndarray:
    """Rows of float32 inputs per channel: exact ties k + 0.5 around every int8 value and
    the rails, their float32 neighbours, ±0, denormals, huge values, ±inf, NaN."""
    k = np.arange(-140, 141, dtype=np.float64) + 0.5
    ties = (quant.offset[None, :] + quant.scale[None, :] * k[:, None]).astype(np.float32)
    exact = (quant.scale[None, :] * k[:, None]).astype(np.float32) + quant.offset[None, :]
    near = np.concatenate([np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf))])
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-38, 3e38, -3e38, np.inf, -np.inf, np.nan], np.float32)
    rows = [ties, exact, near, np.repeat(special[:, None], len(quant.offset), axis=1)]
    rng = np.random.default_rng(0)
    rows.append((quant.offset + quant.scale * rng.normal(0, 100, (500, len(quant.offset)))).astype(np.float32))
    return np.concatenate(rows).astype(np.float32)


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_quantize_input_and_output_helpers_equal_numpy(cc, tmp_path):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    rng = np.random.default_rng(7)
    model = irgen.build_model(rng, 5, [4], [7], activation="softmax", name="edge")
    # Scales of 1 and 0.5 make (x - offset) / scale land on exact ties; the others do not.
    quant = InputQuant(offset=np.array([0, 0.25, -1.5, 3.1, -0.7], np.float32),
                       scale=np.array([1, 0.5, 0.013, 0.37, 2.0**-7], np.float32), zero_point=5)
    model = dataclasses.replace(model, input_quant=quant)
    lib = render_library(model, tmp_path / "lib", "edge", core="host")
    src = tmp_path / "lib" / "src"
    (tmp_path / "driver.c").write_text(_HELPER_DRIVER)
    exe = compile_host([*(tmp_path / "lib" / s for s in lib["sources"]), tmp_path / "driver.c"], tmp_path / "drv",
                       include_dirs=[src], cc=cc, sanitize=True, extra_flags=[f"-DTINYRNN_PATH={lib['path_id']}"])
    x = _edge_values(quant)
    out = subprocess.run([exe, "q"], input=x.tobytes(), capture_output=True, check=True).stdout
    with np.errstate(invalid="ignore", over="ignore"):
        expected = np.clip(np.round((x - quant.offset) / quant.scale) + quant.zero_point, -128, 127)
    expected = np.where(np.isnan(x), quant.zero_point, expected).astype(np.int8)  # NaN: documented zero point
    np.testing.assert_array_equal(np.frombuffer(out, np.int8).reshape(x.shape), expected)
    np.testing.assert_array_equal(quant.quantize(x), expected)  # the golden quantizer agrees

    y = np.concatenate([rng.integers(-128, 128, (300, 7)), np.full((1, 7), 127), np.full((1, 7), -128),
                        [[-128] * 6 + [127]], [[5, 9, 9, 1, 9, -3, 0]]]).astype(np.int8)
    out = subprocess.run([exe, "o"], input=y.tobytes(), capture_output=True, check=True).stdout
    rec = np.frombuffer(out, np.dtype([("f", "<f4", 7), ("p", "<f4", 7), ("c", "<i4")]))
    scale, zp = np.float32(model.output_scale), model.output_zero_point
    np.testing.assert_array_equal(rec["f"], (y.astype(np.int32) - zp).astype(np.float32) * scale)
    np.testing.assert_array_equal(rec["c"], np.argmax(y, axis=1))
    real = (y.astype(np.float64) - zp) * float(model.output_scale)
    softmax = np.exp(real - real.max(axis=1, keepdims=True))
    np.testing.assert_allclose(rec["p"], softmax / softmax.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-7)


def test_sigmoid_classifier_probabilities(tmp_path):
    model = irgen.build_model(np.random.default_rng(8), 3, [4], [2], activation="sigmoid", name="edge")
    lib = render_library(model, tmp_path / "lib", "edge", core="host")
    header = (tmp_path / "lib" / "src" / "edge.h").read_text()
    assert "tinyrnn_edge_probabilities" in header and "tinyrnn_edge_argmax" not in header
    driver = tmp_path / "driver.c"
    driver.write_text('#include <stdio.h>\n#include "edge.h"\nint main(void) {\n'
                      '    int8_t y[2]; float p[2];\n'
                      '    for (int v = -128; v < 128; ++v) { y[0] = (int8_t)v; y[1] = (int8_t)(-1 - v);\n'
                      '        tinyrnn_edge_probabilities(y, p); fwrite(p, sizeof p, 1, stdout); }\n'
                      '    return 0;\n}\n')
    exe = compile_host([*(tmp_path / "lib" / s for s in lib["sources"]), driver], tmp_path / "drv",
                       include_dirs=[tmp_path / "lib" / "src"], extra_flags=[f"-DTINYRNN_PATH={lib['path_id']}"])
    p = np.frombuffer(subprocess.run([exe], capture_output=True, check=True).stdout, "<f4").reshape(256, 2)
    v = np.arange(-128, 128)
    for col, y in ((0, v), (1, -1 - v)):
        real = (y - model.output_zero_point) * float(model.output_scale)
        np.testing.assert_allclose(p[:, col], 1 / (1 + np.exp(-real)), rtol=1e-6)


# ----------------------------------------------------------------------- user builds
def _cmake_build(har, build: Path, *toolchain) -> Path:
    _, lib_dir, _, _, windows = har
    # -O2: what the library's stack figure is measured at.
    _run([CMAKE, "-S", USER, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_C_FLAGS_RELEASE=-O2",
          f"-DTINYRNN_LIB={lib_dir}",
          f"-DWINDOWS_DIR={windows}", *toolchain])
    _run([CMAKE, "--build", build, "-j2"])
    return build / "user_fw"


@pytest.mark.skipif(CMAKE is None or shutil.which("g++") is None, reason="needs cmake and g++")
def test_cmake_host_build_of_a_cpp_user_program_equals_golden(har, tmp_path):
    model, _, _, x, _ = har
    assert_golden(model, x, _run([_cmake_build(har, tmp_path / "build")]), "cmake + g++ (host)")


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_makefile_fragment_host_build_equals_golden(har, tmp_path):
    model, lib_dir, _, x, windows = har
    _run(["make", "-C", USER, f"TINYRNN_LIB={lib_dir}", f"WINDOWS_DIR={windows}", f"OUT={tmp_path}",
          f"{tmp_path}/user_fw"])
    assert_golden(model, x, _run([tmp_path / "user_fw"]), "tinyrnn.mk + g++ (host)")


@pytest.mark.qemu
@pytest.mark.skipif(None in (ARM_GCC, QEMU, CMAKE), reason="needs cmake, arm-none-eabi-gcc and qemu-system-arm")
def test_user_firmware_on_qemu_m4_from_the_library_alone_equals_golden(har, tmp_path):
    """The done-when of issue 14: a C++ firmware with its own startup, linker script and
    main, built by CMake + arm-none-eabi-g++ from the library folder alone, on QEMU."""
    model, _, lib, x, _ = har
    elf = _cmake_build(har, tmp_path / "build", f"-DCMAKE_TOOLCHAIN_FILE={USER / 'cortex-m4.cmake'}")
    text = _run([QEMU, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-semihosting-config",
                 "enable=on,target=native", "-kernel", elf])
    assert_golden(model, x, text, "cmake + arm-none-eabi-g++ on QEMU mps2-an386")
    # The painted stack of one _run on the device stays within the call-graph bound in har.h.
    painted = int.from_bytes(bytes.fromhex(re.search(r"^s ([0-9a-f]{8})$", text, re.M).group(1)), "little")
    assert 0 < painted <= lib["sizes"]["step_stack_bytes"], (painted, lib["stack"])


# ----------------------------------------------------------------------- other build systems
_ZEPHYR_STUB = """# Stand-ins for the four Zephyr CMake functions the module uses, so its CMakeLists.txt
# builds a host program here (no Zephyr tree offline).
cmake_minimum_required(VERSION 3.13)
project(zephyr_stub C CXX)
set(CONFIG_TINYRNN_HAR y)
macro(zephyr_library_named name)
  add_library(${name} STATIC)
  set(ZEPHYR_CURRENT_LIBRARY ${name})
endmacro()
function(zephyr_library_sources)
  target_sources(${ZEPHYR_CURRENT_LIBRARY} PRIVATE ${ARGN})
endfunction()
function(zephyr_include_directories)
  include_directories(${ARGN})
endfunction()
function(zephyr_library_compile_definitions)
  target_compile_definitions(${ZEPHYR_CURRENT_LIBRARY} PRIVATE ${ARGN})
endfunction()
include(${LIB}/zephyr/CMakeLists.txt)
add_executable(user_fw ${USER}/main.cpp)
target_include_directories(user_fw PRIVATE ${WINDOWS_DIR})
target_link_libraries(user_fw PRIVATE tinyrnn_har)
"""


@pytest.mark.skipif(CMAKE is None or shutil.which("g++") is None, reason="needs cmake and g++")
def test_zephyr_module_files(har, tmp_path):
    model, lib_dir, lib, x, windows = har
    module = (lib_dir / "zephyr" / "module.yml").read_text()
    assert re.search(r"^name: tinyrnn_har$", module, re.M)
    assert re.search(r"^build:\n  cmake: zephyr\n  kconfig: zephyr/Kconfig$", module, re.M)
    kconfig = (lib_dir / "zephyr" / "Kconfig").read_text()
    assert re.search(r"^config TINYRNN_HAR\n\tbool \"", kconfig, re.M)
    cmake = (lib_dir / "zephyr" / "CMakeLists.txt").read_text()
    assert "if(CONFIG_TINYRNN_HAR)" in cmake
    assert re.findall(r"\.\./(src/\S+\.c)", cmake) == lib["sources"]
    (tmp_path / "CMakeLists.txt").write_text(_ZEPHYR_STUB)
    _run([CMAKE, "-S", tmp_path, "-B", tmp_path / "build", f"-DLIB={lib_dir}", f"-DUSER={USER}",
          f"-DWINDOWS_DIR={windows}"])
    _run([CMAKE, "--build", tmp_path / "build", "-j2"])
    assert_golden(model, x, _run([tmp_path / "build" / "user_fw"]), "zephyr/CMakeLists.txt (stubbed Zephyr API)")


def test_arduino_library_properties(har):
    _, lib_dir, _, _, _ = har
    props = dict(line.split("=", 1) for line in (lib_dir / "library.properties").read_text().splitlines())
    required = ("name", "version", "author", "maintainer", "sentence", "paragraph", "category", "url",
                "architectures")
    assert all(k in props for k in required), sorted(set(required) - set(props))
    assert props["name"] == "tinyrnn_har" and re.fullmatch(r"\d+\.\d+\.\d+", props["version"])
    assert props["category"] == "Data Processing" and props["includes"] == "har.h"
    # 1.5 format: a src/ folder, compiled recursively, no sources at the top.
    assert (lib_dir / "src" / "har.h").is_file() and not list(lib_dir.glob("*.c"))


def test_platformio_library_json(har, tmp_path):
    _, lib_dir, lib, _, _ = har
    manifest = json.loads((lib_dir / "library.json").read_text())
    assert manifest["name"] == "tinyrnn_har" and manifest["headers"] == "har.h"
    assert manifest["build"] == {"srcDir": "src", "includeDir": "src", "flags": ["-DTINYRNN_PATH=4"]}
    pio = shutil.which("pio", path=str(Path(sys.executable).parent))
    if pio is None:
        pytest.skip("platformio not installed (requirements.txt pins it)")
    # `pio pkg pack` parses and validates the manifest offline and packs what a registry would get.
    _run([pio, "pkg", "pack", lib_dir, "--output", tmp_path / "har.tar.gz"])
    listing = _run(["tar", "tzf", tmp_path / "har.tar.gz"]).split()
    assert set(lib["sources"]) <= set(listing) and "library.json" in listing


# ----------------------------------------------------------------------- README
def readme_example() -> str:
    section = README.read_text().split("## Use it in your firmware", 1)[1]
    return re.findall(r"```c\n(.*?)```", section, re.S)[0]


def test_readme_example_classifies_float_windows_as_the_golden_model(har, tmp_path):
    model, lib_dir, lib, x, windows = har
    code = readme_example()
    assert 10 <= len(code.strip().splitlines()) <= 20
    (tmp_path / "classify.c").write_text(code)
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "windows.h"\n#include "har.h"\n'
        "int classify(const float samples[][TINYRNN_HAR_INPUT_SIZE], int steps);\n"
        "int main(void) {\n    for (int w = 0; w < USER_WINDOWS; ++w)\n"
        '        printf("%d\\n", classify(user_windows[w], USER_STEPS));\n    return 0;\n}\n')
    exe = compile_host([*(lib_dir / s for s in lib["sources"]), tmp_path / "classify.c", tmp_path / "main.c"],
                       tmp_path / "classify", include_dirs=[lib_dir / "src", windows], sanitize=True,
                       extra_flags=["-DTINYRNN_PATH=4"])
    classes = [int(v) for v in _run([exe]).split()]
    golden = run_model(model, model.input_quant.quantize(x))
    assert classes == np.argmax(golden, axis=-1).tolist()
    if ARM_GCC:
        _run([ARM_GCC, *lib["cpu_flags"], "-O2", "-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Werror",
              f"-I{lib_dir / 'src'}", "-c", tmp_path / "classify.c", "-o", tmp_path / "classify.o"])


# ----------------------------------------------------------------------- CLI
def test_cli_writes_a_library_folder_and_refuses_to_build_it(tmp_path):
    from test_cli import run_cli, run_json

    from tinyrnn.core import tnr

    model = har_model()
    tnr.save(model, tmp_path / "har.tnr")
    for core, path in (("cortex-m55", "mve"), ("cortex-m0plus", "plain")):
        out = run_json("codegen", tmp_path / "har.tnr", "--core", core, "--name", "har", "--out", tmp_path / "m0")
        assert out["path"] == path and out["core"] == core and "src/har.h" in out["files"]
        assert (out["step_stack_bytes"] is not None) == (ARM_GCC is not None), core
    assert not (tmp_path / "m0" / "app").exists() and not (tmp_path / "m0" / "Makefile").exists()
    assert "TINYRNN_PATH_PLAIN" in (tmp_path / "m0" / "src" / "har_weights.h").read_text()
    proc = run_cli("build", tmp_path / "m0")
    assert proc.returncode == 2 and "is a model library folder" in proc.stderr
    proc = run_cli("codegen", tmp_path / "har.tnr", "--core", "cortex-m4", "--app", "--out", tmp_path / "x")
    assert proc.returncode == 2 and "--app builds for a catalogue board" in proc.stderr


def test_weight_layout_is_the_users_choice(tmp_path):
    """--weights int8 (default: one byte per weight on every core) or int16 (the faster
    paths of M3 and the DSP cores at twice the weight flash); cores without an int16
    path, and a --path that stores the other layout, are one-line errors."""
    from test_cli import run_cli, run_json

    from tinyrnn.core import tnr

    tnr.save(har_model(), tmp_path / "har.tnr")
    sizes = {}
    for core, weights, path in (("cortex-m4", None, "dsp8"), ("cortex-m4", "int16", "dsp"), ("cortex-m3", None, "plain"),
                                ("cortex-m3", "int16", "wide"), ("cortex-m0plus", "int8", "plain")):
        extra = ["--weights", weights] if weights else []
        out = run_json("codegen", tmp_path / "har.tnr", "--core", core, *extra, "--out", tmp_path / core / str(weights))
        assert (out["path"], out["weights"]) == (path, weights or "int8"), (core, weights)
        sizes[(core, out["weights"])] = out["weights_bytes"]
    # one more byte per (padded) weight: 32 units x 4 gates x (3 + 8) groups of four
    assert sizes[("cortex-m4", "int16")] - sizes[("cortex-m4", "int8")] == 32 * 4 * (3 + 8) * 4
    for args, fragment in ((["--core", "cortex-m0plus", "--weights", "int16"], "cortex-m0plus has no int16 weight layout"),
                           (["--core", "cortex-m55", "--weights", "int16"], "cortex-m55 has no int16 weight layout"),
                           (["--board", "mps2-an386", "--path", "dsp", "--weights", "int8"],
                            "--path dsp stores int16 weights, not int8")):
        proc = run_cli("codegen", tmp_path / "har.tnr", *args, "--out", tmp_path / "bad")
        errors = [line for line in proc.stderr.splitlines() if line.startswith("tinyrnn: error:")]
        assert proc.returncode == 2 and len(errors) == 1 and fragment in errors[0], proc.stderr
        assert not (tmp_path / "bad").exists()


@pytest.mark.skipif(ARM_GCC is None, reason="arm-none-eabi-gcc not installed")
def test_build_json_reports_the_model_apart_from_the_test_app(tmp_path):
    from test_cli import run_json

    from tinyrnn.core import tnr

    model = har_model()
    tnr.save(model, tmp_path / "har.tnr")
    gen = run_json("codegen", tmp_path / "har.tnr", "--board", "mps2-an386", "--app", "--out", tmp_path / "fw")
    assert gen["library_dir"] == str(tmp_path / "fw" / "lib") and (gen["path"], gen["weights"]) == ("dsp8", "int8")
    lib = json.loads((tmp_path / "fw" / "lib" / "tinyrnn_library.json").read_text())
    makefile = (tmp_path / "fw" / "Makefile").read_text()
    assert "include lib/tinyrnn.mk" in makefile and not list((tmp_path / "fw" / "app").glob("tinyrnn_lstm*"))
    built = run_json("build", tmp_path / "fw")
    m, app = built["model"], built["app"]
    assert m["ram_state_bytes"] == lib["sizes"]["state_bytes"] == 184 and m["ram_work_bytes"] == 88
    assert m["step_stack_bytes"] == lib["sizes"]["step_stack_bytes"] > 0
    assert (m["path"], m["weights"]) == ("dsp8", "int8")
    assert 1000 < m["flash_code_bytes"] < 8000 and 32 * 4 * (3 + 8) * 4 <= m["flash_weights_bytes"]
    assert m["flash_code_bytes"] + m["flash_weights_bytes"] + app["flash_bytes"] == built["flash_bytes"]
    assert app["stack_reserved_bytes"] == 16384 and app["ram_bytes"] + 184 == built["ram_bytes"]


def test_kernel_selection_follows_the_layer_kinds():
    from tinyrnn.codegen.kernel_set import SUPPORT_SOURCES, kernel_files, kernel_selection

    shipped = {f.name for f in kernel_files()}
    for kinds in (["lstm"], ["gru"], ["dense", "lstm"], ["dense", "gru", "lstm"]):
        chosen = {f.name: f for f in kernel_selection(kinds)}
        sources = {n for n in chosen if n.endswith(".c")}
        support = {s for s in SUPPORT_SOURCES if s in shipped}
        assert sources == {f"tinyrnn_{k}_s8.c" for k in kinds} | support, kinds
        for f in chosen.values():  # closed under #include: every local header it names is there
            local = set(re.findall(r'#\s*include\s+"([^"]+)"', f.read_text()))
            assert local <= set(chosen), (kinds, f.name, local - set(chosen))
    assert "tinyrnn_activation_s16.c" not in {f.name for f in kernel_selection(["lstm", "gru", "dense"])}


def test_rerendering_a_library_drops_kernels_it_no_longer_needs(tmp_path):
    gru = irgen.build_model(np.random.default_rng(1), 4, [5], [3], kinds=["gru"], name="m")
    render_library(gru, tmp_path / "lib", core="host")
    assert (tmp_path / "lib" / "src" / "tinyrnn_gru_s8.c").is_file()
    lib = render_library(har_model(), tmp_path / "lib", core="host")
    names = {p.name for p in (tmp_path / "lib" / "src").iterdir()}
    assert "tinyrnn_gru_s8.c" not in names and "tinyrnn_lstm_s8.c" in names
    assert sorted(str(p.relative_to(tmp_path / "lib")) for p in (tmp_path / "lib").rglob("*") if p.is_file()) == \
        sorted(lib["files"])
