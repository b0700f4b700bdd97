"""`tinyrnn verify`: run sequences on a device and compare with the golden model."""

from __future__ import annotations

from tinyrnn.app.api import verify, write_report
from tinyrnn.core.boards import DEFAULT_WEIGHTS, WEIGHT_LAYOUTS
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.metrics import LABELLING, REGRESSION_METRICS

HELP = "run sequences on a device and compare with the golden model"


def configure(p) -> None:
    p.add_argument("--model", required=True, help="artifact file")
    p.add_argument("--target", required=True,
                   help="qemu:BOARD, auto:BOARD[:SERIAL] (a USB port found by VID:PID), labgrid:PLACE[,PLACE|PATTERN...] "
                        "(places of a labgrid farm) or a pyserial URL (socket://host:port, rfc2217://host:port, /dev/ttyACM0)")
    p.add_argument("--data", required=True, help="NPZ file (x float, y labels)")
    p.add_argument("--n", type=int, default=100, help="number of sequences")
    p.add_argument("--build-dir", help="keep the QEMU firmware build here (default: a temporary directory)")
    p.add_argument("--jobs", type=int, default=1,
                   help="devices verifying in parallel: QEMU instances (qemu:BOARD) or acquired places (labgrid:)")
    p.add_argument("--weights", choices=WEIGHT_LAYOUTS,
                   help=f"weight layout of the qemu:BOARD firmware build (default: {DEFAULT_WEIGHTS}; see codegen --weights)")
    p.add_argument("--coordinator", metavar="HOST:PORT",
                   help="labgrid coordinator for labgrid: targets (default: $LG_COORDINATOR, else 127.0.0.1:20408)")
    p.add_argument("--report", help="also write the quantization report here (.html, JSON beside it); needs --keras")
    p.add_argument("--keras", help="the float .keras model the artifact came from (for --report)")

def run(args):
    if args.report and not args.keras:
        raise TinyrnnError("--report needs --keras MODEL (the float model the artifact was quantized from)")
    r = verify(args.model, args.target, args.data, args.n, args.build_dir, jobs=args.jobs, coordinator=args.coordinator,
               weights=args.weights)
    if args.report:
        write_report(args.keras, args.model, args.data, args.report, r, n=args.n)
        r["report"] = args.report
    verdict = "VERIFIED bit-exact" if r["verified"] else "NOT verified"
    where = r["board"] + (f" (labgrid places {', '.join(r['places'])})" if r.get("places") else "")
    cost = f"{r['instructions_per_inference']} instructions/inference; " if r["instructions_per_inference"] else ""
    human = (f"{verdict}: {r['sequences']}/{r['requested']} sequences on {where}, {r['mismatches']} mismatching"
             f"{'; ' + r['error'] if r['error'] else ''}; {cost}{r['sequences_per_second']} sequences/s "
             f"with {r['jobs']} job(s){_scores(r)}")
    return r, human


def _scores(r: dict) -> str:
    """The device's figures against the labels: accuracy, or RMSE/MAE/R² per output (regression)."""
    if r["device_accuracy"] is not None:
        return f"; device {'per-step ' if r['task'] == LABELLING else ''}accuracy {r['device_accuracy']:.4f}"
    if r["device_rmse"] is None:
        return ""
    each = lambda v: "/".join("n/a" if e is None else f"{e:.4g}" for e in v)  # noqa: E731  (one value per output)
    return "; device " + ", ".join(f"{m.upper()} {each(r[f'device_{m}'])}" for m in REGRESSION_METRICS)
