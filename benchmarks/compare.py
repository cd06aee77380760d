"""godistcache beside a plain ``dict`` and other Python caches, in one process and one run.

Four sections, each printed as a table, written to ``docs/performance.md`` and
drawn as a chart (``docs/*.png``, matplotlib's Agg backend):

1. Throughput: GET, PUT, and PUT with a 60 s TTL (given with each put, and
   set once per container) at 10K and 1M keys, for
   ``dict``, godistcache, cachebox, cachetools, theine, moka-py and lru-dict,
   each through its own natural API and unbounded (or exactly large enough)
   container. The keys, values and loops are ``godistcache._bench``'s:
   ``"key:<i>"`` strings, ``("One", i, 3.3)`` values, GET over the keys in
   shuffled order, each PUT pass into a fresh container. Best of N rounds,
   timed with ``time.perf_counter``, the libraries interleaved round by round
   in a rotating order; M ops/s and the ratio to ``dict`` in the same run.
   An operation a library does not have is "n/a", never emulated.
2. Hit ratio on a Zipf trace (``benchmarks/hit_ratio.py``'s trace and
   ``hit_ratios``), read-through, at capacities of 1% and 10% of the keys.
3. Snapshots: ``cache.save``/``Cache.from_file`` of 1M entries beside
   ``pickle.dumps`` + write + fsync and read + ``pickle.loads`` of the
   equivalent dict (``godistcache._bench_snapshot``'s data and helpers).
4. Sealed values: ``put_crypt``/``get_crypt`` of 10K values beside a bare
   ``AESGCM.encrypt``/``decrypt`` loop over the same data
   (``benchmarks/test_crypt_bench.py``'s loops and data).

    PYTHONHASHSEED=0 python benchmarks/compare.py          # full run, a few minutes
    python benchmarks/compare.py --quick --no-plots        # smoke run, seconds

A library that is not installed gets a "not installed" row. Only ratios
measured in the same run mean anything across machines; absolute figures
depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import importlib.metadata
import importlib.util
import math
import os
import pickle
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from godistcache import CORE, Cache, __version__
from godistcache import _bench_snapshot as snap
from godistcache._bench import (
    Inputs,
    _time_reads,
    cache_get,
    cache_put,
    dict_put,
    environment,
    make_inputs,
)

__all__ = [
    "LIBRARIES",
    "OPERATIONS",
    "HitRatioResult",
    "Rate",
    "SealedRate",
    "Section",
    "SnapshotRow",
    "environment_text",
    "hit_ratio_section",
    "main",
    "measure_hit_ratio",
    "measure_sealed",
    "measure_snapshot",
    "measure_throughput",
    "sealed_section",
    "snapshot_section",
    "throughput_section",
    "write_charts",
    "write_markdown",
]

HERE = Path(__file__).resolve().parent
DOCS_DIR = HERE.parent / "docs"

FULL_SIZES = (10_000, 1_000_000)
QUICK_SIZES = (10_000,)
FULL_ROUNDS = 5
#: Each timed round repeats its pass over the keys until it lasts at least this long.
ROUND_SECONDS = 0.1
QUICK_ROUND_SECONDS = 0.005
TTL_SECONDS = 60
TTL_DELTA = timedelta(seconds=TTL_SECONDS)

#: Hit-ratio trace: benchmarks/hit_ratio.py's defaults, and a small one for --quick.
FULL_TRACE = {"requests": 1_000_000, "keys": 100_000, "alpha": 0.9, "seed": 42}
QUICK_TRACE = {"requests": 20_000, "keys": 2_000, "alpha": 0.9, "seed": 42}

SNAPSHOT_ENTRIES = 1_000_000
SNAPSHOT_ROUNDS = 3
SEALED_ROUNDS = 20

NOT_INSTALLED = "not installed"
NA = "n/a"


# -- sibling benchmark modules, loaded by path (benchmarks/ is not a package) ---------------------


def _sibling(stem: str) -> ModuleType:
    """benchmarks/<stem>.py as a module of its own, loaded once per process."""
    name = f"_godistcache_compare_{stem}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, HERE / f"{stem}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HERE / f'{stem}.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import(module: str | None) -> ModuleType | None:
    """The library's module, or None when it is not installed (dict needs none: a dummy)."""
    if module is None:
        return sys.modules["builtins"]
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


# -- the libraries and their natural calls ---------------------------------------------------------
# The loops have one shape for every library (the one godistcache._bench uses):
# ``for k in keys: c.get(k)`` and ``for k, v in zip(keys, values): <put>``.


def set_put(c: Any, keys: Sequence[str], values: Sequence[Any]) -> None:
    for k, v in zip(keys, values):
        c.set(k, v)


def set_put_ttl_seconds(c: Any, keys: Sequence[str], values: Sequence[Any]) -> None:
    for k, v in zip(keys, values):
        c.set(k, v, 60)


def set_put_ttl_delta(c: Any, keys: Sequence[str], values: Sequence[Any]) -> None:
    for k, v in zip(keys, values):
        c.set(k, v, TTL_DELTA)


def insert_ttl(c: Any, keys: Sequence[str], values: Sequence[Any]) -> None:
    for k, v in zip(keys, values):
        c.insert(k, v, 60)


Loop = Callable[[Any, Sequence[str], Sequence[Any]], None]


@dataclass(frozen=True)
class Op:
    """One write operation of a library: an empty container, the loop that fills it, and the call as text."""

    make: Callable[[Any, int], Any]  # (library module, number of keys) -> empty container
    loop: Loop
    call: str


def _is_not_none(result: Any) -> bool:
    return result is not None


def _len(c: Any) -> int:
    return len(c)


def _moka_count(c: Any) -> int:
    c.run_pending_tasks()
    return int(c.count())


def _keep(c: Any) -> None:
    """Nothing to release: dropping the last reference frees the container."""


