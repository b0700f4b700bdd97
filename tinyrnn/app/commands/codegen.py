"""`tinyrnn codegen`: the model library folder, or with --app the firmware project on top of it."""

from __future__ import annotations

from tinyrnn.codegen.project import render_library, render_project
from tinyrnn.core import tnr
from tinyrnn.core.boards import CORE_PATHS, DEFAULT_WEIGHTS, KERNEL_PATHS, WEIGHT_LAYOUTS, default_board
from tinyrnn.core.errors import TinyrnnError

HELP = "generate the model's C library folder (--app: plus the verification firmware project)"


def configure(p) -> None:
    p.add_argument("artifact")
    p.add_argument("--board", help=f"catalogue board whose core the library is for (default: {default_board()}); "
                                   "see `tinyrnn boards`")
    p.add_argument("--core", choices=sorted(CORE_PATHS), help="a core instead of a board (library only)")
    p.add_argument("--weights", choices=WEIGHT_LAYOUTS, default=None,
                   help=f"weight layout in flash (default: {DEFAULT_WEIGHTS}): int16 doubles the weight flash for a "
                        "faster path on Cortex-M3/M4/M7/M33; cores without one refuse it")
    p.add_argument("--path", choices=KERNEL_PATHS, help="name the kernel path outright (default: the core's path for "
                                                        "--weights)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--name", default="model", help="C name of the model (tinyrnn_NAME_step, ...)")
    p.add_argument("--app", action="store_true",
                   help="write the verification firmware project for --board, the library in OUT/lib")


def _stored(model, layout: str) -> str:
    """What the weights are stored as: the path's layout for an int8 model, int8 (and int16
    SimpleRNN weights) for a 16x8 one."""
    if model.activation_bits == 8:
        return layout
    return "int8/int16" if any(getattr(layer, "weight_bits", 8) == 16 for layer in model.layers) else "int8"


def run(args):
    model = tnr.load(args.artifact)
    if args.app:
        if args.core:
            raise TinyrnnError("--app builds for a catalogue board: give --board, not --core")
        board = args.board or default_board()
        project = render_project(model, board, args.out, args.name, path=args.path, weights=args.weights)
        result = {k: project[k] for k in ("project_dir", "library_dir", "board", "path", "weights", "model_hash",
                                          "state_bytes", "weights_bytes")}
        return result, (f"wrote {args.out} for {board} (library in {project['library_dir']}): state "
                        f"{result['state_bytes']} B, {_stored(model, result['weights'])} weights {result['weights_bytes']} B")
    lib = render_library(model, args.out, args.name, board=args.board, core=args.core, path=args.path,
                         weights=args.weights)
    sizes = lib["sizes"]
    result = {"library_dir": lib["library_dir"], "board": lib["board"], "core": lib["core"], "path": lib["path"],
              "weights": lib["weights"],
              "model_hash": lib["model_hash"], "files": lib["files"], **sizes}
    stack = f"{sizes['step_stack_bytes']} B" if sizes["step_stack_bytes"] is not None else "not measured"
    human = (f"wrote library {args.out} for {lib['core']} (path {lib['path']}): {sizes['source_files']} source "
             f"files, state {sizes['state_bytes']} B, {_stored(model, lib['weights'])} weights {sizes['weights_bytes']} B, "
             f"step stack {stack}")
    return result, human
