"""TTL normalisation: accepted types, error types and messages, and c/py parity."""

from __future__ import annotations

import datetime
import time
from decimal import Decimal
from fractions import Fraction
from types import ModuleType
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from godistcache._core import _table_py

MAX_TTL_NS = 1 << 62
MAX_TTL_S = MAX_TTL_NS // 1_000_000_000  # 4611686018
TYPE_MSG = "ttl must be seconds (int or float) or a timedelta, got "


class IndexOnly:
    def __init__(self, n: int) -> None:
        self.n = n

    def __index__(self) -> int:
        return self.n


class FloatOnly:
    def __init__(self, f: float) -> None:
        self.f = f

    def __float__(self) -> float:
        return self.f


class MyInt(int):
    pass


class MyFloat(float):
    pass


# -- exact values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "ns"),
    [
        (0, 0),
        (0.0, 0),
        (-0.0, 0),
        (float("inf"), 0),
        (1, 1_000_000_000),
        (0.5, 500_000_000),
        (1.5, 1_500_000_000),
        (1e-9, 1),
        (1e-12, 1),  # rounds up to the smallest TTL, never to "no expiry"
        (5e-324, 1),
        (MAX_TTL_S, MAX_TTL_S * 1_000_000_000),
        (datetime.timedelta(0), 0),
        (datetime.timedelta(microseconds=1), 1000),
        (datetime.timedelta(days=1, seconds=1, microseconds=1), 86_401_000_001_000),
        (Fraction(1, 4), 250_000_000),
        (Fraction(3), 3_000_000_000),
        (Decimal("2.5"), 2_500_000_000),
        (IndexOnly(3), 3_000_000_000),
        (FloatOnly(0.25), 250_000_000),
        (MyInt(2), 2_000_000_000),
        (MyFloat(0.75), 750_000_000),
    ],
    ids=repr,
)
def test_ttl_to_ns_values(core: ModuleType, ttl: Any, ns: int) -> None:
    result = core.ttl_to_ns(ttl)
    assert type(result) is int
    assert result == ns


