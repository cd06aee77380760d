"""The mapping API of Cache, on both cores (no expiry involved: see test_expiry.py)."""

from __future__ import annotations

import datetime
import itertools
import weakref
from collections.abc import ItemsView, KeysView, Mapping, MutableMapping, ValuesView
from typing import Any

import pytest

MISSING = object()


class Val:
    """A value with identity and a repr that must never leak into the cache's repr."""

    __slots__ = ("name", "__weakref__")

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Val({self.name!r})"


class CollidingKey:
    """Keys that all share one hash and compare by name in Python code."""

    __slots__ = ("name",)

    def __init__(self, name: object) -> None:
        self.name = name

    def __hash__(self) -> int:
        return 12345

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CollidingKey) and (self.name == other.name or "*" in (self.name, other.name))

    def __repr__(self) -> str:
        return f"CollidingKey({self.name!r})"


class TestPutGet:
    def test_put_then_read_every_way(self, cache: Any) -> None:
        v = Val("v")
        assert cache.put("k", v) is None
        assert cache.get("k") is v
        assert cache["k"] is v
        assert "k" in cache
        assert cache.exists("k") is True
        assert len(cache) == cache.count() == 1

    def test_missing_key(self, cache: Any) -> None:
        cache.put("present", 1)
        assert cache.get("k") is None
        assert cache.get("k", MISSING) is MISSING
        assert cache.get("k", default=MISSING) is MISSING
        assert "k" not in cache
        assert cache.exists("k") is False
        with pytest.raises(KeyError) as exc:
            cache["k"]
        assert exc.value.args == ("k",)

    def test_none_is_a_value_like_any_other(self, cache: Any) -> None:
        cache.put(None, None)
        assert cache.get(None, MISSING) is None
        assert None in cache
        assert cache[None] is None
        assert list(cache.items()) == [(None, None)]

    def test_setitem(self, cache: Any) -> None:
        v = Val("v")
        cache["k"] = v
        assert cache.get("k") is v
        assert cache.ttl("k") is None

    def test_put_safe_returns_true_and_stores(self, cache: Any) -> None:
        v = Val("v")
        assert cache.put_safe("k", v) is True
        assert cache.get("k") is v
        w = Val("w")
        assert cache.put_safe("k", w, ttl=10) is True
        assert cache.get("k") is w
        assert len(cache) == 1

    def test_keyword_arguments(self, cache: Any) -> None:
        cache.put(key="k", value=1, ttl=0)
        assert cache.put_safe(key="j", value=2, ttl=None) is True
        assert cache.get(key="k", default=3) == 1
        assert dict(cache.items()) == {"k": 1, "j": 2}

    def test_overwrite_keeps_position_and_original_key_object(self, cache: Any) -> None:
        cache.put(1, "a")
        cache.put("x", "x")
        cache.put(1.0, "b")
        assert list(cache.items()) == [(1, "b"), ("x", "x")]
        assert type(list(cache)[0]) is int
        cache.put(True, "c")
        key = list(cache)[0]
        assert type(key) is int and key == 1
        assert cache[1.0] == cache[True] == cache[1] == "c"
        assert len(cache) == 2

    def test_equal_but_distinct_keys(self, cache: Any) -> None:
        cache.put("a", 1)
        cache.put(b"a", 2)
        cache.put((1, 2), 3)
        cache.put(0, 4)
        cache.put(False, 5)  # same key as 0
        cache.put(0.0, 6)  # same key again
        assert list(cache.items()) == [("a", 1), (b"a", 2), ((1, 2), 3), (0, 6)]
        assert type(list(cache)[3]) is int
        assert cache[(1, 2)] == 3

    def test_nan_key_found_by_identity_only(self, cache: Any) -> None:
        nan = float("nan")
        cache.put(nan, 1)
        assert cache.get(nan) == 1
        assert cache.get(float("nan")) is None
        assert cache.delete(nan) is True
        assert len(cache) == 0

    def test_hash_minus_one(self, cache: Any) -> None:
        # hash(-1) == hash(-2) == -2 in CPython: they must still be two keys.
        cache.put(-1, "m1")
        cache.put(-2, "m2")
        assert (cache[-1], cache[-2]) == ("m1", "m2")
        assert list(cache) == [-1, -2]

    def test_count_is_len(self, cache: Any) -> None:
        for i in range(7):
            cache.put(i, i)
            assert cache.count() == len(cache) == i + 1


