"""Fuzz the artifact loader: damaged bytes, edited JSON fields and swapped arrays give a
TinyrnnError and nothing else; whatever loads runs in the golden model, and codegen
refuses it (if at all) with a TinyrnnError.

Field and array edits are made with the content hash recomputed, so they get past the
hash check to the structure and validity checks behind it. Bounded for CI: about
1,000 cases in a few seconds; TINYRNN_FUZZ_SCALE=20 runs twenty times as many.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import irgen
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyrnn.codegen.generate import build_context
from tinyrnn.core import ir, tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model

SCALE = int(os.environ.get("TINYRNN_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

_MODEL = irgen.build_model(np.random.default_rng(0), 3, [4, 3], [2], kinds=["lstm", "gru"])


def _artifact_bytes(tmp) -> bytes:
    path = os.path.join(tmp, "seed.tnr")
    tnr.save(_MODEL, path)
    with open(path, "rb") as fh:
        return fh.read()


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    data = _artifact_bytes(tmp)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = json.loads(zf.read("ir.json"))
        arrays = {n[len("arrays/"):-len(".npy")]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist() if n.endswith(".npy")}
    return {"bytes": data, "header": header, "arrays": arrays, "path": str(tmp / "case.tnr")}


def _json_paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from _json_paths(v, (*prefix, i))


def _zip(header: dict, arrays: dict, rehash: bool) -> bytes:
    if rehash:
        try:
            header["hash"] = ir.digest_of(header["model"], arrays)
        except Exception:  # noqa: BLE001 - an unhashable edit simply keeps the stale hash
            pass
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ir.json", json.dumps(header))
        for key, a in arrays.items():
            npy = io.BytesIO()
            np.save(npy, a, allow_pickle=False)
            zf.writestr(f"arrays/{key}.npy", npy.getvalue())
    return buf.getvalue()


def _check(data: bytes, path: str) -> None:
    """The property: only TinyrnnError out of load; a loaded model is usable."""
    with open(path, "wb") as fh:
        fh.write(data)
    try:
        model = tnr.load(path)
    except TinyrnnError as exc:
        assert "\n" not in str(exc).strip(), "error messages are one line"
        return
    run_model(model, np.zeros((2, 3, model.input_size), np.int8))
    try:
        build_context(model, "model")
    except TinyrnnError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
) | st.sampled_from([{"array": "layers.0.w_x"}, {"array": "nope"}, {"array": 3}, -129, 128, 2**31, -1, 0, "gru"])


@fuzz(400)
@given(data=st.data())
def test_damaged_bytes(seed, data):
    raw = bytearray(seed["bytes"])
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
    _check(bytes(raw[:cut]), seed["path"])


@fuzz(400)
@given(data=st.data())
def test_edited_fields(seed, data):
    header = json.loads(json.dumps(seed["header"]))
    path = data.draw(st.sampled_from(sorted(_json_paths(header), key=str)))
    target = header
    for key in path[:-1]:
        target = target[key]
    if data.draw(st.booleans()) and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = data.draw(json_values)
    _check(_zip(header, dict(seed["arrays"]), rehash=data.draw(st.booleans())), seed["path"])


@fuzz(200)
@given(data=st.data())
def test_swapped_arrays(seed, data):
    arrays = dict(seed["arrays"])
    key = data.draw(st.sampled_from(sorted(arrays)))
    if data.draw(st.integers(0, 4)) == 0:
        del arrays[key]
    else:
        dtype = data.draw(st.sampled_from([np.int8, np.uint8, np.int16, np.int32, np.int64, np.float32, np.float64, np.bool_]))
        shape = data.draw(st.one_of(st.just(arrays[key].shape), hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)))
        arrays[key] = data.draw(hnp.arrays(dtype, shape))
    _check(_zip(json.loads(json.dumps(seed["header"])), arrays, rehash=True), seed["path"])
