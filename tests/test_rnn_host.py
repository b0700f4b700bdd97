"""The int8 SimpleRNN kernel: generated C (host, every kernel path, QEMU boards) against the golden model.

Property-style: random shapes 1..40, tanh and relu, weights at ±127/−128, saturating
inputs and states, stacks mixing SimpleRNN with LSTM/GRU, every head; every output
element compared, for _run, _step and two interleaved instances. Plus states from
anywhere in int8, ASan+UBSan on each host path, precondition errors naming the layer,
exact state sizes, and the M0/M4/M55 QEMU boards.
"""

from __future__ import annotations

import dataclasses
import shutil

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.generate import build_context, generate
from tinyrnn.codegen.hostlib import HostModel, run_layer
from tinyrnn.codegen.layout import stage_words
from tinyrnn.codegen.rnn import block_rows
from tinyrnn.core import tnr
from tinyrnn.core.boards import qemu_boards
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.golden.rnn_s8 import rnn_s8
from tinyrnn.core.ir import Model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
_have_arm = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
KINDS = (*irgen.RECURRENT_KINDS, *irgen.RNN_KINDS)


def _inputs(rng, model, batch: int, steps: int) -> np.ndarray:
    return np.concatenate([irgen.random_input(rng, model, batch, steps),
                           irgen.random_input(rng, model, 3, steps, extreme=True)])


def _check_all_modes(host: HostModel, model, x, what: str) -> None:
    np.testing.assert_array_equal(host.run(x), run_model(model, x), err_msg=f"{what} _run")
    steps = irgen.golden_step_outputs(model, x)
    np.testing.assert_array_equal(host.step(x), steps, err_msg=f"{what} _step")
    if x.shape[0] % 2 == 0:
        np.testing.assert_array_equal(host.run_pairs(x), steps, err_msg=f"{what} two instances")


@needs_gcc
@pytest.mark.parametrize("seed", range(8))
def test_random_stacks_with_simple_rnn(seed, tmp_path):
    """1–3 recurrent layers, at least one a SimpleRNN (tanh or relu), 0–2 Dense, any head."""
    rng = np.random.default_rng(7000 + seed)
    model = irgen.random_model(rng, extreme=(0.0, 0.3, 1.0)[seed % 3], kinds=KINDS)
    first = irgen.RNN_KINDS[seed % 2]
    model.layers[0] = irgen.recurrent_layer(rng, first, model.input_size, model.layers[0].output_size,
                                            return_sequences=model.layers[0].return_sequences, name=first)
    kinds = [getattr(layer, "activation", layer.kind) for layer in model.layers]
    _check_all_modes(HostModel(model, tmp_path), model, _inputs(rng, model, 4, int(rng.integers(1, 10))),
                     f"seed {seed} {kinds}")


def _lone_layers(rng, activation: str) -> Model:
    """Sizes 1..40 (incl. 1 and non-multiples of 4), realistic and extreme, stacked."""
    layers, width = [], 40
    for k, (size, extreme) in enumerate(zip([*rng.integers(1, 41, 3), 1, 4], (0.0, 1.0, 0.5, 1.0, 0.0))):
        layers.append(irgen.rnn_layer(rng, width, int(size), activation=activation, extreme=extreme, name=f"r{k}"))
        width = int(size)
    return Model(name="m", input_size=40, input_quant=irgen.identity_input_quant(40), layers=layers)


@needs_gcc
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_lone_layers_from_any_state(activation, tmp_path):
    rng = np.random.default_rng(11 if activation == "tanh" else 12)
    model = _lone_layers(rng, activation)
    host = HostModel(model, tmp_path)
    x = _inputs(rng, model, 5, 12)
    _check_all_modes(host, model, x, activation)
    states = [rng.integers(-128, 128, (x.shape[0], layer.hidden_size)).astype(np.int8) for layer in model.layers]
    for s in states:
        s[0], s[-1] = 127, -128
    want, y = [], x
    for layer, s in zip(model.layers, states):
        y, _ = rnn_s8(layer, y, state=s)
    want = y
    np.testing.assert_array_equal(host.run_from_state(x, states), want, err_msg=f"{activation} from state")
    # The realistic layer really lives inside the activation, not only at the rails.
    h = rnn_s8(model.layers[0], x[:5])[0]
    assert len(np.unique(h)) > 50 and np.mean(np.abs(h) >= 127) < 0.5
    if activation == "relu":
        zp = model.layers[0].hidden_zero_point
        assert np.mean(h == zp) > 0.1 and np.mean(h > zp) > 0.3  # both sides of the relu


