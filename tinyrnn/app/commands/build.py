"""`tinyrnn build`: build a firmware project; sizes from the ELF."""

from __future__ import annotations

from tinyrnn.codegen.build import build

HELP = "build a firmware project; sizes from the ELF"


def configure(p) -> None:
    p.add_argument("dir", help="firmware project directory from `tinyrnn codegen`")

def run(args):
    sizes = build(args.dir)
    result = {"elf": sizes["elf"], "flash_bytes": sizes["flash_bytes"], "ram_bytes": sizes["ram_bytes"],
              "stack_bytes": sizes.get("stack")}  # fmt: skip
    return result, f"built {result['elf']}: flash {result['flash_bytes']} B, RAM {result['ram_bytes']} B"
