"""`tinyrnn report`: quantization report (HTML + JSON)."""

from __future__ import annotations

from tinyrnn.app.api import verify, write_report
from tinyrnn.quantize.report import text_summary

HELP = "quantization report (HTML + JSON)"


def configure(p) -> None:
    p.add_argument("keras_model", help="the float .keras model")
    p.add_argument("artifact", help="its quantized artifact")
    p.add_argument("--data", required=True, help="evaluation data (NPZ with x and y)")
    p.add_argument("--target", help="also run on qemu:BOARD or a pyserial URL for device accuracy and cost")
    p.add_argument("--n", type=int, help="use the first N sequences")
    p.add_argument("--out", required=True, help="report .html (JSON written beside it)")

def run(args):
    verified = verify(args.artifact, args.target, args.data, args.n or 100) if args.target else None
    report = write_report(args.keras_model, args.artifact, args.data, args.out, verified, args.n)
    return {"report": args.out, "json": args.out.rsplit(".", 1)[0] + ".json", "headline": report["headline"]}, text_summary(report)
