"""Cost of ``Cache(timer=...)`` beside ``Cache()`` and a plain ``dict``, measured in the same run.

Each candidate times ``--number`` GETs (hits over shuffled keys) and PUTs of
entries with a TTL (so every GET compares an expiry with the clock):

- ``dict``: ``d.get(k)`` / ``d[k] = v``, the reference;
- ``Cache()``: the wall clock, read in C;
- ``Cache(timer=time.time)``: a Python callable read at every expiry decision;
- ``Cache(timer=time.monotonic)``: the same, in another frame.

Candidates run in alternating rounds (every candidate once per round, in a
rotated order) and each keeps its best round, so a busy machine slows them
alike. Only the ratios mean anything across machines.

    python benchmarks/timer_overhead.py
    python benchmarks/timer_overhead.py --rounds 15 --keys 10000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from godistcache import Cache
from godistcache._core.table import CORE

__all__ = ["CANDIDATES", "main", "measure"]

#: candidate name -> a fresh empty mapping with get/put (the dict is wrapped to look alike)
CANDIDATES: dict[str, Callable[[], Any]] = {
    "dict": dict,
    "Cache()": lambda: Cache(),
    "Cache(timer=time.time)": lambda: Cache(timer=time.time),
    "Cache(timer=time.monotonic)": lambda: Cache(timer=time.monotonic),
}


def _time_get(m: Any, keys: list[str]) -> float:
    get = m.get
    t0 = time.perf_counter_ns()
    for k in keys:
        get(k)
    return (time.perf_counter_ns() - t0) / len(keys)


def _time_put(make: Callable[[], Any], keys: list[str], value: Any) -> float:
    m = make()
    if isinstance(m, dict):
        t0 = time.perf_counter_ns()
        for k in keys:
            m[k] = value
        return (time.perf_counter_ns() - t0) / len(keys)
    put = m.put
    t0 = time.perf_counter_ns()
    for k in keys:
        put(k, value, 3600)
    return (time.perf_counter_ns() - t0) / len(keys)


def measure(n_keys: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Best (GET ns/op, PUT ns/op) of each candidate over alternating rounds."""
    keys = [f"key:{i}" for i in range(n_keys)]
    shuffled = keys[:]
    random.Random(0).shuffle(shuffled)
    value = ("One", 1, 3.3)
    filled: dict[str, Any] = {}
    for name, make in CANDIDATES.items():
        m = make()
        for k in keys:
            if isinstance(m, dict):
                m[k] = value
            else:
                m.put(k, value, 3600)
        filled[name] = m
    best = {name: (float("inf"), float("inf")) for name in CANDIDATES}
    names = list(CANDIDATES)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            g = _time_get(filled[name], shuffled)
            p = _time_put(CANDIDATES[name], keys, value)
            best[name] = (min(best[name][0], g), min(best[name][1], p))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000, help="entries (default 10000)")
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds; the best counts (default 9)")
    args = parser.parse_args(argv)
    best = measure(args.keys, args.rounds)
    print(f"core: {CORE}; {args.keys:,} str keys; best of {args.rounds} alternating rounds; ns per operation")
    base_get, base_put = best["Cache()"]
    dict_get, dict_put = best["dict"]
    columns = f"{'GET ns':>8} {'vs Cache()':>10} {'vs dict':>8}"
    print(f"{'candidate':<30} {columns} {columns.replace('GET', 'PUT')}")
    for name, (g, p) in best.items():
        print(
            f"{name:<30} {g:8.1f} {g / base_get:9.2f}x {g / dict_get:7.2f}x "
            f"{p:8.1f} {p / base_put:9.2f}x {p / dict_put:7.2f}x"
        )
    print("(vs: time per operation divided by the reference's; above 1.00x is slower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
