"""Snapshot files: round trips, expiry, sealing, the pickle policy, damage of every kind, crash safety.

Every test that takes ``snap_cls`` runs on both cores (c, py): the compiled
table uses the compiled frame codec (``_frames_c``), the pure-Python table
the pure-Python one (``_frames_py``).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godistcache import _snapshot_file, snapshot
from godistcache._core import _frames_py as _snapshot_py
from godistcache._core import twins
from godistcache.cache import Cache
from godistcache.crypto import Keyring
from godistcache.errors import ConfigurationError, DecryptionError, SnapshotAuthenticationError, SnapshotError

from .conftest import CORE_NAMES, T0_NS, FrozenClock, cache_class, golden_script

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
DAMAGE = (SnapshotError, DecryptionError)


@pytest.fixture(scope="session")
def snap_cls(cache_cls: type) -> type:
    return cache_cls


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GODISTCACHE_AES_CIPHER_KEY", raising=False)
    monkeypatch.delenv("GODISTCACHE_INSTANCE_ID", raising=False)


UTC = datetime.timezone.utc
VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -(2**63),
    2**100,
    -(2**80) - 1,
    1.5,
    -0.0,
    math.inf,
    "",
    "héllo \U0001f600",
    "lone \ud800 surrogate",
    b"",
    b"\x00\xff" * 50,
    bytearray(b"ab"),
    (),
    (1, "a", (2.5, None)),
    [1, [2, [3]]],
    {"a": 1, 2: [3], (1, 2): {"x": b"y"}},
    {1, 2, "three"},
    frozenset({3, (4, 5)}),
    datetime.datetime(2024, 2, 29, 12, 30, 1, 999, tzinfo=UTC),
    datetime.datetime(1, 1, 1),
    datetime.date(1999, 12, 31),
    datetime.timedelta(days=-3, seconds=5, microseconds=7),
    decimal.Decimal("-1.10E+5"),
    uuid.UUID(int=12345678901234567890),
    "x" * 300_000,  # one entry bigger than a frame's target
]
KEYS: list[Any] = [f"k{i}" for i in range(len(VALUES))]
KEYS[:8] = ["s", b"bytes key", 7, 2.5, (1, "t"), frozenset({1}), None, uuid.UUID(int=1)]


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if type(a) is float and math.isnan(a):
        return math.isnan(b)
    return bool(a == b) and (type(a) is not float or math.copysign(1, a) == math.copysign(1, b))


def filled(cls: type, n: int = 0, **kwargs: Any) -> Any:
    c = cls(**kwargs)
    for k, v in zip(KEYS, VALUES):
        c[k] = v
    for i in range(n):
        c.put(f"n{i}", ("One", i, 3.3))
    return c


def entries(c: Any) -> list[tuple[Any, Any, int]]:
    return list(c._iter(3))


# -- round trips ---------------------------------------------------------------


def test_round_trip_every_type(snap_cls: type, tmp_path: Path) -> None:
    c = filled(snap_cls, 1000)
    path = tmp_path / "c.godistcache"
    assert c.save(path) == len(c) == len(KEYS) + 1000
    d = snap_cls.from_file(path)
    assert type(d) is snap_cls
    got, want = entries(d), entries(c)
    assert [e[0] for e in got] == [e[0] for e in want]  # insertion order kept
    for (k1, v1, e1), (k2, v2, e2) in zip(got, want):
        assert same(k1, k2) and same(v1, v2) and e1 == e2 == 0


def test_round_trip_across_cores(tmp_path: Path) -> None:
    classes = [cache_class(name) for name in CORE_NAMES]
    for writer in classes:
        c = filled(writer, 50)
        c.save(tmp_path / "x.godistcache")
        for reader in classes:
            d = reader.from_file(tmp_path / "x.godistcache")
            assert all(same(a, b) for a, b in zip(entries(d), entries(c)))


@pytest.mark.skipif(len(CORE_NAMES) < 2, reason="needs both cores")
def test_twins_write_identical_payloads() -> None:
    c_cls, py_cls = cache_class("c"), cache_class("py")
    c, py = filled(c_cls, 3000), filled(py_cls, 3000)
    _snapshot_c = twins("c").frames

    rc, rp = _snapshot_c.collect(c, T0_NS), _snapshot_py.collect(py, T0_NS)
    assert len(rc) == len(rp)
    start = 0
    while start < len(rc):
        pc, nc = _snapshot_c.encode_frame(rc, start, 4096, T0_NS, False)
        pp, npy = _snapshot_py.encode_frame(rp, start, 4096, T0_NS, False)
        assert (pc, nc) == (pp, npy)
        start += nc


@pytest.mark.skipif("c" not in CORE_NAMES, reason="compiled frame codec only")
def test_compiled_refs_release_in_chunks() -> None:
    _snapshot_c = twins("c").frames

    c = cache_class("c")()
    values = [object() for _ in range(200_000)]
    for i, v in enumerate(values):
        c[i] = v
    import sys

    probe = values[5]
    del v  # the loop's last value: no stray reference
    before = sys.getrefcount(probe)
    refs = _snapshot_c.collect(c, T0_NS)
    held = sys.getrefcount(probe)  # (outside the assert: pytest's rewriting holds temporaries)
    assert len(refs) == 200_000 and held == before + 1
    assert refs[5][1] is probe
    refs.release()
    after = sys.getrefcount(probe)
    assert len(refs) == 0 and after == before
    refs.release()  # twice is harmless
    del refs
    after = sys.getrefcount(probe)
    assert after == before


def test_expiry_kept_and_expired_entries_dropped(snap_cls: type, tmp_path: Path, clock: FrozenClock) -> None:
    # snapshot.inspect has no cache: it judges expiry by the wall clock, where the fake timer ends up.
    start = time.time_ns() - 22 * 10**9
    clock.set(start)
    c = snap_cls()
    c.put("forever", 1)
    c.put("long", 2, 100)
    c.put("short", 3, 10)
    c.put("gone", 4, 1)
    clock.advance(2)  # "gone" expired before the save: not written
    assert c.save(tmp_path / "s.godistcache") == 3
    clock.advance(20)  # "short" expires between save and load: skipped
    d = snap_cls.from_file(tmp_path / "s.godistcache", timer=clock)
    assert sorted(d) == ["forever", "long"]
    assert d.ttl("forever") is None
    assert d.ttl("long") == pytest.approx(78.0)
    info = snapshot.inspect(tmp_path / "s.godistcache")
    assert (info.entries, info.live, info.expired) == (3, 2, 1)
    assert info.header.created_ns == start + 2 * 10**9


def test_load_replaces_and_merge_adds(snap_cls: type, tmp_path: Path) -> None:
    src = snap_cls()
    src.update({"a": 1, "b": 2})
    src.save(tmp_path / "f.godistcache")
    c = snap_cls()
    c.update({"b": 20, "z": 26})
    assert c.load(tmp_path / "f.godistcache", merge=True) == 2
    assert dict(c.items()) == {"b": 2, "z": 26, "a": 1}
    assert c.load(tmp_path / "f.godistcache") == 2
    assert dict(c.items()) == {"a": 1, "b": 2}


def test_load_keeps_default_ttl_and_from_file_arguments(snap_cls: type, tmp_path: Path) -> None:
    snap_cls().save(tmp_path / "e.godistcache")
    d = snap_cls.from_file(tmp_path / "e.godistcache", default_ttl=30)
    assert d.default_ttl == 30.0 and len(d) == 0


def test_save_progress_and_header(snap_cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_snapshot_file, "FRAME_TARGET", 100)
    c = filled(snap_cls, 200)
    calls: list[tuple[int, int]] = []
    c.save(tmp_path / "p.godistcache", instance_id="worker-7", progress=lambda d, t: calls.append((d, t)))
    assert len(calls) > 10
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and calls[-1] == (len(c), len(c))
    info = snapshot.verify(tmp_path / "p.godistcache")
    assert info.header.instance_id == "worker-7" and info.frames == len(calls) and not info.header.sealed
    reads: list[tuple[int, int]] = []
    snap_cls().load(tmp_path / "p.godistcache", progress=lambda d, t: reads.append((d, t)))
    assert len(reads) == info.frames + 1 and reads[-1] == (info.file_size, info.file_size)
    assert [d for d, _ in reads] == sorted(d for d, _ in reads) and reads[-2][0] < info.file_size


def test_instance_id_default_from_env(snap_cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GODISTCACHE_INSTANCE_ID", "from-env")
    snap_cls().save(tmp_path / "i.godistcache")
    assert snapshot.inspect(tmp_path / "i.godistcache").header.instance_id == "from-env"
    with pytest.raises(ValueError, match="instance_id"):
        snap_cls().save(tmp_path / "i.godistcache", instance_id="x" * 256)


# -- atomic writes and errors ---------------------------------------------------


class Unencodable:
    pass


def test_failed_save_leaves_previous_file(snap_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "t.godistcache"
    c = snap_cls()
    c["a"] = 1
    c.save(path)
    before = path.read_bytes()
    c["b"] = Unencodable()
    with pytest.raises(TypeError, match=r"entry 1 \(key of type str\).*Unencodable.*allow_pickle"):
        c.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.godistcache"]  # no temporary file left behind


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_file_mode_0600_even_over_an_open_file(snap_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "m.godistcache"
    path.write_bytes(b"old")
    path.chmod(0o644)
    snap_cls().save(path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_io_errors_raised(snap_cls: type, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        snap_cls().save(tmp_path / "no such dir" / "x.godistcache")
    with pytest.raises(FileNotFoundError):
        snap_cls().load(tmp_path / "missing.godistcache")
    with pytest.raises(IsADirectoryError if os.name == "posix" else OSError):
        snap_cls().load(tmp_path)


def test_not_a_snapshot(snap_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "n.godistcache"
    for data, message in [
        (b"", "bad magic"),
        (b"\x89GDC", "bad magic"),
        (b"PK\x03\x04" + bytes(100), "bad magic"),
        (snapshot.MAGIC + b"\x03\x00" + bytes(100), "unsupported format version 3"),
        (snapshot.MAGIC + b"\x01\x00" + bytes(10), "truncated header"),
    ]:
        path.write_bytes(data)
        c = snap_cls()
        c["keep"] = 1
        with pytest.raises(SnapshotError, match=message) as exc:
            c.load(path)
        assert exc.value.path == str(path) and str(path) in str(exc.value)
        assert dict(c.items()) == {"keep": 1}


# -- sealed files -----------------------------------------------------------------


def test_sealed_round_trip_is_opaque(snap_cls: type, tmp_path: Path) -> None:
    c = snap_cls(cipher_key=KEY_A)
    c["secret-key-name"] = "secret value text"
    c.put_crypt("crypt", "doubly sealed")
    path = tmp_path / "s.godistcache"
    c.save(path)
    data = path.read_bytes()
    assert b"secret" not in data and b"doubly" not in data and KEY_A not in data
    d = snap_cls.from_file(path, cipher_key=KEY_A)
    assert d["secret-key-name"] == "secret value text" and d.get_crypt("crypt") == "doubly sealed"
    info = snapshot.verify(path, Keyring(KEY_A))
    assert info.authenticated and info.header.key_id == Keyring(KEY_A)._ids[0]


def test_two_saves_differ(snap_cls: type, tmp_path: Path) -> None:
    # A fresh salt per file: the same entries never produce the same ciphertext.
    c = snap_cls(cipher_key=KEY_A)
    c["a"] = "b"
    c.save(tmp_path / "1.godistcache")
    c.save(tmp_path / "2.godistcache")
    one, two = (tmp_path / "1.godistcache").read_bytes(), (tmp_path / "2.godistcache").read_bytes()
    assert len(one) == len(two) and one[36:] != two[36:]


def test_sealed_needs_the_right_key(snap_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "s.godistcache"
    c = snap_cls(cipher_key=KEY_A)
    c["a"] = 1
    c.save(path)
    with pytest.raises(ConfigurationError, match="sealed with key id"):
        snap_cls().load(path)
    with pytest.raises(DecryptionError, match="does not have"):
        snap_cls(cipher_key=KEY_B).load(path)
    # Rotation: a keyring that still holds the old key opens it; the new key seals.
    rotated = snap_cls(cipher_key=[KEY_A, KEY_B])
    assert rotated.load(path) == 1
    rotated.save(path)
    assert snapshot.inspect(path).header.key_id == Keyring(KEY_B)._ids[0]
    with pytest.raises(DecryptionError):
        snap_cls(cipher_key=KEY_A).load(path)


def test_seal_argument(snap_cls: type, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no cipher key"):
        snap_cls().save(tmp_path / "x.godistcache", seal=True)
    keyed = snap_cls(cipher_key=KEY_A)
    keyed["a"] = 1
    keyed.save(tmp_path / "plain.godistcache", seal=False)
    assert not snapshot.inspect(tmp_path / "plain.godistcache").header.sealed
    # A keyed cache refuses an unsealed file unless told otherwise: anyone can forge one.
    with pytest.raises(SnapshotError, match=r"not sealed.*the cache has a cipher key"):
        snap_cls(cipher_key=KEY_A).load(tmp_path / "plain.godistcache")
    assert snap_cls(cipher_key=KEY_A).load(tmp_path / "plain.godistcache", require_sealed=False) == 1
    assert snap_cls().load(tmp_path / "plain.godistcache") == 1
    with pytest.raises(SnapshotError, match=r"not sealed.*require_sealed=True"):
        snap_cls().load(tmp_path / "plain.godistcache", require_sealed=True)


# -- the pickle policy ---------------------------------------------------------------


class Trap:
    """Unpickling it creates the directory named by ``path``: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (os.mkdir, (self.path,))


