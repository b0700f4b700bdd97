"""`tinyrnn eval`: accuracy of a float model or an int8 artifact."""

from __future__ import annotations

from tinyrnn.app.api import evaluate, is_artifact, verify
from tinyrnn.core.errors import TinyrnnError

HELP = "accuracy of a float model or an int8 artifact"


def configure(p) -> None:
    p.add_argument("model", help=".keras file (float) or artifact (int8 golden)")
    p.add_argument("--data", required=True)
    p.add_argument("--quantized", help="also the int8 artifact of this .keras model (same windows)")
    p.add_argument("--target", help="also run on qemu:BOARD or a pyserial URL (device accuracy, same windows)")
    p.add_argument("--n", type=int, help="use the first N windows (default: all; with --target: 100)")

def run(args):
    n = args.n if args.n is not None else (100 if args.target else None)
    result = evaluate(args.model, args.data, n)
    result[f"{'float' if result['kind'] == 'float' else 'int8'}_accuracy"] = result["accuracy"]
    artifact = args.quantized or (args.model if is_artifact(args.model) else None)
    if args.quantized:
        result["int8_accuracy"] = evaluate(args.quantized, args.data, n)["accuracy"]
    if args.target:
        if artifact is None:
            raise TinyrnnError("--target needs an int8 artifact: pass one as MODEL or with --quantized")
        ran = verify(artifact, args.target, args.data, result["n"])
        result.update(device_accuracy=ran["device_accuracy"], verified=ran["verified"], mismatches=ran["mismatches"], target=args.target)
    parts = [f"{k.split('_')[0]} {result[k]:.4f}" for k in ("float_accuracy", "int8_accuracy", "device_accuracy") if result.get(k) is not None]
    return result, f"accuracy on {result['n']} sequences: " + ", ".join(parts)
