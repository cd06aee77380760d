"""The cache libraries compared: how to make each one's container, its natural put/get calls, its hit-ratio policy.

The loops have one shape for every library (the one ``godistcache._bench`` uses):
``for k in keys: c.get(k)`` and ``for k, v in zip(keys, values): <put>``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from godistcache import CORE, __version__
from godistcache._bench import cache_put, dict_put

#: benchmarks/, where the sibling scripts this comparison reuses live.
BENCHMARKS_DIR = Path(__file__).resolve().parent.parent

TTL_SECONDS = 60
TTL_DELTA = timedelta(seconds=TTL_SECONDS)

NOT_INSTALLED = "not installed"
NA = "n/a"


def sibling(stem: str) -> ModuleType:
    """benchmarks/<stem>.py as a module of its own, loaded once per process."""
    name = f"_godistcache_compare_{stem}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS_DIR / f"{stem}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {BENCHMARKS_DIR / f'{stem}.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_library(module: str | None) -> ModuleType | None:
    """The library's module, or None when it is not installed (dict needs none: a dummy)."""
    if module is None:
        return sys.modules["builtins"]
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


# -- the libraries and their natural calls ---------------------------------------------------------


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
        elif import_library(lib.module) is None:
            versions[name] = NOT_INSTALLED
        else:
            try:
                versions[name] = importlib.metadata.version(lib.dist)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "unknown version"
    return versions


# -- hit-ratio adapters----------------------------------------------------------------------


def _read_through_mapping(cache: Any, trace: Sequence[int]) -> int:
    hits: int = sibling("hit_ratio").read_through(cache, trace)
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


def hit_ratio_module() -> ModuleType:
    """benchmarks/hit_ratio.py (this process's own copy), with the policies it lacks registered."""
    module = sibling("hit_ratio")
    for name, run in _EXTRA_POLICIES.items():
        module.POLICIES.setdefault(name, (HIT_POLICIES[name][1], run))
    return module