def test_pickle_needs_permission_to_write(snap_cls: type, tmp_path: Path) -> None:
    c = snap_cls()
    c["t"] = Trap(str(tmp_path / "ran"))
    with pytest.raises(TypeError, match="Trap"):
        c.save(tmp_path / "p.godistcache")
    assert c.save(tmp_path / "p.godistcache", allow_pickle=True) == 1
    assert not (tmp_path / "ran").exists()


def test_unsealed_pickle_refused_without_allow_pickle(snap_cls: type, tmp_path: Path) -> None:
    c = snap_cls()
    c["plain"] = 1
    c["t"] = Trap(str(tmp_path / "ran"))
    c.save(tmp_path / "p.godistcache", allow_pickle=True)
    d = snap_cls()
    d["keep"] = 0
    with pytest.raises(SnapshotError, match="pickled value refused") as exc:
        d.load(tmp_path / "p.godistcache")
    assert exc.value.frame == 0
    assert not (tmp_path / "ran").exists()
    assert dict(d.items()) == {"keep": 0}
    # Tools read it without running it.
    info = snapshot.inspect(tmp_path / "p.godistcache")
    assert info.pickled == 1 and info.entries == 2
    assert not (tmp_path / "ran").exists()
    # The caller who trusts the file may.
    assert d.load(tmp_path / "p.godistcache", allow_pickle=True) == 2
    assert (tmp_path / "ran").is_dir() and d["t"] is None


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    label: Any = None


