"""Cache(max_size=0) stores nothing, as cachetools' maxsize=0 does; every put is counted and reported as evicted."""

from __future__ import annotations

from typing import Any

import pytest


def test_max_size_zero_stores_nothing_and_reports_it(cache_cls: type[Any]) -> None:
    heard: list[tuple[Any, Any, str]] = []
    c = cache_cls()
    c._set_bound(0)
    c.on_evict = lambda k, v, cause: heard.append((k, v, cause))
    c.put("a", 1)
    c["b"] = 2
    assert not c.put_safe("c", 3)
    c._put_at("d", 4, 0)  # what a load or a merge does
    assert len(c) == 0 and c.get("a") is None and "b" not in c and "d" not in c and list(c) == []
    assert [(k, v, cause) for k, v, cause in heard][:3] == [
        ("a", 1, "evicted"),
        ("b", 2, "evicted"),
        ("c", 3, "evicted"),
    ]
    assert c._evicted == len(heard) == 4
    assert (c.max_size, c.maxsize, c.currsize) == (0, 0, 0)
    with pytest.raises(TypeError):
        c.put([], 1)  # an unhashable key is still refused


def test_max_size_zero_through_the_constructor(cache_classes: dict[str, type[Any]]) -> None:
    for cls in cache_classes.values():
        c = cls(max_size=0)
        for i in range(100):
            c.put(i, i)
        assert len(c) == 0 and c.stats().evicted == 100
        with pytest.raises(ValueError, match="between 0 and"):
            cls(max_size=-1)
