"""Hit ratio of the bounded cache (S3-FIFO) beside LRU and W-TinyLFU on a Zipf trace.

A trace of ``--requests`` requests over ``--keys`` keys, key ranks drawn from
Zipf(``--alpha``) (weight 1/i**alpha for the i-th most popular key) with
``random.Random(--seed)`` and mapped through a shuffled permutation of the key
ids, so popularity has nothing to do with a key's value or hash. Each cache is
driven read-through: a get, and on a miss a put of the key. The hit ratio is
hits / requests, cold misses included. Capacities: 1% and 10% of the keys.

    python benchmarks/hit_ratio.py
    python benchmarks/hit_ratio.py --requests 200000 --keys 20000 --alpha 0.8

Compared, in the same run on the same trace:

- ours: ``godistcache.Cache(max_size=cap)`` (S3-FIFO);
- ``cachebox.LRUCache(cap)`` (optional);
- ``theine.Cache(cap)``, W-TinyLFU (optional);
- an LRU made of ``collections.OrderedDict``, the reference.

Goals: ours >= cachebox's LRU at both capacities, and ours within 1 percentage
point of theine or better. A library that is not installed is reported as
such. ``hit_ratios()`` is the function behind the table.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import random
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["POLICIES", "bounded_cache_available", "hit_ratios", "main", "zipf_trace"]

#: Goal: ours at most this many percentage points below theine.
THEINE_MARGIN_PP = 1.0


def zipf_trace(requests: int, keys: int, alpha: float, seed: int) -> list[int]:
    """``requests`` key ids in range(keys), ranks drawn from Zipf(alpha), mapped through a shuffled permutation."""
    if requests < 1 or keys < 1:
        raise ValueError(f"requests and keys must be >= 1, got {requests} and {keys}")
    rng = random.Random(seed)
    cum_weights = list(itertools.accumulate(1.0 / i**alpha for i in range(1, keys + 1)))
    ranks = rng.choices(range(keys), cum_weights=cum_weights, k=requests)
    ids = list(range(keys))
    rng.shuffle(ids)
    return [ids[r] for r in ranks]


# -- the caches, each driven read-through; each returns its number of hits --------------------


def read_through(cache: Any, trace: Sequence[int]) -> int:
    """Hits of a read-through loop over trace on a cache with get() and [] = (a miss stores the key)."""
    get = cache.get
    hits = 0
    for k in trace:
        if get(k) is None:
            cache[k] = k
        else:
            hits += 1
    return hits


def _ours(capacity: int, trace: Sequence[int]) -> int:
    from godistcache import Cache

    factory: Any = Cache  # a Cache without max_size raises TypeError here
    return read_through(factory(max_size=capacity), trace)


def _cachebox_lru(capacity: int, trace: Sequence[int]) -> int:
    return read_through(importlib.import_module("cachebox").LRUCache(capacity), trace)


def _theine(capacity: int, trace: Sequence[int]) -> int:
    cache = importlib.import_module("theine").Cache(capacity)
    get = cache.get
    put = cache.set
    hits = 0
    try:
        for k in trace:
            _, ok = get(k)
            if ok:
                hits += 1
            else:
                put(k, k)
    finally:
        # theine's maintenance task holds the cache until close() (what its __del__ does too).
        cache.clear()
        cache.close()
    return hits


def _lru_ref(capacity: int, trace: Sequence[int]) -> int:
    cache: OrderedDict[int, int] = OrderedDict()
    touch = cache.move_to_end
    evict = cache.popitem
    hits = 0
    for k in trace:
        if k in cache:
            touch(k)
            hits += 1
        else:
            cache[k] = k
            if len(cache) > capacity:
                evict(last=False)
    return hits


#: name -> (label, run(capacity, trace) -> hits). A run raises ImportError when its library is missing.
POLICIES: dict[str, tuple[str, Callable[[int, Sequence[int]], int]]] = {
    "ours": ("ours", _ours),
    "cachebox": ("cachebox LRU", _cachebox_lru),
    "theine": ("theine", _theine),
    "lru_ref": ("LRU ref", _lru_ref),
}


def hit_ratios(
    trace: Sequence[int], capacities: Sequence[int], policies: Sequence[str] = tuple(POLICIES)
) -> dict[int, dict[str, float | None]]:
    """Hit ratio (hits / len(trace)) of each policy at each capacity, read-through over trace.

    Args:
        trace: the requested keys, in order.
        capacities: cache sizes in entries.
        policies: names from :data:`POLICIES`.

    Returns:
        ``{capacity: {policy: ratio}}``; the ratio is None when the policy's
        library is not installed.

    Raises:
        ValueError: an empty trace, a capacity below 1 or an unknown policy.
        TypeError: "ours" while ``Cache`` has no ``max_size``.
    """
    if not trace:
        raise ValueError("the trace is empty")
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"policies must be among {sorted(POLICIES)}, got {unknown!r}")
    if any(c < 1 for c in capacities):
        raise ValueError(f"capacities must be >= 1, got {list(capacities)!r}")
    results: dict[int, dict[str, float | None]] = {}
    for capacity in capacities:
        row: dict[str, float | None] = {}
        for name in policies:
            try:
                row[name] = POLICIES[name][1](capacity, trace) / len(trace)
            except ImportError:
                row[name] = None
        results[capacity] = row
    return results


def bounded_cache_available() -> str | None:
    """None when ``godistcache.Cache(max_size=...)`` exists and holds to its bound, else why not."""
    try:
        from godistcache import Cache
    except ImportError as exc:
        return f"godistcache not importable: {exc}"
    factory: Any = Cache
    try:
        cache = factory(max_size=10)
    except TypeError as exc:
        return f"Cache(max_size=...) unavailable: {exc}"
    for i in range(100):
        cache[i] = i
    if len(cache) != 10:
        return f"Cache(max_size=10) holds {len(cache)} entries after 100 puts"
    return None


# -- report ------------------------------------------------------------------------------------


def _pct(ratio: float | None, missing: str) -> str:
    return missing if ratio is None else f"{ratio:.2%}"


def _pp(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{(a - b) * 100:+.2f}"


def format_report(results: dict[int, dict[str, float | None]], keys: int, missing: dict[str, str]) -> list[str]:
    """The table and the goals; missing maps a policy to what to print instead of its ratio."""
    header = ["capacity", *(label for label, _ in POLICIES.values()), "ours - cachebox (pp)", "ours - theine (pp)"]
    rows = []
    for capacity, row in results.items():
        cells = [f"{capacity:,} ({capacity / keys:.0%})"]
        cells += [_pct(row.get(name), missing.get(name, "not installed")) for name in POLICIES]
        cells += [_pp(row.get("ours"), row.get("cachebox")), _pp(row.get("ours"), row.get("theine"))]
        rows.append(cells)
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip() for r in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))

    def goal(name: str, ok: Callable[[float, float], bool]) -> str:
        pairs = [(row.get("ours"), row.get(name)) for row in results.values()]
        if any(o is None or other is None for o, other in pairs):
            return "not measured"
        return "yes" if all(ok(o, other) for o, other in pairs if o is not None and other is not None) else "NO"

    lines += [
        "",
        f"goal: ours >= cachebox LRU at every capacity: {goal('cachebox', lambda o, c: o >= c)}",
        (
            f"goal: ours >= theine - {THEINE_MARGIN_PP:g} pp at every capacity:"
            f" {goal('theine', lambda o, t: (o - t) * 100 >= -THEINE_MARGIN_PP)}"
        ),
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--alpha", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.keys < 100:
        parser.error(f"--requests must be >= 1 and --keys >= 100, got {args.requests} and {args.keys}")
    started = time.perf_counter()
    trace = zipf_trace(args.requests, args.keys, args.alpha, args.seed)
    capacities = [args.keys // 100, args.keys // 10]
    policies = list(POLICIES)
    missing: dict[str, str] = {}
    why = bounded_cache_available()
    if why is not None:
        policies.remove("ours")
        missing["ours"] = "n/a"
    results = hit_ratios(trace, capacities, policies)
    print(
        f"hit ratio, read-through: {args.requests:,} requests over {args.keys:,} keys, Zipf alpha {args.alpha:g},"
        f" seed {args.seed} ({len(set(trace)):,} distinct keys requested)"
    )
    if why is not None:
        print(f"ours: {why}")
    print("\n".join(format_report(results, args.keys, missing)))
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
