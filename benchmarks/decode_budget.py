"""The decode budget's cost and effect (issue 11, item 3), each figure beside its reference from the same run.

- load time: ``Cache.load`` of the benchmark's cache (1M entries ``f"key:{i}" -> ("One", i, 3.3)``) with
  this build, beside the same file loaded by a baseline build (``--baseline PYTHON``: the interpreter of a
  checkout built before the budget, e.g. 83269cb), alternating runs so that noise hits both alike;
- memory: peak traced memory (tracemalloc) of decoding each dataset, as a multiple of its file size,
  for the hostile files (refused) and realistic ones (loaded).

Usage: ``python benchmarks/decode_budget.py [--entries N] [--rounds R] [--baseline PYTHON]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from typing import Any

from godistcache import Cache
from godistcache._bench_snapshot import Point, filled_cache

_CHILD = """
import gc, sys, time
from godistcache import Cache
path, rounds = sys.argv[1], int(sys.argv[2])
c = Cache()
best = float("inf")
for _ in range(rounds):
    gc.collect()
    t0 = time.perf_counter()
    c.load(path)
    best = min(best, time.perf_counter() - t0)
print(best)
"""


def load_time(python: str, path: str, rounds: int) -> float:
    """Best load time of path in a fresh process of python (so each build imports its own package)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [python, "-c", _CHILD, path, str(rounds)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    return float(out.stdout.strip())


def peak_ratio(path: str, load: Callable[[str], Any]) -> tuple[float, str]:
    gc.collect()
    tracemalloc.start()
    try:
        load(path)
        outcome = "loaded"
    except Exception as exc:  # noqa: BLE001 - the figure says what happened
        outcome = type(exc).__name__
    finally:
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return used / os.path.getsize(path), outcome


def datasets(n: int) -> dict[str, tuple[Cache, bool]]:
    """name -> (cache, saved with allow_pickle)."""
    out: dict[str, tuple[Cache, bool]] = {}

    def one(name: str, value: Any) -> None:
        c = Cache()
        c["k"] = value
        out[name] = (c, False)

    m = max(n // 5, 1)
    one("hostile: [set()] * N", [set()] * m)
    one("hostile: [{}] * N", [{}] * m)
    one("hostile: [[None]] * N", [[None]] * m)
    out["benchmark: N tuples"] = (filled_cache(m), False)
    out["benchmark: N/5 dataclasses"] = (filled_cache(max(m // 5, 1), value=lambda i: Point(i, 3.3, "One")), True)
    one("list of medium ints", list(range(1000, 1000 + m)))
    one("dict str -> int", {f"k{i}": i for i in range(m)})
    one("set of ints", set(range(10**6, 10**6 + m)))
    one("pairs (i, i + 1)", [(i, i + 1) for i in range(m)])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", help="python of a build without the budget, for the load-time ratio")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="godistcache-budget-") as tmp:
        path = os.path.join(tmp, "bench.godistcache")
        filled_cache(args.entries).save(path)
        if args.baseline:
            ours, base = [], []
            for _ in range(3):  # alternate, so that noise on this shared box hits both
                ours.append(load_time(sys.executable, path, args.rounds))
                base.append(load_time(args.baseline, path, args.rounds))
            print(
                f"load {args.entries} entries: with budget {min(ours):.3f} s, baseline {min(base):.3f} s, "
                f"ratio {min(ours) / min(base):.3f}"
            )
        else:
            print(
                f"load {args.entries} entries: {load_time(sys.executable, path, args.rounds):.3f} s "
                "(pass --baseline PYTHON for the ratio to a build without the budget)"
            )
        print(f"\npeak traced memory / file size (budget: 16 x file + 1 MiB), {args.entries // 5} items each:")
        for name, (cache, pickled) in datasets(args.entries).items():
            p = os.path.join(tmp, "d.godistcache")
            cache.save(p, allow_pickle=pickled)
            ratio, outcome = peak_ratio(p, lambda q: Cache().load(q, allow_pickle=pickled))  # noqa: B023 - called at once
            print(f"  {name:30s} {os.path.getsize(p):>10} B  load {ratio:6.2f}x  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
