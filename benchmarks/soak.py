"""Soak: 10,000 sequences through one QEMU session, every output byte compared with the
golden model, host memory sampled every 1,000 sequences.

    .venv/bin/python benchmarks/soak.py                       # → results/soak.md (+ .json)
    .venv/bin/python benchmarks/soak.py --n 2000 --out /tmp/soak.md   # a shorter run

Model: a seeded random LSTM(16) → GRU(12) → Dense(6) on 9 features × 24 steps
(``tests/irgen.py``, realistic regime: gates spread over the interesting part of
sigmoid/tanh), inputs uniform int8 with every 10th sequence at the rails (all -128 /
all 127 / mixed). One firmware build, one QEMU boot, one serial connection for the
whole run, so state leaks in the firmware or the link would show up as mismatches.

Memory: the host's RSS (``/proc/self/status`` VmRSS) and Python heap (tracemalloc),
and QEMU's RSS, after every ``--every`` sequences. Growth is measured from the first
sample (after warm-up) to the last; the run fails (exit 1) on any mismatch, any link
error, or heap growth above ``--max-heap-growth-kb``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import irgen  # noqa: E402

from tinyrnn.codegen.build import build  # noqa: E402
from tinyrnn.codegen.project import render_project  # noqa: E402
from tinyrnn.harness.dut import Device  # noqa: E402
from tinyrnn.harness.qemu import Qemu  # noqa: E402
from tinyrnn.harness.verify import verify_device  # noqa: E402

FEATURES, STEPS = 9, 24


def rss_kb(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def soak_model():
    rng = np.random.default_rng(10_000)
    return irgen.build_model(rng, FEATURES, [16, 12], [6], kinds=["lstm", "gru"], activation="softmax"), rng


def inputs(rng, model, n: int) -> np.ndarray:
    x = irgen.random_input(rng, model, n, STEPS)
    rails = irgen.random_input(rng, model, n // 10, STEPS, extreme=True)
    x[::10][: len(rails)] = rails
    return x


def run(n: int, every: int, board: str, workdir: Path) -> dict:
    model, rng = soak_model()
    t0 = time.monotonic()
    project = render_project(model, board, workdir / "fw")
    sizes = build(project["project_dir"])
    build_s = time.monotonic() - t0
    samples, totals = [], {"sequences": 0, "mismatches": 0, "error": None}
    tracemalloc.start()
    started = time.monotonic()
    with Qemu(board, sizes["elf"], timeout_s=3600 + n) as qemu, \
            Device.open(qemu.url, expected_hash=model.content_hash()) as device:
        for start in range(0, n, every):
            x = inputs(rng, model, min(every, n - start))
            res = verify_device(device, model, x, progress=False)
            totals["sequences"] += res.sequences
            totals["mismatches"] += res.mismatches
            heap, _ = tracemalloc.get_traced_memory()
            samples.append({"sequences": totals["sequences"], "seconds": round(time.monotonic() - started, 2),
                            "host_rss_kb": rss_kb(), "heap_kb": heap // 1024, "qemu_rss_kb": rss_kb(qemu.proc.pid)})
            print(f"soak: {samples[-1]}", flush=True)
            if res.error:
                totals["error"] = f"after {totals['sequences']} sequences: {res.error}"
                break
    seconds = time.monotonic() - started
    tracemalloc.stop()
    first, last = samples[0], samples[-1]
    return {**totals, "requested": n, "board": board, "build_seconds": round(build_s, 1),
            "seconds": round(seconds, 1), "sequences_per_second": round(totals["sequences"] / seconds, 1),
            "model": {"layers": [f"{layer.kind}({layer.output_size})" for layer in model.layers],
                      "features": FEATURES, "steps": STEPS, "hash": model.content_hash()},
            "growth": {k: last[k] - first[k] for k in ("host_rss_kb", "heap_kb", "qemu_rss_kb")},
            "samples": samples}  # fmt: skip


def markdown(r: dict, limit_kb: int) -> str:
    g = r["growth"]
    rows = "\n".join(f"| {s['sequences']:,} | {s['seconds']} | {s['host_rss_kb']:,} | {s['heap_kb']:,} | {s['qemu_rss_kb']:,} |"
                     for s in r["samples"])  # fmt: skip
    return f"""# Soak: {r['sequences']:,} sequences on {r['board']} (QEMU), one session

Regenerate: `.venv/bin/python benchmarks/soak.py` (model and inputs are seeded).

| | |
|---|---|
| model | {' → '.join(r['model']['layers'])}, {r['model']['features']} features × {r['model']['steps']} steps (`{r['model']['hash'][:12]}`) |
| sequences verified | {r['sequences']:,} of {r['requested']:,}, **{r['mismatches']} mismatching**, link errors: {r['error'] or 'none'} |
| time | {r['seconds']} s ({r['sequences_per_second']} sequences/s), firmware build {r['build_seconds']} s |
| host RSS | {r['samples'][0]['host_rss_kb']:,} kB after the first {r['samples'][0]['sequences']:,} → {r['samples'][-1]['host_rss_kb']:,} kB at the end ({g['host_rss_kb']:+,} kB) |
| host Python heap (tracemalloc) | {g['heap_kb']:+,} kB over the run (limit {limit_kb} kB) |
| QEMU RSS | {g['qemu_rss_kb']:+,} kB over the run |

Every output byte of every sequence is compared with the golden model; inputs are
uniform int8 with every 10th sequence at the rails.

| sequences | seconds | host RSS kB | heap kB | QEMU RSS kB |
|---:|---:|---:|---:|---:|
{rows}
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=1_000)
    ap.add_argument("--board", default="mps2-an386")
    ap.add_argument("--max-heap-growth-kb", type=int, default=1024)
    ap.add_argument("--out", default=str(REPO / "results" / "soak.md"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinyrnn-soak-") as work:
        r = run(args.n, args.every, args.board, Path(work))
    ok = r["error"] is None and r["mismatches"] == 0 and r["sequences"] == args.n \
        and r["growth"]["heap_kb"] <= args.max_heap_growth_kb
    r["ok"] = ok
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(r, args.max_heap_growth_kb))
    out.with_suffix(".json").write_text(json.dumps(r, indent=1) + "\n")
    print(f"soak: {'OK' if ok else 'FAILED'}: {r['sequences']} sequences, {r['mismatches']} mismatching, "
          f"{r['seconds']} s, growth {r['growth']} → {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