def _theine_dispose(c: Any) -> None:
    # A theine Cache is referenced by its maintenance coroutine (on theine's own event-loop
    # thread, waking every second) until close(): dropped without it, it would stay alive,
    # with its entries, for the rest of the process. clear() + close() is what its __del__ does.
    c.clear()
    c.close()


@dataclass(frozen=True)
class Library:
    name: str
    module: str | None  # import name; None: builtins (dict)
    dist: str | None  # distribution name, for its version
    #: op name -> Op; an operation missing here is n/a for this library. GET reads the PUT container.
    ops: dict[str, Op]
    get_call: str = "c.get(k)"
    is_hit: Callable[[Any], bool] = _is_not_none
    size: Callable[[Any], int] = _len
    #: Releases a container once it is no longer measured (untimed).
    dispose: Callable[[Any], None] = _keep


#: Measured operations, in table order, with their column labels.
OPERATIONS = {
    "GET": "GET",
    "PUT": "PUT",
    "PUT_TTL": "PUT, TTL per entry",
    "PUT_TTL_GLOBAL": "PUT, TTL per cache",
}
#: The dict operation each one's ratio is taken against.
RATIO_BASE = {"GET": "GET", "PUT": "PUT", "PUT_TTL": "PUT", "PUT_TTL_GLOBAL": "PUT"}

LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        Library("dict", None, None, {"PUT": Op(lambda m, n: {}, dict_put, "d = {}; d[k] = v")}, get_call="d.get(k)"),
        Library(
            "godistcache",
            "godistcache",
            None,
            {
                "PUT": Op(lambda m, n: m.Cache(), dict_put, "Cache(); c[k] = v"),
                "PUT_TTL": Op(lambda m, n: m.Cache(), cache_put, "Cache(); c.put(k, v, 60)"),
                "PUT_TTL_GLOBAL": Op(lambda m, n: m.Cache(default_ttl=60), dict_put, "Cache(default_ttl=60); c[k] = v"),
            },
        ),
        Library(
            "cachebox",
            "cachebox",
            "cachebox",
            {
                "PUT": Op(lambda m, n: m.Cache(0), dict_put, "Cache(0); c[k] = v"),
                "PUT_TTL": Op(lambda m, n: m.VTTLCache(0), insert_ttl, "VTTLCache(0); c.insert(k, v, 60)"),
                "PUT_TTL_GLOBAL": Op(
                    lambda m, n: m.TTLCache(0, global_ttl=60), dict_put, "TTLCache(0, global_ttl=60); c[k] = v"
                ),
            },
        ),
        Library(
            "cachetools",
            "cachetools",
            "cachetools",
            {
                "PUT": Op(lambda m, n: m.Cache(maxsize=n), dict_put, "Cache(maxsize=n); c[k] = v"),
                "PUT_TTL_GLOBAL": Op(
                    lambda m, n: m.TTLCache(maxsize=n, ttl=60), dict_put, "TTLCache(maxsize=n, ttl=60); c[k] = v"
                ),
            },
        ),
        Library(
            "theine",
            "theine",
            "theine",
            {
                "PUT": Op(lambda m, n: m.Cache(n), set_put, "Cache(n); c.set(k, v)"),
                "PUT_TTL": Op(
                    lambda m, n: m.Cache(n),
                    set_put_ttl_delta,
                    "Cache(n); c.set(k, v, ttl), ttl = timedelta(seconds=60) made once",
                ),
            },
            get_call="c.get(k) -> (value, found)",
            is_hit=lambda r: bool(r[1]),
            dispose=_theine_dispose,
        ),
        Library(
            "moka-py",
            "moka_py",
            "moka-py",
            {
                "PUT": Op(lambda m, n: m.Moka(n), set_put, "Moka(n); c.set(k, v)"),
                "PUT_TTL": Op(lambda m, n: m.Moka(n), set_put_ttl_seconds, "Moka(n); c.set(k, v, 60)"),
                "PUT_TTL_GLOBAL": Op(lambda m, n: m.Moka(n, ttl=60), set_put, "Moka(n, ttl=60); c.set(k, v)"),
            },
            size=_moka_count,
        ),
        Library("lru-dict", "lru", "lru-dict", {"PUT": Op(lambda m, n: m.LRU(n), dict_put, "LRU(n); c[k] = v")}),
    )
}


def library_versions(names: Sequence[str] = tuple(LIBRARIES)) -> dict[str, str]:
    """Each library's version ("not installed" when it is not), godistcache with its core."""
    versions: dict[str, str] = {}
    for name in names:
        lib = LIBRARIES[name]
        if name == "godistcache":
            versions[name] = f"{__version__} ({CORE} core)"
        elif lib.dist is None:
            continue
        elif _import(lib.module) is None:
            versions[name] = NOT_INSTALLED
        else:
            try:
                versions[name] = importlib.metadata.version(lib.dist)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "unknown version"
    return versions


# -- 1. throughput ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Best rate of one library's operation at one size; mops is None with status "n/a" or "not installed"."""

    library: str
    op: str
    keys: int
    mops: float | None
    status: str = "ok"
    ratio: float | None = None  # to dict's RATIO_BASE[op] at the same size, same run


def _time_fills(op: Op, module: Any, inputs: Inputs, lib: Library, reps: int) -> float:
    """Seconds of reps passes of op's loop, each into a container made and released untimed."""
    total = 0.0
    n = len(inputs)
    for _ in range(reps):
        container = op.make(module, n)
        t0 = time.perf_counter()
        op.loop(container, inputs.keys, inputs.values)
        total += time.perf_counter() - t0
        held = lib.size(container)
        lib.dispose(container)
        del container
        if held != n:
            raise RuntimeError(f"{op.call}: {held} entries after {n} puts")
    return total


