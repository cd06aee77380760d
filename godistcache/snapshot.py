"""Snapshot files (``.godistcache``): one authenticated binary file per cache.

Use it through the cache: :meth:`Cache.save`, :meth:`Cache.load` and
:meth:`Cache.from_file`; :func:`inspect`, :func:`verify` and
:func:`export_json` read a file without loading it (and never unpickle).

File format, version 1 (all integers little-endian)::

    header   magic        8  b"\\x89GDC\\r\\n\\x1a\\n"
             version      2  1
             flags        2  bit 0: sealed; bit 1: entries carry write times;
                             every other bit 0
             codec        1  1: the value codec, format 1 (godistcache._core._codec_py)
             id length    1  L, 0..255
             reserved     2  0
             created_ns   8  Unix ns when the entries were cut; int64
             entry count  8  entries in the file
             key id       4  id of the key the file is sealed with; zeros if not sealed
             salt        32  random, fresh for every file
             instance id  L  UTF-8 name of the instance that wrote it
             header CRC   4  CRC-32 of every header byte before it
    frames   kind         1  1: entries, 2: end
             length       4  payload bytes that follow (sealed: ciphertext and tag)
             count        4  entries in the frame (end frame: 0)
             payload      length
             CRC          4  not sealed only: CRC-32 of kind, length, count and
                             payload, seeded with the previous frame's CRC (the
                             header CRC for frame 0)

Frame 0 comes right after the header; an entries frame holds at least one
entry; the file ends with exactly one end frame, whose payload is the number
of entries and of entries frames (8 bytes each), and nothing follows it. An
entries frame's payload is the frame's pickled objects, if any (one pickle of
a list per frame), then its entries, each ``key item | value item |
uvarint(expires_ns - created_ns, 0: never)``, then, in a file with write
times, ``uvarint(created_ns - written_ns + 1, 0: unknown)`` (see
``godistcache._core._frames_py``). Write times are kept by caches that track them
(a persisted cache does), so that merging the snapshots of several instances
keeps the later write of each key.

Integrity, not sealed: the chained CRC catches every burst of errors up to
32 bits (so every single-byte change), and a frame dropped, repeated or moved
breaks the chain; the end frame's totals catch a file cut at a frame
boundary. Anyone can write a valid unsealed file, so its pickled values are
refused unless the caller passes ``allow_pickle=True``.

Authenticity, sealed: every frame is AES-256-GCM under a key of its own
file, ``HKDF-SHA256(keyring key, salt, info=b"godistcache snapshot v1")``
(the salt is fresh, so no two files share a key and nonces can be counters),
with nonce = frame number (11 bytes, big-endian) and a last byte of 1 on the
end frame, 0 otherwise, and with the whole header and the frame's 9-byte
head as associated data. A frame altered, dropped, reordered, taken from
another file or cut off fails its tag; so does the end frame of a file
truncated at a frame boundary, which is missing. Every frame is checked
before any of its entries is decoded. Only a holder of the key can make a
frame that opens, so pickled values of a sealed file are unpickled.

Bounds: every length and count is checked against the bytes left in the
file before anything is allocated or read, and a load holds one frame at a
time beyond the cache. What the entries decode to is bounded by the value
codec's decode budget (``godistcache._core._codec_py``): the objects of an unsealed
file (entries charged ``COST_ENTRY`` each besides their keys and values) may
take at most ``DECODE_EXPANSION`` (16) bytes of memory per byte of file plus
``DECODE_ALLOWANCE`` (1 MiB), counted across all its frames, or the file is
refused (``SnapshotError``) -- by :meth:`Cache.load`, :func:`inspect`,
:func:`verify` and :func:`export_json` alike. A sealed file, and an unsealed one
loaded with ``allow_pickle=True``, are trusted and not budgeted; the frames'
pickles (read only then) cost what pickle makes of them.

Writes go to a temporary file (mode 0600) in the target's directory, which is
fsynced and renamed over the target, and the directory is fsynced: a crash
leaves the old file or the new one, never a mixture. Every I/O error is
raised (as ``OSError``).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import os
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any, Callable, Optional, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import _telemetry
from ._core import _frames_py, core_of, table_class
from ._core import frames as _selected_frames
from ._core._codec_py import DecodeBudgetError, Pickled, _read_uvarint, budget_for, budget_message
from ._core.frames import OPAQUE, REFUSE, UNPICKLE
from ._core.table import now_ns
from ._files import atomic_write, open_regular
from .crypto import Keyring
from .errors import ConfigurationError, SnapshotAuthenticationError, SnapshotError

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "Header",
    "Progress",
    "SnapshotInfo",
    "created_ns",
    "dump_json",
    "export_json",
    "inspect",
    "load_into",
    "read_header",
    "save",
    "verify",
]

#: The first 8 bytes of every snapshot (as PNG's: a high byte, CR LF, ^Z, LF catch text-mode mangling).
MAGIC = b"\x89GDC\r\n\x1a\n"
#: The file format version this module reads and writes.
FORMAT_VERSION = 1
#: Suffix of snapshot files, by convention.
SUFFIX = ".godistcache"

FLAG_SEALED = 0x1
FLAG_WRITE_TIMES = 0x2
CODEC_V1 = 1
FRAME_ENTRIES = 1
FRAME_END = 2
#: An entries frame is closed once its payload reaches this many bytes.
FRAME_TARGET = 128 * 1024
#: No frame payload is larger (one entry bigger than this can't be saved).
MAX_FRAME = (1 << 31) - 1
MAX_INSTANCE_ID = 255
KDF_INFO = b"godistcache snapshot v1"

_HEADER = struct.Struct("<8sHHBBHqQ4s32s")
_FRAME = struct.Struct("<BII")
_CRC = struct.Struct("<I")
_END = struct.Struct("<QQ")
_MIN_ENTRY = 3  # key item, value item, expiry: at least a byte each
_TAG = 16
_NO_KEY_ID = bytes(4)
_INT64_MAX = (1 << 63) - 1

#: Called with (bytes done, bytes in all) after each frame.
Progress = Callable[[int, int], None]
PathLike = Union[str, "os.PathLike[str]"]


def _frames_for(table: Any) -> ModuleType:
    """The frame codec for table: the selected one, unless table is pure-Python (the compiled codec needs C entries)."""
    return _frames_py if core_of(table) == "py" else _selected_frames


@dataclass(frozen=True)
class Header:
    """A snapshot's header."""

    version: int
    flags: int
    codec: int
    created_ns: int
    entry_count: int
    key_id: Optional[bytes]
    salt: bytes = field(repr=False)
    instance_id: str
    raw: bytes = field(repr=False)  # the header's bytes, CRC included

    @property
    def sealed(self) -> bool:
        return bool(self.flags & FLAG_SEALED)

    @property
    def write_times(self) -> bool:
        return bool(self.flags & FLAG_WRITE_TIMES)

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def created(self) -> datetime.datetime:
        return _ns_to_datetime(self.created_ns)


