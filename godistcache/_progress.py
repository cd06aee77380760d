"""A one-line progress bar for the console: percent, MB done / total, rate.

>>> import io
>>> out = io.StringIO()
>>> with ProgressBar(2_000_000, "verify", stream=out, enabled=True) as bar:
...     bar(1_000_000, 2_000_000)
>>> "50%" in out.getvalue()
True

It redraws its line in place with ``"\\r"``, at most ``1 / min_interval``
times a second and not before ``delay`` seconds have passed (the last
update, done == total, is always drawn), and wipes the line on
:meth:`~ProgressBar.close`. By default it draws only when its stream is a
terminal, so a log file or a pipe never gets control characters.
An instance is a :data:`Progress` callable; it keeps no
reference to what it measures, so it serves any byte count (file reads,
uploads, downloads).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Optional, TextIO

__all__ = ["Progress", "ProgressBar", "TransferProgress"]

#: A progress callback: called with (units done, units in all), bytes or entries, as work goes.
Progress = Callable[[int, int], None]

_MB = 1_000_000


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class ProgressBar:
    """A progress line on a text stream (stderr by default).

    Args:
        total: the number of bytes the work is expected to take; each call
            may revise it.
        label: a word or two shown before the figures, e.g. the command.
        stream: where to draw; only text is written, and only when enabled.
        enabled: True draws, False never draws, None (the default) draws only
            when stream is a terminal.
        min_interval: the fewest seconds between two redraws.
        delay: seconds before the first draw, so that work over sooner
            shows no bar at all (the last update is drawn regardless).
        clock: a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        total: int,
        label: str,
        stream: Optional[TextIO] = None,
        enabled: Optional[bool] = None,
        *,
        min_interval: float = 0.1,
        delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream: TextIO = sys.stderr if stream is None else stream
        self.total = max(int(total), 0)
        self.label = label
        self.enabled = _isatty(self.stream) if enabled is None else bool(enabled)
        self.min_interval = min_interval
        self.delay = delay
        self._clock = clock
        self._start = clock()
        self._last_draw: Optional[float] = None
        self._width = 0  # characters of the line on screen, to wipe it
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        """Record that done of total bytes are through, and redraw if it is time to."""
        self.done = done
        self.total = total
        if not self.enabled:
            return
        now = self._clock()
        if done < total and (
            now - self._start < self.delay
            or (self._last_draw is not None and now - self._last_draw < self.min_interval)
        ):
            return
        self._last_draw = now
        self._draw(self.render(done, total, now - self._start))

    def render(self, done: int, total: int, elapsed: float) -> str:
        """The progress line for done of total bytes after elapsed seconds (no ``"\\r"``)."""
        percent = min(100, done * 100 // total) if total > 0 else 100
        rate = f"{done / elapsed / _MB:.1f} MB/s" if elapsed > 0 else "-- MB/s"
        return f"{self.label}: {percent:3d}% {done / _MB:.1f}/{total / _MB:.1f} MB, {rate}"

    def _draw(self, line: str) -> None:
        pad = max(self._width - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        """Wipe the line, if one was drawn. Idempotent."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


class TransferProgress:
    """The progress object minio's put_object takes (set_meta, update), calling progress(done, total).

    minio uploads the parts of a large object from several threads; the count is kept under a lock.
    """

    def __init__(self, progress: Progress, total: int) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self.total = total
        self.done = 0

    def set_meta(self, object_name: str, total_length: int) -> None:
        with self._lock:
            self.total = total_length
            self._progress(self.done, self.total)

    def update(self, length: int) -> None:
        with self._lock:
            self.done += length
            self._progress(min(self.done, self.total), self.total)

    def finish(self) -> None:
        with self._lock:
            if self.done < self.total or self.total == 0:
                self.done = self.total
                self._progress(self.done, self.total)
