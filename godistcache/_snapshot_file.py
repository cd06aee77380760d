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
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any, Optional, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._core import _frames_py, core_of
from ._core import frames as selected_frames
from ._core._budget import DecodeBudgetError, budget_for, budget_message
from ._core.frames import UNPICKLE
from ._files import open_regular
from .crypto import Keyring
from .errors import ConfigurationError, SnapshotAuthenticationError, SnapshotError

__all__ = [
    "CODEC_V1",
    "FLAG_SEALED",
    "FLAG_WRITE_TIMES",
    "FORMAT_VERSION",
    "FRAME_END",
    "FRAME_ENTRIES",
    "FRAME_TARGET",
    "KDF_INFO",
    "MAGIC",
    "MAX_FRAME",
    "MAX_INSTANCE_ID",
    "SUFFIX",
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
    def size(self) -> int:
        return len(self.raw)

    @property
    def created(self) -> datetime.datetime:
        return ns_to_datetime(self.created_ns)


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
    created_ns: int, count: int, key_id: Optional[bytes], salt: bytes, instance_id: str, write_times: bool = False
) -> bytes:
    ident = instance_id.encode("utf-8")
    if len(ident) > MAX_INSTANCE_ID:
        raise ValueError(f"instance_id must be at most {MAX_INSTANCE_ID} bytes of UTF-8, got {len(ident)}")
    flags = (FLAG_SEALED if key_id is not None else 0) | (FLAG_WRITE_TIMES if write_times else 0)
    head = (
        _HEADER.pack(
            MAGIC, FORMAT_VERSION, flags, CODEC_V1, len(ident), 0, created_ns, count, key_id or _NO_KEY_ID, salt
        )
        + ident
    )
    return head + _CRC.pack(zlib.crc32(head))


class FrameWriter:
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


# --------------------------------------------------------------------------- read


def read_header(f: IO[bytes], path: str, file_size: int) -> Header:
    """Read and check the header at the start of f."""
    raw = f.read(_HEADER.size)
    if raw[: len(MAGIC)] != MAGIC[: len(raw)] or len(raw) < len(MAGIC):
        raise fail("not a godistcache snapshot (bad magic)", path, offset=0)
    if len(raw) < _HEADER.size:
        raise fail(f"truncated header: {len(raw)} bytes, a header has at least {_HEADER.size + 4}", path, offset=0)
    _, version, flags, codec, idlen, reserved, created, count, kid, salt = _HEADER.unpack(raw)
    if version != FORMAT_VERSION:
        raise fail(
            f"unsupported format version {version}; this godistcache reads version {FORMAT_VERSION}", path, offset=8
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
    if zlib.crc32(raw[:-4]) != crc:
        raise fail("header checksum mismatch: the header is damaged", path, offset=0)
    if flags & ~(FLAG_SEALED | FLAG_WRITE_TIMES):
        raise fail(f"unsupported flags 0x{flags:04x}", path, offset=10)
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


def created_ns(path: PathLike) -> int:
    """When a snapshot file's entries were cut (Unix ns), read from its checked header."""
    with open_regular(path) as f:
        return read_header(f, os.fspath(path), os.fstat(f.fileno()).st_size).created_ns


def iter_frames(
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
            raise fail("truncated: the file ends before its end frame", path, frame=index, offset=pos)
        head = f.read(_FRAME.size)
        if len(head) < _FRAME.size:
            raise fail(f"truncated frame head: {len(head)} of {_FRAME.size} bytes", path, frame=index, offset=pos)
        kind, length, count = _FRAME.unpack(head)
        if kind != FRAME_ENTRIES and kind != FRAME_END:
            raise fail(f"unknown frame kind {kind}", path, frame=index, offset=pos)
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
            crc = zlib.crc32(body, zlib.crc32(head, crc))
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
        if count == 0 or count > len(payload) // _MIN_ENTRY:
            raise fail(
                f"entry count {count} does not fit a payload of {len(payload)} bytes", path, frame=index, offset=pos
            )
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

    def frames(self) -> Iterator[tuple[int, int, int, bytes, int]]:
        return iter_frames(self.f, self.path, self.header, self.size, self.aead)

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
