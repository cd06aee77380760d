"""The snapshot file format's reader and writer: header, frames, integrity, authenticity.

The format is specified in ``docs/snapshot-format.md``. This module holds
what every snapshot operation shares: the constants, the header, the frame
writer and checked frame reader, the open snapshot that decodes frames, and
the choice of frame codec (``_snapshot_c`` or its twin ``_snapshot_py``).
The public faces are :mod:`godistcache.snapshot` (reading a file without a
cache) and the cache's own methods (``godistcache._snapshot_methods``).
"""

from __future__ import annotations

import datetime
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any, Optional, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._core import _frames_py, core_of
from ._core import frames as selected_frames
from ._core._budget import DecodeBudgetError, budget_for, budget_message
from ._core.frames import UNPICKLE, crc32  # the compiled one keeps the GIL (see _frames_c.pyx)
from ._files import open_regular
from .crypto import Keyring
from .errors import ConfigurationError, SnapshotAuthenticationError, SnapshotError

__all__ = [
    "CODEC_V1",
    "FLAG_BASE",
    "FLAG_DELTA",
    "FLAG_SEALED",
    "FLAG_WRITE_TIMES",
    "FORMAT_VERSION",
    "FRAME_END",
    "FRAME_ENTRIES",
    "FRAME_ORIGIN",
    "FRAME_SYNC",
    "FRAME_TOMBS",
    "FRAME_TARGET",
    "KDF_INFO",
    "MAGIC",
    "MAX_FRAME",
    "MAX_INSTANCE_ID",
    "SEGMENT_VERSION",
    "SUFFIX",
    "SYNC",
    "SyncInfo",
    "END",
    "FrameWriter",
    "Header",
    "OpenedSnapshot",
    "PathLike",
    "build_header",
    "created_ns",
    "fail",
    "frame_codec",
    "iter_frames",
    "ns_to_datetime",
    "read_header",
    "selected_frames",
]

#: The first 8 bytes of every snapshot (as PNG's: a high byte, CR LF, ^Z, LF catch text-mode mangling).
MAGIC = b"\x89GDC\r\n\x1a\n"
#: The file format version of snapshots (``save``, the master); version 1 files load everywhere.
FORMAT_VERSION = 1
#: The version of sync segments (bases and deltas): version 1 plus the frames below. Both are read.
SEGMENT_VERSION = 2
#: Suffix of snapshot files, by convention.
SUFFIX = ".godistcache"

FLAG_SEALED = 0x1
FLAG_WRITE_TIMES = 0x2
FLAG_BASE = 0x4  # version 2: a base segment (every entry its writer holds)
FLAG_DELTA = 0x8  # version 2: a delta segment (its writer's changes since an earlier segment)
CODEC_V1 = 1
FRAME_ENTRIES = 1
FRAME_END = 2
FRAME_SYNC = 3  # version 2, first frame: the segment's place in its writer's chain (SYNC struct + floor origin)
FRAME_ORIGIN = 4  # version 2: the instance id the entries and tombstones after it were written by
FRAME_TOMBS = 5  # version 2: tombstones, encoded as entries (value None, no expiry, the delete's stamp)
#: FRAME_SYNC's payload: seq, prev, hlc (no stamp in the file is later; stamps are written below it),
#: since (a delta holds the changes stamped after it), floor (the stamp of the latest clear, 0: none);
#: the floor's instance id follows, in UTF-8.
SYNC = struct.Struct("<QQqqq")
#: An entries frame is closed once its payload reaches this many bytes.
FRAME_TARGET = 128 * 1024
#: No frame payload is larger (one entry bigger than this can't be saved).
MAX_FRAME = (1 << 31) - 1
MAX_INSTANCE_ID = 255
KDF_INFO = b"godistcache snapshot v1"

_HEADER = struct.Struct("<8sHHBBHqQ4s32s")
_FRAME = struct.Struct("<BII")
_CRC = struct.Struct("<I")
#: The end frame's payload: entries in the file, entries frames.
END = struct.Struct("<QQ")
_MIN_ENTRY = 3  # key item, value item, expiry: at least a byte each
_TAG = 16
_NO_KEY_ID = bytes(4)

PathLike = Union[str, "os.PathLike[str]"]


def frame_codec(table: Any) -> ModuleType:
    """The frame codec for table: the selected one, unless table is pure-Python (the compiled codec needs C entries).

    Reading without a table (inspect, export) takes the selected codec, ``selected_frames``.
    """
    return _frames_py if core_of(table) == "py" else selected_frames


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
    def segment(self) -> Optional[str]:
        """ "base" or "delta" for a sync segment, None for a snapshot."""
        if self.flags & FLAG_BASE:
            return "base"
        return "delta" if self.flags & FLAG_DELTA else None

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def created(self) -> datetime.datetime:
        return ns_to_datetime(self.created_ns)