class TestDelete:
    def test_delete(self, cache: Any) -> None:
        cache.put("k", 1)
        assert cache.delete("k") is True
        assert cache.delete("k") is False
        assert "k" not in cache
        assert len(cache) == 0

    def test_delitem(self, cache: Any) -> None:
        cache["k"] = 1
        del cache["k"]
        with pytest.raises(KeyError) as exc:
            del cache["k"]
        assert exc.value.args == ("k",)
        assert len(cache) == 0

    def test_delete_safe(self, cache: Any) -> None:
        cache.put("k", 1)
        cache.put("j", 2)
        assert cache.delete_safe("k") is True
        assert cache.delete_safe("k") is False
        assert cache.delete_safe("never") is False
        assert list(cache) == ["j"]

    def test_delete_safe_false_when_an_equal_key_remains(self, cache: Any) -> None:
        # "*" equals every CollidingKey: deleting it removes one entry, but
        # the read-back still finds another, so the key is not gone.
        a, b = CollidingKey("a"), CollidingKey("b")
        cache.put(a, 1)
        cache.put(b, 2)
        assert len(cache) == 2
        assert cache.delete_safe(CollidingKey("*")) is False
        assert len(cache) == 1
        assert cache.delete_safe(CollidingKey("*")) is True
        assert len(cache) == 0

    def test_delete_with_equal_key_of_other_type(self, cache: Any) -> None:
        cache.put(1, "a")
        assert cache.delete(1.0) is True
        cache.put(1.0, "b")
        assert cache.delete_safe(True) is True
        assert len(cache) == 0

    def test_clear(self, cache: Any) -> None:
        for i in range(100):
            cache.put(i, i)
        assert cache.clear() is None
        assert len(cache) == 0
        assert list(cache) == []
        assert cache.get(5) is None
        cache.put(5, "again")
        assert list(cache.items()) == [(5, "again")]
        cache.clear()
        cache.clear()
        assert len(cache) == 0

    def test_order_survives_deletes_and_growth(self, cache: Any) -> None:
        keys = list(range(1000))
        for k in keys:
            cache.put(k, str(k))
        for k in keys[::3]:
            del cache[k]
        for k in range(1000, 1500):  # enough inserts to force compaction/resize
            cache.put(k, str(k))
        expected = [k for k in keys if k % 3] + list(range(1000, 1500))
        assert list(cache) == expected
        assert list(cache.values()) == [str(k) for k in expected]
        assert len(cache) == len(expected)

    def test_churn_one_key(self, cache: Any) -> None:
        # Put/delete of one key many times must not grow or lose anything.
        cache.put("keep", 0)
        for i in range(10_000):
            cache.put(i, i)
            assert cache.delete(i) is True
        assert list(cache.items()) == [("keep", 0)]


