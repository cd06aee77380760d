"""Both cores against a plain model, under random operation sequences and a frozen clock.

The model keeps ``[key, value, expires_ns]`` lists in insertion order and
states the rules once: overwriting a live key keeps its position and key
object; putting a key whose entry has expired appends it anew with the new key
object; an entry is expired when now >= expires; expired entries are freed
when met by a lookup of their key, by len(), expire() or a put of their key,
and are never freed by iteration (which expire()'s count makes visible).
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

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
            del self.entries[i]
            return None
        return self.entries[i]

    def _ns(self, ns: Any) -> int:
        if isinstance(ns, type):
            raise ns("bad ttl")
        return self.default_ns if ns is None else ns

    def put(self, key: Any, value: Any, ns: Any) -> None:
        ns = self._ns(ns)
        expires = self.now() + ns if ns else 0
        i = self._index(key)
        if i is not None:
            entry = self.entries[i]
            if not self._expired(entry):
                entry[1] = value
                entry[2] = expires
                return
            del self.entries[i]
        self.entries.append([key, value, expires])

    def put_safe(self, key: Any, value: Any, ns: Any) -> bool:
        self.put(key, value, ns)
        entry = self._find_live(key)
        return entry is not None and entry[1] is value

    def get(self, key: Any, default: Any) -> Any:
        entry = self._find_live(key)
        return default if entry is None else entry[1]

    def getitem(self, key: Any) -> Any:
        entry = self._find_live(key)
        if entry is None:
            raise KeyError(key)
        return entry[1]

    def contains(self, key: Any) -> bool:
        return self._find_live(key) is not None

    def delete(self, key: Any) -> bool:
        i = self._index(key)
        if i is None:
            return False
        live = not self._expired(self.entries[i])
        del self.entries[i]
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
            del self.entries[i]
            raise KeyError(key)
        return (expires - self.now()) / 1e9

    def expire(self) -> int:
        before = len(self.entries)
        self.entries = [e for e in self.entries if not self._expired(e)]
        return before - len(self.entries)

    def len(self) -> int:
        self.expire()
        return len(self.entries)

    def clear(self) -> None:
        self.entries = []

    def set_default(self, ns: Any) -> None:
        self.default_ns = self._ns(ns) if ns is not None else 0

    def pop(self, key: Any, default: Any) -> Any:
        entry = self._find_live(key)
        if entry is None:
            return default
        self.entries.remove(entry)
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
            return entry[1]
        self.put(key, default, None)
        return default

    def live(self) -> list[tuple[Any, Any]]:
        return [(e[0], e[1]) for e in self.entries if not self._expired(e)]


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
    def __init__(self, classes: dict[str, type], clock: Any, start_ns: int) -> None:
        super().__init__()
        self.clock = clock
        clock.set(start_ns)
        self.caches = {name: cls() for name, cls in classes.items()}
        self.model = Model(lambda: self.clock.now)
        self.n = 0

    def _value(self) -> Val:
        self.n += 1
        return Val(self.n)

    def check(self, model_call: Callable[[Model], Any], cache_call: Callable[[Any], Any]) -> None:
        expected = _outcome(lambda: model_call(self.model))
        for name, cache in self.caches.items():
            actual = _outcome(lambda: cache_call(cache))
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
