"""Progress on stderr for long fleet work: a bar on a terminal, sparse lines otherwise.

The library reports progress as ``callback(stage, done, total)``; this is the
command line's callback. On a terminal it redraws one line (at most ten times
a second); into a file or pipe it writes a line per tenth of the work, so a CI
log shows progress without thousands of lines.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

STAGE_NAMES = {"hosts": "verifying quotes", "pairs": "evaluating class pairs", "before": "before policy",
               "after": "after policy"}
WIDTH = 30


class ProgressBar:
    """``ProgressBar()(stage, done, total)``; call :meth:`close` when the work ends."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval
        self._last = 0.0
        self._stage = ""
        self._tenth = -1
        self._drawn = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self._stage:
            self._finish_line()
            self._stage, self._tenth = stage, -1
        total = max(total, 1)
        name = STAGE_NAMES.get(stage, stage)
        if self.tty:
            now = time.monotonic()
            if done < total and now - self._last < self.interval:
                return
            self._last = now
            filled = WIDTH * done // total
            self.stream.write(f"\r{name:<24} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                              f"{100 * done // total:3d}% {done}/{total}")
            self.stream.flush()
            self._drawn = True
            return
        tenth = 10 * done // total
        if tenth != self._tenth:
            self._tenth = tenth
            self.stream.write(f"{name}: {done}/{total} ({100 * done // total}%)\n")
            self.stream.flush()

    def _finish_line(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        """End the bar's line (on a terminal)."""
        self._finish_line()
