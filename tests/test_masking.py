"""Masked steps (Keras Masking): the golden model, the generated C on the host and on
QEMU, and the float twin against Keras itself.

Semantics (Keras's): a masked step keeps every recurrent state and repeats the previous
output; a window's output is its last valid step's. Independent checks: a post-padded
window of length L gives exactly what the first L steps give unmasked; the host C and
the device give exactly what the golden model gives, element for element.
"""

from __future__ import annotations

import dataclasses

import irgen
import numpy as np
import pytest

from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core.golden.model import run_model


def _valid(rng, n: int, steps: int) -> np.ndarray:
    """Post-padded lengths 1..T, and a few masked steps inside the windows too."""
    lengths = rng.integers(1, steps + 1, n)
    valid = np.arange(steps)[None, :] < lengths[:, None]
    valid &= rng.random((n, steps)) > 0.15
    valid[0], valid[1] = True, False  # a full window and an all-masked one
    return valid


def _stepwise(model):
    """The same model with its last recurrent layer returning sequences (the head at every step)."""
    layers = list(model.layers)
    k = max(i for i, layer in enumerate(layers) if layer.kind != "dense")
    layers[k] = dataclasses.replace(layers[k], return_sequences=True)
    return dataclasses.replace(model, layers=layers)


@pytest.mark.parametrize("kinds", [["lstm"], ["gru"], ["lstm", "gru"]])
def test_golden_masking_equals_running_only_the_valid_prefix(kinds):
    rng = np.random.default_rng(len(kinds) * 7 + len(kinds[0]))
    model = irgen.build_model(rng, 3, [6] * len(kinds), [4], kinds=kinds)
    steps = 9
    x = irgen.random_input(rng, model, 10, steps)
    lengths = rng.integers(1, steps + 1, 10)
    valid = np.arange(steps)[None, :] < lengths[:, None]
    masked = run_model(model, x, valid=valid)
    seq = run_model(_stepwise(model), x, valid=valid)
    for i, n in enumerate(lengths):
        assert np.array_equal(masked[i], run_model(model, x[i : i + 1, :n])[0])
        assert (seq[i, n:] == seq[i, n - 1]).all()  # padded steps repeat the last valid output
    assert np.array_equal(run_model(model, x, valid=np.ones((10, steps), bool)), run_model(model, x))


@pytest.mark.parametrize("kinds, sequences", [(["lstm"], False), (["gru"], True), (["lstm", "gru"], False),
                                              (["gru", "lstm"], True)])  # fmt: skip
def test_host_c_masked_equals_golden(tmp_path, kinds, sequences):
    rng = np.random.default_rng(3 + len(kinds) + sequences)
    model = irgen.build_model(rng, 4, [7] * len(kinds), [3], kinds=kinds, returns_sequences=sequences)
    x = irgen.random_input(rng, model, 16, 11)
    valid = _valid(rng, 16, 11)
    host = HostModel(model, tmp_path, sanitize=True)
    want = run_model(model, x, valid=valid)
    assert np.array_equal(host.run_masked(x, valid), want)
    assert np.array_equal(host.run_masked(x, valid, stepwise=True), run_model(_stepwise(model), x, valid=valid))
    assert np.array_equal(host.run(x), run_model(model, x))  # the unmasked _run is _run_masked(NULL)
