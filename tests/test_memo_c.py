"""memoize's compiled hit path (``_core/_memo_c.pyx``) does what the Python wrapper does.

A plain call's hit runs in C: the key's hash is computed item by item without
the tuple, and the table compares stored keys item by item. These tests hold
it to the Python wrapper, which a cache whose ``get`` is a subclass's own still
uses: the same results, the same counters, the same table (S3-FIFO access
bits, expiry) after every step.
"""

from __future__ import annotations

import copy
import functools
import inspect
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from godistcache._core.memo import MemoFunction
from godistcache._testing import cache_class

from .conftest import NO_EXTENSIONS

pytestmark = pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")

Cache: Any = cache_class("c")


class GetOverride(Cache):  # type: ignore[misc, valid-type]
    """A cache whose get is its own: memoize must call it, so its calls take the Python wrapper."""

    __slots__ = ("gets",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gets = 0

    def get(self, key: Any, default: Any = None) -> Any:
        self.gets += 1
        return super().get(key, default)


class Hashed:
    """An object whose hash is given: -1 (which Python turns into -2), negatives, past 64 bits."""

    def __init__(self, h: int) -> None:
        self.h = h

    def __hash__(self) -> int:
        return self.h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hashed) and other.h == self.h


items = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, -2, 0, 1, 2**61 - 1, 2**61, -(2**61), 2**63 - 1, -(2**63)]),
    st.text(max_size=8),
    st.floats(allow_nan=False),
    st.builds(Hashed, st.integers(min_value=-(2**65), max_value=2**65)),
    st.builds(Hashed, st.sampled_from([-1, -2, 2**64 - 1, 1546275796])),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.none(),
)


@given(items, items, st.lists(items, max_size=6).map(tuple))
@settings(max_examples=500, deadline=None)
def test_hash_without_the_tuple_is_hash_of_the_tuple(first: Any, second: Any, args: tuple[Any, ...]) -> None:
    from godistcache._core._memo_c import tuple_hash

    assert tuple_hash(first, second, args) == hash((first, second, *args))


def test_a_plain_memoized_function_is_compiled_unless_get_is_overridden() -> None:
    def f(x: int) -> int:
        return x

    assert MemoFunction is not None
    assert type(Cache().memoize(f)) is MemoFunction
    assert type(GetOverride().memoize(f)) is not MemoFunction
    assert type(cache_class("py")().memoize(f)) is not MemoFunction
    assert type(Cache().memoize(f, typed=True)) is not MemoFunction


def test_a_subclass_get_is_called_on_every_call() -> None:
    cache = GetOverride()
    f = cache.memoize(lambda x: x * 2)
    assert [f(3) for _ in range(5)] == [6] * 5
    assert f.cache_info() == (4, 1, None, 1)
    assert cache.gets >= 5