def test_pickled_values_across_frames(snap_cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_snapshot_file, "FRAME_TARGET", 64)
    c = snap_cls()
    shared = Point(-1)
    for i in range(300):
        c[f"p{i}"] = (Point(i), shared, [i, Point(i, "x")])
    c[Point(7)] = "a key that only pickle can encode"
    c["native"] = {"a": 1}
    c.save(tmp_path / "p.godistcache", allow_pickle=True)
    info = snapshot.inspect(tmp_path / "p.godistcache")
    assert info.frames > 20 and info.pickled == 3 * 300 + 1
    d = snap_cls.from_file(tmp_path / "p.godistcache", allow_pickle=True)
    assert list(d.items()) == list(c.items())
    # Objects shared by the values of one frame stay shared, as in a pickle of the dict.
    assert d["p0"][1] is d["p1"][1] and d["p0"][1] is not d["p299"][1]


def test_sealed_pickle_loads(snap_cls: type, tmp_path: Path) -> None:
    c = snap_cls(cipher_key=KEY_A)
    c["t"] = Trap(str(tmp_path / "ran"))
    c.save(tmp_path / "p.godistcache", allow_pickle=True)
    snap_cls(cipher_key=KEY_A).load(tmp_path / "p.godistcache")
    assert (tmp_path / "ran").is_dir()


