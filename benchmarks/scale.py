"""Does a cache of 10M entries work with no pathological slowdown?

Everything is measured beside a reference taken in the same run (a plain
``dict``, the same cache at 1M entries, or the reader with no sweeper), because
on a shared machine only those ratios mean anything.

a. Throughput: GET and PUT of ``Cache()`` beside ``dict`` at each size (the
   loops of ``godistcache bench``: shuffled ``cache.get(k)`` over entries put
   with TTL 3600; ``cache.put(k, v, 60)`` into a fresh cache, growth included),
   best of ``--rounds``; then ``clear()`` of a full cache beside ``dict.clear()``
   and one ``expire()`` pass over a cache whose every entry has expired (the
   cache's timer jumps past the TTL), in ns per entry.
b. Memory per entry, each container filled in a fresh process
   (``godistcache._bench.measure_memory``); with ``Cache(max_size=N)`` when the
   cache has it, whose difference from the unbounded cache is the eviction
   policy's own bits (filled to N, nothing evicted yet: the ghost
   fingerprints, allocated at the first eviction, are not counted).
c. The sweeper (``Cache(sweep_interval=...)``) over a cache whose entries are
   half expired (odd keys put with TTL 1 s at a frozen timer, which then jumps
   2 s): the fraction of expired entries it frees within 1 and 2 intervals
   with no reads at all; the longest gap of a thread reading live keys
   (``pause.longest_gap``) while the sweep steps run, beside the same reader
   in a stretch as long with the sweeper passing but freeing nothing, and in
   one with no sweeper (the interpreter's and the OS's own switching: on a
   busy 2-core machine a thread woken for the GIL may wait milliseconds for a
   CPU, so compare the three, and see the load average printed beside them);
   and the duration of one step of ``DEFAULT_STEP`` slots, timed by calling
   ``cache._sweep`` directly with no other thread.

    python benchmarks/scale.py                       # 1M and 10M entries, a few minutes
    python benchmarks/scale.py --sizes 100000,1000000 --rounds 5

Goals (the issue: "10M entries work with no pathological slowdown"):

- GET and PUT: the cache/dict ratio at the largest size no worse than at the smallest;
- clear() and expire(): ns per entry at the largest size at most 2x that at the
  smallest (linear work; quadratic work would be 10x per 10x entries);
- memory: ``Cache()`` at most 16 bytes per entry more than ``dict``;
- sweeper: the reader's longest gap while sweep steps run <= 2 ms; with no
  reads, >= 99% of the expired entries freed within 2 sweep intervals.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hit_ratio import bounded_cache_available
from pause import longest_gap

from godistcache import Cache
from godistcache._bench import (
    _PACKAGE_ROOT,
    GET_TTL,
    PUT_TTL,
    MemoryUse,
    Throughput,
    _child_env,
    cache_put,
    dict_put,
    environment,
    format_memory,
    format_throughput,
    make_keys_values,
    measure_memory,
    measure_throughput,
    text_table,
)
from godistcache.sweep import DEFAULT_STEP

DEFAULT_SIZES = (1_000_000, 10_000_000)
DEFAULT_ROUNDS = 3
#: Seconds between two sweep passes in part c.
DEFAULT_SWEEP_INTERVAL = 1.0
#: TTL of the entries that expire in part c, and how far the frozen timer then jumps.
SHORT_TTL = 1
JUMP_S = 2.0
#: The reader of part c reads about this many distinct live keys.
READER_KEYS = 10_000

MEMORY_KINDS = ("dict", "cache", "cache_ttl")
#: Goals.
MEMORY_GOAL_BYTES = 16.0
LINEAR_GOAL = 2.0
GAP_GOAL_S = 0.002
FREED_GOAL = 0.99

# A fresh interpreter measures Cache(max_size=n), filled as the "cache_ttl" row is
# (the same child, the same fill with TTL 3600), so the two differ only by the bound.
_BOUNDED_CHILD = (
    "import functools, sys; from godistcache import _bench; "
    "_bench.Cache = functools.partial(_bench.Cache, max_size=int(sys.argv[2])); "
    "_bench._memory_child(sys.argv[1], int(sys.argv[2]))"
)


class FrozenTimer:
    """A timer for ``Cache(timer=...)``: Unix time frozen at its creation, moved only by :meth:`at`."""

    def __init__(self) -> None:
        self.start = self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        """Set the time to seconds after the instant the timer was made."""
        self.now = self.start + seconds


# -- a. throughput, clear() and expire() ----------------------------------------------


@dataclass(frozen=True)
class Drain:
    """Best times (s) of emptying n entries: clear() beside dict.clear(), and expire() of all of them."""

    keys: int
    cache_clear: float
    dict_clear: float
    expire: float

    def ns(self, seconds: float) -> float:
        return seconds / self.keys * 1e9


def measure_drain(n: int, rounds: int) -> Drain:
    """clear() of a cache of n entries beside dict.clear(), and expire() once all n have expired.

    The containers are filled as the PUT loop fills them (``cache.put(k, v, 60)``,
    ``d[k] = v``), the cache with a frozen timer, which then jumps past the TTL for expire().
    """
    keys, values = make_keys_values(n)
    best_clear = best_dict = best_expire = float("inf")
    for r in range(rounds):
        gc.collect()
        timer = FrozenTimer()
        cache: Any = Cache(timer=timer)
        cache_put(cache, keys, values)
        d: dict[str, Any] = {}
        dict_put(d, keys, values)
        for who in ("dict", "cache") if r % 2 else ("cache", "dict"):
            t0 = time.perf_counter()
            if who == "cache":
                cache.clear()
                best_clear = min(best_clear, time.perf_counter() - t0)
            else:
                d.clear()
                best_dict = min(best_dict, time.perf_counter() - t0)
        cache_put(cache, keys, values)
        timer.at(PUT_TTL + 1)
        t0 = time.perf_counter()
        freed = cache.expire()
        best_expire = min(best_expire, time.perf_counter() - t0)
        if freed != n or len(cache) != 0:
            raise RuntimeError(f"expire() freed {freed} of {n} expired entries, {len(cache)} left")
        del cache, d
    return Drain(n, best_clear, best_dict, best_expire)


# -- b. memory -----------------------------------------------------------------------------


def measure_bounded_memory(n: int) -> MemoryUse:
    """RSS growth per entry of ``Cache(max_size=n)`` filled with n entries (TTL 3600), in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", _BOUNDED_CHILD, "cache_ttl", str(n)],
        capture_output=True,
        text=True,
        env=_child_env(),
        cwd=_PACKAGE_ROOT,
        timeout=600,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"memory of Cache(max_size={n}) exited with {proc.returncode}: {proc.stderr[-2000:]}")
    data = json.loads(lines[-1])
    label = f"Cache(max_size={n:,}), ttl {GET_TTL}"
    return MemoryUse(label, data["entries"], data["bytes_per_entry"], data["source"], data["core"])


