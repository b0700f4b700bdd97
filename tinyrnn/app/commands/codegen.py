"""`tinyrnn codegen`: generate C and a firmware project for a board."""

from __future__ import annotations

from tinyrnn.codegen.project import render_project
from tinyrnn.core import tnr

HELP = "generate C and a firmware project for a board"


def configure(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--board", default="mps2-an386", help="catalogue board (see `tinyrnn boards`)")
    p.add_argument("--out", required=True, help="firmware project directory")
    p.add_argument("--name", default="model", help="C name of the model (tinyrnn_NAME_step, ...)")

def run(args):
    project = render_project(tnr.load(args.artifact), args.board, args.out, args.name)
    result = {k: project[k] for k in ("project_dir", "board", "model_hash", "state_bytes", "weights_bytes")}
    human = f"wrote {args.out} for {args.board}: state {result['state_bytes']} B, weights {result['weights_bytes']} B"
    return result, human
