"""The store side of incremental sync (issue 13): each instance's base and delta segments in the bucket.

Names are checked without a server; everything else runs against the real
SeaweedFS of s3server.py, each test under an object name of its own. Request
counts are taken at the store's urllib3 pool (every HTTP request minio makes
goes through its ``urlopen``), after a first request has cached the bucket's region.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

import godistcache
from godistcache import Cache, Segment, SegmentStore
from godistcache._s3_names import INSTANCE_RE, OBJECT_RE
from godistcache.cli import main
from godistcache.errors import ConfigurationError, SyncError
from godistcache.s3 import S3Store

from .s3server import S3Server

try:  # the SDK's in-memory exporters: a process sets its providers once, so this shares test_telemetry's
    from .test_telemetry import otel  # noqa: F401
except pytest.skip.Exception:  # no opentelemetry-sdk

    @pytest.fixture
    def otel() -> Any:
        pytest.skip("opentelemetry-sdk is not installed")

# --------------------------------------------------------------------------- names (no server)


def _offline(object_name: str = "cache", instance_id: str = "web-1") -> S3Store:
    """A store whose names can be asked for; it never talks to the endpoint."""
    return S3Store("127.0.0.1:9", "bucket", "access", "secret", object_name=object_name, instance_id=instance_id)


instances = st.from_regex(INSTANCE_RE, fullmatch=True)
objects = st.from_regex(OBJECT_RE, fullmatch=True).filter(lambda o: not o.endswith(".godistcache") and o.strip() == o)
seqs = st.integers(min_value=1, max_value=10**20 - 1)
kinds = st.sampled_from(["base", "delta"])


@given(objects, instances, seqs, kinds)
def test_names_round_trip(object_name: str, instance: str, seq: int, kind: str) -> None:
    store = _offline(object_name, instance)
    name = store.segment_name(seq, kind)
    assert name == f"{object_name}/{instance}/{seq:020d}-{kind}.godistcache"
    assert store.parse_segment_name(name) == (instance, seq, kind)
    # Neither a backup nor the master: the other parsers leave it alone, and it leaves theirs.
    assert store.parse_backup_name(name) is None
    assert store.parse_segment_name(store.backup_name()) is None
    assert store.parse_segment_name(store.master_name) is None


@given(instances, instances, st.lists(st.tuples(seqs, kinds), min_size=2, max_size=20))
def test_names_sort_in_seq_order(me: str, other: str, segments: list[tuple[int, str]]) -> None:
    store = _offline(instance_id=me)
    # Another instance's name is made by the same store (instance_id=) and parsed back as that instance's.
    assert store.parse_segment_name(store.segment_name(1, "base", other)) == (other, 1, "base")
    names = [store.segment_name(seq, kind) for seq, kind in segments]
    parsed = [store.parse_segment_name(n) for n in sorted(names)]
    assert [p[1] for p in parsed if p is not None] == sorted(seq for seq, _ in segments)


@given(st.text(max_size=80), st.text(alphabet="0123456789abcdelt-_./", max_size=60))
def test_parsing_never_raises(anything: str, tail: str) -> None:
    store = _offline()
    for name in (anything, "cache/" + tail, "cache/web-1/" + tail):
        parsed = store.parse_segment_name(name)
        assert parsed is None or store.segment_name(parsed[1], parsed[2], parsed[0]) == name


@pytest.mark.parametrize(
    "name",
    [
        "cache.godistcache",
        "cache_web-1_2026-11-24.godistcache",
        "cache_x/web-1/00000000000000000001-base.godistcache",
        "cache/web-1/abc-base.godistcache",
        "cache/web-1/00000000000000000001-weird.godistcache",
        "cache/web-1/00000000000000000000-base.godistcache",  # seq 0
        "cache/web-1/0000000000000000001-base.godistcache",  # 19 digits
        "cache/web-1/000000000000000000001-base.godistcache",  # 21 digits
        "cache/web-1/00000000000000000001-BASE.godistcache",
        "cache/web-1/00000000000000000001-base.godistcache.tmp",
        "cache/web-1/00000000000000000001-base",
        "cache/00000000000000000001-base.godistcache",  # no instance
        "cache/-web/00000000000000000001-base.godistcache",  # not an instance id
        "cache/sub/web-1/00000000000000000001-base.godistcache",  # deeper: another object name's segment
        "cache/web-1/",
        "other/web-1/00000000000000000001-base.godistcache",
        "",
    ],
)
def test_foreign_names_do_not_parse(name: str) -> None:
    assert _offline().parse_segment_name(name) is None


@pytest.mark.parametrize(
    "seq, kind, words",
    [
        (0, "base", "seq"),
        (-1, "delta", "seq"),
        (10**20, "base", "seq"),
        (True, "base", "seq"),
        (1.0, "base", "seq"),
        ("1", "base", "seq"),
        (1, "Base", "kind"),
        (1, "full", "kind"),
        (1, "", "kind"),
    ],
)
def test_bad_seq_or_kind(seq: Any, kind: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        _offline().segment_name(seq, kind)


def test_bad_instance_in_a_name() -> None:
    with pytest.raises(ConfigurationError, match="instance_id"):
        _offline().segment_name(1, "base", "has/slash")
    assert issubclass(ConfigurationError, ValueError)


def test_public_names() -> None:
    for name in ("Segment", "SegmentStore"):
        assert name in godistcache.__all__, name
    assert Segment.__module__.startswith("godistcache.") and SegmentStore.__module__.startswith("godistcache.")
    assert godistcache.s3.Segment is Segment


TYPED = """
from godistcache import S3Store, Segment, SegmentStore, Store


