"""Throughput and memory measurements behind ``godistcache bench``.

Every figure is measured beside a plain ``dict`` doing the same work in the
same process, interleaved round by round, because on a shared, throttled or
virtual machine only that ratio is stable; absolute numbers are not.

The loops are the ones a user writes (``for k in keys: cache.get(k)``), and
``benchmarks/`` times the very same functions with pytest-benchmark. Memory is
measured in a fresh interpreter per container, so nothing one measurement
allocated or freed can hide in the next one's reading.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._core.table import CORE
from ._version import __version__
from .cache import Cache

__all__ = [
    "DEFAULT_KEYS",
    "DEFAULT_ROUNDS",
    "GO_ORIGINAL_MOPS",
    "MEMORY_CONTAINERS",
    "OPERATIONS",
    "QUICK_KEYS",
    "Inputs",
    "MemoryUse",
    "Throughput",
    "cache_get",
    "cache_put",
    "cache_put_safe",
    "dict_get",
    "dict_put",
    "environment",
    "format_memory",
    "format_throughput",
    "make_inputs",
    "make_keys_values",
    "measure_memory",
    "measure_throughput",
    "rss_bytes",
]

logger = logging.getLogger(__name__)

OPERATIONS = ("GET", "PUT", "PUT_SAFE")
DEFAULT_KEYS = (10_000, 1_000_000)
QUICK_KEYS = (1_000, 10_000)
DEFAULT_ROUNDS = 5
#: Each timed round repeats the loop until it has done at least this many
#: operations, so a 10K-key round is not one timer tick of noise.
MIN_OPS_PER_ROUND = 1_000_000
QUICK_MIN_OPS_PER_ROUND = 20_000
SEED = 20_240_601

#: TTL of the entries the GET loop reads, and of every PUT, in seconds.
GET_TTL = 3600
PUT_TTL = 60

#: Throughput documented in the Go original's README, in millions of
#: operations per second, measured by its author on an Apple M1 Pro with 1M
#: entries. Another language, machine and harness: context, not a comparison.
GO_ORIGINAL_MOPS = {"GET": 5.0, "PUT": 3.5, "PUT_SAFE": 3.0}
GO_ORIGINAL_KEYS = 1_000_000

#: Containers whose memory is measured: kind -> label.
MEMORY_CONTAINERS = {
    "dict": "dict",
    "cache": "Cache()",
    "cache_ttl": f"Cache(), ttl {GET_TTL}",
    "cache_written": f"Cache(), ttl {GET_TTL}, write times",
}


# -- inputs ------------------------------------------------------------------


def make_keys_values(n: int) -> tuple[list[str], list[tuple[str, int, float]]]:
    """Keys ``"key:<i>"`` and values ``("One", i, 3.3)``, the Go original's benchmark shape."""
    keys = [f"key:{i}" for i in range(n)]
    values = [("One", i, 3.3) for i in range(n)]
    return keys, values


@dataclass(frozen=True)
class Inputs:
    """What every loop works on: keys in order, their values, and a lookup order."""

    keys: list[str]
    values: list[tuple[str, int, float]]
    #: The keys shuffled with a fixed seed, so GET does not walk memory in insertion order.
    lookup: list[str]

    def __len__(self) -> int:
        return len(self.keys)


def make_inputs(n: int, seed: int = SEED) -> Inputs:
    """Build the inputs for n keys; the same n and seed give the same lookup order."""
    keys, values = make_keys_values(n)
    # A str caches its hash: hash each key now so no timed loop pays for the first one.
    for k in keys:
        hash(k)
    lookup = keys[:]
    random.Random(seed).shuffle(lookup)
    return Inputs(keys, values, lookup)


# -- the loops -----------------------------------------------------------------
# Written the way a user writes them; the cache and dict versions have the same shape.


def cache_get(cache: Any, keys: Sequence[str]) -> None:
    for k in keys:
        cache.get(k)


def dict_get(d: dict[Any, Any], keys: Sequence[str]) -> None:
    for k in keys:
        d.get(k)


def cache_put(cache: Any, keys: Sequence[str], values: Sequence[Any]) -> None:
    for k, v in zip(keys, values):
        cache.put(k, v, 60)


def cache_put_safe(cache: Any, keys: Sequence[str], values: Sequence[Any]) -> None:
    for k, v in zip(keys, values):
        cache.put_safe(k, v, 60)


