"""Threads on one cache with the GIL off (3.14t): what safety costs one thread, and how reads scale.

    PYTHON_GIL=0 python3.14t benchmarks/free_threading.py --against python3.14
    PYTHON_GIL=0 python3.14t benchmarks/free_threading.py --stress 60

Figures (issue 15), each beside its reference measured in the same run:

- GET hit, 1 thread, this interpreter vs ``--against`` (3.14 with the GIL):
  the same script timed in both, in alternating rounds, best round each,
  for the cache and for ``dict`` (what the interpreter itself costs);
- GET hit, 2 threads vs 1 thread on this interpreter: total hits per second
  (goal >= 1.7x on 2 cores: reads scale), with ``dict`` measured alike;
- mixed 90% GET / 10% PUT, 2 threads vs 1 (goal >= 1.4x), ``dict`` alike;
- the same two with each thread on a container of its own ("own"): what
  the machine and the interpreter allow once nothing is shared;
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


def _round(loop: Callable[[Any, list[str], int], None], cs: list[Any], threads: int, passes: int) -> float:
    """Operations per second of ``threads`` threads each running loop(passes) over its own shuffled keys.

    Thread t works on ``cs[t % len(cs)]``: one shared container, or one each.
    """
    keysets = []
    for t in range(threads):
        keys = [f"key:{i}" for i in range(KEYS)]
        random.Random(t).shuffle(keys)
        keysets.append(keys)
    barrier = threading.Barrier(threads + 1)
    ends: list[float] = []

    def run(c: Any, keys: list[str]) -> None:
        barrier.wait()
        loop(c, keys, passes)
        ends.append(time.perf_counter())

    workers = [threading.Thread(target=run, args=(cs[t % len(cs)], keys)) for t, keys in enumerate(keysets)]
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
        (kind, name, loop, threads, own)
        for kind in ("cache", "dict")
        for name, loop in (("get", _get_loop), ("mixed", _mixed_loop))
        for threads, own in ((1, False), (2, False), (2, True))
    ]
    containers = {kind: [_filled(kind), _filled(kind)] for kind in ("cache", "dict")}
    best: dict[str, float] = {}
    for r in range(rounds):
        for kind, name, loop, threads, own in cases[r % len(cases) :] + cases[: r % len(cases)]:
            key = f"{kind} {name} x{threads}{' own' if own else ''}"
            cs = containers[kind] if own else containers[kind][:1]
            best[key] = max(best.get(key, 0.0), _round(loop, cs, threads, passes))
    return best


def _single(rounds: int, passes: int) -> dict[str, float]:
    """Best ns per GET hit on one thread, cache and dict (the measurement --against repeats elsewhere)."""
    keys = [f"key:{i}" for i in range(KEYS)]
    random.Random(0).shuffle(keys)
    best: dict[str, float] = {}
    for kind in ("cache", "dict"):
        c = _filled(kind)
        best[kind] = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            _get_loop(c, keys, passes)
            best[kind] = min(best[kind], (time.perf_counter() - t0) / (passes * KEYS) * 1e9)
    return best


def against(python: str, rounds: int, passes: int) -> tuple[dict[str, float], dict[str, float]]:
    """(ns here, ns there) by kind: a GET hit on one thread, in alternating rounds of this interpreter and python."""
    here = {"cache": float("inf"), "dict": float("inf")}
    there = dict(here)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    cmd = [python, __file__, "--single", "--rounds", "1", "--passes", str(passes)]
    for _ in range(rounds):
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        for kind, ns in json.loads(out.strip().splitlines()[-1]).items():
            there[kind] = min(there[kind], ns)
        for kind, ns in _single(1, passes).items():
            here[kind] = min(here[kind], ns)
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
        print(json.dumps(_single(args.rounds, args.passes)))
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
        for own in ("", " own"):
            g = best[f"{kind} get x2{own}"] / best[f"{kind} get x1"]
            m = best[f"{kind} mixed x2{own}"] / best[f"{kind} mixed x1"]
            where = f"one {kind} each" if own else f"one shared {kind}"
            print(f"2 threads / 1, {where:16}: GET {g:.2f}x   mixed 90/10 {m:.2f}x")
    print(f"goals (one shared cache): GET >= {GOALS['get_2_threads']}x, mixed >= {GOALS['mixed_2_threads']}x")
    if args.against:
        here, there = against(args.against, args.rounds, args.passes)
        for kind in ("cache", "dict"):
            print(
                f"GET hit, 1 thread, {kind:5}: {here[kind]:.1f} ns here, {there[kind]:.1f} ns with {args.against}: "
                f"speed {there[kind] / here[kind]:.2f}x"
            )
        print(f"goal (cache) >= {GOALS['one_thread_vs_gil']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
