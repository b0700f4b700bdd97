"""tinyrnn checks inside a pytest-embedded session: the ``dut`` fixture's open serial port is
handed to ``Device.from_serial`` while pytest-embedded's redirect thread is paused.

    pytest -p tinyrnn.harness.pytest_plugin --embedded-services serial --port socket://127.0.0.1:4000 \\
        examples/pytest_embedded/test_dut_bit_exact.py --tinyrnn-model m.tnr

(``--port /dev/ttyACM0`` for a board on USB; any ``--embedded-services`` that give the dut a
``serial`` work.) The device must run firmware built from ``m.tnr``: the hash is checked first.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.golden.model import run_model
from tinyrnn.harness.dut import Device

WINDOWS, STEPS = 10, 16


def test_dut_runs_the_golden_model_bit_for_bit(dut, tinyrnn_model):
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(WINDOWS, STEPS, tinyrnn_model.input_size), dtype=np.int8)
    want = run_model(tinyrnn_model, x)
    # pytest-embedded reads the port in a thread; tinyrnn needs it alone while it talks frames.
    with dut.serial.disable_redirect_thread():
        device = Device.from_serial(dut.serial.proc, expected_hash=tinyrnn_model.content_hash())
        for i, seq in enumerate(x):
            got, ticks = device.run(seq)
            np.testing.assert_array_equal(got, want[i], err_msg=f"window {i} differs from the golden model")
            assert ticks > 0
        device.close()  # leaves dut.serial.proc open for pytest-embedded
    assert dut.serial.proc.is_open