@needs_gcc
@pytest.mark.parametrize("path", ["plain", "wide", "dsp", "dsp8"], ids=["plain", "wide", "dsp-emulated", "dsp8-emulated"])
def test_host_paths_under_sanitizers(path, tmp_path):
    """Each C path (weight layout + dot loop) on the host under ASan + UBSan: tanh and relu
    layers with padded blocks, an LSTM between them, extremes forcing the reference path."""
    rng = np.random.default_rng(90 + ["plain", "wide", "dsp", "mve", "dsp8"].index(path))
    model = irgen.build_model(rng, 13, [7, 9, 6], [5], returns_sequences=True, extreme=0.5,
                              kinds=["rnn", "lstm", "rnn_relu"])
    x = _inputs(rng, model, 3, 6)
    host = HostModel(model, tmp_path, sanitize=True, path=path)
    np.testing.assert_array_equal(host.step(x), irgen.golden_step_outputs(model, x))


@needs_gcc
def test_run_layer_helper_and_clang(tmp_path):
    rng = np.random.default_rng(8)
    layer = irgen.rnn_layer(rng, 5, 7, activation="relu")
    x = rng.integers(-128, 128, (4, 6, 5), dtype=np.int8)
    h0 = rng.integers(-128, 128, (4, 7)).astype(np.int8)
    np.testing.assert_array_equal(run_layer(layer, x, tmp_path / "a"), rnn_s8(layer, x)[0])
    np.testing.assert_array_equal(run_layer(layer, x, tmp_path / "b", state=h0), rnn_s8(layer, x, state=h0)[0])
    if shutil.which("clang"):
        np.testing.assert_array_equal(run_layer(layer, x, tmp_path / "c", cc="clang"), rnn_s8(layer, x)[0])


# ----------------------------------------------------------------------------- structure
def test_block_rows_groups_four_units():
    w = np.arange(6 * 3, dtype=np.int8).reshape(6, 3)
    rows = block_rows(w)  # (4, 2, 3): block 0 = units 0..3, block 1 = units 4, 5 + two zero rows
    assert rows.shape == (4, 2, 3)
    np.testing.assert_array_equal(rows[:, 0], w[:4])
    np.testing.assert_array_equal(rows[:2, 1], w[4:])
    assert not rows[2:, 1].any()


