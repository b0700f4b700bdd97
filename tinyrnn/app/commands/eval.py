"""`tinyrnn eval`: accuracy (or regression error) of a float model or an int8 artifact."""

from __future__ import annotations

from tinyrnn.app.api import evaluate, is_artifact, verify
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.metrics import LABELLING, REGRESSION, REGRESSION_METRICS
from tinyrnn.quantize.referee import summary as referee_summary
from tinyrnn.quantize.report import agreement_summary

HELP = "accuracy (or RMSE/MAE/R² for float targets) of a Keras model (its own predict) or an int8 artifact"


def configure(p) -> None:
    p.add_argument("model", help=".keras file (Keras predict) or artifact (int8 golden)")
    p.add_argument("--data", required=True, help="NPZ: y class ids (N,), per-step ids (N, T) or float targets (N,)/(N, K)")
    p.add_argument("--quantized", help="also the int8 artifact of this .keras model (same windows)")
    p.add_argument("--target", help="also run on qemu:BOARD or a pyserial URL (device figures, same windows)")
    p.add_argument("--n", type=int, help="use the first N windows (default: all; with --target: 100)")
    p.add_argument("--output", metavar="NAME", help="the output layer of a .keras model with several outputs")


def _fmt(value) -> str:
    """A figure, or one per output joined by '/' (regression)."""
    return "/".join(f"{v:.4f}" if v is not None else "n/a" for v in value) if isinstance(value, list) else f"{value:.4f}"


def run(args):
    n = args.n if args.n is not None else (100 if args.target else None)
    result = evaluate(args.model, args.data, n, args.output)
    metrics = REGRESSION_METRICS if result["task"] == REGRESSION else ("accuracy",)
    sources = ["keras" if result["kind"] == "keras" else "int8"]
    result.update({f"{sources[0]}_{m}": result[m] for m in metrics})
    artifact = args.quantized or (args.model if is_artifact(args.model) else None)
    if args.quantized:
        quantized = evaluate(args.quantized, args.data, n)
        result.update({f"int8_{m}": quantized[m] for m in metrics})
        sources.append("int8")
    if args.target:
        if artifact is None:
            raise TinyrnnError("--target needs an int8 artifact: pass one as MODEL or with --quantized")
        ran = verify(artifact, args.target, args.data, result["n"])
        result.update({f"device_{m}": ran[f"device_{m}"] for m in metrics})
        result.update(verified=ran["verified"], mismatches=ran["mismatches"], target=args.target)
        sources.append("device")
    what = "per-step accuracy" if result["task"] == LABELLING else None
    lines = [f"{what or m} on {result['n']} sequences: " + ", ".join(f"{s} {_fmt(result[f'{s}_{m}'])}" for s in sources)
             for m in metrics]
    lines.append(referee_summary(result["keras_agreement"]))
    if artifact:  # the integer model's link to float, as quantize measured it
        result["float_agreement"] = (quantized if args.quantized else result).get("float_agreement")
        lines.append(agreement_summary(result["float_agreement"]))
    return result, "\n".join(lines)
