"""Sync segments: a syncing cache's changes (a delta) or its whole state (a base), as one file.

A segment is a snapshot file of version 2 (``docs/snapshot-format.md``): the
same header and frames, sealed when the cache has a key, plus a first
FRAME_SYNC (the segment's place in its writer's chain and the clock's
high-water mark), FRAME_ORIGIN frames naming the instance that wrote the
entries and tombstones after them, and FRAME_TOMBS frames of deletes. Every
entry carries its stamp (the writer's hybrid logical clock), so a reader
merges it by last-writer-wins (:func:`apply_segment`).

:func:`write_segment` cuts the table once: a delta holds the entries written
here stamped after ``since`` and the tombstones and clear made here after it;
a base holds every live entry (whatever its origin), every tombstone and the
floor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from . import _snapshot_file
from ._contract import CoreTable
from ._core import table_class
from ._core.frames import REFUSE, UNPICKLE
from ._core.table import now_ns
from ._files import atomic_write
from ._snapshot_file import (
    END,
    FLAG_BASE,
    FLAG_DELTA,
    FRAME_END,
    FRAME_ENTRIES,
    FRAME_ORIGIN,
    FRAME_SYNC,
    FRAME_TOMBS,
    KDF_INFO,
    MAX_FRAME,
    FrameWriter,
    OpenedSnapshot,
    PathLike,
    SyncInfo,
    build_header,
    fail,
    frame_codec,
    sync_frame,
)
from .crypto import Keyring
from .errors import SnapshotError

__all__ = ["BASE_CHUNK", "MAX_SEGMENT_ORIGINS", "Applied", "Written", "apply_segment", "read_segment", "write_segment"]

#: Most instances one segment may name (its entries' and tombstones' origins): a forged file can't flood a table's.
MAX_SEGMENT_ORIGINS = 4096
#: A base collects the entries this many slots at a time, other threads running in between (about 2 ms each).
BASE_CHUNK = 1 << 17


@dataclass(frozen=True)
class Written:
    """What :func:`write_segment` wrote."""

    entries: int
    tombstones: int
    hlc: int  # no stamp in the file is later
    cut: int  # every local change stamped up to it is in the file (a delta: those after since)
    floor: bool  # the file carries a clear
    size: int  # bytes


@dataclass
class Applied:
    """What :func:`apply_segment` merged: counts of a segment's contents and what they did."""

    info: SyncInfo
    kind: str
    instance_id: str
    entries: int = 0  # entries read
    merged: int = 0  # entries stored (newer than what the cache knew)
    tombstones: int = 0  # tombstones read
    deleted: int = 0  # entries they (and the floor) removed


def write_segment(
    table: CoreTable,
    path: PathLike,
    *,
    kind: str,
    seq: int,
    prev: int,
    since: int,
    instance_id: str,
    keyring: Optional[Keyring] = None,
    allow_pickle: bool = False,
    refs: Any = None,
) -> Written:
    """Write a base (kind "base") or a delta ("delta", the local changes stamped after since) of a syncing table.

    refs: a base's entries, collected by the caller (``collect(table, now, -1, BASE_CHUNK)``),
    who releases them; None collects them here (a delta in one cut, a base in chunks).

    Raises:
        TypeError, ValueError: an entry does not encode (the file is not written).
        OSError: the file could not be written.
    """
    if kind not in ("base", "delta"):
        raise ValueError(f"kind must be 'base' or 'delta', got {kind!r}")
    local = table._syncs
    if local is None:
        raise ValueError("only a syncing table writes segments (see _track_changes)")
    core = frame_codec(table)
    now = now_ns()
    delta = kind == "delta"
    given = refs is not None
    if refs is None:
        refs = core.collect(table, now, since, 0) if delta else core.collect(table, now, -1, BASE_CHUNK)
    hlc = refs.hlc
    # The tombstones and floor of the same cut: none stamped after hlc (they go in the next segment).
    tombs = table._tombstones(since, hlc) if delta else [t for t in table._tombstones() if t[1] <= hlc]
    floor = table._floor_of()
    if floor is not None and (floor[0] > hlc or (delta and (floor[1] != local or floor[0] <= since))):
        floor = None
    info = SyncInfo(seq, prev, hlc, since if delta else -1, floor[0] if floor else 0, floor[1] if floor else "")
    # Entries by origin: (start, stop) ranges of refs, ordered by origin (a delta's are all this instance's).
    groups = {local: (0, len(refs))} if delta else {o: (lo, hi) for o, lo, hi in refs.group()}
    tomb_groups: dict[str, list[tuple[Any, None, int, int]]] = {}
    for key, stamp, origin in tombs:
        tomb_groups.setdefault(origin, []).append((key, None, 0, stamp))
    n = len(refs)
    salt = os.urandom(32)
    header = build_header(
        now,
        n,
        keyring.newest_id if keyring is not None else None,
        salt,
        instance_id,
        True,
        FLAG_DELTA if delta else FLAG_BASE,
    )
    aead = keyring.derive(None, salt, KDF_INFO) if keyring is not None else None
    target = os.path.abspath(os.fspath(path))
    with atomic_write(target, "wb", buffering=1 << 20) as f:
        f.write(header)
        out = FrameWriter(f, header, aead)
        out.frame(FRAME_SYNC, 1, sync_frame(info))
        for origin in list(groups) + [o for o in tomb_groups if o not in groups]:
            out.frame(FRAME_ORIGIN, 1, origin.encode("utf-8"))
            if origin in groups:
                lo, hi = groups[origin]
                _frames(out, core, refs, lo, hi, FRAME_ENTRIES, now, hlc, allow_pickle)
            if origin in tomb_groups:
                tombs_refs = core.refs_of(tomb_groups[origin])
                _frames(out, core, tombs_refs, 0, len(tombs_refs), FRAME_TOMBS, now, hlc, allow_pickle)
        out.frame(FRAME_END, 0, END.pack(n, out.index))
        size = out.written
    if not given:
        refs.release()
    return Written(n, len(tombs), hlc, refs.hlc0, floor is not None, size)


