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
from collections.abc import Callable
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
    assert type(Cache().memoize(f, typed=True)) is MemoFunction
    assert type(GetOverride().memoize(f, typed=True)) is not MemoFunction
    assert type(Cache().memoize(f, key=lambda x: x)) is not MemoFunction


def test_a_subclass_get_is_called_on_every_call() -> None:
    cache = GetOverride()
    f = cache.memoize(lambda x: x * 2)
    assert [f(3) for _ in range(5)] == [6] * 5
    assert f.cache_info() == (4, 1, None, 1)
    assert cache.gets >= 5


def _run(cache: Any, calls: list[tuple[tuple[Any, ...], dict[str, Any]]], typed: bool = False) -> tuple[Any, ...]:
    made: list[Any] = []

    def orig(*args: Any, **kwargs: Any) -> Any:
        made.append((args, kwargs))
        return args, kwargs

    f = cache.memoize(orig, namespace="parity", typed=typed)
    results = [f(*a, **kw) for a, kw in calls]
    keys = list(cache.keys())
    return results, made, f.cache_info(), cache.stats(), keys, [_shape(k) for k in keys]


def _shape(obj: Any) -> Any:
    """obj with the type of every item beside it, all the way down: 1, 1.0 and True are equal keys, not the same."""
    if type(obj) is tuple:
        return tuple(_shape(o) for o in obj)
    return (type(obj), obj)


calls_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from([0, 1, 2, 1.0, True, "a"]), max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["y", "z", "w", "b"]), st.sampled_from([0, 1, 1.0, None]), max_size=3),
    ),
    max_size=30,
)


@given(calls_strategy, st.sampled_from([None, 3]), st.booleans())
@settings(max_examples=100, deadline=None)
def test_counters_match_the_python_wrapper(calls: list[Any], max_size: Any, typed: bool) -> None:
    compiled = _run(Cache(max_size=max_size), calls, typed)
    assert compiled == _run(GetOverride(max_size=max_size), calls, typed)
    assert compiled == _run(cache_class("py")(max_size=max_size), calls, typed)


@given(calls_strategy, st.booleans())
@settings(max_examples=100, deadline=None)
def test_keyword_and_typed_hits_run_in_c(calls: list[Any], typed: bool) -> None:
    cache = Cache()
    f = cache.memoize(lambda *a, **k: None, typed=typed)
    for a, kw in calls:
        f(*a, **kw)
    before, fast = f.cache_info().hits, f._fast_hits
    for a, kw in calls:
        f(*a, **kw)
    hits = f.cache_info().hits - before
    assert hits == len(calls)  # every one stored by the first pass
    in_c = sum(1 for _, kw in calls if not (typed and kw))  # a typed call with keywords takes the wrapper
    assert f._fast_hits - fast == in_c


def stable(*args: Any, **kwargs: Any) -> Any:
    return args, kwargs


def _parts_of(key: Any) -> tuple[Any, ...]:
    """(first, qualname, token) read back from a memoize key: plain ``(m, q, *args)`` or ``(m, (q, t, ...), *args)``."""
    return (key[0], key[1][0], key[1][1]) if type(key[1]) is tuple else (key[0], key[1], None)


_MAKERS: dict[str, Callable[[Any, bool], Any]] = {
    "stable": lambda cache, typed: cache.memoize(stable, typed=typed),
    "namespace": lambda cache, typed: cache.memoize(stable, namespace=("ns", 1), typed=typed),
    "token": lambda cache, typed: cache.memoize(lambda *a, **k: (a, k), typed=typed),
}


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("how", list(_MAKERS))
@given(calls=calls_strategy)
@settings(max_examples=60, deadline=None)
def test_the_keys_built_in_c_are_memo_keys(how: str, typed: bool, calls: list[Any]) -> None:
    from godistcache._memo_keys import full_key

    cache, ref_cache = Cache(), cache_class("py")()
    f, ref = _MAKERS[how](cache, typed), _MAKERS[how](ref_cache, typed)
    f(0)  # resolves the function's identity
    parts = _parts_of(next(iter(cache.keys())))
    if how != "token":  # a token is one function's own: the reference has another
        assert parts == {"stable": (__name__, "stable", None), "namespace": (("ns", 1), None, None)}[how]
    for a, kw in calls:
        k = f._key_of(*a, **kw)
        if typed and kw:
            assert k is None  # left to the wrapper
            f(*a, **kw)
            continue
        plain = not kw and not typed and parts[2] is None  # memo.py's head + args, as resolve() builds it
        assert _shape(k) == _shape(parts[:2] + a if plain else full_key(parts, a, kw, typed))
        f(*a, **kw)
        assert k in cache  # the key stored is the key looked up (or one equal to it, stored before)
    if how != "token":  # the same calls store the same keys with the Python wrapper
        ref(0)
        for a, kw in calls:
            ref(*a, **kw)
        assert [_shape(x) for x in cache.keys()] == [_shape(x) for x in ref_cache.keys()]


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

    def __init__(self, clock: Any, start_ns: int, bounds: dict[str, Any], typed: bool) -> None:
        super().__init__()
        clock.set(start_ns)
        self.clock = clock
        self.caches = [Cache(**bounds), GetOverride(**bounds)]
        self.made: list[list[Any]] = [[], []]
        self.fns = [self._memoized(c, m, typed) for c, m in zip(self.caches, self.made)]
        assert type(self.fns[0]) is MemoFunction and type(self.fns[1]) is not MemoFunction

    @staticmethod
    def _memoized(cache: Any, made: list[Any], typed: bool) -> Any:
        def orig(x: int, y: Any = None) -> Any:
            made.append((x, y))
            return [x, y]

        return cache.memoize(orig, namespace="twins", ttl=5, typed=typed)

    @rule(x=st.sampled_from([0, 1, 1.0, True, 2]), y=st.sampled_from([None, "a", 1, 1.0]))
    def call_keyword(self, x: Any, y: Any) -> None:
        assert self.fns[0](x, y=y) == self.fns[1](x, y=y)

    @rule(x=st.sampled_from([0, 1.0, True, 2]))
    def call_other_type(self, x: Any) -> None:
        assert self.fns[0](x) == self.fns[1](x)

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


