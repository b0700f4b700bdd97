"""Progress for long steps: a tqdm bar on a terminal, plain lines in logs and CI."""

from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, "verify") as p: p.update(1, mismatches=0)``.

    On a TTY it draws a tqdm bar on stderr; elsewhere it prints one line about every
    10 % (and the last), so CI logs show movement without thousands of lines.
    """

    def __init__(self, total: int, label: str, enabled: bool = True, stream=None):
        self.total, self.label, self.done = int(total), label, 0
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self._bar = None
        self._next_line = max(1, self.total // 10)
        self.enabled = enabled
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, file=self.stream, unit="seq", dynamic_ncols=True)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, n: int = 1, **status) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if status:
                self._bar.set_postfix(status, refresh=False)
        elif self.enabled and (self.done >= self._next_line or self.done == self.total):
            extra = " ".join(f"{k}={v}" for k, v in status.items())
            self.stream.write(f"{self.label}: {self.done}/{self.total} ({self.rate():.1f}/s) {extra}\n".rstrip() + "\n")
            self.stream.flush()
            self._next_line = self.done + max(1, self.total // 10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
