"""``godistcache bench``: throughput, memory and snapshots beside a plain dict and pickle."""

from __future__ import annotations

import argparse
import logging
import sys
import time

logger = logging.getLogger(__name__)


def cmd_bench(args: argparse.Namespace) -> int:
    """``godistcache bench``: measure, then print the report to stdout."""
    # Lazy: _bench and _bench_snapshot pull in platform, subprocess, random, tempfile and pickle (~25 ms),
    # which every other command and --help would pay for.
    from .. import _bench, _bench_snapshot

    sizes = args.keys or list(_bench.QUICK_KEYS if args.quick else _bench.DEFAULT_KEYS)
    rounds = args.rounds or (1 if args.quick else _bench.DEFAULT_ROUNDS)
    min_ops = _bench.QUICK_MIN_OPS_PER_ROUND if args.quick else _bench.MIN_OPS_PER_ROUND

    env = _bench.environment()
    start = time.perf_counter()
    throughput = _bench.measure_throughput(sizes, rounds=rounds, min_ops=min_ops)
    memory = None if args.no_memory else _bench.measure_memory(max(sizes))
    snapshots = None
    if not args.no_snapshot:
        default_n = _bench_snapshot.QUICK_ENTRIES if args.quick else _bench_snapshot.DEFAULT_ENTRIES
        n = max(sizes) if args.keys else default_n
        logger.info("bench: snapshots of %d entries", n)
        snapshots = _bench_snapshot.measure_snapshot(n, rounds=min(rounds, 3), directory=args.dir)
    logger.info("bench: done in %.1f s", time.perf_counter() - start)

    out = [
        f"godistcache {env['godistcache']} bench, core: {env['core']}",
        f"python: {env['python']}, PYTHONHASHSEED={env['PYTHONHASHSEED']}",
        f"machine: {env['machine']}",
        f'best of {rounds} round(s); str keys "key:<i>", values ("One", i, 3.3)',
        "",
        *_bench.format_throughput(throughput),
    ]
    if memory is not None:
        out += ["", *_bench.format_memory(memory)]
    if snapshots is not None:
        out += ["", *_bench_snapshot.format_snapshot(snapshots)]
    print("\n".join(out))
    sys.stdout.flush()
    return 0