# -- c. the sweeper ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    """Part c at one size: times in seconds, fractions of the expired entries."""

    entries: int
    expired: int
    interval: float
    freed_after_1: float
    freed_after_2: float
    #: Seconds from the expiry to the first entry freed (where the sweeper's schedule stood),
    #: to 99% and to 100% of the expired entries freed (None: not within the wait).
    first: float | None
    to_99: float | None
    to_all: float | None
    gap_sweep: float
    #: The sweeper passing over the cache with nothing left to free (its thread switches alone).
    gap_scan: float
    gap_idle: float
    #: Seconds from the expiry until the sweeper had freed every expired entry, the reader running.
    pass_with_reader: float
    #: Wall time of each step of one pass, and the thread CPU time of each (a step whose wall
    #: time is well above its CPU time waited for a CPU: the machine, not the step).
    steps: list[float]
    steps_cpu: list[float]

    def slowest_step(self) -> str:
        i = max(range(len(self.steps)), key=self.steps.__getitem__)
        return f"max {_ms(self.steps[i])} (CPU {_ms(self.steps_cpu[i])})"


def half_expiring_cache(n: int, sweep_interval: float | None, timer: FrozenTimer) -> Any:
    """n entries ``"key:<i>"`` -> ``("One", i, 3.3)``: even i with TTL 3600, odd i with TTL 1 s.

    Its clock is timer: the odd half expires when timer is moved
    past SHORT_TTL. The cache is the only holder of its keys and values, so a
    sweep step also deallocates what it frees, as it would in a real cache.
    """
    cache: Any = Cache(sweep_interval=sweep_interval, timer=timer)
    put = cache.put
    for i in range(n):
        put(f"key:{i}", ("One", i, 3.3), SHORT_TTL if i & 1 else GET_TTL)
    return cache


