"""A model's firmware project: generated model C + the device protocol app + a board.

``tinyrnn codegen ARTIFACT --board B --out DIR`` writes this; ``tinyrnn build DIR``
compiles it. The generated model files land in ``DIR/app/`` next to the protocol
loop, and ``DIR/tinyrnn.json`` records which artifact they came from.

Nothing half-written ever looks valid: the project is rendered into a temporary
directory beside ``DIR`` and renamed into place when complete. Re-rendering an
existing project first removes its manifest, then updates only the files that
changed (unchanged files keep their mtimes, so ``make`` rebuilds only what changed),
and writes the manifest last.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import jinja2

from tinyrnn.codegen.build import map_sizes
from tinyrnn.codegen.firmware import render_firmware
from tinyrnn.codegen.generate import generate, kernel_files
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.fileio import os_error_text
from tinyrnn.core.ir import Model

MANIFEST = "tinyrnn.json"
_OWNED_DIRS = ("app", "board")  # wholly owned by the renderer: stale files are removed


def _render_glue(model: Model, name: str, path: Path) -> None:
    text = resources.files("tinyrnn.firmware_templates").joinpath("app", "model_glue.c.j2").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    path.write_text(env.from_string(text).render(name=name, returns_sequences=model.returns_sequences))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _sync_file(src: Path, dst: Path) -> None:
    """Copy unless identical (mtime kept); replace atomically so a reader never sees half a file."""
    if dst.is_file() and dst.read_bytes() == src.read_bytes():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _sync_into(stage: Path, out: Path) -> None:
    """Update an existing project directory from a complete staged one, manifest last."""
    (out / MANIFEST).unlink(missing_ok=True)  # from here until the end the project is not valid
    for src in sorted(stage.rglob("*")):
        rel = src.relative_to(stage)
        if src.is_file() and rel.name != MANIFEST:
            _sync_file(src, out / rel)
    for owned in _OWNED_DIRS:
        for old in sorted((out / owned).rglob("*"), reverse=True) if (out / owned).is_dir() else ():
            if not (stage / owned / old.relative_to(out / owned)).exists():
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    _sync_file(stage / MANIFEST, out / MANIFEST)


def _stage_project(model: Model, board: str, stage: Path, name: str) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory(prefix="tinyrnn-gen-") as gen_dir:
        gen = generate(model, gen_dir, name)
        _render_glue(model, name, Path(gen_dir) / "model_glue.c")
        sources = sorted(p for p in Path(gen_dir).rglob("*") if p.suffix in (".c", ".h"))
        project = render_firmware(stage, board, extra_sources=sources)
    manifest = {
        "model_hash": model.content_hash(),
        "model_name": name,
        "board": board,
        "state_bytes": gen["state_bytes"],
        "weights_bytes": gen["weights_bytes"],
        "input_size": model.input_size,
        "output_size": model.output_size,
    }
    _write_atomic(stage / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return project, manifest


def render_project(model: Model, board: str, out_dir, name: str = "model") -> dict:
    """Write the firmware project for ``model`` on ``board`` into ``out_dir`` (all or nothing)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinyrnnError(f"{out}: exists and is not a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_root = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise TinyrnnError(f"{out}: cannot create the project directory ({os_error_text(exc)})") from None
    try:
        stage = tmp_root / "project"
        project, manifest = _stage_project(model, board, stage, name)
        if out.is_dir():
            _sync_into(stage, out)
        else:
            os.rename(stage, out)
    except OSError as exc:
        raise TinyrnnError(f"{out}: cannot write the project ({os_error_text(exc)})") from None
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    paths = {k: str(out / Path(project[k]).relative_to(stage)) for k in ("elf", "makefile", "linker_script")}
    return {**project, **paths, "project_dir": str(out), **manifest}


def model_sizes(project_dir, name: str = "model") -> dict:
    """flash_code_bytes, flash_weights_bytes, ram_bytes of the model alone, from the link map."""
    stems = {Path(f.name).stem for f in kernel_files() if f.name.endswith(".c")} | {name}
    return map_sizes(Path(project_dir) / "firmware.map", {f"{s}.o" for s in stems}, {f"{name}_weights.o"})


def read_manifest(project_dir) -> dict:
    path = Path(project_dir) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}
