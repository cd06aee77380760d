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
