"""Sync under faults, on a real SeaweedFS: the store going away, a process killed mid-cycle, damaged segments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from godistcache import Cache, ConfigurationError, S3Store, SyncError

from .conftest import wait_for
from .s3server import S3Server

pytestmark = pytest.mark.s3


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GODISTCACHE_AES_CIPHER_KEY", "GODISTCACHE_INSTANCE_ID"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def make_store(s3server: S3Server) -> Callable[..., S3Store]:
    obj = f"faults{uuid.uuid4().hex[:10]}"

    def make(instance_id: str, **kw: Any) -> S3Store:
        kw.setdefault("retries", 0)
        kw.setdefault("connect_timeout", 1.0)
        kw.setdefault("read_timeout", 2.0)
        return S3Store(
            s3server.url,
            s3server.bucket,
            s3server.access_key,
            s3server.secret_key,
            object_name=obj,
            instance_id=instance_id,
            **kw,
        )

    return make


def test_the_store_going_down_loses_nothing(s3server: S3Server, make_store: Callable[..., S3Store]) -> None:
    a, b = Cache(), Cache()
    with a.sync_with_s3(make_store("a"), interval=0.2, min_backoff=0.1) as sa:
        with b.sync_with_s3(make_store("b"), interval=0.2, min_backoff=0.1):
            a.put("before", 1)
            sa.flush(timeout=30)
            wait_for(lambda: b.get("before") == 1, 20)
            s3server.stop()
            try:
                for i in range(100):
                    a.put(f"down:{i}", i)
                a.delete("before")
                assert a.get("down:5") == 5  # the cache keeps serving
                wait_for(lambda: sa.failures > 0, 20)
                with pytest.raises(SyncError):
                    sa.flush(timeout=30)
            finally:
                s3server.start()
            sa.flush(timeout=60)  # acknowledged: everything made while the store was down is in it
            wait_for(lambda: b.get("down:99") == 99 and "before" not in b, 30)
            assert sorted(b) == sorted(a)
            assert sa.last_error is not None  # the failures were seen, counted and kept


WORKER = r"""
import json, sys, time
from godistcache import Cache, ConfigurationError, S3Store, SyncError
cfg = json.loads(sys.argv[1])
store = S3Store(cfg["url"], cfg["bucket"], cfg["ak"], cfg["sk"], object_name=cfg["obj"], instance_id="killed")
cache = Cache()
syncer = cache.sync_with_s3(store, interval=0.05, min_backoff=0.05)
for i in range(200):
    cache.put(f"acked:{i}", i)
cache.delete("acked:7")
syncer.flush(timeout=60)
print("acked", flush=True)
i = 0
while True:  # unacknowledged writes, cycles running, until killed
    cache.put(f"unacked:{i % 50}", i)
    i += 1
    time.sleep(0.001)