def wait_until(done: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    """Poll done() every poll seconds until it is true (True) or timeout seconds pass (False)."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() >= deadline:
            return False
        time.sleep(poll)
    return True


def reader_gaps(n: int, interval: float) -> tuple[float, float, float, float]:
    """The reader's longest gaps in three stretches of the same length, and the first one's length.

    Returns (gap while the sweeper frees n/2 expired entries, gap while the
    sweeper keeps passing over the same cache with nothing left to free, gap
    with no sweeper at all, seconds the first stretch took). The reader
    (``pause.longest_gap``) reads live keys only, so it frees nothing itself;
    the main thread polls every 10 ms in all three. The second stretch has the
    sweeper's thread switches without its freeing work, so the difference
    between the first two is what freeing costs the reader.
    """
    expired = n // 2
    timer = FrozenTimer()
    cache = half_expiring_cache(n, interval, timer)
    sweeper = cache.sweeper
    stride = max(n // READER_KEYS // 2 * 2, 2)  # even: live keys only
    keys = [f"key:{i}" for i in range(0, n, stride)]
    base = sweeper.freed
    took = [0.0]

    def sweep_expired() -> None:
        t = time.perf_counter()
        timer.at(JUMP_S)
        if not wait_until(lambda: sweeper.freed - base >= expired, timeout=300.0):
            raise RuntimeError(f"the sweeper freed {sweeper.freed - base} of {expired} in 300 s")
        took[0] = time.perf_counter() - t

    def idle() -> None:
        end = time.perf_counter() + took[0]
        wait_until(lambda: time.perf_counter() >= end, timeout=took[0] + 1.0)

    gap_sweep, _ = longest_gap(cache, keys, sweep_expired)
    gap_scan, _ = longest_gap(cache, keys, idle)
    sweeper.stop(timeout=5.0)
    if sweeper.running:
        raise RuntimeError("the sweeper did not stop")
    gap_idle, _ = longest_gap(cache, keys, idle)
    return gap_sweep, gap_scan, gap_idle, took[0]


@dataclass(frozen=True)
class Freeing:
    """How fast the sweeper frees the expired entries with no reads: fractions, and seconds from the expiry."""

    after_1: float
    after_2: float
    first: float | None
    to_99: float | None
    to_all: float | None


def sweep_without_reads(n: int, interval: float) -> Freeing:
    """The share of n/2 entries expiring at once that the sweeper frees within 1 and 2 intervals.

    Nothing reads the cache: the main thread only polls ``sweeper.freed``
    every 2 ms. Where the sweeper's schedule stands at the expiry is left to
    chance (the time to the first entry freed shows it).
    """
    expired = n // 2
    timer = FrozenTimer()
    cache = half_expiring_cache(n, interval, timer)
    sweeper = cache.sweeper
    base = sweeper.freed
    timer.at(JUMP_S)
    t0 = time.perf_counter()
    after: dict[int, float] = {}
    first = to_99 = to_all = None
    limit = 2 * interval + 60.0
    while True:
        elapsed = time.perf_counter() - t0
        freed = sweeper.freed - base
        for k in (1, 2):
            if k not in after and elapsed >= k * interval:
                after[k] = freed / expired
        if first is None and freed > 0:
            first = elapsed
        if to_99 is None and freed >= FREED_GOAL * expired:
            to_99 = elapsed
        if to_all is None and freed >= expired:
            to_all = elapsed
        if (to_all is not None and len(after) == 2) or elapsed > limit:
            break
        time.sleep(0.002)
    sweeper.stop()
    return Freeing(after.get(1, 0.0), after.get(2, 0.0), first, to_99, to_all)


def step_durations(n: int) -> tuple[list[float], list[float]]:
    """Wall and thread CPU seconds of each ``_sweep(DEFAULT_STEP)`` of one pass over n entries, n/2 expired.

    Called from this thread, with no other thread running.
    """
    steps: list[float] = []
    cpu: list[float] = []
    timer = FrozenTimer()
    cache = half_expiring_cache(n, None, timer)
    timer.at(JUMP_S)
    total = 0
    done = False
    while not done:
        c = time.thread_time()
        t = time.perf_counter()
        freed, done = cache._sweep(DEFAULT_STEP)
        steps.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        total += freed
    if total != n // 2:
        raise RuntimeError(f"one pass of steps freed {total} of {n // 2} expired entries")
    return steps, cpu


def measure_sweep(n: int, interval: float) -> SweepResult:
    """Part c at n entries: three fresh caches, one at a time."""
    freeing = sweep_without_reads(n, interval)
    gc.collect()
    gap_sweep, gap_scan, gap_idle, pass_with_reader = reader_gaps(n, interval)
    gc.collect()
    steps, steps_cpu = step_durations(n)
    gc.collect()
    return SweepResult(
        n,
        n // 2,
        interval,
        freeing.after_1,
        freeing.after_2,
        freeing.first,
        freeing.to_99,
        freeing.to_all,
        gap_sweep,
        gap_scan,
        gap_idle,
        pass_with_reader,
        steps,
        steps_cpu,
    )


# -- report ------------------------------------------------------------------------------------


def load_average() -> str:
    """The 1-minute load average, to say how busy the machine was (the gaps of part c depend on it)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unavailable"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f} ms"


def _yes(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "NO")


def format_drains(drains: Sequence[Drain]) -> list[str]:
    rows = [
        [
            f"{d.keys:,}",
            f"{d.ns(d.cache_clear):.1f}",
            f"{d.ns(d.dict_clear):.1f}",
            f"{d.cache_clear / d.dict_clear:.2f}x",
            f"{d.ns(d.expire):.1f}",
        ]
        for d in drains
    ]
    header = ["keys", "cache.clear() ns/entry", "dict.clear() ns/entry", "clear vs dict", "cache.expire() ns/entry"]
    return [
        "emptying a full container, best round:",
        *text_table(header, rows),
        "",
        f"expire(): one pass after every entry (put with ttl {PUT_TTL}) has expired; the cache's timer jumps past it.",
    ]


def format_sweeps(sweeps: Sequence[SweepResult]) -> list[str]:
    lines = [f"sweeper (step {DEFAULT_STEP} slots, switch interval {sys.getswitchinterval() * 1000:.0f} ms):"]
    for s in sweeps:
        lines += [
            f"  {s.entries:,} entries, {s.expired:,} of them expired at once, sweep_interval {s.interval:g} s:",
            (
                f"    no reads: freed {s.freed_after_1:.1%} after 1 interval, {s.freed_after_2:.1%} after 2;"
                f" first freed after {_ms(s.first)} (the sweeper's phase), 99% after {_ms(s.to_99)},"
                f" all after {_ms(s.to_all)}"
            ),
            (
                f"    reader's longest gap: {_ms(s.gap_sweep)} while the sweeper freed them"
                f" ({s.pass_with_reader:.2f} s from expiry to all freed, the reader running);"
                f" same length: {_ms(s.gap_scan)} with the sweeper freeing nothing,"
                f" {_ms(s.gap_idle)} with no sweeper"
            ),
            (
                f"    one step alone: median {_ms(statistics.median(s.steps))}, {s.slowest_step()},"
                f" {len(s.steps)} steps, {sum(s.steps):.3f} s per pass"
            ),
        ]
    return lines


def _ratio_row(op: str, small: Throughput, large: Throughput) -> list[str]:
    return [
        f"{op}: cache/dict at {large.keys:,} vs {small.keys:,}",
        "no worse at the larger size",
        f"{large.ratio:.2f}x vs {small.ratio:.2f}x",
        _yes(large.ratio >= small.ratio),
    ]


def final_table(
    throughput: Sequence[Throughput],
    drains: Sequence[Drain],
    memory: dict[int, list[MemoryUse]],
    sweeps: Sequence[SweepResult],
) -> list[str]:
    """figure | goal | measured | reached?, at the largest size against the smallest."""
    rows: list[list[str]] = []
    for op in ("GET", "PUT"):
        by_size = sorted((t for t in throughput if t.op == op), key=lambda t: t.keys)
        if len(by_size) >= 2:
            rows.append(_ratio_row(op, by_size[0], by_size[-1]))
    if len(drains) >= 2:
        small, large = drains[0], drains[-1]
        dict_growth = large.ns(large.dict_clear) / small.ns(small.dict_clear)
        pairs = (
            ("clear()", large.ns(large.cache_clear), small.ns(small.cache_clear)),
            ("expire()", large.ns(large.expire), small.ns(small.expire)),
        )
        for what, at_large, at_small in pairs:
            growth = at_large / at_small
            rows.append(
                [
                    f"{what} ns/entry at {large.keys:,} vs {small.keys:,}",
                    f"<= {LINEAR_GOAL:g}x",
                    f"{at_large:.1f} vs {at_small:.1f} ({growth:.2f}x; dict.clear {dict_growth:.2f}x)",
                    _yes(growth <= LINEAR_GOAL),
                ]
            )
    if memory:
        n = max(memory)
        uses = {m.container: m.bytes_per_entry for m in memory[n]}
        base = uses.get("dict")
        for kind in ("cache", "cache_ttl"):
            per = uses.get(kind)
            if base is None or per is None:
                continue
            rows.append(
                [
                    f"memory of {kind.replace('cache_ttl', 'Cache(), ttl').replace('cache', 'Cache()')} at {n:,}",
                    f"<= dict + {MEMORY_GOAL_BYTES:g} B/entry",
                    f"{per:.1f} B vs dict {base:.1f} ({per - base:+.1f})",
                    _yes(per - base <= MEMORY_GOAL_BYTES),
                ]
            )
        bounded = next((m for m in memory[n] if m.container.startswith("Cache(max_size")), None)
        ttl = uses.get("cache_ttl")
        if bounded is not None and bounded.bytes_per_entry is not None and ttl is not None and base is not None:
            per = bounded.bytes_per_entry
            rows.append(
                [
                    f"memory of Cache(max_size={n:,}), ttl at {n:,}",
                    f"<= dict + {MEMORY_GOAL_BYTES:g} B/entry",
                    f"{per:.1f} B ({per - base:+.1f}; policy's bits: {per - ttl:+.1f} vs Cache(), ttl)",
                    _yes(per - base <= MEMORY_GOAL_BYTES),
                ]
            )
    if sweeps:
        s = sweeps[-1]
        rows += [
            [
                f"reader's longest gap, sweep at {s.entries:,}",
                f"<= {_ms(GAP_GOAL_S)}",
                f"{_ms(s.gap_sweep)} (sweeper freeing nothing: {_ms(s.gap_scan)}; no sweeper: {_ms(s.gap_idle)})",
                _yes(s.gap_sweep <= GAP_GOAL_S),
            ],
            [
                f"expired freed, no reads, interval {s.interval:g} s",
                f">= {FREED_GOAL:.0%} within 2 intervals",
                f"{s.freed_after_1:.1%} after 1, {s.freed_after_2:.1%} after 2",
                _yes(s.freed_after_2 >= FREED_GOAL),
            ],
            [
                f"sweep step ({DEFAULT_STEP} slots) alone at {s.entries:,}",
                "(no goal; the reader's gap above)",
                f"median {_ms(statistics.median(s.steps))}, {s.slowest_step()}",
                "-",
            ],
        ]
    return ["summary:", *text_table(["figure", "goal", "measured", "reached?"], rows, left=3)]


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 2:
        raise argparse.ArgumentTypeError(f"sizes must be numbers of entries >= 2, got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="comma-separated entry counts")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="timed rounds of part a, best counts")
    parser.add_argument("--sweep-interval", type=float, default=DEFAULT_SWEEP_INTERVAL, metavar="S")
    parser.add_argument("--no-throughput", action="store_true", help="skip part a")
    parser.add_argument("--no-memory", action="store_true", help="skip part b")
    parser.add_argument("--no-sweep", action="store_true", help="skip part c")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if not args.sweep_interval > 0:
        parser.error(f"--sweep-interval must be > 0, got {args.sweep_interval}")
    sizes: list[int] = args.sizes
    started = time.perf_counter()
    print("godistcache at scale: " + ", ".join(f"{k} {v}" for k, v in environment().items()))
    print(f"load average (1 min) at the start: {load_average()}")
    bounded_missing = bounded_cache_available()
    print(bounded_missing or "Cache(max_size=...) available: the bounded cache is measured too")

    throughput: list[Throughput] = []
    drains: list[Drain] = []
    if not args.no_throughput:
        for n in sizes:
            t = time.perf_counter()
            throughput += measure_throughput([n], rounds=args.rounds)
            drains.append(measure_drain(n, args.rounds))
            gc.collect()
            print(f"[a] {n:,} entries measured in {time.perf_counter() - t:.0f} s", flush=True)
        print()
        print("\n".join(format_throughput(throughput)))
        print()
        print("\n".join(format_drains(drains)))
        print(flush=True)

    memory: dict[int, list[MemoryUse]] = {}
    if not args.no_memory:
        for n in sizes:
            memory[n] = measure_memory(n, MEMORY_KINDS)
            if bounded_missing is None:
                memory[n].append(measure_bounded_memory(n))
            print("\n".join(format_memory(memory[n])))
            print(flush=True)

    sweeps: list[SweepResult] = []
    if not args.no_sweep:
        for n in sizes:
            t = time.perf_counter()
            load = load_average()
            sweeps.append(measure_sweep(n, args.sweep_interval))
            print(
                f"[c] {n:,} entries measured in {time.perf_counter() - t:.0f} s"
                f" (load average {load} before, {load_average()} after)",
                flush=True,
            )
        print("\n".join(format_sweeps(sweeps)))
        print()

    print("\n".join(final_table(throughput, drains, memory, sweeps)))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
