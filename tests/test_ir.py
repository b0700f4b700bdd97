"""IR artifact: round trip, content hash, damage and version detection."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from tinyrnn.core import ir, tnr
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.vectors import load_case


@pytest.fixture
def model(vector_files):
    layer = load_case(vector_files[0]).layer
    quant = ir.InputQuant(np.zeros(layer.input_size, np.float32), np.ones(layer.input_size, np.float32), 0)
    return ir.Model("m", layer.input_size, quant, [layer])


def test_round_trip_keeps_every_array_and_the_hash(model, tmp_path):
    path = tmp_path / "m.tnr"
    digest = tnr.save(model, path)
    back = tnr.load(path)
    assert back.content_hash() == digest == model.content_hash()
    np.testing.assert_array_equal(back.layers[0].w_x, model.layers[0].w_x)
    assert back.layers[0].w_x.dtype == np.int8


def test_hash_changes_with_one_weight(model):
    before = model.content_hash()
    model.layers[0].w_h[0, 0, 0] ^= 1
    assert model.content_hash() != before


def _rewrite(path, mutate):
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    header = json.loads(entries["ir.json"])
    mutate(header)
    entries["ir.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda h: h.update(version=ir.IR_VERSION + 1), "newer than this tinyrnn reads"),
        (lambda h: h["model"]["layers"][0].update(hidden_zero_point=5), "content hash mismatch"),
        (lambda h: h["model"]["layers"][0].update(kind="conv"), "unknown kind 'conv'"),
        (lambda h: h.pop("format"), "format tag missing"),
    ],
)
def test_damaged_artifacts_are_named(model, tmp_path, mutate, message):
    path = tmp_path / "m.tnr"
    tnr.save(model, path)
    _rewrite(path, mutate)
    with pytest.raises(TinyrnnError, match=message):
        tnr.load(path)


def test_truncated_file_is_refused_and_save_leaves_no_temp(model, tmp_path):
    path = tmp_path / "m.tnr"
    tnr.save(model, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TinyrnnError, match="damaged"):
        tnr.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.tnr"]
