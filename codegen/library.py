"""The model as a library folder that drops into the user's own firmware.

``tinyrnn codegen M.tnr --out DIR`` writes (and the firmware project embeds as ``lib/``)::

    src/                  NAME.h (the API), NAME.c, NAME_weights.c/.h, the kernels this
                          model uses and nothing else, its one weight layout
    CMakeLists.txt        add_subdirectory() target tinyrnn_NAME
    tinyrnn.mk            Makefile fragment: TINYRNN_NAME_SRCS, _CPPFLAGS, _CFLAGS
    zephyr/               module.yml, CMakeLists.txt, Kconfig (CONFIG_TINYRNN_NAME)
    library.json          PlatformIO library manifest
    library.properties    Arduino library manifest (1.5 format, sources in src/)
    tinyrnn_library.json  the manifest: files, sources, include dirs, defines, flags,
                          model hash, sizes (written last)

The kernel path comes from the board's or core's features and the weight layout the
user chose (int8 by default; tinyrnn.core.boards.kernel_path) unless one is named.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from tinyrnn.codegen import stack
from tinyrnn.codegen.firmware import arch_flags
from tinyrnn.codegen.generate import build_context, template_env, write_files
from tinyrnn.core.boards import (
    DEFAULT_WEIGHTS,
    KERNEL_PATHS,
    PATH_WEIGHTS,
    core_family,
    default_board,
    get_board,
    kernel_path,
)
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import Model

LIBRARY_MANIFEST = "tinyrnn_library.json"
SRC = "src"
OWNED_DIRS = (SRC, "zephyr")  # wholly owned by the renderer: stale files are removed
COMPILE_FLAGS = ("-O2", "-std=c99")  # what the stack figure is measured with
_BUILD_FILES = {"CMakeLists.txt": "lib_CMakeLists.txt.j2", "tinyrnn.mk": "lib_tinyrnn.mk.j2",
                "zephyr/module.yml": "lib_zephyr_module.yml.j2",
                "zephyr/CMakeLists.txt": "lib_zephyr_CMakeLists.txt.j2",
                "zephyr/Kconfig": "lib_zephyr_Kconfig.j2", "library.properties": "lib_library.properties.j2"}


def library_target(board: str | None = None, core: str | None = None, path: str | None = None,
                   weights: str | None = None) -> dict:
    """{"board", "core", "path", "weights", "cc", "cpu_flags"} for a library built for a
    catalogue board or a bare core name (``--core``); ``weights`` (int8 by default) picks
    the core's path for that layout, ``path`` names one outright."""
    if board is not None and core is not None:
        raise TinyrnnError("give --board or --core, not both")
    if path is not None and path not in KERNEL_PATHS:
        raise TinyrnnError(f"unknown kernel path {path!r}; valid paths: {', '.join(KERNEL_PATHS)}")
    if path is not None and weights is not None and PATH_WEIGHTS[path] != weights:
        raise TinyrnnError(f"--path {path} stores {PATH_WEIGHTS[path]} weights, not {weights}")
    if core is None:
        board = board or default_board()
        entry = get_board(board)
        core, cpu_flags = entry["cpu"], arch_flags(entry)
    else:
        # Helium's intrinsics header needs a hardware float ABI; other cores build as they come.
        cpu_flags = [] if core == "host" else [f"-mcpu={core}", "-mthumb"] + \
            (["-mfloat-abi=hard"] if core_family(core=core) == "mve" else [])
    family = core_family(board, None if board else core)
    chosen = path or kernel_path(board, None if board else core, weights or DEFAULT_WEIGHTS)
    if chosen == "mve" and family != "mve":
        raise TinyrnnError(f"kernel path mve needs a core with Helium; {core} has none")
    return {"board": board, "core": core, "path": chosen, "weights": PATH_WEIGHTS[chosen],
            "cc": "cc" if core == "host" else "arm-none-eabi-gcc", "cpu_flags": cpu_flags}


def _entry_points(context: dict) -> list[str]:
    fns = ["reset", "run", "quantize_input", "dequantize_output"] + ([] if context["whole_window"] else ["step"])
    fns += ["argmax"] if context["argmax"] else []
    fns += ["probabilities"] if context["classifier"] else []
    return [f"tinyrnn_{context['name']}_{fn}" for fn in fns]


