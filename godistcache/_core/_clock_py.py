"""The tables' clocks: Unix time in nanoseconds, or a cache's own timer.

``_table_py`` re-exports ``now_ns``, ``clock_uses_tsc`` and
``CLOCK_RESOLUTION_NS`` (part of the twin's surface). Both tables read a
timer's return with :func:`timer_to_ns` (the compiled one reads a float in C,
with the same rounding), so both decide every expiry alike.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import math
import numbers
import time
from typing import Any

__all__ = ["CLOCK_RESOLUTION_NS", "TIMER_LIMIT_NS", "clock_uses_tsc", "now_ns", "timer_to_ns"]

#: Resolution of the wall clock used for expiry, in nanoseconds.
CLOCK_RESOLUTION_NS = int(time.get_clock_info("time").resolution * 1e9) or 1

#: A timer's reading, in ns, must be an int64: from -2**63 to 2**63 - 1 (about 292 years either side of 0).
TIMER_LIMIT_NS = 1 << 63

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_HALF = fractions.Fraction(1, 2)


def now_ns() -> int:
    """Return the wall clock: Unix time in nanoseconds (a table with a timer uses its timer instead)."""
    return time.time_ns()


def clock_uses_tsc() -> bool:
    """Always False: the pure-Python table reads ``time.time_ns()``."""
    return False


def _bad(timer: object, value: object, what: str) -> ValueError:
    return ValueError(f"timer {timer!r} returned {value!r}: {what}")


def timer_to_ns(timer: object, value: Any) -> int:
    """What ``timer()`` returned, as nanoseconds in the timer's frame.

    Seconds (an int, a float rounded to the nearest ns, any other real number;
    fractions and decimals exactly) or a datetime (aware: its instant; naive:
    local time, as ``datetime.timestamp()`` reads it).

    Raises:
        TypeError: value is not a real number or a datetime (bool is refused too).
        ValueError: NaN, infinite, or out of the int64 range of ns (about 292 years either side of 0).
    """
    if isinstance(value, float):
        d = float.__float__(value)
        if d != d or d in (math.inf, -math.inf):
            raise _bad(timer, value, "not a finite time")
        ns = math.floor(d * 1e9 + 0.5)  # nearest ns, computed as the compiled table does
    elif isinstance(value, bool):
        raise TypeError(f"timer {timer!r} must return seconds (int or float) or a datetime, got bool")
    elif isinstance(value, int):
        ns = int(value) * 1_000_000_000
    elif isinstance(value, datetime.datetime):
        aware = value if value.tzinfo is not None and value.utcoffset() is not None else value.astimezone()
        ns = (aware - _EPOCH) // datetime.timedelta(microseconds=1) * 1000
    elif isinstance(value, (numbers.Rational, decimal.Decimal)):
        if isinstance(value, decimal.Decimal) and not value.is_finite():
            raise _bad(timer, value, "not a finite time")
        ns = math.floor(fractions.Fraction(value) * 1_000_000_000 + _HALF)
    elif isinstance(value, numbers.Real):
        return timer_to_ns(timer, float(value))
    else:
        raise TypeError(f"timer {timer!r} must return seconds (int or float) or a datetime, got {type(value).__name__}")
    if not -TIMER_LIMIT_NS <= ns < TIMER_LIMIT_NS:
        raise _bad(timer, value, "out of the int64 range of ns (about 292 years either side of 0)")
    return ns