# -- damage: every byte, every length, every frame -------------------------------------


def small_file(cls: type, tmp_path: Path, sealed: bool, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(_snapshot_file, "FRAME_TARGET", 40)
    c = cls(cipher_key=KEY_A) if sealed else cls()
    for i in range(12):
        c.put(f"key{i}", ("v", i, [i] * (i % 3)), 1000 if i % 2 else 0)
    path = tmp_path / ("sealed" if sealed else "plain")
    c.save(path, instance_id="me")
    return path


@pytest.fixture(params=[False, True], ids=["plain", "sealed"])
def sample(
    request: pytest.FixtureRequest, snap_cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[bytes, bool]:
    """A small snapshot of many frames (unsealed, then sealed), and whether it is sealed."""
    sealed: bool = request.param
    return small_file(snap_cls, tmp_path, sealed, monkeypatch).read_bytes(), sealed


def frame_spans(data: bytes, sealed: bool) -> list[tuple[int, int]]:
    """(start, end) of every frame of a well-formed file, the end frame last."""
    (idlen,) = struct.unpack_from("<B", data, 13)
    pos = 68 + idlen + 4
    spans = []
    while pos < len(data):
        _, length, _ = struct.unpack_from("<BII", data, pos)
        end = pos + 9 + length + (0 if sealed else 4)
        spans.append((pos, end))
        pos = end
    return spans


def assert_rejected(cls: type, path: Path, data: bytes, what: str) -> None:
    path.write_bytes(data)
    c = cls(cipher_key=KEY_A)
    c["sentinel"] = 1
    try:
        c.load(path, require_sealed=False)
    except DAMAGE:
        pass
    else:
        pytest.fail(f"{what}: loaded without error")
    assert entries(c)[0][:2] == ("sentinel", 1) and len(c) == 1, what


def test_every_byte_flip_rejected(snap_cls: type, tmp_path: Path, sample: tuple[bytes, bool]) -> None:
    good, sealed = sample
    assert len(frame_spans(good, sealed)) >= 6
    bad = tmp_path / "bad"
    for i in range(len(good)):
        for mask in (0x01, 0x80, 0xFF):
            data = bytearray(good)
            data[i] ^= mask
            assert_rejected(snap_cls, bad, bytes(data), f"byte {i} ^ {mask:#x}")


def test_every_truncation_and_extension_rejected(snap_cls: type, tmp_path: Path, sample: tuple[bytes, bool]) -> None:
    good, _ = sample
    bad = tmp_path / "bad"
    for n in range(len(good)):
        assert_rejected(snap_cls, bad, good[:n], f"truncated to {n}")
    assert_rejected(snap_cls, bad, good + b"\x00", "one byte appended")
    assert_rejected(snap_cls, bad, good + good[-30:], "tail repeated")


def test_frames_swapped_dropped_repeated_rejected(snap_cls: type, tmp_path: Path, sample: tuple[bytes, bool]) -> None:
    good, sealed = sample
    spans = frame_spans(good, sealed)
    head = good[: spans[0][0]]
    frames = [good[a:b] for a, b in spans]
    assert b"".join([head, *frames]) == good
    bad = tmp_path / "bad"
    n = len(frames)
    for i in range(n):
        for j in range(i + 1, n):
            swapped = frames[:]
            swapped[i], swapped[j] = swapped[j], swapped[i]
            assert_rejected(snap_cls, bad, b"".join([head, *swapped]), f"frames {i} and {j} swapped")
        assert_rejected(snap_cls, bad, b"".join([head, *frames[:i], *frames[i + 1 :]]), f"frame {i} dropped")
        assert_rejected(snap_cls, bad, b"".join([head, *frames[: i + 1], *frames[i:]]), f"frame {i} repeated")


def test_frames_from_another_file_rejected(snap_cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Same key, same entries, two saves: a frame of one does not open in the other.
    one = small_file(snap_cls, tmp_path, True, monkeypatch).read_bytes()
    two = small_file(snap_cls, tmp_path, True, monkeypatch).read_bytes()
    spans = frame_spans(one, True)
    a, b = spans[2]
    assert_rejected(snap_cls, tmp_path / "bad", one[:a] + two[a:b] + one[b:], "frame from another file")
    assert_rejected(snap_cls, tmp_path / "bad", two[: spans[0][0]] + one[spans[0][0] :], "header from another file")


def test_error_names_frame_and_offset(snap_cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for sealed in (False, True):
        path = small_file(snap_cls, tmp_path, sealed, monkeypatch)
        data = bytearray(path.read_bytes())
        a, b = frame_spans(bytes(data), sealed)[3]
        data[a + 12] ^= 0x10
        path.write_bytes(bytes(data))
        with pytest.raises(SnapshotAuthenticationError if sealed else SnapshotError) as exc:
            snap_cls(cipher_key=KEY_A).load(path, require_sealed=False)
        assert (exc.value.frame, exc.value.offset) == (3, a)
        assert "frame 3" in str(exc.value) and f"byte {a}" in str(exc.value)
        with pytest.raises(type(exc.value)):
            snapshot.verify(path, Keyring(KEY_A))


# -- hostile files with valid checksums ------------------------------------------------


def forge(frames: list[tuple[int, int, bytes]], count: int | None = None, created: int = T0_NS) -> bytes:
    """An unsealed file with correct checksums around arbitrary frames (kind, count, payload)."""
    total = sum(c for k, c, _ in frames if k == 1) if count is None else count
    nframes = sum(1 for k, _, _ in frames if k == 1)
    header = _snapshot_file.build_header(created, total, None, bytes(32), "")
    crc = zlib.crc32(header[:-4])
    out = [header]
    # An entries payload starts with its count of pickled objects: 0 unless given.
    frames = [(k, c, p if k != 1 or p[:1] == b"P" else b"\x00" + p) for k, c, p in frames]
    frames = [(k, c, p[1:] if p[:1] == b"P" else p) for k, c, p in frames]
    for kind, n, payload in [*frames, (2, 0, struct.pack("<QQ", total, nframes))]:
        head = struct.pack("<BII", kind, len(payload), n)
        crc = zlib.crc32(payload, zlib.crc32(head, crc))
        out += [head, payload, struct.pack("<I", crc)]
    return b"".join(out)


def test_forged_but_checksummed_file_loads(snap_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "f"
    # key "a" (tag 6, len 1), value int 5 (tag 3, zigzag 10), never expires
    path.write_bytes(forge([(1, 1, b"\x06\x01a\x03\x0a\x00")]))
    assert dict(snap_cls.from_file(path).items()) == {"a": 5}


@pytest.mark.parametrize(
    "frames, count, message",
    [
        ([(1, 1, b"\x06\x01a\x03\x0a")], None, "truncated varint"),
        ([(1, 1, b"\x06\x01a\x03\x0a\x00\x00")], None, "trailing bytes"),
        ([(1, 2, b"\x06\x01a\x03\x0a\x00\x00\x00")], None, "entry 1 of 2"),
        ([(1, 1, b"\x0a\x01\x00\x00\x00")], None, "unusable key of type list"),
        ([(1, 1, b"\x06\x01a\x03\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f")], None, "expiry out of range"),
        ([(1, 0, b"")], 0, "entry count 0"),
        ([(1, 1000, b"\x00\x00\x00")], None, "entry count 1000"),
        ([(3, 1, b"\x00\x00\x00")], None, "unknown frame kind 3"),
        ([(1, 1, b"\x00\x00\x00")], 2, "entry totals disagree"),
        ([(1, 1, b"\x06\x01a\x7f\x02\x80\x04\x00")], None, r"pickled value refused.*tag 0x7F"),
        ([(1, 1, b"\x06\x01a\x7e\x00\x00")], None, r"pickled value refused.*tag 0x7E"),
        ([(1, 1, b"P\x01\x05\x80\x05]\x94.\x06\x01a\x7e\x00\x00")], None, "frame holds 1 pickled objects"),
        ([(1, 1, b"P\x01\x40\x00")], None, "pickled value refused"),
        ([(1, 1, b"\x0b\x01\x0a\x00\x00\x00")], None, "unhashable dict key"),
    ],
)
def test_forged_entries_rejected(snap_cls: type, tmp_path: Path, frames: Any, count: Any, message: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(forge(frames, count))
    c = snap_cls()
    c["keep"] = 1
    with pytest.raises(SnapshotError, match=message):
        c.load(path)
    assert dict(c.items()) == {"keep": 1}


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"P\x01\x40\x00", "1 in 64 bytes declared"),
        (b"\x06\x01a\x7f\x02\x80\x04\x00", "pickle item inside a snapshot frame"),
        (b"P\x02\x01\x00\x00", "2 in 1 bytes declared"),
        (b"P\x01\x03abc\x00", "invalid pickled objects"),
        (b"P\x01\x05\x80\x05N\x94.\x06\x01a\x7e\x00\x00", "not a list of 1"),
        (b"P\x01\x08\x80\x05]\x94K\x01a.\x06\x01a\x7e\x01\x00", "pickle reference 1 out of range"),
    ],
)
def test_forged_pickled_objects_rejected(snap_cls: type, tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(forge([(1, 1, payload)]))
    with pytest.raises(SnapshotError, match=message):
        snap_cls().load(path, allow_pickle=True)


def test_forged_pickled_objects_load_when_allowed(snap_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "f"
    # One pickled object, the list [1]; the entry's value refers to object 0.
    path.write_bytes(forge([(1, 1, b"P\x01\x08\x80\x05]\x94K\x01a.\x06\x01a\x7e\x00\x00")]))
    assert dict(snap_cls.from_file(path, allow_pickle=True).items()) == {"a": 1}


def test_huge_declared_sizes_allocate_nothing(snap_cls: type, tmp_path: Path) -> None:
    path = tmp_path / "h"
    good = forge([(1, 1, b"\x00\x00\x00")])
    header_len = 68 + 4
    # An entry count of 2**63 in the header.
    data = bytearray(good)
    struct.pack_into("<Q", data, 24, 2**63)
    struct.pack_into("<I", data, 68, zlib.crc32(bytes(data[:68])))
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="more than a file of"):
        snap_cls().load(path)
    # A frame claiming 4 GiB.
    data = bytearray(good)
    struct.pack_into("<I", data, header_len + 1, 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="truncated frame: 4294967295 bytes declared"):
        snap_cls().load(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=200), count=st.integers(0, 70))
def test_fuzzed_payloads_never_crash(snap_cls: type, tmp_path: Path, payload: bytes, count: int) -> None:
    path = tmp_path / "fuzz"
    path.write_bytes(forge([(1, count, payload)]))
    c = snap_cls()
    try:
        c.load(path)
    except SnapshotError:
        assert len(c) == 0
    else:
        assert len(c) <= count


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.dictionaries(
        st.one_of(st.text(max_size=8), st.integers(), st.binary(max_size=8)),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.tuples(inner, inner)
                | st.dictionaries(st.text(max_size=4), inner, max_size=4)
            ),
            max_leaves=10,
        ),
        max_size=30,
    ),
    sealed=st.booleans(),
)
def test_hypothesis_round_trip(snap_cls: type, tmp_path: Path, data: dict[Any, Any], sealed: bool) -> None:
    kwargs = {"cipher_key": KEY_A} if sealed else {}
    c = snap_cls(**kwargs)
    for k, v in data.items():
        c[k] = v
    c.save(tmp_path / "h.godistcache")
    d = snap_cls.from_file(tmp_path / "h.godistcache", **kwargs)
    assert all(same(a, b) for a, b in zip(entries(d), entries(c))) and len(d) == len(c)