@dataclass
class SnapshotInfo:
    """What :func:`inspect` and :func:`verify` found in a file.

    ``live`` and ``expired`` split ``entries`` at the time of the check;
    ``pickled`` counts the objects the file holds pickled (each frame's
    header says how many); ``authenticated`` is True when a sealed file's
    every frame opened.
    """

    path: str
    header: Header
    file_size: int
    frames: int = 0
    payload_bytes: int = 0
    entries: int = 0
    live: int = 0
    expired: int = 0
    pickled: int = 0
    authenticated: bool = False


def _ns_to_datetime(ns: int) -> datetime.datetime:
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return epoch + datetime.timedelta(microseconds=ns // 1000)


def _fail(msg: str, path: str, frame: Optional[int] = None, offset: Optional[int] = None) -> SnapshotError:
    where = []
    if frame is not None:
        where.append(f"frame {frame}")
    if offset is not None:
        where.append(f"byte {offset}")
    suffix = f" ({', '.join(where)})" if where else ""
    return SnapshotError(f"{path}: {msg}{suffix}", path=path, frame=frame, offset=offset)


# --------------------------------------------------------------------------- write


def _build_header(
    created_ns: int, count: int, key_id: Optional[bytes], salt: bytes, instance_id: str, write_times: bool = False
) -> bytes:
    ident = instance_id.encode("utf-8")
    if len(ident) > MAX_INSTANCE_ID:
        raise ValueError(f"instance_id must be at most {MAX_INSTANCE_ID} bytes of UTF-8, got {len(ident)}")
    flags = (FLAG_SEALED if key_id is not None else 0) | (FLAG_WRITE_TIMES if write_times else 0)
    head = _HEADER.pack(
        MAGIC, FORMAT_VERSION, flags, CODEC_V1, len(ident), 0, created_ns, count, key_id or _NO_KEY_ID, salt
    ) + ident
    return head + _CRC.pack(zlib.crc32(head))


class _FrameWriter:
    """Frames onto a binary file: CRC-chained, or sealed when given an AEAD."""

    def __init__(self, f: IO[bytes], header: bytes, aead: Optional[AESGCM]) -> None:
        self.f = f
        self.header = header
        self.aead = aead
        self.crc = zlib.crc32(header[:-4])
        self.index = 0
        self.written = len(header)

    def frame(self, kind: int, count: int, payload: bytes) -> None:
        if self.aead is not None:
            head = _FRAME.pack(kind, len(payload) + _TAG, count)
            nonce = self.index.to_bytes(11, "big") + (b"\x01" if kind == FRAME_END else b"\x00")
            body = self.aead.encrypt(nonce, payload, self.header + head)
            self.f.write(head)
            self.f.write(body)
            self.written += len(head) + len(body)
        else:
            head = _FRAME.pack(kind, len(payload), count)
            self.crc = zlib.crc32(payload, zlib.crc32(head, self.crc))
            self.f.write(head)
            self.f.write(payload)
            self.f.write(_CRC.pack(self.crc))
            self.written += len(head) + len(payload) + 4
        self.index += 1


def save(
    table: Any,
    path: PathLike,
    *,
    keyring: Optional[Keyring] = None,
    allow_pickle: bool = False,
    instance_id: str = "",
    progress: Optional[Progress] = None,
) -> int:
    """Write the live entries of table to path, atomically. Returns the number of entries written.

    Args:
        keyring: seal the file with its newest key; None writes a CRC-checked file.
        allow_pickle: pickle values (and keys) the codec has no native form for;
            otherwise they raise TypeError and the target is left untouched.
        instance_id: the writer's name, kept in the header (at most 255 bytes of UTF-8).
        progress: called with (entries done, entries in all) after each frame.

    Raises:
        TypeError, ValueError: an entry does not encode (the message gives
            its position and key type); the target is untouched.
        OSError: the file could not be written; the target is untouched.
    """
    target = os.path.abspath(os.fspath(path))
    with _telemetry.span("save", path=target, sealed=keyring is not None) as span:
        n = _save(table, target, keyring, allow_pickle, instance_id, progress)
        if span is not None:
            _telemetry.set_attributes(span, entries=n, bytes=os.path.getsize(target))
    _telemetry.count("entries", n, "save")
    return n


def _save(
    table: Any, target: str, keyring: Optional[Keyring], allow_pickle: bool, instance_id: str, progress: Optional[Progress]
) -> int:
    core = _frames_for(table)
    now = now_ns()
    refs = core.collect(table, now)
    n = len(refs)
    salt = os.urandom(32)
    write_times = bool(table._tracks_writes)
    header = _build_header(now, n, keyring._ids[-1] if keyring is not None else None, salt, instance_id, write_times)
    aead = keyring._derive(None, salt, KDF_INFO) if keyring is not None else None
    with atomic_write(target, "wb", buffering=1 << 20) as f:
        f.write(header)
        out = _FrameWriter(f, header, aead)
        done = 0
        frames = 0
        while done < n:
            payload, k = core.encode_frame(refs, done, FRAME_TARGET, now, allow_pickle, write_times)
            if len(payload) > MAX_FRAME:
                raise ValueError(f"entry {done}: larger than a frame can hold ({len(payload)} > {MAX_FRAME} bytes)")
            out.frame(FRAME_ENTRIES, k, payload)
            done += k
            frames += 1
            if progress is not None:
                progress(done, n)
        out.frame(FRAME_END, 0, _END.pack(n, frames))
    release = getattr(refs, "release", None)
    if release is not None:  # the compiled refs: dropped in chunks, other threads running in between
        release()
    return n


# --------------------------------------------------------------------------- read


def read_header(f: IO[bytes], path: str, file_size: int) -> Header:
    """Read and check the header at the start of f."""
    raw = f.read(_HEADER.size)
    if raw[: len(MAGIC)] != MAGIC[: len(raw)] or len(raw) < len(MAGIC):
        raise _fail("not a godistcache snapshot (bad magic)", path, offset=0)
    if len(raw) < _HEADER.size:
        raise _fail(f"truncated header: {len(raw)} bytes, a header has at least {_HEADER.size + 4}", path, offset=0)
    _, version, flags, codec, idlen, reserved, created, count, kid, salt = _HEADER.unpack(raw)
    if version != FORMAT_VERSION:
        raise _fail(f"unsupported format version {version}; this godistcache reads version {FORMAT_VERSION}", path, offset=8)
    rest = f.read(idlen + 4)
    if len(rest) < idlen + 4:
        raise _fail(f"truncated header: {len(raw) + len(rest)} bytes, this one declares {_HEADER.size + idlen + 4}", path, offset=0)
    raw += rest
    (crc,) = _CRC.unpack_from(raw, len(raw) - 4)
    if zlib.crc32(raw[:-4]) != crc:
        raise _fail("header checksum mismatch: the header is damaged", path, offset=0)
    if flags & ~(FLAG_SEALED | FLAG_WRITE_TIMES):
        raise _fail(f"unsupported flags 0x{flags:04x}", path, offset=10)
    if codec != CODEC_V1:
        raise _fail(f"unsupported codec {codec}", path, offset=12)
    if reserved:
        raise _fail("reserved header field is not zero", path, offset=14)
    if created < 0:
        raise _fail(f"creation time {created} is negative", path, offset=16)
    sealed = bool(flags & FLAG_SEALED)
    if sealed == (kid == _NO_KEY_ID):
        raise _fail("key id and sealed flag disagree", path, offset=32)
    if count > max(file_size - len(raw), 0) // _MIN_ENTRY:
        raise _fail(f"entry count {count} is more than a file of {file_size} bytes can hold", path, offset=24)
    try:
        instance_id = raw[_HEADER.size : _HEADER.size + idlen].decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("instance id is not UTF-8", path, offset=_HEADER.size) from None
    return Header(version, flags, codec, created, count, kid if sealed else None, salt, instance_id, raw)


def created_ns(path: PathLike) -> int:
    """When a snapshot file's entries were cut (Unix ns), read from its checked header."""
    with open_regular(path) as f:
        return read_header(f, os.fspath(path), os.fstat(f.fileno()).st_size).created_ns


def _frames(
    f: IO[bytes], path: str, header: Header, file_size: int, aead: Optional[AESGCM]
) -> Iterator[tuple[int, int, int, bytes, int]]:
    """Check and yield (frame number, kind, count, payload, offset) for every entries frame.

    Stops after the end frame, having checked its totals and that nothing follows.
    """
    pos = header.size
    crc = zlib.crc32(header.raw[:-4])
    trailer = 0 if aead is not None else 4
    index = 0
    entries = 0
    while True:
        left = file_size - pos
        if left <= 0:
            raise _fail("truncated: the file ends before its end frame", path, frame=index, offset=pos)
        head = f.read(_FRAME.size)
        if len(head) < _FRAME.size:
            raise _fail(f"truncated frame head: {len(head)} of {_FRAME.size} bytes", path, frame=index, offset=pos)
        kind, length, count = _FRAME.unpack(head)
        if kind != FRAME_ENTRIES and kind != FRAME_END:
            raise _fail(f"unknown frame kind {kind}", path, frame=index, offset=pos)
        if length > left - _FRAME.size - trailer:
            raise _fail(
                f"truncated frame: {length} bytes declared, {max(left - _FRAME.size - trailer, 0)} remain", path, frame=index, offset=pos
            )
        body = f.read(length)
        if len(body) < length:
            raise _fail(f"truncated frame: {length} bytes declared, {len(body)} read", path, frame=index, offset=pos)
        if aead is not None:
            nonce = index.to_bytes(11, "big") + (b"\x01" if kind == FRAME_END else b"\x00")
            try:
                payload = aead.decrypt(nonce, body, header.raw + head)
            except InvalidTag:
                raise SnapshotAuthenticationError(
                    f"{path}: frame {index} at byte {pos} fails authentication: the file was altered, truncated, "
                    "or its frames reordered, or it was sealed with another key (frame "
                    f"{index}, byte {pos})",
                    path=path,
                    frame=index,
                    offset=pos,
                ) from None
        else:
            stored = f.read(4)
            crc = zlib.crc32(body, zlib.crc32(head, crc))
            if len(stored) < 4 or _CRC.unpack(stored)[0] != crc:
                raise _fail(
                    "checksum mismatch: the frame is damaged, or frames were dropped or reordered", path, frame=index, offset=pos
                )
            payload = body
        if kind == FRAME_END:
            if count != 0 or len(payload) != _END.size:
                raise _fail("malformed end frame", path, frame=index, offset=pos)
            total, nframes = _END.unpack(payload)
            if total != entries or total != header.entry_count or nframes != index:
                raise _fail(
                    f"entry totals disagree: header {header.entry_count}, end frame {total} in {nframes} frames, "
                    f"found {entries} in {index}",
                    path,
                    frame=index,
                    offset=pos,
                )
            end = pos + _FRAME.size + length + trailer
            if end != file_size or f.read(1):
                raise _fail(f"{file_size - end} bytes after the end frame", path, frame=index, offset=end)
            return
        if count == 0 or count > len(payload) // _MIN_ENTRY:
            raise _fail(f"entry count {count} does not fit a payload of {len(payload)} bytes", path, frame=index, offset=pos)
        entries += count
        if entries > header.entry_count:
            raise _fail(f"more entries than the header's {header.entry_count}", path, frame=index, offset=pos)
        yield index, kind, count, payload, pos
        index += 1
        pos += _FRAME.size + length + trailer


class _Opened:
    """An open snapshot: its header, size and the AEAD that opens its frames."""

    def __init__(self, path: PathLike, keyring: Optional[Keyring], need_key: bool) -> None:
        self.path = os.fspath(path)
        self.f = open_regular(self.path)
        try:
            self.size = os.fstat(self.f.fileno()).st_size
            self.header = read_header(self.f, self.path, self.size)
            self.aead: Optional[AESGCM] = None
            if self.header.sealed and (keyring is not None or need_key):
                kid = self.header.key_id
                assert kid is not None
                if keyring is None:
                    raise ConfigurationError(
                        f"{self.path}: the snapshot is sealed with key id {kid.hex()}: give the cache (or the command) "
                        "that key (cipher_key=..., or GODISTCACHE_AES_CIPHER_KEY)"
                    )
                try:
                    self.aead = keyring._derive(kid, self.header.salt, KDF_INFO)
                except Exception as exc:  # DecryptionError: the keyring lacks that key
                    raise type(exc)(f"{self.path}: {exc}") from None
        except BaseException:
            self.f.close()
            raise

    def frames(self) -> Iterator[tuple[int, int, int, bytes, int]]:
        return _frames(self.f, self.path, self.header, self.size, self.aead)

    #: Bytes of objects the frames decoded so far left of the file's decode budget.
    budget_left: Optional[int] = None

    def decode(self, core: ModuleType, frame: tuple[int, int, int, bytes, int], now: int, mode: int, sink: Any) -> tuple[int, int]:
        index, _, count, payload, pos = frame
        # Data is trusted when sealed (only a key holder made it) or when the caller allows pickle (which may
        # run code anyway); the rest may cost only so much memory per byte of file (the codec's decode budget).
        budgeted = not self.header.sealed and mode != UNPICKLE
        if budgeted and self.budget_left is None:
            self.budget_left = budget_for(self.size)
        try:
            live, expired, left = core.decode_frame(
                payload, count, self.header.created_ns, now, mode, sink, self.header.write_times,
                self.budget_left if budgeted else None,
            )
        except DecodeBudgetError as exc:
            limit = budget_for(self.size)
            entry = "its pickled objects" if exc.entry is None else f"entry {exc.entry} of {count}"
            where = f"{entry} in frame {index} (the item at byte {exc.offset} of the frame's payload)"
            msg = budget_message("the file", self.size, limit, limit + exc.overdraft, where)
            msg += "; a file you trust loads with allow_pickle=True, which lifts the budget (so does sealing it)"
            raise _fail(msg, self.path, frame=index, offset=pos) from None
        except ValueError as exc:
            raise _fail(f"{exc} (offsets within the frame's payload)", self.path, frame=index, offset=pos) from None
        if budgeted:
            self.budget_left = left
        return live, expired

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def load_into(
    cache: Any,
    path: PathLike,
    *,
    merge: bool = False,
    allow_pickle: bool = False,
    require_sealed: Optional[bool] = None,
    progress: Optional[Progress] = None,
    newer: bool = False,
) -> int:
    """Load a snapshot into cache; see :meth:`Cache.load`. Returns the entries loaded.

    newer: with merge, a file's entry replaces the cache's only if it was not
    written before it (write times; see :meth:`Cache.from_s3`).
    """
    with _telemetry.span("load", path=os.fspath(path), merge=merge) as span:
        n = _load_into(cache, path, merge, allow_pickle, require_sealed, progress, newer)
        _telemetry.set_attributes(span, entries=n)
    _telemetry.count("entries", n, "load")
    return n


def _load_into(
    cache: Any,
    path: PathLike,
    merge: bool,
    allow_pickle: bool,
    require_sealed: Optional[bool],
    progress: Optional[Progress],
    newer: bool = False,
) -> int:
    keyring: Optional[Keyring] = getattr(cache, "_keyring", None)
    if require_sealed is None:
        require_sealed = keyring is not None
    with _Opened(path, keyring, need_key=True) as snap:
        if require_sealed and not snap.header.sealed:
            raise SnapshotError(
                f"{snap.path}: the snapshot is not sealed, and sealed files are required "
                f"({'the cache has a cipher key' if keyring is not None else 'require_sealed=True'}): anyone who can "
                "write the file can write an unsealed one. Pass require_sealed=False to load it anyway.",
                path=snap.path,
            )
        mode = UNPICKLE if snap.header.sealed or allow_pickle else REFUSE
        fresh = table_class(cache)()
        if cache.max_size is not None or cache.max_weight is not None:
            fresh._set_bound(cache.max_size, cache.max_weight, cache.weigher)  # the same bounds: swap needs them
        if cache._tracks_writes:
            fresh._track_writes()  # the file's write times (0 where it has none) survive the swap or merge
        core = _frames_for(fresh)
        now = now_ns()
        loaded = 0
        for frame in snap.frames():
            loaded += snap.decode(core, frame, now, mode, fresh)[0]
            if progress is not None:
                progress(snap.f.tell(), snap.size)
        if progress is not None:
            progress(snap.size, snap.size)
    if merge:
        core.merge(cache, fresh, newer)
    else:
        cache._swap(fresh)
    fresh.clear()  # the replaced entries are released here, with the cache already consistent
    return loaded


def inspect(path: PathLike, keyring: Optional[Keyring] = None, progress: Optional[Progress] = None) -> SnapshotInfo:
    """Read a whole snapshot without loading it, checking every frame it can.

    A sealed file is authenticated when keyring holds its key; without it,
    only the header is read (``authenticated`` stays False). Pickled values
    are counted, never unpickled.

    Raises:
        SnapshotError: the file is damaged or not a snapshot (DecryptionError
            too, for a sealed frame that does not open).
        OSError: the file can't be read.
    """
    return _inspect(path, keyring, progress, need_key=False)


def _inspect(path: PathLike, keyring: Optional[Keyring], progress: Optional[Progress], need_key: bool) -> SnapshotInfo:
    with _Opened(path, keyring, need_key=need_key) as snap:
        info = SnapshotInfo(path=snap.path, header=snap.header, file_size=snap.size)
        if snap.header.sealed and snap.aead is None:
            return info
        core = _selected_frames  # no table to match: the selected codec
        now = now_ns()
        for frame in snap.frames():
            live, expired = snap.decode(core, frame, now, OPAQUE, None)
            info.pickled += _read_uvarint(frame[3], 0, len(frame[3]))[0]
            info.frames += 1
            info.payload_bytes += len(frame[3])
            info.entries += live + expired
            info.live += live
            info.expired += expired
            if progress is not None:
                progress(snap.f.tell(), snap.size)
        if progress is not None:
            progress(snap.size, snap.size)
        info.authenticated = snap.header.sealed
        return info


def verify(path: PathLike, keyring: Optional[Keyring] = None, progress: Optional[Progress] = None) -> SnapshotInfo:
    """Check a snapshot's integrity (and, when sealed, its authenticity) in full.

    Raises:
        ConfigurationError: the file is sealed and keyring is None.
        SnapshotError, DecryptionError: the file is damaged, forged or not a
            snapshot, or sealed with a key the keyring lacks.
        OSError: the file can't be read.
    """
    return _inspect(path, keyring, progress, need_key=True)


# --------------------------------------------------------------------------- JSON


def _to_json(obj: Any) -> Any:
    """A JSON-ready form of a decoded value; types JSON lacks become one-key ``{"$type": ...}`` objects."""
    t = type(obj)
    if obj is None or t is bool or t is int or t is str:
        return obj
    if t is float:
        if math.isfinite(obj):
            return obj
        return {"$float": repr(obj)}
    if t is list or t is tuple:
        return [_to_json(x) for x in obj]
    if t is dict:
        if all(type(k) is str and not k.startswith("$") for k in obj):
            return {k: _to_json(v) for k, v in obj.items()}
        return {"$dict": [[_to_json(k), _to_json(v)] for k, v in obj.items()]}
    if t is bytes or t is bytearray:
        return {"$bytes": base64.b64encode(obj).decode("ascii")}
    if t is set or t is frozenset:
        return {"$set": [_to_json(x) for x in obj]}
    if t is datetime.datetime or t is datetime.date:
        return {"$" + t.__name__: obj.isoformat()}
    if t is datetime.timedelta:
        return {"$timedelta": obj.total_seconds()}
    if t is decimal.Decimal:
        return {"$decimal": str(obj)}
    if t is uuid.UUID:
        return {"$uuid": str(obj)}
    if t is Pickled:
        return {"$pickle": None if obj.data is None else base64.b64encode(obj.data).decode("ascii")}
    raise TypeError(f"no JSON form for {t.__qualname__}")


class _JsonWriter:
    """The JSON document of :func:`export_json`, written entry by entry."""

    def __init__(self, out: IO[str], created_ns: int, instance_id: str, sealed: bool) -> None:
        self.out = out
        self.written = 0
        created = json.dumps(_ns_to_datetime(created_ns).isoformat())
        out.write(
            f'{{"format": "godistcache-json", "version": 1, "created": {created}, "created_ns": {created_ns}, '
            f'"instance_id": {json.dumps(instance_id)}, "sealed": {json.dumps(sealed)}, "entries": ['
        )

    def entry(self, key: Any, value: Any, expires: int) -> None:
        entry = {
            "key": _to_json(key),
            "value": _to_json(value),
            "expires": _ns_to_datetime(expires).isoformat() if expires else None,
            "expires_ns": expires or None,
        }
        self.out.write(("\n  " if self.written == 0 else ",\n  ") + json.dumps(entry, ensure_ascii=False))
        self.written += 1

    def close(self) -> int:
        self.out.write("\n]}\n" if self.written else "]}\n")
        return self.written


def export_json(path: PathLike, out: IO[str], keyring: Optional[Keyring] = None, progress: Optional[Progress] = None) -> int:
    """Write a snapshot's live entries to out as one JSON document. Returns the entries written.

    The document is ``{"format": "godistcache-json", "version": 1, "created": ...,
    "instance_id": ..., "entries": [{"key": K, "value": V, "expires": ISO-8601 UTC or
    null, "expires_ns": int or null}, ...]}``. str, int, float, bool, None,
    lists, tuples (as arrays) and dicts with str keys are plain JSON; other
    types are one-key objects: ``$bytes`` (base64, also bytearray), ``$set``,
    ``$dict`` (as [key, value] pairs, for keys that are not str),
    ``$datetime``/``$date`` (ISO 8601), ``$timedelta`` (seconds),
    ``$decimal`` and ``$uuid`` (strings), ``$float`` (nan/inf) and
    ``{"$pickle": null}`` for an object saved with ``allow_pickle=True``
    (never unpickled; its bytes are part of its frame's shared pickle). Values
    sealed with ``put_crypt`` stay sealed (``$bytes``). Entries are written
    as they are read: memory stays at one frame.

    Raises:
        ConfigurationError: the file is sealed and keyring is None.
        SnapshotError, DecryptionError: as :func:`verify`. The document written so
            far is then incomplete: write to a temporary file if that matters.
    """
    with _Opened(path, keyring, need_key=True) as snap:
        h = snap.header
        writer = _JsonWriter(out, h.created_ns, h.instance_id, h.sealed)
        core = _selected_frames  # no table to match: the selected codec
        now = now_ns()
        sink: list[Any] = []
        for frame in snap.frames():
            snap.decode(core, frame, now, OPAQUE, sink)
            for key, value, expires in sink:
                writer.entry(key, value, expires)
            sink.clear()
            if progress is not None:
                progress(snap.f.tell(), snap.size)
        if progress is not None:
            progress(snap.size, snap.size)
        return writer.close()


def dump_json(table: Any, out: IO[str], instance_id: str = "") -> int:
    """Write the live entries of a cache to out as the JSON document of :func:`export_json`.

    Entries are read first (one consistent cut, as :meth:`Cache.save` takes),
    then written. Returns the number written.

    Raises:
        TypeError: a key or value has no JSON form (a type the value codec
            does not know); nothing has been written then.
    """
    now = now_ns()
    refs = _frames_for(table).collect(table, now)
    for i in range(len(refs)):
        key, value, _, _ = refs[i]
        try:
            _to_json(key)
            _to_json(value)
        except TypeError as exc:
            raise TypeError(f"entry {i} (key of type {type(key).__qualname__}): {exc}") from None
    writer = _JsonWriter(out, now, instance_id, False)
    for i in range(len(refs)):
        writer.entry(*refs[i][:3])
    return writer.close()
