"""TensorFlow Lite Micro as the referee of the golden model (``pip install tflite-micro``).

The ``tflite-micro`` wheel is the TFLM interpreter itself (its reference kernels, the
ones a Cortex-M build runs without CMSIS-NN), with Python bindings and no TensorFlow.
``compare_with_tflm`` feeds the golden model the very int8 tensor TFLM fed its first
LSTM and compares, element by element: the int8 IR output (logits before SOFTMAX), every
LSTM's hidden state at every step, and every LSTM's cell state at every step. TFLM keeps
no per-step cell state, so the cell states come from a copy of the model with one time
step, invoked once per step: TFLM's LSTM keeps h and c in variable tensors across
invokes (until ``reset``), and the state tensors are read after each.
"""

from __future__ import annotations

import os

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import Model
from tinyrnn.quantize.litert import _schema, read_tflite

LSTM_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
HIDDEN_SLOT, CELL_SLOT = 18, 19  # the LSTM op's state inputs (variable tensors)


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise TinyrnnError("running TFLite Micro needs the tflite-micro package (pip install tflite-micro)") from None
    return runtime


def tflm_version() -> str:
    _runtime()
    from tflite_micro.python.tflite_micro import _version

    return _version.__version__


def _interpreter(buf: bytes, path: str):
    runtime = _runtime()
    try:
        return runtime.Interpreter.from_bytes(buf, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    except (ValueError, RuntimeError) as exc:
        raise TinyrnnError(f"{path}: TFLite Micro cannot load it ({str(exc).strip()[:200]})") from None


def one_step_copy(buf: bytes, steps: int) -> bytes:
    """The same model with time dimension 1: every rank-3 (1, steps, n) tensor becomes
    (1, 1, n); the last-step STRIDED_SLICE (begin -1) then takes the only step."""
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(buf, 0)
    for tensor in model.subgraphs[0].tensors:
        for attr in ("shape", "shapeSignature"):
            shape = getattr(tensor, attr)
            if shape is not None and len(shape) == 3 and int(shape[1]) == steps:
                setattr(tensor, attr, [int(shape[0]), 1, int(shape[2])])
    builder = flatbuffers.Builder(len(buf) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _lstm_tensors(path) -> list[tuple[int, int, int]]:
    """(output sequence, hidden state, cell state) tensor indices of each LSTM op, in graph order."""
    g = read_tflite(path)
    ops = [(g.sub.operators[k], name) for k, name in enumerate(g.ops)]
    return [(int(op.outputs[0]), int(op.inputs[HIDDEN_SLOT]), int(op.inputs[CELL_SLOT])) for op, name in ops
            if name == LSTM_OP]  # fmt: skip


def _tensor(interp, index: int) -> np.ndarray:
    return np.array(interp.GetTensor(index, 0)["tensor_data"])


def _input_dtype(interp):
    return np.dtype(interp.get_input_details(0)["dtype"])


def run_tflm(path, x: np.ndarray, tensors: dict) -> dict:
    """Windows x (N, T, F) in the model's input type, one invoke each (state reset before):
    ``{name: (N, ...)}`` for every tensor index in ``tensors`` plus ``output``."""
    path = os.fspath(path)
    interp = _interpreter(open(path, "rb").read(), path)
    got: dict = {name: [] for name in ("output", *tensors)}
    for window in np.asarray(x, _input_dtype(interp)):
        interp.reset()
        interp.set_input(window[None], 0)
        interp.invoke()
        got["output"].append(np.array(interp.get_output(0))[0])
        for name, index in tensors.items():
            got[name].append(_tensor(interp, index)[0])
    return {name: np.stack(parts) for name, parts in got.items()}


def step_tflm(path, x: np.ndarray) -> list[dict]:
    """Per LSTM op: ``{"hidden": (N, T, H), "cell": (N, T, H)}`` read from the state tensors
    of the one-step copy after each step of each window."""
    path = os.fspath(path)
    states = [(h, c) for _, h, c in _lstm_tensors(path)]
    interp = _interpreter(one_step_copy(open(path, "rb").read(), np.shape(x)[1]), path)
    x = np.asarray(x, _input_dtype(interp))
    out = [{"hidden": [], "cell": []} for _ in states]
    for window in x:
        interp.reset()
        per_step = [{"hidden": [], "cell": []} for _ in states]
        for t in range(x.shape[1]):
            interp.set_input(window[None, t : t + 1], 0)
            interp.invoke()
            for rec, (h, c) in zip(per_step, states):
                rec["hidden"].append(_tensor(interp, h).reshape(-1))
                rec["cell"].append(_tensor(interp, c).reshape(-1))
        for acc, rec in zip(out, per_step):
            acc["hidden"].append(np.stack(rec["hidden"]))
            acc["cell"].append(np.stack(rec["cell"]))
    return [{k: np.stack(v) for k, v in layer.items()} for layer in out]


def compare_s16_with_tflm(path, layers: list, x: np.ndarray) -> dict:
    """The same for a 16x8 graph of LSTM ops (``load_lstm_s16``) on int16 windows x: the
    golden ``lstm_s16`` against TFLM on every hidden and cell state of every layer."""
    from tinyrnn.core.golden.lstm_s16 import lstm_s16_step

    stepped = step_tflm(path, x)
    report, y = {"tflm_version": tflm_version(), "windows": int(len(x)), "layers": []}, np.asarray(x, np.int16)
    for layer, theirs in zip(layers, stepped):
        h = c = np.zeros((len(y), layer.hidden_size), np.int16)
        hs, cs = [], []
        for t in range(y.shape[1]):
            h, c = lstm_s16_step(layer, y[:, t], h, c)
            hs.append(h)
            cs.append(c)
        y = np.stack(hs, axis=1)
        report["layers"].append({"hidden": _diff(y, theirs["hidden"]), "cell": _diff(np.stack(cs, 1), theirs["cell"])})
    report["golden_output"] = y
    return report


def _diff(ours: np.ndarray, theirs: np.ndarray) -> dict:
    ours, theirs = np.asarray(ours, np.int64), np.asarray(theirs, np.int64).reshape(np.shape(ours))
    diff = np.abs(ours - theirs)
    return {"elements": int(diff.size), "mismatched": int(np.count_nonzero(diff)),
            "windows_mismatched": int(np.count_nonzero(diff.reshape(len(diff), -1).max(axis=1, initial=0))),
            "max_abs_diff_lsb": int(diff.max(initial=0))}  # fmt: skip


def compare_with_tflm(path, model: Model, x: np.ndarray) -> dict:
    """MEASURED agreement of the golden model (on the imported IR) with TFLite Micro, on the
    int8 tensor TFLM fed the first LSTM. ``kernel_input`` is returned for the C side."""
    info = model.meta.get("tflite", {}).get("tensors", {})
    if "kernel_input" not in info or "ir_output" not in info:
        raise TinyrnnError("compare_with_tflm needs a model imported by load_tflite (tensor indices in meta)")
    sequences = {f"lstm_{k}": out for k, (out, _, _) in enumerate(_lstm_tensors(path))}
    full = run_tflm(path, x, {"kernel_input": info["kernel_input"], "ir_output": info["ir_output"], **sequences})
    stepped = step_tflm(path, x)
    # The one-step copy must replay the full model: its hidden states equal the fused op's output.
    for k, theirs in enumerate(stepped):
        if not np.array_equal(theirs["hidden"], full[f"lstm_{k}"].reshape(theirs["hidden"].shape)):
            raise TinyrnnError(f"{path}: the one-step copy of LSTM {k} does not replay the full model in TFLM")
    kernel_in = full["kernel_input"].astype(np.int8)
    probes: list = []
    ours = run_model(model, kernel_in, probes)
    report = {"tflm_version": tflm_version(), "windows": int(len(x)), "output": _diff(ours, full["ir_output"]),
              "golden_output": ours, "kernel_input": kernel_in, "golden_probes": probes, "layers": []}  # fmt: skip
    lstm_probes = [p for p, layer in zip(probes, model.layers) if layer.kind == "lstm"]
    for theirs, mine in zip(stepped, lstm_probes):
        report["layers"].append({"hidden": _diff(np.stack(mine["hidden"], axis=1), theirs["hidden"]),
                                 "cell": _diff(np.stack(mine["cell"], axis=1), theirs["cell"])})  # fmt: skip
    return report
