"""Snapshot files, as a cache uses them: ``save``, ``load``, ``export_json`` and ``from_file``.

:class:`SnapshotMethods` is the feature's mixin, which ``Cache`` inherits;
:func:`save_table` and :func:`load_into` are its drivers (``sync.py`` merges the
snapshots of several instances with ``load_into(..., newer=True)``). The file
format itself is ``godistcache._snapshot_file`` (spec: ``docs/snapshot-format.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any, Optional, TypeVar

from . import _snapshot_file, _telemetry
from ._contract import CacheContract, CipherKeys, CoreTable
from ._core import table_class
from ._core.frames import REFUSE, UNPICKLE
from ._core.table import TTL
from ._env import default_instance_id
from ._files import atomic_write
from ._progress import Progress
from ._snapshot_file import (
    END,
    FRAME_END,
    FRAME_ENTRIES,
    KDF_INFO,
    MAX_FRAME,
    FrameWriter,
    OpenedSnapshot,
    PathLike,
    build_header,
    frame_codec,
)
from ._snapshot_json import dump_json
from .crypto import Keyring
from .errors import SnapshotError, no_keyring

__all__ = ["SnapshotMethods", "load_into", "save_table"]

_C = TypeVar("_C", bound=CacheContract)


def _instance_id(given: Optional[str]) -> str:
    """The name a writer puts in its snapshots: given, else ``GODISTCACHE_INSTANCE_ID``, else the host name."""
    return default_instance_id() if given is None else given


def save_table(
    table: CoreTable,
    path: PathLike,
    *,
    keyring: Optional[Keyring] = None,
    allow_pickle: bool = False,
    instance_id: str = "",
    progress: Optional[Progress] = None,
    refs: Any = None,
) -> int:
    """Write the live entries of table to path, atomically. Returns the number of entries written.

    Args:
        keyring: seal the file with its newest key; None writes a CRC-checked file.
        allow_pickle: pickle values (and keys) the codec has no native form for;
            otherwise they raise TypeError and the target is left untouched.
        instance_id: the writer's name, kept in the header (at most 255 bytes of UTF-8).
        progress: called with (entries done, entries in all) after each frame.
        refs: the entries to write, collected by the caller (who releases them); None collects them here.

    Raises:
        TypeError, ValueError: an entry does not encode (the message gives
            its position and key type); the target is untouched.
        OSError: the file could not be written; the target is untouched.
    """
    target = os.path.abspath(os.fspath(path))
    with _telemetry.span("save", path=target, sealed=keyring is not None) as span:
        n = _save(table, target, keyring, allow_pickle, instance_id, progress, refs)
        if span is not None:
            _telemetry.set_attributes(span, entries=n, bytes=os.path.getsize(target))
    _telemetry.count("entries", n, "save")
    return n


def _save(
    table: CoreTable,
    target: str,
    keyring: Optional[Keyring],
    allow_pickle: bool,
    instance_id: str,
    progress: Optional[Progress],
    given: Any = None,
) -> int:
    core = frame_codec(table)
    now = table._now_ns()  # the cache's clock: expiry times are written in its timer's frame, if it has one
    refs = core.collect(table, now) if given is None else given
    n = len(refs)
    salt = os.urandom(32)
    write_times = bool(table._tracks_writes)
    header = build_header(now, n, keyring.newest_id if keyring is not None else None, salt, instance_id, write_times)
    aead = keyring.derive(None, salt, KDF_INFO) if keyring is not None else None
    with atomic_write(target, "wb", buffering=1 << 20) as f:
        f.write(header)
        out = FrameWriter(f, header, aead)
        done = 0
        frames = 0
        while done < n:
            payload, k = core.encode_frame(refs, done, _snapshot_file.FRAME_TARGET, now, allow_pickle, write_times)
            if len(payload) > MAX_FRAME:
                raise ValueError(f"entry {done}: larger than a frame can hold ({len(payload)} > {MAX_FRAME} bytes)")
            out.frame(FRAME_ENTRIES, k, payload)
            done += k
            frames += 1
            if progress is not None:
                progress(done, n)
        out.frame(FRAME_END, 0, END.pack(n, frames))
    if given is None:
        refs.release()  # the compiled refs are dropped in chunks, other threads running in between
    return n


def load_into(
    cache: CoreTable,
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
    cache: CoreTable,
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
    with OpenedSnapshot(path, keyring, need_key=True) as snap:
        if require_sealed and not snap.header.sealed:
            raise SnapshotError(
                f"{snap.path}: the snapshot is not sealed, and sealed files are required "
                f"({'the cache has a cipher key' if keyring is not None else 'require_sealed=True'}): anyone who can "
                "write the file can write an unsealed one. Pass require_sealed=False to load it anyway.",
                path=snap.path,
            )
        mode = UNPICKLE if snap.header.sealed or allow_pickle else REFUSE
        fresh = table_class(cache)(timer=cache.timer)
        if cache.max_size is not None or cache.max_weight is not None:
            fresh._set_bound(cache.max_size, cache.max_weight, cache.weigher)  # the same bounds: swap needs them
        if cache._tracks_writes:
            fresh._track_writes()  # the file's write times (0 where it has none) survive the swap or merge
        if cache._syncs is not None:
            fresh._track_changes(cache._syncs)  # origins go with the entries a swap moves
        core = frame_codec(fresh)
        now = cache._now_ns()
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


class SnapshotMethods:
    """Snapshot files (:mod:`godistcache.snapshot`), for a cache class (see ``_contract.CacheContract``)."""

    __slots__ = ()

    def save(
        self: CacheContract,
        path: str | os.PathLike[str],
        *,
        allow_pickle: bool = False,
        seal: bool | None = None,
        instance_id: str | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Write the live entries to a snapshot file, atomically.

        The file is written next to path under a temporary name (mode 0600),
        fsynced and renamed over path, and the directory is fsynced: a crash
        or an error leaves the previous file intact. Entries expired at the
        time of the call are not written.

        Args:
            path: the file to write (by convention ending in ``.godistcache``).
            allow_pickle: pickle keys and values the codec has no native form
                for; otherwise they raise TypeError.
            seal: seal the file with AES-256-GCM under the keyring's newest
                key; None (the default) seals when the cache has a keyring.
            instance_id: name of the writer kept in the header; None takes
                ``GODISTCACHE_INSTANCE_ID``, else the host name.
            progress: called with (entries written, entries in all) after each frame.

        Returns:
            The number of entries written.

        Raises:
            ConfigurationError: seal=True and the cache has no keyring.
            TypeError, ValueError: an entry does not encode (the message gives
                its position and key type).
            OSError: the file could not be written.
        """
        keyring = self._keyring
        if seal is None:
            seal = keyring is not None
        if seal and keyring is None:
            raise no_keyring()
        return save_table(
            self,
            path,
            keyring=keyring if seal else None,
            allow_pickle=allow_pickle,
            instance_id=_instance_id(instance_id),
            progress=progress,
        )

    def load(
        self: CacheContract,
        path: str | os.PathLike[str],
        merge: bool = False,
        *,
        allow_pickle: bool = False,
        require_sealed: bool | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Load a snapshot file written by :meth:`save`.

        The whole file is read and checked before the cache changes: a
        damaged, forged or unreadable file raises and leaves the cache as it
        was. Entries that expired since the save are skipped.

        Args:
            path: the snapshot file.
            merge: False replaces the cache's entries with the file's; True
                adds the file's entries, the file's value winning on a key
                present in both.
            allow_pickle: unpickle pickled values of an unsealed file. Only for
                files you trust: anyone who can write the file can make that
                run code. Values of a sealed file are always unpickled, as only
                a key holder can write one.
            require_sealed: refuse an unsealed file. None (the default): refuse
                it when the cache has a keyring.
            progress: called with (bytes read, file size) after each frame.

        Returns:
            The number of entries loaded.

        Raises:
            SnapshotError: not a snapshot, unsupported version, damaged (the
                message gives the frame and byte offset), or unsealed while
                require_sealed.
            DecryptionError: a sealed frame fails authentication, or the file
                is sealed with a key the keyring lacks.
            ConfigurationError: the file is sealed and the cache has no keyring.
            OSError: the file can't be read.
        """
        return load_into(
            self, path, merge=merge, allow_pickle=allow_pickle, require_sealed=require_sealed, progress=progress
        )

    def export_json(self: CoreTable, out: IO[str], *, instance_id: str | None = None) -> int:
        """Write the live entries to a text stream as JSON, for people and other languages.

        The document is the one ``godistcache export --json`` writes from a
        snapshot (see :func:`godistcache.snapshot.export_json` for its shape):
        JSON types as they are, the codec's other types as one-key objects
        such as ``{"$bytes": "..."}``; sealed values stay sealed.

        Returns:
            The number of entries written.

        Raises:
            TypeError: a key or value has no JSON form (an object the value
                codec would need pickle for); nothing is written then.
        """
        return dump_json(self, out, _instance_id(instance_id))

    @classmethod
    def from_file(
        cls: type[_C],
        path: str | os.PathLike[str],
        default_ttl: TTL | None = 0,
        *,
        cipher_key: CipherKeys | None = None,
        allow_pickle: bool = False,
        require_sealed: bool | None = None,
        progress: Progress | None = None,
        timer: Callable[[], Any] | None = None,
    ) -> _C:
        """A new cache holding the entries of a snapshot file.

        ``default_ttl``, ``cipher_key`` and ``timer`` are as for the constructor
        (the keyring opens a sealed file and is the new cache's keyring; the
        file's expiry times are read in the timer's frame); the other
        arguments are as for :meth:`load`.
        """
        cache = cls(default_ttl, cipher_key=cipher_key, timer=timer)
        cache.load(path, allow_pickle=allow_pickle, require_sealed=require_sealed, progress=progress)
        return cache
