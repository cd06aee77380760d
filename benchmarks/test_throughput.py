"""GET, PUT and PUT_SAFE on ``Cache`` (c and py cores), each beside a plain dict.

Each group (operation, size) holds dict and both cores, timed per round over
every key; the summary at the end gives M ops/s and the ratio to dict. The
loops are the functions ``godistcache bench`` times, in ``godistcache._bench``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from godistcache import _bench

SIZES = {"10K": 10_000, "1M": 1_000_000}

# Module constants, built once per session: the 1M inputs take about a second.
INPUTS = {size: _bench.make_inputs(n) for size, n in SIZES.items()}

# A round is one pass over every key: about 1 ms at 10K, 0.2 to 3 s at 1M.
ROUNDS = {"10K": 200, "1M": 5}

_filled: dict[tuple[str, str], Any] = {}


def _filled_for_get(who: str, size: str, make: Callable[[], Any]) -> Any:
    """A container holding every key of size, built once per session (entries carry a TTL)."""
    if (who, size) not in _filled:
        inputs = INPUTS[size]
        if who == "dict":
            container = _bench.fill_dict(make(), inputs.keys, inputs.values)
        else:
            container = _bench.fill_cache(make(), inputs.keys, inputs.values, _bench.GET_TTL)
        assert len(container) == len(inputs)
        assert all(container.get(k) is not None for k in inputs.lookup[:1000])
        _filled[who, size] = container
    return _filled[who, size]


def _fresh(make: Callable[[], Any], inputs: _bench.Inputs) -> Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]:
    """A pedantic setup: a new empty container every round, so growth is part of the work."""

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (make(), inputs.keys, inputs.values), {}

    return setup


def _run(benchmark: Any, record: Any, op: str, size: str, who: str, target: Any, **pedantic: Any) -> None:
    benchmark.group = f"{op} {size} keys"
    benchmark.pedantic(target, rounds=ROUNDS[size], warmup_rounds=1, **pedantic)
    record(benchmark, op, size, who, SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_get_dict(benchmark: Any, record: Any, size: str) -> None:
    d = _filled_for_get("dict", size, dict)
    _run(benchmark, record, "GET", size, "dict", _bench.dict_get, args=(d, INPUTS[size].lookup))


@pytest.mark.parametrize("size", SIZES)
def test_get(benchmark: Any, record: Any, core: tuple[str, type], size: str) -> None:
    core_id, cache_class = core
    cache = _filled_for_get(core_id, size, cache_class)
    _run(benchmark, record, "GET", size, core_id, _bench.cache_get, args=(cache, INPUTS[size].lookup))


@pytest.mark.parametrize("size", SIZES)
def test_put_dict(benchmark: Any, record: Any, size: str) -> None:
    _run(benchmark, record, "PUT", size, "dict", _bench.dict_put, setup=_fresh(dict, INPUTS[size]))


@pytest.mark.parametrize("size", SIZES)
def test_put(benchmark: Any, record: Any, core: tuple[str, type], size: str) -> None:
    core_id, cache_class = core
    _run(benchmark, record, "PUT", size, core_id, _bench.cache_put, setup=_fresh(cache_class, INPUTS[size]))


@pytest.mark.parametrize("size", SIZES)
def test_put_safe_dict(benchmark: Any, record: Any, size: str) -> None:
    _run(benchmark, record, "PUT_SAFE", size, "dict", _bench.dict_put, setup=_fresh(dict, INPUTS[size]))


@pytest.mark.parametrize("size", SIZES)
def test_put_safe(benchmark: Any, record: Any, core: tuple[str, type], size: str) -> None:
    core_id, cache_class = core
    _run(benchmark, record, "PUT_SAFE", size, core_id, _bench.cache_put_safe, setup=_fresh(cache_class, INPUTS[size]))
