"""`tinyrnn bench`: cost of a fixed model set on every QEMU board, measured on the device.

    tinyrnn bench                                        # all QEMU boards x all models
    tinyrnn bench --boards mps2-an386,mps2-an385 --models lstm_i9_h32 --json
    tinyrnn bench --out results                          # regenerate results/bench.{md,json}

Each (board, model) pair is generated, built and booted under QEMU ``-icount shift=0``;
the device runs N steps of one fixed input from a reset state (the BENCH frame) and
reports SysTick ticks and its painted-stack peak. instructions/step = ticks x the
board's calibrated instructions-per-tick factor / N. Sizes come from the linker map:
code = the model's C (kernels and generated model functions, not the protocol app),
weights = the generated constant data, RAM = the model state, all read from the build.
The models are int8 with random weights from fixed seeds, so every run measures the
same thing; the dual-MAC floor is MACs/step / 2 (one two-MAC instruction per cycle).
A step is one ``_step`` call (one input sample), also for the streaming CNN-LSTM, whose LSTM
steps at every other call; its front end's cost is its row less its LSTM twin's half.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tinyrnn.app import bench_target, cmsis_nn, cycles
from tinyrnn.app.bench_models import FRONT, MODELS, bench_input, bench_model, conv_macs, macs_per_step, wide_model
from tinyrnn.codegen.build import build, map_code_ranges
from tinyrnn.codegen.project import model_objects, model_sizes, render_project
from tinyrnn.core.boards import (
    DEFAULT_WEIGHTS,
    WEIGHT_LAYOUTS,
    get_board,
    instructions_per_tick,
    qemu_boards,
    weight_layouts,
)
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import Model
from tinyrnn.harness import trace
from tinyrnn.harness.dut import Device
from tinyrnn.harness.qemu import Qemu

HELP = "instructions per step, flash, RAM and stack of a fixed model set on each QEMU board"

# Issue #15's goals, tinyrnn / CMSIS-NN instructions per step: (board, weight layout, model
# or None for every LSTM model) -> ratio; the table prints each beside its figure.
GOALS = {("mps2-an386", "int8", None): 0.45, ("mps2-an385", "int8", None): 0.6,
         ("mps3-an547", "int8", "lstm_i9_h32"): 0.7, ("mps3-an547", "int8", "lstm_i64_h128"): 0.6,
         ("mps2-an386", "int16", "lstm_i9_h32"): 0.38}
DEFAULT_STEPS = 32
FIELDS = ("board", "model", "weights", "path", "instructions_per_step", "est_cycles_per_step", "macs_per_step",
          "flash_code_bytes", "flash_weights_bytes", "ram_bytes", "stack_peak_bytes")
REGENERATE = "tinyrnn bench --out results --cycles --cmsis-nn PATH"


def configure(parser) -> None:
    parser.add_argument("--boards", help="comma-separated QEMU boards (default: all of them)")
    parser.add_argument("--models", help=f"comma-separated models (default: {','.join(MODELS)})")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"steps per measurement (default {DEFAULT_STEPS})")
    parser.add_argument("--jobs", type=int, default=2, help="boards built and measured at once (default 2)")
    parser.add_argument("--out", help="also write OUT/bench.json and OUT/bench.md (the committed results)")
    parser.add_argument("--build-dir", help="keep the firmware projects here (default: a temporary directory)")
    parser.add_argument("--weights", default=",".join(WEIGHT_LAYOUTS),
                        help="comma-separated weight layouts, each measured where the board's core has it "
                             f"(default: {','.join(WEIGHT_LAYOUTS)})")
    parser.add_argument("--cycles", action="store_true",
                        help="also estimate cycles/step from a traced run (cores with a modelled pipeline)")
    parser.add_argument("--cmsis-nn", metavar="PATH", help="also build CMSIS-NN's int8 LSTM from this checkout and "
                                                            "measure it on the same boards, weights and inputs")
    parser.add_argument("--target", help="a real board's serial port (pyserial URL): bench there, timed by the "
                                         "board (DWT cycles, SysTick), instead of on QEMU; needs --board")
    parser.add_argument("--board", help="with --target: the board the firmware is built and flashed for")
    parser.add_argument("--probe", choices=("pyocd", "openocd"), help="with --target: the flashing tool")
    parser.add_argument("--no-flash", action="store_true",
                        help="with --target: the device already runs the one --models model's firmware")
    parser.add_argument("--baseline", help="reuse the CMSIS-NN figures of an earlier `bench --cmsis-nn` (its bench.json) "
                                           "for the x CMSIS-NN column")


# --------------------------------------------------------------------------- measuring
def bench_one(board: str, name: str, workdir, steps: int = DEFAULT_STEPS, with_cycles: bool = False,
              weights: str = DEFAULT_WEIGHTS, model: Model | None = None) -> dict:
    """Build ``name`` for ``board`` with the ``weights`` layout, run it under QEMU; one result
    row (FIELDS). ``with_cycles``: a second, traced run estimates cycles (est_cycles_per_step, else None).
    ``model``: measure this model of ``name``'s shape instead (``wide_model(name)``: its 16x8 twin)."""
    model = model or bench_model(name)
    project = render_project(model, board, Path(workdir) / f"{board}-{model.name}-{weights}", weights=weights)
    built = build(project["project_dir"])
    sizes = model_sizes(project["project_dir"])
    timeout = 60.0 + steps * macs_per_step(name) / 2e4  # M0 at ~4 instructions per MAC, QEMU at ~80 MIPS
    with Qemu(board, built["elf"], timeout_s=timeout + 60) as qemu, \
            Device.open(qemu.url, expected_hash=model.content_hash()) as device:
        result = device.bench(steps, bench_input(name, model.activation_bits), timeout_s=timeout)
    instructions = result.ticks * instructions_per_tick(board) / result.n
    est = cycles_per_step(board, name, project["project_dir"], steps) if with_cycles else None
    return {"board": board, "model": name, "weights": weights, "path": project["path"],
            "instructions_per_step": int(round(instructions)), "est_cycles_per_step": est,
            "macs_per_step": macs_per_step(name), **sizes, "stack_peak_bytes": result.stack_peak_bytes}


