"""copy(), copy.copy/deepcopy and pickling: same entries, order, key objects and absolute expiry."""

from __future__ import annotations

import copy
import datetime
import pickle
from typing import Any

import pytest

import godistcache

from .conftest import golden_script

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def _fill(cache: Any) -> None:
    cache.put(1, "int-one")
    cache.put(1.5, ["list"], ttl=5)
    cache.put("s", {"d": 1}, ttl=datetime.timedelta(seconds=2))
    cache.put(b"b", None)
    cache.put((1, 2), 3, ttl=10)


def _entries(cache: Any) -> list[tuple[Any, Any, type, float | None]]:
    return [(k, v, type(k), cache.ttl(k)) for k, v in cache.items()]


class TestCopy:
    @pytest.mark.parametrize("how", ["method", "copy.copy"])
    def test_shallow_copy(self, cache_cls: Any, clock: Any, how: str) -> None:
        cache = cache_cls(default_ttl=7)
        _fill(cache)
        clock.advance(1)
        dup = cache.copy() if how == "method" else copy.copy(cache)
        assert type(dup) is type(cache)
        assert dup is not cache
        assert _entries(dup) == _entries(cache)
        assert all(a is b for a, b in zip(dup.values(), cache.values()))
        assert all(a is b for a, b in zip(dup, cache))
        assert dup.default_ttl == 7.0
        dup["new"] = 1
        del dup[1]
        assert "new" not in cache and 1 in cache
        clock.advance(1)  # expiry times are absolute and shared
        assert [k for k in dup] == [1.5, b"b", (1, 2), "new"]
        assert [k for k in cache] == [1, 1.5, b"b", (1, 2)]

    def test_copy_keeps_key_objects(self, cache: Any) -> None:
        cache.put(1, "a")
        cache.put(1.0, "b")
        dup = cache.copy()
        assert [(type(k), v) for k, v in dup.items()] == [(int, "b")]

    def test_copy_skips_expired_entries(self, cache: Any, clock: Any) -> None:
        cache.put("gone", 1, ttl=1)
        cache.put("kept", 2)
        clock.advance(1)
        assert [kv for kv in cache.copy().items()] == [("kept", 2)]
        assert len(cache.copy()) == 1

    def test_copy_of_empty(self, cache_cls: Any) -> None:
        dup = cache_cls(default_ttl=3).copy()
        assert len(dup) == 0 and dup.default_ttl == 3.0

    @pytest.mark.parametrize(
        "default_ttl",
        [5, 0.25, datetime.timedelta(milliseconds=1001), datetime.timedelta(microseconds=65)],
        ids=repr,
    )
    def test_copy_keeps_default_ttl_exactly(self, cache_cls: Any, clock: Any, default_ttl: Any) -> None:
        cache = cache_cls(default_ttl=default_ttl)
        dup = cache.copy()
        assert dup.default_ttl == cache.default_ttl
        cache["k"] = dup["k"] = 1
        assert dup.ttl("k") == cache.ttl("k")

    def test_deepcopy(self, cache: Any, clock: Any) -> None:
        _fill(cache)
        dup = copy.deepcopy(cache)
        assert _entries(dup) == _entries(cache)
        assert dup[1.5] == ["list"] and dup[1.5] is not cache[1.5]

    def test_deepcopy_of_a_cache_containing_itself(self, cache: Any) -> None:
        cache.put("self", cache)
        cache.put("x", 1)
        dup = copy.deepcopy(cache)
        assert dup["self"] is dup
        assert dup["x"] == 1


class TestPickle:
    @pytest.mark.parametrize("protocol", PROTOCOLS)
    def test_round_trip(self, cache_cls: Any, clock: Any, protocol: int) -> None:
        cache = cache_cls(default_ttl=30)
        _fill(cache)
        loaded = pickle.loads(pickle.dumps(cache, protocol))
        assert type(loaded) is type(cache)
        assert _entries(loaded) == _entries(cache)
        assert loaded.default_ttl == 30.0

    def test_public_cache_round_trip(self) -> None:
        cache = godistcache.Cache(default_ttl=60)
        cache.put("a", [1, 2])
        cache.put("b", 2, ttl=0)
        loaded = pickle.loads(pickle.dumps(cache))
        assert type(loaded) is godistcache.Cache
        assert dict(loaded) == {"a": [1, 2], "b": 2}
        assert loaded.ttl("b") is None
        assert loaded.default_ttl == 60.0

    def test_entries_expired_before_load_are_dropped(self, cache: Any, clock: Any) -> None:
        _fill(cache)
        data = pickle.dumps(cache)
        clock.advance(5)  # "s" (2 s) and 1.5 (5 s) expire in between
        loaded = pickle.loads(data)
        assert [k for k in loaded] == [1, b"b", (1, 2)]
        assert loaded.ttl((1, 2)) == 5.0
        assert len(loaded) == 3

    def test_pickle_of_a_cache_containing_itself(self, cache: Any) -> None:
        cache.put("self", cache)
        loaded = pickle.loads(pickle.dumps(cache))
        assert loaded["self"] is loaded


