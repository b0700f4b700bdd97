"""Hardware-in-the-loop tests for one model, run by pytest with the tinyrnn plugin.

    pytest -p tinyrnn.harness.pytest_plugin examples/hil/test_model_on_device.py \
        --tinyrnn-target qemu:mps2-an386 --tinyrnn-model m.tnr --tinyrnn-firmware fw.elf

The same file runs against a flashed board: ``--tinyrnn-target auto:nucleo-f446re``
or ``--tinyrnn-target /dev/ttyACM0`` (no --tinyrnn-firmware then). The plugin checks
the device's model hash against --tinyrnn-model before the first test, so every
comparison below is against the golden model of exactly the firmware's artifact.
Without --tinyrnn-target every test here is skipped, with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinyrnn.core.golden.model import run_model

SEQUENCES = 20  # random windows per test; raise it for a soak run
STEPS = 24  # window length for the random tests (the model is streaming: any T works)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(2024)


def windows(rng, model, n, steps, low=-128, high=127):
    return rng.integers(low, high + 1, size=(n, steps, model.input_size), dtype=np.int8)


def assert_bit_exact(device, model, x):
    want = run_model(model, x)
    for i, seq in enumerate(x):
        got, _ = device.run(seq)
        np.testing.assert_array_equal(got, want[i], err_msg=f"window {i} differs from the golden model")


def test_device_runs_this_model(tinyrnn_device, tinyrnn_model):
    info = tinyrnn_device.info()
    assert info.model_hash == tinyrnn_model.content_hash()
    assert (info.input_size, info.output_size) == (tinyrnn_model.input_size, tinyrnn_model.output_size)


def test_random_windows_bit_exact(tinyrnn_device, tinyrnn_model, rng):
    assert_bit_exact(tinyrnn_device, tinyrnn_model, windows(rng, tinyrnn_model, SEQUENCES, STEPS))


@pytest.mark.parametrize("value", [-128, 127, 0])
def test_saturated_inputs_bit_exact(tinyrnn_device, tinyrnn_model, value):
    x = np.full((1, STEPS, tinyrnn_model.input_size), value, np.int8)
    assert_bit_exact(tinyrnn_device, tinyrnn_model, x)


def test_long_window_spans_several_frames(tinyrnn_device, tinyrnn_model, rng):
    # Longer than one frame payload: the harness chunks it, the state carries across.
    steps = 3 * tinyrnn_device.steps_per_chunk() + 1
    assert_bit_exact(tinyrnn_device, tinyrnn_model, windows(rng, tinyrnn_model, 2, steps))


def test_streaming_steps_equal_the_window(tinyrnn_device, tinyrnn_model, rng):
    x = windows(rng, tinyrnn_model, 1, STEPS)[0]
    window_y, _ = tinyrnn_device.run(x)
    tinyrnn_device.reset()
    step_y = [tinyrnn_device.step(x_t)[0] for x_t in x]
    last = step_y[-1] if not tinyrnn_model.returns_sequences else np.stack(step_y)
    np.testing.assert_array_equal(last, window_y)


def test_inference_cost_is_stable(tinyrnn_device, tinyrnn_model, rng):
    # Only saturation and rounding branches depend on the data: measured spreads are
    # 0.2-1.1 % on QEMU, so 5 % leaves room for a real board's flash wait states.
    x = windows(rng, tinyrnn_model, 5, STEPS)
    ticks = [tinyrnn_device.run(seq)[1] for seq in x]
    assert min(ticks) > 0 and max(ticks) <= 1.05 * min(ticks), ticks