def cycles_per_step(board: str, name: str, project_dir, steps: int = DEFAULT_STEPS) -> int | None:
    """Estimated cycles per step (tinyrnn.app.cycles) from a traced run of the built project, or
    None where the board's core is not modelled. The trace covers the model's code only."""
    core = get_board(board)["cpu"]
    if core not in cycles.MODELLED:
        return None
    project = Path(project_dir)
    ranges = map_code_ranges(project / "firmware.map", model_objects(project)[0])
    log = project / "qemu-trace.log"
    args = ("-d", "in_asm,exec,nochain", "-dfilter", trace.dfilter(ranges), "-D", str(log))
    model = bench_model(name)
    timeout = 120.0 + steps * macs_per_step(name) / 2e3  # tracing slows QEMU ~10x
    with Qemu(board, str(project / "firmware.elf"), timeout_s=timeout + 60, extra_args=args) as qemu, \
            Device.open(qemu.url, expected_hash=model.content_hash()) as device:
        device.bench(steps, bench_input(name), timeout_s=timeout)
    estimate = cycles.estimate(core, trace.executed(log))
    log.unlink()
    return int(round(estimate / steps))


def bench_all(boards, models, workdir, steps: int = DEFAULT_STEPS, jobs: int = 2, with_cycles: bool = False,
              weights=(DEFAULT_WEIGHTS,)) -> list:
    """Every (board, model, layout the board has), ``jobs`` at a time; rows in board, model,
    layout order."""
    runs = [(b, m, w) for b in boards for m in models for w in weights if w in weight_layouts(b)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda r: bench_one(r[0], r[1], workdir, steps, with_cycles, r[2]), runs))


# --------------------------------------------------------------------------- reporting
def _count(value) -> str:
    return f"{value:,}" if value else "–"


def _ratio(num, den) -> str:
    return f"{num / den:.2f}" if num and den else "–"