def as_segment_store(store: S3Store) -> SegmentStore:
    return store


def as_store(store: SegmentStore) -> Store:
    return store


def newest(store: SegmentStore) -> list[Segment]:
    return store.list_segments(store.instance_id)
"""


@pytest.mark.slow
def test_s3store_is_a_segment_store_for_mypy(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    example = tmp_path / "typed_segments.py"
    example.write_text(TYPED, encoding="utf-8")
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / ".mypy_cache"))
    root = str(Path(godistcache.__file__).resolve().parent.parent)
    if "site-packages" not in root:
        env["MYPYPATH"] = root
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- against the server


@pytest.fixture
def obj() -> str:
    """An object name of this test's own, in a folder (as object names may be)."""
    return f"seg/t{uuid.uuid4().hex[:12]}"


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


def _put(raw: Any, bucket: str, name: str, data: bytes = b"x") -> None:
    raw.put_object(bucket, name, io.BytesIO(data), len(data))


def _names(raw: Any, bucket: str, prefix: str) -> list[str]:
    return sorted(o.object_name for o in raw.list_objects(bucket, prefix=prefix, recursive=True))


def _segment_file(path: Path, entries: dict[str, Any]) -> Path:
    cache = Cache()
    for k, v in entries.items():
        cache[k] = v
    cache.save(path)
    return path


