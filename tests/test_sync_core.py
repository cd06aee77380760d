"""Change capture, stamps and last-writer-wins merges in both cores, and segment files (no server needed)."""

from __future__ import annotations

import os
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from godistcache import SnapshotError
from godistcache._core import _table_py
from godistcache._segments import apply_segment, read_segment, write_segment


def syncing(cache_cls: type[Any], ident: str, **kw: Any) -> Any:
    c = cache_cls(**kw)
    c._track_changes(ident)
    return c


def ship(src: Any, dst: Any, path: Path, kind: str = "base", since: int = -1, seq: int = 1, prev: int = 0) -> Any:
    written = write_segment(
        src, path, kind=kind, seq=seq, prev=prev, since=since, instance_id=src._syncs, keyring=src._keyring
    )
    apply_segment(dst, read_segment(dst, path))
    return written


def test_a_delete_is_not_undone_by_an_older_write(cache_cls: type[Any], tmp_path: Path) -> None:
    a, b = syncing(cache_cls, "a"), syncing(cache_cls, "b")
    a.put("k", "old")
    ship(a, b, tmp_path / "1")
    b.delete("k")  # after seeing a's write: its tombstone is later
    ship(b, a, tmp_path / "2")
    assert "k" not in a
    ship(a, b, tmp_path / "3")  # a's base no longer has it; an older copy elsewhere must not bring it back
    c = syncing(cache_cls, "c")
    c._merge_entry("k", "old", 0, a._tombstones()[0][1] - 1, "a")
    ship(b, c, tmp_path / "4")
    assert "k" not in c and "k" not in b


def test_merged_entries_are_not_local_changes(cache_cls: type[Any], tmp_path: Path) -> None:
    a, b = syncing(cache_cls, "a"), syncing(cache_cls, "b")
    for i in range(50):
        a.put(i, i)
    ship(a, b, tmp_path / "1")
    cut = b._hlc
    b.put("mine", 1)
    written = write_segment(b, tmp_path / "d", kind="delta", seq=2, prev=1, since=cut - 1, instance_id="b")
    assert written.entries == 1  # the 50 merged entries are not echoed back


def test_a_causal_write_beats_a_skewed_clock(cache_cls: type[Any], tmp_path: Path) -> None:
    fast, slow = syncing(cache_cls, "fast"), syncing(cache_cls, "slow")
    fast._set_skew(10 * 10**9)  # its clock runs 10 s ahead
    fast.put("k", "first")
    ship(fast, slow, tmp_path / "1")
    slow.put("k", "second")  # made after seeing fast's write
    ship(slow, fast, tmp_path / "2")
    assert fast.get("k") == slow.get("k") == "second"


def test_equal_stamps_are_ordered_by_instance_id(cache_cls: type[Any]) -> None:
    a = syncing(cache_cls, "m")
    assert a._merge_entry("k", "from-x", 0, 100, "x")
    assert not a._merge_entry("k", "from-b", 0, 100, "b")
    assert a._merge_entry("k", "from-z", 0, 100, "z")
    assert a.get("k") == "from-z"


def test_expired_entries_never_come_back(cache_cls: type[Any]) -> None:
    a = syncing(cache_cls, "a")
    assert not a._merge_entry("k", 1, 1, 5, "b")  # expired in 1970
    assert "k" not in a


def test_a_clear_drops_older_writes_everywhere(cache_cls: type[Any], tmp_path: Path) -> None:
    a, b = syncing(cache_cls, "a"), syncing(cache_cls, "b")
    b.put("old", 1)
    ship(b, a, tmp_path / "1")
    a.clear()
    a.put("new", 2)
    ship(a, b, tmp_path / "2")
    assert sorted(b) == ["new"]
    assert not b._merge_entry("old", 1, 0, 1, "b")  # written before the clear: refused


def test_a_forged_unsealed_segment_with_a_pickle_is_refused(cache_cls: type[Any], tmp_path: Path) -> None:
    a, b = syncing(cache_cls, "a"), syncing(cache_cls, "b")
    a.put("k", Exploit())
    write_segment(a, tmp_path / "f", kind="delta", seq=1, prev=0, since=-1, instance_id="a", allow_pickle=True)
    with pytest.raises(SnapshotError, match="pickle"):
        read_segment(b, tmp_path / "f")
    assert "k" not in b


def test_a_flipped_byte_in_a_sealed_segment_is_refused(cache_cls: type[Any], tmp_path: Path) -> None:
    key = os.urandom(32)
    a, b = syncing(cache_cls, "a", cipher_key=key), syncing(cache_cls, "b", cipher_key=key)
    a.put("k", "v")
    path = tmp_path / "s"
    write_segment(a, path, kind="base", seq=1, prev=0, since=-1, instance_id="a", keyring=a._keyring)
    data = bytearray(path.read_bytes())
    data[-40] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError):
        read_segment(b, path)
    assert "k" not in b


def test_a_renamed_segment_is_refused(cache_cls: type[Any], tmp_path: Path) -> None:
    a, b = syncing(cache_cls, "a"), syncing(cache_cls, "b")
    a.put("k", "v")
    write_segment(a, tmp_path / "s", kind="delta", seq=3, prev=2, since=-1, instance_id="a")
    with pytest.raises(SnapshotError, match="its name says"):
        read_segment(b, tmp_path / "s", expect=("a", 4, "delta"))


class Exploit:
    def __reduce__(self) -> Any:
        return (os.system, ("echo pwned",))


OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "delete", "clear", "merge", "tomb", "floor", "prune"]),
        st.integers(0, 5),
        st.integers(0, 3),
        st.sampled_from(["a", "b", "c"]),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_the_twins_sync_alike(ops: list[tuple[str, int, int, str]]) -> None:
    """Every sync operation leaves the compiled table and its pure twin in the same state."""
    c_cls = pytest.importorskip("godistcache._core._table_c").Table
    tables = [c_cls(), _table_py.Table()]
    for t in tables:
        t._track_changes("me")
        t._set_skew(0)
    base = 10**18
    for op, key, n, origin in ops:
        results = []
        for t in tables:
            if op == "put":
                t.put(key, n)
                results.append(None)
            elif op == "delete":
                results.append(t.delete(key))
            elif op == "clear":
                t.clear()
                results.append(None)
            elif op == "merge":
                results.append(t._merge_entry(key, n, 0, base + n, origin))
            elif op == "tomb":
                results.append(t._merge_tomb(key, base + n, origin))
            elif op == "floor":
                results.append(t._merge_floor(base + n, origin))
            else:
                results.append(t._prune_tombs(base + n))
        assert results[0] == results[1], (op, results)
    # Local stamps come from the clock and differ; what was decided, and from where, does not.
    views = [sorted((k, v, e, o) for k, v, e, _, o in t._iter(5)) for t in tables]
    assert views[0] == views[1]
    assert sorted(k for k, _, _ in tables[0]._tombstones()) == sorted(k for k, _, _ in tables[1]._tombstones())
    floors = [t._floor_of() for t in tables]
    assert [None if f is None else f[1] for f in floors] == [None if floors[0] is None else floors[0][1]] * 2


@given(st.binary(max_size=3000), st.integers(0, 2**32 - 1))
def test_the_compiled_crc32_is_zlibs(data: bytes, crc: int) -> None:
    frames_c = pytest.importorskip("godistcache._core._frames_c")
    assert frames_c.crc32(data, crc) == zlib.crc32(data, crc)
    assert frames_c.crc32(bytearray(data), crc) == zlib.crc32(data, crc)


def test_a_base_keeps_each_entrys_origin(cache_cls: type[Any], tmp_path: Path) -> None:
    a, b, c, d = (syncing(cache_cls, x) for x in "abcd")
    for i in range(30):
        (b if i % 3 else c).put(i, i)
    a.put("own", 0)
    ship(b, a, tmp_path / "b")
    ship(c, a, tmp_path / "c")
    ship(a, d, tmp_path / "a")
    assert d._stamp_info("own")[1] == "a"
    assert {d._stamp_info(i)[1] for i in range(30)} == {"b", "c"}
    assert all(d._stamp_info(i) == b._stamp_info(i) for i in range(30) if i % 3)


def test_a_segment_naming_too_many_origins_is_refused(
    cache_cls: type[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import godistcache._segments as segments

    a, b, c, d = (syncing(cache_cls, x) for x in "abcd")
    b.put("x", 1)
    c.put("y", 2)
    ship(b, a, tmp_path / "b")
    ship(c, a, tmp_path / "c")
    write_segment(a, tmp_path / "a", kind="base", seq=1, prev=0, since=-1, instance_id="a")
    monkeypatch.setattr(segments, "MAX_SEGMENT_ORIGINS", 2)
    with pytest.raises(SnapshotError, match="more than 2 origins"):
        read_segment(d, tmp_path / "a")
    assert len(d) == 0


def test_a_stamp_from_far_in_the_future_is_refused(cache_cls: type[Any]) -> None:
    a = syncing(cache_cls, "a")
    a.put("k", "local")
    hlc = a._hlc
    hour = 3600 * 10**9
    future = time.time_ns() + 2 * hour
    assert not a._merge_entry("k", "forged", 0, future, "evil")
    assert not a._merge_tomb("k", future, "evil")
    assert a._merge_floor(future, "evil") == 0
    assert a.get("k") == "local" and a._hlc == hlc  # the clock was not dragged along
    a.put("k", "later")
    assert a._hlc < time.time_ns() + hour
    soon = time.time_ns() + hour // 2  # a clock half an hour ahead is still merged
    assert a._merge_entry("k", "skewed", 0, soon, "peer") and a.get("k") == "skewed"


def test_a_chunked_collection_misses_no_entry_that_stayed() -> None:
    frames_c = pytest.importorskip("godistcache._core._frames_c")
    table = pytest.importorskip("godistcache._core._table_c").Table()
    table._track_changes("me")
    for i in range(50_000):
        table.put(i, i)
    stop = threading.Event()

    def churn() -> None:  # inserts that resize the table, deletes that let a resize compact it
        j = 10**6
        while not stop.is_set():
            table.put(j, j)
            table.delete(j - 10)
            j += 1

    th = threading.Thread(target=churn)
    th.start()
    try:
        for _ in range(20):
            refs = frames_c.collect(table, 0, -1, 1024)
            keys = {refs[i][0] for i in range(len(refs))}
            refs.release()
            assert set(range(50_000)) <= keys
    finally:
        stop.set()
        th.join()


def test_a_segment_past_the_origins_a_table_tells_apart_is_refused_whole(
    cache_cls: type[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from godistcache._core import _sync_py

    table_c = pytest.importorskip("godistcache._core._table_c")
    for module in (_sync_py, table_c):
        monkeypatch.setattr(module, "MAX_ORIGINS", 3)  # "me", "a", and one more
    a, b, c, me = (syncing(cache_cls, x) for x in ("a", "b", "c", "me"))
    b.put("from-b", 1)
    c.put("from-c", 2)
    ship(b, a, tmp_path / "b")
    ship(c, a, tmp_path / "c")
    a.put("own", 0)
    write_segment(a, tmp_path / "a", kind="base", seq=1, prev=0, since=-1, instance_id="a")
    with pytest.raises(SnapshotError, match="more than 3 instances"):
        apply_segment(me, read_segment(me, tmp_path / "a"))
    assert len(me) == 0  # nothing of it was merged
