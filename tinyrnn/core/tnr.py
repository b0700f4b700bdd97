"""The artifact file: one zip (``ir.json`` + one ``.npy`` per array), versioned, hashed.

:func:`load` checks format, version, content hash and :func:`validate`, so a damaged
or hand-edited file is one error line, never a garbage model. Imports only numpy.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
import zlib

import numpy as np

from .errors import TinyrnnError
from .fileio import require_regular_file, temp_beside
from .ir import IR_FORMAT, IR_VERSION, LAYER_TYPES, InputQuant, Model, digest_of, to_document
from .validate import validate


def save(model: Model, path: str | os.PathLike) -> str:
    """Write the artifact atomically (temp file + rename); returns the content hash."""
    doc, arrays = to_document(model)
    digest = digest_of(doc, arrays)
    header = {"format": IR_FORMAT, "version": IR_VERSION, "hash": digest, "model": doc}
    path = os.fspath(path)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("ir.json", json.dumps(header, indent=1, sort_keys=True))
            for key, a in arrays.items():
                buf = io.BytesIO()
                np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
                zf.writestr(f"arrays/{key}.npy", buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest


def _build(cls, doc: dict, arrays: dict, where: str):
    if not isinstance(doc, dict):
        raise TinyrnnError(f"{where}: expected an object, got {type(doc).__name__}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in doc:
            if f.name in getattr(cls, "OPTIONAL_FIELDS", ()):
                continue  # left out of the document when unused: the dataclass default
            raise TinyrnnError(f"{where}: field '{f.name}' missing")
        value = doc[f.name]
        if isinstance(value, dict) and set(value) == {"array"}:
            if not isinstance(value["array"], str) or value["array"] not in arrays:
                raise TinyrnnError(f"{where}: array {value['array']!r} missing")
            value = arrays[value["array"]]
        elif isinstance(value, dict) and value.get("kind") in LAYER_TYPES:  # a wrapped layer (Bidirectional)
            value = _build(LAYER_TYPES[value["kind"]], value, arrays, f"{where} {f.name}")
        kwargs[f.name] = value
    return cls(**kwargs)


# Zip, zlib, JSON and .npy damage: everything the readers raise for a bad file.
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, KeyError, ValueError, OSError, EOFError,
                NotImplementedError, RuntimeError)  # fmt: skip


def _read(path: str) -> tuple[dict, dict]:
    try:
        with zipfile.ZipFile(path) as zf:
            header = json.loads(zf.read("ir.json"))
            arrays = {
                name[len("arrays/"):-len(".npy")]: np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
                for name in zf.namelist()
                if name.startswith("arrays/") and name.endswith(".npy")
            }
    except _READ_ERRORS as exc:
        raise TinyrnnError(f"{path}: not a tinyrnn artifact or damaged ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or header.get("format") != IR_FORMAT:
        raise TinyrnnError(f"{path}: not a tinyrnn artifact (format tag missing)")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TinyrnnError(f"{path}: artifact format version {version!r} is not a version number: file damaged")
    if version > IR_VERSION:
        raise TinyrnnError(
            f"{path}: artifact format version {version} is newer than this tinyrnn reads ({IR_VERSION}); upgrade tinyrnn"
        )
    return header, arrays


def _model_from(doc, arrays: dict, path: str) -> Model:
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise TinyrnnError(f"{path}: artifact structure damaged (no model/layers)")
    layers = []
    for i, ldoc in enumerate(doc["layers"]):
        cls = LAYER_TYPES.get(ldoc.get("kind")) if isinstance(ldoc, dict) else None
        if cls is None:
            kind = ldoc.get("kind") if isinstance(ldoc, dict) else ldoc
            raise TinyrnnError(f"{path}: layer {i} has unknown kind {kind!r}")
        layers.append(_build(cls, ldoc, arrays, f"{path}: layer {i}"))
    return Model(
        name=doc["name"],
        input_size=doc["input_size"],
        input_quant=_build(InputQuant, doc["input_quant"], arrays, f"{path}: input_quant"),
        layers=layers,
        classes=doc.get("classes", []),
        meta=doc.get("meta", {}),
        mask_value=doc.get("mask_value"),
    )


def load(path: str | os.PathLike) -> Model:
    """Read an artifact; any damage is a one-line TinyrnnError naming the file.

    A model that loads has passed the content-hash check and :func:`validate`, so the
    golden model and codegen can rely on its types, shapes and layer chain.
    """
    path = os.fspath(path)
    require_regular_file(path, "artifact file")
    header, arrays = _read(path)
    try:
        model = _model_from(header.get("model"), arrays, path)
        digest = model.content_hash()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TinyrnnError(f"{path}: artifact structure damaged ({type(exc).__name__}: {exc})") from None
    if digest != header.get("hash"):
        raise TinyrnnError(f"{path}: content hash mismatch (stored {str(header.get('hash'))[:12]}…, computed {digest[:12]}…): file damaged")
    validate(model, path)
    return model
