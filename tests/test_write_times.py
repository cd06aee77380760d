"""Per-entry write times (kept once a cache tracks them): both cores, snapshots, merges."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from godistcache import Cache, _snapshot_file, snapshot
from godistcache._snapshot_methods import load_into
from godistcache.errors import SnapshotError

from .conftest import CORE_NAMES, T0_NS, FrozenClock, cache_class

S = 1_000_000_000


def test_untracked_tables_report_no_write_times(cache: Any) -> None:
    cache["a"] = 1
    assert not cache._tracks_writes
    assert list(cache._iter(4)) == [("a", 1, 0, 0)]
    assert cache._write_time("a") == 0 and cache._write_time("missing") == -1


def test_every_write_records_the_clock(cache: Any, clock: FrozenClock) -> None:
    cache["old"] = 0
    cache._track_writes()
    cache._track_writes()  # twice is harmless
    assert cache._tracks_writes and cache._write_time("old") == 0  # before tracking: unknown
    cache.put("a", 1)
    clock.advance(1)
    cache["b"] = 2
    clock.advance(1)
    cache.put_safe("c", 3, ttl=60)
    assert [e[3] for e in cache._iter(4)] == [0, T0_NS, T0_NS + S, T0_NS + 2 * S]
    clock.advance(5)
    cache["a"] = 10  # an overwrite is a write
    assert cache._write_time("a") == T0_NS + 7 * S
    assert cache._put_at("d", 4, 0, 123)  # an explicit time, as a snapshot load gives
    assert cache._write_time("d") == 123
    clock.advance(100)
    assert cache._write_time("c") == -1  # expired: no entry


def test_write_times_survive_growth_deletes_and_clear(cache: Any, clock: FrozenClock) -> None:
    cache._track_writes()
    for i in range(5000):
        cache.put(i, i)
        if i % 1000 == 0:
            clock.advance(1)
    for i in range(0, 5000, 2):
        del cache[i]
    for i in range(5000, 9000):  # grows again after the deletes: entries are compacted
        cache.put(i, i)
    expect = {i: T0_NS + (i // 1000 + 1) * S for i in range(1, 5000, 2)}
    got = {k: w for k, _, _, w in cache._iter(4) if k < 5000}
    assert got == expect
    assert all(w == T0_NS + 5 * S for k, _, _, w in cache._iter(4) if k >= 5000)
    cache.clear()
    cache["x"] = 1
    assert cache._tracks_writes and cache._write_time("x") == T0_NS + 5 * S


@pytest.mark.skipif(len(CORE_NAMES) < 2, reason="needs both cores")
def test_cores_agree(clock: FrozenClock) -> None:
    tables = [cache_class(name)() for name in CORE_NAMES]
    rng = random.Random(7)
    for t in tables:
        t._track_writes()
    for step in range(3000):
        op = rng.random()
        key = rng.randrange(300)
        ttl = rng.choice([None, 0, 5, 50])
        for t in tables:
            if op < 0.6:
                t.put(key, step, ttl)
            elif op < 0.7:
                t.put_safe(key, step, ttl)
            elif op < 0.85:
                t.delete(key)
            elif op < 0.9:
                t._put_at(key, step, 0, step)
            else:
                t.expire()
        if step % 50 == 0:
            clock.advance(1)
    first, second = (list(t._iter(4)) for t in tables)
    assert first == second
    assert any(w for _, _, _, w in first)


@pytest.mark.skipif("c" not in CORE_NAMES, reason="compiled core only")
def test_tracking_costs_eight_bytes_a_slot() -> None:
    c = cache_class("c")()
    for i in range(1000):
        c[i] = i
    before = c.__sizeof__()
    c._track_writes()
    assert c.__sizeof__() - before >= 8 * 1000


# -- snapshots ------------------------------------------------------------------


def test_snapshots_carry_write_times(tmp_path: Path, clock: FrozenClock) -> None:
    c = Cache()
    c["before"] = 0
    c._track_writes()
    c["a"] = 1
    clock.advance(2)
    c["b"] = 2
    clock.advance(1)
    path = tmp_path / "w.godistcache"
    c.save(path)
    header = snapshot.inspect(path).header
    assert header.write_times and header.flags == _snapshot_file.FLAG_WRITE_TIMES
    tracked = Cache()
    tracked._track_writes()
    tracked.load(path)
    assert list(tracked._iter(4)) == [("before", 0, 0, 0), ("a", 1, 0, T0_NS), ("b", 2, 0, T0_NS + 2 * S)]
    untracked = Cache.from_file(path)  # times dropped, entries kept
    assert list(untracked._iter(4)) == [("before", 0, 0, 0), ("a", 1, 0, 0), ("b", 2, 0, 0)]
    plain = Cache()
    plain["x"] = 1
    plain.save(path)
    assert not snapshot.inspect(path).header.write_times


def test_merge_keeps_the_later_write_whatever_the_order(tmp_path: Path, clock: FrozenClock) -> None:
    a, b = Cache(), Cache()
    a._track_writes()
    b._track_writes()
    a["k1"] = "a early"
    clock.advance(1)
    b["k1"] = "b later"
    b["k2"] = "b early"
    clock.advance(1)
    a["k2"] = "a later"
    a.save(tmp_path / "a.godistcache")
    b.save(tmp_path / "b.godistcache")
    for order in (["a", "b"], ["b", "a"]):
        merged = Cache()
        merged._track_writes()
        for name in order:
            load_into(merged, tmp_path / f"{name}.godistcache", merge=True, newer=True)
        assert dict(merged.items()) == {"k1": "b later", "k2": "a later"}, order
        assert merged._write_time("k2") == T0_NS + 2 * S
    # Without newer, the file loaded last wins (Cache.load(merge=True)).
    plain = Cache()
    plain.load(tmp_path / "a.godistcache", merge=True)
    plain.load(tmp_path / "b.godistcache", merge=True)
    assert dict(plain.items()) == {"k1": "b later", "k2": "b early"}


@pytest.mark.parametrize("age", [b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f"])
def test_write_time_out_of_range_rejected(tmp_path: Path, age: bytes) -> None:
    import struct
    import zlib

    header = _snapshot_file.build_header(T0_NS, 1, None, bytes(32), "", write_times=True)
    payload = b"\x00\x06\x01a\x03\x0a\x00" + age
    crc = zlib.crc32(header[:-4])
    out = [header]
    for kind, n, body in [(1, 1, payload), (2, 0, struct.pack("<QQ", 1, 1))]:
        head = struct.pack("<BII", kind, len(body), n)
        crc = zlib.crc32(body, zlib.crc32(head, crc))
        out += [head, body, struct.pack("<I", crc)]
    (tmp_path / "f").write_bytes(b"".join(out))
    with pytest.raises(SnapshotError, match="write time out of range"):
        Cache().load(tmp_path / "f")
