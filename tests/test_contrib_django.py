"""godistcache.contrib.django.GodistCache: what Django's own tests (tests/test_contrib_frameworks.py) leave out.

Django's timeouts against godistcache's TTLs (0 means "never" here, "now" there), the shared store of a
LOCATION, the OPTIONS, the snapshot file and incr under threads.
"""

from __future__ import annotations

import atexit
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django", reason="the test extra installs Django 5.2 on Python >= 3.10 only")

from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from godistcache.contrib import django as backend  # noqa: E402
from godistcache.contrib.django import GodistCache  # noqa: E402

from .conftest import FrozenClock  # noqa: E402


def make(**params: Any) -> GodistCache:
    """A backend on a store of its own."""
    return GodistCache(f"test-{uuid.uuid4()}", params)


def test_timeouts_translate_to_ttls(clock: FrozenClock) -> None:
    c = make(TIMEOUT=60)
    c.set("default", 1)
    c.set("forever", 2, timeout=None)
    c.set("seconds", 3, timeout=5.5)
    c.set("centuries", 4, timeout=10**12)  # beyond godistcache's longest TTL: never expires
    assert c.store.ttl(c.make_key("default")) == pytest.approx(60)
    assert c.store.ttl(c.make_key("forever")) is None
    assert c.store.ttl(c.make_key("seconds")) == pytest.approx(5.5)
    assert c.store.ttl(c.make_key("centuries")) is None
    clock.advance(61)
    assert c.get_many(["default", "forever", "seconds", "centuries"]) == {"forever": 2, "centuries": 4}


@pytest.mark.parametrize("timeout", [0, -1, -0.5])
def test_a_timeout_of_zero_or_less_expires_now(timeout: float) -> None:
    # godistcache's ttl=0 means "never": passed through, it would keep the value forever.
    c = make()
    c.set("k", "old")
    c.set("k", "new", timeout=timeout)
    assert c.get("k") is None
    assert not c.has_key("k")
    assert c.add("k", "added", timeout=timeout) is True  # as LocMemCache: added, and expired at once
    assert c.get("k") is None
    c.set("k", "kept")
    assert c.touch("k", timeout=timeout) is True
    assert c.get("k") is None
    assert len(c.store) == 0


def test_alias_timeout_none_never_expires(clock: FrozenClock) -> None:
    c = make(TIMEOUT=None)
    c.set("k", 1)
    assert c.store.ttl(c.make_key("k")) is None


def test_touch_sets_a_new_timeout_of_a_live_key_only(clock: FrozenClock) -> None:
    c = make()
    assert c.touch("missing", 10) is False
    c.set("k", [1], timeout=5)
    assert c.touch("k", 100) is True
    clock.advance(50)
    assert c.get("k") == [1]
    assert c.touch("k", None) is True
    assert c.store.ttl(c.make_key("k")) is None


def test_incr_keeps_the_expiry_and_refuses_a_missing_key(clock: FrozenClock) -> None:
    c = make()
    c.set("n", 1, timeout=10)
    clock.advance(4)
    assert c.incr("n", 5) == 6
    assert c.decr("n") == 5
    assert c.store.ttl(c.make_key("n")) == pytest.approx(6)
    clock.advance(7)
    with pytest.raises(ValueError, match="not found"):
        c.incr("n")
    c.set("forever", 1, timeout=None)
    c.incr("forever")
    assert c.store.ttl(c.make_key("forever")) is None


def test_incr_is_atomic_under_threads() -> None:
    c = make(OPTIONS={"COPY": True})  # the slower read-modify-write widens any race
    c.set("n", 0)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(500):
            c.incr("n")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.get("n") == 8 * 500


def test_values_are_objects_unless_copy() -> None:
    value = {"list": [1]}
    objects = make()
    objects.set("k", value)
    assert objects.get("k") is value
    copies = make(OPTIONS={"COPY": True})
    copies.set("k", value)
    fetched = copies.get("k")
    assert fetched == value and fetched is not value
    fetched["list"].append(2)
    assert copies.get("k") == {"list": [1]}
    assert isinstance(copies.store.get(copies.make_key("k")), bytes)


def test_keys_are_made_and_versioned() -> None:
    location = f"test-{uuid.uuid4()}"
    v1 = GodistCache(location, {"KEY_PREFIX": "site"})
    v2 = GodistCache(location, {"KEY_PREFIX": "site", "VERSION": 2})
    v1.set("k", "one")
    assert v2.get("k") is None
    assert v2.get("k", version=1) == "one"
    assert list(v1.store) == ["site:1:k"]
    v1.clear()  # the whole store, as LocMemCache's clear
    assert len(v2.store) == 0


def test_aliases_of_one_location_share_a_store_and_must_agree() -> None:
    location = f"test-{uuid.uuid4()}"
    a = GodistCache(location, {"OPTIONS": {"MAX_ENTRIES": 50}})
    b = GodistCache(location, {"OPTIONS": {"MAX_ENTRIES": 50, "COPY": False, "CULL_FREQUENCY": 4}})
    assert a.store is b.store
    with pytest.raises(ImproperlyConfigured, match="already open with other OPTIONS"):
        GodistCache(location, {"OPTIONS": {"MAX_ENTRIES": 51}})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"MAX_ENTRY": 3}, "unknown OPTIONS for GodistCache: MAX_ENTRY"),
        ({"MAX_ENTRIES": "many"}, "must be an int or None, got 'many'"),
        ({"MAX_ENTRIES": 0}, "must be >= 1, got 0"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        make(OPTIONS=options)


def test_max_entries_bounds_the_store() -> None:
    bounded = make(OPTIONS={"MAX_ENTRIES": 10})
    default = make()
    unbounded = make(OPTIONS={"MAX_ENTRIES": None})
    for i in range(400):
        for c in (bounded, default, unbounded):
            c.set(i, i)
    assert (len(bounded.store), len(default.store), len(unbounded.store)) == (10, 300, 400)


def test_snapshot_is_loaded_when_the_store_is_made(tmp_path: Path) -> None:
    path = tmp_path / "django.godistcache"
    try:
        first = make(OPTIONS={"SNAPSHOT": path})
        first.set("k", {"a": 1}, timeout=None)
        first.set("t", (1, "two"), timeout=600)
        assert first.save() == 2
        second = make(OPTIONS={"SNAPSHOT": str(path)})
        assert second.get_many(["k", "t"]) == {"k": {"a": 1}, "t": (1, "two")}
        assert second.store.ttl(second.make_key("t")) == pytest.approx(600, abs=5)
    finally:
        atexit.unregister(backend._save_at_exit)  # the stores of this test live in tmp_path


def test_save_needs_a_snapshot_option() -> None:
    with pytest.raises(ImproperlyConfigured, match="no OPTIONS\\['SNAPSHOT'\\]"):
        make().save()


def test_bad_timeout_type_is_refused() -> None:
    with pytest.raises(TypeError, match="timeout must be a number of seconds or None, got str"):
        make().set("k", 1, timeout="10")
