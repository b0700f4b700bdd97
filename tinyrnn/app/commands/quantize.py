"""`tinyrnn quantize`: quantize a Keras model to an int8 artifact."""

from __future__ import annotations

import argparse

from tinyrnn.app.api import REGRESSION_HEADROOM, quantize_file
from tinyrnn.quantize.calibrate import METHODS
from tinyrnn.quantize.equalize import INPUT_SCALES
from tinyrnn.quantize.layers import CELL_POWERS, WEIGHT_RULES
from tinyrnn.quantize.pipeline import ACTIVATIONS, DEFAULTS, LOGITS, RNN_WEIGHTS
from tinyrnn.quantize.referee import summary as referee_summary
from tinyrnn.quantize.report import agreement_summary

HELP = "quantize a Keras model to an int8 artifact"


def configure(p) -> None:
    p.add_argument("model", help=".keras model file, or an int8 .tflite with a fused LSTM (or a 16x8 one of LSTM ops)")
    p.add_argument("--calib", help="calibration data for a .keras model (NPZ file, UCI HAR folder or synthetic:NAME)")
    p.add_argument("--out", required=True, help="output artifact file (.tnr)")

    p.add_argument("--method", choices=METHODS, default=DEFAULTS["method"],
                   help="range rule for input, hidden state and logits (mse: least quantization error)")
    p.add_argument("--percentile", type=float, default=DEFAULTS["percentile"], help="for --method percentile and --cell-power percentile")
    p.add_argument("--bias-correction", action=argparse.BooleanOptionalAction, default=DEFAULTS["bias_correction"],
                   help="fold the mean shift caused by weight rounding into the biases")
    p.add_argument("--cell-power", choices=CELL_POWERS, default=DEFAULTS["cell_power"],
                   help="LSTM cell scale 2^p: max (no saturation on calibration data), tight (one lower), percentile")
    p.add_argument("--weights", choices=WEIGHT_RULES, default=DEFAULTS["weights"],
                   help="weight scales: max |w|, or mse (clip outlier weights where that lowers the error)")
    p.add_argument("--input-scales", choices=INPUT_SCALES, default=DEFAULTS["input_scales"],
                   help="tensor: one input scale; channel: each input channel's range on the int8 grid (folded "
                        "into the first layer's weights)")
    p.add_argument("--output-headroom", type=float, default=None,
                   help=f"widen the Dense head's output range by this fraction of it on each side (default: "
                        f"{REGRESSION_HEADROOM} when the calibration data has float (regression) targets, else "
                        f"{DEFAULTS['output_headroom']})")
    p.add_argument("--activations", choices=list(ACTIVATIONS), default=DEFAULTS["activations"],
                   help="int16: the 16x8 mode (int16 activations, int8 weights, int64 biases, as TFLite Micro's "
                        "16x8 kernels; LSTM, SimpleRNN and Dense layers only)")
    p.add_argument("--rnn-weights", choices=list(RNN_WEIGHTS), default=DEFAULTS["rnn_weights"],
                   help="int16: SimpleRNN weights in int16 (the 16x16 SimpleRNN, with --activations int16), for "
                        "recurrences whose decisions int8 weights change")
    p.add_argument("--logits", choices=list(LOGITS), default=None,
                   help=f"width of the last Dense layer's outputs (default {DEFAULTS['logits']}: classes an int8 grid "
                        "would tie stay apart; int8: TFLite's int8 output contract)")
    p.add_argument("--calib-samples", type=int, default=500, help="windows used for calibration (and the Keras referee)")
    p.add_argument("--output", metavar="NAME", help="the output layer of a Keras model with several outputs")

def run(args):
    result = quantize_file(args.model, args.calib, args.out, args.method, args.calib_samples, percentile=args.percentile,
                           bias_correction=args.bias_correction, cell_power=args.cell_power, weights=args.weights,
                           output_headroom=args.output_headroom, input_scales=args.input_scales,
                           output=args.output, activations=args.activations, rnn_weights=args.rnn_weights,
                           **({} if args.logits is None else {"logits": args.logits}))  # fmt: skip
    lines = [f"quantized {args.model} → {args.out} (hash {result['hash'][:12]})"]
    if result["keras_agreement"]:
        lines.append(referee_summary(result["keras_agreement"]))
    if result["float_agreement"]:
        lines.append(agreement_summary(result["float_agreement"]))
    return result, "\n".join(lines)
