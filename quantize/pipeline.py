"""Float model + calibration data → IR model (the `tinyrnn quantize` step)."""

from __future__ import annotations

import numpy as np

from tinyrnn.errors import TinyrnnError
from tinyrnn.ir import InputQuant, Model

from .calibrate import calibrate
from .float_model import FloatModel
from .layers import asymmetric, quantize_dense, quantize_gru, quantize_lstm

QUANTIZERS = {"lstm": quantize_lstm, "gru": quantize_gru, "dense": quantize_dense}


def _check_order(model: FloatModel) -> None:
    seen_dense = False
    for layer in model.layers:
        if layer.kind == "dense":
            seen_dense = True
        elif seen_dense:
            raise TinyrnnError(f"layer '{layer.name}': a recurrent layer after a Dense layer is not supported")


def quantize_model(model: FloatModel, calib_x: np.ndarray, method: str = "percentile", percentile: float = 99.99,
                   classes: list | None = None) -> Model:  # fmt: skip
    _check_order(model)
    ranges = calibrate(model, calib_x, method, percentile)
    in_scale, in_zp = asymmetric(*ranges.input)
    input_quant = InputQuant(
        offset=model.mean.astype(np.float32), scale=(model.std * in_scale).astype(np.float32), zero_point=in_zp
    )
    layers = []
    scale, zp = in_scale, in_zp
    for layer, layer_ranges in zip(model.layers, ranges.layers):
        q = QUANTIZERS[layer.kind](layer, scale, zp, layer_ranges)
        scale, zp = (q.output_scale, q.output_zero_point) if layer.kind == "dense" else (q.hidden_scale, q.hidden_zero_point)
        layers.append(q)
    meta = {
        "source": model.source,
        "calibration": {"method": method, "percentile": percentile, "samples": int(calib_x.shape[0])},
        "float_activation": model.layers[-1].activation if model.layers[-1].kind == "dense" else "linear",
    }
    return Model(
        name="model", input_size=int(model.input_shape[1]), input_quant=input_quant, layers=layers,
        classes=list(classes or []), meta=meta,
    )  # fmt: skip
