"""Progress of a long embedding run on stderr: passages done, rate, elapsed time and ETA.

stdout stays free for what callers parse (`--json`), so every line goes to stderr. On a terminal
the line is redrawn in place (`\\r`); elsewhere (a log, `make run` piped) one line is printed at most
every `interval_s` seconds, so a 100k-clause build logs a few hundred lines, not 100k.

The ETA is computed from characters, not passages: builds embed the passages sorted by length
(see checkpoint.py), so the first passages are the short ones and a passages-per-second ETA would
promise far too early an end. Encoder time grows about linearly with length up to the 512-token
cut, so characters left / characters per second is the honest estimate.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    """12s, 3m05s, 1h02m."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class BuildProgress:
    """Counts embedded passages (and their characters) against a total and reports them."""

    def __init__(self, total: int, total_chars: int, *, label: str = "嵌入 embedding", enabled: bool = True,
                 interval_s: float = 2.0, stream: TextIO | None = None, resumed: int = 0) -> None:
        self.total = total
        self.total_chars = max(1, total_chars)
        self.label = label
        self.enabled = enabled and total > 0
        self.interval_s = interval_s
        self.stream = stream or sys.stderr
        self.resumed = resumed           # taken from a checkpoint: counted as done, not in the rate
        self.done = 0
        self.done_chars = 0
        self.started = time.perf_counter()
        self._last_shown = float("-inf")
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, passages: int, chars: int) -> None:
        self.done += passages
        self.done_chars += chars
        now = time.perf_counter()
        if self.done >= self.total or now - self._last_shown >= self.interval_s:
            self._last_shown = now
            self._show(final=self.done >= self.total)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        char_rate = self.done_chars / elapsed if elapsed > 0 else 0.0
        left = self.total_chars - self.done_chars
        eta = _clock(left / char_rate) if char_rate > 0 and self.done < self.total else ("0s" if left <= 0 else "?")
        share = 100.0 * (self.done + self.resumed) / (self.total + self.resumed)
        resumed = f" (+{self.resumed} 来自检查点 from the checkpoint)" if self.resumed else ""
        return (f"{self.label}: {self.done}/{self.total}{resumed} {share:5.1f}%, {rate:.1f} passages/s, "
                f"elapsed {_clock(elapsed)}, ETA {eta}")

    def _show(self, *, final: bool) -> None:
        if not self.enabled:
            return
        if self._tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
