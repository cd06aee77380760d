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

__all__ = ["MAX_TTL_NS", "TTL", "ttl_to_ns"]

#: What a TTL may be: seconds as int or float, or a timedelta.
TTL = Union[int, float, datetime.timedelta]

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
