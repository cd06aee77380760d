"""Hit and miss counters of the core (read by telemetry; the base of cache statistics)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import FrozenClock


def test_get_and_getitem_count_hits_and_misses(cache: Any, clock: FrozenClock) -> None:
    assert (cache._hits, cache._misses) == (0, 0)
    cache["a"] = 1
    cache.put("short", 2, 1)
    assert cache.get("a") == 1 and cache["a"] == 1
    assert cache.get("b") is None
    with pytest.raises(KeyError):
        cache["b"]
    clock.advance(2)
    assert cache.get("short", "gone") == "gone"  # expired: a miss
    # Membership tests, puts and deletes are neither.
    assert "a" in cache and cache.exists("a")
    cache.delete("a")
    assert (cache._hits, cache._misses) == (2, 3)


def test_compiled_counters_are_read_only(core: Any) -> None:
    if not core.__name__.endswith("_c"):
        pytest.skip("the pure-Python twin's counters are plain attributes")
    table = core.Table()
    with pytest.raises(AttributeError):
        table._hits = 0


def test_stats_counts_every_kind_of_event(cache: Any, clock: FrozenClock) -> None:
    cache.put("a", 1)
    cache.put("a", 2)  # a replacement is a put
    cache.put_safe("b", 1, 5)
    cache["c"] = 3
    cache.get("a")
    cache.get("zz")
    cache.delete("c")
    cache.delete("c")  # nothing there: not a delete
    cache.put("short", 1, 1)
    cache.put("gone", 1, 1)
    clock.advance(2)
    cache.delete("gone")  # expired before the delete: an expiry, not a delete
    assert cache.get("short") is None  # met expired: an expiry and a miss
    cache.put("b", 9)  # b expired at +5? no: still live, a replacement
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.puts, stats.deletes, stats.expired, stats.evicted) == (1, 2, 7, 1, 2, 0)
    assert stats.size == 2 and stats.hit_ratio == pytest.approx(1 / 3)
    cache.put("x", 1, 1)
    cache.put("y", 1, 1)
    clock.advance(2)
    assert cache.stats().expired == 4 and cache.stats().size == 2  # len() freed them
    cache._sweep(100)
    cache.put("z", 1, 1)
    clock.advance(2)
    assert cache.expire() == 1 and cache.stats().expired == 5
    cache.put("t", 1, 1)
    clock.advance(2)
    with pytest.raises(KeyError):
        cache.ttl("t")
    assert cache.stats().expired == 6
    assert type(cache).__mro__[0]().stats().hit_ratio == 0.0
