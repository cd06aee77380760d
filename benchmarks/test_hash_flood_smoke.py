"""Smoke test of benchmarks/hash_flood.py at a tiny size: the key sets are what they claim, every row prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    name = "_godistcache_benchmarks_hash_flood"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("hash_flood.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


hash_flood = _load()


def _mixed(k: int) -> int:
    return (hash(k) * hash_flood.GOLDEN) & ((1 << 64) - 1)


def test_crafted_keys_share_the_bits_they_claim() -> None:
    keys = hash_flood.crafted_keys(300, low_bits=12, low=0xABC)
    assert len(set(keys)) == 300
    assert all(hash(k) == k for k in keys)
    assert {_mixed(k) >> 32 for k in keys} == {0x5EED1234}
    assert {_mixed(k) & 0xFFF for k in keys} == {0xABC}
    with pytest.raises(ValueError, match="keys share 64 bits, 2 asked for"):
        hash_flood.crafted_keys(2, low_bits=32, low=0)


def test_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert hash_flood.main(["--scale", "0.01", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for case in ("crafted insert", "crafted vs 2 jumps too", "ordinary insert", "crafted load"):
        assert case in out
    assert out.count("x\n") == 5  # one ratio per row
