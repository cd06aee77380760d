"""Snapshot files (``.godistcache``): one authenticated binary file per cache.

A cache writes and reads them with :meth:`Cache.save`, :meth:`Cache.load` and
:meth:`Cache.from_file`; :func:`inspect`, :func:`verify` and :func:`export_json`
read a file without loading it (and never unpickle). The format: ``docs/snapshot-format.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, Optional

from ._core._codec_py import read_uvarint
from ._core.frames import OPAQUE
from ._core.table import now_ns
from ._progress import Progress
from ._snapshot_file import FORMAT_VERSION, MAGIC, SUFFIX, Header, OpenedSnapshot, PathLike, created_ns, selected_frames
from ._snapshot_json import JsonWriter
from .crypto import Keyring

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "SUFFIX",
    "Header",
    "Progress",
    "SnapshotInfo",
    "created_ns",
    "export_json",
    "inspect",
    "verify",
]


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
    with OpenedSnapshot(path, keyring, need_key=need_key) as snap:
        info = SnapshotInfo(path=snap.path, header=snap.header, file_size=snap.size)
        if snap.header.sealed and snap.aead is None:
            return info
        core = selected_frames  # no table to match: the selected codec
        now = now_ns()
        for frame in snap.frames():
            live, expired = snap.decode(core, frame, now, OPAQUE, None)
            info.pickled += read_uvarint(frame[3], 0, len(frame[3]))[0]
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


def export_json(
    path: PathLike, out: IO[str], keyring: Optional[Keyring] = None, progress: Optional[Progress] = None
) -> int:
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
    with OpenedSnapshot(path, keyring, need_key=True) as snap:
        h = snap.header
        writer = JsonWriter(out, h.created_ns, h.instance_id, h.sealed)
        core = selected_frames  # no table to match: the selected codec
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