# -- crash safety -------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from godistcache import Cache
    path = sys.argv[1]
    caches = []
    for version in range(2):
        c = Cache()
        for i in range(20_000):
            c[f"k{i}"] = ("version", version, "x" * 40)
        caches.append(c)
    print("ready", flush=True)
    n = 0
    while True:
        caches[n % 2].save(path)
        n += 1
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_repeated_saves_leaves_a_loadable_file(tmp_path: Path) -> None:
    path = tmp_path / "crash.godistcache"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    delays = [0.0, 0.013, 0.029, 0.041, 0.057, 0.083, 0.11, 0.17, 0.23, 0.31]
    for delay in delays:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        if not path.exists():
            continue  # killed before its first save finished (the last delays leave time for one)
        c = Cache.from_file(path)
        assert len(c) == 20_000
        version = c["k0"][1]
        assert all(c[f"k{i}"] == ("version", version, "x" * 40) for i in range(0, 20_000, 997))
    leftovers = [n for n in os.listdir(tmp_path) if n != path.name]
    # A kill mid-save can leave its temporary file (named .crash.godistcache.*.tmp), never a torn target.
    assert all(n.startswith(".crash.godistcache.") and n.endswith(".tmp") for n in leftovers)
    assert path.exists()


def test_public_cache_has_the_methods(tmp_path: Path) -> None:
    c = Cache()
    c["a"] = [1]
    c.save(tmp_path / "pub.godistcache")
    assert Cache.from_file(tmp_path / "pub.godistcache")["a"] == [1]
    fn: Callable[..., Any] = Cache.load
    assert fn.__doc__ and "merge" in fn.__doc__