class TestMappingProtocol:
    def test_is_a_mutable_mapping(self, cache: Any) -> None:
        assert isinstance(cache, MutableMapping)
        assert isinstance(cache, Mapping)

    def test_views(self, cache: Any) -> None:
        cache.update([("a", 1), ("b", 2), ("c", 3)])
        keys, values, items = cache.keys(), cache.values(), cache.items()
        assert isinstance(keys, KeysView)
        assert isinstance(values, ValuesView)
        assert isinstance(items, ItemsView)
        assert list(keys) == ["a", "b", "c"]
        assert list(values) == [1, 2, 3]
        assert list(items) == [("a", 1), ("b", 2), ("c", 3)]
        assert len(keys) == len(values) == len(items) == 3
        assert "b" in keys and "z" not in keys
        assert 2 in values and 9 not in values
        assert ("b", 2) in items
        assert ("b", 3) not in items
        assert ("z", 2) not in items
        assert "b" not in items and ("b",) not in items and ("b", 2, 3) not in items
        assert keys == {"a", "b", "c"}
        assert keys & {"a", "z"} == {"a"}
        assert items == {("a", 1), ("b", 2), ("c", 3)}

    def test_views_are_live(self, cache: Any) -> None:
        keys = cache.keys()
        assert list(keys) == []
        cache["a"] = 1
        assert list(keys) == ["a"]
        assert len(keys) == 1

    def test_items_contains_compares_values_by_identity_then_equality(self, cache: Any) -> None:
        class NeverEqual:
            def __eq__(self, other: object) -> bool:
                return False

            __hash__ = None

        v = NeverEqual()
        cache["k"] = v
        assert ("k", v) in cache.items()
        assert ("k", NeverEqual()) not in cache.items()
        cache["n"] = 1
        assert ("n", 1.0) in cache.items()

    def test_iter_and_dict(self, cache: Any) -> None:
        cache.update({"a": 1, "b": 2})
        assert list(iter(cache)) == ["a", "b"]
        assert dict(cache) == {"a": 1, "b": 2}
        assert cache == {"a": 1, "b": 2}
        assert cache != {"a": 1}
        assert sorted(cache) == ["a", "b"]

    def test_pop(self, cache: Any) -> None:
        v = Val("v")
        cache["a"] = v
        cache["b"] = 2
        assert cache.pop("a") is v
        assert "a" not in cache
        assert cache.pop("a", MISSING) is MISSING
        with pytest.raises(KeyError):
            cache.pop("a")
        assert list(cache) == ["b"]

    def test_popitem_is_fifo_and_raises_when_empty(self, cache: Any) -> None:
        cache.update([("a", 1), ("b", 2)])
        assert cache.popitem() == ("a", 1)
        assert cache.popitem() == ("b", 2)
        with pytest.raises(KeyError):
            cache.popitem()

    def test_setdefault(self, cache: Any) -> None:
        v = Val("v")
        assert cache.setdefault("a", v) is v
        assert cache.setdefault("a", Val("w")) is v
        assert cache.setdefault("n") is None
        assert None is cache["n"]
        assert list(cache) == ["a", "n"]

    def test_update(self, cache: Any) -> None:
        cache.update({"a": 1})
        cache.update([("b", 2), ("a", 3)])
        cache.update(c=4)
        cache.update({"d": 5}, e=6)
        assert list(cache.items()) == [("a", 3), ("b", 2), ("c", 4), ("d", 5), ("e", 6)]

    def test_update_from_another_cache(self, cache_cls: Any) -> None:
        src = cache_cls()
        src.update({"a": 1, "b": 2})
        dst = cache_cls()
        dst.update(src)
        assert list(dst.items()) == [("a", 1), ("b", 2)]

    def test_not_hashable_like_dict(self, cache: Any) -> None:
        with pytest.raises(TypeError):
            hash(cache)


class TestReprAndObject:
    def test_repr_shows_count_not_contents(self, cache_cls: Any) -> None:
        cache = cache_cls(default_ttl=60)
        cache.put("secret-key", Val("secret-value"))
        cache.put("other", Val("hunter2"))
        text = repr(cache)
        assert text == f"<{type(cache).__name__} entries=2 default_ttl=60.0>"
        for secret in ("secret", "hunter2", "Val(", "other"):
            assert secret not in text
        assert str(cache) == text

    def test_repr_empty(self, cache: Any) -> None:
        assert repr(cache) == f"<{type(cache).__name__} entries=0 default_ttl=0.0>"

    def test_weakref(self, cache_cls: Any) -> None:
        cache = cache_cls()
        ref = weakref.ref(cache)
        assert ref() is cache
        del cache
        assert ref() is None

    def test_no_instance_dict(self, cache: Any) -> None:
        assert not hasattr(cache, "__dict__")
        with pytest.raises(AttributeError):
            cache.anything = 1

    def test_constructor(self, cache_cls: Any) -> None:
        assert cache_cls().default_ttl == 0.0
        assert cache_cls(5).default_ttl == 5.0
        assert cache_cls(default_ttl=2.5).default_ttl == 2.5
        assert cache_cls(default_ttl=None).default_ttl == 0.0
        with pytest.raises(TypeError):
            cache_cls(1, 2)

    def test_sizeof(self, cache: Any) -> None:
        import sys

        empty = sys.getsizeof(cache)
        assert empty > 0
        for i in range(1000):
            cache.put(i, i)
        assert sys.getsizeof(cache) > empty


class TestDefaultTTL:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            (0, 0.0),
            (None, 0.0),
            (float("inf"), 0.0),
            (5, 5.0),
            (2.5, 2.5),
            (datetime.timedelta(minutes=2), 120.0),
            (datetime.timedelta(milliseconds=1500), 1.5),
        ],
    )
    def test_property_round_trip(self, cache_cls: Any, value: Any, seconds: float) -> None:
        cache = cache_cls(default_ttl=value)
        assert cache.default_ttl == seconds
        assert type(cache.default_ttl) is float
        other = cache_cls()
        other.default_ttl = value
        assert other.default_ttl == seconds
        assert type(other.default_ttl) is float

    @pytest.mark.parametrize(
        ("value", "exc"), [(-1, ValueError), (float("nan"), ValueError), ("1", TypeError), (True, TypeError)]
    )
    def test_invalid_value_leaves_it_unchanged(self, cache_cls: Any, value: Any, exc: type) -> None:
        with pytest.raises(exc):
            cache_cls(default_ttl=value)
        cache = cache_cls(default_ttl=7)
        with pytest.raises(exc):
            cache.default_ttl = value
        assert cache.default_ttl == 7.0