@pytest.mark.parametrize("typed", [False, True])
@pytest.mark.parametrize("bounds", [{}, {"max_size": 3}, {"max_size": 5}])
def test_the_compiled_hit_leaves_the_table_as_get_does(clock: Any, bounds: dict[str, Any], typed: bool) -> None:
    start_ns = clock.now
    run_state_machine_as_test(
        lambda: Twins(clock, start_ns, bounds, typed),
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


@pytest.mark.parametrize("typed", [False, True])
def test_an_expired_keyword_or_typed_entry_is_not_a_hit(clock: Any, typed: bool) -> None:
    cache = Cache()
    calls: list[Any] = []

    @cache.memoize(ttl=10, typed=typed)
    def f(x: Any, y: int = 0) -> Any:
        calls.append((x, y))
        return x

    call = (lambda: f(1.0)) if typed else (lambda: f(1, y=2))
    call()
    call()
    clock.advance(9.9)
    call()
    assert len(calls) == 1 and f._fast_hits == 2
    clock.advance(0.2)
    call()
    assert len(calls) == 2 and f._fast_hits == 2
    assert cache.stats().expired == 1
    assert f.cache_info().hits == 2 and f.cache_info().misses == 2


def test_typed_heads_past_the_bound_still_hit() -> None:
    from godistcache._memo_keys import MAX_TYPED_HEADS

    f = Cache().memoize(lambda x: type(x).__name__, typed=True)
    classes = [type(f"C{i}", (), {}) for i in range(MAX_TYPED_HEADS + 20)]
    objs = [c() for c in classes]
    assert [f(o) for o in objs] == [f"C{i}" for i in range(len(objs))]
    assert [f(o) for o in objs] == [f"C{i}" for i in range(len(objs))]
    assert f.cache_info().hits == len(objs) and f._fast_hits == len(objs)


def test_keyword_names_need_not_be_sorted_nor_identifiers() -> None:
    seen: list[Any] = []
    f = Cache().memoize(lambda **k: seen.append(k) or sorted(k))
    f(a=1)
    assert f(**{"z": 1, "a": 2, "m": 3}) == ["a", "m", "z"]
    assert f(m=3, z=1, a=2) == ["a", "m", "z"] and f(**{"not an identifier": 1, "é": 2}) == ["not an identifier", "é"]
    assert f(**{"é": 2, "not an identifier": 1}) == ["not an identifier", "é"]
    assert f(*(), **{}) == [] and len(seen) == 4  # f(**{}) is f(): a plain call
    assert f() == [] and len(seen) == 4
    assert f._fast_hits == 3


class Name(str):
    """A keyword's name that is a str subclass: left to the Python wrapper."""


def test_every_way_of_calling_with_keywords() -> None:
    cache = Cache()
    made: list[Any] = []

    @cache.memoize
    def f(x: int, y: int = 0, z: int = 0) -> tuple[int, int, int]:
        made.append((x, y, z))
        return (x, y, z)

    f(0)  # resolves the function's identity
    assert f(1, y=2) == (1, 2, 0)  # stores it
    routes: list[Callable[[], Any]] = [
        lambda: f(1, y=2),  # vectorcall: the names as a tuple, no dict
        lambda: f(*(1,), **{"y": 2}),  # a dict, turned into names by the interpreter
        lambda: MemoFunction.__call__(f, 1, y=2),  # Cython's __call__: a dict, to tp_call
        lambda: functools.partial(f, y=2)(1),
    ]
    for route in routes:
        fast = f._fast_hits
        assert route() == (1, 2, 0) and route() == (1, 2, 0)
        assert f._fast_hits == fast + 2
    assert f(y=2, x=1) == (1, 2, 0) and f(x=1, y=2) == (1, 2, 0)  # x by name: another key, in name order
    assert made == [(0, 0, 0), (1, 2, 0), (1, 2, 0)]
    assert sorted(map(repr, cache.keys())) == sorted(map(repr, [f._key_of(0), f._key_of(1, y=2), f._key_of(x=1, y=2)]))
    fast = f._fast_hits
    assert f(1, **{Name("y"): 2}) == (1, 2, 0) and f._fast_hits == fast  # the wrapper's hit
    assert f.cache_info().hits == 10 and f.cache_info().misses == 3


def test_a_keyword_call_misses_with_its_keywords() -> None:
    f = Cache().memoize(lambda *a, **k: (a, k))
    f(0)
    assert f(1, b=2, a=3) == ((1,), {"b": 2, "a": 3})
    assert f(1, a=3, b=2) == ((1,), {"b": 2, "a": 3})
    assert f.cache_info().hits == 1 and f._fast_hits == 1
    with pytest.raises(TypeError, match="the arguments of .* are not hashable"):
        f(1, c=[1])


class WithMethod:
    @Cache().memoize
    def method(self, x: int, *, y: int = 0) -> tuple[Any, int, int]:
        return (self, x, y)


def test_a_method_called_with_keywords_hits_in_c() -> None:
    obj = WithMethod()
    assert obj.method(1, y=2) == (obj, 1, 2)
    fast = WithMethod.method._fast_hits
    assert obj.method(1, y=2) == (obj, 1, 2) and obj.method(x=1, y=2) == (obj, 1, 2)
    assert WithMethod.method._fast_hits == fast + 1  # x=1 by name is another key: a miss


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
