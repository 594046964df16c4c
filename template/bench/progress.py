"""A progress bar on stderr: redrawn in place on a terminal, one line per step elsewhere."""

import shutil
import sys
import time
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, steps: int, stream: TextIO = sys.stderr) -> None:
        self._steps = max(steps, 1)
        self._done = 0
        self._label = ""
        self._stream = stream
        self._live = stream.isatty()
        self._started = time.monotonic()

    def step(self, label: str) -> None:
        """Start the next step."""
        if self._label:
            self._done = min(self._done + 1, self._steps)
        self._label = label
        if self._live:
            self.update(0.0)
        else:
            elapsed = time.monotonic() - self._started
            self._stream.write(f"[{self._percent(0.0):3.0f}% {elapsed:5.1f}s] {label}\n")
            self._stream.flush()

    def update(self, fraction: float) -> None:
        """How far the current step has come, from 0 to 1."""
        if not self._live:
            return
        done = self._percent(min(max(fraction, 0.0), 1.0)) / 100
        filled = round(done * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        elapsed = time.monotonic() - self._started
        line = f"\r[{bar}] {done * 100:3.0f}% {elapsed:5.0f}s  {self._label}"
        columns = min(shutil.get_terminal_size().columns - 1, 120)
        self._stream.write(line[:columns].ljust(columns))
        self._stream.flush()

    def finish(self) -> None:
        self._done = self._steps
        if self._live:
            self._label = "done"
            self.update(1.0)
            self._stream.write("\n")
        else:
            self._stream.write("[100%] done\n")
        self._stream.flush()

    def _percent(self, fraction: float) -> float:
        return 100 * (self._done + fraction) / self._steps
