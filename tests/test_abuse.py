"""Hostile keys and values: Python code running inside the table must never crash it.

A key's ``__hash__``/``__eq__`` and a value's ``__del__`` run in the middle of
table operations. Their exceptions must propagate unchanged, a lookup whose
``__eq__`` changed the table must not use stale state (it starts over, as dict
does, and raises RuntimeError if the table keeps changing), and a finaliser
may use the cache freely. Afterwards the table must be consistent.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest


class HashBoom(Exception):
    pass


class EqBoom(Exception):
    pass


def assert_consistent(cache: Any) -> None:
    """len(), iteration and lookups agree, and the cache still works."""
    n = len(cache)  # first: it may free expired entries, and so run finalisers
    keys = [k for k in cache]
    assert n == len(keys) == len(list(cache.keys())) == len(list(cache.items()))
    assert sum(1 for k in keys if k in cache) == n
    sentinel = object()
    cache.put(("consistency-probe",), sentinel)
    assert cache.get(("consistency-probe",)) is sentinel
    assert cache.delete(("consistency-probe",)) is True
    assert len(cache) == n


#: Every operation that looks a key up, as a call on (cache, key).
KEY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "put": lambda c, k: c.put(k, "new"),
    "put_ttl": lambda c, k: c.put(k, "new", ttl=5),
    "put_safe": lambda c, k: c.put_safe(k, "new"),
    "setitem": lambda c, k: c.__setitem__(k, "new"),
    "get": lambda c, k: c.get(k, "default"),
    "getitem": lambda c, k: c[k],
    "contains": lambda c, k: k in c,
    "exists": lambda c, k: c.exists(k),
    "delete": lambda c, k: c.delete(k),
    "delete_safe": lambda c, k: c.delete_safe(k),
    "delitem": lambda c, k: c.__delitem__(k),
    "ttl": lambda c, k: c.ttl(k),
    "pop": lambda c, k: c.pop(k, "default"),
    "setdefault": lambda c, k: c.setdefault(k, "new"),
}


def _snapshot(cache: Any) -> list[tuple[Any, Any]]:
    return [(k, v) for k, v in cache.items()]


# -- __hash__ and __eq__ that raise --------------------------------------------------------


class RaisingHash:
    def __hash__(self) -> int:
        raise HashBoom("hash")


@pytest.mark.parametrize("op", sorted(KEY_OPS))
def test_hash_exception_propagates_and_table_is_intact(cache: Any, op: str) -> None:
    for i in range(20):
        cache.put(i, str(i))
    before = _snapshot(cache)
    with pytest.raises(HashBoom, match="^hash$"):
        KEY_OPS[op](cache, RaisingHash())
    assert _snapshot(cache) == before
    assert_consistent(cache)


class BadHashResult:
    def __hash__(self) -> Any:
        return "not an int"


@pytest.mark.parametrize("op", sorted(KEY_OPS))
def test_hash_returning_non_int_is_type_error(cache: Any, op: str) -> None:
    cache.put("a", 1)
    with pytest.raises(TypeError):
        KEY_OPS[op](cache, BadHashResult())
    assert _snapshot(cache) == [("a", 1)]


class EqKey:
    """Keys sharing one hash, so every lookup among them calls __eq__.

    ``EqKey.hook`` (when set) runs at the start of every __eq__ call.
    """

    hook: Callable[[], Any] | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return -987654321

    def __eq__(self, other: object) -> bool:
        hook = EqKey.hook
        if hook is not None:
            hook()
        return isinstance(other, EqKey) and other.name == self.name

    def __repr__(self) -> str:
        return f"EqKey({self.name!r})"


class EqLoop(Exception):
    """Raised by a hooked __eq__ called so often that the lookup would never end."""


#: More __eq__ calls than any lookup that gives up can make: the compiled table
#: gives up after 16 disturbed attempts, the pure-Python one (which can't see
#: dict's own restarts) once changes made from inside one lookup exceed
#: 1024 + 2 * len(table), i.e. at most about 1100 calls in these small tables.
MAX_EQ_CALLS = 5000


@pytest.fixture
def eq_hook() -> Any:
    """Set ``EqKey.hook``; always reset afterwards.

    The hook is wrapped so that a lookup restarting forever fails the test
    with EqLoop instead of hanging it.
    """
    calls = [0]

    def set_hook(hook: Callable[[], Any] | None) -> None:
        if hook is None:
            EqKey.hook = None
            return

        def guarded() -> None:
            calls[0] += 1
            if calls[0] > MAX_EQ_CALLS:
                EqKey.hook = None
                raise EqLoop(f"__eq__ called {calls[0] - 1} times by one lookup: it never gives up")
            hook()

        calls[0] = 0
        EqKey.hook = guarded

    try:
        yield set_hook
    finally:
        EqKey.hook = None


def _fill_with_eq_keys(cache: Any) -> EqKey:
    cache.put("first", 1)
    stored = EqKey("s")
    cache.put(stored, "S")
    cache.put("last", 2)
    return stored


@pytest.mark.parametrize("probe_name", ["s", "other"])
@pytest.mark.parametrize("op", sorted(KEY_OPS))
def test_eq_exception_propagates_and_table_is_intact(cache: Any, eq_hook: Any, op: str, probe_name: str) -> None:
    stored = _fill_with_eq_keys(cache)

    def boom() -> None:
        raise EqBoom("eq")

    before = _snapshot(cache)
    eq_hook(boom)
    with pytest.raises(EqBoom, match="^eq$"):
        KEY_OPS[op](cache, EqKey(probe_name))
    eq_hook(None)
    assert _snapshot(cache) == before
    assert cache[stored] == "S"
    assert_consistent(cache)


class BadBool:
    def __bool__(self) -> bool:
        raise EqBoom("bool")


class BadBoolKey:
    def __hash__(self) -> int:
        return 5

    def __eq__(self, other: object) -> Any:
        return BadBool()


@pytest.mark.parametrize("op", sorted(KEY_OPS))
def test_eq_returning_unusable_truth_value(cache: Any, op: str) -> None:
    cache.put(BadBoolKey(), 1)
    with pytest.raises(EqBoom, match="^bool$"):
        KEY_OPS[op](cache, BadBoolKey())
    assert len(cache) == 1


# -- __eq__ that changes the table --------------------------------------------------------

_counter = itertools.count()


#: Structural changes made once from inside a key's __eq__, on (cache, stored key).
EQ_MUTATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "clear": lambda c, s: c.clear(),
    "insert_1000": lambda c, s: [c.put(("ins", i), i) for i in range(1000)],
    "delete_stored": lambda c, s: c.delete(s),
    "delete_other": lambda c, s: c.delete("first"),
    "insert_one": lambda c, s: c.put(("ins", 0), 0),
}

#: Changes that leave the colliding key in place, with new keys every time: a
#: lookup that starts over meets it (and __eq__) again, and the table has
#: changed again.
EQ_PERSISTENT_MUTATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "clear_and_refill": lambda c, s: (c.clear(), c.put(s, "S")),
    "insert_1000": lambda c, s: [c.put(("ins", next(_counter)), i) for i in range(1000)],
    "move_stored_to_end": lambda c, s: (c.delete(s), c.put(s, "S")),
    "insert_one": lambda c, s: c.put(("ins", next(_counter)), 0),
}


@pytest.mark.parametrize("probe", ["probe", "s"], ids=["absent_key", "equal_key"])
@pytest.mark.parametrize("mutation", sorted(EQ_PERSISTENT_MUTATIONS))
@pytest.mark.parametrize("op", sorted(KEY_OPS))
def test_eq_that_keeps_changing_the_table_raises_runtime_error(
    cache: Any, eq_hook: Any, op: str, mutation: str, probe: str
) -> None:
    stored = _fill_with_eq_keys(cache)
    eq_hook(lambda: EQ_PERSISTENT_MUTATIONS[mutation](cache, stored))
    with pytest.raises(RuntimeError, match="cache changed"):
        KEY_OPS[op](cache, EqKey(probe))
    eq_hook(None)
    if probe == "probe":
        assert EqKey("probe") not in cache  # a put that raised stored nothing
    assert cache[stored] == "S"
    assert_consistent(cache)


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as e:  # noqa: BLE001 - the type is what we compare
        return "raised", type(e)


def _comparable(cache: Any) -> list[tuple[Any, Any]]:
    return [(k.name if isinstance(k, EqKey) else k, v) for k, v in cache.items()]


@pytest.mark.parametrize("probe_name", ["s", "other"])
@pytest.mark.parametrize("mutation", sorted(EQ_MUTATIONS))
@pytest.mark.parametrize("op", sorted(KEY_OPS))
def test_eq_that_changes_the_table_once(cache_cls: Any, eq_hook: Any, op: str, mutation: str, probe_name: str) -> None:
    # A lookup whose __eq__ changed the table starts over: the operation
    # behaves as if the change had happened just before it.
    reference = cache_cls()
    stored = _fill_with_eq_keys(reference)
    EQ_MUTATIONS[mutation](reference, stored)
    expected = _outcome(lambda: KEY_OPS[op](reference, EqKey(probe_name)))

    cache = cache_cls()
    stored = _fill_with_eq_keys(cache)
    fired: list[bool] = []

    def once() -> None:
        if not fired:
            fired.append(True)
            EQ_MUTATIONS[mutation](cache, stored)

    eq_hook(once)
    actual = _outcome(lambda: KEY_OPS[op](cache, EqKey(probe_name)))
    eq_hook(None)
    assert fired
    assert actual == expected
    assert _comparable(cache) == _comparable(reference)
    assert_consistent(cache)


def test_eq_that_only_overwrites_a_value_is_harmless(cache: Any, eq_hook: Any) -> None:
    stored = _fill_with_eq_keys(cache)
    eq_hook(lambda: cache.put("first", "overwritten"))
    assert cache.get(EqKey("s")) == "S"
    cache.put(EqKey("s"), "S2")
    eq_hook(None)
    assert _snapshot(cache) == [("first", "overwritten"), (stored, "S2"), ("last", 2)]
    assert_consistent(cache)


def test_eq_that_reads_the_cache_is_harmless(cache: Any, eq_hook: Any) -> None:
    stored = _fill_with_eq_keys(cache)
    seen = []
    eq_hook(lambda: seen.append((cache.get("first"), "last" in cache, len(cache), [k for k in cache])))
    assert cache.get(EqKey("s")) == "S"
    eq_hook(None)
    assert seen and seen[0] == (1, True, 3, ["first", stored, "last"])


def test_eq_that_frees_the_expired_stored_key(cache: Any, clock: Any, eq_hook: Any) -> None:
    # Freeing an expired entry changes no version, but removes the key being compared.
    cache.put("first", 1)
    stored = EqKey("s")
    cache.put(stored, "S", ttl=1)
    clock.advance(1)
    fired: list[bool] = []

    def free_it() -> None:
        if not fired:
            fired.append(True)
            cache.expire()

    eq_hook(free_it)
    assert cache.get(EqKey("s"), "default") == "default"
    cache.put(EqKey("s"), "S2")
    eq_hook(None)
    assert fired
    assert [(k if isinstance(k, str) else k.name, v) for k, v in cache.items()] == [("first", 1), ("s", "S2")]
    assert_consistent(cache)


# -- a value's (or key's) __del__ that uses the cache ---------------------------------------


class Reentrant:
    """Runs ``action(cache)`` when finalised; records what happened."""

    def __init__(self, cache: Any, action: Callable[[Any], Any], log: list[Any]) -> None:
        self.cache = cache
        self.action = action
        self.log = log

    def __del__(self) -> None:
        try:
            self.action(self.cache)
        except BaseException as e:  # noqa: BLE001 - reported by the test, not lost as unraisable
            self.log.append(e)
        else:
            self.log.append("ran")


#: What a finaliser does with the cache.
DEL_ACTIONS: dict[str, Callable[[Any], Any]] = {
    "put_new_with_ttl": lambda c: c.put(("from-del", next(_counter)), 1, ttl=1),
    "put_new": lambda c: c.put(("from-del", next(_counter)), 1),
    "put_same_key": lambda c: c.put("key", "from-del"),
    "put_many": lambda c: [c.put(("many", next(_counter)), 1, ttl=1) for _ in range(50)],
    "delete_same_key": lambda c: c.delete("key"),
    "delete_other_live": lambda c: c.delete("other-live"),
    "delete_other_expiring": lambda c: c.delete("other-expiring"),
    "get_other_expiring": lambda c: c.get("other-expiring"),
    "clear": lambda c: c.clear(),
    "expire": lambda c: c.expire(),
    "len": lambda c: len(c),
    "iterate": lambda c: [kv for kv in c.items()],
}

#: What frees the value under "key" (all entries but "other-live" have ttl=1).
DEL_TRIGGERS: dict[str, Callable[[Any, Any], Any]] = {
    "overwrite": lambda c, clk: c.put("key", "new"),
    "overwrite_setitem": lambda c, clk: c.__setitem__("key", "new"),
    "delete": lambda c, clk: c.delete("key"),
    "delitem": lambda c, clk: c.__delitem__("key"),
    "delete_safe": lambda c, clk: c.delete_safe("key"),
    "pop": lambda c, clk: c.pop("key"),
    "clear": lambda c, clk: c.clear(),
    "expire_on_get": lambda c, clk: (clk.advance(1), c.get("key")),
    "expire_on_contains": lambda c, clk: (clk.advance(1), "key" in c),
    "expire_on_ttl": lambda c, clk: (clk.advance(1), pytest.raises(KeyError, c.ttl, "key")),
    "expire_on_delete": lambda c, clk: (clk.advance(1), c.delete("key")),
    "expire_on_put": lambda c, clk: (clk.advance(1), c.put("key", "new")),
    "expire_method": lambda c, clk: (clk.advance(1), c.expire()),
    "expire_on_len": lambda c, clk: (clk.advance(1), len(c)),
}


@pytest.mark.parametrize("action", sorted(DEL_ACTIONS))
@pytest.mark.parametrize("trigger", sorted(DEL_TRIGGERS))
def test_value_finaliser_reentering_the_cache(cache: Any, clock: Any, trigger: str, action: str) -> None:
    log: list[Any] = []
    cache.put("other-live", "L")
    cache.put("key", Reentrant(cache, DEL_ACTIONS[action], log), ttl=1)
    cache.put("other-expiring", Reentrant(cache, DEL_ACTIONS[action], log), ttl=1)
    cache.put("last", "Z", ttl=1)
    DEL_TRIGGERS[trigger](cache, clock)
    assert "ran" in log, log
    assert [e for e in log if e != "ran"] == []
    assert_consistent(cache)
    # entries the finaliser put with a TTL must still expire, and be counted right
    clock.advance(5)
    assert_consistent(cache)
    cache.clear()  # free whatever Reentrant is left, while the clock is still frozen
    assert_consistent(cache)


class ReentrantKey(Reentrant):
    """The same, as a key equal to any other ReentrantKey of the same name."""

    def __init__(self, name: str, cache: Any, action: Callable[[Any], Any], log: list[Any]) -> None:
        super().__init__(cache, action, log)
        self.name = name

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReentrantKey) and other.name == self.name


#: What frees the stored key (the test holds only an equal probe, never the key itself).
KEY_TRIGGERS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "delete": lambda c, clk, probe: c.delete(probe),
    "pop": lambda c, clk, probe: c.pop(probe),
    "clear": lambda c, clk, probe: c.clear(),
    "expire_on_get": lambda c, clk, probe: (clk.advance(1), c.get(probe)),
    "expire_on_ttl": lambda c, clk, probe: (clk.advance(1), pytest.raises(KeyError, c.ttl, probe)),
    "expire_method": lambda c, clk, probe: (clk.advance(1), c.expire()),
    "expire_on_len": lambda c, clk, probe: (clk.advance(1), len(c)),
    "expire_on_put": lambda c, clk, probe: (clk.advance(1), c.put(probe, "again")),
}


@pytest.mark.parametrize("action", sorted(DEL_ACTIONS))
@pytest.mark.parametrize("trigger", sorted(KEY_TRIGGERS))
def test_key_finaliser_reentering_the_cache(cache: Any, clock: Any, trigger: str, action: str) -> None:
    log: list[Any] = []
    cache.put("other-live", "L")
    cache.put(ReentrantKey("rk", cache, DEL_ACTIONS[action], log), "K", ttl=1)
    cache.put("key", "V", ttl=1)
    cache.put("other-expiring", "E", ttl=1)
    probe = ReentrantKey("rk", cache, lambda c: None, [])
    assert log == []
    KEY_TRIGGERS[trigger](cache, clock, probe)
    assert "ran" in log, log
    assert [e for e in log if e != "ran"] == []
    assert_consistent(cache)
    clock.advance(5)
    assert_consistent(cache)
    cache.clear()
    assert_consistent(cache)


def test_finaliser_clearing_the_cache_during_clear(cache: Any) -> None:
    log: list[Any] = []
    for i in range(10):
        cache.put(i, Reentrant(cache, lambda c: (c.clear(), c.put("after", 1)), log))
    cache.clear()
    assert log == ["ran"] * 10
    assert [kv for kv in cache.items()] == [("after", 1)]
    assert_consistent(cache)


def test_finaliser_of_a_value_freed_with_the_cache(cache_cls: Any) -> None:
    log: list[Any] = []
    other = cache_cls()
    cache = cache_cls()
    cache.put("v", Reentrant(other, lambda c: c.put("from-del", 1), log))
    del cache
    assert log == ["ran"]
    assert other["from-del"] == 1
