"""The end of the Keras layer tests' chain (shared helper: test modules import it): the int8
model's output against its float twin, and the generated host C against the golden model."""

from __future__ import annotations

import shutil

import numpy as np

from tinyrnn.core.golden.model import dequantize_output, run_model, run_steps


def check_int8_and_c(float_model, q, x: np.ndarray, what: str, work, rows: int | None = None) -> None:
    """int8 output SQNR > 20 dB against the twin on ``x``; then (with gcc) the host C's _run,
    and _step unless the model is whole-window, equal to golden on the first ``rows`` windows."""
    x_q = q.input_quant.quantize(x)
    y_q = run_model(q, x_q)
    ref = float_model.run(x)
    sqnr = 10 * np.log10(np.sum(ref**2) / np.sum((dequantize_output(q, y_q) - ref) ** 2))
    assert sqnr > 20.0, f"{what}: int8 output SQNR {sqnr:.1f} dB"
    if shutil.which("gcc"):
        from tinyrnn.codegen.hostlib import HostModel

        host = HostModel(q, work)
        np.testing.assert_array_equal(host.run(x_q[:rows]), y_q[:rows])
        if not q.whole_window:
            np.testing.assert_array_equal(host.step(x_q[:rows]), run_steps(q, x_q[:rows]))