def _measure_stack(context: dict, target: dict, src: Path, sources: list[str]) -> dict | None:
    flags = [*target["cpu_flags"], *COMPILE_FLAGS, f"-DTINYRNN_PATH={context['path_id']}"]
    code = [src / Path(s).name for s in sources if Path(s).name != f"{context['name']}_weights.c"]  # data only
    measured = stack.measure(code, src, target["cc"], flags, _entry_points(context))
    if measured is not None:
        extra = f"; not counted: {', '.join(measured['not_counted'])}" if measured["not_counted"] else ""
        context["step_stack_bytes"] = measured["bytes"]
        context["stack_note"] = (f"worst case from -fcallgraph-info=su, {target['cc']} {' '.join(flags[:-1])}"
                                 f"{extra}")
    return measured


def _library_json(context: dict, version: str) -> str:
    """PlatformIO's manifest: the defines reach only the library's own sources."""
    manifest = {
        "name": f"tinyrnn_{context['name']}", "version": version,
        "description": f"int8 model {context['name']} generated by tinyrnn (model {context['hash']})",
        "keywords": ["tinyrnn", "lstm", "gru", "int8"], "frameworks": "*", "platforms": "*",
        "headers": f"{context['name']}.h",
        "build": {"srcDir": SRC, "includeDir": SRC, "flags": [f"-DTINYRNN_PATH={context['path_id']}"]},
    }
    return json.dumps(manifest, indent=2) + "\n"


def write_library(model: Model, out_dir, name: str = "model", *, board: str | None = None,
                  core: str | None = None, path: str | None = None, weights: str | None = None) -> dict:
    """Write the library folder into ``out_dir`` (an empty or staging directory) and
    return its manifest."""
    if model.activation_bits == 16 and weights == "int16":
        raise TinyrnnError("--weights int16: a 16x8 model's kernels read their weights as they are stored (int8, "
                           "int16 in a 16x16 SimpleRNN); the layout option is for int8 models")
    target = library_target(board, core, path, weights)
    out = Path(out_dir)
    context = build_context(model, name, target["path"])
    written = write_files(context, out / SRC)
    sources = [f"{SRC}/{Path(f).name}" for f in written["files"] if f.endswith(".c")]
    measured = _measure_stack(context, target, out / SRC, sources)
    if measured is not None:
        write_files(context, out / SRC)  # NAME.h again, now with its STEP_STACK_BYTES
    version = metadata.version("tinyrnn")
    env = template_env()
    texts = {rel: env.get_template(t).render(**context, sources=sources, include_dir=SRC, version=version,
                                             core=target["core"]) for rel, t in _BUILD_FILES.items()}
    texts["library.json"] = _library_json(context, version)
    for rel, text in texts.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    source_files = [f for f in files if f.startswith(f"{SRC}/")]
    manifest = {
        "schema": 1, "name": name, "model_hash": model.content_hash(), "model_name": model.name,
        "kernel_abi": context["kernel_abi"], "board": target["board"], "core": target["core"],
        "path": target["path"], "weights": target["weights"], "path_id": context["path_id"],
        "files": [*files, LIBRARY_MANIFEST],
        "sources": sources, "headers": [f for f in source_files if f.endswith(".h")], "api_header": f"{SRC}/{name}.h",
        "include_dirs": [SRC], "defines": {"TINYRNN_PATH": context["path_id"]}, "flags": ["-std=c99"],
        "cpu_flags": target["cpu_flags"], "input_size": model.input_size, "output_size": model.output_size,
        "sizes": {"state_bytes": context["state_bytes"], "work_bytes": context["work_bytes"],
                  "weights_bytes": context["weights_bytes"],
                  "step_stack_bytes": measured["bytes"] if measured else None,
                  "source_bytes": sum((out / f).stat().st_size for f in source_files),
                  "source_files": len(source_files)},
        "stack": measured,
    }
    (out / LIBRARY_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_library_manifest(library_dir) -> dict:
    path = Path(library_dir) / LIBRARY_MANIFEST
    if not path.is_file():
        raise TinyrnnError(f"{library_dir}: no {LIBRARY_MANIFEST} (not a tinyrnn model library folder)")
    return json.loads(path.read_text())
