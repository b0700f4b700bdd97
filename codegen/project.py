"""A model's firmware project: the model library + the device protocol app + a board.

``tinyrnn codegen ARTIFACT --board B --app --out DIR`` writes this; ``tinyrnn build DIR``
compiles it. The model library folder (codegen/library.py) lands in ``DIR/lib/`` and the
project's Makefile builds it through the library's own ``tinyrnn.mk``, as a user's would;
``DIR/app/`` holds the protocol loop and its glue, ``DIR/tinyrnn.json`` records which
artifact they came from. ``render_library`` writes a library folder alone.

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

from tinyrnn.codegen import library
from tinyrnn.codegen.build import map_sizes
from tinyrnn.codegen.firmware import render_firmware
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.fileio import os_error_text
from tinyrnn.core.ir import Model

MANIFEST = "tinyrnn.json"
LIB = "lib"
_OWNED_DIRS = ("app", "board", LIB)  # wholly owned by the renderer: stale files are removed


def _render_glue(model: Model, name: str, path: Path) -> None:
    text = resources.files("tinyrnn.firmware_templates").joinpath("app", "model_glue.c.j2").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    path.write_text(env.from_string(text).render(name=name, returns_sequences=model.returns_sequences,
                                                whole_window=model.whole_window,
                                                element_size=model.activation_bits // 8,
                                                output_element_size=model.output_bits // 8))


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


def _sync_into(stage: Path, out: Path, manifest: str, owned_dirs) -> None:
    """Update an existing directory from a complete staged one, manifest last."""
    (out / manifest).unlink(missing_ok=True)  # from here until the end the output is not valid
    for src in sorted(stage.rglob("*")):
        rel = src.relative_to(stage)
        if src.is_file() and rel != Path(manifest):
            _sync_file(src, out / rel)
    for owned in owned_dirs:
        for old in sorted((out / owned).rglob("*"), reverse=True) if (out / owned).is_dir() else ():
            if not (stage / owned / old.relative_to(out / owned)).exists():
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    _sync_file(stage / manifest, out / manifest)


def _render_atomic(out_dir, stage_fn, manifest: str, owned_dirs):
    """Run ``stage_fn(stage)`` in a temporary directory beside ``out_dir``, then move or
    sync the result into place (all or nothing); returns (stage_fn's result, stage path)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinyrnnError(f"{out}: exists and is not a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_root = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise TinyrnnError(f"{out}: cannot create the output directory ({os_error_text(exc)})") from None
    try:
        stage = tmp_root / "out"
        stage.mkdir()
        result = stage_fn(stage)
        if out.is_dir():
            _sync_into(stage, out, manifest, owned_dirs)
        else:
            os.rename(stage, out)
    except OSError as exc:
        raise TinyrnnError(f"{out}: cannot write the output ({os_error_text(exc)})") from None
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return result, stage


def render_library(model: Model, out_dir, name: str = "model", **target) -> dict:
    """Write the model library folder into ``out_dir`` (all or nothing); ``target``:
    board, core, path, weights as library.library_target takes them. Returns its manifest."""
    manifest, _ = _render_atomic(out_dir, lambda stage: library.write_library(model, stage, name, **target),
                                 library.LIBRARY_MANIFEST, library.OWNED_DIRS)
    return {**manifest, "library_dir": str(out_dir)}


def _stage_project(model: Model, board: str, stage: Path, name: str, path: str | None,
                   weights: str | None) -> tuple[dict, dict]:
    lib = library.write_library(model, stage / LIB, name, board=board, path=path, weights=weights)
    with tempfile.TemporaryDirectory(prefix="tinyrnn-gen-") as gen_dir:
        _render_glue(model, name, Path(gen_dir) / "model_glue.c")
        project = render_firmware(stage, board, extra_sources=[Path(gen_dir) / "model_glue.c"],
                                  library=(f"{LIB}/tinyrnn.mk", name.upper()))
    manifest = {
        "model_hash": model.content_hash(),
        "model_name": name,
        "board": board,
        "library": LIB,
        "path": lib["path"],
        "weights": lib["weights"],
        "state_bytes": lib["sizes"]["state_bytes"],
        "weights_bytes": lib["sizes"]["weights_bytes"],
        "input_size": model.input_size,
        "output_size": model.output_size,
    }
    _write_atomic(stage / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return project, manifest


def render_project(model: Model, board: str, out_dir, name: str = "model", path: str | None = None,
                   weights: str | None = None) -> dict:
    """Write the firmware project for ``model`` on ``board`` into ``out_dir`` (all or
    nothing); ``weights`` picks the weight layout (int8 by default), ``path`` names a
    kernel path outright (e.g. "dsp8")."""
    out = Path(out_dir)
    (project, manifest), stage = _render_atomic(out, lambda st: _stage_project(model, board, st, name, path, weights),
                                                MANIFEST, _OWNED_DIRS)
    paths = {k: str(out / Path(project[k]).relative_to(stage)) for k in ("elf", "makefile", "linker_script")}
    return {**project, **paths, "project_dir": str(out), "library_dir": str(out / LIB), **manifest}


def model_objects(project_dir) -> tuple[set, str]:
    """(object files of the model's code, its weights object) in a firmware build, from
    the library manifest: the kernels and generated functions it compiles."""
    lib = library.read_library_manifest(Path(project_dir) / LIB)
    weights = f"{lib['name']}_weights"
    return {f"{Path(s).stem}.o" for s in lib["sources"]} - {f"{weights}.o"}, f"{weights}.o"


def model_sizes(project_dir) -> dict:
    """flash_code_bytes, flash_weights_bytes, ram_bytes of the model alone, from the link map."""
    code, weights = model_objects(project_dir)
    return map_sizes(Path(project_dir) / "firmware.map", code, {weights})


def read_manifest(project_dir) -> dict:
    path = Path(project_dir) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}
