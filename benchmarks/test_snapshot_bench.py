"""Snapshot save and load, each beside pickle of the same entries, measured in the same run.

Groups (each holds the reference and ours, so only ratios matter):

- ``save``: ``pickle.dumps`` of ``{key: (value, expires_ns)}`` written and
  fsynced, beside ``cache.save`` (unsealed and sealed);
- ``load``: ``pickle.loads`` of those bytes, beside ``Cache.load`` (unsealed and sealed);
- ``save pickled`` / ``load pickled``: the same with dataclass values, which
  only pickle can encode (``allow_pickle=True``).

1M entries with ``--benchmark-enable``; a smoke-sized 20K when benchmarks are
disabled (the test run), where each body runs once and times nothing. The
end of the module prints each figure as a speed ratio to its reference.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from godistcache import Cache
from godistcache._bench_snapshot import KEY, Point, filled_cache, pickle_reference, pickle_save

ROUNDS = 5
_best: dict[tuple[str, str], float] = {}
REFERENCE = {"save": "pickle", "load": "pickle", "save pickled": "pickle", "load pickled": "pickle"}


@pytest.fixture(scope="module")
def n_entries(request: pytest.FixtureRequest) -> int:
    opt = request.config.getoption
    disabled = opt("benchmark_disable") and not opt("benchmark_enable")
    return 20_000 if disabled else 1_000_000


@pytest.fixture(scope="module")
def data(n_entries: int, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The caches, their pickle references and their files, built once."""
    tmp = tmp_path_factory.mktemp("snapshot-bench")
    tuples = filled_cache(n_entries, cipher_key=KEY)
    objects = filled_cache(max(n_entries // 5, 1), value=lambda i: Point(i, 3.3, "One"))
    d: dict[str, Any] = {"dir": tmp, "tuples": tuples, "objects": objects}
    for name in ("tuples", "objects"):
        ref = pickle_reference(d[name])
        d[name + " ref"] = ref
        d[name + " pickle"] = pickle.dumps(ref, protocol=5)
    tuples.save(tmp / "plain.godistcache", seal=False)
    tuples.save(tmp / "sealed.godistcache")
    objects.save(tmp / "objects.godistcache", allow_pickle=True)
    return d


def _run(benchmark: Any, group: str, who: str, fn: Callable[[], Any], entries: int) -> None:
    benchmark.group = group
    benchmark.extra_info["entries"] = entries
    benchmark.pedantic(fn, rounds=ROUNDS, warmup_rounds=1)
    if benchmark.stats is not None:  # None under --benchmark-disable
        _best[group, who] = benchmark.stats.stats.min
        ref = _best.get((group, REFERENCE[group]))
        if who != REFERENCE[group] and ref:
            benchmark.extra_info["speed vs pickle"] = round(ref / _best[group, who], 3)


@pytest.mark.parametrize("who", ["pickle", "plain", "sealed"])
def test_save(benchmark: Any, data: dict[str, Any], who: str) -> None:
    cache, path = data["tuples"], data["dir"] / f"save-{who}"
    fns = {
        "pickle": lambda: pickle_save(data["tuples ref"], str(path)),
        "plain": lambda: cache.save(path, seal=False),
        "sealed": lambda: cache.save(path),
    }
    _run(benchmark, "save", who, fns[who], len(cache))
    assert path.stat().st_size > len(cache) * 10


@pytest.mark.parametrize("who", ["pickle", "plain", "sealed"])
def test_load(benchmark: Any, data: dict[str, Any], who: str) -> None:
    target = Cache(cipher_key=KEY)
    fns = {
        "pickle": lambda: pickle.loads(data["tuples pickle"]),
        "plain": lambda: target.load(data["dir"] / "plain.godistcache", require_sealed=False),
        "sealed": lambda: target.load(data["dir"] / "sealed.godistcache"),
    }
    _run(benchmark, "load", who, fns[who], len(data["tuples"]))
    if who != "pickle":
        assert len(target) == len(data["tuples"])


@pytest.mark.parametrize("who", ["pickle", "plain"])
def test_save_pickled(benchmark: Any, data: dict[str, Any], who: str) -> None:
    cache, path = data["objects"], data["dir"] / f"objects-{who}"
    fns = {
        "pickle": lambda: pickle_save(data["objects ref"], str(path)),
        "plain": lambda: cache.save(path, allow_pickle=True),
    }
    _run(benchmark, "save pickled", who, fns[who], len(cache))
    assert os.path.getsize(path) > len(cache)


@pytest.mark.parametrize("who", ["pickle", "plain"])
def test_load_pickled(benchmark: Any, data: dict[str, Any], who: str) -> None:
    target = Cache()
    fns = {
        "pickle": lambda: pickle.loads(data["objects pickle"]),
        "plain": lambda: target.load(data["dir"] / "objects.godistcache", allow_pickle=True),
    }
    _run(benchmark, "load pickled", who, fns[who], len(data["objects"]))
    if who != "pickle":
        assert target["key:3"] == Point(3, 3.3, "One")


@pytest.fixture(scope="module", autouse=True)
def ratio_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of the module, print each figure as a speed ratio to pickle (and sealed to plain)."""
    yield
    if not _best:
        return
    lines = ["", "snapshot speed, best round (ratio > 1: faster than the reference):"]
    for (group, who), t in sorted(_best.items()):
        ref = _best.get((group, "pickle"))
        if who == "pickle" or not ref:
            continue
        line = f"  {group:<13} {who:<7} {t * 1000:8.1f} ms   {ref / t:5.2f}x pickle"
        plain = _best.get((group, "plain"))
        if who == "sealed" and plain:
            line += f"   {t / plain:5.2f}x the time of plain"
        lines.append(line)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
        for line in lines:
            reporter.write_line(line)


def test_reference_dict_matches(data: dict[str, Any]) -> None:
    """The pickle reference holds what the cache holds: the comparison is like for like."""
    ref = data["tuples ref"]
    assert len(ref) == len(data["tuples"])
    k, (v, e) = next(iter(ref.items()))
    assert data["tuples"][k] == v and e > 0
    assert isinstance(data["dir"], Path)
