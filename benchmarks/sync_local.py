"""Sync figures that need no server (issue 13), each beside its reference measured in the same run.

    python benchmarks/sync_local.py [--entries N]

- PUT into a syncing cache (stamps, origins) beside PUT into a plain one: goal >= 0.90x.
- A delta of 1% of N changed entries beside a full snapshot of the N: bytes (goal <= 2%) and time to write (<= 5%).
- Merge of a 100K-entry delta: entries per second (goal >= 1M/s), beside a plain ``load`` of the same file.
- Memory per entry of a syncing cache beside one that only keeps write times (persist_to_s3) and a plain one
  (goal: at most 8 bytes more than the write times).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from godistcache import Cache
from godistcache._segments import apply_segment, read_segment, write_segment


def best(fn, rounds: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    n = ap.parse_args().entries
    keys = [f"key:{i}" for i in range(n)]
    value = ("One", 1, 3.3)

    def put_into(c: Cache) -> None:
        put = c.put
        for k in keys:
            put(k, value, 600)

    # PUT into a fresh cache of 10K keys (a hot loop), alternating plain and syncing, best round of each.
    small = keys[:10_000]

    def fill_fresh(sync: bool) -> None:
        for _ in range(20):
            c = Cache()
            if sync:
                c._track_changes("bench")
            put = c.put
            for k in small:
                put(k, value, 600)

    plain_t = syncing_t = float("inf")
    for _ in range(7):
        plain_t = min(plain_t, best(lambda: fill_fresh(False), 1))
        syncing_t = min(syncing_t, best(lambda: fill_fresh(True), 1))
    plain = Cache()
    put_into(plain)
    syncing = Cache()
    syncing._track_changes("bench")
    put_into(syncing)
    tracked = Cache()
    tracked._track_writes()
    put_into(tracked)
    per = [sys.getsizeof(c) / n for c in (plain, tracked, syncing)]
    print(
        f"table bytes per entry: plain {per[0]:.1f}, write times {per[1]:.1f}, syncing {per[2]:.1f} "
        f"(+{per[2] - per[1]:.1f} over write times; goal <= 8)"
    )
    print(
        f"PUT 10,000 keys into a fresh cache: plain {2e5 / plain_t / 1e6:.2f} M/s, "
        f"syncing {2e5 / syncing_t / 1e6:.2f} M/s, "
        f"ratio {plain_t / syncing_t:.2f}x (goal >= 0.90x)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.godistcache")
        delta = os.path.join(tmp, "delta.godistcache")
        cut = syncing._hlc
        for k in keys[::100]:
            syncing.put(k, ("changed", 2, 4.4), 600)
        t_full = best(lambda: syncing.save(full), 3)
        t_delta = best(
            lambda: write_segment(syncing, delta, kind="delta", seq=2, prev=1, since=cut, instance_id="bench"), 3
        )
        b_full, b_delta = os.path.getsize(full), os.path.getsize(delta)
        print(
            f"1% of {n:,} changed: delta {b_delta:,} bytes vs full snapshot {b_full:,} bytes = {b_delta / b_full:.2%} "
            "(goal <= 2%); "
            f"writing the files (no upload: sync_fleet.py times the cycle) {t_delta * 1e3:.1f} ms "
            f"vs {t_full * 1e3:.1f} ms = {t_delta / t_full:.2%}"
        )

        src = Cache()
        src._track_changes("peer")
        m = 100_000
        for k in keys[:m]:
            src.put(k, value, 600)
        seg = os.path.join(tmp, "seg.godistcache")
        write_segment(src, seg, kind="delta", seq=1, prev=0, since=-1, instance_id="peer")

        def merge() -> None:
            dst = Cache()
            dst._track_changes("me")
            apply_segment(dst, read_segment(dst, seg))

        def load() -> None:
            Cache().load(seg)

        t_merge = best(merge, 3)
        t_load = best(load, 3)
        print(
            f"merge of a {m:,}-entry delta: {m / t_merge / 1e6:.2f} M entries/s (goal >= 1M/s); "
            f"plain load of the same file {m / t_load / 1e6:.2f} M entries/s"
        )


if __name__ == "__main__":
    main()
