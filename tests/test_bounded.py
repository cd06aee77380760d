"""max_size, max_weight and on_evict on both cores.

The exact choice of victims is checked against a model in test_stateful.py;
these tests check what users rely on: the bounds hold, frequently read keys
survive a scan, expired entries go before live ones, the listener hears every
departure with the right cause and may use the cache, and bad input is refused
without harm.
"""

from __future__ import annotations

import copy
import logging
import pickle
import random
import threading
from typing import Any

import pytest

from godistcache import Cache


def bounded(cache_cls: type[Any], **bounds: Any) -> Any:
    """A cache of the core under test with these bounds, as Cache(**bounds) makes it."""
    cache = cache_cls()
    cache._set_bound(bounds.get("max_size"), bounds.get("max_weight"), bounds.get("weigher"))
    return cache


def listened(cache: Any) -> list[tuple[Any, Any, str]]:
    heard: list[tuple[Any, Any, str]] = []
    cache.on_evict = lambda k, v, cause: heard.append((k, v, cause))
    return heard


@pytest.mark.parametrize("max_size", [1, 2, 7, 100])
def test_max_size_is_never_exceeded(cache_cls: type[Any], max_size: int) -> None:
    cache = bounded(cache_cls, max_size=max_size)
    for i in range(max_size * 10):
        cache[i] = i
        assert len(cache) == min(i + 1, max_size)
        assert cache[i] == i  # the key just put is always there
    assert cache._evicted == max_size * 9
    assert cache.max_size == max_size


def test_frequently_read_keys_survive_a_scan(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_size=100)
    hot = [f"hot{i}" for i in range(50)]
    for k in hot:
        cache[k] = k
    for _ in range(2):
        for k in hot:
            assert cache.get(k) == k
    for i in range(10_000):  # a scan of keys read once
        cache[f"cold{i}"] = i
    assert sum(k in cache for k in hot) == len(hot)


def test_a_key_evicted_young_and_seen_again_goes_to_the_main_queue(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_size=40)
    for i in range(40):
        cache[i] = i
    cache["x"] = "x"  # evicts 0 from the small queue: 0 becomes a ghost
    assert 0 not in cache
    cache[0] = 0  # a ghost comes back into the main queue...
    for i in range(100, 140):  # ...so a scan of new keys evicts others first
        cache[i] = i
    assert 0 in cache


def test_expired_entries_go_before_live_ones(cache_cls: type[Any], clock: Any) -> None:
    cache = bounded(cache_cls, max_size=10)
    heard = listened(cache)
    for i in range(5):
        cache.put(("short", i), i, ttl=1)
    for i in range(5):
        cache.put(("long", i), i)
    clock.advance(2)
    for i in range(5):
        cache.put(("new", i), i)
    assert sorted(cache.keys()) == sorted([("long", i) for i in range(5)] + [("new", i) for i in range(5)])
    assert cache._evicted == 0
    assert sorted(c for _, _, c in heard) == ["expired"] * 5


def test_weight_bound(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_weight=100, weigher=lambda k, v: len(v))
    for i in range(50):
        cache[i] = "x" * (i % 20)
        assert cache._weight <= 100
        assert cache._weight == sum(len(v) for v in cache.values())
    assert cache.max_weight == 100 and cache.max_size is None


def test_a_heavier_value_evicts_others_never_itself(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_weight=10, weigher=lambda k, v: v)
    for k in "abcde":
        cache[k] = 2
    cache["c"] = 10
    assert list(cache.items()) == [("c", 10)]
    assert cache._weight == 10


def test_zero_weights_still_count_for_max_size(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_size=3, max_weight=5, weigher=lambda k, v: 0)
    for i in range(10):
        cache[i] = i
    assert len(cache) == 3 and cache._weight == 0


@pytest.mark.parametrize(
    ("weight", "error"), [(11, ValueError), (-1, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError)]
)
def test_a_bad_weight_stores_nothing(cache_cls: type[Any], weight: Any, error: type) -> None:
    cache = bounded(cache_cls, max_weight=10, weigher=lambda k, v: v[1])
    cache["k"] = ("old", 3)
    with pytest.raises(error, match="weigh"):
        cache["k"] = ("new", weight)
    with pytest.raises(error, match="weigh"):
        cache.put("other", ("new", weight))
    assert list(cache.items()) == [("k", ("old", 3))]
    assert cache._weight == 3


