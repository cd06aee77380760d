"""References: nothing leaks, nothing is freed early, and cycles through a cache are collected."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable
from typing import Any

import pytest


class Obj:
    """A fresh object (so its refcount is ours alone), usable as key or value."""

    __slots__ = ("name", "__weakref__", "ref")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ref: Any = None

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Obj) and other.name == self.name


def _refs(*objs: object) -> list[int]:
    return [sys.getrefcount(o) for o in objs]


def _key_holds(cache: Any) -> int:
    """References a stored key gets: the pure-Python twin's entry holds its key too (for on_evict)."""
    return 2 if any(c.__module__ == "godistcache._core._table_py" for c in type(cache).__mro__) else 1


#: Ways to remove a live entry (key "k" is the Obj("k") key).
REMOVALS: dict[str, Callable[[Any, Any], Any]] = {
    "delete": lambda c, k: c.delete(k),
    "delete_equal_key": lambda c, k: c.delete(Obj("k")),
    "delete_safe": lambda c, k: c.delete_safe(k),
    "delitem": lambda c, k: c.__delitem__(k),
    "pop": lambda c, k: c.pop(k),
    "popitem": lambda c, k: c.popitem(),
    "clear": lambda c, k: c.clear(),
}


@pytest.mark.parametrize("how", sorted(REMOVALS))
def test_removal_releases_key_and_value(cache: Any, how: str) -> None:
    key, value = Obj("k"), Obj("v")
    base = _refs(key, value)
    cache.put(key, value)
    assert _refs(key, value) == [base[0] + _key_holds(cache), base[1] + 1]
    REMOVALS[how](cache, key)
    assert _refs(key, value) == base
    assert len(cache) == 0


def test_overwrite_releases_old_value_and_new_key(cache: Any) -> None:
    key, key2, old, new = Obj("k"), Obj("k"), Obj("old"), Obj("new")
    base = _refs(key, key2, old, new)
    cache.put(key, old)
    cache.put(key2, new)  # equal key: the original key object stays
    assert _refs(key, key2, old, new) == [base[0] + _key_holds(cache), base[1], base[2], base[3] + 1]
    cache[key2] = new  # same value again
    assert _refs(key, key2, old, new) == [base[0] + _key_holds(cache), base[1], base[2], base[3] + 1]
    cache.clear()
    assert _refs(key, key2, old, new) == base


#: Ways the expired entry under key "k" gets freed.
EXPIRY_FREES: dict[str, Callable[[Any, Any], Any]] = {
    "get": lambda c, k: c.get(k),
    "contains": lambda c, k: k in c,
    "exists": lambda c, k: c.exists(k),
    "getitem": lambda c, k: pytest.raises(KeyError, c.__getitem__, k),
    "ttl": lambda c, k: pytest.raises(KeyError, c.ttl, k),
    "delete": lambda c, k: c.delete(k),
    "delete_safe": lambda c, k: c.delete_safe(k),
    "expire": lambda c, k: c.expire(),
    "len": lambda c, k: len(c),
    "put_safe_other": lambda c, k: c.put_safe(Obj("other"), 1),  # does not free k...
}


@pytest.mark.parametrize("how", sorted(EXPIRY_FREES))
def test_expiry_releases_key_and_value(cache: Any, clock: Any, how: str) -> None:
    key, value = Obj("k"), Obj("v")
    base = _refs(key, value)
    cache.put(key, value, ttl=1)
    clock.advance(1)
    EXPIRY_FREES[how](cache, key)
    if how == "put_safe_other":  # ...so something else has to
        assert _refs(key, value) == [base[0] + _key_holds(cache), base[1] + 1]
        cache.expire()
    assert _refs(key, value) == base


def test_resurrecting_put_releases_old_key_and_value(cache: Any, clock: Any) -> None:
    key, value, key2, value2 = Obj("k"), Obj("v"), Obj("k"), Obj("v2")
    base = _refs(key, value, key2, value2)
    cache.put(key, value, ttl=1)
    clock.advance(1)
    cache.put(key2, value2)
    assert _refs(key, value, key2, value2) == [base[0], base[1], base[2] + _key_holds(cache), base[3] + 1]
    assert next(iter(cache)) is key2
    del cache[key]
    assert _refs(key, value, key2, value2) == base


def test_reads_and_iteration_do_not_leak(cache: Any, clock: Any) -> None:
    key, value, other = Obj("k"), Obj("v"), Obj("o")
    cache.put(key, value, ttl=5)
    cache.put(other, other)
    base = _refs(key, value, other)
    for _ in range(100):
        cache.get(key)
        cache[key]
        key in cache  # noqa: B015 - the lookup is what is measured
        cache.exists(key)
        cache.ttl(key)
        cache.get(Obj("absent"), value)
        list(cache)
        list(cache.values())
        list(cache.items())
        (key, value) in cache.items()  # noqa: B015 - likewise
        cache.put_safe(key, value, ttl=5)
        cache.put(key, value, ttl=5)
        it = iter(cache)
        next(it)
        del it
        repr(cache)
    assert _refs(key, value, other) == base


