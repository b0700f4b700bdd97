"""The Helium LSTM cells (tinyrnn_lstm_s8.c's four-lane blocks, tinyrnn_mve.h) equal the
golden model on QEMU mps3-an547, element for element: hidden sizes that leave a partial
last block (1, 5, 6, 13, 33), a full one (8), rail weights, a cell clip that is reached, and a layer
with a reference-only descriptor, which runs the scalar cells instead."""

from __future__ import annotations

import shutil

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.generate import build_context
from tinyrnn.core.boards import qemu_boards
from tinyrnn.core.ir import Model

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))
                                 or "mps3-an547" not in qemu_boards(), reason="needs arm-none-eabi-gcc and qemu-system-arm")]


def mve_models() -> list:
    stack = irgen.build_model(np.random.default_rng(7), 9, [1, 5, 13], [3], returns_sequences=True,
                              kinds=["lstm"] * 3, name="lstack")
    lone = []
    # (18, 6, 0.3): a clip of 21,611 that the extreme inputs reach on most steps
    for seed, hidden, extreme in ((3, 8, 0.0), (3, 8, 1.0), (4, 33, 0.0), (4, 33, 1.0), (18, 6, 0.3)):
        layer = irgen.lstm_layer(np.random.default_rng(seed), 7, hidden, extreme=extreme, name=f"l{hidden}")
        lone.append(Model(name=f"lstm{hidden}_{int(extreme)}", input_size=7, input_quant=irgen.identity_input_quant(7),
                          layers=[layer]))
    return [stack, *lone]


def test_models_cover_the_vector_and_the_reference_cells():
    fields = [[r["fields"] for r in build_context(m, "m")["recurrent"]] for m in mve_models()]
    assert [[f["reference"] for f in layer] for layer in fields] == [[0, 0, 0], [0], [1], [0], [0], [0]]
    assert fields[-1][0]["cell_clipped"]


def test_helium_cells_equal_golden_on_qemu(tmp_path):
    from tinyrnn.app.targets import connect
    from tinyrnn.harness.verify import verify_device

    for k, model in enumerate(mve_models()):
        rng = np.random.default_rng(200 + k)
        x = irgen.random_input(rng, model, 6, 10)
        x[4:] = irgen.random_input(rng, model, 2, 10, extreme=True)
        with connect("qemu:mps3-an547", model, tmp_path / model.name) as (device, _):
            result = verify_device(device, model, x, progress=False)
        assert result.error is None and result.sequences == len(x), f"{model.name}: {result.error}"
        assert result.mismatches == 0, f"{model.name}: first mismatch {result.first_mismatch}"
