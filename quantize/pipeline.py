"""Float model + calibration data → IR model (the `tinyrnn quantize` step)."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import FRONT_KINDS, KINDS_16, RECURRENT_KINDS, InputQuant, Model
from tinyrnn.quantize.calibrate import Ranges, calibrate, check_options
from tinyrnn.quantize.equalize import check_input_scales, equalize
from tinyrnn.quantize.float_model import FEEDFORWARD, FloatModel
from tinyrnn.quantize.layers import (
    CELL_POWERS,
    WEIGHT_RULES,
    grid,
    quantize_bidirectional,
    quantize_conv1d,
    quantize_dense,
    quantize_flatten,
    quantize_global_pool1d,
    quantize_gru,
    quantize_lstm,
    quantize_pool1d,
    quantize_rnn,
)

QUANTIZERS = {"lstm": quantize_lstm, "gru": quantize_gru, "rnn": quantize_rnn, "dense": quantize_dense,
              "conv1d": quantize_conv1d, "pool1d": quantize_pool1d, "bidirectional": quantize_bidirectional,
              "global_pool1d": quantize_global_pool1d, "flatten": quantize_flatten}
# quantize_model's lever defaults (the CLI shows the same), measured in results/har_accuracy.md:
# bias correction is on (+1.4 to +3.3 dB hidden-state SQNR on HAR models without a Normalization
# layer, no change with one, accuracy equal within noise); mse ranges, mse weight scales and the
# other cell power rules did not beat these. output_headroom widens the Dense head's output range
# by that fraction of its span on each side: a regression head meets targets beyond the
# calibration data's (results/har_regression.md); 0 keeps the calibrated range. input_scales
# "tensor" gives the input one scale; "channel" fits each input channel's range to the int8 grid
# (quantize/equalize.py): on HAR accuracy moved within noise (mostly near-tie windows) and output
# SQNR both ways (−3.0…+14.2 dB, results/stack_attribution.md), so it is opt-in.
DEFAULTS = {"method": "percentile", "percentile": 99.99, "bias_correction": True, "cell_power": "max", "weights": "max",
            "output_headroom": 0.0, "activations": "int8", "input_scales": "tensor", "logits": "int16",
            "rnn_weights": "int8"}
# --activations: int8, or 16x8 (int16 activations, int8 weights, int64 biases; LSTM, SimpleRNN and Dense only).
ACTIVATIONS = {"int8": 8, "int16": 16}
# --logits: the width of a last Dense layer's output in an int8 model. int16 (the default) keeps
# apart classes whose float logits differ by less than an int8 step (results/stack_attribution.md:
# the int8 loss of the corpus's 3-layer stack was such ties); int8 is TFLite's int8 output contract.
LOGITS = {"int16": 16, "int8": 8}
# --rnn-weights: a 16x8 model's SimpleRNN weights, int8 or int16 (the 16x16 SimpleRNN). ReLU
# SimpleRNNs whose decisions int8 weights move (results/rnn_weight_precision.md: int8 weights
# alone cost the corpus model 3.7 pp at its seed) keep them with int16 (-0.04 pp over 5 seeds).
RNN_WEIGHTS = {"int8": 8, "int16": 16}


def _check_activations(model: FloatModel, activations: str) -> int:
    if activations not in ACTIVATIONS:
        raise TinyrnnError(f"activations {activations!r} unknown (use one of {', '.join(ACTIVATIONS)})")
    bits = ACTIVATIONS[activations]
    for layer in model.layers if bits == 16 else ():
        if layer.kind not in KINDS_16:
            raise TinyrnnError(f"layer '{layer.name}': a {layer.kind} layer has no 16x8 kernel (--activations int16: "
                               "LSTM, SimpleRNN and Dense layers only)")
    return bits


def _check_rnn_weights(model: FloatModel, rnn_weights: str, activation_bits: int) -> int:
    if rnn_weights not in RNN_WEIGHTS:
        raise TinyrnnError(f"rnn_weights {rnn_weights!r} unknown (use one of {', '.join(RNN_WEIGHTS)})")
    bits = RNN_WEIGHTS[rnn_weights]
    if bits == 16 and activation_bits != 16:
        raise TinyrnnError("rnn_weights 'int16' needs activations 'int16' (the 16x16 SimpleRNN runs in a 16x8 model)")
    if bits == 16 and not any(layer.kind == "rnn" for layer in model.layers):
        raise TinyrnnError("rnn_weights 'int16': the model has no SimpleRNN layer")
    return bits


def _check_order(model: FloatModel) -> None:
    seen_dense = seen_recurrent = False
    for layer in model.layers:
        front = layer.kind in FRONT_KINDS
        if front and (seen_dense or seen_recurrent):
            raise TinyrnnError(f"layer '{layer.name}': a Conv1D or pooling layer is only supported before the "
                               "recurrent layers")
        if layer.kind == "dense":
            seen_dense = True
        elif not front and seen_dense:
            raise TinyrnnError(f"layer '{layer.name}': a recurrent layer after a Dense layer is not supported")
        seen_recurrent = seen_recurrent or layer.kind in RECURRENT_KINDS


def check_levers(method: str, percentile: float, bias_correction, cell_power: str, weights: str,
                 output_headroom: float = 0.0, input_scales: str = "tensor") -> None:
    """Every option of ``quantize_model`` valid, or a TinyrnnError naming the option."""
    check_options(method, percentile)
    check_input_scales(input_scales)
    if not 0.0 <= float(output_headroom) <= 10.0:
        raise TinyrnnError(f"output headroom must be between 0 and 10 (a fraction of the range), got {output_headroom}")
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise TinyrnnError(f"bias_correction must be True or False, got {bias_correction!r}")
    if cell_power not in CELL_POWERS:
        raise TinyrnnError(f"cell_power {cell_power!r} unknown (use one of {', '.join(CELL_POWERS)})")
    if weights not in WEIGHT_RULES:
        raise TinyrnnError(f"weights {weights!r} unknown (use one of {', '.join(WEIGHT_RULES)})")


def _with_headroom(model: FloatModel, ranges: Ranges, headroom: float) -> Ranges:
    """``ranges`` with the head's output range widened (a copy: callers reuse ranges across levers)."""
    if headroom == 0.0:
        return ranges
    if model.layers[-1].kind != "dense":
        raise TinyrnnError("output headroom needs a model ending in a Dense layer")
    lo, hi = ranges.layers[-1]["logits"]
    last = {**ranges.layers[-1], "logits": (lo - headroom * (hi - lo), hi + headroom * (hi - lo))}
    return dataclasses.replace(ranges, layers=[*ranges.layers[:-1], last])


