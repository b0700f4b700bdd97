"""The int8 GRU kernel and GRU/LSTM stacks: generated C (host) against the golden model.

Property-style: random shapes 1..40, both reset_after variants, weights at ±127/−128,
saturating inputs and states, mixed LSTM/GRU stacks of 1–3 layers, every head, with and
without sequences; every output element compared. Plus one ASan+UBSan run, the
streaming API, precondition errors, exact state sizes and Cortex-M cross-compiles.
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
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.dense_s8 import dense_s8
from tinyrnn.core.golden.gru_s8 import gru_s8
from tinyrnn.core.golden.model import RECURRENT, run_model
from tinyrnn.core.ir import Model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
KINDS = irgen.RECURRENT_KINDS


def _assert_same(c_out, golden, what: str) -> None:
    assert c_out.shape == golden.shape, f"{what}: shape {c_out.shape} != {golden.shape}"
    bad = np.argwhere(c_out != golden)
    assert bad.size == 0, f"{what}: {len(bad)} elements differ, first at {bad[0].tolist()}: " \
                          f"C={c_out[tuple(bad[0])]} golden={golden[tuple(bad[0])]}"


def _inputs(rng, model, batch: int, steps: int) -> np.ndarray:
    """Random int8 sequences plus saturating ones (all −128, all 127, mixed rails)."""
    return np.concatenate([irgen.random_input(rng, model, batch, steps),
                           irgen.random_input(rng, model, 3, steps, extreme=True)])


def _check_all_modes(host: HostModel, model, x, what: str = "") -> None:
    """_run, T x _step, two interleaved instances: all equal the golden model."""
    _assert_same(host.run(x), run_model(model, x), f"{what} _run")
    steps = irgen.golden_step_outputs(model, x)
    _assert_same(host.step(x), steps, f"{what} _step")
    if x.shape[0] % 2 == 0:
        _assert_same(host.run_pairs(x), steps, f"{what} two instances")


def _random_states(rng, model, n: int) -> list:
    """One initial state per recurrent layer, rails included: LSTM (h, c), GRU h16."""
    states = []
    for layer in (la for la in model.layers if la.kind != "dense"):
        shape = (n, layer.hidden_size)
        c = rng.integers(-32768, 32768, shape).astype(np.int16)
        c[0], c[-1] = 32767, -32768  # h16 at both rails: h8 = round(h16/256) saturates at 127
        h = rng.integers(-128, 128, shape).astype(np.int8)
        states.append(c if layer.kind == "gru" else (h, c))
    return states


def _golden_from_states(model, x, states) -> np.ndarray:
    """Golden (N, T, O) for every step, each recurrent layer starting from its state."""
    y, it = x, iter(states)
    for layer in model.layers:
        if layer.kind == "dense":
            y = dense_s8(layer, y)
        else:
            y, _ = RECURRENT[layer.kind](layer, y, state=next(it))
    return y


# ----------------------------------------------------------------------------- properties
@needs_gcc
@pytest.mark.parametrize("seed", range(12))
def test_random_mixed_stacks(seed, tmp_path):
    """1–3 recurrent layers drawn from LSTM/GRU/GRU(reset_after=False), 0–2 Dense, any head."""
    rng = np.random.default_rng(4000 + seed)
    model = irgen.random_model(rng, extreme=(0.0, 0.3, 1.0)[seed % 3], kinds=KINDS)
    host = HostModel(model, tmp_path)
    x = _inputs(rng, model, 3, int(rng.integers(1, 10)))
    kinds = [layer.kind for layer in model.layers]
    _check_all_modes(host, model, x, f"seed {seed} {kinds}")


@needs_gcc
@pytest.mark.parametrize("reset_after", [True, False])
def test_lone_gru_layers_from_any_state(reset_after, tmp_path):
    """Single GRU layers (sizes 1..40, realistic and extreme parameters) stacked into one
    model: every step's h8, from zero and from random/railed initial h16."""
    rng = np.random.default_rng(int(reset_after))
    kind = "gru" if reset_after else "gru_before"
    layers, width = [], 40
    for k, (size, extreme) in enumerate(zip([*rng.integers(1, 41, 3), 1], (0.0, 1.0, 0.5, 1.0))):
        layers.append(irgen.gru_layer(rng, width, int(size), reset_after=reset_after, extreme=extreme, name=f"g{k}"))
        width = int(size)
    model = Model(name="m", input_size=40, input_quant=irgen.identity_input_quant(40), layers=layers)
    host = HostModel(model, tmp_path)
    x = _inputs(rng, model, 5, 12)
    _check_all_modes(host, model, x, kind)
    states = _random_states(rng, model, x.shape[0])
    _assert_same(host.run_from_state(x, states), _golden_from_states(model, x, states), f"{kind} from state")
    # The realistic layer really lives inside the activations, not only at the rails.
    h8 = gru_s8(model.layers[0], x[:5])[0]
    assert len(np.unique(h8)) > 50 and np.mean(np.abs(h8) == 127) < 0.5


CONFIGS = {  # name: (F, recurrent kinds, hidden sizes, dense sizes, head, returns_sequences, extreme)
    "gru_only_last": (3, ["gru"], [5], [], "linear", False, 0.0),
    "gru_before_seq_width1": (1, ["gru_before"], [1], [], "linear", True, 0.0),
    "gru_lstm_relu": (9, ["gru", "lstm"], [12, 6], [4], "relu", False, 0.0),
    "lstm_gru_softmax_seq": (6, ["lstm", "gru_before"], [9, 7], [7, 3], "softmax", True, 0.2),
    "three_mixed_sigmoid": (10, ["gru_before", "lstm", "gru"], [7, 5, 8], [4], "sigmoid", False, 0.3),
    "forty_extreme": (40, ["gru", "gru_before"], [40, 40], [40], "linear", True, 1.0),
}


