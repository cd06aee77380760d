"""Active expiry: the core's bounded sweep step (both cores) and the background sweeper."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from godistcache import Cache
from godistcache.sweep import Sweeper

from .conftest import FrozenClock, wait_for


def test_sweep_steps_are_bounded_and_wrap(cache: Any, clock: FrozenClock) -> None:
    for i in range(1000):
        cache.put(i, i, 10 if i % 2 else 0)
    clock.advance(11)
    freed_total, steps = 0, 0
    while True:
        freed, done = cache._sweep(100)
        assert freed <= 100
        freed_total += freed
        steps += 1
        if done:
            break
    assert freed_total == 500 and steps == 10
    assert len(list(cache._iter(0))) == 500 and all(k % 2 == 0 for k in cache)
    # The next pass starts over and finds nothing more.
    assert cache._sweep(10_000) == (0, True)
    with pytest.raises(ValueError, match="max_entries"):
        cache._sweep(0)


def test_sweep_survives_changes_between_steps(cache: Any, clock: FrozenClock) -> None:
    for i in range(500):
        cache.put(i, i, 5)
    cache._sweep(100)
    for i in range(500, 3000):  # grows (and compacts) between two steps
        cache.put(i, i)
    cache.clear()
    for i in range(50):
        cache.put(i, i, 1)
    clock.advance(2)
    freed = 0
    for _ in range(10):
        n, done = cache._sweep(20)
        freed += n
        if done:
            break
    while not done:
        n, done = cache._sweep(20)
        freed += n
    assert freed <= 50
    cache._sweep(10_000)
    assert list(cache._iter(0)) == []


def test_background_sweeper_frees_without_reads(clock: FrozenClock) -> None:
    c = Cache(sweep_interval=0.02)
    sweeper = c.sweeper
    assert isinstance(sweeper, Sweeper) and sweeper.running
    for i in range(20_000):
        c.put(i, i, 1 if i % 4 else 0)
    clock.advance(2)
    wait_for(lambda: sweeper.freed == 15_000)
    assert sweeper.passes >= 1
    assert len(list(c._iter(0))) == 5_000
    sweeper.stop(5)
    assert not sweeper.running and "stopped" in repr(sweeper)
    assert Cache().sweeper is None


def test_dropped_cache_with_a_sweeper_is_collected_and_its_thread_ends() -> None:
    c = Cache(sweep_interval=0.01)
    sweeper = c.sweeper
    thread = sweeper._thread
    assert thread is not None and thread.is_alive()
    del c
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


def test_sweep_interval_checked() -> None:
    with pytest.raises(ValueError, match="sweep_interval"):
        Cache(sweep_interval=0)
    with pytest.raises(ValueError, match="step"):
        Sweeper(Cache(), 1, step=0)