def test_export_json_from_cache_matches_the_file(snap_cls: type, tmp_path: Path, clock: FrozenClock) -> None:
    import io
    import json

    clock.set(time.time_ns() // 10**9 * 10**9)  # export_json from the file judges expiry by the wall clock
    c = filled(snap_cls, 5)
    c.put("ttl", 1, 30)
    c.save(tmp_path / "j.godistcache", instance_id="me")
    from_file, from_cache = io.StringIO(), io.StringIO()
    assert snapshot.export_json(tmp_path / "j.godistcache", from_file) == len(c)
    assert c.export_json(from_cache, instance_id="me") == len(c)
    assert from_cache.getvalue() == from_file.getvalue()
    doc = json.loads(from_cache.getvalue())
    assert doc["instance_id"] == "me" and len(doc["entries"]) == len(c)
    ttl_entry = doc["entries"][-1]
    assert ttl_entry["key"] == "ttl" and ttl_entry["expires_ns"] == clock.now + 30 * 10**9
    assert (
        ttl_entry["expires"]
        == datetime.datetime.fromtimestamp(clock.now // 10**9 + 30, datetime.timezone.utc).isoformat()
    )
    by_key = {json.dumps(e["key"]): e["value"] for e in doc["entries"]}
    assert by_key['"k19"'] == {"$dict": [["a", 1], [2, [3]], [[1, 2], {"x": {"$bytes": "eQ=="}}]]}
    assert by_key["7"] is False and by_key['"k9"'] == {"$float": "inf"}


def test_export_json_refuses_objects_before_writing(snap_cls: type) -> None:
    import io

    c = snap_cls()
    c["ok"] = 1
    c["bad"] = Unencodable()
    out = io.StringIO()
    with pytest.raises(TypeError, match=r"entry 1 \(key of type str\).*no JSON form for Unencodable"):
        c.export_json(out)
    assert out.getvalue() == ""


# -- golden files: format version 1 stays readable, and is still what we write -------------


GOLDEN = golden_script("make_snapshot_golden")


@pytest.mark.parametrize("name", list(GOLDEN.FILES))
def test_golden_files_load(snap_cls: type, name: str) -> None:
    path = GOLDEN.GOLDEN_DIR / f"{name}.godistcache"
    kwargs: dict[str, Any] = {"cipher_key": GOLDEN.KEY} if GOLDEN.FILES[name] else {}
    c = snap_cls(**kwargs)
    c._track_writes()
    c.load(path, allow_pickle=name == "pickled")
    want = GOLDEN.golden_entries(name)
    got = list(c._iter(4))
    assert len(got) == len(want)
    for (k1, v1, e1, w1), (k2, v2, e2, w2) in zip(got, want):
        assert same(k1, k2) and same(v1, v2) and e1 == e2 and w1 == w2
    info = snapshot.verify(path, Keyring(GOLDEN.KEY))
    assert (info.header.created_ns, info.header.instance_id, info.frames > 3) == (GOLDEN.CREATED_NS, "golden", True)


# Not "pickled": pickle's own bytes may differ between Python versions.
@pytest.mark.parametrize("name", ["plain", "sealed", "timed"])
@pytest.mark.parametrize("twin", ["c", "py"])
def test_golden_files_rebuilt_byte_for_byte(name: str, twin: str) -> None:
    if twin == "c":
        if "c" not in CORE_NAMES:
            pytest.skip("GODISTCACHE_NO_EXTENSIONS is set")
        core = twins("c").frames
    else:
        core = _snapshot_py
    assert GOLDEN.build(name, core) == (GOLDEN.GOLDEN_DIR / f"{name}.godistcache").read_bytes()