def baseline_of(section: dict) -> dict:
    """{board: {model: CMSIS-NN instructions/step}} from a CMSIS-NN section, rows equal to golden only."""
    rows = section["rows"]
    return {b: {r["model"]: r["instructions_per_step"] for r in rows
                if r["board"] == b and r["mismatches_vs_golden"] == 0} for b in {r["board"] for r in rows}}


def load_cmsis(path) -> dict:
    """The CMSIS-NN section of an earlier ``bench --cmsis-nn`` run's bench.json."""
    try:
        section = json.loads(Path(path).read_text())["cmsis_nn"]
        baseline_of(section)
        return section
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TinyrnnError(f"{path}: no CMSIS-NN figures of `tinyrnn bench --cmsis-nn` in it ({exc})") from None


def measure_cmsis(checkout, boards, models, workdir, steps: int, with_cycles: bool) -> dict:
    """CMSIS-NN on every (board, LSTM model) of the run: the bench.json section."""
    commit = cmsis_nn.checkout_commit(checkout)
    rows = []
    for board in boards:
        for name in (m for m in models if MODELS[m][0] == "lstm"):
            x = np.tile(bench_input(name), (steps, 1))
            timeout = 60.0 + steps * macs_per_step(name) / 2e4
            row = cmsis_nn.measure(Path(checkout), board, bench_model(name).layers[0], x,
                                   Path(workdir) / f"cmsis-nn-{board}-{name}", timeout, with_cycles)
            rows.append({"board": board, "model": name, **row})
    return {"commit": commit, "steps": steps, "rows": rows}


def goal(board: str, weights: str, model: str) -> float | None:
    return GOALS.get((board, weights, model), GOALS.get((board, weights, None)))


