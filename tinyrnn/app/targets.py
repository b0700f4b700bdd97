"""Where a model runs: the golden model, a host build, a QEMU board, a labgrid place or a pyserial URL.

``connect()`` hides the difference for the CLI: for ``qemu:BOARD`` it generates and
builds the firmware, boots QEMU and opens the link; for ``labgrid:PLACE`` it acquires the
place and opens its serial port; for a URL it opens the port.
Either way the device must report the artifact's model hash before anything runs.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from tinyrnn.codegen.build import build
from tinyrnn.codegen.hostlib import layer_model, run_layer
from tinyrnn.codegen.project import model_sizes, render_project
from tinyrnn.core.boards import instructions_per_tick
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import Model
from tinyrnn.harness import labgrid
from tinyrnn.harness.dut import Device
from tinyrnn.harness.parallel import PortJob
from tinyrnn.harness.qemu import Qemu

QEMU_PREFIX = "qemu:"


def build_firmware(model: Model, board: str, out_dir, weights: str | None = None) -> dict:
    """Generate, render and build (``weights``: the layout, int8 by default); returns the
    project description plus ELF sizes."""
    project = render_project(model, board, out_dir, weights=weights)
    built = build(project["project_dir"])
    model_only = model_sizes(project["project_dir"])
    return {**project, **built, "model_code_bytes": model_only["flash_code_bytes"],
            "model_weights_bytes": model_only["flash_weights_bytes"], "model_ram_bytes": model_only["ram_bytes"]}


@contextlib.contextmanager
def connect(target: str, model: Model, workdir, log_file=None, coordinator: str | None = None,
            weights: str | None = None):
    """Yield (Device, info dict) for a QEMU board (built with the ``weights`` layout), a
    labgrid place or a pyserial URL."""
    expected = model.content_hash()
    if target.startswith(labgrid.LABGRID_PREFIX):
        with labgrid.acquired(target[len(labgrid.LABGRID_PREFIX):], 1, coordinator) as places, \
                Device.open(places[0].url, expected_hash=expected, log_file=log_file) as dev:
            yield dev, {"board": dev.info().board, "instructions_per_tick": None, "places": [places[0].name]}
    elif target.startswith(QEMU_PREFIX):

        board = target[len(QEMU_PREFIX):]
        built = build_firmware(model, board, Path(workdir) / f"fw-{board}", weights)
        info = {"board": board, "instructions_per_tick": instructions_per_tick(board), **_sizes(built)}
        with Qemu(board, built["elf"]) as qemu, Device.open(qemu.url, expected_hash=expected, log_file=log_file) as dev:
            yield dev, info
    elif "://" in target or target.startswith("/dev/") or target.upper().startswith("COM"):
        with Device.open(target, expected_hash=expected, log_file=log_file) as dev:
            yield dev, {"board": dev.info().board, "instructions_per_tick": None}
    else:
        raise TinyrnnError(f"target {target!r}: expected qemu:BOARD, labgrid:PLACE or a pyserial URL "
                           "(socket://…, /dev/ttyACM0, …)")


@contextlib.contextmanager
def farm_job(target: str, model: Model, jobs: int, coordinator: str | None = None):
    """Yield (PortJob over up to ``jobs`` acquired places of labgrid:SPEC, info dict)."""
    with labgrid.acquired(target[len(labgrid.LABGRID_PREFIX):], jobs, coordinator) as places:
        boards = sorted({p.board or "?" for p in places})
        yield (PortJob(tuple(p.url for p in places), model.content_hash()),
               {"board": ",".join(boards), "instructions_per_tick": None, "places": [p.name for p in places]})


def _sizes(built: dict) -> dict:
    keys = ("elf", "weights", "flash_bytes", "ram_bytes", "state_bytes", "weights_bytes", "model_code_bytes",
            "model_weights_bytes", "model_ram_bytes")
    return {k: built[k] for k in keys if k in built}


def run_layer_on_target(layer, x: np.ndarray, target: str, workdir) -> np.ndarray:
    """A lone recurrent layer (vector case) over a batch on host C or a device → (B, T, H)."""
    if target == "host":
        return run_layer(layer, x, workdir)
    model = layer_model(layer, name="layer")
    with connect(target, model, workdir) as (device, _):
        return np.stack([device.run(seq)[0] for seq in np.asarray(x, np.int8)])
