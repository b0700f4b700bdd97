"""LiteRT access: read a ``.tflite`` flatbuffer, run it in the desktop interpreter, and
measure how our golden model agrees with it.

The interpreter is LiteRT (``ai_edge_litert``), else ``tflite_runtime``, else ``tf.lite``;
imported only when used. Desktop TFLite does not run TFLite Micro's kernels (its integer
LSTM uses gemmlowp fixed-point sigmoid/tanh, not TFLM's lookup table), so agreement is
measured, never assumed: ``compare_with_litert`` feeds the golden model the very int8
tensor the interpreter fed its first LSTM and compares the int8 outputs byte by byte.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import Model

_DTYPES = {"FLOAT32": np.float32, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
           "UINT8": np.uint8}


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        try:
            from tensorflow.lite.python import schema_py_generated as schema
        except ImportError:
            raise TinyrnnError("reading .tflite files needs ai-edge-litert (pip install 'tinyrnn[tflite]')") from None
    return schema


class TfliteGraph:
    """Subgraph 0 of a parsed ``.tflite`` flatbuffer, with typed access to tensors and constants.

    Read with the schema module shipped with LiteRT (else TensorFlow's); damage is a
    one-line TinyrnnError naming the file.
    """

    def __init__(self, path: str, buf: bytes, schema):
        self.path = path
        if len(buf) < 8 or not schema.Model.ModelBufferHasIdentifier(buf, 0):
            raise TinyrnnError(f"{path}: not a .tflite file (no TFL3 flatbuffer identifier)")
        try:
            self.model = schema.ModelT.InitFromPackedBuf(buf, 0)
            self.buf, self._consts = buf, {}
            names = lambda enum: {v: k for k, v in vars(enum).items() if not k.startswith("_")}  # noqa: E731
            self.op_names, self.type_names = names(schema.BuiltinOperator), names(schema.TensorType)
            self.sub = self.model.subgraphs[0]
            self.ops = [self._op_name(op) for op in self.sub.operators]
            for i in range(len(self.sub.tensors)):
                if self.dtype(i) in _DTYPES:
                    self.const(i)  # touch every constant: a truncated file fails here
        except TinyrnnError:
            raise
        except Exception as exc:  # the generated reader raises many types on damage
            raise TinyrnnError(f"{path}: .tflite flatbuffer truncated or corrupt ({type(exc).__name__}: {exc})"[:300]) from None

    def _op_name(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        name = self.op_names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")
        return f"CUSTOM({(code.customCode or b'').decode(errors='replace')})" if name == "CUSTOM" else name

    def tensor(self, i: int):
        if not 0 <= i < len(self.sub.tensors):
            raise TinyrnnError(f"{self.path}: tensor index {i} out of range (corrupt file)")
        return self.sub.tensors[i]

    def tname(self, i: int) -> str:
        return (self.tensor(i).name or b"?").decode(errors="replace")

    def dtype(self, i: int) -> str:
        return self.type_names.get(self.tensor(i).type, "?")

    def shape(self, i: int) -> tuple:
        return tuple(int(d) for d in (self.tensor(i).shape if self.tensor(i).shape is not None else ()))

    def const(self, i: int):
        """The constant data of tensor i as a typed array, or None for activations/variables."""
        if i not in self._consts:
            self._consts[i] = self._read_const(i)
        return self._consts[i]

    def _read_const(self, i: int):
        if self.tensor(i).sparsity is not None:
            raise TinyrnnError(f"{self.path}: tensor '{self.tname(i)}' is stored sparse; not supported")
        buffer = self.model.buffers[self.tensor(i).buffer]
        if buffer.offset > 1:  # data stored after the flatbuffer
            raw = self.buf[buffer.offset : buffer.offset + buffer.size]
        elif buffer.data is not None and len(buffer.data):
            raw = bytes(np.asarray(buffer.data, np.uint8))
        else:
            return None
        dtype = _DTYPES.get(self.dtype(i))
        if dtype is None:
            raise TinyrnnError(f"{self.path}: tensor '{self.tname(i)}' has unsupported type {self.dtype(i)}")
        n = int(np.prod(self.shape(i), dtype=np.int64))
        if len(raw) != n * np.dtype(dtype).itemsize:
            raise TinyrnnError(f"{self.path}: tensor '{self.tname(i)}' holds {len(raw)} bytes for shape {self.shape(i)} (corrupt file)")
        return np.frombuffer(raw, dtype).reshape(self.shape(i))

    def quant(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(scales float32, zero points int64); empty arrays when the tensor is not quantized."""
        q = self.tensor(i).quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        zps = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0] * len(q.scale), np.int64)
        return np.asarray(q.scale, np.float32), zps

    def scalar_quant(self, i: int, what: str) -> tuple[np.float32, int]:
        scales, zps = self.quant(i)
        if scales.size != 1:
            raise TinyrnnError(f"{self.path}: {what} tensor '{self.tname(i)}' needs one scale (per-tensor), has {scales.size}")
        return scales[0], int(zps[0])

    def real(self, i: int) -> np.ndarray:
        """A constant as float64 real values (dequantized when quantized)."""
        data = self.const(i)
        scales, zps = self.quant(i)
        if data.dtype == np.float32 or scales.size == 0:
            return data.astype(np.float64)
        if scales.size != 1:
            raise TinyrnnError(f"{self.path}: constant '{self.tname(i)}' is quantized per channel")
        return (data.astype(np.float64) - zps[0]) * np.float64(scales[0])

    def expect(self, i: int, dtype: str, what: str) -> None:
        if self.dtype(i) != dtype:
            raise TinyrnnError(f"{self.path}: {what} tensor '{self.tname(i)}' is {self.dtype(i)}, needs {dtype} "
                               "(convert with full integer int8 quantization and a representative dataset)")  # fmt: skip


