"""put(key, value, expire_at=...): an absolute expiry, as a datetime or Unix seconds, in both cores."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from godistcache._core._ttl_py import MAX_TTL_NS, expire_at_to_ns


def _expiry(cache: Any, key: Any) -> int:
    return next(e for k, _, e in cache._iter(3) if k == key)


def test_unix_seconds_and_datetimes(cache: Any, clock: Any) -> None:
    now_s = clock.now / 1e9
    cache.put("f", 1, expire_at=now_s + 2.5)
    cache.put("i", 2, expire_at=int(now_s) + 10)
    aware = datetime.datetime.fromtimestamp(now_s + 5, datetime.timezone.utc)
    cache.put("aware", 3, expire_at=aware)
    naive = datetime.datetime.fromtimestamp(now_s + 7)  # local time, as datetime.timestamp() reads it
    cache.put("naive", 4, expire_at=naive)
    assert _expiry(cache, "f") == clock.now + 2_500_000_000
    assert _expiry(cache, "i") == (int(now_s) + 10) * 10**9
    assert abs(_expiry(cache, "aware") - (clock.now + 5 * 10**9)) < 10**3
    assert abs(_expiry(cache, "naive") - (clock.now + 7 * 10**9)) < 10**3
    clock.advance(3)
    assert "f" not in cache and cache.get("aware") == 3
    clock.advance(5)
    assert "aware" not in cache and "naive" not in cache and cache.get("i") == 2


def test_a_time_already_past_replaces_the_value_and_is_never_returned(cache: Any, clock: Any) -> None:
    cache.put("k", "old")
    cache.put("k", "new", expire_at=clock.now / 1e9 - 1)
    assert cache.get("k") is None and "k" not in cache
    cache.put("j", 1, expire_at=0)  # 1970: the earliest expiry
    assert "j" not in cache


@pytest.mark.parametrize(
    "bad, error",
    [("soon", TypeError), (True, TypeError), (b"1", TypeError), (float("nan"), ValueError), (1e300, ValueError)],
)
def test_bad_expiries_are_refused_and_store_nothing(cache: Any, bad: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="expire_at"):
        cache.put("k", 1, expire_at=bad)
    assert "k" not in cache


def test_ttl_and_expire_at_together_are_refused(cache: Any) -> None:
    with pytest.raises(TypeError, match="not both"):
        cache.put("k", 1, 60, expire_at=time.time() + 60)
    assert "k" not in cache


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_the_conversion_is_bounded_and_positive(seconds: float) -> None:
    now = time.time_ns()
    if seconds * 1e9 > now + MAX_TTL_NS + 10**9:
        with pytest.raises(ValueError, match="at most"):
            expire_at_to_ns(seconds, now)
    elif seconds * 1e9 < now + MAX_TTL_NS - 10**9:
        assert 1 <= expire_at_to_ns(seconds, now) <= now + MAX_TTL_NS
