"""The persister's own logic (timing, flush, stop, failures, backoff, weak reference).

Its store here is a directory on disk that keeps every upload: a stand-in for
the logic only. That persisting really reaches an object store is tested
against a real SeaweedFS server in ``tests/test_s3.py``.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from godistcache import Cache
from godistcache.persist import Persister

from .conftest import wait_for


class DirStore:
    """Keeps each upload as a numbered file; fails while ``failing`` is set."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.failing: Exception | None = None
        self.lock = threading.Lock()
        self.delay = 0.0
        self.pruned: list[int] = []

    def upload(self, path: str) -> str:
        time.sleep(self.delay)
        with self.lock:
            if self.failing is not None:
                raise self.failing
            self.count += 1
            name = f"upload-{self.count}.godistcache"
        shutil.copyfile(path, self.root / name)
        return name

    def prune(self, keep_days: int) -> list[str]:
        self.pruned.append(keep_days)
        if keep_days == 13:
            raise ConnectionError("prune refused")
        return []

    def __repr__(self) -> str:
        return "<DirStore>"


@pytest.fixture
def store(tmp_path: Path) -> DirStore:
    return DirStore(tmp_path)


def test_uploads_every_interval_and_snapshots_load(store: DirStore) -> None:
    cache = Cache()
    cache["a"] = 1
    with cache.persist_to_s3(store, interval=0.05, final_flush=False) as p:
        wait_for(lambda: p.uploads >= 3)
        assert p.failures == 0 and p.last_error is None and p.last_object is not None
        assert p.last_success is not None and p.last_success <= time.time()
    assert not p.running
    assert dict(Cache.from_file(store.root / p.last_object).items()) == {"a": 1}


def test_flush_uploads_now_and_waits(store: DirStore) -> None:
    cache = Cache()
    p = cache.persist_to_s3(store, interval=3600)
    cache["x"] = [1, 2]
    name = p.flush(timeout=10)
    assert name == "upload-1.godistcache" and p.uploads == 1
    assert Cache.from_file(store.root / name)["x"] == [1, 2]
    p.stop()
    # The final upload at stop.
    assert store.count == 2 and not p.running
    with pytest.raises(RuntimeError, match="not running"):
        p.flush()
    p.stop()  # twice is harmless


def test_stop_without_final_flush(store: DirStore) -> None:
    cache = Cache()
    p = cache.persist_to_s3(store, interval=3600, final_flush=False)
    assert p.running
    p.stop(timeout=5)
    assert store.count == 0 and not p.running


def test_failures_are_counted_logged_retried_and_survived(store: DirStore, caplog: pytest.LogCaptureFixture) -> None:
    cache = Cache()
    cache["k"] = "v"
    store.failing = ConnectionError("store down")
    caplog.set_level(logging.WARNING, logger="godistcache.persist")
    p = cache.persist_to_s3(store, interval=0.4, min_backoff=0.01, final_flush=False)
    try:
        wait_for(lambda: p.failures >= 4)
        assert p.running and p.uploads == 0
        assert isinstance(p.last_error, ConnectionError)
        assert p._backoff() > 0.01  # doubling
        messages = [r.getMessage() for r in caplog.records if r.name == "godistcache.persist"]
        assert any("failed (ConnectionError: store down)" in m for m in messages)
        with pytest.raises(ConnectionError):
            p.flush(timeout=5)
        store.failing = None
        assert p.flush(timeout=5).startswith("upload-")
        assert p.uploads == 1 and p._consecutive == 0
    finally:
        p.stop()


def test_backoff_doubles_up_to_the_interval(store: DirStore) -> None:
    p = Persister(Cache(), store, interval=10, min_backoff=1, start=False)
    delays = []
    for k in range(1, 7):
        p._consecutive = k
        delays.append(p._backoff())
    assert delays == [1, 2, 4, 8, 10, 10]


def test_unencodable_cache_is_a_failure_not_a_crash(store: DirStore) -> None:
    cache = Cache()
    cache["obj"] = object()
    p = cache.persist_to_s3(store, interval=3600, final_flush=False)
    try:
        with pytest.raises(TypeError, match="allow_pickle"):
            p.flush(timeout=5)
        assert p.running and p.failures == 1
    finally:
        p.stop()


def test_collected_cache_ends_the_thread(store: DirStore) -> None:
    cache = Cache()
    p = cache.persist_to_s3(store, interval=3600)
    thread = p._thread
    assert thread is not None and thread.is_alive()
    del cache
    gc.collect()
    thread.join(5)
    assert not thread.is_alive() and not p.running
    assert store.count == 0  # nothing left to upload


def test_arguments_checked(store: DirStore) -> None:
    with pytest.raises(ValueError, match="interval"):
        Persister(Cache(), store, interval=0)
    with pytest.raises(ValueError, match="min_backoff"):
        Persister(Cache(), store, interval=1, min_backoff=-1)
    p = Persister(Cache(), store, interval=1, start=False)
    assert "stopped" in repr(p) and "<DirStore>" in repr(p)
    p.start()
    with pytest.raises(RuntimeError, match="already started"):
        p.start()
    p.stop()


def test_sealed_by_default_when_the_cache_has_a_key(store: DirStore) -> None:
    cache = Cache(cipher_key=bytes(32))
    cache["secret"] = "plaintext here"
    with cache.persist_to_s3(store, interval=3600) as p:
        name = p.flush(timeout=5)
    data = (store.root / name).read_bytes()
    assert b"plaintext here" not in data
    assert Cache.from_file(store.root / name, cipher_key=bytes(32))["secret"] == "plaintext here"
    assert sorted(os.listdir(store.root)) == ["upload-1.godistcache", "upload-2.godistcache"]


def test_keep_days_prunes_after_each_upload(store: DirStore, caplog: pytest.LogCaptureFixture) -> None:
    cache = Cache()  # held here: the persister holds it by weak reference only
    with cache.persist_to_s3(store, interval=3600, keep_days=7, final_flush=False) as p:
        p.flush(timeout=5)
        p.flush(timeout=5)
    assert store.pruned == [7, 7]
    caplog.set_level(logging.WARNING, logger="godistcache.persist")
    with cache.persist_to_s3(store, interval=3600, keep_days=13, final_flush=False) as p:
        p.flush(timeout=5)  # a failed prune does not fail the cycle
        assert p.failures == 0 and p.uploads == 1
    assert any("pruning backups older than 13 days" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="keep_days"):
        Persister(Cache(), store, keep_days=-1, start=False)
