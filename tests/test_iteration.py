"""Iterators and views: order, the change guard, and expiry during iteration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

CHANGED = "cache changed during iteration"

#: Every way to iterate a cache, with what one step yields for key k and value v.
ITERATORS: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any], Any]]] = {
    "iter": (lambda c: iter(c), lambda k, v: k),
    "keys": (lambda c: iter(c.keys()), lambda k, v: k),
    "values": (lambda c: iter(c.values()), lambda k, v: v),
    "items": (lambda c: iter(c.items()), lambda k, v: (k, v)),
}

#: Structural changes: each must make the next step of a running iterator raise.
STRUCTURAL: dict[str, Callable[[Any], Any]] = {
    "put_new": lambda c: c.put("new", 0),
    "put_new_ttl": lambda c: c.put("new", 0, ttl=5),
    "put_safe_new": lambda c: c.put_safe("new", 0),
    "setitem_new": lambda c: c.__setitem__("new", 0),
    "setdefault_new": lambda c: c.setdefault("new", 0),
    "update_new": lambda c: c.update(new=0),
    "delete": lambda c: c.delete("c"),
    "delete_safe": lambda c: c.delete_safe("c"),
    "delitem": lambda c: c.__delitem__("c"),
    "pop": lambda c: c.pop("c"),
    "popitem": lambda c: c.popitem(),
    "clear": lambda c: c.clear(),
    "put_new_then_delete_it": lambda c: (c.put("new", 0), c.delete("new")),
    "many_puts": lambda c: [c.put(i, i) for i in range(100)],
}


def _fill(cache: Any) -> None:
    for k in "abcd":
        cache.put(k, k.upper())


@pytest.mark.parametrize("kind", sorted(ITERATORS))
def test_order_and_contents(cache: Any, kind: str) -> None:
    _fill(cache)
    make, expect = ITERATORS[kind]
    assert list(make(cache)) == [expect(k, k.upper()) for k in "abcd"]


@pytest.mark.parametrize("kind", sorted(ITERATORS))
def test_iterator_protocol(cache: Any, kind: str) -> None:
    _fill(cache)
    make, _ = ITERATORS[kind]
    it = make(cache)
    assert iter(it) is it
    assert len(list(it)) == 4
    with pytest.raises(StopIteration):
        next(it)
    cache.put("later", 1)  # an exhausted iterator stays exhausted
    with pytest.raises(StopIteration):
        next(it)


def test_empty(cache: Any) -> None:
    assert list(cache) == list(cache.keys()) == list(cache.values()) == list(cache.items()) == []


@pytest.mark.parametrize("change", sorted(STRUCTURAL))
@pytest.mark.parametrize("kind", sorted(ITERATORS))
def test_structural_change_raises_on_next_step(cache: Any, kind: str, change: str) -> None:
    _fill(cache)
    make, expect = ITERATORS[kind]
    it = make(cache)
    assert next(it) == expect("a", "A")
    STRUCTURAL[change](cache)
    with pytest.raises(RuntimeError, match=f"^{CHANGED}$"):
        next(it)


@pytest.mark.parametrize("change", sorted(STRUCTURAL))
def test_structural_change_after_last_item_raises(cache: Any, change: str) -> None:
    _fill(cache)
    it = iter(cache.items())
    assert [next(it) for _ in range(4)] == [(k, k.upper()) for k in "abcd"]
    STRUCTURAL[change](cache)
    with pytest.raises(RuntimeError, match=CHANGED):
        next(it)


@pytest.mark.parametrize("change", sorted(STRUCTURAL))
def test_structural_change_before_first_step_raises(cache: Any, change: str) -> None:
    _fill(cache)
    it = iter(cache)
    STRUCTURAL[change](cache)
    with pytest.raises(RuntimeError, match=CHANGED):
        next(it)


def test_change_on_empty_cache_raises(cache: Any) -> None:
    it = iter(cache)
    cache.put("a", 1)
    with pytest.raises(RuntimeError, match=CHANGED):
        next(it)
    it = iter(cache.items())
    cache.clear()
    with pytest.raises(RuntimeError, match=CHANGED):
        next(it)


def test_for_loop_adding_keys_raises(cache: Any) -> None:
    _fill(cache)
    with pytest.raises(RuntimeError, match=CHANGED):
        for k in cache:
            cache.put(k * 2, 0)


def test_overwrite_during_iteration_is_allowed_and_seen(cache: Any) -> None:
    _fill(cache)
    it = iter(cache.items())
    assert next(it) == ("a", "A")
    cache["b"] = "B2"
    cache.put("a", "A2", ttl=5)
    cache.put("c", "C2", ttl=0)
    assert list(it) == [("b", "B2"), ("c", "C2"), ("d", "D")]
    assert list(cache.items()) == [("a", "A2"), ("b", "B2"), ("c", "C2"), ("d", "D")]


def test_overwrite_every_value_in_a_for_loop(cache: Any) -> None:
    _fill(cache)
    for k in cache:
        cache[k] = k * 2
    assert list(cache.items()) == [(k, k * 2) for k in "abcd"]


def test_values_iterator_sees_overwrite(cache: Any) -> None:
    _fill(cache)
    it = iter(cache.values())
    assert next(it) == "A"
    cache["d"] = "D2"
    assert list(it) == ["B", "C", "D2"]


@pytest.mark.parametrize("kind", sorted(ITERATORS))
def test_entries_expiring_during_iteration_are_skipped(cache: Any, clock: Any, kind: str) -> None:
    cache.put("a", "A")
    cache.put("b", "B", ttl=1)
    cache.put("c", "C", ttl=3)
    cache.put("d", "D", ttl=1)
    cache.put("e", "E")
    make, expect = ITERATORS[kind]
    it = make(cache)
    assert next(it) == expect("a", "A")
    clock.advance(1)
    assert next(it) == expect("c", "C")
    clock.advance(2)
    assert list(it) == [expect("e", "E")]


def test_iteration_skips_expired_without_freeing(cache: Any, clock: Any) -> None:
    cache.put("a", 1, ttl=1)
    cache.put("b", 2)
    clock.advance(1)
    # (list(cache) would call len(cache), which frees expired entries)
    assert [k for k in cache] == ["b"]
    assert [kv for kv in cache.items()] == [("b", 2)]
    assert [v for v in cache.values()] == [2]
    assert cache.expire() == 1  # iterating did not free it


#: Operations on an expired key that free it but change nothing anyone can see.
FREEING_READS: dict[str, Callable[[Any], Any]] = {
    "get": lambda c: c.get("b"),
    "contains": lambda c: "b" in c,
    "exists": lambda c: c.exists("b"),
    "getitem": lambda c: pytest.raises(KeyError, c.__getitem__, "b"),
    "ttl": lambda c: pytest.raises(KeyError, c.ttl, "b"),
    "delete": lambda c: c.delete("b"),
    "delete_safe": lambda c: c.delete_safe("b"),
    "delitem": lambda c: pytest.raises(KeyError, c.__delitem__, "b"),
    "pop_default": lambda c: c.pop("b", None),
    "expire": lambda c: c.expire(),
    "len": lambda c: len(c),
    "count": lambda c: c.count(),
    "repr": lambda c: repr(c),
    "delete_absent": lambda c: c.delete("never-there"),
}


@pytest.mark.parametrize("read", sorted(FREEING_READS))
def test_freeing_an_expired_key_during_iteration_does_not_raise(cache: Any, clock: Any, read: str) -> None:
    cache.put("a", "A")
    cache.put("b", "B", ttl=1)
    cache.put("c", "C", ttl=1)
    cache.put("d", "D")
    it = iter(cache.items())
    assert next(it) == ("a", "A")
    clock.advance(1)
    FREEING_READS[read](cache)
    assert list(it) == [("d", "D")]
    # the read freed "b" (or both, or neither): expire() frees what is left
    left = {"expire": 0, "len": 0, "count": 0, "repr": 0, "delete_absent": 2}.get(read, 1)
    assert cache.expire() == left
    assert list(cache) == ["a", "d"]
    assert len(cache) == 2


def test_resurrecting_an_expired_key_during_iteration_raises(cache: Any, clock: Any) -> None:
    # Putting an expired key inserts it anew at the end: a structural change.
    cache.put("a", "A")
    cache.put("b", "B", ttl=1)
    cache.put("c", "C")
    it = iter(cache)
    assert next(it) == "a"
    clock.advance(1)
    cache.put("b", "B2")
    with pytest.raises(RuntimeError, match=CHANGED):
        next(it)
    assert list(cache) == ["a", "c", "b"]


def test_two_iterators_are_independent(cache: Any) -> None:
    _fill(cache)
    it1, it2 = iter(cache), iter(cache)
    assert next(it1) == "a"
    assert list(it2) == list("abcd")
    assert list(it1) == list("bcd")


def test_iterator_does_not_outlive_its_guard_after_clear_and_refill(cache: Any) -> None:
    # clear() then the same number of puts must still be detected.
    _fill(cache)
    it = iter(cache)
    next(it)
    cache.clear()
    _fill(cache)
    with pytest.raises(RuntimeError, match=CHANGED):
        next(it)


def test_views_reflect_expiry(cache: Any, clock: Any) -> None:
    cache.put("a", 1, ttl=1)
    cache.put("b", 2)
    keys, items, values = cache.keys(), cache.items(), cache.values()
    assert len(keys) == 2
    clock.advance(1)
    assert len(keys) == len(items) == len(values) == 1
    assert list(keys) == ["b"]
    assert "a" not in keys
    assert ("a", 1) not in items
    assert 1 not in values


@pytest.mark.parametrize("kind", [-1, 99])
def test_iter_kind_must_be_valid(cache: Any, kind: int) -> None:
    with pytest.raises(ValueError, match=f"got {kind}$"):
        cache._iter(kind)
