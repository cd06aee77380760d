"""Smoke test of benchmarks/compare.py: each section on tiny sizes, for dict and godistcache.

Not a benchmark: it checks that every figure compare.py reports is a real
measurement (a positive, finite rate or time), that the tables have one row
per library asked for, that "n/a" and "not installed" are reported rather than
faked or fatal, and that a cache with room for every key of a trace misses
exactly once per distinct key.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

LIBS = ["dict", "godistcache"]


def _load() -> ModuleType:
    name = "_godistcache_benchmarks_compare"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("compare.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


compare = _load()


def _positive(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def test_throughput() -> None:
    sizes = [500, 2_000]
    rates = compare.measure_throughput(LIBS, sizes, rounds=2, round_seconds=0.001)
    ops = list(compare.OPERATIONS)
    assert [(r.keys, r.op, r.library) for r in rates] == [(n, op, lib) for n in sizes for op in ops for lib in LIBS]
    for r in rates:
        if r.library == "dict" and r.op.startswith("PUT_TTL"):
            # dict has no TTL: reported as such, never emulated.
            assert (r.status, r.mops, r.ratio) == (compare.NA, None, None)
        else:
            assert r.status == "ok" and _positive(r.mops) and _positive(r.ratio), r
        if r.library == "dict" and r.op in ("GET", "PUT"):
            assert r.ratio == 1.0
    section = compare.throughput_section(rates, 2)
    assert [row[:2] for row in section.rows] == [[f"{n:,}", lib] for n in sizes for lib in LIBS]
    assert all(len(row) == 2 + len(ops) for row in section.rows)
    assert section.details is not None and [row[0] for row in section.details[1]] == LIBS
    text, md = "\n".join(section.text()), "\n".join(section.markdown())
    assert "n/a" in text and "| 2,000 | godistcache |" in md


def test_library_not_installed_is_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = compare.Library("ghost", "godistcache_no_such_module", "ghost", dict(compare.LIBRARIES["dict"].ops))
    monkeypatch.setitem(compare.LIBRARIES, "ghost", ghost)
    rates = compare.measure_throughput(["dict", "ghost"], [200], rounds=1, round_seconds=0.0)
    ghost_rates = [r for r in rates if r.library == "ghost"]
    assert len(ghost_rates) == len(compare.OPERATIONS)
    assert all(r.status == compare.NOT_INSTALLED and r.mops is None for r in ghost_rates)
    assert compare.library_versions(["dict", "ghost"]) == {"ghost": compare.NOT_INSTALLED}
    row = compare.throughput_section(rates, 1).rows[1]
    assert row[1:] == ["ghost", *[compare.NOT_INSTALLED] * len(compare.OPERATIONS)]


def test_hit_ratio() -> None:
    hit_ratio = compare.hit_ratio_module()
    why = hit_ratio.bounded_cache_available()
    if why is not None:
        pytest.skip(why)
    requests, keys = 5_000, 500
    exact_lrus = ["lru_ref", "cachebox", "cachetools_lru", "lru_dict"]
    result = compare.measure_hit_ratio(requests, keys, policies=["ours", *exact_lrus], capacities=[10, keys])
    full = (requests - result.distinct) / requests
    # Room for every key: one miss per distinct key, no more.
    assert result.ratios[keys]["ours"] == full
    assert 0.0 < result.ratios[10]["ours"] < full
    # Every exact LRU that is installed scores what the OrderedDict reference scores.
    for policy in exact_lrus:
        for cap in (10, keys):
            ratio = result.ratios[cap][policy]
            assert ratio is None or ratio == result.ratios[cap]["lru_ref"], (policy, cap)
    section = compare.hit_ratio_section(result)
    assert len(section.rows) == 1 + len(exact_lrus) and all(len(row) == 3 for row in section.rows)


def test_snapshot(tmp_path: Path) -> None:
    rows = compare.measure_snapshot(2_000, rounds=1, directory=str(tmp_path))
    assert [r.op for r in rows] == ["save", "load", "save, sealed", "load, sealed"]
    assert all(r.entries == 2_000 and _positive(r.ours_s) and _positive(r.ref_s) for r in rows)
    assert len(compare.snapshot_section(rows).rows) == 4
    assert list(tmp_path.iterdir()) == []  # its files are gone


def test_sealed() -> None:
    pytest.importorskip("cryptography")
    rates = compare.measure_sealed(rounds=1)
    assert {(r.op, r.kind) for r in rates} == {
        (op, kind) for op in ("put_crypt", "get_crypt") for kind in ("str", "tuple")
    }
    assert all(_positive(r.bare_kops) and _positive(r.ours_kops) and _positive(r.ratio) for r in rates)
    assert len(compare.sealed_section(rates).rows) == 4


def test_markdown_and_charts(tmp_path: Path) -> None:
    rates = compare.measure_throughput(LIBS, [300], rounds=1, round_seconds=0.0)
    result = compare.measure_hit_ratio(2_000, 200, policies=["lru_ref"])
    env = compare.environment_text(compare.library_versions(LIBS))
    assert "PYTHONHASHSEED=" in env and "CPUs" in env and "godistcache " in env
    section = compare.throughput_section(rates, 1)
    compare.write_markdown(
        tmp_path / "performance.md", env, [(section, "throughput.png"), (compare.hit_ratio_section(result), None)]
    )
    md = (tmp_path / "performance.md").read_text(encoding="utf-8")
    assert md.count("\n| 300 | ") == len(LIBS) and "**Method.**" in md and env in md and "](throughput.png)" in md
    pytest.importorskip("matplotlib")
    charts = compare.write_charts(tmp_path, env, rates=rates, hit=result, rounds=1)
    assert sorted(charts) == ["hit_ratio", "throughput"]
    for path in charts.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_no_container_outlives_its_measurement() -> None:
    # theine's caches stay referenced by their maintenance task until closed: compare.py must close them,
    # or every measurement after theine's would run beside its leftover entries.
    theine = pytest.importorskip("theine")
    compare.measure_throughput(["theine"], [300], rounds=1, round_seconds=0.0)
    gc.collect()
    leftovers = [obj for obj in gc.get_objects() if isinstance(obj, theine.Cache) and len(obj)]
    assert leftovers == []
