"""The int8 Conv1D front end: generated C (host, QEMU) against the golden model, streaming.

Random conv stacks (causal and valid padding, kernel sizes 1..5, dilations 1..3, linear,
relu, relu6, extremes) in front of LSTM/GRU/SimpleRNN stacks and heads; every output
element of _run and of T _step calls compared with the golden ``run_model`` and
``run_steps``; the streamed outputs equal the whole-window outputs of each prefix; the
golden convolution itself against a per-element loop in Python integers.
"""

from __future__ import annotations

import dataclasses
import shutil

import irgen
import numpy as np
import pytest

from tinyrnn.codegen import layout
from tinyrnn.codegen.conv import conv_blocks
from tinyrnn.codegen.generate import build_context, generate
from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core import domain, tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.conv1d_s8 import conv1d_s8, effective_bias
from tinyrnn.core.golden.dense_s8 import activation_range
from tinyrnn.core.golden.fixedpoint import requantize
from tinyrnn.core.golden.model import run_model, run_steps
from tinyrnn.core.golden.pool1d_s8 import pool1d_s8
from tinyrnn.core.ir import CONV_ACTIVATIONS, POOLS, Model, Pool1DLayer
from tinyrnn.core.validate import validate

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
_have_arm = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")


def _random_convs(rng, sequences: bool) -> list:
    """1–2 convs (strides 1–3), each maybe followed by a max or average pool; length-keeping when ``sequences``."""
    convs = []
    for _ in range(int(rng.integers(1, 3))):
        padding = "causal" if sequences or rng.random() < 0.5 else "valid"
        strides = 1 if sequences else int(rng.integers(1, 4))
        convs.append((int(rng.integers(1, 12)), int(rng.integers(1, 6)), int(rng.integers(1, 4)), padding,
                      str(rng.choice(CONV_ACTIVATIONS)), strides))
        if not sequences and rng.random() < 0.5:
            convs.append((str(rng.choice(POOLS)), int(rng.integers(1, 5)), int(rng.integers(1, 4))))
    return convs