def test_failed_operations_do_not_leak(cache: Any) -> None:
    key, value = Obj("k"), Obj("v")
    base = _refs(key, value)
    for _ in range(50):
        with pytest.raises(ValueError):
            cache.put(key, value, ttl=-1)
        with pytest.raises(TypeError):
            cache.put(key, value, ttl="1")
        with pytest.raises(TypeError):
            cache.put([key], value)
        with pytest.raises(TypeError):
            cache.put_safe(key, value, ttl=True)
        with pytest.raises(KeyError):
            cache[key]
        with pytest.raises(KeyError):
            del cache[key]
    assert _refs(key, value) == base
    assert len(cache) == 0


def test_deleting_the_cache_releases_everything(cache_cls: Any) -> None:
    keys = [Obj(f"k{i}") for i in range(100)]
    values = [Obj(f"v{i}") for i in range(100)]
    base = _refs(*keys, *values)
    cache = cache_cls()
    for k, v in zip(keys, values):
        cache.put(k, v, ttl=100 if k.name.endswith("7") else 0)
    for k in keys[::3]:
        cache.delete(k)
    del cache, k, v  # (the loop variables hold references too)
    assert _refs(*keys, *values) == base


def test_growth_keeps_references_right(cache: Any) -> None:
    keys = [Obj(f"k{i}") for i in range(3000)]
    value = Obj("shared")
    base = _refs(value)[0]
    key_base = _refs(*keys)
    for k in keys:
        cache.put(k, value)
    assert _refs(value)[0] == base + 3000
    for k in keys[:1500]:
        del cache[k]
    for k in keys[:1500]:  # re-insert after compaction
        cache.put(k, value)
    assert _refs(value)[0] == base + 3000
    cache.clear()
    del k
    assert _refs(value)[0] == base
    assert _refs(*keys) == key_base


# -- garbage collection ---------------------------------------------------------------


def _collected(make: Callable[[], object]) -> bool:
    ref = weakref.ref(make())
    gc.collect()
    return ref() is None


def test_cache_containing_itself_is_collected(cache_cls: Any) -> None:
    def make() -> Any:
        cache = cache_cls()
        cache.put("self", cache)
        return cache

    assert _collected(make)


def test_cycle_through_a_key_is_collected(cache_cls: Any) -> None:
    def make() -> Any:
        cache = cache_cls()
        key = Obj("k")
        key.ref = cache
        cache.put(key, 1)
        return cache

    assert _collected(make)


def test_cycle_through_a_value_is_collected(cache_cls: Any) -> None:
    def make() -> Any:
        cache = cache_cls()
        value = Obj("v")
        value.ref = cache
        cache.put("v", value, ttl=100)
        return cache

    assert _collected(make)


def test_cycle_through_two_caches_is_collected(cache_classes: dict[str, Any]) -> None:
    classes = list(cache_classes.values())

    def make() -> Any:
        a, b = classes[0](), classes[-1]()
        a.put("b", b)
        b.put("a", a)
        return a

    assert _collected(make)


def test_cycle_through_an_iterator_and_a_view_is_collected(cache_cls: Any) -> None:
    def make() -> Any:
        cache = cache_cls()
        cache.put("x", 1)
        it = iter(cache.items())
        cache.put("it", it)  # the iterator is now stale, but still refers to the cache
        cache.put("view", cache.keys())
        return cache

    assert _collected(make)


def test_collecting_a_cycle_releases_the_other_entries(cache_cls: Any) -> None:
    key, value = Obj("k"), Obj("v")
    base = _refs(key, value)

    def make() -> Any:
        cache = cache_cls()
        cache.put("self", cache)
        cache.put(key, value)
        return cache

    assert _collected(make)
    assert _refs(key, value) == base


def test_live_cache_is_not_collected(cache_cls: Any) -> None:
    cache = cache_cls()
    value = Obj("v")
    value.ref = cache
    cache.put("v", value)
    ref = weakref.ref(cache)
    del value
    gc.collect()
    assert ref() is cache
    assert cache["v"].ref is cache
    cache.clear()  # break the cycle: it is freed by refcounting alone
    del cache
    assert ref() is None


def test_values_survive_gc_of_unrelated_garbage(cache: Any) -> None:
    value = Obj("v")
    wr = weakref.ref(value)
    cache.put("v", value)
    del value
    for _ in range(3):
        for _ in range(100):
            junk = Obj("junk")
            junk.ref = junk
        del junk
        gc.collect()
    assert wr() is cache["v"]
