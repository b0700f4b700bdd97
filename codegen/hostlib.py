"""Compile generated C for the host and run it: the C side of every C-vs-golden test.

The driver is a small executable (``host_main.c.j2``) fed through stdin/stdout rather
than a ctypes library, so AddressSanitizer/UBSan builds run without LD_PRELOAD tricks and
a crash in C cannot take the Python process down with it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tinyrnn.codegen.generate import build_context, template_env, write_files
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.gru_s8 import hidden_s8
from tinyrnn.core.ir import GRULayer, InputQuant, LSTMLayer, Model, SimpleRNNLayer

WARNINGS = ("-Wall", "-Wextra", "-Wconversion", "-Werror")
OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os")
BASE_FLAGS = ("-O2", "-std=c99", *WARNINGS)  # -O2 is replaced by compile_host's ``opt``
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")
# Leak checking needs ptrace, which containers often forbid; the kernels never allocate.
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


def compile_host(sources, output, *, include_dirs=(), sanitize: bool = False, cc: str = "gcc",
                 extra_flags=(), opt: str = "-O2") -> Path:
    """Compile and link C sources into a host executable; compiler errors → TinyrnnError.

    ``opt``: the optimization level (one of OPT_LEVELS); ``extra_flags`` go last.
    """
    if shutil.which(cc) is None:
        raise TinyrnnError(f"C compiler '{cc}' not found on PATH (install gcc)")
    if opt not in OPT_LEVELS:
        raise TinyrnnError(f"optimization level {opt!r} unknown (one of {', '.join(OPT_LEVELS)})")
    output = Path(output)
    flags = [opt, *BASE_FLAGS[1:], *(SANITIZE_FLAGS if sanitize else ()), *extra_flags]
    cmd = [cc, *flags, *(f"-I{d}" for d in include_dirs), *map(str, sources), "-o", str(output)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyrnnError(f"host compile failed ({cc} {' '.join(flags)}):\n{proc.stderr.strip()}")
    return output


def run_host(exe, args, payload: bytes, *, sanitize: bool = False, timeout: float = 120) -> bytes:
    """Run a host executable with stdin ``payload``; any failure or sanitizer report raises."""
    env = {**os.environ, **SANITIZER_ENV} if sanitize else None
    proc = subprocess.run([str(exe), *map(str, args)], input=payload, capture_output=True, env=env,
                          timeout=timeout)
    if proc.returncode != 0 or (sanitize and proc.stderr):
        raise TinyrnnError(f"{Path(exe).name} {' '.join(map(str, args))} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


class HostModel:
    """A model's generated C compiled for the host.

    ``run(x)`` calls ``_run`` per sequence → (N, O) or (N, T, O) when the model returns
    sequences; ``step(x)`` feeds ``_step`` T times per sequence → (N, T, O);
    ``run_pairs(x)`` steps sequences 2k and 2k+1 interleaved on two instances;
    ``run_from_state(x, states)`` starts each sequence from a given recurrent state.
    ``path``: the kernel path (layout.PATH_IDS) compiled, DSP ones with the intrinsics
    emulated in C.
    """

    def __init__(self, model: Model, workdir, *, name: str = "model", sanitize: bool = False, cc: str = "gcc",
                 extra_flags=(), opt: str = "-O2", path: str = "wide"):
        self.model, self.name, self.sanitize = model, name, sanitize
        self.workdir = Path(workdir)
        src = self.workdir / "src"
        context = build_context(model, name, path)
        self.info = write_files(context, src)
        self._recurrent = [(r["kind"], r["size"]) for r in context["recurrent"]]
        driver = src / f"{name}_host_main.c"
        driver.write_text(template_env().get_template("host_main.c.j2").render(**context), encoding="utf-8")
        sources = [f for f in self.info["files"] if f.endswith(".c")] + [str(driver)]
        suffix = "_asan" if sanitize else ""
        self.exe = compile_host(sources, self.workdir / f"{name}_host{suffix}", include_dirs=[src],
                                sanitize=sanitize, cc=cc, opt=opt,
                                extra_flags=[f"-DTINYRNN_PATH={context['path_id']}", *extra_flags])

    @property
    def input_size(self) -> int:
        return self.model.input_size

    @property
    def output_size(self) -> int:
        return self.model.output_size

    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x)
        want = np.dtype(self.model.int_dtype)  # int8, int16 for a 16x8 model
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] < 1:
            raise TinyrnnError(f"host model wants {want} input (N, T>=1, {self.input_size}), got {x.shape}")
        if x.dtype != want:
            raise TinyrnnError(f"host model wants {want} input, got {x.dtype}")
        return np.ascontiguousarray(x.astype(want.newbyteorder("=")))

    def _call(self, mode: str, x: np.ndarray, payload: bytes, per_seq: tuple) -> np.ndarray:
        n, t = x.shape[:2]
        out = run_host(self.exe, [mode, n, t], payload, sanitize=self.sanitize)
        dtype = np.dtype(self.model.output_dtype).newbyteorder("=")  # int16 logits in an int8 model too
        expected = n * int(np.prod(per_seq)) * dtype.itemsize
        if len(out) != expected:
            raise TinyrnnError(f"host driver wrote {len(out)} bytes, expected {expected}")
        return np.frombuffer(out, dtype).reshape((n, *per_seq)).astype(self.model.output_dtype)

    def run(self, x) -> np.ndarray:
        x = self._check_x(x)
        per_seq = (x.shape[1], self.output_size) if self.model.returns_sequences else (self.output_size,)
        return self._call("run", x, x.tobytes(), per_seq)

    def step(self, x) -> np.ndarray:
        x = self._check_x(x)
        return self._call("step", x, x.tobytes(), (x.shape[1], self.output_size))

    def run_masked(self, x, valid, stepwise: bool = False) -> np.ndarray:
        """``_run_masked`` per sequence with ``valid`` (N, T) bool, or (``stepwise``)
        T calls of ``_step_masked`` → (N, T, O)."""
        x = self._check_x(x)
        flags = np.asarray(valid, bool).astype(np.uint8).reshape(x.shape[:2])
        payload = b"".join(f.tobytes() + seq.tobytes() for f, seq in zip(flags, x))
        seq_out = stepwise or self.model.returns_sequences
        return self._call("mstep" if stepwise else "masked", x, payload,
                          (x.shape[1], self.output_size) if seq_out else (self.output_size,))

    def run_pairs(self, x) -> np.ndarray:
        x = self._check_x(x)
        if x.shape[0] % 2:
            raise TinyrnnError("run_pairs needs an even number of sequences")
        return self._call("pair", x, x.tobytes(), (x.shape[1], self.output_size))

    def run_from_state(self, x, states) -> np.ndarray:
        """``states``: one per recurrent layer, LSTM (h (N, H) int8, c (N, H) int16),
        GRU h16 (N, H) int16 (the driver also gets the h8 derived from it), SimpleRNN h
        (N, H) int8."""
        x = self._check_x(x)
        n = x.shape[0]
        if len(states) != len(self._recurrent):
            raise TinyrnnError(f"need {len(self._recurrent)} recurrent states, got {len(states)}")
        rows = []
        for state, (kind, size) in zip(states, self._recurrent):
            if kind == "rnn":
                rows.append((np.asarray(state, np.int8).reshape(n, size),))
                continue
            if kind == "gru":
                h16 = np.asarray(state, np.int16).reshape(n, size)
                state = (hidden_s8(h16), h16)
            h, c = state
            h = np.asarray(h, self.model.int_dtype if kind == "lstm" else np.int8)  # a 16x8 LSTM's h is int16
            rows.append((h.reshape(n, size), np.asarray(c, np.int16).reshape(n, size)))
        parts = []
        for i in range(n):
            for row in rows:
                parts.append(row[0][i].astype(row[0].dtype.newbyteorder("=")).tobytes())
                parts.extend(c[i].astype("=i2").tobytes() for c in row[1:])
            parts.append(x[i].tobytes())
        return self._call("state", x, b"".join(parts), (x.shape[1], self.output_size))


def layer_model(layer: LSTMLayer | GRULayer | SimpleRNNLayer, name: str | None = None) -> Model:
    """A lone recurrent layer as a Model (identity input quantization, all steps out)."""
    layer = dataclasses.replace(layer, return_sequences=True)
    quant = InputQuant(offset=np.zeros(layer.input_size, np.float32), scale=np.ones(layer.input_size, np.float32),
                       zero_point=0)
    return Model(name=name or layer.name, input_size=layer.input_size, input_quant=quant, layers=[layer])


def run_layer(layer: LSTMLayer | GRULayer | SimpleRNNLayer, x, workdir, *, state=None, sanitize: bool = False,
              cc: str = "gcc") -> np.ndarray:
    """Host C for one recurrent layer over a batch: x (B, T, I) int8 → int8 hidden states (B, T, H).

    ``state`` starts from an explicit state (as some TFLM vectors do): LSTM (h0 (B, H)
    int8, c0 (B, H) int16), GRU h16 (B, H) int16, SimpleRNN h0 (B, H) int8; otherwise every
    state is real zero.
    """
    host = HostModel(layer_model(layer), workdir, name="layer", sanitize=sanitize, cc=cc)
    if state is None:
        return host.step(np.asarray(x, np.int8))
    return host.run_from_state(np.asarray(x, np.int8), [state])


run_lstm_layer = run_layer  # the LSTM-era name, kept for callers
