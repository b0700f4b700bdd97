"""The intermediate representation: one typed model that quantize writes and codegen,
the golden model and the harness read.

Everything integer the kernels need is decided here, once, in Python; the C side only
reads it. Saved as one artifact file (a zip: ``ir.json`` + one ``.npy`` per array),
versioned, with a SHA-256 content hash that generated C and the device report back.
Imports only numpy (and the standard library).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import TinyrnnError

IR_FORMAT = "tinyrnn-ir"
IR_VERSION = 1
GATES_LSTM = ("input", "forget", "cell", "output")
GATES_GRU = ("update", "reset", "candidate")
DENSE_ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax")


@dataclass
class InputQuant:
    """Float input → int8: ``q[c] = clamp(round((x[c] - offset[c]) / scale[c]) + zero_point)``.

    Per-channel offset and scale fold a Keras ``Normalization`` layer (or our own
    per-channel range fit) into the quantizer, so channels whose ranges differ 100×
    all use the full int8 range, while the kernel sees one int8 tensor.
    """

    offset: np.ndarray  # (F,) float32
    scale: np.ndarray  # (F,) float32
    zero_point: int

    def quantize(self, x: np.ndarray) -> np.ndarray:
        q = np.round((np.asarray(x, np.float32) - self.offset) / self.scale) + self.zero_point
        return np.clip(q, -128, 127).astype(np.int8)


@dataclass
class LSTMLayer:
    """TFLite Micro's integer LSTM (int8 x/h, int16 gates and cell), CMSIS-NN naming.

    Arrays are stacked in gate order input, forget, cell, output. ``w_x`` is
    (4, H, I), ``w_h`` (4, H, H), ``bias`` (4, H) int32 on the input path only.
    Each gate's input and recurrent matmul has its own (multiplier, shift) to Q3.12.
    """

    kind: ClassVar[str] = "lstm"
    name: str
    input_size: int
    hidden_size: int
    return_sequences: bool
    w_x: np.ndarray
    w_h: np.ndarray
    bias: np.ndarray
    input_zero_point: int  # zp of x (int8)
    hidden_zero_point: int  # zp of h, also the layer's output zp
    input_scale: float
    hidden_scale: float
    gate_x_multiplier: np.ndarray  # (4,) int32
    gate_x_shift: np.ndarray  # (4,) int32, < 0 is a right shift
    gate_h_multiplier: np.ndarray
    gate_h_shift: np.ndarray
    cell_scale_power: int  # cell state is int16 with scale 2**cell_scale_power
    cell_clip: int  # 0 = no clip beyond int16
    forget_to_cell_multiplier: int
    forget_to_cell_shift: int
    input_to_cell_multiplier: int
    input_to_cell_shift: int
    hidden_multiplier: int  # o * tanh(c) (Q0.15 * Q0.15) → int8 h
    hidden_shift: int

    @property
    def output_size(self) -> int:
        return self.hidden_size


@dataclass
class GRULayer:
    """int8 GRU in the LSTM's family: int8 weights, Q3.12 gate pre-activations, int16 LUT activations.

    Gate order update (z), reset (r), candidate (h~) as in Keras. The hidden state is
    carried between steps as int16 Q0.15 (``h = z·h + (1−z)·h~`` is a leaky
    integrator: in int8 the small (1−z)·h~ increments round away); the matmuls and
    the layer output use ``h8 = round(h16 / 256)``, int8 with scale 1/128 and zero
    point 0. ``reset_after`` selects Keras' variant: r applied after the recurrent
    matmul (with its own recurrent bias) or to h before it.
    """

    kind: ClassVar[str] = "gru"
    name: str
    input_size: int
    hidden_size: int
    return_sequences: bool
    reset_after: bool
    w_x: np.ndarray  # (3, H, I) int8
    w_h: np.ndarray  # (3, H, H) int8
    bias_x: np.ndarray  # (3, H) int32, scale s_x·s_wx[g]
    bias_h: np.ndarray  # (3, H) int32, scale s_h·s_wh[g] (candidate row 0 unless reset_after)
    input_zero_point: int
    input_scale: float
    gate_x_multiplier: np.ndarray  # (3,) to Q3.12
    gate_x_shift: np.ndarray
    gate_h_multiplier: np.ndarray
    gate_h_shift: np.ndarray
    hidden_scale: float = 1.0 / 128.0
    hidden_zero_point: int = 0

    @property
    def output_size(self) -> int:
        return self.hidden_size


@dataclass
class DenseLayer:
    """int8 fully connected layer, per-output-channel requantization."""

    kind: ClassVar[str] = "dense"
    name: str
    input_size: int
    output_size: int
    weights: np.ndarray  # (O, I) int8
    bias: np.ndarray  # (O,) int32
    input_zero_point: int
    output_zero_point: int
    input_scale: float
    output_scale: float
    multiplier: np.ndarray  # (O,) int32
    shift: np.ndarray  # (O,) int32
    activation: str  # linear | relu (applied as int8 clamp) | sigmoid | softmax (left to the caller)


LAYER_TYPES = {cls.kind: cls for cls in (LSTMLayer, GRULayer, DenseLayer)}


@dataclass
class Model:
    name: str
    input_size: int
    input_quant: InputQuant
    layers: list
    classes: list = field(default_factory=list)  # label names, if any
    meta: dict = field(default_factory=dict)  # provenance: source file, calibration, versions

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    @property
    def output_scale(self) -> float:
        last = self.layers[-1]
        return last.output_scale if isinstance(last, DenseLayer) else last.hidden_scale

    @property
    def output_zero_point(self) -> int:
        last = self.layers[-1]
        return last.output_zero_point if isinstance(last, DenseLayer) else last.hidden_zero_point

    @property
    def returns_sequences(self) -> bool:
        recurrent = [layer for layer in self.layers if layer.kind != "dense"]
        return bool(recurrent) and recurrent[-1].return_sequences

    def content_hash(self) -> str:
        doc, arrays = _split(self)
        return _hash(doc, arrays)


def _obj_to_json(obj: Any, prefix: str, arrays: dict) -> Any:
    """Dataclass → JSON-able dict; numpy arrays go to ``arrays`` under a dotted key."""
    if dataclasses.is_dataclass(obj):
        out = {"kind": obj.kind} if hasattr(type(obj), "kind") else {}
        for f in dataclasses.fields(obj):
            out[f.name] = _obj_to_json(getattr(obj, f.name), f"{prefix}{f.name}.", arrays)
        return out
    if isinstance(obj, np.ndarray):
        key = prefix.rstrip(".")
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, list):
        return [_obj_to_json(v, f"{prefix}{i}.", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj


def _split(model: Model) -> tuple[dict, dict]:
    arrays: dict = {}
    doc = _obj_to_json(model, "", arrays)
    return doc, arrays


def _hash(doc: dict, arrays: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in doc.items() if k != "meta"}, sort_keys=True).encode())
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(model: Model, path: str | os.PathLike) -> str:
    """Write the artifact atomically (temp file + rename); returns the content hash."""
    doc, arrays = _split(model)
    digest = _hash(doc, arrays)
    header = {"format": IR_FORMAT, "version": IR_VERSION, "hash": digest, "model": doc}
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
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
            raise TinyrnnError(f"{where}: field '{f.name}' missing")
        value = doc[f.name]
        if isinstance(value, dict) and set(value) == {"array"}:
            if not isinstance(value["array"], str) or value["array"] not in arrays:
                raise TinyrnnError(f"{where}: array {value['array']!r} missing")
            value = arrays[value["array"]]
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
    )


def load(path: str | os.PathLike) -> Model:
    """Read an artifact; any damage is a one-line TinyrnnError naming the file.

    A model that loads has passed the content-hash check and :func:`validate`, so the
    golden model and codegen can rely on its types, shapes and layer chain.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TinyrnnError(f"{path}: no such artifact file")
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


# Validation lives beside the IR; imported last because it reads the layer classes.
from .ir_validate import validate  # noqa: E402
