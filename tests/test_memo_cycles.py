"""get_or_set and aget_or_set never wait in a circle: factories that need each other's keys finish.

Threads are daemons joined with a timeout, and coroutines run under ``asyncio.wait_for``, so that a
regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from godistcache import Cache
from godistcache import memo as _memo

TIMEOUT = 10.0


def run_threads(*targets: Callable[[], Any]) -> list[Any]:
    """Run each target in a daemon thread; their results (an exception counts as one). Fails on a hang."""
    results: list[Any] = [None] * len(targets)

    def runner(i: int) -> None:
        try:
            results[i] = targets[i]()
        except BaseException as exc:  # noqa: BLE001  (reported through results)
            results[i] = exc

    threads = [threading.Thread(target=runner, args=(i,), daemon=True) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "deadlocked: a thread is still waiting"
    return results


def assert_no_flights(*caches: Cache) -> None:
    for c in caches:
        assert c._flights.threads == {} and c._flights.tasks == {}
    assert _memo._thread_waits == {} and _memo._task_waits == {}


def test_two_threads_whose_factories_need_each_others_key() -> None:
    c = Cache()
    both_leading = threading.Barrier(2, timeout=TIMEOUT)

    def fx() -> str:
        both_leading.wait()  # each thread now computes its key; each then asks for the other's
        return "x(" + c.get_or_set("y", lambda: "y0") + ")"

    def fy() -> str:
        both_leading.wait()
        return "y(" + c.get_or_set("x", lambda: "x0") + ")"

    x, y = run_threads(lambda: c.get_or_set("x", fx), lambda: c.get_or_set("y", fy))
    # One of them waited for the other; the other computed the key it asked for itself.
    assert (x, y) in [("x(y(x0))", "y(x0)"), ("x(y0)", "y(x(y0))")]
    assert (c["x"], c["y"]) == (x, y)
    assert_no_flights(c)


def test_three_threads_in_a_cycle() -> None:
    c = Cache()
    all_leading = threading.Barrier(3, timeout=TIMEOUT)
    ring = {"a": "b", "b": "c", "c": "a"}

    def leader(k: str) -> Callable[[], str]:
        def factory() -> str:
            all_leading.wait()
            return k + "(" + c.get_or_set(ring[k], lambda: ring[k] + "0") + ")"

        return lambda: c.get_or_set(k, factory)

    results = run_threads(leader("a"), leader("b"), leader("c"))
    assert all(isinstance(r, str) for r in results), results
    # Exactly one thread broke the cycle: its inner key got the plain "0" value.
    assert sum(r.endswith("0)") for r in results) == 1
    assert [c[k] for k in "abc"] == results
    assert_no_flights(c)


def test_a_cycle_through_two_caches() -> None:
    a, b = Cache(), Cache()
    both_leading = threading.Barrier(2, timeout=TIMEOUT)

    def fa() -> str:
        both_leading.wait()
        return "a(" + b.get_or_set("k", lambda: "b0") + ")"

    def fb() -> str:
        both_leading.wait()
        return "b(" + a.get_or_set("k", lambda: "a0") + ")"

    ra, rb = run_threads(lambda: a.get_or_set("k", fa), lambda: b.get_or_set("k", fb))
    assert (ra, rb) in [("a(b(a0))", "b(a0)"), ("a(b0)", "b(a(b0))")]
    assert_no_flights(a, b)


def test_a_cycle_with_no_way_out_fails_as_plain_recursion_does() -> None:
    """x needs y needs x, always: computing in place recurses until RecursionError, which every waiter gets."""
    c = Cache()
    both_leading = threading.Barrier(2, timeout=TIMEOUT)

    def fx() -> Any:
        return c.get_or_set("y", fy)

    def fy() -> Any:
        return c.get_or_set("x", fx)

    def lead(key: str, factory: Callable[[], Any]) -> Callable[[], Any]:
        def first() -> Any:
            both_leading.wait()
            return factory()

        return lambda: c.get_or_set(key, first)

    results = run_threads(lead("x", fx), lead("y", fy))
    assert [type(r) for r in results] == [RecursionError, RecursionError]
    assert "x" not in c and "y" not in c
    assert_no_flights(c)


def test_a_chain_is_not_a_cycle_single_flight_unchanged() -> None:
    """Waiters on a key whose computation waits for another thread's key still wait: one call each."""
    c = Cache()
    calls: list[str] = []
    b_started, release_b = threading.Event(), threading.Event()

    def fb() -> str:
        calls.append("b")
        b_started.set()
        release_b.wait(TIMEOUT)
        return "b"

    def fa() -> str:
        calls.append("a")
        return "a+" + c.get_or_set("b", fb)

    def lead_b() -> str:
        return c.get_or_set("b", fb)

    def ask_a() -> str:
        b_started.wait(TIMEOUT)
        return c.get_or_set("a", fa)

    def let_b_go() -> None:
        # Once a's leader waits for b and the 5 other a-callers for a (a chain, no cycle), let b finish.
        deadline = time.monotonic() + TIMEOUT
        while len(_memo._thread_waits) < 6 and time.monotonic() < deadline:
            time.sleep(0.005)
        release_b.set()

    results = run_threads(lead_b, *[ask_a] * 6, let_b_go)
    assert results[:7] == ["b"] + ["a+b"] * 6
    assert sorted(calls) == ["a", "b"]
    assert_no_flights(c)