def test_an_exception_in_the_weigher_stores_nothing(cache_cls: type[Any]) -> None:
    def weigher(k: Any, v: Any) -> int:
        raise ZeroDivisionError("boom")

    cache = bounded(cache_cls, max_weight=10, weigher=weigher)
    with pytest.raises(ZeroDivisionError):
        cache["k"] = 1
    assert len(cache) == 0


@pytest.mark.parametrize(
    ("bounds", "error", "match"),
    [
        ({"max_size": -1}, ValueError, "max_size"),  # 0 is allowed: it stores nothing (test_max_size_zero.py)
        ({"max_size": -3}, ValueError, "max_size"),
        ({"max_size": 1 << 40}, ValueError, "max_size"),
        ({"max_size": True}, TypeError, "max_size"),
        ({"max_size": 2.0}, TypeError, "max_size"),
        ({"max_size": "5"}, TypeError, "max_size"),
        ({"max_weight": 0, "weigher": len}, ValueError, "max_weight"),
        ({"max_weight": 10}, TypeError, "weigher"),
        ({"weigher": len}, TypeError, "max_weight"),
        ({"max_weight": 10, "weigher": 3}, TypeError, "callable"),
    ],
)
def test_bad_bounds_are_refused(cache_cls: type[Any], bounds: dict[str, Any], error: type, match: str) -> None:
    cache = cache_cls()
    with pytest.raises(error, match=match):
        bounded(cache_cls, **bounds)
    with pytest.raises(error, match=match):
        Cache(**bounds)
    assert cache.max_size is None


def test_bounds_are_set_on_an_empty_cache_only(cache_cls: type[Any]) -> None:
    cache = cache_cls()
    cache["k"] = 1
    with pytest.raises(ValueError, match="empty"):
        cache._set_bound(10)
    assert cache["k"] == 1 and cache.max_size is None


# -- on_evict ------------------------------------------------------------------------------


def test_every_cause(cache_cls: type[Any], clock: Any) -> None:
    cache = bounded(cache_cls, max_size=3)
    heard = listened(cache)
    cache["a"] = 1
    cache["a"] = 2
    assert heard == [("a", 1, "replaced")]
    del cache["a"]
    assert heard[-1] == ("a", 2, "deleted")
    cache.put("t", 1, ttl=1)
    clock.advance(1)
    assert cache.get("t") is None
    assert heard[-1] == ("t", 1, "expired")
    for k in "wxyz":
        cache[k] = k
    assert heard[-1] == ("w", "w", "evicted")
    assert cache.pop("x") == "x" and heard[-1] == ("x", "x", "deleted")
    cache.clear()
    assert heard[-2:] == [("y", "y", "deleted"), ("z", "z", "deleted")]
    cache.on_evict = None
    cache["q"] = 1
    del cache["q"]
    assert len(heard) == 7


def test_unbounded_caches_tell_the_listener_too(cache_cls: type[Any], clock: Any) -> None:
    cache = cache_cls()
    heard = listened(cache)
    key, equal_key = (1, 2), (1, 2)
    cache[key] = "v1"
    cache[equal_key] = "v2"
    assert heard == [((1, 2), "v1", "replaced")] and heard[0][0] is key  # the stored key object
    cache.put("t", 1, ttl=1)
    clock.advance(1)
    assert cache.expire() == 1
    assert heard[-1] == ("t", 1, "expired")


def test_the_listener_may_use_the_cache(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_size=2)
    seen: list[Any] = []

    def listener(k: Any, v: Any, cause: str) -> None:
        seen.append((k, cache.get(k), len(cache)))
        if cause == "evicted" and k == 0:
            cache[k] = "back"  # puts the evicted key again: evicts another, heard in turn

    cache.on_evict = listener
    for i in range(4):
        cache[i] = i
    assert len(cache) == 2
    assert seen[0] == (0, None, 2)  # called once the cache is consistent: 0 is gone, 1 and 2 are there
    assert "back" in cache.values()


