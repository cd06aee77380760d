"""Per-entry expiry against the frozen clock, on both cores."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

MISSING = object()


class Val:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class TestTTLMethod:
    def test_remaining_seconds(self, cache: Any, clock: Any) -> None:
        cache.put("k", 1, ttl=10)
        assert cache.ttl("k") == 10.0
        clock.advance(3)
        assert cache.ttl("k") == 7.0
        clock.advance_ns(6_999_999_999)
        assert cache.ttl("k") == 1e-9
        assert type(cache.ttl("k")) is float

    def test_never_expires_is_none(self, cache: Any, clock: Any) -> None:
        cache.put("a", 1)
        cache.put("b", 1, ttl=0)
        cache.put("c", 1, ttl=float("inf"))
        cache["d"] = 1
        clock.advance(10**9)
        assert [cache.ttl(k) for k in "abcd"] == [None] * 4
        assert len(cache) == 4

    def test_absent_is_key_error(self, cache: Any, clock: Any) -> None:
        with pytest.raises(KeyError) as exc:
            cache.ttl("k")
        assert exc.value.args == ("k",)

    def test_expired_is_key_error_and_freed(self, cache: Any, clock: Any) -> None:
        cache.put("k", 1, ttl=1)
        clock.advance(1)
        with pytest.raises(KeyError):
            cache.ttl("k")
        assert cache.expire() == 0  # ttl() already freed it

    def test_overwrite_sets_new_ttl(self, cache: Any, clock: Any) -> None:
        cache.put("k", 1, ttl=10)
        clock.advance(5)
        cache.put("k", 2, ttl=10)
        assert cache.ttl("k") == 10.0
        cache.put("k", 3, ttl=0)
        assert cache.ttl("k") is None
        cache.put("k", 4, ttl=2)
        clock.advance(2)
        assert "k" not in cache

    def test_accepted_ttl_types(self, cache: Any, clock: Any) -> None:
        cache.put("td", 1, ttl=datetime.timedelta(seconds=2, milliseconds=500))
        cache.put("fr", 1, ttl=Fraction(5, 2))
        cache.put("dec", 1, ttl=Decimal("2.5"))
        cache.put("f", 1, ttl=2.5)
        assert [cache.ttl(k) for k in ("td", "fr", "dec", "f")] == [2.5] * 4
        cache.put("i", 1, ttl=3)
        clock.advance(2.5)
        assert list(cache) == ["i"]


class TestBoundary:
    def test_expired_when_now_reaches_expiry(self, cache: Any, clock: Any) -> None:
        cache.put("k", Val("v"), ttl=2)
        clock.advance_ns(2_000_000_000 - 1)
        assert "k" in cache
        assert cache.ttl("k") == 1e-9
        clock.advance_ns(1)
        assert "k" not in cache

    @pytest.mark.parametrize(
        "read",
        [
            lambda c: c.get("k", MISSING) is MISSING,
            lambda c: "k" not in c,
            lambda c: c.exists("k") is False,
            lambda c: "k" not in c.keys(),
            lambda c: ("k", 1) not in c.items(),
            lambda c: list(c) == [],
            lambda c: list(c.values()) == [],
            lambda c: list(c.items()) == [],
            lambda c: len(c) == 0,
            lambda c: c.count() == 0,
            lambda c: c.delete("k") is False,
            lambda c: c.delete_safe("k") is False,
            lambda c: c.pop("k", MISSING) is MISSING,
            lambda c: c.setdefault("k", 2) == 2,
            lambda c: dict(c) == {},
        ],
    )
    def test_expired_entry_is_invisible(self, cache: Any, clock: Any, read: Any) -> None:
        live = type(cache)()
        live.put("k", 1, ttl=1)
        assert read(live) is False  # each check fails on a live entry...
        cache.put("k", 1, ttl=1)
        clock.advance(1)
        assert read(cache) is True  # ...and passes once it has expired

    @pytest.mark.parametrize(
        "op",
        [
            lambda c: c["k"],
            lambda c: c.__delitem__("k"),
            lambda c: c.pop("k"),
            lambda c: c.ttl("k"),
            lambda c: c.popitem(),
        ],
    )
    def test_expired_entry_raises_key_error(self, cache: Any, clock: Any, op: Any) -> None:
        cache.put("k", 1, ttl=1)
        clock.advance(1)
        with pytest.raises(KeyError):
            op(cache)

    def test_tiny_ttl_is_one_nanosecond(self, cache: Any, clock: Any) -> None:
        cache.put("k", 1, ttl=1e-15)
        assert cache.get("k") == 1
        clock.advance_ns(1)
        assert cache.get("k") is None

    def test_longest_ttl(self, cache: Any, clock: Any) -> None:
        cache.put("k", 1, ttl=4611686018)
        clock.advance(4611686017)
        assert cache.get("k") == 1
        clock.advance(1)
        assert cache.get("k") is None


class TestLenAndExpire:
    def test_len_counts_only_live(self, cache: Any, clock: Any) -> None:
        for i in range(10):
            cache.put(i, i, ttl=i + 1 if i % 2 else 0)
        assert len(cache) == 10
        clock.advance(2)  # frees 1
        assert len(cache) == 9
        assert cache.count() == 9
        clock.advance(100)
        assert len(cache) == 5
        assert list(cache) == [0, 2, 4, 6, 8]

    def test_expire_returns_number_freed(self, cache: Any, clock: Any) -> None:
        for i in range(10):
            cache.put(i, i, ttl=1 + i % 3)
        cache.put("forever", 0)
        assert cache.expire() == 0
        clock.advance(1)
        assert cache.expire() == 4  # 0, 3, 6, 9
        assert cache.expire() == 0
        clock.advance(1)
        assert cache.get(1) is None  # freed by the read, not by expire()
        assert cache.expire() == 2  # 4, 7
        clock.advance(5)
        assert cache.expire() == 3
        assert list(cache) == ["forever"]
        assert len(cache) == 1

    def test_expire_on_empty_and_after_clear(self, cache: Any, clock: Any) -> None:
        assert cache.expire() == 0
        cache.put("k", 1, ttl=1)
        cache.clear()
        clock.advance(5)
        assert cache.expire() == 0
        assert len(cache) == 0

    def test_expire_after_delete_of_earliest(self, cache: Any, clock: Any) -> None:
        cache.put("early", 1, ttl=1)
        cache.put("late", 2, ttl=5)
        cache.delete("early")
        clock.advance(2)
        assert cache.expire() == 0
        assert len(cache) == 1
        clock.advance(3)
        assert len(cache) == 0
        assert cache.expire() == 0

    def test_shortened_ttl_on_overwrite_is_honoured(self, cache: Any, clock: Any) -> None:
        cache.put("k", 1, ttl=100)
        cache.put("k", 2, ttl=1)
        clock.advance(1)
        assert len(cache) == 0
        assert list(cache) == []

    def test_repr_counts_live(self, cache: Any, clock: Any) -> None:
        cache.put("a", 1, ttl=1)
        cache.put("b", 1)
        clock.advance(1)
        assert "entries=1 " in repr(cache)


class TestResurrection:
    def test_expired_key_comes_back_at_the_end_with_new_key_object(self, cache: Any, clock: Any) -> None:
        cache.put(1, "a", ttl=1)
        cache.put("x", "x")
        clock.advance(1)
        cache.put(1.0, "c")
        assert list(cache.items()) == [("x", "x"), (1.0, "c")]
        assert type(list(cache)[1]) is float
        assert cache.ttl(1) is None

    def test_live_key_keeps_position_even_with_ttl(self, cache: Any, clock: Any) -> None:
        cache.put(1, "a", ttl=2)
        cache.put("x", "x")
        clock.advance(1)
        cache.put(True, "b", ttl=5)
        assert list(cache.items()) == [(1, "b"), ("x", "x")]
        assert type(list(cache)[0]) is int

    @pytest.mark.parametrize(
        "put",
        [
            lambda c, k, v: c.put(k, v),
            lambda c, k, v: c.put_safe(k, v),
            lambda c, k, v: c.__setitem__(k, v),
            lambda c, k, v: c.setdefault(k, v),
            lambda c, k, v: c.update({k: v}),
        ],
    )
    def test_every_kind_of_put_resurrects_at_end(self, cache: Any, clock: Any, put: Any) -> None:
        cache.put("a", 1, ttl=1)
        cache.put("b", 2)
        clock.advance(1)
        put(cache, "a", 3)
        assert list(cache.items()) == [("b", 2), ("a", 3)]


class TestDefaultTTLExpiry:
    def test_default_applies_to_puts_without_ttl(self, cache_cls: Any, clock: Any) -> None:
        cache = cache_cls(default_ttl=5)
        cache.put("put", 1)
        cache["setitem"] = 1
        cache.setdefault("setdefault", 1)
        cache.update(update=1)
        assert cache.put_safe("put_safe", 1) is True
        cache.put("none", 1, ttl=None)
        cache.put("never", 1, ttl=0)
        cache.put("short", 1, ttl=1)
        assert cache.ttl("put") == cache.ttl("setitem") == cache.ttl("update") == 5.0
        assert cache.ttl("setdefault") == cache.ttl("put_safe") == cache.ttl("none") == 5.0
        assert cache.ttl("never") is None
        clock.advance(1)
        assert "short" not in cache
        clock.advance(4)
        assert list(cache) == ["never"]

    def test_changing_default_does_not_touch_existing_entries(self, cache_cls: Any, clock: Any) -> None:
        cache = cache_cls(default_ttl=5)
        cache["a"] = 1
        cache.default_ttl = 0
        cache["b"] = 1
        cache.default_ttl = datetime.timedelta(seconds=1)
        cache["c"] = 1
        assert (cache.ttl("a"), cache.ttl("b"), cache.ttl("c")) == (5.0, None, 1.0)
        clock.advance(10)
        assert list(cache) == ["b"]


class TestPutSafe:
    def test_true_for_live_entry(self, cache: Any, clock: Any) -> None:
        v = Val("v")
        assert cache.put_safe("k", v, ttl=1e-9) is True
        assert cache.put_safe("k", v, ttl=datetime.timedelta(hours=1)) is True

    def test_false_when_key_hash_changes_every_call(self, cache: Any, clock: Any) -> None:
        counter = itertools.count()

        class Shifty:
            def __hash__(self) -> int:
                return next(counter)

        key = Shifty()
        assert cache.put_safe(key, "v") is False
        assert cache.get(key) is None
        assert len(cache) == 1  # it went in, it just cannot be found again

    def test_false_when_expired_at_read_back(self, cache: Any, clock: Any) -> None:
        class Slow:
            """Every hash() takes two (frozen) seconds: an entry with ttl=1 is dead on read-back."""

            def __hash__(self) -> int:
                clock.advance(2)
                return 1

        key = Slow()
        assert cache.put_safe(key, "v", ttl=1) is False
        assert list(cache) == []
        assert cache.put_safe(key, "v", ttl=10) is True
        assert cache.put_safe(key, "w", ttl=0) is True
        assert list(cache.items()) == [(key, "w")]

    # The compiled core reads an exact str key back from the entry its store wrote, unless Python code run
    # by the store (the old value's finaliser here) changed that entry.
    def test_false_when_the_old_values_finaliser_deletes_the_key(self, cache: Any) -> None:
        class Deleter:
            def __del__(self) -> None:
                cache.delete("k")

        cache.put("k", Deleter())
        assert cache.put_safe("k", "v", ttl=60) is False
        assert "k" not in cache

    def test_false_when_the_old_values_finaliser_replaces_the_value(self, cache: Any) -> None:
        class Replacer:
            def __del__(self) -> None:
                cache.put("k", "theirs")

        cache.put("k", Replacer())
        assert cache.put_safe("k", "ours", ttl=60) is False
        assert cache.get("k") == "theirs"

    def test_true_when_the_old_values_finaliser_moves_the_entries(self, cache: Any) -> None:
        class Grower:
            def __del__(self) -> None:
                for i in range(1000):
                    cache.put(f"g{i}", i)

        cache.put("a", 0)
        cache.delete("a")
        cache.put("k", Grower())
        v = Val("v")
        assert cache.put_safe("k", v, ttl=60) is True
        assert cache.get("k") is v and len(cache) == 1001


class TestOverwriteRules:
    def test_overwrite_live_keeps_key_and_position_new_value(self, cache: Any, clock: Any) -> None:
        k1, k2 = tuple([1, 2]), tuple([1, 2])
        assert k1 is not k2
        cache.put(k1, "a", ttl=5)
        cache.put("z", "z")
        cache.put(k2, "b", ttl=1)
        assert list(cache)[0] is k1
        assert cache[k1] == "b"
        clock.advance(1)
        assert list(cache) == ["z"]