def _run(cache: Any, calls: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    made: list[Any] = []

    def orig(*args: Any) -> Any:
        made.append(args)
        return args

    f = cache.memoize(orig, namespace="parity")
    results = [f(*a) for a in calls]
    return results, made, f.cache_info(), cache.stats(), list(cache.keys())


@given(st.lists(st.lists(st.integers(0, 4), max_size=3).map(tuple), max_size=30), st.sampled_from([None, 3]))
@settings(max_examples=100, deadline=None)
def test_counters_match_the_python_wrapper(calls: list[tuple[Any, ...]], max_size: Any) -> None:
    assert _run(Cache(max_size=max_size), calls) == _run(GetOverride(max_size=max_size), calls)
    assert _run(Cache(max_size=max_size), calls) == _run(cache_class("py")(max_size=max_size), calls)


def test_hits_are_counted_and_cleared() -> None:
    f = Cache().memoize(lambda x: x)
    for _ in range(3):
        for x in range(10):
            f(x)
    assert f.cache_info().hits == 20 and f.cache_info().misses == 10
    f.cache_clear()
    assert f.cache_info() == (0, 0, None, 0)
    f(1)
    f(1)
    assert f.cache_info() == (1, 1, None, 1)


def test_an_expired_entry_is_not_a_hit(clock: Any) -> None:
    cache = Cache()
    calls: list[int] = []

    @cache.memoize(ttl=10)
    def f(x: int) -> int:
        calls.append(x)
        return x

    f(1)
    f(1)
    clock.advance(9.9)
    f(1)
    assert calls == [1]
    clock.advance(0.2)
    f(1)
    assert calls == [1, 1]
    assert cache.stats().expired == 1
    assert f.cache_info().hits == 2


class Twins(RuleBasedStateMachine):
    """The same steps on a cache memoizing in C and one whose get override keeps the Python wrapper."""

    def __init__(self, clock: Any, start_ns: int, bounds: dict[str, Any]) -> None:
        super().__init__()
        clock.set(start_ns)
        self.clock = clock
        self.caches = [Cache(**bounds), GetOverride(**bounds)]
        self.made: list[list[Any]] = [[], []]
        self.fns = [self._memoized(c, m) for c, m in zip(self.caches, self.made)]
        assert type(self.fns[0]) is MemoFunction and type(self.fns[1]) is not MemoFunction

    @staticmethod
    def _memoized(cache: Any, made: list[Any]) -> Any:
        def orig(x: int, y: Any = None) -> Any:
            made.append((x, y))
            return [x, y]

        return cache.memoize(orig, namespace="twins", ttl=5)

    @rule(x=st.integers(0, 6), y=st.sampled_from([None, "a", 2**70]))
    def call(self, x: int, y: Any) -> None:
        assert self.fns[0](x, y) == self.fns[1](x, y)

    @rule(x=st.integers(0, 6))
    def call_one(self, x: int) -> None:
        assert self.fns[0](x) == self.fns[1](x)

    @rule(x=st.integers(0, 6), ttl=st.sampled_from([None, 1, 3, 20]))
    def put(self, x: int, ttl: Any) -> None:
        for cache in self.caches:
            cache.put(("twins", None, x), [x, "put"], ttl)

    @rule(x=st.integers(0, 6))
    def read(self, x: int) -> None:
        assert self.caches[0].get(("twins", None, x)) == self.caches[1].get(("twins", None, x))

    @rule(x=st.integers(0, 6))
    def delete(self, x: int) -> None:
        for cache in self.caches:
            cache.delete(("twins", None, x))

    @rule(seconds=st.sampled_from([0.5, 1, 2, 4]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: len(self.made[0]) % 5 == 4)
    @rule()
    def clear(self) -> None:
        for f in self.fns:
            f.cache_clear()

    @invariant()
    def same_table(self) -> None:
        a, b = self.caches
        assert self.made[0] == self.made[1]
        assert a.stats() == b.stats()
        assert list(a.items()) == list(b.items())
        assert self.fns[0].cache_info() == self.fns[1].cache_info()


@pytest.mark.parametrize("bounds", [{}, {"max_size": 3}, {"max_size": 5}])
def test_the_compiled_hit_leaves_the_table_as_get_does(clock: Any, bounds: dict[str, Any]) -> None:
    start_ns = clock.now
    run_state_machine_as_test(
        lambda: Twins(clock, start_ns, bounds),
        settings=settings(
            max_examples=80, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ),
    )


class Clash:
    """Equal hashes, so every lookup compares: __eq__ raises, or changes the cache, when asked."""

    on_eq: Any = None

    def __init__(self, n: int) -> None:
        self.n = n

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        if Clash.on_eq is not None:
            Clash.on_eq()
        return isinstance(other, Clash) and other.n == self.n


@pytest.mark.parametrize("make", [Cache, GetOverride])
def test_an_eq_that_raises_reaches_the_caller(make: Any) -> None:
    f = make().memoize(lambda c: c.n)
    assert f(Clash(1)) == 1

    def boom() -> None:
        raise ValueError("eq")

    Clash.on_eq = boom
    try:
        with pytest.raises(ValueError, match="eq"):
            f(Clash(1))
    finally:
        Clash.on_eq = None
    assert f(Clash(1)) == 1 and f.cache_info().hits == 1


@pytest.mark.parametrize("make", [Cache, GetOverride])
def test_an_eq_that_changes_the_cache_gets_a_right_answer(make: Any) -> None:
    cache = make()
    calls: list[int] = []

    @cache.memoize
    def f(c: Clash) -> int:
        calls.append(c.n)
        return c.n * 10

    assert f(Clash(1)) == 10 and f(Clash(2)) == 20
    writes = iter(range(3))  # a few changes: a lookup that keeps seeing changes gives up (RuntimeError), as get does

    def write() -> None:
        n = next(writes, None)
        if n is not None:
            cache.put(("other", n), 0)

    Clash.on_eq = write
    try:
        assert f(Clash(2)) == 20 and f(Clash(1)) == 10
    finally:
        Clash.on_eq = None
    assert next(writes, None) is None  # the compares did change the cache
    assert calls == [1, 2]
    assert f.cache_info().hits == 2


def test_an_unhashable_argument_says_so() -> None:
    f = Cache().memoize(lambda x: x)
    f(1)  # resolved: the next call takes the compiled path
    with pytest.raises(TypeError, match="the arguments of .* are not hashable"):
        f([1])


def test_keyword_calls_and_copies_share_the_entry() -> None:
    cache = Cache()

    @cache.memoize(copy=True)
    def f(x: int, y: int = 0) -> list[int]:
        return [x, y]

    first = f(1, 2)
    first.append("mutated")
    assert f(1, 2) == [1, 2] and f(1, 2) is not f(1, 2)
    assert f(1, y=2) == [1, 2]
    assert f.cache_info() == (3, 2, None, 2)


class Host:
    @Cache().memoize
    def method(self, x: int) -> tuple[Any, int]:
        return (self, x)

    @classmethod
    @Cache().memoize
    def klass(cls, x: int) -> tuple[Any, int]:
        return (cls, x)

    @staticmethod
    @Cache().memoize
    def static(x: int) -> int:
        return x


def test_methods_bind_as_functions_do() -> None:
    host = Host()
    assert type(vars(Host)["method"]) is MemoFunction
    assert Host.method is vars(Host)["method"]
    assert host.method(1) == (host, 1) and host.method(1) == (host, 1)
    assert inspect.ismethod(host.method) and host.method.__self__ is host
    assert Host.method(host, 1) == (host, 1)
    assert Host.method.cache_info() == (2, 1, None, 1)
    assert Host.klass(2) == (Host, 2) and host.klass(2) == (Host, 2)
    assert Host.static(3) == 3 and host.static(3) == 3
    assert host.method.cache_info().hits == 2


def plain(x: int, y: int = 1) -> int:
    """Doc of plain."""
    return x + y


memoized_plain = Cache().memoize(plain)
plain_reference = functools.lru_cache(plain)


def test_metadata_signature_pickle_and_copy_as_a_function() -> None:
    f: Any = memoized_plain
    assert type(f) is MemoFunction and f.__wrapped__ is plain
    for name in functools.WRAPPER_ASSIGNMENTS:
        assert getattr(f, name) == getattr(plain_reference, name)
    assert inspect.signature(f) == inspect.signature(plain)
    f.attribute = 1
    assert f.attribute == 1
    assert copy.copy(f) is f and copy.deepcopy(f) is f


@Cache().memoize
def decorated(x: int) -> int:
    return x


@GetOverride().memoize
def decorated_py(x: int) -> int:
    return x


def test_pickled_by_reference_as_the_python_wrapper_is() -> None:
    assert type(decorated) is MemoFunction and type(decorated_py) is not MemoFunction
    for f in (decorated, decorated_py):
        assert pickle.loads(pickle.dumps(f)) is f
    for func in (lambda: 1, plain):  # a local function; one not reachable under its name
        errors = []
        for make in (Cache, GetOverride):
            with pytest.raises((pickle.PicklingError, AttributeError)) as info:
                pickle.dumps(make().memoize(func))
            errors.append(type(info.value))
        assert errors[0] is errors[1]
