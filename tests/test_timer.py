"""``Cache(timer=...)``: a per-cache clock for every expiry decision, on both cores."""

from __future__ import annotations

import copy
import datetime
import decimal
import math
import pickle
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from godistcache.errors import ConfigurationError

from .conftest import CORE_NAMES, wait_for

UTC = datetime.timezone.utc


class Timer:
    """A fake timer returning whatever the test sets, in seconds from an arbitrary origin."""

    def __init__(self, now: Any = 100.0) -> None:
        self.now = now
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.now


class Boom(Exception):
    pass


class Raising:
    """A timer that works until told to raise."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.fail = False

    def __call__(self) -> float:
        if self.fail:
            raise Boom("the timer broke")
        return self.now


def _expiries(cache: Any) -> dict[Any, int]:
    return {k: e for k, _, e in cache._iter(3)}


def test_timer_is_read_only_and_none_by_default(cache_cls: type[Any]) -> None:
    assert cache_cls().timer is None
    t = Timer()
    c = cache_cls(timer=t)
    assert c.timer is t
    with pytest.raises(AttributeError):
        c.timer = Timer()  # type: ignore[misc]
    with pytest.raises(TypeError, match="timer must be a callable or None, got int"):
        cache_cls(timer=5)


def test_float_timer_decides_expiry_at_the_boundary(cache_cls: type[Any]) -> None:
    t = Timer(100.0)
    c = cache_cls(timer=t)
    c.put("a", 1, ttl=10)
    c.put("b", 2)  # never
    assert _expiries(c)["a"] == 110 * 10**9  # in the timer's frame, not Unix time
    t.now = 109.5
    assert c.get("a") == 1 and c.ttl("a") == pytest.approx(0.5)
    t.now = 110.0  # exactly the expiry: expired
    assert c.get("a") is None and "a" not in c and len(c) == 1
    t.now = 1e9
    assert c.get("b") == 2


def test_timer_far_from_unix_time_does_not_see_wall_clock(cache_cls: type[Any]) -> None:
    # A monotonic-style frame that starts at 0: without the timer these entries would be long expired.
    t = Timer(0.0)
    c = cache_cls(timer=t, default_ttl=5)
    c["k"] = "v"
    assert c["k"] == "v" and list(c) == ["k"] and dict(c.items()) == {"k": "v"}
    t.now = 5
    assert list(c) == [] and c.get("k") is None


def test_every_read_path_uses_the_timer(cache_cls: type[Any]) -> None:
    t = Timer(50.0)
    c = cache_cls(timer=t)
    for k in "abcde":
        c.put(k, k, ttl=1)
    t.now = 51.0
    assert c.pop("a", "gone") == "gone"
    assert c.delete("b") is False
    with pytest.raises(KeyError):
        c.ttl("c")
    assert c.expire() == 2  # d and e: a, b and c were freed when met
    c.put("f", "f", ttl=1)
    assert c._iter(0) is not None and list(c._iter(0)) == ["f"]
    t.now = 52.0
    assert list(c._iter(2)) == [] and list(c.keys()) == [] and len(c) == 0


def test_expire_at_is_in_the_timer_frame(cache_cls: type[Any]) -> None:
    t = Timer(1000.0)
    c = cache_cls(timer=t)
    c.put("k", 1, expire_at=1003)
    c.put("past", 2, expire_at=999)
    assert "past" not in c
    t.now = 1002.999
    assert c.get("k") == 1
    t.now = 1003
    assert c.get("k") is None


@pytest.mark.parametrize("aware", [True, False])
def test_datetime_timer(cache_cls: type[Any], aware: bool) -> None:
    start = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=UTC if aware else None)
    t = Timer(start)
    c = cache_cls(timer=t)
    c.put("k", 1, ttl=60)
    assert _expiries(c)["k"] == round(start.timestamp()) * 10**9 + 60 * 10**9
    t.now = start + datetime.timedelta(seconds=59, microseconds=999_999)
    assert c.get("k") == 1
    t.now = start + datetime.timedelta(seconds=60)
    assert c.get("k") is None
    c.put("until", 2, expire_at=start + datetime.timedelta(seconds=90))  # a datetime expiry, in the same frame
    t.now = start + datetime.timedelta(seconds=89)
    assert c.get("until") == 2
    t.now = start + datetime.timedelta(seconds=90)
    assert c.get("until") is None


@pytest.mark.parametrize(
    "value, ns",
    [
        (7, 7 * 10**9),
        (1.5, 1_500_000_000),
        (-2.25, -2_250_000_000),
        (decimal.Decimal("1.000000001"), 1_000_000_001),
        (datetime.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC), 1_000_005_000),
    ],
)
def test_what_a_timer_may_return(cache_cls: type[Any], value: Any, ns: int) -> None:
    assert cache_cls(timer=Timer(value))._now_ns() == ns


@pytest.mark.parametrize(
    "value, error, match",
    [
        ("12", TypeError, "must return seconds .* got str"),
        (None, TypeError, "must return seconds .* got NoneType"),
        (True, TypeError, "got bool"),
        (1 + 2j, TypeError, "got complex"),
        (math.nan, ValueError, "returned nan: not a finite time"),
        (math.inf, ValueError, "returned inf: not a finite time"),
        (-math.inf, ValueError, "returned -inf: not a finite time"),
        (decimal.Decimal("NaN"), ValueError, "not a finite time"),
        (2.0**63 / 1e9 * 1.01, ValueError, "out of the int64 range"),
        (-(2**63) // 10**9 - 1, ValueError, "out of the int64 range"),
        (10**30, ValueError, "out of the int64 range"),
    ],
)
def test_bad_returns_are_refused_naming_the_timer(cache_cls: type[Any], value: Any, error: type, match: str) -> None:
    t = Timer(100.0)
    c = cache_cls(timer=t, max_size=2)
    c.put("a", 1, ttl=10)
    c.put("b", 2)
    t.now = value
    for op in (
        lambda: c.put("x", 1, ttl=1),
        lambda: c.put("c", 3),  # a bounded put that must evict reads the timer first
        lambda: c.get("a"),
        lambda: len(c),
        lambda: list(c),
        lambda: c.expire(),
        lambda: c._now_ns(),
    ):
        with pytest.raises(error, match=match) as info:
            op()
        assert "Timer object" in str(info.value)  # the timer is named
    t.now = 100.0
    assert dict(c.items()) == {"a": 1, "b": 2} and _expiries(c) == {"a": 110 * 10**9, "b": 0}


def test_a_put_near_the_end_of_int64_time_clamps_its_expiry(cache_cls: type[Any]) -> None:
    t = Timer(9_000_000_000)  # seconds: 9e18 ns, near 2**63
    c = cache_cls(timer=t)
    c.put("k", 1, ttl=10**9)
    assert _expiries(c)["k"] == 2**63 - 1
    assert c.get("k") == 1


def test_a_raising_timer_leaves_the_cache_as_it_was(cache_cls: type[Any]) -> None:
    t = Raising(100.0)
    evicted: list[Any] = []
    c = cache_cls(timer=t, max_size=3, on_evict=lambda k, v, cause: evicted.append((k, cause)))
    c.put("a", 1, ttl=10)
    c.put("b", 2, ttl=20)
    c.put("c", 3)
    t.fail = True
    for op in (
        lambda: c.put("d", 4),  # would evict: the timer is read before anything changes
        lambda: c.put("d", 4, ttl=5),
        lambda: c.put("a", 9),  # a replace of an entry with an expiry
        lambda: c.put("e", 5, expire_at=200),
        lambda: c.get("a"),
        lambda: c.pop("b"),
        lambda: c.delete("a"),
        lambda: c.ttl("b"),
        lambda: len(c),
        lambda: c.expire(),
        lambda: c._sweep(10),
        lambda: list(c.items()),
    ):
        with pytest.raises(Boom):
            op()
    t.fail = False
    assert dict(c.items()) == {"a": 1, "b": 2, "c": 3}
    assert _expiries(c) == {"a": 110 * 10**9, "b": 120 * 10**9, "c": 0}
    assert evicted == [] and c.stats().evicted == 0
    c.put("d", 4)  # works again, and evicts as it should
    assert len(c) == 3 and len(evicted) == 1


@pytest.mark.parametrize("ttl", [0, 1])
def test_write_times_follow_the_timer_and_sync_stamps_the_wall_clock(cache_cls: type[Any], ttl: int) -> None:
    t = Timer(5.0)
    c = cache_cls(timer=t)
    c._track_writes()  # snapshots keep write times in the timer's frame, as its expiry times
    c.put("k", 1, ttl=ttl)
    assert c._write_time("k") == 5 * 10**9
    s = cache_cls(timer=t)
    s._track_changes("me")  # a syncing table's stamps travel between instances: wall time
    before = time.time_ns()
    s.put("k", 1, ttl=ttl)
    assert before <= s._write_time("k") <= time.time_ns()


def test_sweeper_uses_the_timer(cache_cls: type[Any]) -> None:
    t = Timer(10.0)
    c = cache_cls(timer=t, sweep_interval=0.01)
    try:
        for i in range(50):
            c.put(i, i, ttl=1)
        c.put("keep", 1)
        time.sleep(0.05)
        assert c.stats().expired == 0  # the wall clock has moved, the timer has not
        t.now = 11.0
        wait_for(lambda: c.stats().expired == 50)
        assert list(c) == ["keep"]
    finally:
        c.sweeper.stop()


def test_save_and_load_with_a_timer(cache_cls: type[Any], tmp_path: Path) -> None:
    t = Timer(1000.0)
    c = cache_cls(timer=t)
    c.put("short", 1, ttl=5)
    c.put("long", 2, ttl=50)
    c.put("gone", 3, ttl=1)
    c.put("never", 4)
    t.now = 1001.0  # "gone" expired before the save: not written
    path = tmp_path / "timer.godistcache"
    assert c.save(path) == 3
    t2 = Timer(1004.0)
    d = cache_cls(timer=t2)
    assert d.load(path) == 3
    assert _expiries(d) == {"short": 1005 * 10**9, "long": 1050 * 10**9, "never": 0}
    t2.now = 1010.0  # "short" expired: dropped by a load at this time
    e = cache_cls(timer=t2)
    e.load(path)
    assert dict(e.items()) == {"long": 2, "never": 4}
    # Without a timer, those expiry times are Unix time: 1970, long past.
    f = cache_cls()
    f.load(path)
    assert dict(f.items()) == {"never": 4}


def test_unix_time_timer_keeps_files_interchangeable(cache_cls: type[Any], tmp_path: Path) -> None:
    c = cache_cls(timer=time.time)
    c.put("k", 1, ttl=3600)
    path = tmp_path / "unix.godistcache"
    c.save(path)
    d = cache_cls()
    d.load(path)
    assert d.get("k") == 1 and 3500 < d.ttl("k") <= 3600


def test_get_or_set_and_memoize_use_the_timer(cache_cls: type[Any]) -> None:
    t = Timer(0.0)
    c = cache_cls(timer=t)
    calls = []

    @c.memoize(ttl=10)
    def f(x: int) -> int:
        calls.append(x)
        return x * 2

    assert f(1) == 2 and f(1) == 2 and calls == [1]
    assert c.get_or_set("g", lambda: "v1", ttl=10) == "v1"
    t.now = 9.9
    assert f(1) == 2 and calls == [1] and c.get_or_set("g", lambda: "v2", ttl=10) == "v1"
    t.now = 10.0
    assert f(1) == 2 and calls == [1, 1] and c.get_or_set("g", lambda: "v2", ttl=10) == "v2"


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_copies_keep_the_timer(cache_cls: type[Any], how: str) -> None:
    t = Timer(10.0)
    c = cache_cls(timer=t, max_size=10, default_ttl=5)
    c.put("a", [1], ttl=1)
    c.put("b", [2])
    if how == "copy":
        d = copy.copy(c)
        assert d.timer is t
    elif how == "deepcopy":
        d = copy.deepcopy(c)
        assert d.timer is t  # the same callable
    else:
        d = pickle.loads(pickle.dumps(c))
        t = d.timer
        assert type(t) is Timer and t is not c.timer and t.now == 10.0
    assert repr(d) == repr(c)
    assert dict(d.items()) == {"a": [1], "b": [2]} and _expiries(d) == {"a": 11 * 10**9, "b": 15 * 10**9}
    t.now = 11.0
    assert list(d) == ["b"]


def test_a_lambda_timer_does_not_pickle(cache_cls: type[Any]) -> None:
    c = cache_cls(timer=lambda: 1.0)
    c["k"] = 1
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(c)


def test_sync_is_refused(cache_cls: type[Any]) -> None:
    c = cache_cls(timer=time.time)
    with pytest.raises(ConfigurationError, match="timer .* can't sync: expiry times travel .* Unix time"):
        c.sync_with_s3(object())
    assert c._syncs is None  # nothing was set up


def test_without_a_timer_expiry_is_unix_time(cache_cls: type[Any]) -> None:
    c = cache_cls()
    c.put("k", 1, ttl=100)
    assert abs(_expiries(c)["k"] - (time.time_ns() + 100 * 10**9)) < 10 * 10**9
    assert abs(c._now_ns() - time.time_ns()) < 10 * 10**9


@pytest.mark.skipif(len(CORE_NAMES) < 2, reason="one core only")
def test_the_cores_agree(cache_classes: dict[str, type[Any]]) -> None:
    values: list[Any] = [
        0.1,
        1e-10,
        1.0000000005,
        -0.3,
        1_700_000_000.123456789,
        9_223_372_036.85,
        9_223_372_036.86,
        -9_223_372_036.854775808,
        -9_223_372_036.86,
        9_223_372_036.854775808,
        2**53 + 0.0,
        12,
        decimal.Decimal("3.5"),
        datetime.datetime(2001, 2, 3, 4, 5, 6, 789, tzinfo=UTC),
        datetime.datetime(2001, 2, 3, 4, 5, 6, 789),
        math.nan,
        "x",
    ]

    timer = Timer()

    def outcome(cls: type[Any], value: Any) -> Optional[Any]:
        timer.now = value
        try:
            return cls(timer=timer)._now_ns()
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)

    kinds = set()
    for value in values:
        results = {name: outcome(cls, value) for name, cls in cache_classes.items()}
        assert results["c"] == results["py"], (value, results)
        kinds.add(type(results["c"]))
        if isinstance(value, (float, int, decimal.Decimal, datetime.datetime)) and value == value:
            # a time either way: a reading, or out of range (2**63 ns and past)
            assert type(results["c"]) is int or "out of the int64 range" in results["c"][1], (value, results)
    assert kinds == {int, tuple}  # both readings and refusals were compared
