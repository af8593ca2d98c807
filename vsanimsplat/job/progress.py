"""Progress of an encode: frames done, rate and ETA, as a bar on a terminal or plain lines in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

__all__ = ["Progress", "counted"]


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun`` in the number it takes: ``counted(1, "cut")`` is "1 cut", ``counted(2, "cut")`` "2 cuts"
    (``plural`` where adding "s" does not make it)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


class Progress:
    """Frames done, rate and ETA: a tqdm bar on a terminal, else a plain line every ``interval`` seconds.

    | parameter | type | default | meaning |
    |---|---|---|---|
    | `desc` | str | | what is counted (``"encoding"``) |
    | `stream` | text stream | sys.stderr | where it goes |
    | `enabled` | bool | True | False prints nothing |
    | `interval` | float | 5.0 | seconds between plain lines |

    :meth:`update` has the signature of ``VideoNode.output``'s ``progress_update``; the last
    frame always gets a plain line. A job encoded in chunks counts all of them in one bar: :meth:`part` before each
    chunk (made here, or made elsewhere and counted whole), :meth:`skip` for the chunks an earlier run made.
    """

    def __init__(self, desc: str, stream: TextIO | None = None, enabled: bool = True, interval: float = 5.0) -> None:
        self.desc = desc
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interval = interval
        self.began = time.perf_counter()
        self._bar: tqdm | None = None
        self._last_line = self.began
        self._before = 0  # frames counted before the current part
        self._counted = 0  # frames counted so far
        self._total: int | None = None
        self._skipped = 0

    def part(self, total: int) -> None:
        """The coming updates count the frames of another part of a job of ``total`` frames, after those counted so
        far (the parts may be made in any order)."""
        self._before, self._total = self._counted, total

    def skip(self, frames: int) -> None:
        """``frames`` more of the job were made by an earlier run: counted as done, left out of the rate."""
        self._skipped += frames
        self._counted += frames

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` frames are written."""
        done, total = self._before + done, self._total or total
        self._counted = done
        if not self.enabled:
            return
        if self.stream.isatty():
            if self._bar is None:
                self._bar = tqdm(total=total, initial=self._skipped, desc=self.desc, unit="frame", file=self.stream,
                                 dynamic_ncols=True)
            self._bar.update(done - self._bar.n)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.interval or (done == total and done > 0):
            self._last_line = now
            print(self.line(done, total, now - self.began), file=self.stream, flush=True)

    def line(self, done: int, total: int, elapsed: float) -> str:
        """The plain progress line: ``encoding: 120/480 frames (25%), 3.20 fps, ETA 1:52`` (the rate of the frames made
        since the start, not those :meth:`skip` counted)."""
        rate = (done - self._skipped) / elapsed if elapsed > 0 else 0.0
        if rate > 0:
            left = round((total - done) / rate)
            eta = f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}" if left >= 3600 else f"{left // 60}:{left % 60:02d}"
        else:
            eta = "?"
        return f"{self.desc}: {done}/{total} frames ({100 * done // max(total, 1)}%), {rate:.2f} fps, ETA {eta}"

    def close(self) -> None:
        """End the bar (if any)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.began