def read_tflite(path) -> TfliteGraph:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TinyrnnError(f"{path}: no such .tflite file")
    with open(path, "rb") as fh:
        return TfliteGraph(path, fh.read(), _schema())


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "tflite_runtime"
    except ImportError:
        pass
    try:
        from tinyrnn.tfsupport import import_keras

        import_keras()  # quiet TensorFlow import
        import tensorflow as tf

        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType, "tensorflow.lite"
    except (ImportError, TinyrnnError, AttributeError):
        raise TinyrnnError("running .tflite files needs ai-edge-litert (pip install 'tinyrnn[tflite]')") from None


def make_interpreter(path, preserve_all_tensors: bool = False, reference_kernels: bool = False):
    """An allocated interpreter for ``path``; ``reference_kernels`` selects TFLite's reference ops."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TinyrnnError(f"{path}: no such .tflite file")
    cls, resolver, backend = _interpreter_class()
    kwargs = {"experimental_preserve_all_tensors": preserve_all_tensors}
    if reference_kernels:
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_REF
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # preserve_all_tensors warns that it is for debugging
            interp = cls(model_path=path, **kwargs)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TinyrnnError(f"{path}: the TFLite interpreter cannot load it ({first[:200]})") from None
    interp.tinyrnn_backend = backend
    return interp


def _to_input(detail: dict, x: np.ndarray) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zp = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(detail["dtype"])


def run_litert(path, x: np.ndarray, tensors: dict | None = None, reference_kernels: bool = False) -> dict:
    """Run float windows x (N, T, F) one batch at a time, state reset before each.

    Returns ``{"output": (N, ...)}`` plus one stacked array per entry of ``tensors``
    (name → tensor index), read from the interpreter after each invoke.
    """
    x = np.asarray(x, np.float32)
    interp = make_interpreter(path, preserve_all_tensors=bool(tensors), reference_kernels=reference_kernels)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    batch = int(inp["shape"][0])
    if tuple(inp["shape"][1:]) != x.shape[1:]:
        raise TinyrnnError(f"{path}: model input {tuple(inp['shape'][1:])} does not match the data {x.shape[1:]}")
    wanted = {"output": out["index"], **(tensors or {})}
    results: dict = {name: [] for name in wanted}
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        n = len(chunk)
        if n < batch:  # pad the last batch; padded rows are dropped below
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
        interp.reset_all_variables()  # the LSTM state tensors persist between invokes otherwise
        interp.set_tensor(inp["index"], _to_input(inp, chunk))
        interp.invoke()
        for name, index in wanted.items():
            results[name].append(np.array(interp.get_tensor(index))[:n])
    stacked = {name: np.concatenate(parts) for name, parts in results.items()}
    stacked["backend"] = interp.tinyrnn_backend
    return stacked


def _agreement(ours: np.ndarray, theirs: np.ndarray) -> dict:
    diff = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
    per_window = diff.reshape(len(diff), -1).max(axis=1, initial=0)
    return {
        "max_abs_diff_lsb": int(diff.max(initial=0)),
        "windows_within_1_lsb": float(np.mean(per_window <= 1)) if len(diff) else 1.0,
        "mean_abs_diff_lsb": float(diff.mean()) if diff.size else 0.0,
        "identical_bytes": float(np.mean(diff == 0)) if diff.size else 1.0,
        "argmax_agreement": float(np.mean(np.argmax(ours, -1) == np.argmax(theirs, -1))),
    }


def compare_with_litert(path, model: Model, x: np.ndarray, reference_kernels: bool = False) -> dict:
    """MEASURED agreement of the golden model (on the imported IR) with the desktop interpreter.

    ``kernel``: both run the same int8 tensor (the interpreter's input to the first LSTM);
    the int8 IR outputs (logits before SOFTMAX) are compared byte by byte.
    ``end_to_end``: float windows through each side's own input quantization (ours: the
    per-channel ``InputQuant``; TFLite: QUANTIZE and its int8 preprocessing ops).
    """
    info = model.meta.get("tflite", {}).get("tensors", {})
    if "kernel_input" not in info or "ir_output" not in info:
        raise TinyrnnError("compare_with_litert needs a model imported by load_tflite (tensor indices in meta)")
    wanted = {"kernel_input": info["kernel_input"], "ir_output": info["ir_output"],
              "hidden": info["layer_outputs"][0]}  # fmt: skip
    got = run_litert(path, x, wanted, reference_kernels=reference_kernels)
    kernel_in = got["kernel_input"].astype(np.int8)
    probes: list = []
    ours_kernel = run_model(model, kernel_in, probes)
    ours_hidden = np.stack(probes[0]["hidden"], axis=1)  # (N, T, H) of the first LSTM
    ours_e2e_in = model.input_quant.quantize(x)
    ours_e2e = run_model(model, ours_e2e_in)
    in_diff = np.abs(ours_e2e_in.astype(np.int64) - kernel_in.astype(np.int64))
    return {
        "backend": got["backend"] + (" (reference kernels)" if reference_kernels else ""),
        "samples": int(len(x)),
        "kernel": _agreement(ours_kernel, got["ir_output"]),
        "hidden": _agreement(ours_hidden, got["hidden"].reshape(ours_hidden.shape)),
        "end_to_end": {
            "argmax_agreement": float(np.mean(np.argmax(ours_e2e, -1) == np.argmax(got["output"], -1))),
            "input_identical_bytes": float(np.mean(in_diff == 0)),
            "input_max_abs_diff_lsb": int(in_diff.max(initial=0)),
        },
        "litert_pred": np.argmax(got["output"], -1),
        "golden_pred": np.argmax(ours_e2e, -1),
    }
