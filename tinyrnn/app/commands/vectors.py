"""`tinyrnn vectors`: run a conformance vector case."""

from __future__ import annotations

import tempfile

import numpy as np

from tinyrnn.app.targets import run_layer_on_target
from tinyrnn.core.golden.lstm_s8 import lstm_s8
from tinyrnn.core.vectors import load_case

HELP = "run a conformance vector case"


def configure(p) -> None:
    p.add_argument("action", choices=("run",))
    p.add_argument("file", help="vector case (.json, CMSIS-NN LSTM layout)")
    p.add_argument("--target", default="golden", help="golden | host | qemu:BOARD")

def run(args):
    case = load_case(args.file)
    if args.target == "golden":
        out, _ = lstm_s8(case.layer, case.x)
    else:
        with tempfile.TemporaryDirectory(prefix="tinyrnn-vec-") as work:
            out = run_layer_on_target(case.layer, case.x, args.target, work)
    diff = np.abs(out.astype(np.int64) - case.expected.astype(np.int64))
    result = {"case": case.name, "elements": int(diff.size), "mismatches": int((diff > 0).sum()),
              "max_abs_diff": int(diff.max(initial=0)), "target": args.target}  # fmt: skip
    human = f"{case.name} on {args.target}: {result['mismatches']} of {result['elements']} elements differ"
    return result, human