class TestUnhashableKeys:
    OPERATIONS = {
        "put": lambda c, k: c.put(k, 1),
        "put_safe": lambda c, k: c.put_safe(k, 1),
        "put_ttl": lambda c, k: c.put(k, 1, ttl=5),
        "get": lambda c, k: c.get(k),
        "get_default": lambda c, k: c.get(k, 0),
        "getitem": lambda c, k: c[k],
        "setitem": lambda c, k: c.__setitem__(k, 1),
        "delitem": lambda c, k: c.__delitem__(k),
        "contains": lambda c, k: k in c,
        "exists": lambda c, k: c.exists(k),
        "delete": lambda c, k: c.delete(k),
        "delete_safe": lambda c, k: c.delete_safe(k),
        "ttl": lambda c, k: c.ttl(k),
        "pop": lambda c, k: c.pop(k, None),
        "setdefault": lambda c, k: c.setdefault(k, 1),
        "keys_contains": lambda c, k: k in c.keys(),
        "items_contains": lambda c, k: (k, 1) in c.items(),
        "update": lambda c, k: c.update([(k, 1)]),
    }

    @pytest.mark.parametrize("op", sorted(OPERATIONS))
    @pytest.mark.parametrize("key", [[1], {"a": 1}, {1}, bytearray(b"x"), ([],)], ids=repr)
    def test_type_error(self, cache: Any, op: str, key: Any) -> None:
        cache.put("a", 1)
        cache.put(("t",), 2)
        with pytest.raises(TypeError):
            self.OPERATIONS[op](cache, key)
        assert list(cache.items()) == [("a", 1), (("t",), 2)]


class TestManyKeys:
    def test_2000_ints_sharing_one_hash(self, cache: Any) -> None:
        # hash(i * (2**61 - 1)) == 0 for every i: one long probe chain, compared in C.
        keys = [i * (2**61 - 1) for i in range(2000)]
        assert {hash(k) for k in keys} == {0}
        for k in keys:
            cache.put(k, k + 1)
        assert len(cache) == 2000
        assert all(cache.get(k) == k + 1 for k in keys)
        assert list(cache) == keys
        for k in keys[::2]:
            assert cache.delete(k) is True
        assert len(cache) == 1000
        assert all(cache.get(k) is None for k in keys[::2])
        assert all(cache[k] == k + 1 for k in keys[1::2])
        for k in keys[::2]:
            cache.put(k, -k)
        assert list(cache) == keys[1::2] + keys[::2]
        for k in keys:
            del cache[k]
        assert len(cache) == 0
        assert list(cache) == []

    def test_python_keys_sharing_one_hash(self, cache: Any) -> None:
        keys = [CollidingKey(i) for i in range(300)]
        for k in keys:
            cache.put(k, k.name)
        assert len(cache) == 300
        assert all(cache[CollidingKey(i)] == i for i in range(300))
        for i in range(0, 300, 2):
            assert cache.delete(CollidingKey(i)) is True
        assert [k.name for k in cache] == list(range(1, 300, 2))
        assert cache.get(CollidingKey(0)) is None

    @pytest.mark.parametrize("stride", [2**20, 2**32, 2**40, 2**61 - 2, -(2**20)], ids=hex)
    def test_strided_ints(self, cache: Any, stride: int) -> None:
        keys = [i * stride for i in range(5000)]
        for k in keys:
            cache.put(k, k)
        assert len(cache) == 5000
        assert all(cache.get(k) == k for k in keys)
        assert all(cache.get(k + 1) is None for k in keys[1:])
        for k in keys[1::2]:
            assert cache.delete(k) is True
        assert list(cache) == keys[::2]
        assert all(cache[k] == k for k in keys[::2])
        assert all(k not in cache for k in keys[1::2])

    def test_many_strings(self, cache: Any) -> None:
        keys = [f"key:{i}" for i in range(20_000)]
        for i, k in enumerate(keys):
            cache[k] = i
        assert len(cache) == 20_000
        assert all(cache[k] == i for i, k in enumerate(keys))
        # equal strings that are different objects
        assert all(cache["".join(["key:", str(i)])] == i for i in range(0, 20_000, 97))
        assert list(itertools.islice(cache, 3)) == keys[:3]