"""


def test_a_process_killed_mid_cycle_restarts_and_converges(
    s3server: S3Server, make_store: Callable[..., S3Store], tmp_path: Path
) -> None:
    store = make_store("killed")
    cfg = {
        "url": s3server.url,
        "bucket": s3server.bucket,
        "ak": s3server.access_key,
        "sk": s3server.secret_key,
        "obj": store.object_name,
    }
    proc = subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(cfg)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "acked"
        time.sleep(0.7)  # several cycles under way
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    # Restarted under the same id: it reads back what it had uploaded, and goes on.
    again = Cache()
    peer = Cache()
    with (
        again.sync_with_s3(make_store("killed"), interval=0.2) as s1,
        peer.sync_with_s3(make_store("peer"), interval=0.2),
    ):
        s1.flush(timeout=60)
        assert all(again.get(f"acked:{i}") == i for i in range(200) if i != 7)
        assert "acked:7" not in again
        again.put("after-restart", True)
        s1.flush(timeout=60)
        wait_for(lambda: peer.get("after-restart") is True, 30)
        wait_for(lambda: sorted(peer.items()) == sorted(again.items()), 30)
    names = [s.object_name for s in store.list_segments("killed")]
    assert len(names) == len(set(names))  # no segment number was reused after the restart


def test_a_damaged_segment_is_skipped_and_logged(
    s3server: S3Server, make_store: Callable[..., S3Store], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = Cache(), Cache()
    sa = a.sync_with_s3(make_store("a"), interval=3600)
    a.put("k", 1)
    sa.flush(timeout=30)
    a.put("k", 2)
    report = sa.flush(timeout=30)
    sa.stop()
    delta = report.uploaded[-1]
    client = s3server.client()
    data = bytearray(client.get_object(s3server.bucket, delta).read())
    data[-10] ^= 0xFF
    import io

    client.put_object(s3server.bucket, delta, io.BytesIO(bytes(data)), len(data))
    sb = b.sync_with_s3(make_store("b"), interval=3600)
    try:
        got = sb.flush(timeout=30)
        assert delta in got.skipped and sb.skipped == 1
        assert b.get("k") == 1  # the base before it was merged; the damaged delta was not
        assert any("SnapshotError" in r.getMessage() or "skipped" in r.getMessage() for r in caplog.records)
    finally:
        sb.stop()


def test_two_processes_with_one_id_are_told(make_store: Callable[..., S3Store]) -> None:
    a, b = Cache(), Cache()
    sa = a.sync_with_s3(make_store("same"), interval=3600)
    sb = b.sync_with_s3(make_store("same"), interval=3600)
    try:
        sa.flush(timeout=30)
        sb.flush(timeout=30)  # it reads the other's base as its own past, and writes after it
        with pytest.raises(ConfigurationError, match="another process syncs as 'same'"):
            sa.flush(timeout=30)
    finally:
        sa.stop()
        sb.stop()


def test_a_chain_with_a_hole_catches_up_from_the_newer_base(
    s3server: S3Server, make_store: Callable[..., S3Store]
) -> None:
    a, b = Cache(), Cache()
    store_a = make_store("a")
    sa = a.sync_with_s3(store_a, interval=3600, compact_every=2)
    sb = b.sync_with_s3(make_store("b"), interval=3600)
    try:
        a.put("k0", 0)
        sa.flush(timeout=30)  # base 1
        sb.flush(timeout=30)  # b merges base 1
        assert b.get("k0") == 0
        a.put("k1", 1)
        hole = sa.flush(timeout=30).uploaded[0]  # delta 2
        a.put("k2", 2)
        report = sa.flush(timeout=30)  # delta 3, then a compaction: base 4 and the master
        assert report.compacted
        a.delete("k0")
        sa.flush(timeout=30)  # delta 5
        # b never saw delta 2: it is gone (as a compaction deletes it), so delta 3 doesn't continue from base 1.
        s3server.client().remove_object(s3server.bucket, hole)
        got = sb.flush(timeout=30)
        assert any(name.endswith("-base.godistcache") for name in got.applied)
        assert sorted(b.items()) == sorted(a.items()) == [("k1", 1), ("k2", 2)]
    finally:
        sa.stop()
        sb.stop()


def test_a_segment_sealed_with_another_key_is_skipped(make_store: Callable[..., S3Store]) -> None:
    a, b = Cache(cipher_key=os.urandom(32)), Cache(cipher_key=os.urandom(32))
    sa = a.sync_with_s3(make_store("a"), interval=3600)
    sb = b.sync_with_s3(make_store("b"), interval=3600)
    try:
        a.put("k", 1)
        sa.flush(timeout=30)
        got = sb.flush(timeout=30)
        assert got.skipped and sb.skipped == 1 and "k" not in b
        assert sb.flush(timeout=30).skipped == []  # not downloaded again and again
    finally:
        sa.stop()
        sb.stop()


def test_an_upload_that_landed_but_failed_is_not_overwritten(make_store: Callable[..., S3Store]) -> None:
    a, b = Cache(), Cache()
    store_a = make_store("a")
    sa = a.sync_with_s3(store_a, interval=3600)
    sb = b.sync_with_s3(make_store("b"), interval=3600)
    try:
        a.put("k0", 0)
        sa.flush(timeout=30)
        sb.flush(timeout=30)
        real = store_a.upload_segment

        def lands_then_fails(path: Any, seq: int, kind: str, **kw: Any) -> Any:
            real(path, seq, kind, **kw)
            store_a.upload_segment = real  # type: ignore[method-assign]
            raise SyncError("the answer was lost", code="Timeout")

        store_a.upload_segment = lands_then_fails  # type: ignore[method-assign]
        a.put("k1", 1)
        with pytest.raises(SyncError, match="the answer was lost"):
            sa.flush(timeout=30)
        sb.flush(timeout=30)  # b merges the segment that landed
        assert b.get("k1") == 1
        a.put("k2", 2)
        sa.flush(timeout=30)  # the retry, with k1 again and k2, under a new number
        sb.flush(timeout=30)
        assert b.get("k2") == 2 and b.get("k1") == 1
        seqs = [s.seq for s in store_a.list_segments("a")]
        assert len(seqs) == len(set(seqs))
    finally:
        sa.stop()
        sb.stop()