def dict_put(d: dict[Any, Any], keys: Sequence[str], values: Sequence[Any]) -> None:
    for k, v in zip(keys, values):
        d[k] = v


def fill_cache(cache: Any, keys: Sequence[str], values: Sequence[Any], ttl: int | None = GET_TTL) -> Any:
    """Put every key into cache with ttl (the state GET reads); returns cache."""
    for k, v in zip(keys, values):
        cache.put(k, v, ttl)
    return cache


def fill_dict(d: dict[Any, Any], keys: Sequence[str], values: Sequence[Any]) -> dict[Any, Any]:
    """Store every key in d; returns d."""
    for k, v in zip(keys, values):
        d[k] = v
    return d


# -- throughput ------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """Best rate of one operation at one size, for the cache and for dict."""

    op: str
    keys: int
    cache_mops: float
    dict_mops: float

    @property
    def ratio(self) -> float:
        """Cache throughput over dict throughput: 1.0 is dict speed, below is slower."""
        return self.cache_mops / self.dict_mops

    @property
    def go_mops(self) -> float | None:
        """The Go original's documented figure, only on rows of the size it was measured at."""
        return GO_ORIGINAL_MOPS[self.op] if self.keys == GO_ORIGINAL_KEYS else None


def _time_reads(loop: Callable[[Any, Sequence[str]], None], container: Any, lookup: Sequence[str], reps: int) -> float:
    total = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        loop(container, lookup)
        total += time.perf_counter() - t0
    return total


def _time_writes(
    loop: Callable[[Any, Sequence[str], Sequence[Any]], None],
    factory: Callable[[], Any],
    inputs: Inputs,
    reps: int,
) -> float:
    total = 0.0
    for _ in range(reps):
        # Created, and the previous one freed, outside the timed region.
        container = factory()
        t0 = time.perf_counter()
        loop(container, inputs.keys, inputs.values)
        total += time.perf_counter() - t0
        if len(container) != len(inputs):
            raise RuntimeError(f"{loop.__name__} left {len(container)} entries, expected {len(inputs)}")
    return total


def _check_hits(container: Any, inputs: Inputs) -> None:
    # GET must measure hits: a broken fill would otherwise show up as a fast cache.
    missing = sum(1 for k in inputs.lookup if container.get(k) is None)
    if missing:
        raise RuntimeError(f"{missing} of {len(inputs)} keys missing from the filled {type(container).__name__}")


def _measure_size(n: int, rounds: int, reps: int, cache_factory: Callable[[], Any]) -> list[Throughput]:
    logger.info("%s keys: building inputs and filled containers", f"{n:,}")
    inputs = make_inputs(n)
    filled_cache = fill_cache(cache_factory(), inputs.keys, inputs.values)
    filled_dict = fill_dict({}, inputs.keys, inputs.values)
    _check_hits(filled_cache, inputs)
    _check_hits(filled_dict, inputs)
    cases: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {
        "GET": (
            lambda: _time_reads(cache_get, filled_cache, inputs.lookup, reps),
            lambda: _time_reads(dict_get, filled_dict, inputs.lookup, reps),
        ),
        "PUT": (
            lambda: _time_writes(cache_put, cache_factory, inputs, reps),
            lambda: _time_writes(dict_put, dict, inputs, reps),
        ),
        "PUT_SAFE": (
            lambda: _time_writes(cache_put_safe, cache_factory, inputs, reps),
            lambda: _time_writes(dict_put, dict, inputs, reps),
        ),
    }
    results = []
    for op in OPERATIONS:
        logger.info("%s keys: %s, %d round(s) of %s operations each", f"{n:,}", op, rounds, f"{reps * n:,}")
        time_cache, time_dict = cases[op]
        best_cache = best_dict = float("inf")
        for r in range(rounds):
            gc.collect()
            # Alternate who goes first, so neither always runs on a warmer (or hotter) CPU.
            if r % 2:
                t_dict = time_dict()
                t_cache = time_cache()
            else:
                t_cache = time_cache()
                t_dict = time_dict()
            logger.debug("  round %d: cache %.4f s, dict %.4f s", r + 1, t_cache, t_dict)
            best_cache = min(best_cache, t_cache)
            best_dict = min(best_dict, t_dict)
        ops = reps * n
        results.append(Throughput(op, n, ops / best_cache / 1e6, ops / best_dict / 1e6))
    return results


