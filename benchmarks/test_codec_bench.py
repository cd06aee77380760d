"""encode and decode of the value codec (c and py twins), each beside pickle.

Each group (operation, shape) holds pickle (protocol 5) and both twins timed
in the same run, so only their ratios matter: each twin's ``extra_info`` gets
``time vs pickle`` (its best round over pickle's best round, lower is faster).
The shapes are those of a cache: many small values encoded one by one, and
one mid-sized dict encoded in one call.
"""

from __future__ import annotations

import functools
import importlib
import pickle
from collections.abc import Callable
from typing import Any

import pytest

N_VALUES = 100_000
N_DICT = 1_000

# Module constants, built once per session.
VALUES = [("One", i, 3.3) for i in range(N_VALUES)]
DICT = {f"key{i}": ("One", i, 3.3) for i in range(N_DICT)}

SHAPES: dict[str, tuple[Any, bool]] = {
    # name: (input, encoded value by value)
    "100K values": (VALUES, True),
    "dict of 1K": (DICT, False),
}

CODECS = {"c": "godistcache._core._codec_c", "py": "godistcache._core._codec_py"}
WHO = ["pickle", *CODECS]  # pickle first: the twins' ratios need its figure

# Rounds per shape and contender: the pure-Python twin is the slow one.
ROUNDS = {"100K values": {"pickle": 10, "c": 10, "py": 3}, "dict of 1K": {"pickle": 200, "c": 200, "py": 50}}

_best: dict[tuple[str, str, str], float] = {}
_encoded: dict[tuple[str, str], Any] = {}


def _functions(who: str) -> tuple[Callable[[Any], bytes], Callable[[Any], Any]]:
    """(dumps, loads) of a contender."""
    if who == "pickle":
        return functools.partial(pickle.dumps, protocol=5), pickle.loads
    try:
        codec = importlib.import_module(CODECS[who])
    except ImportError as exc:
        pytest.skip(f"codec {who!r} unavailable: {exc}")
    return codec.encode, codec.decode


def _each(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(x) for x in items]


def _encoded_input(who: str, shape: str) -> Any:
    """The shape encoded by who, built once: the decode benchmarks' input."""
    if (who, shape) not in _encoded:
        dumps, _ = _functions(who)
        value, one_by_one = SHAPES[shape]
        _encoded[who, shape] = _each(dumps, value) if one_by_one else dumps(value)
    return _encoded[who, shape]


def _run(benchmark: Any, op: str, shape: str, who: str, target: Callable[..., Any], arg: Any) -> Any:
    benchmark.group = f"{op} {shape}"
    result = benchmark.pedantic(target, args=(arg,), rounds=ROUNDS[shape][who], warmup_rounds=1)
    if benchmark.stats is not None:  # None under --benchmark-disable: ran once, timed nothing
        _best[op, shape, who] = benchmark.stats.stats.min
        ref = _best.get((op, shape, "pickle"))
        if who != "pickle" and ref:
            benchmark.extra_info["time vs pickle"] = round(_best[op, shape, who] / ref, 3)
    return result


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("shape", SHAPES)
def test_encode(benchmark: Any, shape: str, who: str) -> None:
    dumps, loads = _functions(who)
    value, one_by_one = SHAPES[shape]
    if one_by_one:
        out = _run(benchmark, "encode", shape, who, functools.partial(_each, dumps), value)
        assert len(out) == len(value) and loads(out[-1]) == value[-1]
    else:
        out = _run(benchmark, "encode", shape, who, dumps, value)
        assert loads(out) == value


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("shape", SHAPES)
def test_decode(benchmark: Any, shape: str, who: str) -> None:
    _, loads = _functions(who)
    value, one_by_one = SHAPES[shape]
    data = _encoded_input(who, shape)
    if one_by_one:
        out = _run(benchmark, "decode", shape, who, functools.partial(_each, loads), data)
        assert len(out) == len(value) and out[-1] == value[-1]
    else:
        out = _run(benchmark, "decode", shape, who, loads, data)
        assert out == value
