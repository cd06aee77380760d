"""Two-way sync figures through a local SeaweedFS (issue 13), each beside its reference in the same run.

    python benchmarks/sync_fleet.py                    # 1M entries for the size figures
    python benchmarks/sync_fleet.py --entries 200000 --writes 300

Starts a SeaweedFS server on 127.0.0.1 (``tests/s3server.py``; ``weed`` from the test extra), then:

- lag: a write on A (syncing every 1 s) until B (every 1 s) holds it, over --writes writes: p50/p99/max
  (goal p99 <= 2.5 s).
- idle: 4 instances, nothing changes anywhere: uploads and requests per instance per cycle (goal 0 and <= 1 per peer).
- delta: 1% of N entries changed: bytes uploaded and cycle time beside a full persist of the same cache
  (goals <= 2% of the bytes, <= 5% of the time).
- pause: the longest a thread calling ``get`` in a loop waits during a delta cycle and a compaction (goal <= 5 ms).
- persist beside a reader: a full persist with a ``get`` loop running, beside the same persist alone (goal <= 2x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from s3server import S3Server  # noqa: E402

from godistcache import Cache, S3Store  # noqa: E402


def store_for(server: S3Server, obj: str, ident: str) -> S3Store:
    return S3Store(server.url, server.bucket, server.access_key, server.secret_key, object_name=obj, instance_id=ident)


def counting(store: S3Store) -> dict[str, int]:
    """Count the HTTP requests store's client makes, by method."""
    counts: dict[str, int] = {}
    client: Any = store._client
    original = client._url_open

    def url_open(method: str, *args: Any, **kwargs: Any) -> Any:
        counts[method] = counts.get(method, 0) + 1
        return original(method, *args, **kwargs)

    client._url_open = url_open
    return counts


def lag(server: S3Server, writes: int) -> None:
    a, b = Cache(), Cache()
    seen: dict[int, float] = {}
    done = threading.Event()
    with (
        a.sync_with_s3(store_for(server, "lag", "a"), interval=1.0),
        b.sync_with_s3(store_for(server, "lag", "b"), interval=1.0),
    ):
        written: dict[int, float] = {}

        def poll() -> None:
            while not done.is_set() or len(seen) < len(written):
                now = time.time()
                for i in list(written):
                    if i not in seen and i in b:
                        seen[i] = now
                time.sleep(0.005)
                if done.is_set() and time.time() - max(written.values(), default=now) > 30:
                    return

        poller = threading.Thread(target=poll)
        poller.start()
        for i in range(writes):
            written[i] = time.time()
            a.put(i, written[i])
            time.sleep(0.01)
        done.set()
        poller.join()
    lags = sorted(seen[i] - written[i] for i in seen)
    p99 = lags[int(len(lags) * 0.99) - 1] if lags else float("nan")
    print(
        f"lag, write on A visible on B, interval 1 s, {len(lags)}/{writes} writes: "
        f"p50 {statistics.median(lags):.2f} s, "
        f"p99 {p99:.2f} s, max {lags[-1]:.2f} s (goal p99 <= 2.5 s)"
    )


def idle(server: S3Server) -> None:
    caches = [Cache() for _ in range(4)]
    stores = [store_for(server, "idle", f"i{k}") for k in range(4)]
    syncers = [c.sync_with_s3(s, interval=3600) for c, s in zip(caches, stores)]
    try:
        for k, c in enumerate(caches):
            c.put(f"from-{k}", k)
        for _ in range(3):  # settle: bases up, every peer's merged
            for s in syncers:
                s.flush(timeout=60)
        counts = [counting(s) for s in stores]
        ups = [s.segments_up for s in syncers]
        cycles = 5
        for _ in range(cycles):
            for s in syncers:
                s.flush(timeout=60)
        per = [sum(c.values()) / cycles for c in counts]
        uploads = sum(s.segments_up for s in syncers) - sum(ups)
        print(
            f"idle, 4 instances, {cycles} cycles each: {uploads} uploads, requests per instance per cycle "
            f"{max(per):.1f} ({dict(counts[0])} for one), i.e. {max(per) / 3:.2f} per peer "
            "(goal 0 uploads, <= 1 per peer)"
        )
    finally:
        for s in syncers:
            s.stop()


def sizes(server: S3Server, n: int) -> None:
    from godistcache._bench_snapshot import filled_cache

    cache = filled_cache(n)
    persist_store = store_for(server, "full", "p")
    persister = cache.persist_to_s3(persist_store, interval=3600, final_flush=False)
    t = time.perf_counter()
    persister.flush(timeout=600)
    t_full = time.perf_counter() - t
    full_bytes = persist_store._client.stat_object(server.bucket, persist_store.master_name).size
    persister.stop()

    syncer = cache.sync_with_s3(store_for(server, "delta", "d"), interval=3600, compact_every=1000)
    syncer.flush(timeout=600)  # the first base
    keys = [k for k, _ in zip(cache.keys(), range(n // 100))]
    t_delta = float("inf")
    for r in range(3):  # best of 3 delta cycles, each after changing the same 1%
        for k in keys:
            cache.put(k, ("changed", r, 2.2), 600)
        before = syncer.bytes_up
        t = time.perf_counter()
        syncer.flush(timeout=600)
        t_delta = min(t_delta, time.perf_counter() - t)
        delta_bytes = syncer.bytes_up - before
    print(
        f"1% of {n:,} changed: delta {delta_bytes:,} bytes vs full persist {full_bytes:,} = "
        f"{delta_bytes / full_bytes:.2%} (goal <= 2%); "
        f"delta cycle {t_delta * 1e3:.0f} ms vs full persist {t_full * 1e3:.0f} ms = "
        f"{t_delta / t_full:.1%} (goal <= 5%)"
    )

    def longest_pause(action: Callable[[], Any]) -> float:
        stop = threading.Event()
        worst = [0.0]
        probe = keys[0]

        def reader() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                cache.get(probe)
                now = time.perf_counter()
                worst[0] = max(worst[0], now - last)
                last = now

        th = threading.Thread(target=reader)
        th.start()
        time.sleep(0.05)
        worst[0] = 0.0
        action()
        stop.set()
        th.join()
        return worst[0]

    for k in keys:
        cache.put(k, ("again", 2, 3.3), 600)
    p_delta = longest_pause(lambda: syncer.flush(timeout=600))
    syncer.compact_every = 1
    cache.put(keys[0], "x")
    p_compact = longest_pause(lambda: syncer.flush(timeout=600))
    syncer.stop()
    print(
        f"longest wait of a get loop, {n:,} entries: during a delta cycle {p_delta * 1e3:.1f} ms, during a compaction "
        f"{p_compact * 1e3:.1f} ms (goal <= 5 ms; the switch interval is {sys.getswitchinterval() * 1e3:.0f} ms)"
    )

    persister = cache.persist_to_s3(persist_store, interval=3600, final_flush=False)
    t = time.perf_counter()
    persister.flush(timeout=600)
    alone = time.perf_counter() - t
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            cache.get(keys[1])

    th = threading.Thread(target=spin)
    th.start()
    t = time.perf_counter()
    persister.flush(timeout=600)
    beside = time.perf_counter() - t
    stop.set()
    th.join()
    persister.stop()
    print(
        f"full persist of {n:,} entries beside a get loop {beside:.2f} s vs alone {alone:.2f} s = "
        f"{beside / alone:.1f}x (goal <= 2x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=1000)
    args = parser.parse_args(argv)
    with S3Server() as server:
        idle(server)
        lag(server, args.writes)
        sizes(server, args.entries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