def _filled(lib: Library, module: Any, inputs: Inputs) -> Any:
    """A container of lib filled with every key by its PUT, checked to hold them all."""
    filled = lib.ops["PUT"].make(module, len(inputs))
    lib.ops["PUT"].loop(filled, inputs.keys, inputs.values)
    get = filled.get
    missing = sum(1 for k in inputs.lookup if not lib.is_hit(get(k)))
    if missing:
        lib.dispose(filled)
        raise RuntimeError(f"{lib.name}: {missing} of {len(inputs)} keys missing after the fill")
    return filled


def _reps(one_pass: float, round_seconds: float) -> int:
    return max(1, math.ceil(round_seconds / max(one_pass, 1e-9)))


def measure_throughput(
    libraries: Sequence[str] = tuple(LIBRARIES),
    sizes: Sequence[int] = FULL_SIZES,
    rounds: int = FULL_ROUNDS,
    round_seconds: float = ROUND_SECONDS,
    log: Callable[[str], None] = lambda s: None,
) -> list[Rate]:
    """GET, PUT and both PUTs with a TTL of each library at each size, best of rounds.

    A first, untimed pass of each loop warms it up and sets how many passes
    a round repeats (enough to last round_seconds). Every round runs each
    library once, in an order rotated by one from the previous round.

    Returns:
        One :class:`Rate` per library, operation and size, by size, then
        operation, then library in the order given.

    Raises:
        ValueError: an unknown library, no size, a size or rounds below 1.
        RuntimeError: a container that does not hold every key it was given.
    """
    unknown = [n for n in libraries if n not in LIBRARIES]
    if unknown:
        raise ValueError(f"libraries must be among {list(LIBRARIES)}, got {unknown!r}")
    if not sizes or min(sizes) < 1 or rounds < 1:
        raise ValueError(f"sizes and rounds must be >= 1, got {list(sizes)!r} and {rounds!r}")
    modules = {name: _import(LIBRARIES[name].module) for name in libraries}
    present = [name for name in libraries if modules[name] is not None]
    results: list[Rate] = []
    for n in sizes:
        inputs = make_inputs(n)
        best: dict[tuple[str, str], float] = {}
        for op_name in OPERATIONS:
            runnable = [name for name in present if ("PUT" if op_name == "GET" else op_name) in LIBRARIES[name].ops]
            log(f"{n:,} keys, {op_name}: {', '.join(runnable)}")
            timers: dict[str, Callable[[int], float]] = {}
            reps: dict[str, int] = {}
            filled_containers: list[tuple[Library, Any]] = []
            for name in runnable:
                lib, module = LIBRARIES[name], modules[name]
                if op_name == "GET":
                    filled_containers.append((lib, _filled(lib, module, inputs)))
                    timers[name] = functools.partial(_time_reads, cache_get, filled_containers[-1][1], inputs.lookup)
                else:
                    op = lib.ops[op_name]
                    timers[name] = functools.partial(_time_fills, op, module, inputs, lib)
                gc.collect()
                reps[name] = _reps(timers[name](1), round_seconds)
            for r in range(rounds):
                order = runnable[r % len(runnable) :] + runnable[: r % len(runnable)] if runnable else []
                for name in order:
                    gc.collect()
                    t = timers[name](reps[name])
                    key = (name, op_name)
                    best[key] = min(best.get(key, math.inf), t / (reps[name] * n))
            timers.clear()
            while filled_containers:
                lib, container = filled_containers.pop()
                lib.dispose(container)
                del container
            gc.collect()
        for op_name in OPERATIONS:
            base = best.get(("dict", RATIO_BASE[op_name]))
            for name in libraries:
                if modules[name] is None:
                    results.append(Rate(name, op_name, n, None, NOT_INSTALLED))
                elif (name, op_name) not in best:
                    results.append(Rate(name, op_name, n, None, NA))
                else:
                    per_op = best[(name, op_name)]
                    results.append(Rate(name, op_name, n, 1e-6 / per_op, "ok", None if base is None else base / per_op))
    return results


# -- 2. hit ratio ---------------------------------------------------------------------------------


def _read_through_mapping(cache: Any, trace: Sequence[int]) -> int:
    hits: int = _sibling("hit_ratio").read_through(cache, trace)
    return hits


def _read_through_set(cache: Any, trace: Sequence[int]) -> int:
    get = cache.get
    put = cache.set
    hits = 0
    for k in trace:
        if get(k) is None:
            put(k, k)
        else:
            hits += 1
    return hits


def _cachetools_lru(capacity: int, trace: Sequence[int]) -> int:
    return _read_through_mapping(importlib.import_module("cachetools").LRUCache(capacity), trace)


def _cachetools_lfu(capacity: int, trace: Sequence[int]) -> int:
    return _read_through_mapping(importlib.import_module("cachetools").LFUCache(capacity), trace)


def _moka(capacity: int, trace: Sequence[int]) -> int:
    return _read_through_set(importlib.import_module("moka_py").Moka(capacity), trace)


def _lru_dict(capacity: int, trace: Sequence[int]) -> int:
    return _read_through_mapping(importlib.import_module("lru").LRU(capacity), trace)


#: Policies compared, in table order: hit_ratio.POLICIES name -> (library, label).
HIT_POLICIES: dict[str, tuple[str, str]] = {
    "ours": ("godistcache", "godistcache Cache(max_size=cap), S3-FIFO"),
    "cachebox": ("cachebox", "cachebox LRUCache(cap)"),
    "cachetools_lru": ("cachetools", "cachetools LRUCache(cap)"),
    "cachetools_lfu": ("cachetools", "cachetools LFUCache(cap)"),
    "theine": ("theine", "theine Cache(cap), W-TinyLFU"),
    "moka": ("moka-py", "moka-py Moka(cap), TinyLFU"),
    "lru_dict": ("lru-dict", "lru-dict LRU(cap)"),
    "lru_ref": ("", "OrderedDict LRU (reference)"),
}
_EXTRA_POLICIES: dict[str, Callable[[int, Sequence[int]], int]] = {
    "cachetools_lru": _cachetools_lru,
    "cachetools_lfu": _cachetools_lfu,
    "moka": _moka,
    "lru_dict": _lru_dict,
}


