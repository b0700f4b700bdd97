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
import dataclasses
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tinyrnn.app import cycles
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
from tinyrnn.core.golden.fixedpoint import quantize_multiplier
from tinyrnn.core.ir import Conv1DLayer, GRULayer, InputQuant, LSTMLayer, Model, Pool1DLayer, SimpleRNNLayer
from tinyrnn.harness import trace
from tinyrnn.harness.dut import Device
from tinyrnn.harness.qemu import Qemu

HELP = "instructions per step, flash, RAM and stack of a fixed model set on each QEMU board"

# name: (kind, inputs, hidden units, seed); conv_lstm: the HAR-shaped CNN-LSTM (FRONT below)
# on lstm_i16_h32's very LSTM layer, so their difference is the front end's cost.
MODELS = {
    "lstm_i9_h32": ("lstm", 9, 32, 1),
    "lstm_i32_h64": ("lstm", 32, 64, 2),
    "lstm_i64_h128": ("lstm", 64, 128, 3),
    "gru_i9_h32": ("gru", 9, 32, 4),
    "gru_i64_h128": ("gru", 64, 128, 5),
    "rnn_i9_h32": ("rnn", 9, 32, 6),
    "lstm_i16_h32": ("lstm", 16, 32, 7),
    "conv_lstm_i9_h32": ("conv_lstm", 9, 32, 7),
}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # weight rows per hidden unit
# The CNN-LSTM's front end: Conv1D(filters, kernel_size, causal, relu) + MaxPooling1D(pool, pool),
# so its LSTM steps at every pool-th input step; its LSTM twin and its weights' seed.
FRONT = {"filters": 16, "kernel_size": 5, "pool": 2, "twin": "lstm_i16_h32", "seed": 107}
# Issue #15's goals, tinyrnn / CMSIS-NN instructions per step: (board, weight layout, model
# or None for every LSTM model) -> ratio; the table prints each beside its figure.
GOALS = {("mps2-an386", "int8", None): 0.45, ("mps2-an385", "int8", None): 0.6,
         ("mps3-an547", "int8", "lstm_i9_h32"): 0.7, ("mps3-an547", "int8", "lstm_i64_h128"): 0.6,
         ("mps2-an386", "int16", "lstm_i9_h32"): 0.38}
DEFAULT_STEPS = 32
FIELDS = ("board", "model", "weights", "path", "instructions_per_step", "est_cycles_per_step", "macs_per_step",
          "flash_code_bytes", "flash_weights_bytes", "ram_bytes", "stack_peak_bytes")
REGENERATE = "tinyrnn bench --out results --cycles --baseline results/cmsis_nn.json"


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
    parser.add_argument("--baseline", help="CMSIS-NN figures measured by benchmarks/cmsis_nn.py (its JSON) for the "
                                           "x CMSIS-NN column")


# --------------------------------------------------------------------------- models
def _multiplier(real: float) -> tuple[int, int]:
    return quantize_multiplier(real)


def _gate_requant(rng, gates: int, fan_in: int):
    """Multipliers that put the gate pre-activations around ±1.5 (Q3.12 ~6000), where
    a trained model's gates live: int8 products have std ~74^2, sums grow with sqrt(K)."""

    pairs = [_multiplier(6000.0 / (74.0 * 74.0 * np.sqrt(fan_in)) * 2.0 ** rng.uniform(-1, 1)) for _ in range(gates)]
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)


