"""get_or_set, aget_or_set and memoize: single flight under threads and coroutines."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from godistcache import Cache

from .conftest import FrozenClock


def test_get_or_set_stores_and_returns(clock: FrozenClock) -> None:
    c = Cache()
    assert c.get_or_set("a", lambda: [1], ttl=10) == [1]
    assert c.get_or_set("a", lambda: pytest.fail("a hit must not call the factory")) == [1]
    assert c.ttl("a") == pytest.approx(10)
    assert c.get_or_set("none", lambda: None) is None
    assert "none" in c  # None is a value like any other
    clock.advance(11)
    assert c.get_or_set("a", lambda: [2]) == [2]


def test_sixteen_threads_one_factory_call() -> None:
    c = Cache()
    calls = []
    barrier = threading.Barrier(16)
    results: list[Any] = [None] * 16

    def factory() -> str:
        calls.append(threading.get_ident())
        time.sleep(0.2)  # long enough that every thread misses while it runs
        return "value"

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = c.get_or_set("k", factory)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1
    assert results == ["value"] * 16
    assert c._flights.threads == {}  # nothing left in flight


def test_an_exception_reaches_every_waiter_and_is_not_cached() -> None:
    c = Cache()
    calls = []
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def factory() -> str:
        calls.append(1)
        time.sleep(0.2)
        raise ValueError("backend down")

    def worker() -> None:
        barrier.wait()
        try:
            c.get_or_set("k", factory)
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(errors) == 8
    assert all(str(e) == "backend down" for e in errors)
    assert "k" not in c
    assert c.get_or_set("k", lambda: "recovered") == "recovered"  # the next call tries again


def test_factory_calling_back_into_the_cache_does_not_deadlock() -> None:
    c = Cache()
    done = threading.Event()

    def inner() -> str:
        # The same key, from inside its own factory, and another key.
        c.get_or_set("other", lambda: "o")
        return "inner " + c.get_or_set("k", lambda: "nested")

    def run() -> None:
        assert c.get_or_set("k", inner) == "inner nested"
        done.set()

    t = threading.Thread(target=run)
    t.start()
    t.join(5)
    assert done.is_set(), "deadlocked"
    assert c["k"] == "inner nested" and c["other"] == "o"
    # The factory may also change the cache in any other way.
    assert c.get_or_set("x", lambda: c.clear() or "after clear") == "after clear"
    assert c["x"] == "after clear"


def test_memoize_sync(clock: FrozenClock) -> None:
    c = Cache()
    calls = []

    @c.memoize(ttl=30)
    def square(x: int, *, offset: int = 0) -> int:
        """Square x."""
        calls.append((x, offset))
        return x * x + offset

    assert square(3) == 9 and square(3) == 9
    assert square(3, offset=1) == 10 and square(4) == 16
    assert calls == [(3, 0), (3, 1), (4, 0)]
    assert square.__doc__ == "Square x." and square.__name__ == "square"
    clock.advance(31)
    assert square(3) == 9 and len(calls) == 4

    @c.memoize
    def ident(x: Any) -> Any:
        return x

    with pytest.raises(TypeError, match="not hashable.*key="):
        ident([1])

    @c.memoize(key=lambda items: ("len", len(items)))
    def first(items: list[int]) -> int:
        return items[0]

    assert first([5, 6]) == 5 and first([7, 8]) == 5  # same key: length 2
    assert c[("len", 2)] == 5


def test_memoize_async_single_flight_and_errors() -> None:
    c = Cache()
    calls = []

    @c.memoize(ttl=60)
    async def fetch(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0.05)
        return x + 1

    @c.memoize
    async def broken(x: int) -> int:
        calls.append(-x)
        await asyncio.sleep(0.05)
        raise RuntimeError("no")

    async def main() -> None:
        assert await asyncio.gather(*[fetch(1) for _ in range(16)]) == [2] * 16
        results = await asyncio.gather(*[broken(2) for _ in range(5)], return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        # A cancelled caller does not cancel the computation the others wait for.
        first = asyncio.ensure_future(fetch(7))
        second = asyncio.ensure_future(fetch(7))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == 8
        with pytest.raises(asyncio.CancelledError):
            await first

    asyncio.run(main())
    assert calls == [1, -2, 7]
    # A nested function's keys carry a token of its own after its module and qualified name.
    (stored,) = [k for k in c if k[2:] == (1,)]
    assert stored[0] == fetch.__module__ and stored[1][0] == fetch.__qualname__
    assert c[stored] == 2 and c.ttl(stored) == pytest.approx(60, abs=5)
    assert len(c) == 2  # fetch(1) and fetch(7); broken(2) stored nothing
