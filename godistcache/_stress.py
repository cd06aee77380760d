"""Many threads on one cache, every kind of call at once: the free-threading stress.

Used by ``tests/test_free_threading.py`` (a few seconds, both cores) and by
``benchmarks/free_threading.py --stress 60`` (the figure issue 15 asks for,
on 3.14t with the GIL off). Run it alone with::

    PYTHON_GIL=0 python -m godistcache._stress --seconds 60 --threads 8

Every thread mixes puts (with and without TTL), gets, deletes, pops,
membership, iteration, copies, snapshots saved and loaded (replacing and
merging), memoized calls, sealed puts and gets, direct seals, expiry sweeps,
clears, a bound reset and listener swaps on one bounded cache that evicts
all the time. Values name their key, so a value under the wrong key, a torn
entry or a lost one is seen by the checks during the run and after it:

- every value read (get, iteration, copy, a loaded snapshot, an eviction
  notice) belongs to its key;
- the cache never holds more than its bound, and its length, its keys and
  its iteration agree once the threads stop;
- no nonce was handed out twice by the shared keyring;
- a snapshot of the final state loads back to the same entries.

A crash is what the GIL-off build would show if the core were unsafe: it
kills the process, so the caller's test or benchmark fails.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Any, Optional

__all__ = ["StressReport", "main", "stress"]

KEYS = 1024
BOUND = 300
_ITER_CHANGED = "cache changed during iteration"


class StressReport:
    """What a run did: operations per kind, seals, evictions seen, threads' errors."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.nonces = 0
        self.evictions = 0
        self.errors: list[BaseException] = []
        self.seconds = 0.0

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    def __repr__(self) -> str:
        return (
            f"StressReport({self.total} ops in {self.seconds:.1f} s, {self.nonces} seals, "
            f"{self.evictions} evictions, {len(self.errors)} errors)"
        )


def _check_item(key: Any, value: Any) -> None:
    if isinstance(key, tuple) and key and key[0] == "s":
        if not isinstance(value, bytes):  # a sealed value's blob
            raise AssertionError(f"sealed key {key!r} holds {value!r}")
        return
    if isinstance(key, tuple) and len(key) > 2 and value == (key[-1], key[-1] * 2):  # memoize's f(x)
        return
    if not (isinstance(value, tuple) and value and value[0] == key):
        raise AssertionError(f"key {key!r} holds {value!r}")


def _worker(
    cache: Any,
    seed: int,
    deadline: float,
    folder: str,
    report: StressReport,
    nonces: list[bytes],
    lock: threading.Lock,
) -> None:
    rng = random.Random(seed)
    ops: Counter[str] = Counter()
    mine: list[bytes] = []
    path = os.path.join(folder, f"t{seed}.godistcache")
    cls = type(cache)
    twice = cache.memoize(lambda x: (x, x * 2))
    keyring = cache.keyring
    try:
        while time.monotonic() < deadline:
            for _ in range(100):
                key: Any = rng.randrange(KEYS)
                if rng.random() < 0.3:
                    key = f"k{key}"
                r = rng.random()
                if r < 0.22:
                    op = "put"
                    cache.put(key, (key, seed))
                elif r < 0.30:
                    op = "put_ttl"
                    cache.put(key, (key, seed), ttl=rng.choice((1e-6, 1e-4, 0.01)))
                elif r < 0.52:
                    op = "get"
                    value = cache.get(key)
                    if value is not None:
                        _check_item(key, value)
                elif r < 0.57:
                    op = "delete"
                    cache.delete(key)
                elif r < 0.60:
                    op = "pop"
                    value = cache.pop(key, None)
                    if value is not None:
                        _check_item(key, value)
                elif r < 0.64:
                    op = "contains"
                    key in cache  # noqa: B015
                elif r < 0.66:
                    op = "len"
                    if not 0 <= len(cache) <= BOUND:
                        raise AssertionError(f"len {len(cache)} outside 0..{BOUND}")
                elif r < 0.68:
                    op = "iterate"
                    try:
                        for k, v in cache.items():
                            _check_item(k, v)
                    except RuntimeError as exc:
                        if str(exc) != _ITER_CHANGED:
                            raise
                elif r < 0.685:
                    op = "copy"
                    snapshot = cache.copy()
                    if len(snapshot) > BOUND:
                        raise AssertionError(f"a copy holds {len(snapshot)} > {BOUND}")
                    for k, v in snapshot.items():
                        _check_item(k, v)
                elif r < 0.69:
                    op = "save_load"
                    cache.save(path)
                    fresh = cls(max_size=BOUND, cipher_key=keyring)
                    fresh.load(path)
                    for k, v in fresh.items():
                        _check_item(k, v)
                    if rng.random() < 0.2:
                        cache.load(path, merge=rng.random() < 0.5)
                elif r < 0.76:
                    op = "memoize"
                    x = rng.randrange(64)
                    if twice(x) != (x, x * 2):
                        raise AssertionError(f"memoized f({x}) wrong")
                elif r < 0.82:
                    op = "put_crypt"
                    cache.put_crypt(("s", key), key)
                elif r < 0.88:
                    op = "get_crypt"
                    got = cache.get_crypt(("s", key))
                    if got is not None and got != key:
                        raise AssertionError(f"sealed ('s', {key!r}) opened to {got!r}")
                elif r < 0.93:
                    op = "seal"
                    blob = keyring.seal(b"x", b"aad")
                    mine.append(blob[5:17])  # version, 4-byte key id, then the 12-byte nonce
                elif r < 0.96:
                    op = "expire"
                    cache.expire()
                elif r < 0.965:
                    op = "clear"
                    cache.clear()
                elif r < 0.97:
                    op = "on_evict"
                    cache.on_evict = cache.on_evict  # a swap of the same listener, racing its calls
                else:
                    op = "setitem"
                    cache[key] = (key, seed)
                ops[op] += 1
    except BaseException as exc:  # noqa: BLE001 - reported by the caller
        with lock:
            report.errors.append(exc)
    with lock:
        report.ops.update(ops)
        nonces.extend(mine)


