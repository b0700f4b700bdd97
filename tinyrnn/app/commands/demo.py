"""`tinyrnn demo`: the whole pipeline on generated data, verified on an emulated Cortex-M4."""

from __future__ import annotations

from tinyrnn.app.api import demo_summary, run_demo
from tinyrnn.train.model import ARCHS

HELP = "the whole pipeline on generated data, verified on an emulated Cortex-M4"


def configure(p) -> None:
    p.add_argument("--out", default="out/demo", help="directory for every artifact (default out/demo)")
    p.add_argument("--arch", choices=ARCHS, default="lstm")
    p.add_argument("--board", default="mps2-an386")
    p.add_argument("--n", type=int, default=100, help="sequences to verify on the device (default 100)")
    p.add_argument("--epochs", type=int, default=12)

def run(args):
    result = run_demo(args.out, arch=args.arch, board=args.board, n_verify=args.n, epochs=args.epochs)
    return result, demo_summary(result)
