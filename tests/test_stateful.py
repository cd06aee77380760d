"""Both cores against a plain model, under random operation sequences and a frozen clock.

The model keeps ``[key, value, expires_ns]`` lists in insertion order and
states the rules once: overwriting a live key keeps its position and key
object; putting a key whose entry has expired appends it anew with the new key
object; an entry is expired when now >= expires; expired entries are freed
when met by a lookup of their key, by len(), expire() or a put of their key,
and are never freed by iteration (which expire()'s count makes visible).
Every entry that leaves is an (key, value, cause) event for on_evict.

A second machine runs the caches bounded (max_size, max_weight) against
``BoundedModel``, which states S3-FIFO as ``_table_c`` describes it, over the
same ordered list: which entries are evicted, and in what order, must match
exactly, as must the listener's events.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

NS = 1_000_000_000

#: Keys, including equal keys of different types (1 == 1.0 == True, 0 == False).
KEYS = (1, 1.0, True, 0, False, "a", b"a", (1, 2), "b", 2.5)

#: TTL arguments with the ns the model expects, or the exception type.
TTLS: tuple[tuple[Any, Any], ...] = (
    (None, None),
    (0, 0),
    (0.0, 0),
    (float("inf"), 0),
    (1, 1 * NS),
    (2, 2 * NS),
    (0.5, NS // 2),
    (1.5, 3 * NS // 2),
    (2.25, 9 * NS // 4),
    (datetime.timedelta(seconds=1), NS),
    (datetime.timedelta(milliseconds=1500), 3 * NS // 2),
    (datetime.timedelta(0), 0),
    (-1, ValueError),
    (float("nan"), ValueError),
    ("1", TypeError),
    (True, TypeError),
)

#: Default TTLs: None and 0 mean never.
DEFAULT_TTLS = tuple(t for t in TTLS if not isinstance(t[1], type)) + ((-2, ValueError), (b"", TypeError))

ADVANCES_NS = (0, 1, NS // 4, NS // 2, NS, 3 * NS // 2, 2 * NS, 3 * NS)

MISSING = object()
INT64_MAX = (1 << 63) - 1


class Val:
    """A value: only its identity matters."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Val({self.n})"