def stress(cache_cls: Any = None, *, seconds: float = 2.0, threads: int = 8) -> StressReport:
    """Run the workload on a new cache of ``cache_cls`` (``Cache``) and check it; raise AssertionError if wrong."""
    if cache_cls is None:
        from .cache import Cache

        cache_cls = Cache
    report = StressReport()
    evicted: list[tuple[Any, Any, str]] = []

    def listener(key: Any, value: Any, cause: str) -> None:
        evicted.append((key, value, cause))
        if len(evicted) > 10_000:
            del evicted[:5_000]

    cache = cache_cls(max_size=BOUND, cipher_key=os.urandom(32), on_evict=listener)
    nonces: list[bytes] = []
    lock = threading.Lock()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # with the GIL: switch often, inside the pure-Python core too
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as folder:
            deadline = time.monotonic() + seconds
            workers = [
                threading.Thread(target=_worker, args=(cache, seed, deadline, folder, report, nonces, lock))
                for seed in range(threads)
            ]
            for t in workers:
                t.start()
            for t in workers:
                t.join()
            report.seconds = time.monotonic() - start
            report.nonces = len(nonces)
            report.evictions = len(evicted)
            if report.errors:
                raise AssertionError(f"{len(report.errors)} thread(s) failed: {report.errors[:3]!r}") from (
                    report.errors[0]
                )
            _check_after(cache, evicted, nonces, os.path.join(folder, "final.godistcache"))
    finally:
        sys.setswitchinterval(interval)
    return report


def _check_after(cache: Any, evicted: list[tuple[Any, Any, str]], nonces: list[bytes], path: str) -> None:
    if len(set(nonces)) != len(nonces):
        raise AssertionError(f"a nonce was handed out twice: {len(nonces) - len(set(nonces))} repeats")
    for key, value, _cause in evicted:
        _check_item(key, value)
    cache.put("frozen", ("frozen", -1))  # nothing below may expire: entries with a TTL are dropped first
    time.sleep(0.02)
    cache.expire()
    keys = list(cache.keys())
    if len(keys) != len(set(keys)) or len(keys) != len(cache) or len(cache) > BOUND:
        raise AssertionError(f"{len(keys)} keys ({len(set(keys))} distinct) but len {len(cache)}, bound {BOUND}")
    items = dict(cache.items())
    for k, v in items.items():
        _check_item(k, v)
        if cache.get(k) is not v:
            raise AssertionError(f"get({k!r}) disagrees with iteration")
    cache.save(path)
    back = type(cache)(max_size=BOUND, cipher_key=cache.keyring)
    back.load(path)
    if dict(back.items()) != items:
        raise AssertionError("the final snapshot does not load back to the same entries")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print(f"{sys.version.split()[0]} GIL {'on' if gil else 'off'}: {args.threads} threads, {args.seconds:g} s")
    report = stress(seconds=args.seconds, threads=args.threads)
    print(report)
    for op, n in sorted(report.ops.items()):
        print(f"  {op:10} {n}")
    print("consistent: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
