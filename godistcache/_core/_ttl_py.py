"""TTLs for the pure-Python table: what a TTL may be, and its conversion to nanoseconds.

``_table_c`` converts in C with the same rules, rounding and messages; the
tests check the two agree (``tests/test_ttl.py``). ``_table_py`` re-exports
``TTL``, ``MAX_TTL_NS`` and ``ttl_to_ns``, which are part of the twin's surface.
"""

from __future__ import annotations

import datetime
import math
import operator
from typing import Union

__all__ = ["MAX_TTL_NS", "TTL", "ExpireAt", "expire_at_to_ns", "ttl_to_ns"]

#: What a TTL may be: seconds as int or float, or a timedelta.
TTL = Union[int, float, datetime.timedelta]

#: What an absolute expiry may be: a datetime (naive: local time, as datetime.timestamp() reads it) or Unix seconds.
ExpireAt = Union[datetime.datetime, int, float]

#: Longest TTL: 2**62 ns, about 146 years, so that now + ttl fits in int64.
MAX_TTL_NS = 1 << 62
_MAX_TTL_S = MAX_TTL_NS // 1_000_000_000


def _float_ttl_ns(d: float, ttl: object) -> int:
    if d != d:
        raise ValueError(f"ttl must be a number of seconds, got {ttl!r}")
    if d < 0:
        raise ValueError(f"ttl must be >= 0, got {ttl!r}")
    if d == 0 or d == float("inf"):
        return 0
    d = d * 1e9 + 0.5  # nearest ns, computed as the compiled table does
    if d >= MAX_TTL_NS:  # before floor(), which raises on inf
        raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
    ns = math.floor(d)
    return ns if ns > 0 else 1


def _int_ttl_ns(ttl: int) -> int:
    if ttl < 0:
        raise ValueError(f"ttl must be >= 0, got {ttl!r}")
    if ttl > _MAX_TTL_S:
        raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
    return ttl * 1_000_000_000


def ttl_to_ns(ttl: object) -> int:
    """Normalise a TTL (seconds as int/float, or a timedelta) to nanoseconds; 0 means never."""
    tp = type(ttl)
    if tp is float:
        return _float_ttl_ns(ttl, ttl)  # type: ignore[arg-type]
    if tp is int:
        return _int_ttl_ns(ttl)  # type: ignore[arg-type]
    if isinstance(ttl, bool):
        raise TypeError("ttl must be seconds (int or float) or a timedelta, got bool")
    if isinstance(ttl, float):
        return _float_ttl_ns(float.__float__(ttl), ttl)
    if isinstance(ttl, int):
        return _int_ttl_ns(int(ttl))
    if isinstance(ttl, datetime.timedelta):
        ns = (ttl.days * 86400 + ttl.seconds) * 1_000_000_000 + ttl.microseconds * 1000
        if ns < 0:
            raise ValueError(f"ttl must be >= 0, got {ttl!r}")
        if ns >= MAX_TTL_NS:
            raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
        return ns
    if not isinstance(ttl, (str, bytes, bytearray, complex)):  # complex has a __float__ that raises on 3.9
        if hasattr(tp, "__index__"):
            return _int_ttl_ns(operator.index(ttl))  # type: ignore[arg-type]
        if hasattr(tp, "__float__"):
            return _float_ttl_ns(float(ttl), ttl)  # type: ignore[arg-type]
    raise TypeError(f"ttl must be seconds (int or float) or a timedelta, got {tp.__name__}")


def expire_at_to_ns(expire_at: object, now_ns: int) -> int:
    """An absolute expiry (a datetime, or Unix seconds as int or float) as Unix ns, for a put at now_ns.

    A time already past gives an entry that is expired at once (the smallest expiry, 1, for times
    before 1970). Both tables use this function, so both read every expiry alike.

    Raises:
        TypeError: not a datetime or a number.
        ValueError: NaN, or more than MAX_TTL_NS (about 146 years) after now.
    """
    if isinstance(expire_at, datetime.datetime):
        seconds = expire_at.timestamp()
    elif isinstance(expire_at, bool) or not isinstance(expire_at, (int, float)):
        raise TypeError(f"expire_at must be a datetime or Unix seconds (int or float), got {type(expire_at).__name__}")
    else:
        seconds = expire_at
    if seconds != seconds:
        raise ValueError(f"expire_at must be a time, got {expire_at!r}")
    limit = now_ns + MAX_TTL_NS
    ns = (
        int(seconds) * 1_000_000_000
        if isinstance(seconds, int)
        else (limit + 1 if seconds * 1e9 > limit else math.floor(seconds * 1e9 + 0.5))
    )
    if ns > limit:
        raise ValueError(f"expire_at must be at most {_MAX_TTL_S} seconds from now, got {expire_at!r}")
    return ns if ns > 0 else 1
