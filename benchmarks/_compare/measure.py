"""The timing loops of the comparison's four sections; each returns plain records for report and charts."""

from __future__ import annotations

import functools
import gc
import importlib
import math
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from godistcache import Cache
from godistcache import _bench_snapshot as snap
from godistcache._bench import Inputs, _time_reads, cache_get, make_inputs

from .libraries import (
    HIT_POLICIES,
    LIBRARIES,
    NA,
    NOT_INSTALLED,
    OPERATIONS,
    RATIO_BASE,
    Library,
    Op,
    hit_ratio_module,
    import_library,
    sibling,
)

FULL_SIZES = (10_000, 1_000_000)
QUICK_SIZES = (10_000,)
FULL_ROUNDS = 5
#: Each timed round repeats its pass over the keys until it lasts at least this long.
ROUND_SECONDS = 0.1
QUICK_ROUND_SECONDS = 0.005

#: Hit-ratio trace: benchmarks/hit_ratio.py's defaults, and a small one for --quick.
FULL_TRACE = {"requests": 1_000_000, "keys": 100_000, "alpha": 0.9, "seed": 42}
QUICK_TRACE = {"requests": 20_000, "keys": 2_000, "alpha": 0.9, "seed": 42}

SNAPSHOT_ENTRIES = 1_000_000
SNAPSHOT_ROUNDS = 3
SEALED_ROUNDS = 20


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
    modules = {name: import_library(LIBRARIES[name].module) for name in libraries}
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
    hr = hit_ratio_module()
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
    cb = sibling("test_crypt_bench")
    return [rate for kind in cb.VALUES for rate in _measure_sealed_kind(cb, kind, rounds)]
