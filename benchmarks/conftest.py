"""Fixtures for the benchmarks: the c/py core fixture and the dict ratios.

Each benchmark records its best round here; the summary at the end of the
run prints every figure in M ops/s beside dict's, measured in the same run,
and the same numbers go into each benchmark's ``extra_info`` (and so into
``--benchmark-json``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

import godistcache
from godistcache._testing import cache_class

CORES = ("c", "py")

_RESULTS = pytest.StashKey[dict[tuple[str, str, str], dict[str, Any]]]()


def _cache_class(core_id: str) -> type:
    """``Cache`` as users hold it, standing on the given core."""
    try:
        return cache_class(core_id)
    except ImportError as exc:
        pytest.skip(f"core {core_id!r} unavailable: {exc}")


@pytest.fixture(scope="session", params=CORES, ids=CORES)
def core(request: pytest.FixtureRequest) -> tuple[str, type]:
    """(core id, Cache class on that core): ``c`` compiled, ``py`` the pure-Python twin."""
    return request.param, _cache_class(request.param)


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Any:
    """record(benchmark, op, size, who, ops_per_round): keep the best rate and its ratio to dict."""
    results = request.config.stash.setdefault(_RESULTS, {})

    def record(benchmark: Any, op: str, size: str, who: str, ops: int) -> None:
        benchmark.extra_info["keys"] = ops
        if benchmark.stats is None:  # --benchmark-disable: ran once, timed nothing
            return
        info = benchmark.extra_info
        info["M ops/s"] = round(ops / benchmark.stats.stats.min / 1e6, 3)
        results[(op, size, who)] = info
        # Whichever of dict and ours ran last fills in the ratios of the pair.
        ref = results.get((op, size, "dict"))
        if ref is not None:
            for (o, s, w), other in results.items():
                if (o, s) == (op, size) and w != "dict":
                    other["vs dict"] = round(other["M ops/s"] / ref["M ops/s"], 3)

    return record


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS, None)
    if not results:
        return
    who = ["dict", *(w for w in CORES if any(k[2] == w for k in results))]
    tr = terminalreporter
    tr.section("throughput per key (M ops/s, best round) and ratio to dict in the same run")
    tr.write_line(f"{'operation':<10}{'keys':>6}" + "".join(f"{w:>18}" for w in who))
    pairs = {(o, s): info["keys"] for (o, s, _), info in results.items()}
    for op, size in sorted(pairs, key=lambda p: (p[0], pairs[p])):
        cells = []
        for w in who:
            info = results.get((op, size, w))
            if info is None:
                cells.append(f"{'-':>18}")
            elif w == "dict":
                cells.append(f"{info['M ops/s']:>18.2f}")
            else:
                ratio = info.get("vs dict")
                suffix = "" if ratio is None else f" ({ratio:.2f}x)"
                cells.append(f"{info['M ops/s']:.2f}{suffix}".rjust(18))
        tr.write_line(f"{op:<10}{size:>6}" + "".join(cells))


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine_info["godistcache"] = godistcache.__version__
    machine_info["godistcache_default_core"] = godistcache.CORE
    machine_info["PYTHONHASHSEED"] = os.environ.get("PYTHONHASHSEED", "random")
