"""memoize on par with functools.lru_cache: cache_info, cache_clear, cache_parameters, typed, copy.

Most tests are ports of CPython's ``Lib/test/test_functools.py`` ``TestLRU``
checks (named after them), adapted where a shared, bounded-by-policy cache
differs from lru_cache's own dict: ``maxsize`` is the cache's ``max_size``,
and keyword arguments are keyed in sorted order (one entry for both orders).
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
import threading
from typing import Any

import pytest

from godistcache.memo import CacheInfo


def test_cache_info_is_lru_caches_shape() -> None:
    assert CacheInfo._fields == functools._CacheInfo._fields  # type: ignore[attr-defined]
    assert CacheInfo(1, 2, None, 3) == functools._CacheInfo(1, 2, None, 3)  # type: ignore[attr-defined]


def test_lru(cache: Any) -> None:
    def orig(x: int, y: int) -> int:
        return 3 * x + y

    f = cache.memoize(orig)
    assert f.cache_info() == (0, 0, None, 0)
    rng = random.Random(14)
    domain = range(5)
    for _ in range(1000):
        x, y = rng.choice(domain), rng.choice(domain)
        assert f(x, y) == orig(x, y)
    hits, misses, maxsize, currsize = f.cache_info()
    assert hits > misses
    assert hits + misses == 1000
    assert misses == currsize == 25  # every pair of the domain, once
    assert maxsize is None

    f.cache_clear()  # test clearing
    assert f.cache_info() == (0, 0, None, 0)
    assert len(cache) == 0
    f(x, y)
    assert f.cache_info() == (0, 1, None, 1)

    # a function that returns one value for every call, whose value must be cached, not recomputed
    calls = []

    def constant() -> int:
        calls.append(1)
        return 20

    g = cache.memoize(constant)
    for _ in range(5):
        assert g() == 20
    assert g.cache_info() == (4, 1, None, 1)
    assert len(calls) == 1
    assert f.cache_info() == (0, 1, None, 1)  # each wrapper counts its own calls


def test_maxsize_is_the_caches_bound(cache_cls: type[Any]) -> None:
    cache = cache_cls(max_size=20)
    f = cache.memoize(lambda x: x)
    for x in range(100):
        f(x)
    hits, misses, maxsize, currsize = f.cache_info()
    assert (hits, misses, maxsize) == (0, 100, 20)
    assert currsize == len(cache) <= 20  # evicted entries are not counted


def test_currsize_counts_only_live_entries(cache: Any) -> None:
    f = cache.memoize(lambda x: [x])
    for x in range(10):
        f(x)
    assert f.cache_info().currsize == 10
    for key in list(cache.keys())[:4]:
        del cache[key]
    assert f.cache_info().currsize == 6
    cache.clear()
    assert f.cache_info() == (0, 10, None, 0)


def test_cache_clear_removes_that_functions_entries_only(cache: Any) -> None:
    f = cache.memoize(lambda x: ("f", x))
    g = cache.memoize(lambda x: ("g", x))
    cache["mine"] = "user"
    for x in range(3):
        f(x)
        g(x)
    f(0)
    g(0)
    g(0)
    assert len(cache) == 7
    f.cache_clear()
    assert f.cache_info() == (0, 0, None, 0)
    assert g.cache_info() == (2, 3, None, 3)  # untouched
    assert len(cache) == 4 and cache["mine"] == "user"
    assert [g(x) for x in range(3)] == [("g", 0), ("g", 1), ("g", 2)]
    assert g.cache_info() == (5, 3, None, 3)


def test_cache_clear_keeps_a_shared_key_someone_else_wrote(cache: Any) -> None:
    f = cache.memoize(lambda x: ("f", x), namespace="ns")
    g = cache.memoize(lambda x: ("g", x), namespace="ns")
    assert f(1) == ("f", 1)
    assert g(1) == ("f", 1)  # one namespace, one computation: g hits f's entry
    f(2)
    cache.delete(("ns", None, 2))
    assert g(2) == ("g", 2)  # now g stored it
    f.cache_clear()
    assert ("ns", None, 1) not in cache  # f's own put goes
    assert cache[("ns", None, 2)] == ("g", 2)  # g's put stays
    assert g.cache_info().currsize == 1

    h = cache.memoize(key=lambda x: f"user:{x}")(lambda x: {"id": x})
    h(1)
    h(2)
    cache["user:1"] = "the user's own value"
    h.cache_clear()
    assert cache["user:1"] == "the user's own value"
    assert "user:2" not in cache


def test_cache_clear_cost_follows_the_functions_entries(cache: Any) -> None:
    # The registry behind cache_clear and currsize stays within twice the live entries (plus a constant),
    # however many entries the function wrote over time and however many the cache holds besides.
    cache.update({("other", i): i for i in range(5000)})
    bounded = type(cache)(max_size=100)
    f = bounded.memoize(lambda x: x)
    for x in range(20_000):
        f(x)
    assert f.cache_info().currsize == len(bounded) <= 100
    registry = f.cache_clear.__self__._keys
    assert len(registry) <= 2 * 100 + 256
    f.cache_clear()
    assert len(bounded) == 0


def test_lru_with_maxsize_none(cache: Any) -> None:
    @cache.memoize
    def fib(n: int) -> int:
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)

    assert [fib(n) for n in range(16)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610]
    assert fib.cache_info() == CacheInfo(hits=28, misses=16, maxsize=None, currsize=16)
    fib.cache_clear()
    assert fib.cache_info() == CacheInfo(hits=0, misses=0, maxsize=None, currsize=0)


def test_lru_with_keyword_args(cache: Any) -> None:
    @cache.memoize
    def fib(n: int) -> int:
        if n < 2:
            return n
        return fib(n=n - 1) + fib(n=n - 2)

    assert [fib(n=number) for number in range(16)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610]
    assert fib.cache_info() == CacheInfo(hits=28, misses=16, maxsize=None, currsize=16)
    fib.cache_clear()
    assert fib.cache_info() == CacheInfo(hits=0, misses=0, maxsize=None, currsize=0)


def test_lru_recursion_deep(cache: Any) -> None:
    @cache.memoize
    def depth(n: int) -> int:
        return 0 if n == 0 else depth(n - 1) + 1

    assert depth(100) == 100
    assert depth.cache_info() == (0, 101, None, 101)
    assert depth(100) == 100 and depth(50) == 50
    assert depth.cache_info() == (2, 101, None, 101)


def test_kwargs_order(cache: Any) -> None:
    # lru_cache keys f(a=1, b=2) and f(b=2, a=1) apart (PEP 468); memoize sorts keyword arguments, so both
    # orders share one entry, the same in every process (documented in docs/memoize.md).
    @cache.memoize
    def f(**kwargs: int) -> list[tuple[str, int]]:
        return sorted(kwargs.items())

    assert f(a=1, b=2) == [("a", 1), ("b", 2)]
    assert f(b=2, a=1) == [("a", 1), ("b", 2)]
    assert f.cache_info() == CacheInfo(hits=1, misses=1, maxsize=None, currsize=1)
    assert f(a=1) == [("a", 1)]
    assert f.cache_info() == CacheInfo(hits=1, misses=2, maxsize=None, currsize=2)


def test_lru_with_exceptions(cache: Any) -> None:
    @cache.memoize
    def func(i: int) -> str:
        return "abc"[i]

    assert func(0) == "a"
    with pytest.raises(IndexError) as first:
        func(15)
    assert first.value.__context__ is None
    with pytest.raises(IndexError):  # the previous exception did not result in a cached entry
        func(15)
    assert func.cache_info() == CacheInfo(hits=0, misses=3, maxsize=None, currsize=1)


def test_lru_type_error(cache: Any) -> None:
    @cache.memoize
    def f(x: Any) -> int:
        return 1

    with pytest.raises(TypeError, match="not hashable"):
        f([])
    assert f.cache_info() == CacheInfo(hits=0, misses=0, maxsize=None, currsize=0)


@pytest.mark.parametrize("typed", [False, True])
def test_lru_with_types(cache: Any, typed: bool) -> None:
    @cache.memoize(typed=typed)
    def square(x: Any) -> Any:
        return x * x

    assert square(3) == 9
    assert type(square(3)) is int
    assert square(3.0) == 9.0
    assert type(square(3.0)) is (float if typed else int)
    assert square(x=3) == 9
    assert square(x=3.0) == 9.0
    if typed:
        assert square.cache_info() == CacheInfo(hits=2, misses=4, maxsize=None, currsize=4)
    else:
        assert square.cache_info() == CacheInfo(hits=4, misses=2, maxsize=None, currsize=2)
    square.cache_clear()
    assert square.cache_info() == CacheInfo(hits=0, misses=0, maxsize=None, currsize=0)
    for i in range(12):
        square(i)
        square(float(i))
        square(i == 0)  # True once, then False: equal to 1 and 0
    if typed:
        assert square.cache_info() == CacheInfo(hits=10, misses=26, maxsize=None, currsize=26)
    else:
        assert square.cache_info() == CacheInfo(hits=24, misses=12, maxsize=None, currsize=12)


def test_lru_cache_parameters(cache_cls: type[Any]) -> None:
    cache = cache_cls(max_size=1000)

    @cache.memoize(typed=True, ttl=30)
    def f(x: int) -> int:
        return x

    params = f.cache_parameters()
    expected = functools.lru_cache(maxsize=1000, typed=True)(lambda: None).cache_parameters()
    assert {k: params[k] for k in expected} == expected
    assert params == {"maxsize": 1000, "typed": True, "ttl": 30, "namespace": None, "copy": False}
    params["maxsize"] = 1  # a copy: changing it changes nothing
    assert f.cache_parameters()["maxsize"] == 1000

    g = cache_cls().memoize(namespace="ns", copy=True)(lambda: None)
    assert g.cache_parameters() == {"maxsize": None, "typed": False, "ttl": None, "namespace": "ns", "copy": True}


def test_wrapped_and_metadata(cache: Any) -> None:
    def orig(x: int) -> int:
        """The docstring."""
        return x

    orig.extra = "attr"  # type: ignore[attr-defined]
    f = cache.memoize(orig)
    reference = functools.lru_cache(orig)
    assert f.__wrapped__ is orig
    for name in functools.WRAPPER_ASSIGNMENTS:
        assert getattr(f, name) == getattr(reference, name)
    assert f.extra == "attr"
    for name in ("cache_info", "cache_clear", "cache_parameters"):
        assert callable(getattr(f, name))
    assert f(3) == 3 and f.cache_info() == (0, 1, None, 1)


def test_lru_method(cache: Any) -> None:
    class X(int):
        f_cnt = 0

        @cache.memoize
        def f(self, x: int) -> int:
            self.f_cnt += 1
            return x * 10 + self

    a = X(5)
    b = X(5)
    c = X(7)
    assert X.f.cache_info() == (0, 0, None, 0)
    for x in 1, 2, 2, 3, 1, 1, 1, 2, 3, 3:
        assert a.f(x) == x * 10 + 5
    assert (a.f_cnt, b.f_cnt, c.f_cnt) == (3, 0, 0)
    assert X.f.cache_info() == (7, 3, None, 3)
    for x in 1, 2, 1, 1, 1, 1, 3, 2, 2, 2:
        assert b.f(x) == x * 10 + 5  # b == a: the same keys
    for x in 1, 2, 3:
        assert c.f(x) == x * 10 + 7
    assert (a.f_cnt, b.f_cnt, c.f_cnt) == (3, 0, 3)
    assert X.f.cache_info() == (17, 6, None, 6)


def test_lru_cache_threaded(cache: Any) -> None:
    n, m = 5, 11

    def orig(x: int, y: int) -> int:
        return 3 * x + y

    f = cache.memoize(orig)
    start = threading.Event()
    failures: list[str] = []

    def full(k: int) -> None:
        start.wait(10)
        for _ in range(m):
            if f(k, 0) != orig(k, 0):
                failures.append(f"f({k}, 0)")

    def clear() -> None:
        start.wait(10)
        for _ in range(2 * m):
            f.cache_clear()

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=full, args=[k]) for k in range(n)]
        for t in threads:
            t.start()
        start.set()
        for t in threads:
            t.join(30)
        assert f.cache_info() == (m * n - n, n, None, n)  # single flight: exact counts

        start.clear()
        threads = [threading.Thread(target=clear)] + [threading.Thread(target=full, args=[k]) for k in range(n)]
        for t in threads:
            t.start()
        start.set()
        for t in threads:
            t.join(30)
    finally:
        sys.setswitchinterval(switch)
    assert not failures
    hits, misses, _, currsize = f.cache_info()
    assert 0 <= hits + misses <= m * n
    assert currsize == len(cache) <= n


def test_lru_cache_threaded_one_key(cache: Any) -> None:
    calls: list[int] = []
    barrier = threading.Barrier(8)

    @cache.memoize
    def slow(x: int) -> int:
        calls.append(x)
        threading.Event().wait(0.1)
        return x * 2

    def worker() -> None:
        barrier.wait()
        for _ in range(1000):
            assert slow(21) == 42

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert calls == [21]
    hits, misses, _, currsize = slow.cache_info()
    assert hits + misses == 8000  # no count is lost between threads
    assert 1 <= misses <= 8 and currsize == 1


def test_copy_true_isolates_callers_from_the_cache(cache: Any) -> None:
    made: list[list[int]] = []

    @cache.memoize(copy=True)
    def listing(n: int) -> list[int]:
        result = list(range(n))
        made.append(result)
        return result

    first = listing(3)
    first.append(99)  # the caller mutates its result
    stored = next(iter(cache.values()))
    assert stored == [0, 1, 2] and stored is not made[0] and stored is not first
    second = listing(3)
    assert second == [0, 1, 2]
    second.append(100)
    assert listing(3) == [0, 1, 2] and listing(3) is not listing(3)
    assert len(made) == 1
    assert listing.cache_info() == (4, 1, None, 1)


def test_copy_false_returns_the_cached_object(cache: Any) -> None:
    listing = cache.memoize(lambda n: list(range(n)))
    assert listing(3) is listing(3)
    assert listing.cache_parameters()["copy"] is False
    assert listing.cache_info() == (1, 1, None, 1)


def test_async_memoize_has_lru_introspection(cache: Any) -> None:
    made: list[dict[str, int]] = []

    async def orig(x: int) -> dict[str, int]:
        await asyncio.sleep(0)
        made.append({"x": x})
        return made[-1]

    fetch = cache.memoize(copy=True)(orig)
    other = cache.memoize(lambda x: x)

    async def main() -> None:
        first = await fetch(1)
        first["x"] = -1
        assert await asyncio.gather(*[fetch(1) for _ in range(5)]) == [{"x": 1}] * 5
        await fetch(2)

    asyncio.run(main())
    other(1)
    assert fetch.__wrapped__ is orig
    assert fetch.cache_info() == (5, 2, None, 2)
    assert fetch.cache_parameters()["copy"] is True
    fetch.cache_clear()
    assert fetch.cache_info() == (0, 0, None, 0)
    assert len(cache) == 1 and other.cache_info() == (0, 1, None, 1)


def test_key_shapes_are_kept(cache: Any) -> None:
    # The hit path builds keys without _full_key; they must stay the shapes that snapshots and other processes hold.
    plain = cache.memoize(namespace="ns")(lambda *a, **k: 0)
    typed = cache.memoize(namespace="nt", typed=True)(lambda *a, **k: 0)
    plain(1, "x")
    plain(1, b=2, a=1)
    plain(2, a=1)
    typed(1, 2.0)
    typed(1)
    typed(True)
    typed(1, b=2.0)
    assert set(cache.keys()) == {
        ("ns", None, 1, "x"),
        ("ns", (None, None, (("a", 1), ("b", 2)), ()), 1),
        ("ns", (None, None, (("a", 1),), ()), 2),
        ("nt", (None, None, (), ("builtins.int", "builtins.float")), 1, 2.0),
        ("nt", (None, None, (), ("builtins.int",)), 1),
        ("nt", (None, None, (), ("builtins.bool",)), True),
        ("nt", (None, None, (("b", 2.0),), ("builtins.int", "builtins.float")), 1),
    }
    assert typed(1) == 0 and typed(True) == 0 and typed(1, 2.0) == 0
    assert typed.cache_info() == (3, 4, None, 4)


def test_overhead_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "memo_overhead.py"
    if not path.exists():
        pytest.skip("benchmarks/ is not part of this checkout (an sdist)")
    spec = importlib.util.spec_from_file_location("memo_overhead", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--rounds", "2", "--number", "50"]) == 0
    out = capsys.readouterr().out
    for case in bench.CASES:
        assert case in out
    ns = bench.measure(*bench.CASES["f(x), int arg"], rounds=1, number=10)
    assert set(ns) == {"memoize", "lru_cache(None)", "lru_cache(128)", "floor"} and all(v > 0 for v in ns.values())