def _loop_conv(layer, x) -> np.ndarray:
    """The convolution element by element in Python integers (the spec, independently of numpy's batching)."""
    span, zp = layer.span, layer.input_zero_point
    pad = span - 1 if layer.padding == "causal" else 0
    steps = -(-(x.shape[1] + pad - span + 1) // layer.strides)
    out = np.zeros((x.shape[0], max(steps, 0), layer.output_size), np.int8)
    lo, hi = activation_range(layer)
    for b, t, o in np.ndindex(out.shape):
        acc = int(layer.bias[o])
        for j in range(layer.kernel_size):
            src = t * layer.strides + j * layer.dilation - pad
            for c in range(layer.input_size):
                xv = int(x[b, src, c]) if src >= 0 else zp
                acc += int(layer.weights[o, j, c]) * (xv - zp)
        y = int(requantize(acc, int(layer.multiplier[o]), int(layer.shift[o]))) + layer.output_zero_point
        out[b, t, o] = min(max(y, lo), hi)
    return out


@pytest.mark.parametrize("padding", ["causal", "valid"])
def test_golden_conv_equals_element_loop(padding):
    rng = np.random.default_rng(3 if padding == "causal" else 4)
    for activation, extreme, strides in (("linear", 0.0, 1), ("relu", 0.5, 2), ("relu6", 1.0, 3)):
        layer = irgen.conv_layer(rng, 3, 4, kernel_size=3, dilation=2, padding=padding, activation=activation,
                                 extreme=extreme, strides=strides)
        x = irgen.random_input(rng, Model("m", 3, irgen.identity_input_quant(3), [layer]), 2, 8)
        want = _loop_conv(layer, x)
        np.testing.assert_array_equal(conv1d_s8(layer, x), want)
        assert want.shape[1] == -(-(8 if padding == "causal" else 4) // strides)
        assert len(np.unique(want)) > 1 or extreme


def test_golden_pool_equals_element_loop():
    """Max and TFLite's rounded average (half away from zero: sums of ±1.5 and ±2.5 pool_size) per window."""
    x = np.array([[[3, -3], [0, 0], [-128, 127], [127, -128], [1, -1], [2, -2], [-5, 5]]], np.int8)
    for pool, size, strides in (("max", 2, 1), ("average", 2, 1), ("average", 4, 3), ("max", 3, 2)):
        layer = Pool1DLayer("p", 2, pool, size, strides, 0.1, 0)
        starts = range(0, x.shape[1] - size + 1, strides)
        windows = [[[int(v) for v in x[0, s:s + size, c]] for c in range(2)] for s in starts]
        if pool == "max":
            want = [[max(w) for w in ws] for ws in windows]
        else:  # |sum| / size rounded half away from zero, with the sign of the sum
            want = [[int(np.sign(sum(w))) * int(abs(sum(w)) / size + 0.5) for w in ws] for ws in windows]
        np.testing.assert_array_equal(pool1d_s8(layer, x)[0], np.array(want), err_msg=f"{pool} {size} {strides}")


def test_golden_steps_equal_whole_window_prefixes():
    """run_steps (the _step contract) at step t == run_model on the first t + 1 steps; before the
    valid conv's first output, the head of the reset state."""
    rng = np.random.default_rng(5)
    model = irgen.conv_model(rng, 3, [(5, 3, 2, "valid", "relu"), (4, 2, 1, "causal", "linear")], kinds=["gru"])
    assert model.warmup == 4
    x = irgen.random_input(rng, model, 3, 9)
    steps = run_steps(model, x)
    for t in range(model.warmup, 9):
        np.testing.assert_array_equal(steps[:, t], run_model(model, x[:, : t + 1]), err_msg=f"step {t}")
    np.testing.assert_array_equal(steps[:, : model.warmup], np.repeat(steps[:, :1], model.warmup, axis=1))
    with pytest.raises(ValueError, match="needs more than 4"):
        run_model(model, x[:, :4])


@needs_gcc
@pytest.mark.parametrize("seed", range(6))
def test_random_conv_front_ends(seed, tmp_path):
    """_run == golden run_model, T _step calls == golden run_steps, two interleaved instances too."""
    rng = np.random.default_rng(4400 + seed)
    sequences = seed % 3 == 2
    kinds = [str(rng.choice(["lstm", "gru", "gru_before", "rnn", "rnn_relu"])) for _ in range(int(rng.integers(1, 3)))]
    model = irgen.conv_model(rng, int(rng.integers(1, 9)), _random_convs(rng, sequences), kinds=kinds,
                       hidden=[int(rng.integers(1, 10)) for _ in kinds], dense=[int(rng.integers(1, 6))],
                       returns_sequences=sequences, extreme=(0.0, 0.3, 1.0)[seed % 3])
    validate(model)
    warmup, stride = model.front_timing
    steps = warmup + stride * int(rng.integers(1, 5)) + int(rng.integers(0, stride))
    x = np.concatenate([irgen.random_input(rng, model, 4, steps),
                        irgen.random_input(rng, model, 2, steps, extreme=True)])
    host = HostModel(model, tmp_path, sanitize=seed == 0)
    what = f"seed {seed}: {[layer.kind for layer in model.layers]}, timing {model.front_timing}"
    streamed = irgen.check_host_streams(host, model, x, what)
    last = host.run(x) if sequences else host.run(x)[:, None]
    np.testing.assert_array_equal(streamed[:, -last.shape[1]:], last, err_msg=f"{what} step == window")


def paths_model():
    """Convs over every shape of the kernel's dot: dilation 1 (one dot over K·C = 45 values: 11
    whole groups of 4 and a tail of 1; 2 Helium vectors and 13 predicated lanes) and dilation 2
    and 3 (a dot per tap over 7 and 3 channels: groups and tails, tails only), filters in units of
    4 and a last unit of 3, 2 or 1 rows; two filters with the largest shift their accumulators
    allow, which leaves the one-multiply requantization no headroom (the reference one runs)."""
    rng = np.random.default_rng(65)
    model = irgen.conv_model(rng, 9, [(7, 5, 1, "causal", "relu"), (6, 3, 2, "causal", "linear"),
                                      (3, 1, 1, "causal", "linear"), (5, 3, 3, "causal", "relu6")],
                             kinds=["gru"], hidden=[8], dense=[4], name="convpaths")
    conv = model.layers[1]
    bound = domain.acc_bound(conv.weights.reshape(6, -1), effective_bias(conv))[[0, 2]]
    conv.shift[[0, 2]] = np.floor(np.log2((2**31 - 1) / bound))
    return model


def test_conv_blocks_keep_every_weight():
    """Per unit of 4 filters and tap, the path's layout of the right columns: unpacked, the weights again."""
    w = np.random.default_rng(65).integers(-128, 128, (7, 3, 5), dtype=np.int8)
    for path in layout.PATH_IDS:
        for dilation, taps, cols in ((1, 1, 15), (2, 3, 5)):
            flat, got, at = conv_blocks(w, dilation, path), [], 0
            for o in range(0, 7, 4):
                rows = min(4, 7 - o)
                size = layout.LAYOUTS[path](np.zeros((rows, taps, cols), np.int8)).size
                got.append(layout.unpack(path, flat[at:at + size], rows, cols))  # (R, taps, cols)
                at += size
            assert at == flat.size
            np.testing.assert_array_equal(np.concatenate(got).reshape(w.shape), w, err_msg=f"{path} {dilation}")


@needs_gcc
@pytest.mark.parametrize("path", ["plain", "wide", "dsp", "dsp8"])
def test_conv_paths_under_sanitizers(path, tmp_path):
    """Each path's conv blocks and in-place dot (emulated DSP intrinsics on the host) under ASan +
    UBSan, at the rails too: _step == golden run_steps."""
    model = paths_model()
    requant = [a for a in build_context(model, "m", path)["arrays"] if a["cname"].endswith("l1_requant")][0]
    assert sorted({int(row.strip("{}").split(", ")[1]) > 0 for row in requant["rows"]}) == [False, True]
    rng = np.random.default_rng(66)
    x = np.concatenate([irgen.random_input(rng, model, 3, 12), irgen.random_input(rng, model, 2, 12, extreme=True)])
    host = HostModel(model, tmp_path, sanitize=True, path=path)
    np.testing.assert_array_equal(host.step(x), run_steps(model, x), err_msg=path)


def test_state_holds_the_ring_and_the_macro(tmp_path):
    """Per conv: 2 int32 counters (slot, inputs until due), 2·span·C ring bytes (each input twice), O output bytes."""
    rng = np.random.default_rng(6)
    model = irgen.conv_model(rng, 3, [(5, 4, 2, "valid", "relu")], kinds=["rnn"], hidden=[4], dense=[])
    ctx = build_context(model, "m")
    conv_fields = [f for f in ctx["state_fields"] if f[1].startswith("l0_")]
    assert sorted((f[1], f[2], f[3]) for f in conv_fields) == sorted(
        [("l0_pos", 1, 0), ("l0_due", 1, 7), ("l0_ring", 2 * 7 * 3, model.layers[0].input_zero_point),
         ("l0_out", 5, model.layers[0].output_zero_point)])
    generate(model, tmp_path, name="c")
    assert "#define TINYRNN_C_WARMUP_STEPS 6" in (tmp_path / "c.h").read_text()
    causal = dataclasses.replace(model, layers=[dataclasses.replace(model.layers[0], padding="causal"),
                                                *model.layers[1:]])
    assert [f[3] for f in build_context(causal, "m")["state_fields"] if f[1] == "l0_due"] == [1]


def test_artifact_round_trip(tmp_path):
    model = irgen.conv_model(np.random.default_rng(7), 4, [(6, 5, 1, "causal", "relu6")])
    tnr.save(model, tmp_path / "m.tnr")
    again = tnr.load(tmp_path / "m.tnr")
    assert again.content_hash() == model.content_hash() and again.layers[0].kind == "conv1d"


def _replace(model, index, **changes):
    layers = list(model.layers)
    layers[index] = dataclasses.replace(layers[index], **changes)
    return dataclasses.replace(model, layers=layers)


@pytest.mark.parametrize("change, message", [
    (lambda m: _replace(m, 0, padding="full"), "padding 'full' unknown"),
    (lambda m: _replace(m, 0, activation="tanh"), "activation 'tanh' unknown"),
    (lambda m: _replace(m, 0, dilation=0), "dilation must be at least 1"),
    (lambda m: _replace(m, 0, weights=np.zeros((6, 2, 4), np.int8)), "array 'weights' has shape"),
    (lambda m: _replace(m, 0, shift=np.full(6, 30, np.int32)), "shift.* overflows int32"),
    (lambda m: dataclasses.replace(m, mask_value=0.0), "Masking together with a Conv1D"),
    (lambda m: dataclasses.replace(m, input_size=6, input_quant=irgen.identity_input_quant(6),
                                   layers=[*m.layers[1:], irgen.conv_layer(np.random.default_rng(0), 7, 2)]),
     "must come before the recurrent"),
    (lambda m: _replace(_replace(m, 0, padding="valid"), 1, return_sequences=True), "returning sequences needs "
                                                                                    "every Conv1D causal"),
    (lambda m: _replace(m, 0, strides=0), "strides must be at least 1"),
    (lambda m: dataclasses.replace(m, layers=[m.layers[0], Pool1DLayer("p", 6, "median", 2, 2, 0.1, 0), *m.layers[1:]]),
     "pool 'median' of size 2"),
])
def test_invalid_conv_models_refused(change, message, tmp_path):
    model = irgen.conv_model(np.random.default_rng(8), 4, [(6, 3, 1, "causal", "relu")], dense=[])
    bad = change(model)
    with pytest.raises(TinyrnnError, match=message) as err:
        validate(bad)
    assert "\n" not in str(err.value)
    if "before the recurrent" not in message and "array" not in message:  # generate refuses the same
        with pytest.raises(TinyrnnError, match=message):
            generate(bad, tmp_path)


# ----------------------------------------------------------------------------- QEMU
def board_models() -> list:
    """A small causal conv + LSTM classifier; a valid dilated conv, max pooling and a strided
    causal conv before a GRU (warm-up and skipped steps on the device too)."""
    rng = np.random.default_rng(62)
    causal = irgen.conv_model(rng, 5, [(8, 5, 1, "causal", "relu")], hidden=[9], dense=[4], name="convlstm")
    pooled = irgen.conv_model(rng, 5, [(8, 3, 2, "valid", "relu"), ("max", 2, 2), (6, 5, 1, "causal", "linear", 2)],
                              kinds=["gru"], hidden=[9], dense=[4], name="convpool")
    return [causal, pooled]


def test_board_models_timing_and_outputs_vary():
    causal, pooled = board_models()
    assert (causal.front_timing, pooled.front_timing) == ((0, 1), (5, 4))
    for model in (causal, pooled, paths_model()):
        x = irgen.random_input(np.random.default_rng(63), model, 3, 20)
        assert len(np.unique(run_steps(model, x))) > 5


@pytest.mark.qemu
@pytest.mark.skipif(not _have_arm, reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board, weights", [("mps2-an386", "int8"), ("mps2-an386", "int16"), ("mps3-an547", "int8"),
                                            ("mps2-an385", "int16"), ("mps2-an385", "int8"), ("microbit", "int8")],
                         ids=["m4-dsp8", "m4-dsp", "m55-mve", "m3-wide", "m3-plain", "m0-plain"])  # fmt: skip
def test_board_streaming_equals_window(board, weights, tmp_path):
    """mps2-an386 (M4, SMLAD on int8 or pre-widened weights), mps3-an547 (M55, Helium),
    mps2-an385 (M3, packed rows and SMLAL, or portable C) and the microbit (M0, the
    Thumb-1 dot loop): _run on whole windows == golden, and one _step per
    sample == golden run_steps, whose last step is the whole window's output; the paths model's
    odd window shapes too."""
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    for model in [*board_models(), paths_model()]:
        x = irgen.random_input(np.random.default_rng(63), model, 3, 20)
        with connect(f"qemu:{board}", model, tmp_path / model.name, weights=weights) as (device, _):
            result = verify_device(device, model, x, progress=False)
            assert (result.error, result.sequences, result.mismatches) == (None, len(x), 0), result.first_mismatch
            want = run_steps(model, x)
            for n in range(len(x)):
                device.reset()
                got = np.stack([device.step(x[n, t])[0] for t in range(x.shape[1])])
                np.testing.assert_array_equal(got, want[n], err_msg=f"{model.name} sequence {n}")
        last = 17 if model.name == "convpool" else 19  # the last step the recurrent stack ran on
        np.testing.assert_array_equal(want[:, last], run_model(model, x), err_msg=model.name)
