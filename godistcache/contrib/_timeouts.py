"""Framework timeouts to godistcache TTLs: the frameworks' 0 and godistcache's 0 do not mean the same thing."""

from __future__ import annotations

from typing import Optional

# godistcache refuses a TTL of 2**62 ns (about 146 years) or more; a framework timeout that long means "forever".
_LONGEST = float((1 << 62) // 1_000_000_000 - 1)

NEVER = 0  # godistcache's TTL for "never expires"


def seconds_to_ttl(seconds: float) -> Optional[float]:
    """The godistcache TTL of a positive-or-not number of seconds.

    Returns:
        None when the entry must not be stored (seconds <= 0: it expires now), else the TTL
        (0, godistcache's "never", past godistcache's longest TTL).

    Raises:
        TypeError: seconds is not a number.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, got {type(seconds).__name__}")
    if seconds <= 0:
        return None
    if seconds >= _LONGEST:
        return NEVER
    return float(seconds)
