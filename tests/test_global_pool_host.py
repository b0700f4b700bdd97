"""GlobalMaxPooling1D / GlobalAveragePooling1D and Flatten after the recurrent stack:
generated C (host, QEMU) against the golden model.

Global pooling runs with the stack (a sum or maximum and a count in the state), so
``_step`` streams: T _step calls == golden ``run_steps`` == ``run_model`` on each prefix;
with a Conv1D/pooling front end too, and after a Bidirectional layer (whole window).
Flatten is whole-window with one fixed T: ``_run`` refuses any other. The golden pool
itself against a loop in Python integers (TFLite Micro's rounding, half away from zero).
"""

from __future__ import annotations

import dataclasses
import shutil

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.generate import generate
from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core import tnr
from tinyrnn.core.boards import qemu_boards
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.global_pool1d_s8 import global_pool1d_s8
from tinyrnn.core.golden.model import run_model, run_steps
from tinyrnn.core.ir import POOLS, FlattenLayer, GlobalPool1DLayer, Model
from tinyrnn.core.validate import validate

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
_have_arm = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
KINDS = ("lstm", "gru", "gru_before", "rnn", "rnn_relu")


def with_tail(model: Model, tail: str, pool: str = "average", steps: int = 0, dense: int = 3, rng=None,
              window: int = 0) -> Model:
    """``model`` (its last recurrent layer returning sequences, no head) + a global pool or a
    Flatten of ``steps`` steps (of a ``window``-step input, by default ``steps``), then a
    Dense layer of ``dense`` outputs (none if 0)."""
    last = model.layers[-1]
    zp, scale = int(last.hidden_zero_point), float(last.hidden_scale)
    layer = (GlobalPool1DLayer("gpool", last.output_size, pool, scale, zp) if tail == "pool"
             else FlattenLayer("flatten", last.output_size, steps, window or steps, scale, zp))
    head = [irgen.dense_layer(rng, layer.output_size, dense, name="head")] if dense else []
    return dataclasses.replace(model, layers=[*model.layers, layer, *head])


def pool_model(seed: int, front: bool, extreme: float = 0.0) -> Model:
    rng = np.random.default_rng(7100 + seed)
    kinds = [KINDS[(seed + k) % len(KINDS)] for k in range(1 + seed % 2)]
    hidden = [int(rng.integers(1, 9)) for _ in kinds]
    if front:
        convs = [(int(rng.integers(2, 7)), 3, 1, "valid", "relu"), (str(rng.choice(POOLS)), 2, 2)]
        base = irgen.conv_model(rng, 4, convs, kinds=kinds, hidden=hidden, dense=[], returns_sequences=True,
                                extreme=extreme)
    else:
        base = irgen.build_model(rng, int(rng.integers(1, 7)), hidden, [], kinds=kinds, returns_sequences=True,
                                 extreme=extreme)
    return with_tail(base, "pool", POOLS[seed % 2], dense=int(rng.integers(0, 4)), rng=rng)


def test_golden_pool_equals_element_loop():
    """Running max and rounded average (sums ±1.5 and ±2.5 times the count), masked steps skipped."""
    x = np.array([[[3, -3], [0, 0], [-128, 127], [127, -128], [1, -1], [2, -2], [-5, 5]]], np.int8)
    valid = np.array([[False, True, True, True, False, True, True]])
    for pool in POOLS:
        layer = GlobalPool1DLayer("g", 2, pool, 0.1, -7)
        got = global_pool1d_s8(layer, x, valid, running=True)[0]
        for t in range(x.shape[1]):
            seen = [[int(v) for v in x[0, : t + 1][valid[0, : t + 1], c]] for c in range(2)]
            if not seen[0]:
                want = [-7, -7]  # nothing pooled yet: the zero point
            elif pool == "max":
                want = [max(s) for s in seen]
            else:  # |sum| / count rounded half away from zero, with the sign of the sum
                want = [int(np.sign(sum(s))) * int(abs(sum(s)) / len(s) + 0.5) for s in seen]
            np.testing.assert_array_equal(got[t], want, err_msg=f"{pool} step {t}")
        np.testing.assert_array_equal(global_pool1d_s8(layer, x, valid), got[None, -1])


def test_golden_steps_equal_whole_window_prefixes():
    model = pool_model(1, front=True)
    x = irgen.random_input(np.random.default_rng(1), model, 3, 11)
    steps = run_steps(model, x)
    for t in range(model.warmup, 11):
        np.testing.assert_array_equal(steps[:, t], run_model(model, x[:, : t + 1]), err_msg=f"step {t}")


@needs_gcc
@pytest.mark.parametrize("seed", [0, 3, 5])
def test_random_pooled_models(seed, tmp_path):
    """_run == run_model; T _step calls and two interleaved instances == run_steps."""
    model = pool_model(seed, front=seed >= 3, extreme=(0.0, 0.3, 1.0)[seed % 3])
    tnr.save(model, tmp_path / "m.tnr")  # validate accepts it, the artifact round-trips
    assert tnr.load(tmp_path / "m.tnr").content_hash() == model.content_hash()
    rng = np.random.default_rng(seed)
    steps = model.warmup + int(rng.integers(2, 12))
    x = np.concatenate([irgen.random_input(rng, model, 4, steps),
                        irgen.random_input(rng, model, 2, steps, extreme=True)])
    host = HostModel(model, tmp_path, sanitize=seed == 0)
    what = f"seed {seed}: {[layer.kind for layer in model.layers]}"
    streamed = irgen.check_host_streams(host, model, x, what)
    np.testing.assert_array_equal(streamed[:, -1], host.run(x), err_msg=f"{what} step == window")


