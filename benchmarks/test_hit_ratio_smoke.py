"""Smoke test of benchmarks/hit_ratio.py: a tiny Zipf trace through ours and the OrderedDict LRU.

With room for every key, a cache misses exactly once per distinct key, so its
hit ratio must be (requests - distinct keys) / requests: a bound that evicts
too early, or a get that misses a present key, fails it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REQUESTS = 20_000
KEYS = 2_000


def _load() -> ModuleType:
    name = "_godistcache_benchmarks_hit_ratio"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("hit_ratio.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


hit_ratio = _load()
TRACE: list[int] = hit_ratio.zipf_trace(REQUESTS, KEYS, 0.9, 42)


def _check(policy: str) -> None:
    distinct = len(set(TRACE))
    small, full = KEYS // 10, distinct
    results = hit_ratio.hit_ratios(TRACE, [small, full], [policy])
    ratio = results[small][policy]
    assert ratio is not None and 0.0 < ratio < 1.0
    assert results[full][policy] == (REQUESTS - distinct) / REQUESTS
    # A larger cache never does worse on this trace: a ratio that goes down would mean a broken bound.
    assert results[full][policy] > ratio


def test_trace_is_deterministic_and_skewed() -> None:
    assert hit_ratio.zipf_trace(REQUESTS, KEYS, 0.9, 42) == TRACE
    assert all(0 <= k < KEYS for k in TRACE)
    counts: dict[int, int] = {}
    for k in TRACE:
        counts[k] = counts.get(k, 0) + 1
    # Zipf(0.9) over 2K keys: the most popular key takes about 1/sum(1/i**0.9) ~ 7% of the requests.
    assert 0.04 < max(counts.values()) / REQUESTS < 0.12


def test_lru_reference() -> None:
    _check("lru_ref")


def test_ours() -> None:
    why = hit_ratio.bounded_cache_available()
    if why is not None:
        pytest.skip(why)
    _check("ours")