class Model:
    def __init__(self, now: Callable[[], int]) -> None:
        self.now = now
        self.entries: list[list[Any]] = []  # [key, value, expires]; expires 0: never
        self.default_ns = 0
        self.events: list[tuple[Any, Any, str]] = []  # what on_evict hears
        # A lower bound of every expiry, lowered by puts and made exact by a
        # purge, as the tables keep it: it decides when a purge runs.
        self.min_expires = INT64_MAX

    def _remove(self, i: int, cause: str) -> None:
        entry = self.entries.pop(i)
        self.events.append((entry[0], entry[1], cause))
        self._removed(i)

    # Hooks for BoundedModel.
    def _removed(self, i: int) -> None:
        pass

    def _weigh(self, key: Any, value: Any) -> int:
        return 0

    def _new_entry(self, key: Any, value: Any, expires: int, weight: int) -> list[Any]:
        return [key, value, expires]

    def _touch(self, entry: list[Any]) -> None:
        pass

    def _make_room(self, entry: list[Any]) -> None:
        pass

    def _reset(self) -> None:
        pass

    def _purged(self) -> None:
        pass

    def _index(self, key: Any) -> int | None:
        for i, entry in enumerate(self.entries):
            if entry[0] == key:
                return i
        return None

    def _expired(self, entry: list[Any]) -> bool:
        return entry[2] != 0 and entry[2] <= self.now()

    def _find_live(self, key: Any) -> list[Any] | None:
        i = self._index(key)
        if i is None:
            return None
        if self._expired(self.entries[i]):
            self._remove(i, "expired")
            return None
        return self.entries[i]

    def _ns(self, ns: Any) -> int:
        if isinstance(ns, type):
            raise ns("bad ttl")
        return self.default_ns if ns is None else ns

    def put(self, key: Any, value: Any, ns: Any) -> None:
        ns = self._ns(ns)
        expires = self.now() + ns if ns else 0
        weight = self._weigh(key, value)
        if expires:
            self.min_expires = min(self.min_expires, expires)
        i = self._index(key)
        if i is not None:
            entry = self.entries[i]
            if not self._expired(entry):
                self.events.append((entry[0], entry[1], "replaced"))
                entry[1] = value
                entry[2] = expires
                self._touch(entry)
                self._replaced_weight(entry, weight)
                self._make_room(entry)
                return
            self._remove(i, "expired")
        entry = self._new_entry(key, value, expires, weight)
        self.entries.append(entry)
        self._make_room(entry)

    def _replaced_weight(self, entry: list[Any], weight: int) -> None:
        pass

    def put_safe(self, key: Any, value: Any, ns: Any) -> bool:
        self.put(key, value, ns)
        entry = self._find_live(key)
        return entry is not None and entry[1] is value

    def get(self, key: Any, default: Any) -> Any:
        entry = self._find_live(key)
        if entry is None:
            return default
        self._touch(entry)
        return entry[1]

    def getitem(self, key: Any) -> Any:
        entry = self._find_live(key)
        if entry is None:
            raise KeyError(key)
        self._touch(entry)
        return entry[1]

    def contains(self, key: Any) -> bool:
        return self._find_live(key) is not None

    def delete(self, key: Any) -> bool:
        i = self._index(key)
        if i is None:
            return False
        live = not self._expired(self.entries[i])
        self._remove(i, "deleted" if live else "expired")
        return live

    def delitem(self, key: Any) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def ttl(self, key: Any) -> float | None:
        i = self._index(key)
        if i is None:
            raise KeyError(key)
        expires = self.entries[i][2]
        if not expires:
            return None
        if expires <= self.now():
            self._remove(i, "expired")
            raise KeyError(key)
        return (expires - self.now()) / 1e9

    def expire(self) -> int:
        if self.now() < self.min_expires:
            return 0  # nothing can have expired
        self._purged()
        n = self._free_expired()
        self.min_expires = min((e[2] for e in self.entries if e[2]), default=INT64_MAX)
        return n

    def _free_expired(self) -> int:
        n = i = 0
        while i < len(self.entries):
            if self._expired(self.entries[i]):
                self._remove(i, "expired")
                n += 1
            else:
                i += 1
        return n

    def len(self) -> int:
        self.expire()
        return len(self.entries)

    def sweep_all(self) -> tuple[int, bool]:
        """A sweep step over every entry: frees each expired one, min_expires untouched."""
        return self._free_expired(), True

    def clear(self) -> None:
        self.events.extend((e[0], e[1], "expired" if self._expired(e) else "deleted") for e in self.entries)
        self.entries = []
        self.min_expires = INT64_MAX
        self._reset()

    def set_default(self, ns: Any) -> None:
        self.default_ns = self._ns(ns) if ns is not None else 0

    def pop(self, key: Any, default: Any) -> Any:
        entry = self._find_live(key)
        if entry is None:
            return default
        self._touch(entry)  # MutableMapping.pop reads cache[key] first
        self._remove(next(i for i, e in enumerate(self.entries) if e is entry), "deleted")
        return entry[1]

    def popitem(self) -> tuple[Any, Any]:
        live = self.live()
        if not live:
            raise KeyError
        key, value = live[0]
        self.delete(key)
        return key, value

    def setdefault(self, key: Any, default: Any) -> Any:
        entry = self._find_live(key)
        if entry is not None:
            self._touch(entry)
            return entry[1]
        self.put(key, default, None)
        return default

    def live(self) -> list[tuple[Any, Any]]:
        return [(e[0], e[1]) for e in self.entries if not self._expired(e)]


MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
FREQ, MAIN = 3, 4


