"""Threads hammering one cache: every method is atomic under the GIL, on both cores."""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import Any, Optional

THREADS = 8
SECONDS = 1.0
KEYSPACE = [*range(200), *(f"k{i}" for i in range(200)), *((i, "t") for i in range(100))]


def _worker(cache: Any, seed: int, deadline: float, errors: list[BaseException], counts: list[int]) -> None:
    rng = random.Random(seed)
    ops = 0
    try:
        while time.monotonic() < deadline:
            for _ in range(200):
                key = rng.choice(KEYSPACE)
                r = rng.random()
                if r < 0.25:
                    cache.put(key, (key, seed))
                elif r < 0.40:
                    cache.put(key, (key, seed), ttl=rng.choice((1e-6, 1e-4, 1e-3, 0.01)))
                elif r < 0.60:
                    value = cache.get(key)
                    assert value is None or value[0] == key
                elif r < 0.70:
                    cache.delete(key)
                elif r < 0.75:
                    cache.delete_safe(key)
                elif r < 0.80:
                    key in cache  # noqa: B015
                elif r < 0.83:
                    cache.put_safe(key, (key, seed), ttl=0.001)
                elif r < 0.86:
                    try:
                        cache.ttl(key)
                    except KeyError:
                        pass
                elif r < 0.89:
                    cache.expire()
                elif r < 0.92:
                    assert len(cache) >= 0
                elif r < 0.94:
                    try:
                        for k, v in cache.items():
                            assert v[0] == k
                    except RuntimeError as e:  # another thread changed the keys: allowed
                        assert str(e) == "cache changed during iteration"
                elif r < 0.945:
                    cache.clear()
                else:
                    cache[key] = (key, seed)
                ops += 1
    except BaseException as e:  # noqa: BLE001 - reported by the test
        errors.append(e)
    counts.append(ops)


def _hammer(cache: Any) -> int:
    errors: list[BaseException] = []
    counts: list[int] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, inside the pure-Python core too
    try:
        deadline = time.monotonic() + SECONDS
        threads = [
            threading.Thread(target=_worker, args=(cache, seed, deadline, errors, counts)) for seed in range(THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [], errors
    assert len(counts) == THREADS
    return sum(counts)


class _Freezable:
    """A timer: Unix time, or the instant it is frozen at."""

    def __init__(self) -> None:
        self.at: Optional[float] = None

    def __call__(self) -> float:
        return time.time() if self.at is None else self.at


def test_threads_hammering_one_cache(cache_cls: Any) -> None:
    timer = _Freezable()
    cache = cache_cls(timer=timer)
    assert _hammer(cache) > 0
    timer.at = time.time()  # freeze: nothing may expire between the counts below
    try:
        n = len(cache)
        assert n == len([k for k in cache.keys()]) == sum(1 for k in KEYSPACE if k in cache)
        assert all(cache[k][0] == k for k in cache)
        timer.at += 1  # every TTL used is under a second
        n_forever = len(cache)
        assert n_forever <= n
        keys = [k for k in cache]
        assert len(keys) == len(set(keys)) == n_forever
        assert set(keys) == {k for k in KEYSPACE if k in cache}
        assert all(cache.ttl(k) is None for k in cache)
    finally:
        timer.at = None
    # still fully usable
    cache.clear()
    for k in KEYSPACE:
        cache.put(k, k)
    assert [k for k in cache] == KEYSPACE
    assert len(cache) == len(KEYSPACE)
