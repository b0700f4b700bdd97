"""`tinyrnn bench --target URL --board BOARD`: the bench models on a real board, timed by the board.

QEMU rows count instructions (`-icount`); a real core has caches, wait states and a
pipeline, so here the device reports what it measured itself: core clock cycles from
the DWT cycle counter (Cortex-M3 and up; None on an M0, which has none) and SysTick time.
Each model's firmware is built for ``--board`` and flashed with the board's probe
(``tinyrnn flash``'s catalogue settings) before it runs; with ``--no-flash`` the device at
the URL must already run the firmware of the one model asked for (its hash is checked).
"""

from __future__ import annotations

from pathlib import Path

from tinyrnn.app.commands import flash
from tinyrnn.codegen.build import build
from tinyrnn.codegen.project import model_sizes, render_project
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.harness.dut import Device

FIELDS = ("board", "target", "model", "weights", "path", "cycles_per_step", "cycles_per_mac", "us_per_step",
          "macs_per_step", "flash_code_bytes", "flash_weights_bytes", "ram_bytes", "stack_peak_bytes")


def check(target: str, board: str | None, models: list, no_flash: bool, probe: str | None) -> None:
    """Refuse a target run that cannot work, before anything is built."""
    if not board:
        raise TinyrnnError(f"--target {target} needs --board (the board the firmware is built for)")
    if no_flash and len(models) != 1:
        raise TinyrnnError("--no-flash benches the one model the device already runs: give one --models name")
    if not no_flash:
        settings = flash.probe_settings(board)
        if probe and probe not in settings:
            raise TinyrnnError(f"board {board!r} has no {probe} settings in the catalogue; try --probe "
                               f"{' or '.join(settings)}")


def bench_target(target: str, board: str, name: str, model, x_t, macs: int, workdir, *, steps: int,
                 weights: str, no_flash: bool, probe: str | None = None, timeout_s: float = 180.0) -> dict:
    """Build (and unless ``no_flash``, flash) ``model`` for ``board``, bench ``steps`` steps of
    ``x_t`` on the device at ``target``: one row (FIELDS)."""
    project = render_project(model, board, Path(workdir) / f"{board}-{name}-{weights}", weights=weights)
    built = build(project["project_dir"])
    if not no_flash:
        tool = probe or next(iter(flash.probe_settings(board)))
        _, problem = flash.check_tool(board, tool, timeout_s)
        if problem:
            raise TinyrnnError(problem)
        flash.run_tool(flash.flash_command(board, tool, str(Path(built["elf"]).resolve())), timeout_s)
    with Device.open(target, expected_hash=model.content_hash()) as device:
        tick_hz = device.info().tick_hz
        result = device.bench(steps, x_t, timeout_s=timeout_s)
    cycles = result.cycles / steps if result.cycles else None
    return {"board": board, "target": target, "model": name, "weights": weights, "path": project["path"],
            "cycles_per_step": round(cycles) if cycles else None,
            "cycles_per_mac": round(cycles / macs, 2) if cycles else None,
            "us_per_step": round(result.ticks / steps / tick_hz * 1e6, 2) if tick_hz else None,
            "macs_per_step": macs, **model_sizes(project["project_dir"]), "stack_peak_bytes": result.stack_peak_bytes}


def render(rows: list) -> str:
    lines = ["| board | target | model | weights | cycles/step (DWT) | cycles/MAC | µs/step (SysTick) | MACs/step "
             "| code B | weights B | RAM B | stack peak B |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cells = [f"{r['cycles_per_step']:,}" if r["cycles_per_step"] else "– (no cycle counter)",
                 f"{r['cycles_per_mac']}" if r["cycles_per_mac"] else "–",
                 f"{r['us_per_step']:,}" if r["us_per_step"] is not None else "–"]
        lines.append(f"| {r['board']} | {r['target']} | {r['model']} | {r['weights']} ({r['path']}) | "
                     + " | ".join(cells) + f" | {r['macs_per_step']:,} | {r['flash_code_bytes']:,} | "
                     f"{r['flash_weights_bytes']:,} | {r['ram_bytes']:,} | {r['stack_peak_bytes'] or '–'} |")
    return "\n".join(lines)