class TestPutAtParity:
    """``_put_at`` (absolute expiry, used by copy and pickle) validates alike in both cores."""

    @pytest.mark.parametrize("expires", [-1, 2**63, 2**64, 1.5, 1e30, "1", None, float("nan")], ids=repr)
    def test_invalid_expiry(self, cache_classes: dict[str, Any], expires: Any) -> None:
        outcomes = {}
        for name, cls in cache_classes.items():
            cache = cls()
            try:
                outcomes[name] = ("ok", cache._put_at("k", 1, expires), len(cache))
            except Exception as e:  # noqa: BLE001 - the type is what we compare
                outcomes[name] = ("raised", type(e), len(cache))
        assert outcomes["py"][0] == "raised"
        assert len(set(outcomes.values())) == 1, outcomes

    def test_valid_expiry(self, cache: Any, clock: Any) -> None:
        assert cache._put_at("never", 1, 0) is True
        assert cache._put_at("live", 2, clock.now + 1) is True
        assert cache._put_at("past", 3, clock.now) is False
        assert cache._put_at("far", 4, 2**63 - 1) is True
        assert [k for k in cache] == ["never", "live", "far"]
        assert cache.ttl("live") == 1e-9
        clock.advance_ns(1)
        assert "live" not in cache


class TestOwnMethods:
    """The public Cache's rebound C methods still check what they are called on."""

    def test_unbound_calls(self) -> None:
        cache = godistcache.Cache()
        godistcache.Cache.put(cache, "k", 1)
        assert godistcache.Cache.get(cache, "k") == 1
        assert godistcache.Cache.exists(cache, "k") is True
        assert godistcache.Cache.ttl(cache, "k") is None
        assert godistcache.Cache.put_safe(cache, "k", 2) is True
        assert godistcache.Cache.delete_safe(cache, "k") is True
        assert godistcache.Cache.delete(cache, "k") is False

    @pytest.mark.skipif(godistcache.CORE != "c", reason="only the compiled core rebinds methods")
    @pytest.mark.parametrize("name", ["get", "put", "put_safe", "exists", "delete", "delete_safe", "ttl"])
    def test_wrong_self_is_type_error(self, cache_classes: dict[str, Any], name: str) -> None:
        method = getattr(godistcache.Cache, name)
        args = ("k", 1) if name.startswith("put") else ("k",)
        for wrong in [object(), {}, *(cls() for cls in cache_classes.values())]:
            if isinstance(wrong, godistcache.Cache):
                continue
            with pytest.raises(TypeError):
                method(wrong, *args)

    def test_subclass_of_cache(self) -> None:
        class Sub(godistcache.Cache):
            __slots__ = ()

            def get(self, key: Any, default: Any = None) -> Any:
                return ("sub", super().get(key, default))

        sub = Sub()
        sub.put("k", 1)
        assert sub.get("k") == ("sub", 1)
        assert sub.put_safe("j", 2) is True
        assert sub["j"] == 2


GOLDEN = golden_script("make_pickle_golden")


@pytest.mark.parametrize("name", sorted(GOLDEN.expected()))
def test_golden_pickles_load(name: str) -> None:
    """A Cache pickled by an earlier version (tests/golden/pickle_v1) unpickles to the same cache."""
    spec = GOLDEN.expected()[name]
    cache = pickle.loads((GOLDEN.GOLDEN_DIR / f"{name}.pickle").read_bytes())
    assert type(cache) is godistcache.Cache
    assert list(cache._iter(3)) == spec["entries"]
    assert (cache._default_ttl_ns, cache.max_size, cache.keyring) == (spec["default_ttl_ns"], spec["max_size"], None)