def _hit_ratio_module() -> ModuleType:
    """benchmarks/hit_ratio.py (this process's own copy), with the policies it lacks registered."""
    module = _sibling("hit_ratio")
    for name, run in _EXTRA_POLICIES.items():
        module.POLICIES.setdefault(name, (HIT_POLICIES[name][1], run))
    return module


@dataclass(frozen=True)
class HitRatioResult:
    requests: int
    keys: int
    alpha: float
    seed: int
    distinct: int
    #: {capacity: {policy: hit ratio, None when its library is not installed}}
    ratios: dict[int, dict[str, float | None]]
    policies: tuple[str, ...] = field(default=tuple(HIT_POLICIES))


def measure_hit_ratio(
    requests: int,
    keys: int,
    alpha: float = 0.9,
    seed: int = 42,
    policies: Sequence[str] = tuple(HIT_POLICIES),
    capacities: Sequence[int] | None = None,
) -> HitRatioResult:
    """Read-through hit ratio of each policy on hit_ratio.zipf_trace, at 1% and 10% of keys unless told."""
    unknown = [p for p in policies if p not in HIT_POLICIES]
    if unknown:
        raise ValueError(f"policies must be among {list(HIT_POLICIES)}, got {unknown!r}")
    hr = _hit_ratio_module()
    trace: list[int] = hr.zipf_trace(requests, keys, alpha, seed)
    caps = list(capacities) if capacities is not None else [max(1, keys // 100), max(1, keys // 10)]
    ratios: dict[int, dict[str, float | None]] = hr.hit_ratios(trace, caps, list(policies))
    return HitRatioResult(requests, keys, alpha, seed, len(set(trace)), ratios, tuple(policies))


# -- 3. snapshots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotRow:
    op: str
    entries: int
    ours_s: float
    ref_s: float
    ours_name: str
    ref_name: str
    rounds: int

    @property
    def speedup(self) -> float:
        """Reference time over ours: above 1, ours is faster."""
        return self.ref_s / self.ours_s


def _best_time_kept(fn: Callable[[], Any], rounds: int) -> float:
    """Best wall time of fn() over rounds; what fn returns is freed after the timer stops."""
    best = math.inf
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        del result
        best = min(best, elapsed)
    return best


def _read_and_unpickle(path: str) -> Any:
    with open(path, "rb") as f:
        return pickle.loads(f.read())


def _time_saves(n: int, rounds: int, plain: str, sealed: str, ref_path: str) -> tuple[float, float, float]:
    """(pickle save, our save, our sealed save) of n entries; the cache and its dict are freed on return."""
    cache = snap.filled_cache(n, cipher_key=snap.KEY)
    t_save = snap.best_time(lambda: cache.save(plain, seal=False), rounds)
    t_save_sealed = snap.best_time(lambda: cache.save(sealed), rounds)
    ref = snap.pickle_reference(cache)
    cache.clear()
    t_pickle_save = snap.best_time(lambda: snap.pickle_save(ref, ref_path), rounds)
    return t_pickle_save, t_save, t_save_sealed


def measure_snapshot(
    n: int = SNAPSHOT_ENTRIES, rounds: int = SNAPSHOT_ROUNDS, directory: str | None = None
) -> list[SnapshotRow]:
    """Save and load of n entries (plain and sealed) beside pickle of the equivalent dict, same disk."""
    if n < 1 or rounds < 1:
        raise ValueError(f"n and rounds must be >= 1, got {n!r} and {rounds!r}")
    with tempfile.TemporaryDirectory(prefix="godistcache-compare-", dir=directory) as tmp:
        plain, sealed, ref_path = (
            os.path.join(tmp, f) for f in ("plain.godistcache", "sealed.godistcache", "ref.pickle")
        )
        t_pickle_save, t_save, t_save_sealed = _time_saves(n, rounds, plain, sealed, ref_path)
        t_pickle_load = _best_time_kept(lambda: _read_and_unpickle(ref_path), rounds)
        t_load = _best_time_kept(lambda: Cache.from_file(plain), rounds)
        t_load_sealed = _best_time_kept(lambda: Cache.from_file(sealed, cipher_key=snap.KEY), rounds)
    save_ref, load_ref = "pickle.dumps + write + fsync", "read + pickle.loads"
    return [
        SnapshotRow("save", n, t_save, t_pickle_save, "cache.save(path)", save_ref, rounds),
        SnapshotRow("load", n, t_load, t_pickle_load, "Cache.from_file(path)", load_ref, rounds),
        SnapshotRow("save, sealed", n, t_save_sealed, t_pickle_save, "cache.save(path), with a key", save_ref, rounds),
        SnapshotRow(
            "load, sealed", n, t_load_sealed, t_pickle_load, "Cache.from_file(path, cipher_key=k)", load_ref, rounds
        ),
    ]


# -- 4. sealed values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedRate:
    op: str  # "put_crypt" or "get_crypt"
    kind: str  # "str" or "tuple"
    keys: int
    bare_kops: float
    ours_kops: float
    rounds: int

    @property
    def ratio(self) -> float:
        return self.ours_kops / self.bare_kops


def _interleaved_best(bare: Callable[[], object], ours: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Best pass time of each over rounds, the two alternating who goes first."""
    t_bare = t_ours = math.inf
    for r in range(rounds):
        if r % 2:
            t_ours = min(t_ours, snap.best_time(ours, 1))
            t_bare = min(t_bare, snap.best_time(bare, 1))
        else:
            t_bare = min(t_bare, snap.best_time(bare, 1))
            t_ours = min(t_ours, snap.best_time(ours, 1))
    return t_bare, t_ours


def _measure_sealed_kind(cb: ModuleType, kind: str, rounds: int) -> list[SealedRate]:
    aead = importlib.import_module("cryptography.hazmat.primitives.ciphers.aead").AESGCM(cb.KEY)
    n: int = cb.N
    keys, values, plaintexts, aads = cb.KEYS, cb.VALUES[kind], cb.PLAINTEXTS[kind], cb.AADS
    sealed = [(nonce, aead.encrypt(nonce, pt, ad)) for nonce, pt, ad in zip(cb._nonces(), plaintexts, aads)]
    cache = Cache(cipher_key=cb.KEY)
    cb.cache_put_crypt(cache, keys, values)  # warm-up and fill: the timed passes overwrite
    if cache.get_crypt(keys[-1]) != values[-1]:
        raise RuntimeError(f"get_crypt of a {kind} value did not return what put_crypt stored")
    t_seal = _interleaved_best(
        lambda: cb.bare_seal(aead, plaintexts, aads), lambda: cb.cache_put_crypt(cache, keys, values), rounds
    )
    t_open = _interleaved_best(
        lambda: cb.bare_open(aead, sealed, aads), lambda: cb.cache_get_crypt(cache, keys), rounds
    )
    return [
        SealedRate(op, kind, n, n / t_bare / 1e3, n / t_ours / 1e3, rounds)
        for op, (t_bare, t_ours) in (("put_crypt", t_seal), ("get_crypt", t_open))
    ]


def measure_sealed(rounds: int = SEALED_ROUNDS) -> list[SealedRate]:
    """put_crypt/get_crypt beside the bare AESGCM loops of benchmarks/test_crypt_bench.py, on its data.

    Raises:
        ImportError: cryptography (or pytest, which that module imports) is missing.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds!r}")
    cb = _sibling("test_crypt_bench")
    return [rate for kind in cb.VALUES for rate in _measure_sealed_kind(cb, kind, rounds)]


# -- tables ----------------------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('s') else 's'}"


@dataclass(frozen=True)
class Section:
    """One table: printed as text, written as Markdown, with how it was measured."""

    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str]
    method: str  # how this section's figures were taken, one or two sentences
    left: int = 1  # the first `left` columns are left-aligned
    #: (header, rows) of a second, Markdown-only table (the calls behind the throughput figures).
    details: tuple[list[str], list[list[str]]] | None = None

    def text(self) -> list[str]:
        lines = [f"{self.title}:", *_text_table(self.header, self.rows, self.left), "", *self.notes]
        if self.details is not None:
            lines += _text_table(*self.details, left=len(self.details[0]))
        return lines

    def markdown(self) -> list[str]:
        lines = [*_md_table(self.header, self.rows, self.left), "", *(f"- {n}" for n in self.notes)]
        if self.details is not None:
            lines += ["", *_md_table(*self.details, left=len(self.details[0]), code=True)]
        return lines


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int, code: bool = False) -> list[str]:
    def cell(c: str, i: int) -> str:
        c = c.replace("|", "\\|")
        return f"`{c}`" if code and i > 0 and c not in ("", NA) else c

    def line(cells: Sequence[str], body: bool = True) -> str:
        return "| " + " | ".join(cell(c, i) if body else c for i, c in enumerate(cells)) + " |"

    align = ["---" if i < left else "---:" for i in range(len(header))]
    return [line(header, False), line(align, False), *(line(r) for r in rows)]