@needs_gcc
def test_bidirectional_then_pool(tmp_path):
    """Whole window: the pool runs over the merged rows after the layers."""
    rng = np.random.default_rng(31)
    bidir = irgen.bidirectional_layer(rng, "lstm", 3, 5, merge_mode="sum", max_steps=9)
    model = with_tail(Model("bp", 3, irgen.identity_input_quant(3), [bidir]), "pool", "average", rng=rng)
    validate(model)
    host = HostModel(model, tmp_path)
    for steps in (1, 9):
        x = irgen.random_input(rng, model, 4, steps)
        np.testing.assert_array_equal(host.run(x), run_model(model, x), err_msg=f"T={steps}")


@needs_gcc
def test_flatten_whole_window_fixed_steps(tmp_path):
    """Flatten → Dense after a front end (valid conv, pool: 12 input steps, 5 flattened):
    _run at the fixed T == golden, any other T refused (C and golden), no step API."""
    rng = np.random.default_rng(41)
    base = irgen.conv_model(rng, 3, [(4, 3, 1, "valid", "relu"), ("max", 2, 2)], kinds=["gru"], hidden=[5],
                            dense=[], returns_sequences=True)
    window = 12
    model = with_tail(base, "flatten", steps=5, window=window, dense=4, rng=rng)
    validate(model)
    host = HostModel(model, tmp_path)  # the window template under sanitizers: tests/test_conv_same_host.py
    header = (tmp_path / "src" / "model.h").read_text()
    assert "tinyrnn_model_step" not in header and f"#define TINYRNN_MODEL_MAX_STEPS {window}" in header
    x = np.concatenate([irgen.random_input(rng, model, 4, window),
                        irgen.random_input(rng, model, 2, window, extreme=True)])
    np.testing.assert_array_equal(host.run(x), run_model(model, x))
    for steps in (window - 1, window + 1):  # 13 steps also give 5 rows: refused all the same
        with pytest.raises(TinyrnnError, match="exit 6"):
            host.run(irgen.random_input(rng, model, 1, steps))
        with pytest.raises(ValueError, match=f"takes windows of {window} steps"):
            run_model(model, irgen.random_input(rng, model, 1, steps))


def _refusal_models() -> list:
    rng = np.random.default_rng(51)
    pooled = pool_model(0, front=False)
    front = pool_model(3, front=True)
    flat = with_tail(irgen.conv_model(rng, 3, [(4, 3, 1, "valid", "relu")], hidden=[3], dense=[],
                                      returns_sequences=True), "flatten", steps=5, window=8, rng=rng)
    final = dataclasses.replace(pooled, layers=[dataclasses.replace(pooled.layers[0], return_sequences=False),
                                                *pooled.layers[1:]])
    return [
        (dataclasses.replace(pooled, mask_value=0.0), "Masking together with a global_pool1d"),
        (final, "must directly follow a recurrent layer returning sequences"),
        (dataclasses.replace(front, layers=[*front.layers[:-2], front.layers[-2], front.layers[-2], front.layers[-1]]),
         "only Dense layers may follow a global_pool1d"),
        (flat, "Flatten of 5 steps, but a 8-step window gives 6"),
        (dataclasses.replace(pooled, layers=[pooled.layers[0], dataclasses.replace(pooled.layers[1], pool="median"),
                                             *pooled.layers[2:]]), "pool 'median' unknown"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_invalid_tails_refused(case, tmp_path):
    model, message = _refusal_models()[case]
    with pytest.raises(TinyrnnError, match=message) as err:
        validate(model)
    assert "\n" not in str(err.value)
    with pytest.raises(TinyrnnError, match=message):
        generate(model, tmp_path)


@pytest.mark.qemu
@pytest.mark.skipif(not _have_arm or "mps2-an386" not in qemu_boards(), reason="needs arm-none-eabi-gcc, QEMU")
def test_qemu_mps2_an386_equals_golden(tmp_path):
    """M4 through the verification firmware: conv + pool + two SimpleRNN + GlobalAveragePooling
    + Dense, RUN chunks compared with run_model and one window of STEP calls with run_steps
    (a "same" conv: tests/test_conv_same_host.py)."""
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    model = pool_model(3, front=True)
    assert model.layers[-2].kind == "global_pool1d" and model.layers[-2].pool == "average"
    x = irgen.random_input(np.random.default_rng(61), model, 3, 40)
    assert len(np.unique(run_model(model, x))) > 2  # the compared outputs are live
    with connect("qemu:mps2-an386", model, tmp_path / "fw") as (device, _):
        result = verify_device(device, model, x, progress=False)
        device.reset()
        streamed = np.stack([device.step(x[0, t])[0] for t in range(x.shape[1])])
    assert result.error is None and result.mismatches == 0, result.summary()
    np.testing.assert_array_equal(streamed, run_steps(model, x[:1])[0])