def measure_throughput(
    sizes: Iterable[int] = DEFAULT_KEYS,
    rounds: int = DEFAULT_ROUNDS,
    min_ops: int = MIN_OPS_PER_ROUND,
    cache_factory: Callable[[], Any] = Cache,
) -> list[Throughput]:
    """Time GET, PUT and PUT_SAFE at each size for a cache and for dict.

    Args:
        sizes: numbers of distinct keys.
        rounds: timed rounds per operation; the best one counts.
        min_ops: each round repeats the loop until it has done this many operations.
        cache_factory: makes an empty cache (default :class:`Cache`).

    Returns:
        One :class:`Throughput` per operation and size, in measurement order.

    Raises:
        ValueError: a size or rounds below 1.
    """
    size_list = sorted(set(sizes))
    if not size_list or size_list[0] < 1:
        raise ValueError(f"sizes must be positive numbers of keys, got {size_list!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds!r}")
    logger.debug("cache factory %r, default core %s", cache_factory, CORE)
    results = []
    for n in size_list:
        t_size = time.perf_counter()
        results += _measure_size(n, rounds, max(1, -(-min_ops // n)), cache_factory)
        logger.info("%s keys: done in %.1f s", f"{n:,}", time.perf_counter() - t_size)
    uses_tsc = getattr(sys.modules.get(f"{__package__}._core._table_c"), "clock_uses_tsc", None)
    if uses_tsc is not None:
        logger.debug("compiled expiry clock extrapolates the TSC: %s", uses_tsc())
    return results


# -- memory ----------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryUse:
    """RSS growth per entry of one container, measured in a fresh process."""

    container: str
    entries: int
    #: None when this platform gives no way to read the RSS.
    bytes_per_entry: float | None
    #: How the RSS was read: "statm", "ru_maxrss" or "unavailable".
    source: str
    core: str

    @property
    def label(self) -> str:
        return MEMORY_CONTAINERS.get(self.container, self.container)


def rss_bytes() -> tuple[int, str] | None:
    """The process's resident set size in bytes and how it was read, or None.

    Linux: the current RSS from ``/proc/self/statm``. Elsewhere with
    ``resource``: the peak RSS, which equals the current one while memory
    only grows, as it does across a fill.
    """
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE"), "statm"
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kilobytes everywhere except macOS, which reports bytes.
    return (peak if sys.platform == "darwin" else peak * 1024), "ru_maxrss"


def _memory_child(kind: str, n: int) -> None:
    """Run in a fresh interpreter: fill one container and print its RSS growth as JSON."""
    if kind not in MEMORY_CONTAINERS:
        raise ValueError(f"kind must be one of {sorted(MEMORY_CONTAINERS)}, got {kind!r}")
    keys, values = make_keys_values(n)
    container: Any = {} if kind == "dict" else Cache()
    if kind == "cache_written":
        container._track_writes()  # what persist_to_s3 turns on
    gc.collect()
    before = rss_bytes()
    if kind == "dict":
        fill_dict(container, keys, values)
    else:
        fill_cache(container, keys, values, None if kind == "cache" else GET_TTL)
    after = rss_bytes()
    if len(container) != n:
        raise RuntimeError(f"{kind} holds {len(container)} entries, expected {n}")
    per_entry = None if before is None or after is None else (after[0] - before[0]) / n
    source = "unavailable" if after is None else after[1]
    print(json.dumps({"container": kind, "entries": n, "bytes_per_entry": per_entry, "source": source, "core": CORE}))


_CHILD_CODE = "import sys; from godistcache._bench import _memory_child; _memory_child(sys.argv[1], int(sys.argv[2]))"


#: The directory holding the godistcache package this process imported.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _child_env() -> dict[str, str]:
    # The child must import this very godistcache (and the same core, which
    # GODISTCACHE_NO_EXTENSIONS in the inherited environment decides).
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


def measure_memory(
    n: int = 1_000_000,
    containers: Iterable[str] = tuple(MEMORY_CONTAINERS),
    timeout: float = 600.0,
) -> list[MemoryUse]:
    """RSS growth per entry of each container filled with n entries, each in a fresh process.

    The child builds the n keys and values first, reads its RSS, fills the
    container and reads the RSS again: (after - before) / n is what the
    container itself costs per entry, keys and values excluded.

    Args:
        n: number of entries.
        containers: kinds from :data:`MEMORY_CONTAINERS`.
        timeout: seconds allowed to each child process.

    Returns:
        One :class:`MemoryUse` per container, in the order given.

    Raises:
        ValueError: n below 1 or an unknown container.
        RuntimeError: a child process failed.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    kinds = list(containers)
    unknown = [c for c in kinds if c not in MEMORY_CONTAINERS]
    if unknown:
        raise ValueError(f"containers must be among {sorted(MEMORY_CONTAINERS)}, got {unknown!r}")
    results = []
    env = _child_env()
    for kind in kinds:
        logger.info("memory: %s with %s entries, in a fresh process", MEMORY_CONTAINERS[kind], f"{n:,}")
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD_CODE, kind, str(n)],
            capture_output=True,
            text=True,
            env=env,
            # `python -c` puts the working directory first on sys.path: run it
            # where the imported package lives, or a source checkout there would
            # shadow the installed build.
            cwd=_PACKAGE_ROOT,
            timeout=timeout,
            check=False,
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(
                f"memory measurement of {kind} exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}"
            )
        data = json.loads(lines[-1])
        logger.debug("  %s", data)
        results.append(
            MemoryUse(data["container"], data["entries"], data["bytes_per_entry"], data["source"], data["core"])
        )
    return results


# -- report ----------------------------------------------------------------------


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment() -> dict[str, str]:
    """What the figures depend on: versions, core, interpreter and machine."""
    cpu = _cpu_model()
    machine = f"{platform.system()} {platform.machine()}"
    if cpu and cpu != platform.machine():
        machine += f", {cpu}"
    machine += f", {os.cpu_count() or '?'} CPUs"
    return {
        "godistcache": __version__,
        "core": CORE,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": machine,
        "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "random"),
    }


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Plain text table: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_throughput(results: Sequence[Throughput]) -> list[str]:
    """The throughput table, rows by operation then size, with its footnotes."""
    order = {op: i for i, op in enumerate(OPERATIONS)}
    rows = [
        [
            r.op,
            f"{r.keys:,}",
            f"{r.cache_mops:.2f}",
            f"{r.dict_mops:.2f}",
            f"{r.ratio:.2f}x",
            "-" if r.go_mops is None else f"{r.go_mops:.1f}",
        ]
        for r in sorted(results, key=lambda r: (order.get(r.op, len(order)), r.keys))
    ]
    header = ["operation", "keys", "godistcache (M ops/s)", "dict (M ops/s)", "ratio", "Go original (M ops/s)*"]
    return [
        "throughput, best round:",
        *text_table(header, rows, left=2),
        "",
        "ratio: godistcache throughput / dict throughput, measured in the same rounds.",
        f"GET: cache.get(k) over shuffled keys of entries put with ttl {GET_TTL}, beside d.get(k).",
        f"PUT, PUT_SAFE: cache.put(k, v, {PUT_TTL}) / cache.put_safe(k, v, {PUT_TTL}) into a fresh cache,"
        " beside d[k] = v into a fresh dict.",
        "* Go original: figures documented by its author, measured on an Apple M1 Pro with 1M entries;",
        "  another language, machine and harness, so context only, not a comparison.",
    ]


def format_memory(results: Sequence[MemoryUse]) -> list[str]:
    """The memory table: bytes per entry and the difference from dict."""
    base = next((r.bytes_per_entry for r in results if r.container == "dict"), None)
    rows = []
    for r in results:
        per = r.bytes_per_entry
        if per is None:
            rows.append([r.label, "unavailable", "-"])
            continue
        diff = "-" if base is None or r.container == "dict" else f"{per - base:+.1f}"
        rows.append([r.label, f"{per:.1f}", diff])
    n = max((r.entries for r in results), default=0)
    sources = sorted({r.source for r in results})
    return [
        "memory per entry:",
        *text_table(["container", "bytes/entry", "vs dict"], rows),
        "",
        f"RSS growth while filling {n:,} entries, each container in a fresh process",
        f"(keys and values built before the first reading; RSS read from {', '.join(sources)}).",
    ]
