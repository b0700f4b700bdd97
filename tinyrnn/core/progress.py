"""Progress for long steps: a tqdm bar on a terminal, plain lines in logs and CI."""

from __future__ import annotations

import sys
import time

_quiet = False
_LINE_EVERY_S = 10.0  # in logs: a line at least this often, so a slow device still shows movement


def set_quiet(quiet: bool) -> None:
    """``tinyrnn -q``: no progress output anywhere (results and errors still print)."""
    global _quiet
    _quiet = bool(quiet)


def progress_quiet() -> bool:
    return _quiet


class Progress:
    """``with Progress(total, "verify") as p: p.update(1, mismatches=0)``.

    On a TTY it draws a tqdm bar on stderr; elsewhere it prints a first line at once, then
    one about every 10 % or every 10 s (whichever comes first) and the last, so CI logs show
    movement without thousands of lines.
    """

    def __init__(self, total: int, label: str, enabled: bool = True, stream=None):
        self.total, self.label, self.done = int(total), label, 0
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self._bar = None
        self._next_line = max(1, self.total // 10)
        self._next_time = self.start + _LINE_EVERY_S
        self.enabled = enabled and not _quiet
        if self.enabled and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, file=self.stream, unit="seq", dynamic_ncols=True)
        elif self.enabled:
            self._line(f"{self.label}: 0/{self.total} started")

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def _line(self, text: str) -> None:
        self.stream.write(text.rstrip() + "\n")
        self.stream.flush()

    def update(self, n: int = 1, **status) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if status:
                self._bar.set_postfix(status, refresh=False)
            return
        due = self.done >= self._next_line or self.done == self.total or time.monotonic() >= self._next_time
        if self.enabled and due:
            extra = " ".join(f"{k}={v}" for k, v in status.items())
            self._line(f"{self.label}: {self.done}/{self.total} ({self.rate():.1f}/s) {extra}")
            self._next_line = self.done + max(1, self.total // 10)
            self._next_time = time.monotonic() + _LINE_EVERY_S

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
