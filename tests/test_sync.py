"""Bootstrap, persistence and merges through a real SeaweedFS server (the ``s3server`` fixture).

These are the proof that sync works: no mock anywhere between the cache and
the server's S3 API.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from godistcache import Cache, S3Store, SyncError

from .s3server import S3Server

pytestmark = pytest.mark.s3


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GODISTCACHE_AES_CIPHER_KEY", "GODISTCACHE_INSTANCE_ID"):
        monkeypatch.delenv(var, raising=False)


StoreFactory = Callable[..., S3Store]


@pytest.fixture
def make_store(s3server: S3Server) -> StoreFactory:
    obj = f"sync{uuid.uuid4().hex[:10]}"

    def make(instance_id: str = "inst-a", **kw: Any) -> S3Store:
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


def test_from_s3_round_trip_honours_its_arguments(make_store: StoreFactory) -> None:
    key = bytes(range(32))
    cache = Cache(cipher_key=key)
    for i in range(5000):
        cache.put(f"key:{i}", ("One", i, 3.3), 600 if i % 2 else 0)
    cache.put_crypt("secret", "sealed twice")
    with cache.persist_to_s3(make_store(), interval=3600) as persister:
        persister.flush(timeout=30)
    restored = Cache.from_s3(make_store("reader"), default_ttl=42, cipher_key=key)
    assert restored.default_ttl == 42.0  # the Go original ignored its TTL argument
    assert len(restored) == len(cache)
    assert restored["key:7"] == ("One", 7, 3.3) and 590 < restored.ttl("key:7") <= 600
    assert restored.ttl("key:8") is None
    assert restored.get_crypt("secret") == "sealed twice"
    assert restored.keyring is not None and restored.keyring.key_ids == cache.keyring.key_ids  # type: ignore[union-attr]


def test_two_instances_persist_and_a_third_merges_both(make_store: StoreFactory) -> None:
    a, b = Cache(), Cache()
    a.update({"only-a": 1, "shared": "from a"})
    b.update({"only-b": 2})
    opts: dict[str, Any] = {"interval": 3600, "final_flush": False}
    with a.persist_to_s3(make_store("inst-a"), **opts) as pa, b.persist_to_s3(make_store("inst-b"), **opts) as pb:
        pa.flush(timeout=30)
        time.sleep(0.01)
        b["shared"] = "from b"  # b's snapshot is the later one
        pb.flush(timeout=30)
    store = make_store("inst-c")
    assert sorted(store.newest_per_instance()) == ["inst-a", "inst-b"]
    merged = Cache.from_s3(store, merge_instances=True)
    assert dict(merged.items()) == {"only-a": 1, "shared": "from b", "only-b": 2}
    # The master alone is the last upload: b's.
    assert dict(Cache.from_s3(store).items()) == {"only-b": 2, "shared": "from b"}


def test_server_down_during_persisting_then_back(make_store: StoreFactory, s3server: S3Server) -> None:
    cache = Cache()
    cache["v"] = 1
    store = make_store("inst-down", connect_timeout=1, retries=0)
    persister = cache.persist_to_s3(store, interval=3600, min_backoff=0.2)
    try:
        acknowledged = persister.flush(timeout=30)
        cache["v"] = 2
        s3server.stop()
        try:
            with pytest.raises(SyncError):
                persister.flush(timeout=30)
            assert persister.running and persister.failures >= 1
            assert isinstance(persister.last_error, SyncError)
            cache["v"] = 3
        finally:
            s3server.start()
        # The thread survived; the next cycle succeeds and carries the latest state.
        deadline = time.monotonic() + 60
        while True:
            try:
                name = persister.flush(timeout=30)
                break
            except SyncError:
                assert time.monotonic() < deadline, "the store did not come back"
                time.sleep(0.5)
        assert name == acknowledged  # the same dated object, replaced
        assert persister.last_success is not None and persister.uploads >= 2
    finally:
        persister.stop()
    # A fresh bootstrap returns the last acknowledged snapshot, nothing lost.
    assert Cache.from_s3(make_store("fresh"))["v"] == 3


def test_merge_keeps_each_keys_later_write_across_instances(make_store: StoreFactory) -> None:
    a, b = Cache(), Cache()
    opts: dict[str, Any] = {"interval": 3600, "final_flush": False}
    with a.persist_to_s3(make_store("inst-a"), **opts) as pa, b.persist_to_s3(make_store("inst-b"), **opts) as pb:
        a["k1"] = "a first"
        time.sleep(0.002)
        b["k1"] = "b second"  # k1: b wrote last
        b["k2"] = "b first"
        time.sleep(0.002)
        a["k2"] = "a second"  # k2: a wrote last
        pb.flush(timeout=30)
        time.sleep(0.01)
        pa.flush(timeout=30)  # a's snapshot is the newer one, yet k1 keeps b's later write
    merged = Cache.from_s3(make_store("inst-c"), merge_instances=True)
    assert dict(merged.items()) == {"k1": "b second", "k2": "a second"}


def test_bootstrap_errors_name_the_cause(make_store: StoreFactory, s3server: S3Server) -> None:
    with pytest.raises(SyncError, match="NoSuchKey|no such object|not found"):
        Cache.from_s3(make_store("empty"))
    wrong = S3Store(
        s3server.url, s3server.bucket, s3server.access_key, "wrong-secret", object_name="x", instance_id="w"
    )
    with pytest.raises(SyncError) as exc:
        Cache.from_s3(wrong)
    assert "wrong-secret" not in str(exc.value)
    assert exc.value.code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied")


def test_persisted_snapshot_in_bucket_is_sealed(make_store: StoreFactory, s3server: S3Server, tmp_path: Path) -> None:
    cache = Cache(cipher_key=bytes(32))
    cache["card-number"] = "4111-1111-1111-1111"
    store = make_store("sealed")
    with cache.persist_to_s3(store, interval=3600) as p:
        name = p.flush(timeout=30)
    response = s3server.client().get_object(s3server.bucket, name)
    try:
        data = bytes(response.read())
    finally:
        response.close()
        response.release_conn()
    assert data[:8] == b"\x89GDC\r\n\x1a\n"
    assert b"card-number" not in data and b"4111" not in data
