"""The kernels' numeric domain (tinyrnn.core.domain): outside it an artifact does not load
(field named), inside it the golden model and the host C agree on every output.

The numeric fields of a valid artifact are edited to values drawn from wide ranges, in
and far outside the safe range, with the content hash recomputed (tests/irgen.py stays
inside the range on purpose, so these edits are what reaches the edges).
"""

from __future__ import annotations

import json

import irgen
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_fuzz_artifact import _zip

from tinyrnn.codegen.generate import build_context
from tinyrnn.codegen.hostlib import HostModel
from tinyrnn.core import domain, tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.fixedpoint import requantize, shifted_fits
from tinyrnn.core.golden.model import run_model

_MODEL = irgen.build_model(np.random.default_rng(3), 3, [5, 4], [3], kinds=["lstm", "gru"])
# (layer, field): every shift, multiplier and the other integers requantization depends on.
_SCALAR_FIELDS = [(0, f) for f in ("forget_to_cell_shift", "input_to_cell_shift", "hidden_shift", "cell_scale_power",
                                   "forget_to_cell_multiplier", "hidden_multiplier", "input_zero_point")]
_ARRAY_FIELDS = [(k, f) for k in (0, 1) for f in ("gate_x_shift", "gate_h_shift", "gate_x_multiplier", "bias_h" if k else "bias")]
_ARRAY_FIELDS += [(2, "shift"), (2, "multiplier"), (2, "bias"), (2, "weights")]


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    import io
    import zipfile

    path = tmp_path_factory.mktemp("domain") / "seed.tnr"
    tnr.save(_MODEL, path)
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
        header = json.loads(zf.read("ir.json"))
        arrays = {n[len("arrays/"):-len(".npy")]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist() if n.endswith(".npy")}
    return header, arrays


def _edited(seed, tmp_path, *edits):
    """The seed artifact with numeric fields (or whole arrays) replaced by (layer, field,
    value) edits, hash recomputed, loaded."""
    header, arrays = json.loads(json.dumps(seed[0])), dict(seed[1])
    for layer, field, value in edits:
        key = f"layers.{layer}.{field}"
        if key in arrays:
            arrays[key] = np.broadcast_to(np.asarray(value, np.int64), arrays[key].shape).astype(arrays[key].dtype)
        else:
            header["model"]["layers"][layer][field] = int(value)
    path = tmp_path / "edited.tnr"
    path.write_bytes(_zip(header, arrays, rehash=True))
    return tnr.load(path)


@pytest.mark.parametrize("layer, field, value, message", [
    (0, "forget_to_cell_shift", 20, r"layer 0: forget_to_cell_shift = 20: f·c .* overflows int32"),
    (0, "hidden_shift", 2, r"layer 0: hidden_shift = 2: o·tanh\(c\)"),
    (0, "cell_scale_power", 3, r"layer 0: cell_scale_power = 3 outside"),
    (1, "gate_h_shift", 30, r"layer 1: gate_h_shift\[0\] = 30: recurrent matmul"),
    (2, "shift", 28, r"layer 2: shift\[0\] = 28: output matmul .* overflows int32"),
    (2, "shift", -32, r"layer 2: shift\[0\] = -32 outside \[-31, 30\]"),
])
def test_outside_the_domain_is_refused_at_load_naming_the_field(seed, tmp_path, layer, field, value, message):
    with pytest.raises(TinyrnnError, match=message) as err:
        _edited(seed, tmp_path, (layer, field, value))
    assert "\n" not in str(err.value)


def test_issue_case_dense_multiplier_2_30_shift_28(seed, tmp_path):
    """Issue 16's second case: a normalized multiplier 2^30 does not excuse the shift."""
    with pytest.raises(TinyrnnError, match=r"layer 2: shift\[0\] = 28"):
        _edited(seed, tmp_path, (2, "multiplier", 2**30), (2, "shift", 28))


def test_golden_requantize_raises_where_the_kernels_would_overflow():
    acc = np.array([2**20, -(2**20), 3], np.int64)
    assert shifted_fits(acc, 10).tolist() == [True, True, True]
    assert shifted_fits(acc, 11).tolist() == [False, True, True]  # -2^31 is still int32
    assert shifted_fits(2**31 - 1, 0) and not shifted_fits(2**31, 0) and shifted_fits(-(2**31), 0)
    requantize(acc, 2**30, 10)  # |acc|·2^10 = 2^30 fits
    with pytest.raises(OverflowError):
        requantize(acc[:1], 2**30, 11)


_WIDE = st.one_of(st.integers(-40, 40), st.integers(-(2**31), 2**31 - 1),
                  st.sampled_from([0, 2**30, 2**31 - 1, -(2**31), -(2**30), 1, -1]))  # fmt: skip
_FIELDS = st.sampled_from(_SCALAR_FIELDS + _ARRAY_FIELDS)


def _settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def _load_or_none(seed, tmp_path, edits):
    try:
        model = _edited(seed, tmp_path, *[(k, f, v) for (k, f), v in edits])
    except TinyrnnError:
        event("refused at load")
        return None
    event("loaded")
    return model


@_settings(300)
@given(edits=st.lists(st.tuples(_FIELDS, _WIDE), min_size=1, max_size=3), x_seed=st.integers(0, 2**16))
def test_whatever_loads_codegen_accepts_and_golden_runs(seed, tmp_path_factory, edits, x_seed):
    """Load, codegen and golden share one domain: nothing that loads is refused by codegen
    or overflows in the golden model, even on extreme inputs."""
    model = _load_or_none(seed, tmp_path_factory.mktemp("e"), edits)
    if model is None:
        return
    build_context(model, "model")
    x = irgen.random_input(np.random.default_rng(x_seed), model, 3, 4, extreme=True)
    run_model(model, x)


@_settings(14)
@given(edits=st.lists(st.tuples(_FIELDS, _WIDE), min_size=1, max_size=3), x_seed=st.integers(0, 2**16))
def test_whatever_loads_runs_bit_exact_in_host_c(seed, tmp_path_factory, edits, x_seed):
    """Inside the domain, every output of the host C equals the golden model's."""
    tmp = tmp_path_factory.mktemp("c")
    model = _load_or_none(seed, tmp, edits)
    if model is None:
        return
    x = irgen.random_input(np.random.default_rng(x_seed), model, 4, 6, extreme=True)
    np.testing.assert_array_equal(HostModel(model, tmp / "host").run(x), run_model(model, x))


@_settings(200)
@given(shift=st.integers(-40, 40), bound=st.integers(0, 2**31 - 1))
def test_domain_check_agrees_with_the_golden_guard(shift, bound):
    """Refusal and the golden model's runtime guard are the same predicate."""
    try:
        domain.check_requant("layer 0", "shift", "output matmul", bound, shift)
        refused = False
    except TinyrnnError as exc:
        refused = True
        assert "layer 0: shift = " in str(exc)
    if domain.SHIFT_MIN <= shift <= domain.SHIFT_MAX:
        assert refused == (not bool(shifted_fits(bound, shift)))
        if not refused:
            requantize(np.array([bound, -bound]), 2**31 - 1, shift)
    else:
        assert refused