def test_async_factory_awaiting_its_own_key() -> None:
    c = Cache()

    async def fx() -> str:
        await asyncio.sleep(0)
        return "x(" + await c.aget_or_set("x", inner) + ")"

    async def inner() -> str:
        await asyncio.sleep(0)
        return "x0"

    async def main() -> str:
        return await asyncio.wait_for(c.aget_or_set("x", fx), TIMEOUT)

    assert asyncio.run(main()) == "x(x0)"
    assert c["x"] == "x(x0)"
    assert_no_flights(c)


def async_cross(c1: Cache, c2: Cache, via_gather: bool) -> tuple[str, str]:
    """Two tasks of one loop: the factory of c1["x"] awaits c2["y"], whose factory awaits c1["x"]."""

    async def main() -> tuple[str, str]:
        x_started, y_started = asyncio.Event(), asyncio.Event()

        async def ask(cache: Cache, key: str, default: str) -> str:
            async def factory() -> str:
                return default

            return await cache.aget_or_set(key, factory)

        async def fx() -> str:
            x_started.set()
            await y_started.wait()
            if via_gather:  # the inner call runs in a task the factory starts
                (inner,) = await asyncio.gather(ask(c2, "y", "y0"))
            else:
                inner = await ask(c2, "y", "y0")
            return "x(" + inner + ")"

        async def fy() -> str:
            y_started.set()
            await x_started.wait()
            return "y(" + await ask(c1, "x", "x0") + ")"

        x, y = await asyncio.wait_for(asyncio.gather(c1.aget_or_set("x", fx), c2.aget_or_set("y", fy)), TIMEOUT)
        return x, y

    return asyncio.run(main())


@pytest.mark.parametrize("via_gather", [False, True], ids=["direct", "gather"])
def test_async_two_tasks_whose_factories_need_each_others_key(via_gather: bool) -> None:
    c = Cache()
    assert async_cross(c, c, via_gather) in [("x(y(x0))", "y(x0)"), ("x(y0)", "y(x(y0))")]
    assert_no_flights(c)


def test_async_cycle_through_two_caches() -> None:
    a, b = Cache(), Cache()
    assert async_cross(a, b, False) in [("x(y(x0))", "y(x0)"), ("x(y0)", "y(x(y0))")]
    assert_no_flights(a, b)


def test_async_memoized_functions_in_a_cycle() -> None:
    c = Cache()
    entered = {"f": 0, "g": 0}
    events: dict[str, asyncio.Event] = {}

    async def body(name: str, other: Callable[[], Any]) -> str:
        entered[name] += 1
        if entered[name] > 1:  # entered again: the caller that broke the cycle computes this directly
            return name + "0"
        events[name].set()
        await events["g" if name == "f" else "f"].wait()
        return name + "(" + await other() + ")"

    @c.memoize
    async def f() -> str:
        return await body("f", g)

    @c.memoize
    async def g() -> str:
        return await body("g", f)

    async def main() -> list[str]:
        events.update(f=asyncio.Event(), g=asyncio.Event())
        return list(await asyncio.wait_for(asyncio.gather(f(), g()), TIMEOUT))

    assert asyncio.run(main()) in [["f(g(f0))", "g(f0)"], ["f(g0)", "g(f(g0))"]]
    assert_no_flights(c)


def test_async_single_flight_unchanged_inside_factories() -> None:
    """Many factories awaiting one key (no cycle) still share a single computation of it."""
    c = Cache()
    calls: list[str] = []

    async def shared() -> str:
        calls.append("shared")
        await asyncio.sleep(0.01)
        return "s"

    def outer(i: int) -> Callable[[], Any]:
        async def factory() -> str:
            return f"{i}:" + await c.aget_or_set("shared", shared)

        return factory

    async def main() -> list[str]:
        return list(await asyncio.wait_for(asyncio.gather(*[c.aget_or_set(i, outer(i)) for i in range(8)]), TIMEOUT))

    assert asyncio.run(main()) == [f"{i}:s" for i in range(8)]
    assert calls == ["shared"]
    assert_no_flights(c)


@pytest.mark.skipif(not hasattr(asyncio, "eager_task_factory"), reason="eager tasks came in Python 3.12")
def test_an_eager_task_factory_does_not_block_on_the_flights_lock() -> None:
    """An eager task runs its factory, and its cleanup, inside create_task: not under the flights lock."""
    c = Cache()

    async def quick() -> int:
        return 42  # finishes without suspending: the whole flight runs within create_task

    async def main() -> int:
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
        return await c.aget_or_set("k", quick)

    assert run_threads(lambda: asyncio.run(main())) == [42]
    assert c["k"] == 42
    assert_no_flights(c)