def _mops_cell(rate: Rate) -> str:
    if rate.mops is None:
        return rate.status
    ratio = "" if rate.ratio is None else f" ({rate.ratio:.2f}x)"
    return f"{rate.mops:.2f}{ratio}"


def throughput_method(rounds: int, round_seconds: float) -> str:
    return (
        f"Throughput: best of {_plural(rounds, 'round')} timed with time.perf_counter, after one untimed warm-up pass;"
        f" each round repeats its pass over the keys until it lasts at least {round_seconds:g} s; the libraries take"
        " turns in an order rotated every round; gc enabled, collected before each round; ratios to dict from the"
        " same rounds."
    )


def throughput_section(rates: Sequence[Rate], rounds: int, round_seconds: float = ROUND_SECONDS) -> Section:
    by_key = {(r.library, r.op, r.keys): r for r in rates}
    sizes = sorted({r.keys for r in rates})
    names = list(dict.fromkeys(r.library for r in rates))
    rows = [
        [f"{n:,}", name, *(_mops_cell(by_key[(name, op, n)]) for op in OPERATIONS)] for n in sizes for name in names
    ]
    calls = [
        [
            name,
            LIBRARIES[name].get_call,
            *(LIBRARIES[name].ops[o].call if o in LIBRARIES[name].ops else NA for o in OPERATIONS if o != "GET"),
        ]
        for name in names
    ]
    return Section(
        f"Throughput, M ops/s (ratio to dict), best of {_plural(rounds, 'round')}",
        ["keys", "library", *OPERATIONS.values()],
        rows,
        [
            "ratio: to dict.get(k) for GET, to d[k] = v for every PUT, measured in the same rounds.",
            (
                'keys "key:<i>", values ("One", i, 3.3); GET over the keys in shuffled order, all hits, on the container'
                " the PUT filled (no TTL); each PUT pass into a fresh container (growth included)."
            ),
            "TTL per entry: a 60 s TTL given with each put; per cache: a 60 s TTL set once on the container.",
            f"{NA}: the library has no such operation; {NOT_INSTALLED}: not importable here.",
            "calls (n = number of keys):",
        ],
        throughput_method(rounds, round_seconds),
        left=2,
        details=(["library", *OPERATIONS.values()], calls),
    )


def hit_ratio_method(result: HitRatioResult) -> str:
    return (
        f"Hit ratio: one Zipf trace (benchmarks/hit_ratio.py's zipf_trace: {result.requests:,} requests over"
        f" {result.keys:,} keys, alpha {result.alpha:g}, seed {result.seed}) through every cache, read-through;"
        " counts, not timings."
    )