def render_markdown(results: list, steps: int = DEFAULT_STEPS, baseline: dict | None = None) -> str:
    """The results table (and the CMSIS-NN comparison where ``baseline`` has a figure)."""
    baseline = baseline or {}
    lines = ["| board | core | model | weights | instructions/step | est. cycles/step | MACs/step | × dual-MAC floor "
             "| × CMSIS-NN (instructions) | code B | weights B | RAM B | stack peak B |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        ref = baseline.get(r["board"], {}).get(r["model"])
        vs_cmsis = _ratio(r["instructions_per_step"], ref)
        wanted = goal(r["board"], r["weights"], r["model"])
        if ref and wanted:
            met = "met" if r["instructions_per_step"] <= wanted * ref else "not met"
            vs_cmsis += f" (goal ≤ {wanted}: {met})"
        lines.append(f"| {r['board']} | {get_board(r['board'])['cpu'].replace('cortex-', '').upper()} | {r['model']} "
                     f"| {r['weights']} ({r['path']}) "
                     f"| {r['instructions_per_step']:,} | {_count(r.get('est_cycles_per_step'))} | {r['macs_per_step']:,} "
                     f"| {_ratio(r['instructions_per_step'], r['macs_per_step'] / 2)} | {vs_cmsis} "
                     f"| {r['flash_code_bytes']:,} | {r['flash_weights_bytes']:,} | {r['ram_bytes']:,} "
                     f"| {r['stack_peak_bytes'] if r['stack_peak_bytes'] is not None else '–'} |")
    return "\n".join(lines)


# Per-kernel instructions per MAC: (column, model whose whole step it divides).
KERNELS = (("LSTM", "lstm_i9_h32"), ("GRU", "gru_i9_h32"), ("SimpleRNN", "rnn_i9_h32"))
CONV_MODEL = "conv_lstm_i9_h32"


def front_instructions(rows: dict) -> float | None:
    """The Conv1D + pooling front end's instructions per input step from {model: row} of one board
    and layout: conv_lstm's less its LSTM twin's at the same LSTM step rate (once per
    FRONT["pool"] input steps); None if either is missing."""
    conv, twin = rows.get(CONV_MODEL), rows.get(FRONT["twin"])
    return conv["instructions_per_step"] - twin["instructions_per_step"] / FRONT["pool"] if conv and twin else None


def render_kernels(results: list) -> str:
    """Instructions per MAC of each kernel, per board and layout, where the run has its rows."""
    lines = ["| board | core | weights | " + " | ".join(f"{k} ({m})" for k, m in KERNELS)
             + f" | Conv1D front end ({CONV_MODEL} − {FRONT['twin']} ÷ {FRONT['pool']}) |",
             "|---|---|---|" + "---:|" * (len(KERNELS) + 1)]
    for board in dict.fromkeys(r["board"] for r in results):
        for weights in dict.fromkeys(r["weights"] for r in results if r["board"] == board):
            rows = {r["model"]: r for r in results if r["board"] == board and r["weights"] == weights}
            cells = [_ratio(rows[m]["instructions_per_step"], macs_per_step(m)) if m in rows else "–"
                     for _, m in KERNELS]
            front = front_instructions(rows)
            cells.append(f"{front / conv_macs(CONV_MODEL):.2f} ({front:,.0f} per input step)" if front else "–")
            lines.append(f"| {board} | {get_board(board)['cpu'].replace('cortex-', '').upper()} | {weights} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(result: dict, out_dir) -> list:
    """OUT/bench.json (the command's JSON) and OUT/bench.md (the table with its context)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    doc = ["# tinyrnn bench", "",
           f"Regenerate: `{REGENERATE}` (all QEMU boards; {result['steps']} steps per measurement, "
           "`-icount shift=0`, instructions = SysTick ticks × the board's calibrated factor).", "",
           "Models: int8, one recurrent layer (`lstm_iI_hH`: LSTM, I inputs, H units; `gru_…`: GRU with "
           "reset_after; `rnn_…`: SimpleRNN, tanh), random weights from fixed seeds (`tinyrnn/app/commands/bench.py`). "
           f"`{CONV_MODEL}` is the HAR-shaped CNN-LSTM: Conv1D({FRONT['filters']} filters, kernel "
           f"{FRONT['kernel_size']}, causal, relu) + MaxPooling1D({FRONT['pool']}) + LSTM(32) on 9 channels, streamed "
           f"by `_step`, whose LSTM steps once per {FRONT['pool']} input steps; its LSTM layer is `{FRONT['twin']}`'s. "
           "A step is one `_step` call, i.e. one input sample for every model: for the CNN-LSTM, instructions and "
           f"MACs/step are per input sample (the conv's {conv_macs(CONV_MODEL):,} MACs every sample + the LSTM's "
           f"{macs_per_step(FRONT['twin']):,} once per {FRONT['pool']} samples, averaged over the run; "
           f"{DEFAULT_STEPS} samples = {DEFAULT_STEPS // FRONT['pool']} LSTM steps), and the floor uses the same "
           "MACs. Bidirectional models are not benched: they have no `_step` (the backward pass needs the whole "
           "window). Floor = MACs/step ÷ 2 (one dual MAC per instruction). × CMSIS-NN = tinyrnn / CMSIS-NN *instructions* per step, CMSIS-NN's "
           "`arm_lstm_unidirectional_s8` (int8 weights) built from a CMSIS-NN checkout and measured in the same run on "
           "the same weights, inputs and QEMU counting, its outputs checked equal to golden (section below). "
           "Est. cycles = a static estimate, not a measurement: the model code's executed instructions (QEMU "
           "execution trace) priced with the core's published single-issue timings, zero wait states "
           "(`tinyrnn/app/cycles.py` lists them); M7 and M55 (dual issue) are not modelled. Code = kernels + "
           "generated model functions; weights = generated constant data in the row's layout; RAM = model state; "
           "stack peak = painted stack of the whole firmware after the run.", "",
           "Weight layouts (`tinyrnn codegen --weights`, `codegen/kernels/tinyrnn_arch.h`): **int8** (the "
           "default, one byte per weight, CMSIS-NN's flash): M0/M3 plain C, M4/M7/M33 SMLAD after SXTB16 "
           "(`dsp8`), M55 Helium VMLADAVA; **int16** (opt-in, two bytes per weight): M3 two gate rows packed "
           "per word, one SMLAL = two MACs (`wide`), M4/M7/M33 SMLAD on pre-widened weights (`dsp`). M0 and M55 "
           "have the int8 layout only.", "",
           render_markdown(result["results"], result["steps"], result.get("baseline")), "",
           "## Instructions per MAC, per kernel", "",
           "LSTM, GRU, SimpleRNN: the model's instructions/step ÷ MACs/step (the whole step: dots, requantization, "
           f"activations, state update). Conv1D front end: `{CONV_MODEL}`'s instructions per input sample less "
           f"`{FRONT['twin']}`'s (the same LSTM layer, measured in the same run) ÷ {FRONT['pool']}, the LSTM's "
           "share at the CNN-LSTM's step rate; what is left is the conv, the pooling, their ring buffers and the "
           f"calls where the LSTM does not step, divided by the conv's {conv_macs(CONV_MODEL):,} MACs per sample. "
           "The conv kernel uses the recurrent kernels' dot paths (4 filters per pass over the window); "
           "pooling is portable C.", "",
           render_kernels(result["results"]), ""]
    if "cmsis_nn" in result:
        doc += ["## CMSIS-NN, measured in the same run", "", cmsis_nn.render(result["cmsis_nn"], result["results"]), ""]
    (out / "bench.md").write_text("\n".join(doc))
    return [str(out / "bench.json"), str(out / "bench.md")]


def _parse_list(text, valid: list, what: str) -> list:
    if not text:
        return list(valid)
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in items if t not in valid]
    if unknown or not items:
        raise TinyrnnError(f"unknown {what} {', '.join(unknown) or repr(text)}; valid: {', '.join(valid)}")
    return items


def run_target(args, models: list):
    """``--target``: the models on a real board, one after the other (one serial port)."""
    bench_target.check(args.target, args.board, models, args.no_flash, args.probe)
    layouts = [w for w in _parse_list(args.weights, list(WEIGHT_LAYOUTS), "weight layout")
               if w in weight_layouts(args.board)]
    if args.no_flash and len(layouts) != 1:
        raise TinyrnnError(f"--no-flash: {args.board} has the weight layouts {', '.join(layouts)}; give the one its "
                           "firmware was built with (--weights)")
    with contextlib.ExitStack() as stack:
        workdir = args.build_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="tinyrnn-bench-"))
        rows = [bench_target.bench_target(args.target, args.board, m, bench_model(m), bench_input(m), macs_per_step(m),
                                          workdir, steps=args.steps, weights=w, no_flash=args.no_flash, probe=args.probe)
                for m in models for w in layouts]
    return {"target_results": rows, "steps": args.steps}, bench_target.render(rows)


def run(args):
    models = _parse_list(args.models, list(MODELS), "model")
    if args.steps < 1 or args.jobs < 1:
        raise TinyrnnError(f"--steps and --jobs must be at least 1 (got {args.steps}, {args.jobs})")
    if args.target:
        return run_target(args, models)
    boards = _parse_list(args.boards, qemu_boards(), "board")
    if args.cmsis_nn and args.baseline:
        raise TinyrnnError("--cmsis-nn measures the baseline and --baseline reuses one: give one of them")
    section = load_cmsis(args.baseline) if args.baseline else None
    if args.cmsis_nn:
        cmsis_nn.checkout_commit(args.cmsis_nn)  # a wrong path fails now, not after the tinyrnn runs
    with contextlib.ExitStack() as stack:
        workdir = args.build_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="tinyrnn-bench-"))
        results = bench_all(boards, models, workdir, steps=args.steps, jobs=args.jobs, with_cycles=args.cycles,
                            weights=_parse_list(args.weights, list(WEIGHT_LAYOUTS), "weight layout"))
        if args.cmsis_nn:
            section = measure_cmsis(args.cmsis_nn, boards, models, workdir, args.steps, args.cycles)
    result = {"results": results, "steps": args.steps}
    if section:
        result["cmsis_nn"] = section
        result["baseline"] = baseline_of(section)
    if args.out:
        result["written"] = write_results(result, args.out)
    return result, render_markdown(results, args.steps, result.get("baseline"))