def quantize_model(model: FloatModel, calib_x: np.ndarray, method: str = DEFAULTS["method"],
                   percentile: float = DEFAULTS["percentile"], classes: list | None = None, *,
                   bias_correction: bool = DEFAULTS["bias_correction"], cell_power: str = DEFAULTS["cell_power"],
                   weights: str = DEFAULTS["weights"], output_headroom: float = DEFAULTS["output_headroom"],
                   input_scales: str = DEFAULTS["input_scales"], ranges: Ranges | None = None,
                   activations: str = DEFAULTS["activations"], logits: str = DEFAULTS["logits"],
                   rnn_weights: str = DEFAULTS["rnn_weights"]) -> Model:  # fmt: skip
    """Calibrate on ``calib_x`` (raw inputs, (N, T, F)) and quantize every layer.

    Levers (measured on HAR in results/har_accuracy.md): ``method`` — range rule for
    the input, LSTM hidden state and logits ("minmax", "percentile" at ``percentile``,
    "mse"); ``bias_correction`` — fold the mean shift weight rounding causes into the
    biases; ``cell_power`` — LSTM cell scale rule ("max", "tight", "percentile");
    ``weights`` — weight scale rule ("max", "mse"); ``output_headroom`` — widen the Dense
    head's output range by this fraction of its span each side; ``input_scales`` — "tensor"
    (one input scale) or "channel" (each input channel's range on the int8 grid, ``equalize.py``).
    ``ranges``: the result of ``calibrate(model, calib_x, method, percentile, input_scales)``
    if already computed (trying several levers on one calibration set then needs one float
    pass, not one per call). ``activations`` "int16": the 16x8 model (int16 activations on
    symmetric grids from the same calibrated ranges, int8 weights, int64 biases), LSTM and
    Dense layers only. ``logits`` "int16" (default): a last Dense layer of an int8 model
    outputs int16 (zero point 0; ``LOGITS``); "int8": int8 outputs as TFLite's.
    ``rnn_weights`` "int16" (with ``activations`` "int16"): int16 SimpleRNN weights.
    """
    check_levers(method, percentile, bias_correction, cell_power, weights, output_headroom, input_scales)
    if logits not in LOGITS:
        raise TinyrnnError(f"logits {logits!r} unknown (use one of {', '.join(LOGITS)})")
    bits = _check_activations(model, activations)
    if bits == 16 and logits == "int8":
        raise TinyrnnError("logits 'int8' with activations 'int16': a 16x8 model's outputs are int16")
    rnn_weight_bits = _check_rnn_weights(model, rnn_weights, bits)
    _check_order(model)
    if ranges is None:
        ranges = calibrate(model, calib_x, method, percentile, input_scales)
    elif len(ranges.layers) != len(model.layers):
        raise TinyrnnError(f"ranges cover {len(ranges.layers)} layers, the model has {len(model.layers)}")
    elif (ranges.channel_peaks is not None) != (input_scales == "channel"):
        raise TinyrnnError(f"ranges were calibrated for other input scales than input_scales={input_scales!r}")
    if ranges.channel_peaks is not None:
        model = equalize(model, ranges.channel_peaks)
    ranges = _with_headroom(model, ranges, float(output_headroom))
    in_scale, in_zp = grid(*ranges.input, bits)
    input_quant = InputQuant(offset=model.mean.astype(np.float32), scale=(model.std * in_scale).astype(np.float32),
                             zero_point=in_zp, activation_bits=bits)  # fmt: skip
    common = {"bias_correction": bool(bias_correction), "weights": weights}
    wide = {"bits": bits} if bits == 16 else {}
    options = {"lstm": {**common, "cell_power": cell_power, **wide}, "gru": common,
               "rnn": {**common, **wide, "weight_bits": rnn_weight_bits},
               "dense": {**common, **wide}, "pool1d": {}, "global_pool1d": {}, "flatten": {}}
    # The C of a Bidirectional layer (or a "same" Conv1D) buffers whole windows: the input's fixed length, else
    # the calibration's.
    max_steps = model.input_shape[0] or calib_x.shape[1]
    options["bidirectional"] = {**options["lstm"], "max_steps": max_steps}
    options["conv1d"] = {**common, "max_steps": max_steps}
    layers = []
    scale, zp = in_scale, in_zp
    for k, (layer, layer_ranges) in enumerate(zip(model.layers, ranges.layers)):
        last = k == len(model.layers) - 1
        position = {"last": last, "logits_bits": LOGITS[logits] if last else 8} if layer.kind == "dense" else {}
        q = QUANTIZERS[layer.kind](layer, scale, zp, layer_ranges, **options[layer.kind], **position)
        # The next layer reads what this one passes on: a Dense layer's after its table.
        dense = layer.kind in FEEDFORWARD
        scale, zp = (q.result_scale, q.result_zero_point) if dense else (q.hidden_scale, q.hidden_zero_point)
        layers.append(q)
    meta = {
        "source": model.source,
        "calibration": {"method": method, "percentile": percentile, "samples": int(calib_x.shape[0]),
                        "bias_correction": bool(bias_correction), "cell_power": cell_power, "weights": weights,
                        "output_headroom": float(output_headroom), "activations": activations,
                        "input_scales": input_scales, "logits": logits,
                        **({"rnn_weights": rnn_weights} if rnn_weight_bits == 16 else {})},  # older hashes kept
        "float_activation": model.layers[-1].activation if model.layers[-1].kind == "dense" else "linear",
    }  # fmt: skip
    return Model(
        name="model", input_size=int(model.input_shape[1]), input_quant=input_quant, layers=layers,
        classes=list(classes or []), meta=meta, mask_value=model.mask_value,
    )  # fmt: skip
