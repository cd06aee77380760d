"""The pure-Python table's clock: Unix time in nanoseconds, which a test can freeze.

``_table_py`` re-exports ``now_ns``, ``clock_uses_tsc`` and
``CLOCK_RESOLUTION_NS`` (part of the twin's surface) and has ``set_clock`` as
its test hook ``_set_clock``, as ``_table_c`` does.
"""

from __future__ import annotations

import time

__all__ = ["CLOCK_RESOLUTION_NS", "clock_uses_tsc", "now_ns", "set_clock"]

#: Resolution of the wall clock used for expiry, in nanoseconds.
CLOCK_RESOLUTION_NS = int(time.get_clock_info("time").resolution * 1e9) or 1

_fake_now = 0


def now_ns() -> int:
    """Return the table's clock: Unix time in nanoseconds."""
    return _fake_now or time.time_ns()


def clock_uses_tsc() -> bool:
    """Always False: the pure-Python table reads ``time.time_ns()``."""
    return False


def set_clock(now_ns: int | None = None) -> None:
    """Freeze the table's clock at ``now_ns`` (int, Unix ns), or unfreeze it with None.

    A test hook: it affects every table of the pure-Python core.
    """
    global _fake_now
    if now_ns is None:
        _fake_now = 0
    else:
        if now_ns <= 0:
            raise ValueError(f"now_ns must be > 0, got {now_ns!r}")
        _fake_now = now_ns