def hit_ratio_section(result: HitRatioResult) -> Section:
    caps = list(result.ratios)
    rows = []
    for policy in result.policies:
        cells = []
        for cap in caps:
            ratio = result.ratios[cap].get(policy)
            cells.append(NOT_INSTALLED if ratio is None else f"{ratio:.2%}")
        rows.append([HIT_POLICIES[policy][1], *cells])
    header = ["policy", *(f"capacity {c:,} ({c / result.keys:.0%})" for c in caps)]
    return Section(
        "Hit ratio, read-through on a Zipf trace",
        header,
        rows,
        [
            (
                f"{result.requests:,} requests over {result.keys:,} keys, Zipf alpha {result.alpha:g}, seed {result.seed}"
                f" ({result.distinct:,} distinct keys requested): benchmarks/hit_ratio.py's trace and hit_ratios()."
            ),
            "Each request: a get, and on a miss a put of the key; hit ratio = hits / requests, cold misses included.",
            f"A cache holding every key would score {(result.requests - result.distinct) / result.requests:.2%}.",
        ],
        hit_ratio_method(result),
    )


def snapshot_method(rounds: int) -> str:
    return (
        f"Snapshots: best of {_plural(rounds, 'round')} timed with time.perf_counter, gc collected before each;"
        " ours and pickle on the same data and the same disk (a temporary directory)."
    )


def snapshot_section(rows: Sequence[SnapshotRow]) -> Section:
    rounds = rows[0].rounds if rows else 0
    table = [
        [
            r.op,
            f"{r.entries:,}",
            f"{r.ours_s * 1e3:.0f} ms",
            f"{r.entries / r.ours_s / 1e6:.2f}",
            r.ref_name,
            f"{r.ref_s * 1e3:.0f} ms",
            f"{r.speedup:.2f}x",
        ]
        for r in rows
    ]
    return Section(
        f"Snapshots, best of {_plural(rounds, 'round')}",
        ["snapshot", "entries", "godistcache", "M entries/s", "reference", "reference time", "speed vs reference"],
        table,
        [
            (
                'entries: str keys "key:<i>", values ("One", i, 3.3), each with a TTL (godistcache._bench_snapshot\'s'
                " data); the reference pickles (protocol 5) the equivalent {key: (value, expires_ns)} dict."
            ),
            "save: cache.save(path) (temp file, fsync, rename, directory fsync) beside pickle.dumps + write + fsync.",
            (
                "load: Cache.from_file(path) (read, check every frame, fill a new table) beside reading the file and"
                " pickle.loads; what each returns is freed after the timer stops."
            ),
            "sealed: AES-256-GCM frames under a key, beside the same (unsealed) pickle reference.",
            "speed vs reference: reference time / our time (above 1: ours is faster).",
        ],
        snapshot_method(rounds),
    )


def sealed_method(rounds: int) -> str:
    return (
        f"Sealed values: best of {_plural(rounds, 'pass')} over 10K keys timed with time.perf_counter, the bare loop"
        " and ours alternating who goes first."
    )


def sealed_section(rates: Sequence[SealedRate]) -> Section:
    rounds = rates[0].rounds if rates else 0
    rows = [
        [f"{r.op} ({r.kind})", f"{r.keys:,}", f"{r.bare_kops:,.0f}", f"{r.ours_kops:,.0f}", f"{r.ratio:.2f}x"]
        for r in rates
    ]
    return Section(
        f"Sealed values, k ops/s, best of {_plural(rounds, 'pass')}",
        ["operation (values)", "keys", "bare AESGCM", "godistcache", "ratio"],
        rows,
        [
            (
                "bare AESGCM: cryptography's AESGCM(key).encrypt/decrypt over the plaintexts put_crypt seals, with the same"
                " associated data and nonce scheme, and nothing else (benchmarks/test_crypt_bench.py's loops and data)."
            ),
            "godistcache: cache.put_crypt(k, v) (encode, seal, put) and cache.get_crypt(k) (get, open, decode).",
            'values: 50-character str, or ("One", i, 3.3) tuples; ratio: godistcache / bare (1.00x: no overhead).',
        ],
        sealed_method(rounds),
    )


# -- environment, Markdown, charts --------------------------------------------------------------------------


def environment_text(versions: dict[str, str], quick: bool = False) -> str:
    """Machine, interpreter, hash seed and library versions, in one sentence."""
    env = environment()
    load = f" (load average {os.getloadavg()[0]:.2f} at the start)" if hasattr(os, "getloadavg") else ""
    libs = ", ".join(f"{name} {v}" for name, v in versions.items())
    return (
        f"{'Quick (smoke) run, not for publishing. ' if quick else ''}{env['machine']}{load}; {env['python']};"
        f" PYTHONHASHSEED={env['PYTHONHASHSEED']}; {libs}; all in one process and one run."
    )


def write_markdown(path: Path, env_text: str, sections: Sequence[tuple[Section, str | None]]) -> None:
    """performance.md: the method paragraph, then each table with its chart and notes."""
    lines = [
        "# Performance beside other Python caches",
        "",
        "Written by `PYTHONHASHSEED=0 python benchmarks/compare.py` (regenerate it rather than editing it).",
        "",
        f"**Method.** {env_text} " + " ".join(s.method for s, _ in sections),
        "",
        "Only ratios measured in the same run carry over to another machine, and on a shared machine even they move",
        "from run to run (by about 0.1 for the throughput ratios).",
    ]
    for section, chart in sections:
        lines += ["", f"## {section.title}", ""]
        if chart:
            lines += [f"![{section.title}]({chart})", ""]
        lines += section.markdown()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


#: One colour per library in every chart (matplotlib's tab10), grey for references.
COLORS = {
    "dict": "#1f77b4",
    "godistcache": "#ff7f0e",
    "cachebox": "#2ca02c",
    "cachetools": "#d62728",
    "theine": "#9467bd",
    "moka-py": "#8c564b",
    "lru-dict": "#e377c2",
    "": "#7f7f7f",
}


