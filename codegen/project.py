"""A model's firmware project: generated model C + the device protocol app + a board.

``tinyrnn codegen ARTIFACT --board B --out DIR`` writes this; ``tinyrnn build DIR``
compiles it. The generated model files land in ``DIR/app/`` next to the protocol
loop, and ``DIR/tinyrnn.json`` records which artifact they came from.
"""

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path

import jinja2

from tinyrnn.ir import Model

from .firmware import render_firmware
from .generate import generate

MANIFEST = "tinyrnn.json"


def _render_glue(model: Model, name: str, path: Path) -> None:
    text = resources.files("tinyrnn.firmware_templates").joinpath("app", "model_glue.c.j2").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    path.write_text(env.from_string(text).render(name=name, returns_sequences=model.returns_sequences))


def render_project(model: Model, board: str, out_dir, name: str = "model") -> dict:
    """Write the firmware project for ``model`` on ``board`` into ``out_dir``."""
    out = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="tinyrnn-gen-") as stage:
        gen = generate(model, stage, name)
        _render_glue(model, name, Path(stage) / "model_glue.c")
        sources = sorted(p for p in Path(stage).rglob("*") if p.suffix in (".c", ".h"))
        project = render_firmware(out, board, extra_sources=sources)
    manifest = {
        "model_hash": model.content_hash(),
        "model_name": name,
        "board": board,
        "state_bytes": gen["state_bytes"],
        "weights_bytes": gen["weights_bytes"],
        "input_size": model.input_size,
        "output_size": model.output_size,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {**project, **manifest}


def read_manifest(project_dir) -> dict:
    path = Path(project_dir) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}