def test_state_bytes_exact(tmp_path):
    """int32 work area (x and h staged, largest layer) + int8 h per layer + hidden Dense outputs."""
    rng = np.random.default_rng(2)
    model = irgen.build_model(rng, 3, [6, 5], [3, 2], kinds=["rnn", "rnn_relu"])
    work = max(stage_words(3) + stage_words(6), stage_words(6) + stage_words(5))
    ctx = build_context(model, "m")
    assert ctx["state_bytes"] == -(-(4 * work + 6 + 5 + 3) // 4) * 4
    assert [f[3] for f in ctx["state_fields"] if f[1] in ("l0_h", "l1_h")] == [0, model.layers[1].hidden_zero_point]
    out = generate(model, tmp_path, name="r")
    assert f"#define TINYRNN_R_STATE_BYTES {out['state_bytes']}" in (tmp_path / "r.h").read_text()


def test_artifact_round_trip_and_validation(tmp_path):
    """tnr.save/load keeps a SimpleRNN model bit for bit; validate refuses a bad activation or shape."""
    model = irgen.build_model(np.random.default_rng(4), 5, [6, 3], [2], kinds=["rnn_relu", "rnn"])
    tnr.save(model, tmp_path / "m.tnr")
    again = tnr.load(tmp_path / "m.tnr")
    assert again.content_hash() == model.content_hash()
    assert [(la.kind, getattr(la, "activation", None)) for la in again.layers] == [("rnn", "relu"), ("rnn", "tanh"),
                                                                                   ("dense", "linear")]
    from tinyrnn.core.validate import validate

    for change, message in (({"activation": "gelu"}, "activation 'gelu' unknown"),
                            ({"bias": np.zeros(5, np.int32)}, "array 'bias' has shape"),
                            ({"x_shift": 2**31}, "x_shift")):
        bad = dataclasses.replace(model, layers=[dataclasses.replace(model.layers[0], **change), *model.layers[1:]])
        with pytest.raises(TinyrnnError, match=message):
            validate(bad)


def _with(layer_index: int, **changes):
    return lambda m: m.layers.__setitem__(layer_index, dataclasses.replace(m.layers[layer_index], **changes))


@pytest.mark.parametrize("mutate, message", [
    (_with(0, activation="sigmoid"), "activation 'sigmoid'"),
    (_with(0, hidden_zero_point=3), "zero point 0"),
    (_with(0, hidden_scale=0.01), "scale 1/128"),
    (_with(1, hidden_zero_point=-129), "hidden_zero_point"),
    (_with(1, x_shift=31), "x_shift"),
    (_with(1, w_h=np.zeros((4, 5), np.int8)), "w_h has shape"),
    (_with(1, bias=np.full(4, 2**31 - 100, np.int32), input_zero_point=0), "accumulator can overflow"),
    (_with(1, bias=np.full(4, 2**31 - 1, np.int32), input_zero_point=-128, w_x=np.full((4, 5), 127, np.int8)),
     "bias overflows int32"),
    (_with(1, h_multiplier=3, h_shift=30), "h_shift = 30: recurrent matmul .* overflows int32"),
    (_with(0, return_sequences=False), "must return sequences"),
])
def test_invalid_rnn_rejected_naming_layer(tmp_path, mutate, message):
    model = irgen.build_model(np.random.default_rng(0), 4, [5, 4], [2], kinds=["rnn", "rnn_relu"])
    mutate(model)
    with pytest.raises(TinyrnnError, match=message) as err:
        generate(model, tmp_path)
    assert "\n" not in str(err.value)
    assert "rnn_0" in str(err.value) or "rnn_relu_1" in str(err.value)


# ----------------------------------------------------------------------------- boards
def board_models() -> list:
    """A realistic stack (tanh and relu SimpleRNN around a GRU, odd sizes: padded blocks and
    tails, a head) and one lone extreme layer per activation (rails, the reference
    requantization; seeds picked so their outputs still vary)."""
    rng = np.random.default_rng(61)
    stack = irgen.build_model(rng, 13, [11, 9, 7], [5], returns_sequences=True, kinds=["rnn", "gru", "rnn_relu"],
                              name="rnnstack")
    extremes = []
    for seed, act in ((10, "tanh"), (2, "relu")):
        layer = irgen.rnn_layer(np.random.default_rng(seed), 7, 6, activation=act, extreme=1.0, name=f"{act}_x")
        extremes.append(Model(name=f"extreme_{act}", input_size=7, input_quant=irgen.identity_input_quant(7),
                              layers=[layer]))
    return [stack, *extremes]


def _board_inputs(model, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = irgen.random_input(rng, model, 3, 6)
    x[2] = irgen.random_input(rng, model, 1, 6, extreme=True)[0]
    return x


def test_board_models_reach_reference_padding_and_live_outputs():
    stack, *extremes = (build_context(m, "m") for m in board_models())
    assert [r["fields"]["tanh"] for r in stack["recurrent"] if r["kind"] == "rnn"] == [1, 0]
    assert not any(r["fields"]["reference"] for r in stack["recurrent"])
    assert all(r["size"] % 4 for r in stack["recurrent"])
    assert [e["recurrent"][0]["fields"]["reference"] for e in extremes] == [1, 1]
    for k, model in enumerate(board_models()):  # the compared outputs are not stuck at a rail
        assert len(np.unique(run_model(model, _board_inputs(model, 100 + k)))) > 5


@pytest.mark.qemu
@pytest.mark.skipif(not _have_arm, reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board", [b for b in ("microbit", "mps2-an386", "mps3-an547") if b in qemu_boards()])
def test_board_equals_golden(board, tmp_path):
    """PLAIN (M0), DSP (M4) and MVE (M55) paths on QEMU: every step's output == golden."""
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    for k, model in enumerate(board_models()):
        x = _board_inputs(model, 100 + k)
        with connect(f"qemu:{board}", model, tmp_path / model.name) as (device, _):
            result = verify_device(device, model, x, progress=False)
        assert result.error is None, f"{board} {model.name}: {result.error}"
        assert result.sequences == len(x), f"{board} {model.name}: only {result.sequences} sequences ran"
        assert result.mismatches == 0, f"{board} {model.name}: first mismatch {result.first_mismatch}"
