"""Threads on one cache with the GIL off (3.14t): what safety costs one thread, and how reads scale.

    PYTHON_GIL=0 python3.14t benchmarks/free_threading.py --against python3.14
    PYTHON_GIL=0 python3.14t benchmarks/free_threading.py --stress 60

Figures (issue 15), each beside its reference measured in the same run:

- GET hit, 1 thread, this interpreter vs ``--against`` (3.14 with the GIL):
  the same script timed in both, in alternating rounds, best round each;
- GET hit, 2 threads vs 1 thread on this interpreter: total hits per second
  (goal >= 1.7x on 2 cores: reads scale), with ``dict`` measured alike;
- mixed 90% GET / 10% PUT, 2 threads vs 1 (goal >= 1.4x), ``dict`` alike;
- ``--stress S``: the 8-thread stress of every call (``godistcache._stress``)
  for S seconds, then its consistency checks.

The keys are 10,000 short str, all present; each thread walks its own
shuffled copy. Threads start together on a barrier; a round's time is the
slowest thread's. Best of ``--rounds``; the machine is shared, so only the
ratios mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from godistcache import Cache

GOALS = {"one_thread_vs_gil": 0.85, "get_2_threads": 1.7, "mixed_2_threads": 1.4}
KEYS = 10_000


def _gil() -> bool:
    return bool(getattr(sys, "_is_gil_enabled", lambda: True)())


def _filled(kind: str) -> Any:
    c: Any = Cache() if kind == "cache" else {}
    for i in range(KEYS):
        c[f"key:{i}"] = i
    return c


def _get_loop(c: Any, keys: list[str], n: int) -> None:
    get = c.get
    for _ in range(n):
        for k in keys:
            get(k)


def _mixed_loop(c: Any, keys: list[str], n: int) -> None:
    get = c.get
    put = c.__setitem__
    for _ in range(n):
        for i, k in enumerate(keys):
            if i % 10 == 0:
                put(k, i)
            else:
                get(k)


def _round(loop: Callable[[Any, list[str], int], None], c: Any, threads: int, passes: int) -> float:
    """Operations per second of ``threads`` threads each running loop(passes) over its own shuffled keys."""
    keysets = []
    for t in range(threads):
        keys = [f"key:{i}" for i in range(KEYS)]
        random.Random(t).shuffle(keys)
        keysets.append(keys)
    barrier = threading.Barrier(threads + 1)
    ends: list[float] = []

    def run(keys: list[str]) -> None:
        barrier.wait()
        loop(c, keys, passes)
        ends.append(time.perf_counter())

    workers = [threading.Thread(target=run, args=(keys,)) for keys in keysets]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return threads * passes * KEYS / (max(ends) - start)


def measure(rounds: int, passes: int) -> dict[str, float]:
    """Best ops/s of each (container, workload, threads), in alternating rounds."""
    cases = [
        (kind, name, loop, threads)
        for kind in ("cache", "dict")
        for name, loop in (("get", _get_loop), ("mixed", _mixed_loop))
        for threads in (1, 2)
    ]
    containers = {"cache": _filled("cache"), "dict": _filled("dict")}
    best: dict[str, float] = {}
    for r in range(rounds):
        for kind, name, loop, threads in cases[r % len(cases) :] + cases[: r % len(cases)]:
            key = f"{kind} {name} x{threads}"
            best[key] = max(best.get(key, 0.0), _round(loop, containers[kind], threads, passes))
    return best


def _single(rounds: int, passes: int) -> float:
    """Best ns per GET hit on one thread (the measurement --against repeats in the other interpreter)."""
    c = _filled("cache")
    keys = [f"key:{i}" for i in range(KEYS)]
    random.Random(0).shuffle(keys)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        _get_loop(c, keys, passes)
        best = min(best, (time.perf_counter() - t0) / (passes * KEYS) * 1e9)
    return best


def against(python: str, rounds: int, passes: int) -> tuple[float, float]:
    """(ns here, ns there): a GET hit on one thread, in alternating rounds of this interpreter and python."""
    here = there = float("inf")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    cmd = [python, __file__, "--single", "--rounds", "1", "--passes", str(passes)]
    for _ in range(rounds):
        here = min(here, _single(1, passes))
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        there = min(there, json.loads(out.strip().splitlines()[-1])["ns"])
    return here, there


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--passes", type=int, default=30, help="passes over the keys per thread per round")
    parser.add_argument("--against", metavar="PYTHON", help="the interpreter the one-thread GET is compared with")
    parser.add_argument("--stress", type=float, metavar="SECONDS", help="run the 8-thread stress this long")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single:
        print(json.dumps({"ns": _single(args.rounds, args.passes)}))
        return 0
    version = sys.version.split()[0]
    print(
        f"CPython {version}, GIL {'on' if _gil() else 'off'}, {os.cpu_count()} CPUs; {KEYS:,} keys, best of "
        f"{args.rounds} rounds"
    )
    if args.stress:
        from godistcache._stress import stress

        report = stress(seconds=args.stress, threads=8)
        print(f"stress: {report}; consistent (0 crashes)")
    best = measure(args.rounds, args.passes)
    print(f"{'case':24} {'Mops/s':>8}")
    for key, ops in best.items():
        print(f"{key:24} {ops / 1e6:8.2f}")
    for kind in ("cache", "dict"):
        g = best[f"{kind} get x2"] / best[f"{kind} get x1"]
        m = best[f"{kind} mixed x2"] / best[f"{kind} mixed x1"]
        print(f"{kind:6} GET 2 threads / 1: {g:.2f}x   mixed 90/10 2 threads / 1: {m:.2f}x")
    print(f"goals (cache): GET 2 threads >= {GOALS['get_2_threads']}x, mixed >= {GOALS['mixed_2_threads']}x")
    if args.against:
        here, there = against(args.against, args.rounds, args.passes)
        print(
            f"GET hit, 1 thread: {here:.1f} ns here, {there:.1f} ns with {args.against}: speed "
            f"{there / here:.2f}x (goal >= {GOALS['one_thread_vs_gil']}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
