"""godistcache.contrib.flask.GodistCache: what Flask-Caching's own tests (tests/test_contrib_frameworks.py) leave out.

Made by flask_caching.Cache from CACHE_TYPE, Flask-Caching's timeouts against godistcache's TTLs, inc/dec.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest

pytest.importorskip("flask_caching")

import flask  # noqa: E402
import flask_caching  # noqa: E402

from godistcache.contrib.flask import GodistCache  # noqa: E402

from .conftest import FrozenClock  # noqa: E402


def app_cache(**config: Any) -> flask_caching.Cache:
    app = flask.Flask(__name__)
    return flask_caching.Cache(app, config={"CACHE_TYPE": "godistcache.contrib.flask.GodistCache", **config})


def test_flask_caching_makes_it_from_the_config(clock: FrozenClock) -> None:
    cache = app_cache(CACHE_DEFAULT_TIMEOUT=30, CACHE_THRESHOLD=5, CACHE_OPTIONS={"copy": True})
    backend = cache.cache
    assert isinstance(backend, GodistCache)
    for i in range(20):
        cache.set(str(i), [i])
    assert len(backend.store) == 5
    assert isinstance(backend.store.get("19"), bytes)  # copy=True reached the backend
    assert backend.store.ttl("19") == pytest.approx(30)

    calls = []

    @cache.memoize()
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert (square(3), square(3)) == (9, 9)
    assert calls == [3]
    clock.advance(31)
    assert square(3) == 9
    assert calls == [3, 3]


def test_timeouts_translate_to_ttls(clock: FrozenClock) -> None:
    c = GodistCache(default_timeout=60)
    assert c.set("default", 1)
    assert c.set("forever", 2, timeout=0)  # Flask-Caching's 0 is godistcache's: never
    assert c.set("delta", 3, timeout=datetime.timedelta(seconds=5))
    assert c.set("centuries", 4, timeout=10**12)
    assert c.store.ttl("default") == pytest.approx(60)
    assert c.store.ttl("forever") is None
    assert c.store.ttl("delta") == pytest.approx(5)
    assert c.store.ttl("centuries") is None
    clock.advance(61)
    assert c.get_dict("default", "forever", "delta", "centuries") == {
        "default": None,
        "forever": 2,
        "delta": None,
        "centuries": 4,
    }


def test_default_timeout_zero_never_expires() -> None:
    c = app_cache(CACHE_DEFAULT_TIMEOUT=0).cache
    c.set("k", 1)
    assert c.store.ttl("k") is None


def test_a_negative_timeout_expires_now() -> None:
    c = GodistCache()
    c.set("k", "old")
    assert c.set("k", "new", timeout=-1)
    assert c.get("k") is None and not c.has("k")
    assert c.add("k", "added", timeout=-1)  # as cachelib's SimpleCache: added, and expired at once
    assert not c.has("k")
    assert len(c.store) == 0


def test_add_delete_and_the_many_calls() -> None:
    c = GodistCache()
    assert c.add("a", 1)
    assert not c.add("a", 2)
    assert c.set_many({"b": 2, "c": None}) == ["b", "c"]
    assert c.get_many("a", "b", "c", "missing") == [1, 2, None, None]
    assert c.delete("a") and not c.delete("a")
    assert c.delete_many("b", "missing") == ["b", "missing"]  # an absent key counts as deleted
    assert c.clear() and len(c.store) == 0


def test_inc_starts_at_zero_and_keeps_the_expiry(clock: FrozenClock) -> None:
    c = GodistCache(default_timeout=100)
    assert c.inc("n") == 1
    assert c.store.ttl("n") == pytest.approx(100)
    c.set("m", 10, timeout=10)
    clock.advance(4)
    assert c.inc("m", 5) == 15
    assert c.dec("m", 20) == -5
    assert c.store.ttl("m") == pytest.approx(6)
    assert c.dec("fresh", 3) == -3


def test_inc_is_atomic_under_threads() -> None:
    c = GodistCache(copy=True)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(500):
            c.inc("n")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.get("n") == 8 * 500


def test_values_are_objects_unless_copy() -> None:
    value = {"list": [1]}
    objects = GodistCache()
    objects.set("k", value)
    assert objects.get("k") is value
    copies = GodistCache(copy=True)
    copies.set("k", value)
    fetched = copies.get("k")
    assert fetched == value and fetched is not value
    fetched["list"].append(2)
    assert copies.get("k") == {"list": [1]}