def bench_model(name: str):
    """The benchmark model ``name``: one recurrent layer (after the FRONT end for conv_lstm), int8,
    random weights (fixed seed)."""
    kind, inputs, hidden, seed = MODELS[name]
    if kind == "conv_lstm":
        return _conv_lstm(name, inputs)
    rng = np.random.default_rng(seed)
    gates = GATES[kind]
    w_x = rng.integers(-127, 128, (gates, hidden, inputs), dtype=np.int8)
    w_h = rng.integers(-127, 128, (gates, hidden, hidden), dtype=np.int8)
    mx, sx = _gate_requant(rng, gates, inputs)
    mh, sh = _gate_requant(rng, gates, hidden)
    quant = InputQuant(offset=np.zeros(inputs, np.float32), scale=np.ones(inputs, np.float32), zero_point=0)
    if kind == "rnn":
        layer = SimpleRNNLayer(name=kind, input_size=inputs, hidden_size=hidden, return_sequences=False,
                               activation="tanh", w_x=w_x[0], w_h=w_h[0],
                               bias=rng.integers(-3000, 3000, hidden).astype(np.int32), input_zero_point=-3,
                               hidden_zero_point=0, input_scale=1.0 / 128, hidden_scale=SimpleRNNLayer.TANH_SCALE,
                               x_multiplier=int(mx[0]), x_shift=int(sx[0]), h_multiplier=int(mh[0]), h_shift=int(sh[0]))
        return Model(name=name, input_size=inputs, input_quant=quant, layers=[layer])
    common = dict(name=kind, input_size=inputs, hidden_size=hidden, return_sequences=False, w_x=w_x, w_h=w_h,
                  input_zero_point=-3, input_scale=1.0 / 128, gate_x_multiplier=mx, gate_x_shift=sx,
                  gate_h_multiplier=mh, gate_h_shift=sh)
    if kind == "lstm":
        cell_power = -11
        f2c, i2c, hid = _multiplier(2.0**-15), _multiplier(2.0 ** (-30 - cell_power)), _multiplier(2.0**-23)
        layer = LSTMLayer(**common, bias=rng.integers(-3000, 3000, (4, hidden)).astype(np.int32), hidden_zero_point=5,
                          hidden_scale=1.0 / 128, cell_scale_power=cell_power, cell_clip=0,
                          forget_to_cell_multiplier=f2c[0], forget_to_cell_shift=f2c[1],
                          input_to_cell_multiplier=i2c[0], input_to_cell_shift=i2c[1],
                          hidden_multiplier=hid[0], hidden_shift=hid[1])
    else:
        layer = GRULayer(**common, reset_after=True, bias_x=rng.integers(-3000, 3000, (3, hidden)).astype(np.int32),
                         bias_h=rng.integers(-3000, 3000, (3, hidden)).astype(np.int32))
    return Model(name=name, input_size=inputs, input_quant=quant, layers=[layer])


def _conv_lstm(name: str, inputs: int) -> Model:
    """FRONT's Conv1D + MaxPooling1D on ``inputs`` channels, then the LSTM of FRONT's twin; the
    conv's per-channel multipliers put its relu outputs around ±64 codes, as a trained layer's."""
    lstm = bench_model(FRONT["twin"]).layers[0]
    rng = np.random.default_rng(FRONT["seed"])
    filters, size = FRONT["filters"], FRONT["kernel_size"]
    pairs = [_multiplier(64.0 / (74.0 * 74.0 * np.sqrt(size * inputs)) * 2.0 ** rng.uniform(-1, 1))
             for _ in range(filters)]
    grid = dict(input_scale=lstm.input_scale, input_zero_point=lstm.input_zero_point)
    conv = Conv1DLayer(name="conv", input_size=inputs, output_size=filters, kernel_size=size, dilation=1,
                       padding="causal", weights=rng.integers(-127, 128, (filters, size, inputs), dtype=np.int8),
                       bias=rng.integers(-3000, 3000, filters).astype(np.int32), input_zero_point=0,
                       output_zero_point=grid["input_zero_point"], input_scale=1.0, output_scale=grid["input_scale"],
                       multiplier=np.array([m for m, _ in pairs], np.int32),
                       shift=np.array([s for _, s in pairs], np.int32), activation="relu")
    pool = Pool1DLayer("pool", filters, "max", FRONT["pool"], FRONT["pool"], **grid)
    quant = InputQuant(offset=np.zeros(inputs, np.float32), scale=np.ones(inputs, np.float32), zero_point=0)
    return Model(name=name, input_size=inputs, input_quant=quant, layers=[conv, pool, lstm])


