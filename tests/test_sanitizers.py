"""The generated C under AddressSanitizer + UBSan with gcc AND clang, and warning-free for every board.

Host builds (``codegen/hostlib.py``, sanitize=True) must equal the golden model bit for
bit over random models and inputs and over the extremes: inputs all -128 / all 127,
every weight at -128 or 127, and an LSTM whose cell state saturates. Any sanitizer
report makes the run fail (the driver exits non-zero, or stderr is non-empty).
Cross builds: the model C + kernels compile with ``-Wall -Wextra -Wconversion -Werror``
and each catalogue board's arch flags.
"""

from __future__ import annotations

import shutil
import subprocess

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.firmware import arch_flags
from tinyrnn.codegen.generate import generate
from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.codegen.layout import PATH_IDS
from tinyrnn.core.boards import board_names, get_board, kernel_path, weight_layouts
from tinyrnn.core.golden.lstm_s8 import lstm_s8
from tinyrnn.core.golden.model import run_model

CLANG_RT_PACKAGE = "libclang-rt-14-dev"  # Debian: clang's ASan/UBSan runtimes (only Recommended by clang)


def _require(cc: str, tmp_path) -> None:
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    proc = subprocess.run([cc, "-fsanitize=address,undefined", str(probe), "-o", str(tmp_path / "probe")],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, f"{cc} cannot link the sanitizer runtimes (install {CLANG_RT_PACKAGE}):\n{proc.stderr}"


def _rails(rng, model, n: int, steps: int) -> np.ndarray:
    """All -128, all 127, then alternating and random rails."""
    x = irgen.random_input(rng, model, n, steps, extreme=True)
    x[0], x[1] = -128, 127
    return x


def _max_magnitude_model(rng):
    """Every weight -128 or 127 (one value per array), mixed kinds, Dense head."""
    real = irgen._weights
    irgen._weights = lambda r, shape, extreme: np.full(shape, r.choice([-128, 127]), np.int8)
    try:
        return irgen.build_model(rng, 7, [9, 6, 5], [4], kinds=["lstm", "gru", "gru_before"], extreme=0.5)
    finally:
        irgen._weights = real


def _cell_saturating_model(rng):
    """LSTM whose int16 cell state hits the rails: large i*g steps, no clip."""
    model = irgen.build_model(rng, 6, [8, 7], [3], returns_sequences=False)
    for layer in model.layers[:2]:
        layer.cell_clip = 0
        layer.input_to_cell_multiplier, layer.input_to_cell_shift = 2**30, 0
    return model


def _models():
    rng = np.random.default_rng(2024)
    return {
        "random": (irgen.random_model(rng, max_size=24, kinds=irgen.RECURRENT_KINDS, extreme=0.0), rng),
        "extreme": (irgen.random_model(rng, max_size=24, kinds=irgen.RECURRENT_KINDS, extreme=1.0), rng),
        "max_weights": (_max_magnitude_model(rng), rng),
        "cell_saturation": (_cell_saturating_model(rng), rng),
    }


def _check(host: HostModel, model, x: np.ndarray, what: str) -> None:
    for mode, got, want in (("run", host.run(x), run_model(model, x)),
                            ("step", host.step(x), irgen.golden_step_outputs(model, x)),
                            ("two instances", host.run_pairs(x), irgen.golden_step_outputs(model, x))):  # fmt: skip
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"{what} {mode}: {len(bad)} elements differ, first at {bad[0].tolist()}"


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_golden_equals_c_under_asan_and_ubsan(cc, tmp_path):
    _require(cc, tmp_path)
    for name, (model, rng) in _models().items():
        host = HostModel(model, tmp_path / name, sanitize=True, cc=cc)
        x = np.concatenate([irgen.random_input(rng, model, 10, 9), _rails(rng, model, 6, 9)])
        _check(host, model, x, f"{cc} {name}")


def test_the_extreme_models_reach_their_extremes():
    """Guards the test above: the saturation paths it claims to cover are really taken."""
    models = _models()
    sat_model, rng = models["cell_saturation"]
    x = _rails(rng, sat_model, 6, 9)
    cell = lstm_s8(sat_model.layers[0], x)[1][1]
    assert cell.max() == 32767 and cell.min() == -32768, "cell state did not saturate both ways"
    weights = models["max_weights"][0].layers[0].w_x
    assert set(np.unique(weights)) <= {-128, 127}


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_generated_c_is_warning_free_on_every_board(tmp_path):
    model = _max_magnitude_model(np.random.default_rng(5))
    boards = board_names()
    assert len(boards) >= 7
    for board, weights in ((b, w) for b in boards for w in weight_layouts(b)):  # every layout the board has
        out = tmp_path / board / weights
        path = kernel_path(board, weights=weights)
        gen = generate(model, out / "src", name="har", path=path)
        sources = [f for f in gen["files"] if f.endswith(".c")]
        cmd = ["arm-none-eabi-gcc", *arch_flags(get_board(board)), f"-DTINYRNN_PATH={PATH_IDS[path]}", "-O2", "-std=c99",
               "-Wall", "-Wextra", "-Wconversion", "-Werror", "-Wpedantic", "-Wshadow", "-c", *sources]  # fmt: skip
        proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
        assert proc.returncode == 0, f"{board} {weights}: {' '.join(cmd[:9])}\n{proc.stderr}"
        assert len(list(out.glob("*.o"))) == len(sources)


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_a_sanitizer_report_fails_the_run(cc, tmp_path):
    """The canary: a report must surface as an error, or 'zero reports' above would mean nothing."""
    from tinyrnn.codegen.hostlib import compile_host, run_host
    from tinyrnn.core.errors import TinyrnnError

    _require(cc, tmp_path)
    src = tmp_path / "ub.c"
    src.write_text("#include <limits.h>\nint main(int argc, char **argv) {\n  (void)argv;\n"
                   "  int x = INT_MAX - 1 + argc;\n  x += argc;\n  return x == 0;\n}\n")
    exe = compile_host([src], tmp_path / "ub", sanitize=True, cc=cc, opt="-O0")
    with pytest.raises(TinyrnnError, match="runtime error: signed integer overflow"):
        run_host(exe, [], b"", sanitize=True)
