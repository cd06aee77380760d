"""Hash flooding: int keys crafted to collide in the compiled table, beside a dict and pickle in one run.

    python benchmarks/hash_flood.py                 # 20K and 60K crafted keys, a 30K-key snapshot
    python benchmarks/hash_flood.py --scale 0.01    # tiny: the smoke test

The compiled table takes a key's first index slot from the top bits of
``hash * GOLDEN mod 2**64``, and an int's hash is the int itself (below
2**61 - 1, negative ones too). So anyone who chooses the keys (user ids,
order numbers) can choose thousands that start probing at one slot; under
pure linear probing they formed one cluster that each insert walked to its
end (60K such keys: 5.85 s, a dict 0.028 s). The table now probes a few
slots linearly and then jumps in a sequence steered by all 64 hash bits.

Rows, each the best of the rounds, beside the reference timed in the same run:

- crafted insert: ``cache[k] = k`` of crafted keys into a fresh ``Cache()``, beside ``d[k] = k``;
- crafted vs 2 jumps too: keys that also share the hash bits that steer the
  first two jumps at the final table size: a set aimed at the new sequence;
- ordinary insert: random 60-bit ints, the same loops, for contrast;
- crafted load: ``Cache().load(path)`` of a snapshot of the crafted keys,
  beside ``pickle.loads`` of a dict of the same entries.

The goal (issue 11): every ratio a small constant, whatever the keys.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from godistcache import CORE, Cache

GOLDEN = 0x9E3779B97F4A7C15  # the compiled table's multiplier, GDC_GOLDEN in _core/gdc.h
_GOLDEN_INV = pow(GOLDEN, -1, 1 << 64)
_MODULUS = sys.hash_info.modulus  # 2**61 - 1
_MASK64 = (1 << 64) - 1


def crafted_keys(n: int, top: int = 0x5EED1234, low_bits: int = 0, low: int = 0) -> list[int]:
    """n distinct ints k, hash(k) == k, whose ``k * GOLDEN mod 2**64`` share their top 32 bits.

    With low_bits, they also share their low low_bits bits (equal to low):
    the bits the probe sequence's first jump takes in a table of 2**low_bits
    slots. Raises ValueError when fewer than n such keys exist.
    """
    keys: list[int] = []
    free = 32 - low_bits
    for x in range(1 << free):
        m = (top << 32) | (x << low_bits) | low
        k = (m * _GOLDEN_INV) & _MASK64
        if k >= 1 << 63:
            k -= 1 << 64
        if abs(k) < _MODULUS and k != -1:  # so that hash(k) == k
            keys.append(k)
            if len(keys) == n:
                return keys
    raise ValueError(f"only {len(keys)} keys share {32 + low_bits} bits, {n} asked for")


def _insert(target: Any, keys: list[int]) -> None:
    for k in keys:
        target[k] = k


def _best(run: Callable[[], float], rounds: int) -> float:
    return min(run() for _ in range(rounds))


def _timed_insert(make: Callable[[], Any], keys: list[int]) -> Callable[[], float]:
    def run() -> float:
        target = make()
        t0 = time.perf_counter()
        _insert(target, keys)
        return time.perf_counter() - t0

    return run


def insert_row(keys: list[int], rounds: int) -> tuple[float, float]:
    """(seconds for a Cache, seconds for a dict) to insert keys, each the best of rounds, interleaved."""
    ours, ref = float("inf"), float("inf")
    for _ in range(rounds):
        ours = min(ours, _timed_insert(Cache, keys)())
        ref = min(ref, _timed_insert(dict, keys)())
    return ours, ref


def load_row(keys: list[int], rounds: int, directory: str) -> tuple[float, float, int]:
    """(seconds to load a snapshot of keys, seconds to unpickle the same dict, the file's size)."""
    cache = Cache()
    _insert(cache, keys)
    path = os.path.join(directory, "crafted.godistcache")
    cache.save(path)
    blob = pickle.dumps({k: k for k in keys}, protocol=pickle.HIGHEST_PROTOCOL)

    def load() -> float:
        fresh = Cache()
        t0 = time.perf_counter()
        fresh.load(path)
        dt = time.perf_counter() - t0
        assert len(fresh) == len(keys)
        return dt

    def unpickle() -> float:
        t0 = time.perf_counter()
        pickle.loads(blob)
        return time.perf_counter() - t0

    ours, ref = float("inf"), float("inf")
    for _ in range(rounds):
        ours = min(ours, load())
        ref = min(ref, unpickle())
    return ours, ref, os.path.getsize(path)


def _index_bits(n: int) -> int:
    """log2 of the index size a table of n entries ends with (2/3 full at most)."""
    bits = 3
    while (1 << bits) * 2 // 3 < n:
        bits += 1
    return bits


def measure(scale: float, rounds: int, directory: str) -> list[tuple[str, int, float, str, float]]:
    """Rows of (case, keys, our seconds, reference name, reference seconds)."""
    n20, n60, n30 = (max(int(n * scale), 50) for n in (20_000, 60_000, 30_000))
    njump = max(int(3_000 * scale), 50)
    rng = random.Random(11)
    rows = []
    for n in (n20, n60):
        ours, ref = insert_row(crafted_keys(n), rounds)
        rows.append(("crafted insert", n, ours, "dict", ref))
    # Keys that also share the low bits the first two jumps take in the final table (its log2
    # size, plus 5): the most an attacker who knows the sequence can pile up (about 4K keys).
    low_bits = _index_bits(njump) + 5
    jump = crafted_keys(njump, low_bits=low_bits, low=0x2D5A3 & ((1 << low_bits) - 1))
    ours, ref = insert_row(jump, rounds)
    rows.append(("crafted vs 2 jumps too", njump, ours, "dict", ref))
    ours, ref = insert_row([rng.getrandbits(60) for _ in range(n60)], rounds)
    rows.append(("ordinary insert", n60, ours, "dict", ref))
    ours, ref, size = load_row(crafted_keys(n30), rounds, directory)
    rows.append((f"crafted load ({size // 1024} KB)", n30, ours, "pickle.loads", ref))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Crafted colliding int keys: insert and load beside dict and pickle.")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every key count by this (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure, the best counts (default 3)")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 10:
        parser.error(f"--scale must be in (0, 10], got {args.scale}")
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    print(f"core: {CORE}; best of {args.rounds} round(s); ratio = ours / reference, same run")
    print(f"{'case':<24} | {'keys':>7} | {'ours s':>8} | {'reference':<12} | {'ref s':>8} | {'ratio':>6}")
    with tempfile.TemporaryDirectory() as directory:
        for case, n, ours, name, ref in measure(args.scale, args.rounds, directory):
            print(f"{case:<24} | {n:>7} | {ours:>8.4f} | {name:<12} | {ref:>8.4f} | {ours / ref:>5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