def bench_input(name: str, bits: int = 8):
    """The fixed input step of ``name``; for a 16x8 model (``bits`` 16) the same codes scaled to int16."""
    x = np.random.default_rng(1000 + MODELS[name][3]).integers(-128, 128, MODELS[name][1], dtype=np.int8)
    return x.astype(np.int16) << 8 if bits == 16 else x


def wide_model(name: str) -> Model:
    """The 16x8 twin of LSTM model ``name``: its weights, int16 activations (zero points 0,
    input and hidden scales 2^-15), int64 biases; the gate multipliers take the 2^-8 of
    the 256x finer input and hidden grids, so the gates see what the int8 model's see."""
    model = bench_model(name)
    lstm = model.layers[-1]
    if lstm.kind != "lstm" or len(model.layers) != 1:
        raise TinyrnnError(f"model {name}: the 16x8 twin needs a single LSTM layer")
    hid = _multiplier(2.0**-15)  # o·tanh(c) in Q0.30 → h at 2^-15
    wide = dataclasses.replace(
        lstm, activation_bits=16, bias=lstm.bias.astype(np.int64) << 8, input_zero_point=0, hidden_zero_point=0,
        input_scale=2.0**-15, hidden_scale=2.0**-15, gate_x_shift=lstm.gate_x_shift - 8,
        gate_h_shift=lstm.gate_h_shift - 8, hidden_multiplier=hid[0], hidden_shift=hid[1])  # fmt: skip
    quant = dataclasses.replace(model.input_quant, activation_bits=16)
    return dataclasses.replace(model, name=f"{name}_16x8", input_quant=quant, layers=[wide])


def conv_macs(name: str) -> int:
    """The Conv1D's MACs per input step (0 without a front end)."""
    return FRONT["filters"] * FRONT["kernel_size"] * MODELS[name][1] if MODELS[name][0] == "conv_lstm" else 0


def macs_per_step(name: str) -> int:
    """MACs per _step call, i.e. per input sample: a conv_lstm's conv at every one, its LSTM
    (the twin's MACs) at every FRONT["pool"]-th."""
    kind, inputs, hidden, _ = MODELS[name]
    if kind == "conv_lstm":
        return conv_macs(name) + macs_per_step(FRONT["twin"]) // FRONT["pool"]
    return GATES[kind] * hidden * (inputs + hidden)


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


def load_baseline(path) -> dict:
    """{board: {model: CMSIS-NN instructions/step}} from benchmarks/cmsis_nn.py's JSON (rows equal to golden only)."""
    try:
        rows = json.loads(Path(path).read_text())["rows"]
        return {b: {r["model"]: r["cmsis_nn_instructions_per_step"] for r in rows
                    if r["board"] == b and r["mismatches_vs_golden"] == 0} for b in {r["board"] for r in rows}}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TinyrnnError(f"{path}: not a CMSIS-NN baseline from benchmarks/cmsis_nn.py ({exc})") from None


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
           "`arm_lstm_unidirectional_s8` (int8 weights) measured on the same weights, inputs and QEMU counting by "
           "`benchmarks/cmsis_nn.py` (`results/cmsis_nn.md`: commit, and its outputs checked equal to golden). "
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
           "The front-end kernels are portable C on every path (no DSP/MVE code yet).", "",
           render_kernels(result["results"]), ""]
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


def run(args):
    boards = _parse_list(args.boards, qemu_boards(), "board")
    models = _parse_list(args.models, list(MODELS), "model")
    if args.steps < 1 or args.jobs < 1:
        raise TinyrnnError(f"--steps and --jobs must be at least 1 (got {args.steps}, {args.jobs})")
    with contextlib.ExitStack() as stack:
        workdir = args.build_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="tinyrnn-bench-"))
        results = bench_all(boards, models, workdir, steps=args.steps, jobs=args.jobs, with_cycles=args.cycles,
                            weights=_parse_list(args.weights, list(WEIGHT_LAYOUTS), "weight layout"))
    result = {"results": results, "steps": args.steps}
    if args.baseline:
        result["baseline"] = load_baseline(args.baseline)
    if args.out:
        result["written"] = write_results(result, args.out)
    return result, render_markdown(results, args.steps, result.get("baseline"))
