"""`tinyrnn build`: build a firmware project; sizes from the ELF and link map, model apart from app."""

from __future__ import annotations

from pathlib import Path

from tinyrnn.codegen.build import build
from tinyrnn.codegen.library import LIBRARY_MANIFEST, read_library_manifest
from tinyrnn.codegen.project import LIB, model_sizes
from tinyrnn.core.boards import PATH_WEIGHTS
from tinyrnn.core.errors import TinyrnnError

HELP = "build a firmware project; model and test-app sizes from the ELF and link map"


def configure(p) -> None:
    p.add_argument("dir", help="firmware project directory from `tinyrnn codegen --app`")


def split_sizes(project_dir, sizes: dict) -> dict:
    """The model's own flash (code, weights) and RAM (state incl. work area, stack of a
    step) and the rest of the firmware (the test app, board support, C library)."""
    manifest = read_library_manifest(Path(project_dir) / LIB)
    lib = manifest["sizes"]
    linked = model_sizes(project_dir)
    model_flash = linked["flash_code_bytes"] + linked["flash_weights_bytes"]
    return {
        "model": {"path": manifest["path"], "weights": manifest.get("weights", PATH_WEIGHTS[manifest["path"]]),
                  "flash_code_bytes": linked["flash_code_bytes"], "flash_weights_bytes": linked["flash_weights_bytes"],
                  "ram_state_bytes": lib["state_bytes"], "ram_work_bytes": lib["work_bytes"],
                  "step_stack_bytes": lib["step_stack_bytes"]},
        "app": {"flash_bytes": sizes["flash_bytes"] - model_flash,
                "ram_bytes": sizes["ram_bytes"] - linked["ram_bytes"], "stack_reserved_bytes": sizes["stack"]},
    }


def run(args):
    if (Path(args.dir) / LIBRARY_MANIFEST).is_file():
        raise TinyrnnError(f"{args.dir} is a model library folder: build it into your firmware (its CMakeLists.txt, "
                           "tinyrnn.mk, ...) or write a firmware project with `tinyrnn codegen --app`")
    sizes = build(args.dir)
    result = {"elf": sizes["elf"], "flash_bytes": sizes["flash_bytes"], "ram_bytes": sizes["ram_bytes"],
              "stack_bytes": sizes.get("stack"), **split_sizes(args.dir, sizes)}  # fmt: skip
    m = result["model"]
    human = (f"built {result['elf']}: flash {result['flash_bytes']} B, RAM {result['ram_bytes']} B; model: code "
             f"{m['flash_code_bytes']} B, {m['weights']} weights {m['flash_weights_bytes']} B, state {m['ram_state_bytes']} B "
             f"(work {m['ram_work_bytes']} B), step stack {m['step_stack_bytes']} B")
    return result, human