class Requests:
    """Every HTTP request a store's client makes, as (method, path and query), while counting."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def of(self, method: str, query: str = "") -> list[str]:
        return [url for m, url in self.seen if m == method and query in url]


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Callable[[S3Store], Requests]:
    def watch(store: S3Store) -> Requests:
        log = Requests()
        http = store._client._http
        real = http.urlopen

        def urlopen(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            log.seen.append((method, url))
            return real(method, url, *args, **kwargs)

        monkeypatch.setattr(http, "urlopen", urlopen)
        store.check()  # the bucket's region is asked once per client: not part of what is counted
        log.seen.clear()
        return log

    return watch


@pytest.mark.s3
def test_upload_segment_and_download(make_store: StoreFactory, raw: Any, s3server: S3Server, tmp_path: Path) -> None:
    store = make_store("web.1_a-b")
    entries = {f"k{i}": i for i in range(100)}
    src = _segment_file(tmp_path / "s.godistcache", entries)
    seen: list[tuple[int, int]] = []
    seg = store.upload_segment(src, 7, "base", progress=lambda done, total: seen.append((done, total)))
    size = src.stat().st_size
    assert seg.object_name == f"{store.object_name}/web.1_a-b/00000000000000000007-base.godistcache"
    assert (seg.instance_id, seg.seq, seg.kind, seg.size) == ("web.1_a-b", 7, "base", size)
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    # One object: no master, no dated backup.
    assert _names(raw, s3server.bucket, store.object_name) == [seg.object_name]
    out = tmp_path / "back.godistcache"
    assert store.download(seg.object_name, out) == size
    assert out.read_bytes() == src.read_bytes()
    assert dict(Cache.from_file(out).items()) == entries
    (listed,) = store.list_segments()
    assert (listed.object_name, listed.seq, listed.kind, listed.size) == (seg.object_name, 7, "base", size)
    assert listed.last_modified is not None and listed.last_modified.tzinfo is not None


@pytest.mark.s3
def test_upload_segment_is_one_put(
    make_store: StoreFactory, requests: Callable[[S3Store], Requests], tmp_path: Path
) -> None:
    store = make_store()
    log = requests(store)
    store.upload_segment(_segment_file(tmp_path / "d.godistcache", {"a": 1}), 1, "delta")
    assert [m for m, _ in log.seen] == ["PUT"]


@pytest.mark.s3
def test_upload_segment_refuses_bad_numbers_before_sending(
    make_store: StoreFactory, raw: Any, s3server: S3Server, tmp_path: Path
) -> None:
    store = make_store()
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    for seq, kind in ((0, "base"), (10**20, "delta"), (1, "snapshot")):
        with pytest.raises(ValueError):
            store.upload_segment(src, seq, kind)
    assert _names(raw, s3server.bucket, store.object_name) == []


@pytest.mark.s3
def test_list_ignores_what_is_not_a_segment(
    make_store: StoreFactory, raw: Any, s3server: S3Server, obj: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web, web2, api = make_store("web"), make_store("web-2"), make_store("api.v2_x-1")
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    web.upload(src)  # a dated backup and the master
    # Uploaded out of order: the listing sorts by instance, then by number (10 after 9, not after 1).
    mine = [web.upload_segment(src, seq, kind) for seq, kind in ((10, "delta"), (1, "base"), (9, "delta"))]
    theirs = [api.upload_segment(src, 3, "base")]
    # "web-2/" comes before "web/" in the store's order ('-' < '/'), after "web" in the instances' order.
    second = [web2.upload_segment(src, 1, "delta")]
    foreign = [
        f"{obj}_web_2026-01-01.godistcache",
        f"{obj}_x/web/00000000000000000001-base.godistcache",  # cache_ is not cache/
        f"{obj}/web/abc-base.godistcache",
        f"{obj}/web/00000000000000000002-weird.godistcache",
        f"{obj}/web/00000000000000000000-base.godistcache",
        f"{obj}/web/0000000000000000003-delta.godistcache",
        f"{obj}/web/00000000000000000004-delta.godistcache.part",
        f"{obj}/00000000000000000005-base.godistcache",
        f"{obj}/sub/web/00000000000000000006-base.godistcache",  # the segment of object name <obj>/sub
        f"{obj}/sub/deeper/web/00000000000000000007-base.godistcache",
        f"{obj}/web.godistcache",
        f"{obj}/web_web_2026-01-01.godistcache",
    ]
    for name in foreign:
        _put(raw, s3server.bucket, name)
    expected = [theirs[0].object_name] + [s.object_name for s in sorted(mine, key=lambda s: s.seq)]
    assert [s.object_name for s in web.list_segments()] == [*expected, second[0].object_name]
    # Whatever order the store lists in (AWS by bytes: "web-2/" before "web/"; SeaweedFS by folder), it is sorted.
    real = web._client.list_objects
    monkeypatch.setattr(web._client, "list_objects", lambda *a, **kw: list(real(*a, **kw))[::-1])
    assert [s.object_name for s in web.list_segments()] == [*expected, second[0].object_name]
    monkeypatch.undo()
    assert [s.seq for s in web.list_segments("web")] == [1, 9, 10]
    assert [s.object_name for s in web.list_segments("api.v2_x-1")] == [theirs[0].object_name]
    assert web.list_segments("we") == [] and web.list_segments("nobody") == []
    assert all(isinstance(s, Segment) and s.size == src.stat().st_size for s in web.list_segments())
    # The backups' listing is not confused by the segments either.
    assert [(b.instance_id, b.date.isoformat()) for b in web.backups()][0][0] == "web"
    assert {b.object_name for b in web.backups()} == {web.backup_name(), f"{obj}_web_2026-01-01.godistcache"}


@pytest.mark.s3
def test_listing_four_instances_is_one_request(
    make_store: StoreFactory, requests: Callable[[S3Store], Requests], tmp_path: Path
) -> None:
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    for instance in ("i1", "i2", "i3", "i4"):
        store = make_store(instance)
        for seq, kind in ((1, "base"), (2, "delta"), (3, "delta")):
            store.upload_segment(src, seq, kind)
    reader = make_store("i1")
    log = requests(reader)
    segments = reader.list_segments()
    assert len(segments) == 12 and [(s.instance_id, s.seq) for s in segments][:4] == [
        ("i1", 1),
        ("i1", 2),
        ("i1", 3),
        ("i2", 1),
    ]
    assert [m for m, _ in log.seen] == ["GET"] and "list-type=2" in log.seen[0][1]
    # Only <object>/ is listed: not the backups and the master beside it (<object>_..., <object>.godistcache).
    assert f"prefix={quote(reader.object_name + '/', safe='')}&" in log.seen[0][1] + "&"
    log.seen.clear()
    assert len(reader.list_segments("i3")) == 3
    assert len(log.of("GET")) == 1 and len(log.seen) == 1
    assert f"prefix={quote(reader.object_name + '/i3/', safe='')}&" in log.seen[0][1] + "&"


@pytest.mark.s3
def test_delete_refuses_names_that_are_not_mine(
    make_store: StoreFactory, raw: Any, s3server: S3Server, tmp_path: Path
) -> None:
    me, other = make_store("me"), make_store("other")
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    mine = me.upload_segment(src, 1, "base")
    theirs = other.upload_segment(src, 1, "base")
    before = _names(raw, s3server.bucket, me.object_name)
    with pytest.raises(ValueError, match="other") as info:
        me.delete_segments([mine.object_name, theirs.object_name])
    assert theirs.object_name in str(info.value)
    for name in (me.master_name, me.backup_name(), f"{me.object_name}/me/notes.txt"):
        with pytest.raises(ValueError, match="not a segment") as info:
            me.delete_segments([mine.object_name, name])
        assert repr(name) in str(info.value)
    with pytest.raises(TypeError, match="not one str"):
        me.delete_segments(mine.object_name)
    # Nothing went, not even this instance's own segment named beside the refused ones.
    assert _names(raw, s3server.bucket, me.object_name) == before


@pytest.mark.s3
def test_delete_own_segments(
    make_store: StoreFactory, requests: Callable[[S3Store], Requests], raw: Any, s3server: S3Server, tmp_path: Path
) -> None:
    me = make_store("me")
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    a, b, c = (me.upload_segment(src, seq, kind) for seq, kind in ((1, "base"), (2, "delta"), (3, "delta")))
    log = requests(me)
    assert me.delete_segments([]) == [] and log.seen == []
    gone = f"{me.object_name}/me/00000000000000000009-delta.godistcache"  # never there: S3 calls it deleted
    assert me.delete_segments(iter([b.object_name, a.object_name, b.object_name, gone])) == [
        b.object_name,
        a.object_name,
        gone,
    ]
    assert [m for m, _ in log.seen] == ["POST"] and "delete" in log.seen[0][1]
    assert _names(raw, s3server.bucket, me.object_name) == [c.object_name]


@pytest.mark.s3
def test_delete_and_list_in_pages_of_a_thousand(
    make_store: StoreFactory, requests: Callable[[S3Store], Requests], raw: Any, s3server: S3Server
) -> None:
    me = make_store("bulk")
    names = [me.segment_name(seq, "delta") for seq in range(1, 1002)]
    for name in names:
        _put(raw, s3server.bucket, name)
    log = requests(me)
    assert [s.object_name for s in me.list_segments()] == names
    assert len(log.of("GET", "list-type=2")) == 2 and len(log.seen) == 2  # 1,000 names a page
    log.seen.clear()
    shuffled = random.Random(13).sample(names, len(names))
    assert me.delete_segments(shuffled) == shuffled
    assert len(log.of("POST", "delete")) == 2 and len(log.seen) == 2  # 1,000 names a request
    assert _names(raw, s3server.bucket, me.object_name) == []


@pytest.mark.s3
def test_delete_names_what_the_store_refused(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # SeaweedFS refuses no single name of a DeleteObjects it accepts: the refusal is added to its real answer.
    from minio.deleteobjects import DeleteError

    me = make_store("me")
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    kept, went = me.upload_segment(src, 1, "base"), me.upload_segment(src, 2, "delta")
    real = me._client.remove_objects

    def remove_objects(bucket: str, objects: Any) -> Iterator[Any]:
        def name(o: Any) -> str:  # a dataclass field since minio 7.2.8 or so, a private attribute before
            return str(getattr(o, "name", None) or o._name)

        asked = [name(o) for o in objects]
        yield from real(bucket, [o for o in objects if name(o) != kept.object_name])
        if kept.object_name in asked:
            yield DeleteError("AccessDenied", "Access Denied.", kept.object_name, None)

    monkeypatch.setattr(me._client, "remove_objects", remove_objects)
    with pytest.raises(SyncError) as info:
        me.delete_segments([kept.object_name, went.object_name])
    err = info.value
    assert (err.code, err.operation, err.object_name) == ("AccessDenied", "delete", kept.object_name)
    assert "1 of 2" in str(err) and repr(kept.object_name) in str(err) and "Access Denied" in str(err)
    assert [s.object_name for s in me.list_segments()] == [kept.object_name]


@pytest.mark.s3
def test_failures_are_sync_errors(
    make_store: StoreFactory, s3server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    wrong = make_store(secret_key="Wrong-Secret-For-Segments-00000")
    caplog.set_level(logging.DEBUG, logger="godistcache")
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("upload", lambda: wrong.upload_segment(src, 1, "base")),
        ("upload", lambda: wrong.upload_master(src)),
        ("list", lambda: wrong.list_segments()),
        ("delete", lambda: wrong.delete_segments([wrong.segment_name(1, "base")])),
    ]
    for operation, call in calls:
        with pytest.raises(SyncError) as info:
            call()
        assert (info.value.operation, info.value.code) == (operation, "SignatureDoesNotMatch"), operation
        assert s3server.bucket in str(info.value)
    assert "Wrong-Secret-For-Segments-00000" not in caplog.text
    missing = make_store(bucket="no-such-bucket-for-segments")
    with pytest.raises(SyncError) as info:
        missing.upload_segment(src, 1, "delta")
    assert info.value.code == "NoSuchBucket" and info.value.object_name == missing.segment_name(1, "delta")


@pytest.mark.s3
def test_upload_master_directly(
    make_store: StoreFactory, requests: Callable[[S3Store], Requests], raw: Any, s3server: S3Server, tmp_path: Path
) -> None:
    store = make_store("compactor")
    entries = {"x": 1, "y": [2, 3]}
    src = _segment_file(tmp_path / "m.godistcache", entries)
    log = requests(store)
    assert store.upload_master(src) == store.master_name
    assert [m for m, _ in log.seen] == ["PUT"]  # no dated backup, no server-side copy
    assert _names(raw, s3server.bucket, store.object_name) == [store.master_name]
    assert dict(Cache.from_s3(store).items()) == entries


@pytest.mark.s3
def test_spans(otel: Any, make_store: StoreFactory, tmp_path: Path) -> None:
    exporter, _ = otel
    store = make_store("traced")
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    seg = store.upload_segment(src, 4, "delta")
    store.upload_master(src)
    store.list_segments()
    store.delete_segments([seg.object_name])
    spans = {s.name: s.attributes for s in exporter.get_finished_spans()}
    size = src.stat().st_size
    up = spans["godistcache.upload_segment"]
    assert (up["godistcache.object"], up["godistcache.kind"], up["godistcache.seq"]) == (seg.object_name, "delta", 4)
    assert up["godistcache.bytes"] == size
    assert spans["godistcache.upload_master"]["godistcache.object"] == store.master_name
    listed = spans["godistcache.list_segments"]
    assert (listed["godistcache.segments"], listed["godistcache.bytes"]) == (1, size)
    assert spans["godistcache.delete_segments"]["godistcache.segments"] == 1


# --------------------------------------------------------------------------- command line


@pytest.fixture
def s3_env(s3server: S3Server, obj: str, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for var, value in (
        ("GODISTCACHE_S3_ENDPOINT", s3server.url),
        ("GODISTCACHE_S3_BUCKET", s3server.bucket),
        ("GODISTCACHE_S3_ACCESS_KEY", s3server.access_key),
        ("GODISTCACHE_S3_SECRET_KEY", s3server.secret_key),
        ("GODISTCACHE_S3_OBJECT", obj),
        ("GODISTCACHE_INSTANCE_ID", "cli-1"),
    ):
        monkeypatch.setenv(var, value)
    for var in ("GODISTCACHE_S3_SSL", "GODISTCACHE_AES_CIPHER_KEY"):
        monkeypatch.delenv(var, raising=False)
    return s3server


@pytest.mark.s3
def test_cli_ls_shows_segments_per_instance(
    s3_env: S3Server, make_store: StoreFactory, obj: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _segment_file(tmp_path / "s.godistcache", {"a": 1})
    size = src.stat().st_size
    web, api = make_store("web"), make_store("api")
    backup = web.upload(src)
    for seq, kind in ((1, "base"), (2, "delta"), (3, "base"), (4, "delta"), (5, "delta")):
        web.upload_segment(src, seq, kind)
    api.upload_segment(src, 1, "delta")

    assert main(["s3", "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # The backups first, unchanged; then each instance's segments and a line that sums them up.
    assert lines[0].split()[0] == backup and lines[1] == ""
    assert lines[2] == f"segments of api ({s3_env.bucket}/{obj}/api/):"
    assert lines[3].split()[:3] == ["1", "delta", f"{size:,}"]
    assert lines[4].strip() == f"api: no base, 1 delta; 1 segment, {size:,} bytes"
    assert lines[5] == ""
    assert lines[6] == f"segments of web ({s3_env.bucket}/{obj}/web/):"
    assert [line.split()[:2] for line in lines[7:12]] == [
        ["1", "base"],
        ["2", "delta"],
        ["3", "base"],
        ["4", "delta"],
        ["5", "delta"],
    ]
    assert all(line.split()[3].endswith("Z") for line in lines[7:12])
    assert lines[12].strip() == f"web: newest base 3, 2 deltas after it; 5 segments, {5 * size:,} bytes"
    assert len(lines) == 13

    assert main(["s3", "ls", "--instance", "api"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"segments of api ({s3_env.bucket}/{obj}/api/):" and len(lines) == 3

    assert main(["s3", "ls", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [b["object_name"] for b in doc["backups"]] == [backup]
    assert [(s["instance_id"], s["seq"], s["kind"]) for s in doc["segments"]][:2] == [
        ("api", 1, "delta"),
        ("web", 1, "base"),
    ]
    assert doc["instances"]["web"] == {"newest_base": 3, "deltas_after": 2, "segments": 5, "bytes": 5 * size}
    assert all(s["last_modified"].endswith("Z") for s in doc["segments"])


@pytest.mark.s3
def test_cli_ls_segments_without_backups(
    s3_env: S3Server, make_store: StoreFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_store("solo").upload_segment(_segment_file(tmp_path / "s.godistcache", {"a": 1}), 2, "base")
    assert main(["s3", "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("segments of solo ") and len(lines) == 3
    assert lines[2].strip().startswith("solo: newest base 2, 0 deltas after it; 1 segment, ")
    assert main(["s3", "ls", "--instance", "nobody", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"backups": [], "segments": [], "instances": {}}
