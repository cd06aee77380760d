"""How long a snapshot of a large cache holds up a thread that reads it.

A reader thread calls ``cache.get`` in a loop and records the time of every
successful call; meanwhile the main thread saves the cache to a file (what a
persister does before each upload). The figure is the longest gap between two
successful reads during the save, beside the longest gap in a stretch of the
same length with no save (the interpreter's own thread switching: the GIL is
handed over every ``sys.getswitchinterval()``, 5 ms by default).

    python benchmarks/pause.py                 # 1M entries
    python benchmarks/pause.py --entries 200000 --rounds 5

Goal (issue 4): at most 20 ms at 1M entries.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from godistcache._bench_snapshot import filled_cache


def longest_gap(cache: Any, keys: list[str], during: Callable[[], object]) -> tuple[float, int]:
    """Run during() while a reader thread gets keys; return (longest gap in s, reads done).

    The reader keeps only the gaps longer than 0.2 ms (as (start, end) pairs),
    so that recording costs nothing: a list of every read's time would be
    reallocated as it grows, stalling the reader itself for milliseconds.
    """
    stop = threading.Event()
    started = threading.Event()
    gaps: list[tuple[float, float]] = []
    reads = [0]

    def reader() -> None:
        get = cache.get
        clock = time.perf_counter
        n = len(keys)
        i = count = 0
        last = clock()
        started.set()
        while not stop.is_set():
            if get(keys[i]) is not None:
                now = clock()
                if now - last > 0.0002:
                    gaps.append((last, now))
                last = now
                count += 1
            i = (i + 1) % n
        reads[0] = count

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    started.wait()
    time.sleep(0.05)
    t0 = time.perf_counter()
    during()
    t1 = time.perf_counter()
    time.sleep(0.01)
    stop.set()
    thread.join()
    # The gaps that overlap [t0, t1].
    inside = [end - start for start, end in gaps if end >= t0 and start <= t1]
    return max(inside, default=0.0), reads[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    cache = filled_cache(args.entries)
    keys = [f"key:{i}" for i in range(0, args.entries, max(args.entries // 10_000, 1))]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pause.godistcache")
        saves: list[float] = []
        idles: list[float] = []
        durations: list[float] = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            gap, _reads = longest_gap(cache, keys, lambda: cache.save(path))
            durations.append(time.perf_counter() - t0)
            saves.append(gap)
            idle, _ = longest_gap(cache, keys, lambda: time.sleep(durations[-1]))
            idles.append(idle)
    print(
        f"godistcache pause while saving {args.entries:,} entries"
        f" (switch interval {sys.getswitchinterval() * 1000:.0f} ms)"
    )
    print(f"  save took            {min(durations) * 1000:7.1f} ms (best of {args.rounds})")
    print(f"  longest reader gap   {max(saves) * 1000:7.1f} ms during a save (worst of {args.rounds})")
    print(f"  longest reader gap   {max(idles) * 1000:7.1f} ms without a save, same length (worst of {args.rounds})")
    print("  goal: <= 20 ms during a save")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