def _caption(fig: Any, text: str, top_inches: float = 0.75) -> None:
    """The method under the plot, wrapped; the plot's bottom margin grows to fit it."""
    wrapped = "\n".join(textwrap.wrap(text, 210))
    fig.text(0.01, 0.01, wrapped, fontsize=6.5, ha="left", va="bottom", color="#333333")
    lines = wrapped.count("\n") + 1
    fig.subplots_adjust(
        bottom=min(0.45, (lines * 0.11 + 0.55) / fig.get_figheight()), top=1 - top_inches / fig.get_figheight()
    )


def _label_bars(ax: Any, bars: Any, fmt: str, fontsize: float = 6.0, rotation: int = 0) -> None:
    for bar in bars:
        h = bar.get_height()
        if h > 0:
            ax.annotate(
                fmt.format(h),
                (bar.get_x() + bar.get_width() / 2, h),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=fontsize,
                rotation=rotation,
            )


def write_charts(
    out_dir: Path,
    env_text: str,
    rates: Sequence[Rate] | None = None,
    hit: HitRatioResult | None = None,
    snapshot: Sequence[SnapshotRow] | None = None,
    sealed: Sequence[SealedRate] | None = None,
    rounds: int = FULL_ROUNDS,
    round_seconds: float = ROUND_SECONDS,
) -> dict[str, Path]:
    """PNG charts of the sections given, each captioned with its method; {section: path}.

    Raises:
        ImportError: matplotlib is not installed.
    """
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    written: dict[str, Path] = {}

    def save(fig: Any, name: str) -> None:
        written[name] = out_dir / f"{name}.png"
        fig.savefig(written[name], dpi=130)
        plt.close(fig)

    if rates:
        sizes = sorted({r.keys for r in rates})
        all_names = list(dict.fromkeys(r.library for r in rates))
        names = [n for n in all_names if any(r.library == n and r.mops for r in rates)]
        missing = [n for n in all_names if n not in names]
        by_key = {(r.library, r.op, r.keys): r for r in rates}
        fig, axes = plt.subplots(len(sizes), 1, figsize=(11, 3.4 * len(sizes) + 2.2), squeeze=False)
        width = 0.8 / max(1, len(names))
        for ax, n in zip(axes[:, 0], sizes):
            for i, name in enumerate(names):
                xs, hs = [], []
                for j, op in enumerate(OPERATIONS):
                    rate = by_key.get((name, op, n))
                    x = j + (i - (len(names) - 1) / 2) * width
                    if rate is not None and rate.mops is not None:
                        xs.append(x)
                        hs.append(rate.mops)
                    else:
                        ax.text(x, 0, NA, rotation=90, fontsize=5.5, ha="center", va="bottom", color="#888888")
                bars = ax.bar(xs, hs, width, label=name, color=COLORS.get(name, COLORS[""]))
                _label_bars(ax, bars, "{:.1f}", fontsize=5.5, rotation=90)
            ax.set_xticks(range(len(OPERATIONS)), list(OPERATIONS.values()))
            ax.set_ylabel("M ops/s (higher is better)")
            ax.set_title(f"{n:,} keys", fontsize=10, loc="left")
            ax.margins(y=0.2)
            ax.grid(axis="y", alpha=0.3)
        axes[0, 0].legend(ncol=len(names), fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.suptitle(f"Throughput, best of {_plural(rounds, 'round')}", fontsize=12, x=0.01, ha="left")
        not_installed = f" Not installed: {', '.join(missing)}." if missing else ""
        _caption(
            fig,
            f"{NA}: the library has no such operation.{not_installed} GET: c.get(k) on shuffled keys, all hits; PUT: a"
            " fresh container per pass; TTL 60 s, per entry (given with each put) or per cache (set on the container)."
            f" {throughput_method(rounds, round_seconds)} {env_text}",
        )
        save(fig, "throughput")

    if hit is not None:
        caps = list(hit.ratios)
        policies = [p for p in hit.policies if any(hit.ratios[c].get(p) is not None for c in caps)]
        fig, ax = plt.subplots(figsize=(11, 5.4))
        width = 0.8 / max(1, len(policies))
        seen: set[str] = set()
        for i, policy in enumerate(policies):
            library = HIT_POLICIES[policy][0]
            xs = [j + (i - (len(policies) - 1) / 2) * width for j in range(len(caps))]
            hs = [100 * (hit.ratios[c].get(policy) or 0.0) for c in caps]
            hatch = "//" if library in seen else None  # a library's second policy (cachetools LFU)
            seen.add(library)
            bars = ax.bar(
                xs,
                hs,
                width,
                label=HIT_POLICIES[policy][1],
                color=COLORS.get(library, COLORS[""]),
                hatch=hatch,
                edgecolor="white",
            )
            _label_bars(ax, bars, "{:.1f}", fontsize=6.5)
        ax.set_xticks(range(len(caps)), [f"capacity {c:,} ({c / hit.keys:.0%} of keys)" for c in caps])
        ax.set_ylabel("hit ratio, % (higher is better)")
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
        fig.suptitle(
            f"Hit ratio, read-through: {hit.requests:,} requests over {hit.keys:,} keys, Zipf alpha {hit.alpha:g}",
            fontsize=12,
            x=0.01,
            ha="left",
        )
        _caption(
            fig,
            "Hit ratio = hits / requests, cold misses included; a get, and on a miss a put."
            f" {hit_ratio_method(hit)} {env_text}",
            top_inches=0.95,
        )
        save(fig, "hit_ratio")

    def pair_chart(
        left: tuple[list[float], str, str],
        right: tuple[list[float], str, str],
        fmt: str,
        xticks: list[str],
        ylabel: str,
        title: str,
        caption: str,
    ) -> Any:
        """Two bars per row: (values, label, color) on the left and on the right."""
        fig, ax = plt.subplots(figsize=(11, 4.8))
        pos = range(len(xticks))
        for shift, (values, label, color) in ((-0.2, left), (0.2, right)):
            bars = ax.bar([x + shift for x in pos], values, 0.4, label=label, color=color)
            _label_bars(ax, bars, fmt, fontsize=7)
        ax.set_xticks(list(pos), xticks)
        ax.set_ylabel(ylabel)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
        fig.suptitle(title, fontsize=12, x=0.01, ha="left")
        _caption(fig, caption)
        return fig

    if snapshot:
        fig = pair_chart(
            ([r.ours_s * 1e3 for r in snapshot], "godistcache", COLORS["godistcache"]),
            ([r.ref_s * 1e3 for r in snapshot], "pickle: dumps + write + fsync / read + loads", COLORS[""]),
            "{:.0f} ms",
            [f"{r.op}\n{r.speedup:.1f}x pickle's speed" for r in snapshot],
            "ms (lower is better)",
            f"Snapshot of {snapshot[0].entries:,} entries, save and load",
            "save: cache.save(path) (fsync, rename) beside pickle.dumps + write + fsync of the same {key: (value, expiry)}"
            " dict; load: Cache.from_file(path) beside read + pickle.loads; sealed: AES-256-GCM frames."
            f" {snapshot_method(snapshot[0].rounds)} {env_text}",
        )
        save(fig, "snapshot")

    if sealed:
        fig = pair_chart(
            ([r.bare_kops for r in sealed], "bare AESGCM encrypt / decrypt", COLORS[""]),
            ([r.ours_kops for r in sealed], "godistcache put_crypt / get_crypt", COLORS["godistcache"]),
            "{:,.0f}",
            [f"{r.op} ({r.kind})\nours: {r.ratio:.2f}x of bare" for r in sealed],
            "k ops/s (higher is better)",
            f"Sealed values (AES-256-GCM), {sealed[0].keys:,} keys",
            "Bare: cryptography's AESGCM call alone on the same plaintexts, associated data and nonce scheme; ours adds"
            f" encoding, framing and the table. {sealed_method(sealed[0].rounds)} {env_text}",
        )
        save(fig, "sealed")
    return written


# -- command line ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="10K keys, 1 round, a small trace and snapshot: a smoke run"
    )
    parser.add_argument("--no-plots", action="store_true", help="print the tables and write performance.md, no PNGs")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where performance.md and the PNGs go (default {DOCS_DIR}; with --quick, a temporary directory)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"throughput rounds (default {FULL_ROUNDS}; 1 with --quick)"
    )
    parser.add_argument(
        "--libraries", default=",".join(LIBRARIES), help="comma-separated subset for the throughput table"
    )
    args = parser.parse_args(argv)
    libraries = [s.strip() for s in args.libraries.split(",") if s.strip()]
    bad = [s for s in libraries if s not in LIBRARIES]
    if bad or not libraries:
        parser.error(f"unknown or no libraries {bad}; choose among {', '.join(LIBRARIES)}")
    quick: bool = args.quick
    rounds: int = args.rounds if args.rounds is not None else (1 if quick else FULL_ROUNDS)
    if rounds < 1:
        parser.error("--rounds must be >= 1")
    default_out = Path(tempfile.gettempdir()) / "godistcache-compare-quick" if quick else DOCS_DIR
    out: Path = args.out if args.out is not None else default_out
    out.mkdir(parents=True, exist_ok=True)
    round_seconds = QUICK_ROUND_SECONDS if quick else ROUND_SECONDS

    started = time.perf_counter()
    env_text = environment_text(library_versions(libraries), quick)
    print(env_text, flush=True)

    def log(message: str) -> None:
        print(f"  [{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    def show(section: Section) -> None:
        print("\n" + "\n".join(section.text()), flush=True)

    sections: list[tuple[Section, str]] = []
    rates = measure_throughput(libraries, QUICK_SIZES if quick else FULL_SIZES, rounds, round_seconds, log)
    sections.append((throughput_section(rates, rounds, round_seconds), "throughput.png"))
    show(sections[-1][0])

    trace = QUICK_TRACE if quick else FULL_TRACE
    log(f"hit ratio: {trace['requests']:,} requests over {trace['keys']:,} keys")
    hit = measure_hit_ratio(int(trace["requests"]), int(trace["keys"]), float(trace["alpha"]), int(trace["seed"]))
    sections.append((hit_ratio_section(hit), "hit_ratio.png"))
    show(sections[-1][0])

    entries = snap.QUICK_ENTRIES if quick else SNAPSHOT_ENTRIES
    log(f"snapshots: {entries:,} entries")
    snapshot = measure_snapshot(entries, 1 if quick else SNAPSHOT_ROUNDS)
    sections.append((snapshot_section(snapshot), "snapshot.png"))
    show(sections[-1][0])

    log("sealed values")
    sealed: list[SealedRate] = []
    try:
        sealed = measure_sealed(1 if quick else SEALED_ROUNDS)
    except ImportError as exc:
        print(f"\nsealed values: skipped, {exc}")
    else:
        sections.append((sealed_section(sealed), "sealed.png"))
        show(sections[-1][0])

    charts: dict[str, Path] = {}
    if not args.no_plots:
        try:
            charts = write_charts(out, env_text, rates, hit, snapshot, sealed, rounds, round_seconds)
        except ImportError as exc:
            print(f"\ncharts: skipped, matplotlib is not installed ({exc}); pip install matplotlib")
    chart_names = {p.name for p in charts.values()}
    write_markdown(out / "performance.md", env_text, [(s, c if c in chart_names else None) for s, c in sections])
    print(f"\nwrote {out / 'performance.md'}" + "".join(f", {p}" for p in charts.values()))
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
