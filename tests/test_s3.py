"""S3Store and ``godistcache s3`` against a real S3 server (SeaweedFS on 127.0.0.1, see s3server.py).

Every test works under an object name of its own in the session's bucket,
so tests don't see each other's objects.
"""

from __future__ import annotations

import datetime
import io
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from godistcache import Cache
from godistcache.cli import main
from godistcache.errors import ConfigurationError, GoDistCacheError, SyncError
from godistcache.s3 import Backup, S3Store

from .s3server import S3Server, free_ports

TODAY = datetime.datetime.now(datetime.timezone.utc).date()

ENV_VARS = (
    "GODISTCACHE_S3_ENDPOINT",
    "GODISTCACHE_S3_BUCKET",
    "GODISTCACHE_S3_OBJECT",
    "GODISTCACHE_S3_SSL",
    "GODISTCACHE_S3_ACCESS_KEY",
    "GODISTCACHE_S3_SECRET_KEY",
    "GODISTCACHE_INSTANCE_ID",
)


pytestmark = pytest.mark.s3


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (*ENV_VARS, "GODISTCACHE_AES_CIPHER_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def obj() -> str:
    """An object name of this test's own."""
    return f"t{uuid.uuid4().hex[:12]}"


StoreFactory = Callable[..., S3Store]


@pytest.fixture
def make_store(s3server: S3Server, obj: str) -> StoreFactory:
    def make(instance_id: str = "inst-a", **kw: Any) -> S3Store:
        args: dict[str, Any] = dict(
            endpoint=s3server.url,
            bucket=s3server.bucket,
            access_key=s3server.access_key,
            secret_key=s3server.secret_key,
            object_name=obj,
            instance_id=instance_id,
        )
        args.update(kw)
        return S3Store(**args)

    return make


@pytest.fixture
def raw(s3server: S3Server) -> Any:
    """A bare minio client on the test server."""
    return s3server.client()


def _get(raw: Any, bucket: str, name: str) -> bytes:
    response = raw.get_object(bucket, name)
    try:
        return bytes(response.read())
    finally:
        response.close()
        response.release_conn()


def _put(raw: Any, bucket: str, name: str, data: bytes = b"x") -> None:
    raw.put_object(bucket, name, io.BytesIO(data), len(data))


def _snapshot(path: Path, entries: dict[str, Any], **kw: Any) -> Path:
    cache = Cache(**kw)
    for k, v in entries.items():
        cache[k] = v
    cache.save(path)
    return path


def _closed_port() -> int:
    return free_ports(1)[0]


# --------------------------------------------------------------------------- transfers


def test_bootstrap_round_trip(make_store: StoreFactory, tmp_path: Path) -> None:
    entries = {f"key:{i}": ("One", i, 3.3) for i in range(2000)}
    entries["bytes"] = b"\x00\xff" * 10  # type: ignore[assignment]
    src = _snapshot(tmp_path / "local.godistcache", entries)
    store = make_store()
    store.upload(src)
    out = tmp_path / "boot.godistcache"
    assert store.download_master(out) == src.stat().st_size
    assert dict(Cache.from_file(out).items()) == entries
    assert out.read_bytes() == src.read_bytes()
    assert os.stat(out).st_mode & 0o777 == 0o600


def test_dated_name_and_master_refresh(
    make_store: StoreFactory, raw: Any, s3server: S3Server, obj: str, tmp_path: Path
) -> None:
    store = make_store("web-1")
    first = _snapshot(tmp_path / "1.godistcache", {"a": 1})
    name = store.upload(first)
    assert name == f"{obj}_web-1_{TODAY.isoformat()}.godistcache" == store.backup_name()
    assert store.master_name == f"{obj}.godistcache"
    assert _get(raw, s3server.bucket, store.master_name) == first.read_bytes()
    # A second upload the same day replaces the day's backup, and the master follows.
    second = _snapshot(tmp_path / "2.godistcache", {"a": 2, "b": 3})
    assert store.upload(second) == name
    assert _get(raw, s3server.bucket, name) == second.read_bytes()
    assert _get(raw, s3server.bucket, store.master_name) == second.read_bytes()
    names = sorted(o.object_name for o in raw.list_objects(s3server.bucket, prefix=obj))
    assert names == sorted([name, store.master_name])


def test_two_instances_never_overwrite(make_store: StoreFactory, raw: Any, s3server: S3Server, tmp_path: Path) -> None:
    a, b = make_store("inst-a"), make_store("inst-b")
    fa = _snapshot(tmp_path / "a.godistcache", {"from": "a"})
    fb = _snapshot(tmp_path / "b.godistcache", {"from": "b"})
    name_a = a.upload(fa)
    name_b = b.upload(fb)
    assert name_a != name_b
    assert _get(raw, s3server.bucket, name_a) == fa.read_bytes()  # b did not touch a's backup
    assert _get(raw, s3server.bucket, name_b) == fb.read_bytes()
    assert _get(raw, s3server.bucket, a.master_name) == fb.read_bytes()  # the master is the latest upload
    newest = a.newest_per_instance()
    assert set(newest) == {"inst-a", "inst-b"}
    out = tmp_path / "x.godistcache"
    for instance, expected in (("inst-a", "a"), ("inst-b", "b")):
        a.download(newest[instance].object_name, out)
        assert Cache.from_file(out)["from"] == expected


def test_download_missing_object_leaves_target(make_store: StoreFactory, tmp_path: Path) -> None:
    store = make_store()
    target = tmp_path / "keep.godistcache"
    target.write_bytes(b"old contents")
    with pytest.raises(SyncError) as info:
        store.download_master(target)
    assert info.value.code == "NoSuchKey"
    assert store.master_name in str(info.value) and "does not exist" in str(info.value)
    assert target.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["keep.godistcache"]  # no temporary file left


def test_progress(make_store: StoreFactory, tmp_path: Path) -> None:
    src = tmp_path / "big.godistcache"
    size = 6 * 1024 * 1024 + 123  # above minio's 5 MiB part: a multipart upload, parts in parallel
    src.write_bytes(os.urandom(size))
    store = make_store()
    calls: list[tuple[int, int]] = []
    store.upload(src, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    assert all(0 <= d <= t == size for d, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    down: list[tuple[int, int]] = []
    out = tmp_path / "back.godistcache"
    assert store.download_master(out, progress=lambda done, total: down.append((done, total))) == size
    assert down[0] == (0, size) and down[-1] == (size, size) and len(down) >= 3
    assert [d for d, _ in down] == sorted(d for d, _ in down)
    assert out.read_bytes() == src.read_bytes()


def test_sealed_snapshot_is_opaque_in_bucket(
    make_store: StoreFactory, raw: Any, s3server: S3Server, tmp_path: Path
) -> None:
    key = os.urandom(32)
    cache = Cache(cipher_key=key)
    cache["plaintext-key-QWERTY"] = "plaintext-value-ASDFGH"
    cache.put_crypt("crypt-key-ZXCVBN", b"crypt-value-POIUYT")
    src = tmp_path / "sealed.godistcache"
    cache.save(src)
    store = make_store()
    name = store.upload(src)
    for object_name in (name, store.master_name):
        data = _get(raw, s3server.bucket, object_name)
        for plain in (b"plaintext-key-QWERTY", b"plaintext-value-ASDFGH", b"crypt-key-ZXCVBN", b"crypt-value-POIUYT"):
            assert plain not in data
    out = tmp_path / "back.godistcache"
    store.download_master(out)
    back = Cache.from_file(out, cipher_key=key)
    assert back["plaintext-key-QWERTY"] == "plaintext-value-ASDFGH"
    assert back.get_crypt("crypt-key-ZXCVBN") == b"crypt-value-POIUYT"


# --------------------------------------------------------------------------- backups and retention


def test_backups_parse_and_ignore(make_store: StoreFactory, raw: Any, s3server: S3Server, obj: str) -> None:
    store = make_store("inst-a")
    bucket = s3server.bucket
    good = {
        f"{obj}_inst-a_2024-01-02.godistcache": ("inst-a", datetime.date(2024, 1, 2)),
        f"{obj}_inst-a_2024-01-10.godistcache": ("inst-a", datetime.date(2024, 1, 10)),
        f"{obj}_with_under_score_2025-12-31.godistcache": ("with_under_score", datetime.date(2025, 12, 31)),
    }
    junk = [
        f"{obj}.godistcache",  # the master
        f"{obj}_inst-a_2024-13-45.godistcache",  # no such date
        f"{obj}_inst-a_2024-01-02.txt",
        f"{obj}_2024-01-02.godistcache",  # no instance
        f"{obj}_inst-a_20240102.godistcache",
        f"{obj}x_inst-a_2024-01-02.godistcache",  # another object name
        f"{obj}_inst-a_2024-01-02.godistcache.part",
    ]
    for i, name in enumerate([*good, *junk]):
        _put(raw, bucket, name, b"y" * (i + 1))
    backups = store.backups()
    assert {b.object_name: (b.instance_id, b.date) for b in backups} == good
    assert all(isinstance(b, Backup) and b.size >= 1 and b.last_modified is not None for b in backups)
    assert [b.object_name for b in backups] == sorted(good, key=lambda n: (good[n][0], good[n][1]))
    assert [b.date for b in store.backups("inst-a")] == [datetime.date(2024, 1, 2), datetime.date(2024, 1, 10)]
    assert store.backups("nobody") == []
    newest = store.newest_per_instance()
    assert {k: v.date for k, v in newest.items()} == {
        "inst-a": datetime.date(2024, 1, 10),
        "with_under_score": datetime.date(2025, 12, 31),
    }


def test_prune(make_store: StoreFactory, raw: Any, s3server: S3Server, tmp_path: Path) -> None:
    mine, other = make_store("inst-a"), make_store("inst-b")
    bucket = s3server.bucket
    days = (30, 10, 5, 3, 1)
    for d in days:
        _put(raw, bucket, mine.backup_name(TODAY - datetime.timedelta(days=d)))
        _put(raw, bucket, other.backup_name(TODAY - datetime.timedelta(days=d)))
    mine.upload(_snapshot(tmp_path / "s.godistcache", {"k": 1}))  # today's, and the master

    deleted = mine.prune(3, today=TODAY)
    assert sorted(deleted) == sorted(mine.backup_name(TODAY - datetime.timedelta(days=d)) for d in (30, 10, 5))
    assert [b.date for b in mine.backups("inst-a")] == [TODAY - datetime.timedelta(days=d) for d in (3, 1, 0)]
    assert len(mine.backups("inst-b")) == len(days)  # never another instance's
    raw.stat_object(bucket, mine.master_name)  # never the master
    assert mine.prune(3, today=TODAY) == []

    # The newest backup of an instance is kept whatever its age.
    assert sorted(other.prune(0, today=TODAY)) == sorted(
        other.backup_name(TODAY - datetime.timedelta(days=d)) for d in (30, 10, 5, 3)
    )
    assert [b.date for b in other.backups("inst-b")] == [TODAY - datetime.timedelta(days=1)]
    with pytest.raises(ValueError):
        mine.prune(-1)


# --------------------------------------------------------------------------- failures and secrets


def _assert_no_secret(secret: str, exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    seen = exc
    while seen is not None:  # the whole chain: our message and minio's / urllib3's own
        assert secret not in str(seen) and secret not in repr(seen)
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    for record in caplog.records:
        assert secret not in record.getMessage()


@pytest.mark.parametrize(
    "change, code, words",
    [
        ({"secret_key": "wrong-secret-Key-000000000000000000000"}, "SignatureDoesNotMatch", "wrong credentials"),
        (
            {"access_key": "UNKNOWNACCESSKEY99", "secret_key": "another-Secret-1111111111"},
            "InvalidAccessKeyId",
            "wrong credentials",
        ),
        ({"bucket": "no-such-bucket-here"}, "NoSuchBucket", "'no-such-bucket-here' does not exist"),
    ],
    ids=["wrong-secret", "unknown-access-key", "missing-bucket"],
)
@pytest.mark.parametrize("operation", ["upload", "download", "backups", "check"])
def test_server_refusals(
    make_store: StoreFactory,
    s3server: S3Server,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    change: dict[str, str],
    code: str,
    words: str,
    operation: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    store = make_store(**change)
    src = _snapshot(tmp_path / "s.godistcache", {"a": 1})
    ops: dict[str, Callable[[], object]] = {
        "upload": lambda: store.upload(src),
        "download": lambda: store.download_master(tmp_path / "out.godistcache"),
        "backups": store.backups,
        "check": store.check,
    }
    with pytest.raises(SyncError) as info:
        ops[operation]()
    err = info.value
    assert isinstance(err, GoDistCacheError)
    assert err.code == code
    message = str(err)
    assert words in message and code in message
    assert s3server.url in message and store.bucket in message
    assert err.endpoint == s3server.url and err.bucket == store.bucket
    for secret in {
        s3server.secret_key,
        change.get("secret_key", s3server.secret_key),
        change.get("access_key", s3server.access_key),
    }:
        _assert_no_secret(secret, err, caplog)
    assert not (tmp_path / "out.godistcache").exists()


def test_unreachable_endpoint_fails_fast(
    make_store: StoreFactory, s3server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = _closed_port()
    store = make_store(endpoint=f"127.0.0.1:{port}", secure=False)
    began = time.monotonic()
    with pytest.raises(SyncError) as info:
        store.download_master(tmp_path / "out.godistcache")
    assert time.monotonic() - began < 5
    assert info.value.code == "ConnectionRefused"
    assert f"127.0.0.1:{port}" in str(info.value) and "connection refused" in str(info.value)
    _assert_no_secret(s3server.secret_key, info.value, caplog)
    _assert_no_secret(s3server.access_key, info.value, caplog)
    with pytest.raises(SyncError, match="connection refused"):
        store.upload(_snapshot(tmp_path / "s.godistcache", {"a": 1}))


def test_no_credentials_in_repr_or_logs(
    make_store: StoreFactory, s3server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = make_store()
    store.upload(_snapshot(tmp_path / "s.godistcache", {"a": 1}))
    store.download_master(tmp_path / "o.godistcache")
    store.backups()
    assert caplog.records  # something was logged
    for secret in (s3server.secret_key, s3server.access_key):
        assert secret not in repr(store) and secret not in str(store)
        assert secret not in repr(vars(store))
        for record in caplog.records:
            assert secret not in record.getMessage()
    assert repr(store).startswith("S3Store(endpoint=http://127.0.0.1:")
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(store)


def test_missing_credentials_rejected() -> None:
    with pytest.raises(ConfigurationError, match="credentials"):
        S3Store("127.0.0.1:9000", "bucket", "", "secret")
    with pytest.raises(ConfigurationError, match="credentials"):
        S3Store("127.0.0.1:9000", "bucket", "access", "")


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "endpoint, secure, host, expect_secure",
    [
        ("http://127.0.0.1:9000", None, "127.0.0.1:9000", False),
        ("https://s3.example.com:9443", None, "s3.example.com:9443", True),
        ("HTTPS://s3.example.com/", None, "s3.example.com", True),
        ("s3.example.com:9000", None, "s3.example.com:9000", True),
        ("s3.example.com", None, "s3.example.com", True),
        ("127.0.0.1:9000", False, "127.0.0.1:9000", False),
        ("http://127.0.0.1:9000", True, "127.0.0.1:9000", True),  # given explicitly, secure wins
        ("https://127.0.0.1:9000", False, "127.0.0.1:9000", False),
        ("http://[::1]:9000", None, "[::1]:9000", False),
    ],
)
def test_endpoint_forms(endpoint: str, secure: Any, host: str, expect_secure: bool) -> None:
    store = S3Store(endpoint, "bucket", "access", "secret", secure=secure, instance_id="i")
    assert store.endpoint == host and store.secure is expect_secure
    assert store.url == ("https://" if expect_secure else "http://") + host


@pytest.mark.parametrize(
    "endpoint, words",
    [
        ("", "empty"),
        ("ftp://host:21", "scheme"),
        ("http://host:9000/bucket", "path"),
        ("host:9000/bucket", "host[:port]"),
        ("http://host:notaport", "port"),
        ("host:99999", "port"),
        ("http://", "no host"),
    ],
)
def test_bad_endpoints(endpoint: str, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words.replace("[", r"\[").replace("]", r"\]")):
        S3Store(endpoint, "bucket", "access", "secret", instance_id="i")


def test_endpoint_with_credentials_is_not_echoed() -> None:
    for endpoint in ("https://user:pa55-word-XYZ@host:9000", "user:pa55-word-XYZ@host:9000"):
        with pytest.raises(ConfigurationError) as info:
            S3Store(endpoint, "bucket", "access", "secret", instance_id="i")
        assert "pa55-word-XYZ" not in str(info.value) and "credentials" in str(info.value)


def test_endpoint_forms_against_server(s3server: S3Server, obj: str, tmp_path: Path) -> None:
    src = _snapshot(tmp_path / "s.godistcache", {"form": 1})
    for endpoint, secure in ((s3server.url, None), (s3server.endpoint, False)):
        store = S3Store(
            endpoint,
            s3server.bucket,
            s3server.access_key,
            s3server.secret_key,
            secure=secure,
            object_name=obj,
            instance_id="i",
        )
        store.upload(src)
        out = tmp_path / "o.godistcache"
        store.download_master(out)
        assert Cache.from_file(out)["form"] == 1


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"bucket": "B"}, "bucket name"),
        ({"object_name": "a b"}, "object name"),
        ({"object_name": "/abs"}, "object name"),
        ({"instance_id": "has/slash"}, "instance_id"),
        ({"instance_id": ""}, "instance_id"),
    ],
)
def test_bad_names(kwargs: dict[str, str], words: str) -> None:
    args: dict[str, Any] = {
        "endpoint": "127.0.0.1:9000",
        "bucket": "bucket",
        "access_key": "a",
        "secret_key": "s",
        "instance_id": "i",
    }
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=words):
        S3Store(**args)


FULL_ENV = {
    "GODISTCACHE_S3_ENDPOINT": "http://127.0.0.1:9000",
    "GODISTCACHE_S3_BUCKET": "bucket",
    "GODISTCACHE_S3_ACCESS_KEY": "AKIAENVEXAMPLE",
    "GODISTCACHE_S3_SECRET_KEY": "env-secret-value-123",
}


@pytest.mark.parametrize(
    "missing",
    ["GODISTCACHE_S3_ENDPOINT", "GODISTCACHE_S3_BUCKET", "GODISTCACHE_S3_ACCESS_KEY", "GODISTCACHE_S3_SECRET_KEY"],
)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_from_env_names_missing_variable(missing: str, how: str) -> None:
    env = dict(FULL_ENV)
    if how == "unset":
        del env[missing]
    else:
        env[missing] = "  "
    with pytest.raises(ConfigurationError, match=missing) as info:
        S3Store.from_env(env)
    assert [v for v in FULL_ENV if v in str(info.value)] == [missing]
    assert "env-secret-value-123" not in str(info.value)


def test_from_env_names_every_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        S3Store.from_env({})
    assert all(var in str(info.value) for var in FULL_ENV)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    store = S3Store.from_env(dict(FULL_ENV, GODISTCACHE_INSTANCE_ID="node-7", GODISTCACHE_S3_OBJECT="shared/sessions"))
    assert (store.endpoint, store.secure, store.bucket) == ("127.0.0.1:9000", False, "bucket")
    assert store.object_name == "shared/sessions" and store.instance_id == "node-7"
    assert store.backup_name(datetime.date(2024, 2, 29)) == "shared/sessions_node-7_2024-02-29.godistcache"
    assert "env-secret-value-123" not in repr(store) and "AKIAENVEXAMPLE" not in repr(store)

    for value, expected in (("true", True), ("1", True), ("FALSE", False), ("no", False)):
        assert S3Store.from_env(dict(FULL_ENV, GODISTCACHE_S3_SSL=value)).secure is expected
    with pytest.raises(ConfigurationError, match="GODISTCACHE_S3_SSL"):
        S3Store.from_env(dict(FULL_ENV, GODISTCACHE_S3_SSL="maybe"))
    with pytest.raises(ConfigurationError, match="GODISTCACHE_INSTANCE_ID"):
        S3Store.from_env(dict(FULL_ENV, GODISTCACHE_INSTANCE_ID="a/b"))

    # The default instance id is the host name; os.environ is the default environment.
    for var, value in FULL_ENV.items():
        monkeypatch.setenv(var, value)
    store = S3Store.from_env()
    assert store.instance_id == socket.gethostname() and store.object_name == "cache"
    monkeypatch.setenv("GODISTCACHE_INSTANCE_ID", "from-env")
    assert S3Store.from_env().instance_id == "from-env"
    assert S3Store(FULL_ENV["GODISTCACHE_S3_ENDPOINT"], "bucket", "a", "s").instance_id == "from-env"

    # Overrides win, and an overridden variable need not be set.
    store = S3Store.from_env(
        {"GODISTCACHE_S3_BUCKET": "bucket"},
        endpoint="https://h:1",
        access_key="a",
        secret_key="s",
        instance_id="x",
        secure=False,
    )
    assert (store.endpoint, store.secure, store.instance_id) == ("h:1", False, "x")


# --------------------------------------------------------------------------- command line


@pytest.fixture
def s3_env(s3server: S3Server, obj: str, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    monkeypatch.setenv("GODISTCACHE_S3_ENDPOINT", s3server.url)
    monkeypatch.setenv("GODISTCACHE_S3_BUCKET", s3server.bucket)
    monkeypatch.setenv("GODISTCACHE_S3_ACCESS_KEY", s3server.access_key)
    monkeypatch.setenv("GODISTCACHE_S3_SECRET_KEY", s3server.secret_key)
    monkeypatch.setenv("GODISTCACHE_S3_OBJECT", obj)
    monkeypatch.setenv("GODISTCACHE_INSTANCE_ID", "cli-1")
    return s3server


def test_cli_push_ls_pull(s3_env: S3Server, obj: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _snapshot(tmp_path / "s.godistcache", {"cli": [1, 2]})
    name = f"{obj}_cli-1_{TODAY.isoformat()}.godistcache"
    assert main(["s3", "push", str(src)]) == 0
    out = capsys.readouterr().out
    assert name in out and f"{obj}.godistcache refreshed" in out

    assert main(["s3", "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].split() == [name, "cli-1", TODAY.isoformat(), f"{src.stat().st_size:,}"]
    assert main(["s3", "ls", "--instance", "someone-else"]) == 0
    assert capsys.readouterr().out == ""

    pulled = tmp_path / "pulled.godistcache"
    assert main(["s3", "pull", str(pulled)]) == 0
    assert f"{obj}.godistcache" in capsys.readouterr().out
    assert Cache.from_file(pulled)["cli"] == [1, 2]
    dated = tmp_path / "dated.godistcache"
    assert main(["s3", "pull", "--object", name, str(dated), "-q"]) == 0
    assert dated.read_bytes() == src.read_bytes()


def test_cli_failures(
    s3_env: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A missing object: the store says no, 1.
    assert main(["s3", "pull", "--object", "nothing-here.godistcache", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "nothing-here.godistcache" in err and "does not exist" in err
    assert not (tmp_path / "o").exists()

    # Not a snapshot: 1, and nothing is uploaded. A file that can't be opened: 2.
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a snapshot at all, no magic here")
    assert main(["s3", "push", str(junk)]) == 1
    assert main(["s3", "push", str(tmp_path / "absent.godistcache")]) == 2
    capsys.readouterr()
    assert main(["s3", "ls"]) == 0 and capsys.readouterr().out == ""

    # Wrong credentials: 1, and the secret is nowhere in the output.
    monkeypatch.setenv("GODISTCACHE_S3_SECRET_KEY", "Wrong-Secret-For-CLI-0000000000")
    assert main(["s3", "ls", "-v"]) == 1
    captured = capsys.readouterr()
    assert "SignatureDoesNotMatch" in captured.err
    for secret in ("Wrong-Secret-For-CLI-0000000000", s3_env.secret_key, s3_env.access_key):
        assert secret not in captured.err + captured.out

    # A variable missing: 2, naming it.
    monkeypatch.delenv("GODISTCACHE_S3_BUCKET")
    assert main(["s3", "ls"]) == 2
    assert "GODISTCACHE_S3_BUCKET" in capsys.readouterr().err


def test_cli_usage() -> None:
    with pytest.raises(SystemExit) as info:
        main(["s3"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["s3", "push"])
    assert info.value.code == 2


# --------------------------------------------------------------------------- server stop and restart


def test_server_down_then_back(make_store: StoreFactory, s3server: S3Server, tmp_path: Path) -> None:
    """While the server is down a transfer fails fast with SyncError; once it is back the same store works."""
    store = make_store()
    src = _snapshot(tmp_path / "s.godistcache", {"before": 1})
    store.upload(src)
    s3server.stop()
    try:
        began = time.monotonic()
        with pytest.raises(SyncError) as info:
            store.upload(src)
        assert info.value.code == "ConnectionRefused" and time.monotonic() - began < 5
    finally:
        s3server.start()
    out = tmp_path / "o.godistcache"
    store.download_master(out)
    assert Cache.from_file(out)["before"] == 1
    store.upload(_snapshot(tmp_path / "t.godistcache", {"after": 2}))
    store.download_master(out)
    assert Cache.from_file(out)["after"] == 2
