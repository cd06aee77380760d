"""One instance of a syncing fleet, as its own process (run by tests/test_sync_fleet.py).

Usage: python fleet_worker.py CONFIG_JSON

It syncs a cache through the store, makes random puts, TTL puts and deletes on a small key space
(and one clear, if told), logging each operation with the exact stamp the cache gave it, then
waits for the whole fleet, flushes, waits two intervals, and dumps its entries.
An operation and the reading of its stamp must never be split by a merge: each is done holding a
lock that the syncer thread also holds while it merges a segment (Syncer._apply, wrapped below).
A huge switch interval alone was enough with the GIL, never without it (3.14t runs both threads
at once, and a merge in between gave a wrong log line or "cache changed during iteration").
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from typing import Any

MERGING = threading.Lock()
APPLIED = [0]  # segments merged holding MERGING: the test checks the wrapper was on the syncer's path


def _hold_merges() -> None:
    """Make the syncer merge each segment holding MERGING (patched on the class: before any syncer runs)."""
    from godistcache.syncer import Syncer

    apply = Syncer._apply

    def _apply(self: Any, *args: Any) -> bool:
        with MERGING:
            APPLIED[0] += 1
            return apply(self, *args)

    Syncer._apply = _apply  # type: ignore[method-assign]


def main() -> None:
    cfg = json.loads(sys.argv[1])
    sys.setswitchinterval(1000)
    _hold_merges()
    from godistcache import Cache, S3Store

    store = S3Store(
        cfg["url"],
        cfg["bucket"],
        cfg["access_key"],
        cfg["secret_key"],
        object_name=cfg["object"],
        instance_id=cfg["id"],
    )
    key = bytes.fromhex(cfg["cipher_key"]) if cfg.get("cipher_key") else None
    cache = Cache(cipher_key=key)
    if cfg.get("skew_ns"):
        cache._set_skew(cfg["skew_ns"])
    rng = random.Random(cfg["seed"])
    out = cfg["dir"]
    log = []
    with cache.sync_with_s3(store, interval=cfg["interval"], min_backoff=0.2) as syncer:
        deadline = time.monotonic() + cfg["seconds"]
        n = 0
        cleared = False
        while time.monotonic() < deadline:
            with MERGING:
                for _ in range(rng.randint(1, 8)):
                    k = f"k{rng.randrange(cfg['keys'])}"
                    r = rng.random()
                    n += 1
                    if r < 0.55:
                        value = [cfg["id"], n]
                        ttl = rng.choice([0, 0, 600, 3600])
                        cache.put(k, value, ttl)
                        stamp, origin = cache._stamp_info(k)
                        expires = next(e for kk, _, e in cache._iter(3) if kk == k)
                        log.append(["put", k, value, expires, stamp, origin])
                    elif r < 0.85:
                        if cache.delete(k):
                            stamp = next(s for kk, s, o in cache._tombstones() if kk == k)
                            log.append(["del", k, None, 0, stamp, cfg["id"]])
                    elif cfg.get("clear_at") and not cleared and n >= cfg["clear_at"]:
                        cache.clear()
                        cleared = True
                        stamp, origin = cache._floor_of()
                        log.append(["clear", None, None, 0, stamp, origin])
            time.sleep(rng.random() * 0.05)
        with open(os.path.join(out, f"{cfg['id']}.log.json"), "w") as f:
            json.dump(log, f)
        _barrier(out, "done", cfg["fleet"])
        syncer.flush(timeout=60)
        _barrier(out, "flushed", cfg["fleet"])
        time.sleep(cfg["interval"] * 2 + 0.5)
        syncer.flush(timeout=60)
        time.sleep(cfg["interval"] * 2 + 0.5)
        with MERGING:
            state = sorted([k, v, e] for k, v, e in cache._iter(3))
        with open(os.path.join(out, f"{cfg['id']}.state.json"), "w") as f:
            dumped = {"state": state, "skipped": syncer.skipped, "failures": syncer.failures, "applied": APPLIED[0]}
            json.dump(dumped, f)
        _barrier(out, "dumped", cfg["fleet"])


def _barrier(out: str, name: str, fleet: list[str]) -> None:
    me = os.path.join(out, f"{name}.{os.getpid()}")
    open(me, "w").close()
    deadline = time.monotonic() + 120
    while len([f for f in os.listdir(out) if f.startswith(name + ".")]) < len(fleet):
        if time.monotonic() > deadline:
            raise SystemExit(f"barrier {name} timed out")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
