"""Verify many sequences on several devices at once: QEMU instances or boards in a farm.

A ``concurrent.futures.ProcessPoolExecutor`` (no home-made scheduler): every worker
process boots its own QEMU with the same ELF (or opens its own port of a farm) on its first block, keeps it for the
following blocks, and returns the device outputs of a block of consecutive
sequences. The parent compares with the golden model in sequence order, so the
result is exactly what one device would have produced, only sooner.

Processes, not threads: each QEMU needs a host process feeding its serial socket,
and the GIL would serialise the frame encode/decode work of several links. The
pool uses the "spawn" start method (no fork of a parent that may hold threads).

When a block fails (link error, crash, a dead worker) no new blocks are started,
the running ones finish, and the result names exactly which sequences were
compared (``VerifyResult.indices``), so a report never claims more than it saw.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.util
from dataclasses import dataclass

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import run_model
from tinyrnn.core.ir import Model
from tinyrnn.core.progress import Progress
from tinyrnn.harness.dut import Device
from tinyrnn.harness.qemu import Qemu
from tinyrnn.harness.verify import VerifyResult, check_input, index_ranges

__all__ = ["PortJob", "QemuJob", "verify_parallel"]

_MAX_BLOCK = 25  # sequences per task: small enough for a smooth progress bar and load balance


@dataclass(frozen=True)
class QemuJob:
    """What every worker needs to boot its own device."""

    board: str
    elf: str
    expected_hash: str
    lifetime_s: float  # QEMU watchdog: the longest one worker's QEMU may live
    timeout_s: float = 2.0  # per-request deadline


@dataclass(frozen=True)
class PortJob:
    """Devices that already run the firmware (a labgrid farm): worker k opens ``urls[k]``."""

    urls: tuple[str, ...]
    expected_hash: str
    timeout_s: float = 2.0


# --------------------------------------------------------------------------- worker side
_job: QemuJob | PortJob | None = None
_url: str | None = None  # this worker's port (PortJob)
_session: tuple | None = None  # (Qemu or None, Device) of this worker process


def _close_session() -> None:
    global _session
    if _session is not None:
        qemu, device = _session
        _session = None
        try:
            device.close()
        finally:
            if qemu is not None:
                qemu.close()


def _worker_init(job: QemuJob | PortJob, slots=None) -> None:
    global _job, _url
    _job = job
    if slots is not None:  # one port per worker: each takes the next free index once
        _url = job.urls[slots.get()]
    # atexit handlers do not run in pool workers; multiprocessing's own finalizers
    # with an exit priority do, so QEMU dies with its worker.
    multiprocessing.util.Finalize(None, _close_session, exitpriority=10)


def _device():
    global _session
    if _session is None and isinstance(_job, PortJob):
        _session = (None, Device.open(_url, expected_hash=_job.expected_hash, timeout_s=_job.timeout_s))
    elif _session is None:
        qemu = Qemu(_job.board, _job.elf, timeout_s=_job.lifetime_s)
        try:
            qemu.start()
            device = Device.open(qemu.url, expected_hash=_job.expected_hash, timeout_s=_job.timeout_s)
        except BaseException:
            qemu.close()
            raise
        _session = (qemu, device)
    return _session[1]


def _run_block(start: int, x_block: np.ndarray, valid_block: np.ndarray | None = None) -> dict:
    """Outputs of consecutive sequences from ``start``; stops at the first failure."""
    outputs, ticks = [], []
    try:
        device = _device()
        for k, seq in enumerate(x_block):
            y, t = device.run(seq, None if valid_block is None else valid_block[k])
            outputs.append(y)
            ticks.append(int(t))
    except TinyrnnError as exc:
        _close_session()  # a link in an unknown state: the next block boots a fresh QEMU
        return {"start": start, "outputs": outputs, "ticks": ticks, "error": f"sequence {start + len(outputs)}: {exc}"}
    return {"start": start, "outputs": outputs, "ticks": ticks, "error": None}


# --------------------------------------------------------------------------- parent side
def block_size(n: int, jobs: int) -> int:
    """About four blocks per worker (load balance), at most _MAX_BLOCK sequences each."""
    return max(1, min(_MAX_BLOCK, -(-n // (4 * jobs))))


def _differs(y, want: np.ndarray) -> bool:
    """For the progress line; a wrong output size is reported by VerifyResult.record()."""
    y = np.asarray(y)
    return y.size != want.size or bool(np.any(y.reshape(want.shape) != want))


def _collect(pool, x_q: np.ndarray, valid, expected: np.ndarray, block: int, bar: Progress) -> tuple[dict, list]:
    """Run every block; returns ({start: block result}, [(start, error text)])."""
    futures = {pool.submit(_run_block, s, x_q[s:s + block], None if valid is None else valid[s:s + block]): s
               for s in range(0, len(x_q), block)}
    done: dict[int, dict] = {}
    errors: list[tuple[int, str]] = []
    differing = 0  # for the progress line only; the result is built in sequence order later
    for fut in cf.as_completed(futures):
        start = futures[fut]
        if fut.cancelled():
            continue
        try:
            res = fut.result()
        except cf.CancelledError:
            continue
        except Exception as exc:  # noqa: BLE001 - a dead worker process (BrokenProcessPool) or pickling trouble
            res = {"start": start, "outputs": [], "ticks": [], "error": f"worker for sequences {start}-"
                   f"{min(len(x_q), start + block) - 1} failed: {type(exc).__name__}: {exc}"}
        done[start] = res
        differing += sum(_differs(y, expected[start + k]) for k, y in enumerate(res["outputs"]))
        bar.update(len(res["outputs"]), mismatches=differing)
        if res["error"]:
            errors.append((start, res["error"]))
            for other in futures:  # stop handing out work; running blocks finish
                other.cancel()
    return done, errors


def verify_parallel(model: Model, x_q: np.ndarray, job: QemuJob | PortJob, jobs: int,
                    progress: bool = True, valid: np.ndarray | None = None) -> VerifyResult:
    """Like verify_device(), over ``jobs`` QEMU instances booting ``job.elf`` or the ports of a PortJob."""
    x_q = check_input(model, x_q)
    if jobs < 1:
        raise TinyrnnError(f"--jobs must be at least 1, got {jobs}")
    jobs = min(jobs, len(x_q), len(job.urls) if isinstance(job, PortJob) else jobs) or 1
    expected = run_model(model, x_q, valid=valid)
    block = block_size(len(x_q), jobs)
    ctx = multiprocessing.get_context("spawn")
    slots = None
    if isinstance(job, PortJob):
        slots = ctx.Queue()
        for k in range(jobs):
            slots.put(k)
    result = VerifyResult(jobs=jobs)
    with Progress(len(x_q), "verify", enabled=progress) as bar:
        with cf.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init, initargs=(job, slots)) as pool:
            try:
                done, errors = _collect(pool, x_q, valid, expected, block, bar)
            except BaseException:  # Ctrl-C: drop the queue; workers (and their QEMUs) got the signal too
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        result.rate = bar.rate()
    for start in sorted(done):  # merge in sequence order
        res = done[start]
        for k, (y, t) in enumerate(zip(res["outputs"], res["ticks"])):
            result.record(start + k, y, t, expected[start + k])
    if errors:
        missing = sorted(set(range(len(x_q))) - set(result.indices))
        more = len(errors) - 1
        result.error = (f"{min(errors)[1]} (verified: {result.verified_ranges()}; not verified: {index_ranges(missing)}"
                        f"{f'; {more} more failed block' + ('s' if more > 1 else '') if more else ''})")
    return result