@dataclass(frozen=True)
class SyncInfo:
    """A segment's FRAME_SYNC: its place in its writer's chain (see ``docs/snapshot-format.md``)."""

    seq: int
    prev: int
    hlc: int
    since: int
    floor: int
    floor_origin: str


def ns_to_datetime(ns: int) -> datetime.datetime:
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return epoch + datetime.timedelta(microseconds=ns // 1000)


def fail(msg: str, path: str, frame: Optional[int] = None, offset: Optional[int] = None) -> SnapshotError:
    where = []
    if frame is not None:
        where.append(f"frame {frame}")
    if offset is not None:
        where.append(f"byte {offset}")
    suffix = f" ({', '.join(where)})" if where else ""
    return SnapshotError(f"{path}: {msg}{suffix}", path=path, frame=frame, offset=offset)


# --------------------------------------------------------------------------- write


def build_header(
    created_ns: int,
    count: int,
    key_id: Optional[bytes],
    salt: bytes,
    instance_id: str,
    write_times: bool = False,
    segment: int = 0,
) -> bytes:
    """A header; segment is FLAG_BASE or FLAG_DELTA for a version 2 sync segment, 0 for a snapshot."""
    ident = instance_id.encode("utf-8")
    if len(ident) > MAX_INSTANCE_ID:
        raise ValueError(f"instance_id must be at most {MAX_INSTANCE_ID} bytes of UTF-8, got {len(ident)}")
    flags = (FLAG_SEALED if key_id is not None else 0) | (FLAG_WRITE_TIMES if write_times else 0) | segment
    version = SEGMENT_VERSION if segment else FORMAT_VERSION
    head = (
        _HEADER.pack(MAGIC, version, flags, CODEC_V1, len(ident), 0, created_ns, count, key_id or _NO_KEY_ID, salt)
        + ident
    )
    return head + _CRC.pack(crc32(head))


class FrameWriter:
    """Frames onto a binary file: CRC-chained, or sealed when given an AEAD."""

    def __init__(self, f: IO[bytes], header: bytes, aead: Optional[AESGCM]) -> None:
        self.f = f
        self.header = header
        self.aead = aead
        self.crc = crc32(header[:-4])
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
            self.crc = crc32(payload, crc32(head, self.crc))
            self.f.write(head)
            self.f.write(payload)
            self.f.write(_CRC.pack(self.crc))
            self.written += len(head) + len(payload) + 4
        self.index += 1


# --------------------------------------------------------------------------- read


def read_header(f: IO[bytes], path: str, file_size: int) -> Header:
    """Read and check the header at the start of f."""
    raw = f.read(_HEADER.size)
    if raw[: len(MAGIC)] != MAGIC[: len(raw)] or len(raw) < len(MAGIC):
        raise fail("not a godistcache snapshot (bad magic)", path, offset=0)
    if len(raw) < _HEADER.size:
        raise fail(f"truncated header: {len(raw)} bytes, a header has at least {_HEADER.size + 4}", path, offset=0)
    _, version, flags, codec, idlen, reserved, created, count, kid, salt = _HEADER.unpack(raw)
    if version not in (FORMAT_VERSION, SEGMENT_VERSION):
        raise fail(
            f"unsupported format version {version}; this godistcache reads versions {FORMAT_VERSION} and "
            f"{SEGMENT_VERSION}",
            path,
            offset=8,
        )
    rest = f.read(idlen + 4)
    if len(rest) < idlen + 4:
        raise fail(
            f"truncated header: {len(raw) + len(rest)} bytes, this one declares {_HEADER.size + idlen + 4}",
            path,
            offset=0,
        )
    raw += rest
    (crc,) = _CRC.unpack_from(raw, len(raw) - 4)
    if crc32(raw[:-4]) != crc:
        raise fail("header checksum mismatch: the header is damaged", path, offset=0)
    known = FLAG_SEALED | FLAG_WRITE_TIMES | (FLAG_BASE | FLAG_DELTA if version == SEGMENT_VERSION else 0)
    if flags & ~known:
        raise fail(f"unsupported flags 0x{flags:04x}", path, offset=10)
    if version == SEGMENT_VERSION and bin(flags & (FLAG_BASE | FLAG_DELTA)).count("1") != 1:
        raise fail("a version 2 file is a segment: exactly one of the base and delta flags is set", path, offset=10)
    if codec != CODEC_V1:
        raise fail(f"unsupported codec {codec}", path, offset=12)
    if reserved:
        raise fail("reserved header field is not zero", path, offset=14)
    if created < 0:
        raise fail(f"creation time {created} is negative", path, offset=16)
    sealed = bool(flags & FLAG_SEALED)
    if sealed == (kid == _NO_KEY_ID):
        raise fail("key id and sealed flag disagree", path, offset=32)
    if count > max(file_size - len(raw), 0) // _MIN_ENTRY:
        raise fail(f"entry count {count} is more than a file of {file_size} bytes can hold", path, offset=24)
    try:
        instance_id = raw[_HEADER.size : _HEADER.size + idlen].decode("utf-8")
    except UnicodeDecodeError:
        raise fail("instance id is not UTF-8", path, offset=_HEADER.size) from None
    return Header(version, flags, codec, created, count, kid if sealed else None, salt, instance_id, raw)


def sync_frame(info: SyncInfo) -> bytes:
    """FRAME_SYNC's payload."""
    return SYNC.pack(info.seq, info.prev, info.hlc, info.since, info.floor) + info.floor_origin.encode("utf-8")


def parse_sync(payload: bytes, path: str, index: int, pos: int) -> SyncInfo:
    """A checked FRAME_SYNC payload."""
    if not SYNC.size <= len(payload) <= SYNC.size + MAX_INSTANCE_ID:
        raise fail(f"a sync frame of {len(payload)} bytes", path, frame=index, offset=pos)
    seq, prev, hlc, since, floor = SYNC.unpack_from(payload)
    try:
        floor_origin = payload[SYNC.size :].decode("utf-8")
    except UnicodeDecodeError:
        raise fail("the sync frame's floor origin is not UTF-8", path, frame=index, offset=pos) from None
    if not (0 < seq and 0 <= prev < seq and hlc >= 0 and -1 <= since <= hlc and 0 <= floor <= hlc):
        raise fail(
            f"an inconsistent sync frame (seq {seq}, prev {prev}, hlc {hlc}, since {since}, floor {floor})",
            path,
            frame=index,
            offset=pos,
        )
    if bool(floor) != bool(floor_origin):
        raise fail("the sync frame's floor and its origin disagree", path, frame=index, offset=pos)
    return SyncInfo(seq, prev, hlc, since, floor, floor_origin)


def created_ns(path: PathLike) -> int:
    """When a snapshot file's entries were cut (Unix ns), read from its checked header."""
    with open_regular(path) as f:
        return read_header(f, os.fspath(path), os.fstat(f.fileno()).st_size).created_ns


def iter_frames(
    f: IO[bytes], path: str, header: Header, file_size: int, aead: Optional[AESGCM]
) -> Iterator[tuple[int, int, int, bytes, int]]:
    """Check and yield (frame number, kind, count, payload, offset) for every frame but the end frame.

    Stops after the end frame, having checked its totals and that nothing follows.
    Only a segment (version 2) has frames other than entries; its first is FRAME_SYNC.
    """
    v2 = header.version == SEGMENT_VERSION
    pos = header.size
    crc = crc32(header.raw[:-4])
    trailer = 0 if aead is not None else 4
    index = 0
    entries = 0
    while True:
        left = file_size - pos
        if left <= 0:
            raise fail("truncated: the file ends before its end frame", path, frame=index, offset=pos)
        head = f.read(_FRAME.size)
        if len(head) < _FRAME.size:
            raise fail(f"truncated frame head: {len(head)} of {_FRAME.size} bytes", path, frame=index, offset=pos)
        kind, length, count = _FRAME.unpack(head)
        if not (kind == FRAME_ENTRIES or kind == FRAME_END or (v2 and kind in (FRAME_SYNC, FRAME_ORIGIN, FRAME_TOMBS))):
            raise fail(f"unknown frame kind {kind}", path, frame=index, offset=pos)
        if v2 and (kind == FRAME_SYNC) != (index == 0):
            raise fail("a segment's first frame, and only it, is its sync frame", path, frame=index, offset=pos)
        if length > left - _FRAME.size - trailer:
            raise fail(
                f"truncated frame: {length} bytes declared, {max(left - _FRAME.size - trailer, 0)} remain",
                path,
                frame=index,
                offset=pos,
            )
        body = f.read(length)
        if len(body) < length:
            raise fail(f"truncated frame: {length} bytes declared, {len(body)} read", path, frame=index, offset=pos)
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
            crc = crc32(body, crc32(head, crc))
            if len(stored) < 4 or _CRC.unpack(stored)[0] != crc:
                raise fail(
                    "checksum mismatch: the frame is damaged, or frames were dropped or reordered",
                    path,
                    frame=index,
                    offset=pos,
                )
            payload = body
        if kind == FRAME_END:
            if count != 0 or len(payload) != END.size:
                raise fail("malformed end frame", path, frame=index, offset=pos)
            total, nframes = END.unpack(payload)
            if total != entries or total != header.entry_count or nframes != index:
                raise fail(
                    f"entry totals disagree: header {header.entry_count}, end frame {total} in {nframes} frames, "
                    f"found {entries} in {index}",
                    path,
                    frame=index,
                    offset=pos,
                )
            end = pos + _FRAME.size + length + trailer
            if end != file_size or f.read(1):
                raise fail(f"{file_size - end} bytes after the end frame", path, frame=index, offset=end)
            return
        if kind == FRAME_SYNC or kind == FRAME_ORIGIN:
            if count != 1:
                raise fail(f"frame kind {kind} must count 1, not {count}", path, frame=index, offset=pos)
            yield index, kind, count, payload, pos
            index += 1
            pos += _FRAME.size + length + trailer
            continue
        if count == 0 or count > len(payload) // _MIN_ENTRY:
            raise fail(
                f"entry count {count} does not fit a payload of {len(payload)} bytes", path, frame=index, offset=pos
            )
        if kind == FRAME_TOMBS:
            yield index, kind, count, payload, pos
            index += 1
            pos += _FRAME.size + length + trailer
            continue
        entries += count
        if entries > header.entry_count:
            raise fail(f"more entries than the header's {header.entry_count}", path, frame=index, offset=pos)
        yield index, kind, count, payload, pos
        index += 1
        pos += _FRAME.size + length + trailer


class OpenedSnapshot:
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
                    self.aead = keyring.derive(kid, self.header.salt, KDF_INFO)
                except Exception as exc:  # DecryptionError: the keyring lacks that key
                    raise type(exc)(f"{self.path}: {exc}") from None
        except BaseException:
            self.f.close()
            raise

    #: A segment's sync frame, once read (the first frame).
    sync: Optional[SyncInfo] = None

    def frames(self, meta: bool = False) -> Iterator[tuple[int, int, int, bytes, int]]:
        """The checked frames: entries frames only, or with meta every frame but the end (a segment's too).

        A segment's sync frame is parsed on the way (:attr:`sync`), whichever are yielded.
        """
        for frame in iter_frames(self.f, self.path, self.header, self.size, self.aead):
            kind = frame[1]
            if kind == FRAME_SYNC:
                self.sync = parse_sync(frame[3], self.path, frame[0], frame[4])
            if meta or kind == FRAME_ENTRIES:
                yield frame

    def origin(self, frame: tuple[int, int, int, bytes, int]) -> str:
        """The instance id a FRAME_ORIGIN names."""
        index, _, _, payload, pos = frame
        if not 0 < len(payload) <= MAX_INSTANCE_ID:
            raise fail(
                f"an origin of {len(payload)} bytes (1 to {MAX_INSTANCE_ID})", self.path, frame=index, offset=pos
            )
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            raise fail("an origin that is not UTF-8", self.path, frame=index, offset=pos) from None

    #: Bytes of objects the frames decoded so far left of the file's decode budget.
    budget_left: Optional[int] = None

    def decode(
        self, core: ModuleType, frame: tuple[int, int, int, bytes, int], now: int, mode: int, sink: Any
    ) -> tuple[int, int]:
        index, _, count, payload, pos = frame
        # Data is trusted when sealed (only a key holder made it) or when the caller allows pickle (which may
        # run code anyway); the rest may cost only so much memory per byte of file (the codec's decode budget).
        budgeted = not self.header.sealed and mode != UNPICKLE
        if budgeted and self.budget_left is None:
            self.budget_left = budget_for(self.size)
        try:
            live, expired, left = core.decode_frame(
                payload,
                count,
                self.header.created_ns,
                now,
                mode,
                sink,
                self.header.write_times,
                self.budget_left if budgeted else None,
                -1 if self.sync is None else self.sync.hlc,
            )
        except DecodeBudgetError as exc:
            limit = budget_for(self.size)
            entry = "its pickled objects" if exc.entry is None else f"entry {exc.entry} of {count}"
            where = f"{entry} in frame {index} (the item at byte {exc.offset} of the frame's payload)"
            msg = budget_message("the file", self.size, limit, limit + exc.overdraft, where)
            msg += "; a file you trust loads with allow_pickle=True, which lifts the budget (so does sealing it)"
            raise fail(msg, self.path, frame=index, offset=pos) from None
        except ValueError as exc:
            raise fail(f"{exc} (offsets within the frame's payload)", self.path, frame=index, offset=pos) from None
        if budgeted:
            self.budget_left = left
        return live, expired

    def __enter__(self) -> OpenedSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()