@needs_gcc
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_configured_stacks(config, tmp_path):
    features, kinds, hidden, dense, act, seq, extreme = CONFIGS[config]
    rng = np.random.default_rng(100 + sorted(CONFIGS).index(config))
    model = irgen.build_model(rng, features, hidden, dense, activation=act, returns_sequences=seq,
                              extreme=extreme, kinds=kinds)
    _check_all_modes(HostModel(model, tmp_path), model, _inputs(rng, model, 3, 7), config)


@needs_gcc
def test_sanitizers_and_clang(tmp_path):
    """ASan + UBSan: any report makes the driver exit non-zero → TinyrnnError. The same
    model also builds warning-free with clang and agrees."""
    rng = np.random.default_rng(77)
    model = irgen.build_model(rng, 17, [23, 9, 11], [8, 5], activation="relu", extreme=0.6,
                              kinds=["gru_before", "lstm", "gru"])
    x = _inputs(rng, model, 5, 9)
    host = HostModel(model, tmp_path / "asan", sanitize=True)
    _check_all_modes(host, model, x, "asan")
    states = _random_states(rng, model, x.shape[0])
    _assert_same(host.run_from_state(x, states), _golden_from_states(model, x, states), "asan from state")
    if shutil.which("clang"):
        _assert_same(HostModel(model, tmp_path / "clang", cc="clang").run(x), run_model(model, x), "clang")


@needs_gcc
def test_run_layer_helper(tmp_path):
    rng = np.random.default_rng(8)
    layer = irgen.gru_layer(rng, 5, 7, reset_after=False)
    x = rng.integers(-128, 128, (4, 6, 5), dtype=np.int8)
    h16 = rng.integers(-32768, 32768, (4, 7)).astype(np.int16)
    _assert_same(run_layer(layer, x, tmp_path / "a"), gru_s8(layer, x)[0], "run_layer")
    _assert_same(run_layer(layer, x, tmp_path / "b", state=h16), gru_s8(layer, x, state=h16)[0], "from h16")


# ----------------------------------------------------------------------------- structure
def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def test_state_bytes_exact(tmp_path):
    """int32 work area (x and h staged, the largest layer's); int16: h16/c per layer +
    scratch (2H for a GRU without reset_after); int8: h per layer, hidden Dense outputs,
    scratch8 (H); the struct is 4-byte aligned."""
    rng = np.random.default_rng(2)
    model = irgen.build_model(rng, 3, [6, 4, 5], [3, 2], kinds=["gru", "gru_before", "lstm"])
    work = max(stage_words(3) + stage_words(6), stage_words(6) + stage_words(4), stage_words(4) + stage_words(5))
    assert build_context(model, "m")["state_bytes"] == _align4(4 * work + 2 * (6 + 4 + 5 + 8) + (6 + 4 + 5 + 3 + 4))
    only_after = irgen.build_model(rng, 3, [7], [], kinds=["gru"])
    ctx = build_context(only_after, "m")
    work = stage_words(3) + stage_words(7)
    assert ctx["state_bytes"] == _align4(4 * work + 2 * 7 + 7) and "scratch" not in {f[1] for f in ctx["state_fields"]}
    out = generate(model, tmp_path, name="mix")
    assert f"#define TINYRNN_MIX_STATE_BYTES {out['state_bytes']}" in (tmp_path / "mix.h").read_text()


def _with(layer_index: int, **changes):
    return lambda m: m.layers.__setitem__(layer_index, dataclasses.replace(m.layers[layer_index], **changes))


@pytest.mark.parametrize("mutate, message", [
    (_with(1, gate_x_shift=np.array([0, 0, -32], np.int32)), "gate_x_shift"),
    (_with(1, hidden_zero_point=3), "zero point 0"),
    (_with(1, hidden_scale=0.01), "scale 1/128"),
    (_with(1, input_zero_point=-129), "input_zero_point"),
    (_with(1, reset_after="yes"), "reset_after"),
    (_with(1, w_h=np.zeros((3, 4, 5), np.int8)), "w_h has shape"),
    (_with(1, bias_h=np.full((3, 4), 2**31, np.int64)), "bias_h outside int32"),
    (_with(1, bias_x=np.full((3, 4), 2**31 - 100, np.int32), input_zero_point=0), "accumulator can overflow"),
    (_with(1, bias_x=np.full((3, 4), 2**31 - 1, np.int32), input_zero_point=-128), "bias overflows int32"),
    (_with(1, gate_h_multiplier=np.array([3, 3, 3], np.int32), gate_h_shift=np.array([30, 30, 30], np.int32)),
     "gate_h_shift.*overflows int32"),
    (_with(0, return_sequences=False), "must return sequences"),
])
def test_invalid_gru_rejected_naming_layer(tmp_path, mutate, message):
    model = irgen.build_model(np.random.default_rng(0), 4, [5, 4], [2], kinds=["lstm", "gru_before"])
    mutate(model)
    with pytest.raises(TinyrnnError, match=message) as err:
        generate(model, tmp_path)
    assert "\n" not in str(err.value)
    assert "gru_before_1" in str(err.value) or "lstm_0" in str(err.value)