def test_the_listener_runs_outside_any_lock(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_size=1)
    results: list[Any] = []

    def listener(k: Any, v: Any, cause: str) -> None:
        # Another thread uses the cache while the listener waits for it: under
        # a lock of the cache this would block until the join times out.
        t = threading.Thread(target=lambda: results.append(cache.get("b")))
        t.start()
        t.join(timeout=10)
        results.append(t.is_alive())

    cache.on_evict = listener
    cache["a"] = 1
    cache["b"] = 2
    assert results == [2, False]


def test_a_listener_that_raises_is_logged(cache_cls: type[Any], caplog: pytest.LogCaptureFixture) -> None:
    cache = bounded(cache_cls, max_size=1)

    def listener(k: Any, v: Any, cause: str) -> None:
        raise RuntimeError("listener bug")

    cache.on_evict = listener
    cache["a"] = 1
    with caplog.at_level(logging.ERROR, logger="godistcache"):
        cache["b"] = 2
    assert list(cache.items()) == [("b", 2)]
    assert "on_evict listener" in caplog.text and "listener bug" in caplog.text


def test_on_evict_must_be_callable(cache_cls: type[Any]) -> None:
    cache = cache_cls()
    with pytest.raises(TypeError, match="on_evict"):
        cache.on_evict = 3
    assert cache.on_evict is None


class Resurrector:
    """A value whose finaliser puts a new entry into the cache."""

    def __init__(self, cache: Any, n: int) -> None:
        self.cache, self.n = cache, n

    def __del__(self) -> None:
        self.cache[("from_del", self.n)] = self.n


def test_a_finaliser_that_puts_during_eviction(cache_cls: type[Any]) -> None:
    cache = bounded(cache_cls, max_size=5)
    for i in range(50):
        cache[i] = Resurrector(cache, i)
    assert len(cache) == 5
    cache.clear()
    assert len(cache) <= 5


def test_quiet_and_listened_stores_evict_alike(cache_cls: type[Any]) -> None:
    """A store that evicts with no listener takes a short path; it frees what the listened one frees."""
    quiet = bounded(cache_cls, max_size=40)
    loud = bounded(cache_cls, max_size=40)
    heard = listened(loud)
    rng = random.Random(15)
    for i in range(3000):
        key = f"k{rng.randrange(150)}"
        if rng.random() < 0.4:
            assert quiet.get(key) == loud.get(key)
        else:
            ttl = 0 if rng.random() < 0.8 else 3600
            quiet.put(key, i, ttl)
            loud.put(key, i, ttl)
        assert list(quiet.items()) == list(loud.items())
    evicted = [cause for _, _, cause in heard if cause == "evicted"]
    assert len(evicted) > 1000
    assert quiet.stats().evicted == loud.stats().evicted == len(evicted)


# -- stats, copies, snapshots -------------------------------------------------------------


def test_stats_count_evictions_and_weight() -> None:
    cache = Cache(max_weight=10, weigher=lambda k, v: v)
    for i in range(10):
        cache[i] = 2
    stats = cache.stats()
    assert (stats.evicted, stats.size, stats.weight, stats.puts) == (5, 5, 10, 10)


def test_copies_and_pickles_keep_the_bounds_not_the_listener() -> None:
    cache = Cache(max_size=3, on_evict=print)
    for i in range(5):
        cache[i] = i
    for other in (cache.copy(), copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
        assert other.max_size == 3 and other.on_evict is None
        assert list(other.items()) == list(cache.items())
        for i in range(10, 20):
            other[i] = i
        assert len(other) == 3


def test_a_snapshot_bigger_than_the_bound_loads_within_it(tmp_path: Any) -> None:
    big = Cache()
    for i in range(1000):
        big[i] = i
    big.save(tmp_path / "big.godistcache")
    cache = Cache(max_size=100)
    heard = listened(cache)
    cache.load(tmp_path / "big.godistcache")
    assert len(cache) == 100
    assert all(cache[k] == k for k in cache.keys())
    assert heard == []  # a load replaces the entries wholesale: nothing is heard
    cache.load(tmp_path / "big.godistcache", merge=True)
    assert len(cache) == 100
    assert {c for _, _, c in heard} <= {"replaced", "evicted"} and heard