class BoundedModel(Model):
    """S3-FIFO over the model's ordered entries, as _table_c's comment states it.

    Entries are ``[key, value, expires, policy, hash, weight]``: policy's bits
    0-1 count accesses (up to 3), bit 2 says the entry is in the main queue.
    The small queue is the entries not in main, oldest first; the main queue
    is a clock whose hand is an index into the entries.
    """

    def __init__(
        self, now: Callable[[], int], max_size: int | None = None, max_weight: int | None = None, weigher: Any = None
    ) -> None:
        super().__init__(now)
        self.max_size = sys.maxsize if max_size is None else max_size
        self.max_weight = INT64_MAX if max_weight is None else max_weight
        self.weigher = weigher
        self.ghost: list[int] = []
        self._reset()

    def _reset(self) -> None:
        self.hand = 0
        self.since_purge = sys.maxsize // 2  # the first store that must make room may purge
        self.ghost = [0] * len(self.ghost)
        self.ghost_ctr = 0

    def _purged(self) -> None:
        self.since_purge = 0

    def _removed(self, i: int) -> None:
        if i < self.hand:
            self.hand -= 1

    def _weigh(self, key: Any, value: Any) -> int:
        if self.weigher is None:
            return 0
        w = self.weigher(key, value)
        if w > self.max_weight:
            raise ValueError("too heavy")
        return int(w)

    def _new_entry(self, key: Any, value: Any, expires: int, weight: int) -> list[Any]:
        h = hash(key)
        return [key, value, expires, MAIN if self._ghost_take(h) else 0, h, weight]

    def _touch(self, entry: list[Any]) -> None:
        if entry[3] & FREQ != FREQ:
            entry[3] += 1

    def _replaced_weight(self, entry: list[Any], weight: int) -> None:
        entry[5] = weight

    def _cap(self) -> int:
        return self.max_size if self.max_size != sys.maxsize else len(self.entries)

    def _over(self) -> bool:
        return len(self.entries) > self.max_size or sum(e[5] for e in self.entries) > self.max_weight

    def _make_room(self, entry: list[Any]) -> None:
        if not self._over():
            return
        if self.now() >= self.min_expires and self.since_purge >= max(self._cap() // 4, 1):
            self.expire()
        self.since_purge += 1
        while self._over():
            self._evict_one(entry)

    def _evict_one(self, protect: list[Any]) -> None:
        nsmall = sum(1 for e in self.entries if not e[3] & MAIN)
        victim = None
        if nsmall and (nsmall * 20 >= self._cap() or nsmall == len(self.entries)):
            victim = self._small_victim(protect)
        if victim is None:
            victim = self._main_victim(protect)
            if victim is None:
                victim = self._small_victim(protect)
        assert victim is not None
        i = next(i for i, e in enumerate(self.entries) if e is victim)
        expired = self._expired(victim)
        self._remove(i, "expired" if expired else "evicted")
        if not expired and not victim[3] & MAIN:
            self._ghost_add(victim[4])

    def _small_victim(self, protect: list[Any]) -> list[Any] | None:
        # The oldest small entry goes, unless it was accessed: then it moves to main.
        for e in self.entries:
            if e[3] & MAIN or e is protect:
                continue
            if self._expired(e) or not e[3] & FREQ:
                return e
            e[3] = MAIN
        return None

    def _main_victim(self, protect: list[Any]) -> list[Any] | None:
        if not any(e[3] & MAIN and e is not protect for e in self.entries):
            return None
        i, spared = self.hand, 0
        while True:
            if i >= len(self.entries):
                i = 0
            e = self.entries[i]
            if e[3] & MAIN and e is not protect:
                if e[3] & FREQ and spared < 64 and not self._expired(e):
                    e[3] -= 1  # spared: one access fewer
                    spared += 1
                else:
                    self.hand = i  # once e is removed, the hand is on the entry after it
                    return e
            i += 1

    def _ghost_slot(self, h: int) -> tuple[int, int]:
        m = ((h & MASK64) * GOLDEN) & MASK64
        return 4 * ((m >> 32) & (len(self.ghost) // 4 - 1)), (m & 0xFFFFFFFF) or 1

    def _ghost_add(self, h: int) -> None:
        if not self.ghost:
            slots = 64
            while slots < self._cap() // 2:
                slots *= 2
            self.ghost = [0] * slots
        base, fp = self._ghost_slot(h)
        bucket = self.ghost[base : base + 4]
        if fp in bucket:
            return
        j = bucket.index(0) if 0 in bucket else self.ghost_ctr % 4
        if 0 not in bucket:
            self.ghost_ctr += 1
        self.ghost[base + j] = fp

    def _ghost_take(self, h: int) -> bool:
        if not self.ghost:
            return False
        base, fp = self._ghost_slot(h)
        for j in range(base, base + 4):
            if self.ghost[j] == fp:
                self.ghost[j] = 0
                return True
        return False


def _same(a: Any, b: Any) -> bool:
    """Equal, with objects compared by identity and numbers by type and value."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)) and not any(a is k for k in KEYS):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (bool, int, float, type(None))):
        return a == b
    return a is b


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as e:  # noqa: BLE001 - the type is what we compare
        return "raised", type(e)


class CacheMachine(RuleBasedStateMachine):
    def __init__(self, classes: dict[str, type], clock: Any, start_ns: int, **bounds: Any) -> None:
        super().__init__()
        self.clock = clock
        clock.set(start_ns)
        self.caches = {name: cls() for name, cls in classes.items()}
        for cache in self.caches.values():
            if bounds:  # what Cache(max_size=..., ...) does
                cache._set_bound(bounds.get("max_size"), bounds.get("max_weight"), bounds.get("weigher"))
        self.heard: dict[str, list[tuple[Any, Any, str]]] = {}
        for name, cache in self.caches.items():
            self.heard[name] = heard = []
            cache.on_evict = lambda k, v, cause, heard=heard: heard.append((k, v, cause))
        now = lambda: self.clock.now  # noqa: E731
        self.model = BoundedModel(now, **bounds) if bounds else Model(now)
        self.n = 0

    def _value(self) -> Val:
        self.n += 1
        return Val(self.n)

    def check(self, model_call: Callable[[Model], Any], cache_call: Callable[[Any], Any]) -> None:
        expected = _outcome(lambda: model_call(self.model))
        for name, cache in self.caches.items():
            actual = _outcome(lambda: cache_call(cache))  # noqa: B023 - _outcome calls it at once
            assert _same(actual, expected), f"{name}: {actual!r} != model {expected!r}"

    # -- writes -----------------------------------------------------------------------

    @rule(key=st.sampled_from(KEYS), ttl=st.sampled_from(TTLS))
    def put(self, key: Any, ttl: tuple[Any, Any]) -> None:
        v = self._value()
        if ttl[0] is None:  # leave the argument out
            self.check(lambda m: m.put(key, v, None), lambda c: c.put(key, v))
        else:
            self.check(lambda m: m.put(key, v, ttl[1]), lambda c: c.put(key, v, ttl[0]))

    @rule(key=st.sampled_from(KEYS), ttl=st.sampled_from(TTLS))
    def put_safe(self, key: Any, ttl: tuple[Any, Any]) -> None:
        v = self._value()
        self.check(lambda m: m.put_safe(key, v, ttl[1]), lambda c: c.put_safe(key, v, ttl=ttl[0]))

    @rule(key=st.sampled_from(KEYS))
    def setitem(self, key: Any) -> None:
        v = self._value()
        self.check(lambda m: m.put(key, v, None), lambda c: c.__setitem__(key, v))

    @rule(key=st.sampled_from(KEYS))
    def setdefault(self, key: Any) -> None:
        v = self._value()
        self.check(lambda m: m.setdefault(key, v), lambda c: c.setdefault(key, v))

    @rule(key=st.sampled_from(KEYS))
    def delitem(self, key: Any) -> None:
        self.check(lambda m: m.delitem(key), lambda c: c.__delitem__(key))

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key: Any) -> None:
        self.check(lambda m: m.delete(key), lambda c: c.delete(key))

    @rule(key=st.sampled_from(KEYS))
    def delete_safe(self, key: Any) -> None:
        self.check(lambda m: m.delete(key), lambda c: c.delete_safe(key))

    @rule(key=st.sampled_from(KEYS))
    def pop(self, key: Any) -> None:
        self.check(lambda m: m.pop(key, MISSING), lambda c: c.pop(key, MISSING))

    @rule()
    def popitem(self) -> None:
        self.check(lambda m: m.popitem(), lambda c: c.popitem())

    @rule()
    def clear(self) -> None:
        self.check(lambda m: m.clear(), lambda c: c.clear())

    @rule(ttl=st.sampled_from(DEFAULT_TTLS))
    def set_default_ttl(self, ttl: tuple[Any, Any]) -> None:
        self.check(lambda m: m.set_default(ttl[1]), lambda c: setattr(c, "default_ttl", ttl[0]))
        self.check(lambda m: m.default_ns / 1e9, lambda c: c.default_ttl)

    # -- reads -------------------------------------------------------------------------

    @rule(key=st.sampled_from(KEYS))
    def get(self, key: Any) -> None:
        self.check(lambda m: m.get(key, MISSING), lambda c: c.get(key, MISSING))

    @rule(key=st.sampled_from(KEYS))
    def getitem(self, key: Any) -> None:
        self.check(lambda m: m.getitem(key), lambda c: c[key])

    @rule(key=st.sampled_from(KEYS))
    def contains(self, key: Any) -> None:
        self.check(lambda m: m.contains(key), lambda c: key in c)

    @rule(key=st.sampled_from(KEYS))
    def exists(self, key: Any) -> None:
        self.check(lambda m: m.contains(key), lambda c: c.exists(key))

    @rule(key=st.sampled_from(KEYS))
    def ttl(self, key: Any) -> None:
        self.check(lambda m: m.ttl(key), lambda c: c.ttl(key))

    @rule()
    def expire(self) -> None:
        self.check(lambda m: m.expire(), lambda c: c.expire())

    @rule()
    def sweep(self) -> None:
        # A step as long as the table: a whole pass, which both cores make alike.
        self.check(lambda m: m.sweep_all(), lambda c: c._sweep(1 << 20))

    @rule()
    def length(self) -> None:
        self.check(lambda m: m.len(), lambda c: len(c))
        self.check(lambda m: m.len(), lambda c: c.count())

    @rule(kind=st.sampled_from(["iter", "keys", "values", "items"]))
    def iterate(self, kind: str) -> None:
        # Comprehensions, not list(): list() would call len(), which frees.
        if kind == "iter":
            self.check(lambda m: [k for k, _ in m.live()], lambda c: [k for k in c])
        elif kind == "keys":
            self.check(lambda m: [k for k, _ in m.live()], lambda c: [k for k in c.keys()])
        elif kind == "values":
            self.check(lambda m: [v for _, v in m.live()], lambda c: [v for v in c.values()])
        else:
            self.check(lambda m: m.live(), lambda c: [kv for kv in c.items()])

    # -- the clock ------------------------------------------------------------------

    @rule(ns=st.sampled_from(ADVANCES_NS))
    def advance(self, ns: int) -> None:
        self.clock.advance_ns(ns)

    @rule(pick=st.integers(min_value=0, max_value=20), offset=st.sampled_from([-1, 0, 1]))
    def advance_to_an_expiry(self, pick: int, offset: int) -> None:
        pending = sorted({e[2] for e in self.model.entries if e[2] > self.clock.now})
        if pending:
            target = pending[pick % len(pending)] + offset
            if target > self.clock.now:
                self.clock.set(target)

    # -- after every step -------------------------------------------------------------

    @invariant()
    def same_live_items(self) -> None:
        # Iterating frees nothing, so checking after every step changes no outcome.
        self.check(lambda m: m.live(), lambda c: [kv for kv in c.items()])

    @invariant()
    def same_events(self) -> None:
        for name, heard in self.heard.items():
            assert _same(heard, self.model.events), f"{name} heard {heard!r}, model {self.model.events!r}"

    @invariant()
    def evictions_counted(self) -> None:
        for name, cache in self.caches.items():
            assert cache._evicted == sum(1 for e in self.model.events if e[2] == "evicted"), name


def test_cores_match_the_model(cache_classes: dict[str, type], clock: Any) -> None:
    start_ns = clock.now
    run_state_machine_as_test(
        lambda: CacheMachine(cache_classes, clock, start_ns),
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def _weight(key: Any, value: Any) -> int:
    return value.n % 3 if isinstance(value, Val) else 1


BOUNDS: dict[str, dict[str, Any]] = {
    "size1": {"max_size": 1},
    "size3": {"max_size": 3},
    "size6": {"max_size": 6},
    "weight4": {"max_weight": 4, "weigher": _weight},
    "weight1": {"max_weight": 1, "weigher": _weight},  # a weight of 2 is refused
    "size4_weight5": {"max_size": 4, "max_weight": 5, "weigher": _weight},
}


@pytest.mark.parametrize("bounds", sorted(BOUNDS))
def test_bounded_cores_match_the_model(cache_classes: dict[str, type], clock: Any, bounds: str) -> None:
    start_ns = clock.now
    run_state_machine_as_test(
        lambda: CacheMachine(cache_classes, clock, start_ns, **BOUNDS[bounds]),
        settings=settings(
            max_examples=60,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
