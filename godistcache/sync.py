"""S3 sync, as a cache uses it.

:meth:`Cache.from_s3` bootstraps a cache, :meth:`Cache.persist_to_s3` keeps uploading it,
:meth:`Cache.sync_with_s3` keeps it in step with its peers both ways (see :mod:`godistcache.syncer`).

:class:`SyncMethods` is the feature's mixin, which ``Cache`` inherits. The
store is anything with the :class:`~godistcache.persist.Store` methods
(:class:`~godistcache.s3.S3Store` is one); the uploading thread is
:class:`~godistcache.persist.Persister`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, TypeVar

from ._contract import CacheContract, CipherKeys, CoreTable
from ._core.table import TTL
from ._snapshot_file import created_ns
from ._snapshot_methods import load_into
from .persist import Persister, Store
from .syncer import Syncer

__all__ = ["SyncMethods"]

_C = TypeVar("_C", bound=CacheContract)


class SyncMethods:
    """Bootstrap from and persist to an object store, for a cache class (see ``_contract.CacheContract``)."""

    __slots__ = ()

    def persist_to_s3(self: CoreTable, store: Store, interval: float = 900.0, **options: Any) -> Persister:
        """Upload a snapshot of this cache to store every interval seconds, from a daemon thread.

        Args:
            store: an :class:`~godistcache.s3.S3Store` (or anything with
                ``upload(path) -> str``).
            interval: seconds between uploads.
            options: passed to :class:`~godistcache.persist.Persister`
                (``min_backoff``, ``allow_pickle``, ``seal``, ``final_flush``).

        Returns:
            The running :class:`~godistcache.persist.Persister`: ``flush()``
            uploads now, ``stop()`` (or leaving a ``with`` block) ends it
            after a final upload. It holds the cache by weak reference.

        From this call on the cache keeps each entry's write time (8 bytes
        per entry, one clock reading per write), and its snapshots carry
        them: a bootstrap that merges instances keeps the later write of
        each key.
        """
        self._track_writes()
        return Persister(self, store, interval, **options)

    def sync_with_s3(self: CoreTable, store: Any, interval: float = 5.0, **options: Any) -> Syncer:
        """Keep this cache in step with every other instance syncing through store, from a daemon thread.

        Each cycle merges the other instances' new changes (last writer wins,
        by hybrid-logical-clock stamps; deletes and clears included) and
        uploads this instance's own changes since the last cycle, if any. See
        :mod:`godistcache.syncer` and ``docs/sync.md``.

        Args:
            store: an :class:`~godistcache.s3.S3Store`; its ``instance_id``
                names this instance (each instance of a fleet needs its own).
            interval: seconds between cycles.
            options: passed to :class:`~godistcache.syncer.Syncer`
                (``compact_every``, ``tombstone_ttl``, ``min_backoff``,
                ``allow_pickle``, ``seal``, ``final_flush``).

        Returns:
            The running :class:`~godistcache.syncer.Syncer`: ``flush()`` syncs
            now, ``stop()`` (or leaving a ``with`` block) ends it after a
            final cycle. It holds the cache by weak reference.

        Raises:
            ConfigurationError: the cache has a timer (expiry times travel
                between instances as Unix time).

        From this call on the cache keeps, per entry, its stamp and origin (12
        bytes), and a tombstone per deleted key for ``tombstone_ttl``.
        """
        return Syncer(self, store, interval, **options)

    @classmethod
    def from_s3(
        cls: type[_C],
        store: Store,
        default_ttl: TTL | None = 0,
        *,
        cipher_key: CipherKeys | None = None,
        merge_instances: bool = False,
        allow_pickle: bool = False,
        require_sealed: bool | None = None,
    ) -> _C:
        """A new cache bootstrapped from an object store.

        Args:
            store: an :class:`~godistcache.s3.S3Store`.
            default_ttl, cipher_key: as for the constructor (the keyring
                opens sealed snapshots and is the new cache's keyring).
            merge_instances: False loads the master snapshot (the newest upload
                of any instance); True loads the newest snapshot of every
                instance and keeps, for a key several of them hold, the entry
                written last (entries carry their write time when their cache
                was persisted with :meth:`persist_to_s3`; where write times
                are unknown, the snapshot saved last wins).
            allow_pickle, require_sealed: as for :meth:`load`.

        Raises:
            SyncError: the store can't be read (the message says why).
            SnapshotError, DecryptionError, ConfigurationError: as for :meth:`load`.
        """
        cache = cls(default_ttl, cipher_key=cipher_key)
        cache._track_writes()  # the entries keep their write times, for this cache's own uploads and merges
        with tempfile.TemporaryDirectory(prefix="godistcache-bootstrap-") as tmp:
            if not merge_instances:
                path = os.path.join(tmp, "master.godistcache")
                store.download_master(path)
                cache.load(path, allow_pickle=allow_pickle, require_sealed=require_sealed)
                return cache
            paths = []
            for i, backup in enumerate(store.newest_per_instance().values()):
                path = os.path.join(tmp, f"{i}.godistcache")
                store.download(backup.object_name, path)
                paths.append(path)
            # Oldest snapshot first: on equal (or unknown) write times the later snapshot wins.
            paths.sort(key=created_ns)
            for path in paths:
                load_into(cache, path, merge=True, newer=True, allow_pickle=allow_pickle, require_sealed=require_sealed)
        if hasattr(store, "list_segments"):
            # Instances that sync (sync_with_s3): each one's newest base and the deltas after it, merged.
            segments: Any = store  # an S3Store: a SegmentStore too
            Syncer(cache, segments, allow_pickle=allow_pickle, start=False).pull_all()
        return cache