def test_max_ttl_constant(core: ModuleType) -> None:
    assert core.MAX_TTL_NS == MAX_TTL_NS
    import godistcache._core.table as table

    assert table.MAX_TTL_NS == MAX_TTL_NS


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        (-3, "ttl must be >= 0, got -3"),
        (-1.5, "ttl must be >= 0, got -1.5"),
        (-(2**80), f"ttl must be >= 0, got {-(2**80)}"),
        (float("-inf"), "ttl must be >= 0, got -inf"),
        (datetime.timedelta(seconds=-1), "ttl must be >= 0, got datetime.timedelta(days=-1, seconds=86399)"),
        (float("nan"), "ttl must be a number of seconds, got nan"),
        (Decimal("NaN"), "ttl must be a number of seconds, got Decimal('NaN')"),
        (MAX_TTL_S + 1, f"ttl must be at most {MAX_TTL_S} seconds, got {MAX_TTL_S + 1}"),
        (2**100, f"ttl must be at most {MAX_TTL_S} seconds, got {2**100}"),
        (4.7e9, f"ttl must be at most {MAX_TTL_S} seconds, got 4700000000.0"),
        (1e300, f"ttl must be at most {MAX_TTL_S} seconds, got 1e+300"),
        (
            datetime.timedelta(days=60_000),
            f"ttl must be at most {MAX_TTL_S} seconds, got datetime.timedelta(days=60000)",
        ),
        (IndexOnly(-3), "ttl must be >= 0, got -3"),
    ],
    ids=repr,
)
def test_value_errors(core: ModuleType, cache_cls: Any, ttl: Any, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        core.ttl_to_ns(ttl)
    assert str(exc.value) == message
    cache = cache_cls()
    cache.put("k", "old")
    for call in (
        lambda: cache.put("k", "new", ttl),
        lambda: cache.put("n", "new", ttl=ttl),
        lambda: cache.put_safe("n", "new", ttl),
        lambda: setattr(cache, "default_ttl", ttl),
        lambda: cache_cls(ttl),
    ):
        with pytest.raises(ValueError) as exc:
            call()
        assert str(exc.value) == message
    # a rejected TTL changes nothing
    assert list(cache.items()) == [("k", "old")]
    assert cache.default_ttl == 0.0


def test_value_error_message_contains_the_value(cache: Any) -> None:
    with pytest.raises(ValueError, match=r"^ttl must be >= 0, got -3$"):
        cache.put("k", 1, ttl=-3)
    assert "k" not in cache


@pytest.mark.parametrize(
    ("ttl", "type_name"),
    [
        (True, "bool"),
        (False, "bool"),
        ("1", "str"),
        (b"1", "bytes"),
        (bytearray(b"1"), "bytearray"),
        (1j, "complex"),
        ([1], "list"),
        (object(), "object"),
        (None, "NoneType"),
    ],
    ids=repr,
)
def test_type_errors(core: ModuleType, cache_cls: Any, ttl: Any, type_name: str) -> None:
    with pytest.raises(TypeError) as exc:
        core.ttl_to_ns(ttl)
    assert str(exc.value) == TYPE_MSG + type_name
    if ttl is None:
        return  # None is "use the default" for put, covered elsewhere
    cache = cache_cls()
    for call in (
        lambda: cache.put("k", 1, ttl),
        lambda: cache.put_safe("k", 1, ttl),
        lambda: setattr(cache, "default_ttl", ttl),
        lambda: cache_cls(default_ttl=ttl),
    ):
        with pytest.raises(TypeError) as exc:
            call()
        assert str(exc.value) == TYPE_MSG + type_name
    assert len(cache) == 0


def test_exceptions_from_conversion_propagate(core: ModuleType) -> None:
    class Boom(Exception):
        pass

    class BadFloat:
        def __float__(self) -> float:
            raise Boom

    class BadIndex:
        def __index__(self) -> int:
            raise Boom

    with pytest.raises(Boom):
        core.ttl_to_ns(BadFloat())
    with pytest.raises(Boom):
        core.ttl_to_ns(BadIndex())
    with pytest.raises(ValueError, match="signaling NaN"):
        core.ttl_to_ns(Decimal("sNaN"))


# -- the two cores agree on every input ----------------------------------------------


def _outcome(mod: ModuleType, ttl: object) -> tuple[str, object]:
    try:
        ns = mod.ttl_to_ns(ttl)
    except Exception as e:  # noqa: BLE001 - the type and message are what we compare
        return type(e).__name__, str(e)
    assert type(ns) is int
    assert 0 <= ns < MAX_TTL_NS
    return "ok", ns


ANY_TTL = st.one_of(
    st.floats(),
    st.floats(min_value=4.6e9, max_value=4.7e9),
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.integers(),
    st.integers(min_value=-(2**130), max_value=2**130),
    st.integers(min_value=MAX_TTL_S - 3, max_value=MAX_TTL_S + 3),
    st.timedeltas(),
    st.timedeltas(min_value=datetime.timedelta(days=53_000), max_value=datetime.timedelta(days=54_000)),
    st.fractions(),
    st.decimals(),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.integers().map(IndexOnly),
    st.floats().map(FloatOnly),
    st.integers().map(MyInt),
    st.floats().map(MyFloat),
)


@pytest.fixture(scope="module")
def both_cores(cache_classes: dict[str, Any]) -> tuple[ModuleType, ModuleType]:
    if "c" not in cache_classes:
        pytest.skip("GODISTCACHE_NO_EXTENSIONS is set: no compiled core to compare")
    import godistcache._core._table_c as table_c

    return table_c, _table_py


@settings(max_examples=600, deadline=None)
@given(ttl=ANY_TTL)
@example(ttl=float("nan"))
@example(ttl=float("inf"))
@example(ttl=-float("inf"))
@example(ttl=-0.0)
@example(ttl=5e-324)
@example(ttl=2.2250738585072014e-308)
@example(ttl=1.7976931348623157e308)
@example(ttl=4611686018.427387)
@example(ttl=4611686018.4273877)
@example(ttl=float(MAX_TTL_S))
@example(ttl=2**63)
@example(ttl=-(2**63))
@example(ttl=2**64)
@example(ttl=datetime.timedelta.max)
@example(ttl=datetime.timedelta.min)
@example(ttl=datetime.timedelta(microseconds=MAX_TTL_NS // 1000))
@example(ttl=datetime.timedelta(microseconds=MAX_TTL_NS // 1000 + 1))
def test_ttl_to_ns_parity(both_cores: tuple[ModuleType, ModuleType], ttl: object) -> None:
    table_c, table_py = both_cores
    assert _outcome(table_c, ttl) == _outcome(table_py, ttl)


# -- the clock hooks ---------------------------------------------------------------------


def test_now_ns_is_unix_time(core: ModuleType) -> None:
    now = core.now_ns()
    assert type(now) is int
    assert abs(now - time.time_ns()) < 60 * 1_000_000_000


def test_no_process_wide_clock_hook(core: ModuleType) -> None:
    # A fake clock is per cache (timer=): nothing freezes every table of a core.
    assert not hasattr(core, "_set_clock")
    assert not hasattr(core, "_fake_now")


def test_clock_fixture_is_every_cache_timer(clock: Any, cache_classes: dict[str, Any]) -> None:
    caches = [cls() for cls in cache_classes.values()] + [cls(timer=clock) for cls in cache_classes.values()]
    assert all(c.timer is clock for c in caches)
    assert {c._now_ns() for c in caches} == {clock.now}
    clock.advance(1.5)
    assert {c._now_ns() for c in caches} == {clock.now}
    assert clock.now % 10**9 == 5 * 10**8