def _frames(
    out: FrameWriter, core: Any, refs: Any, start: int, stop: int, kind: int, now: int, hlc: int, allow_pickle: bool
) -> None:
    done = start
    while done < stop:
        payload, k = core.encode_frame(refs, done, _snapshot_file.FRAME_TARGET, now, allow_pickle, True, hlc, stop)
        if len(payload) > MAX_FRAME:
            raise ValueError(f"entry {done}: larger than a frame can hold ({len(payload)} > {MAX_FRAME} bytes)")
        out.frame(kind, k, payload)
        done += k


@dataclass
class Segment:
    """A segment read and checked whole, not yet merged: entries and tombstones by origin, the floor."""

    info: SyncInfo
    kind: str
    instance_id: str
    entries: dict[str, Any]  # origin -> a table of its entries (with their stamps)
    tombstones: list[tuple[Any, int, str]]  # (key, stamp, origin)


def read_segment(
    table: CoreTable,
    path: PathLike,
    *,
    allow_pickle: bool = False,
    require_sealed: Optional[bool] = None,
    expect: Optional[tuple[str, int, str]] = None,
) -> Segment:
    """Read and check a whole segment for table (its keyring opens it), merging nothing.

    expect: (instance id, seq, kind) the object's name says: the file must agree.

    Raises:
        SnapshotError: the file is damaged, forged, not a segment, not what
            its name says, or refused (pickle, unsealed while sealed files are required).
        DecryptionError, ConfigurationError: as for :meth:`Cache.load`.
    """
    keyring: Optional[Keyring] = getattr(table, "_keyring", None)
    if require_sealed is None:
        require_sealed = keyring is not None
    cls = table_class(table)
    with OpenedSnapshot(path, keyring, need_key=True) as snap:
        head = snap.header
        if head.segment is None or not head.write_times:
            raise fail("not a sync segment (a snapshot: load it with Cache.load)", snap.path)
        if require_sealed and not head.sealed:
            raise SnapshotError(
                f"{snap.path}: the segment is not sealed, and sealed files are required "
                f"({'the cache has a cipher key' if keyring is not None else 'require_sealed=True'})",
                path=snap.path,
            )
        mode = UNPICKLE if head.sealed or allow_pickle else REFUSE
        core = frame_codec(table)
        now = now_ns()
        origin = head.instance_id
        entries: dict[str, Any] = {}
        tombs: list[tuple[Any, int, str]] = []
        seen = {origin}
        for frame in snap.frames(meta=True):
            kind = frame[1]
            if kind == FRAME_ORIGIN:
                origin = snap.origin(frame)
                seen.add(origin)
                if len(seen) > MAX_SEGMENT_ORIGINS:
                    raise fail(f"more than {MAX_SEGMENT_ORIGINS} origins", snap.path, frame=frame[0], offset=frame[4])
            elif kind == FRAME_ENTRIES or kind == FRAME_TOMBS:
                sink = entries.get(origin) if kind == FRAME_ENTRIES else None
                if sink is None:
                    sink = cls()
                    sink._track_writes()
                    if kind == FRAME_ENTRIES:
                        entries[origin] = sink
                snap.decode(core, frame, now, mode, sink)
                if kind == FRAME_TOMBS:
                    tombs.extend((key, stamp, origin) for key, _, _, stamp in sink._iter(4))
        info = snap.sync
        assert info is not None  # iter_frames requires a segment's first frame to be its sync frame
        if expect is not None and (head.instance_id, info.seq, head.segment) != expect:
            raise fail(
                f"the file is {head.segment} {info.seq} of {head.instance_id!r}, its name says {expect[2]} "
                f"{expect[1]} of {expect[0]!r}",
                snap.path,
            )
        return Segment(info, head.segment, head.instance_id, entries, tombs)


def apply_segment(table: CoreTable, segment: Segment) -> Applied:
    """Merge a segment read by :func:`read_segment` into a syncing table: last writer wins.

    Raises:
        SnapshotError: the segment names instances the table can't take on (more than it tells apart);
            nothing of it is merged.
    """
    core = frame_codec(table)
    origins = [*segment.entries, *(o for _, _, o in segment.tombstones)]
    if segment.info.floor:
        origins.append(segment.info.floor_origin)
    try:
        table._add_origins(origins)  # type: ignore[attr-defined]
    except ValueError as exc:
        raise SnapshotError(f"{segment.kind} {segment.info.seq} of {segment.instance_id!r}: {exc}") from None
    done = Applied(segment.info, segment.kind, segment.instance_id)
    info = segment.info
    if info.floor:
        done.deleted += table._merge_floor(info.floor, info.floor_origin)
    for key, stamp, origin in segment.tombstones:
        done.tombstones += 1
        done.deleted += bool(table._merge_tomb(key, stamp, origin))
    for origin, entries in segment.entries.items():
        stored, refused = core.merge_sync(table, entries, origin)
        done.entries += stored + refused
        done.merged += stored
        entries.clear()
    return done
