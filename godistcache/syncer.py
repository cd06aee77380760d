"""``Syncer``: a daemon thread that keeps a cache in step with its peers through an object store.

Made by :meth:`Cache.sync_with_s3`. Each instance writes only under its own
``<object>/<instance>/`` folder: a base (every entry it holds) when it starts
and at each compaction, and between bases a delta of its own changes
(entries written here, tombstones of deletes, a clear) whenever it has any.
Each cycle:

1. **Pull.** One listing of ``<object>/`` (one request per 1000 objects)
   finds every peer's new segments. For each peer, its deltas are merged in
   order, each only if it continues what was merged before (its ``prev``);
   a peer seen for the first time, a missing segment (deleted by a
   compaction while this cycle read), or a damaged one is caught up from the
   peer's newest later base instead. Merging is last-writer-wins on the
   hybrid-logical-clock stamps: nothing merged is sent out again.
2. **Push.** The local changes stamped since the last upload go out as a
   delta; nothing is uploaded when there are none.
3. **Compact**, every ``compact_every`` cycles that uploaded a delta: a new
   base, the seed-compatible master ``<object>.godistcache``, and the
   deletion of this instance's segments older than its previous base (so a
   reader that listed before the compaction still finds a complete chain).

A failed cycle is logged (logger ``godistcache.syncer``), counted, and
retried after a backoff that doubles from ``min_backoff`` up to the
interval; local changes not yet uploaded stay in the cache and go out with
the next successful cycle. A segment that is damaged, forged, sealed with
another key or refused (pickle) is logged as a
:class:`~godistcache.errors.SnapshotError` and skipped, never applied.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from . import _telemetry
from ._core.table import now_ns
from ._s3_names import Segment
from ._segments import BASE_CHUNK, apply_segment, read_segment, write_segment
from ._snapshot_file import frame_codec
from ._snapshot_methods import save_table
from .errors import ConfigurationError, DecryptionError, SnapshotError, SyncError
from .persist import Persister, SegmentStore

__all__ = ["SyncReport", "Syncer"]

logger = logging.getLogger(__name__)

#: Tombstones are forgotten after this many seconds by default: a peer cut off for longer may bring deleted keys back.
TOMBSTONE_TTL = 24 * 3600.0


@dataclass
class SyncReport:
    """What one cycle did (the result of :meth:`Syncer.flush`)."""

    uploaded: list[str] = field(default_factory=list)  # objects written (segments, the master)
    applied: list[str] = field(default_factory=list)  # peer segments merged
    skipped: list[str] = field(default_factory=list)  # peer segments refused (damaged, forged, foreign key)
    merged: int = 0  # entries stored from peers
    deleted: int = 0  # entries removed by peers' tombstones and clears
    compacted: bool = False


class Syncer(Persister):
    """Two-way, incremental sync of a cache through an object store, from a daemon thread.

    Args:
        cache: the cache (held by weak reference); it keeps stamps, origins and
            tombstones from now on (12 bytes per entry, a tombstone per delete).
        store: an :class:`~godistcache.s3.S3Store` (anything with the
            :class:`~godistcache.persist.SegmentStore` methods).
        interval: seconds between cycles (> 0).
        compact_every: cycles that uploaded a delta between two bases (>= 1).
        tombstone_ttl: seconds a delete's tombstone is kept (> 0): a peer
            that can't sync for longer may bring the key back.
        min_backoff, allow_pickle, seal, final_flush, start: as for
            :class:`~godistcache.persist.Persister`.

    Attributes (counters, since start):
        cycles, failures, last_error, last_success: as for a persister.
        segments_up, bytes_up: segments uploaded and their bytes (the master too).
        segments_down, bytes_down: peer segments downloaded and their bytes.
        merged: peer entries stored here; tombstones: peer tombstones read;
        deleted: entries peers' tombstones and clears removed here.
        skipped: peer segments refused (each logged as a SnapshotError).
        last_lag: seconds from the newest peer segment's cut to its merge here (None before one).
        peers: each peer's newest segment merged here, by instance id.
    """

    def __init__(
        self,
        cache: Any,
        store: SegmentStore,
        interval: float = 5.0,
        *,
        compact_every: int = 60,
        tombstone_ttl: float = TOMBSTONE_TTL,
        min_backoff: float = 1.0,
        allow_pickle: bool = False,
        seal: Optional[bool] = None,
        final_flush: bool = True,
        start: bool = True,
    ) -> None:
        if getattr(cache, "timer", None) is not None:
            raise ConfigurationError(
                f"a cache with a timer ({cache.timer!r}) can't sync: expiry times travel between instances as "
                "Unix time, and its timer's may be in another frame. Sync a cache without timer="
            )
        if isinstance(compact_every, bool) or not isinstance(compact_every, int) or compact_every < 1:
            raise ValueError(f"compact_every must be an int >= 1, got {compact_every!r}")
        if not tombstone_ttl > 0:
            raise ValueError(f"tombstone_ttl must be > 0 seconds, got {tombstone_ttl!r}")
        self.instance_id: str = store.instance_id
        cache._track_changes(self.instance_id)
        self.compact_every = compact_every
        self.tombstone_ttl = float(tombstone_ttl)
        self.cycles = 0
        self.segments_up = self.bytes_up = 0
        self.segments_down = self.bytes_down = 0
        self.merged = self.tombstones = self.deleted = self.skipped = 0
        self.last_lag: Optional[float] = None
        self.peers: dict[str, int] = {}
        self._started = False  # the first cycle (recovery, bootstrap, first base) is done
        self._seq = 0  # this instance's newest segment number
        self._prev = 0  # the segment the next delta continues
        self._since = -1  # local changes stamped after this are not uploaded yet
        self._base = 0  # this instance's newest base
        self._deltas_since_base = 0
        self._bad: set[str] = set()
        super().__init__(
            cache,
            store,
            interval,
            min_backoff=min_backoff,
            allow_pickle=allow_pickle,
            seal=seal,
            final_flush=final_flush,
            start=start,
        )
        self.store: SegmentStore = store

    def flush(self, timeout: Optional[float] = None) -> SyncReport:  # type: ignore[override]
        """Run a cycle now (pull, push, compact if due) and wait for it.

        Once it returns, every local change made before the call is in the store.

        Returns:
            What the cycle did.

        Raises:
            RuntimeError, TimeoutError: as for :meth:`Persister.flush`.
            Exception: whatever made the cycle fail (also counted and logged).
        """
        report = super().flush(timeout)
        assert isinstance(report, SyncReport)
        return report

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<Syncer {self.instance_id} {state}, every {self.interval:g} s with {self.store!r}: {self.cycles} cycles, "
            f"{self.segments_up} up, {self.segments_down} down, {self.failures} failures>"
        )

    # -- a cycle --------------------------------------------------------------------

    def _cycle(self) -> tuple[Optional[Any], Optional[BaseException]]:
        report = SyncReport()
        try:
            with _telemetry.span("sync", instance=self.instance_id) as span:
                with tempfile.TemporaryDirectory(prefix="godistcache-sync-") as tmp:
                    self._run_cycle(tmp, report)
                _telemetry.set_attributes(
                    span, uploaded=len(report.uploaded), applied=len(report.applied), merged=report.merged
                )
        except Exception as exc:
            return self._failed(exc, f"sync of {self.instance_id} with {self.store!r}")
        self.cycles += 1
        self._succeeded()
        if report.uploaded:
            self.uploads += 1
            self.last_object = report.uploaded[-1]
        return report, None

    def _cache_or_fail(self) -> Any:
        cache = self._cache()
        if cache is None:
            raise RuntimeError("the cache was garbage-collected")
        return cache

    def _run_cycle(self, tmp: str, report: SyncReport) -> None:
        if not self._started:
            mine = self.store.list_segments(self.instance_id)
            if mine:
                self._seq = max(s.seq for s in mine)
                self._prev = self._seq  # what this instance wrote before it (re)started: the chain goes on from it
                # Recover what this instance had uploaded before a restart (after a crash, say).
                self._catch_up(self.instance_id, mine, tmp, report)
        self._pull(tmp, report)
        cache = self._cache_or_fail()
        try:
            cache._prune_tombs(cache._hlc - int(self.tombstone_ttl * 1e9))
            if not self._started:
                self._compact(cache, tmp, report)  # the first base: everything this instance holds
                self._started = True
                return
            self._push(cache, tmp, report)
            if self._deltas_since_base >= self.compact_every:
                self._compact(cache, tmp, report)
        finally:
            del cache

    def _keyring(self, cache: Any) -> Any:
        keyring = cache._keyring
        seal = keyring is not None if self.seal is None else self.seal
        if seal and keyring is None:
            raise ConfigurationError("seal=True needs a cache with a cipher key")
        return keyring if seal else None

    def _write(self, cache: Any, path: str, kind: str, since: int, refs: Any = None) -> Any:
        return write_segment(
            cache,
            path,
            kind=kind,
            seq=self._seq + 1,
            prev=self._prev,
            since=since,
            instance_id=self.instance_id,
            keyring=self._keyring(cache),
            allow_pickle=self.allow_pickle,
            refs=refs,
        )

    def _upload(self, path: str, kind: str, size: int, report: SyncReport) -> Segment:
        # The number is used up even if the upload fails: a PUT that failed here may have landed there, and a
        # reader that merged it must not take a later segment under the same number for one it has seen.
        self._seq += 1
        segment = self.store.upload_segment(path, self._seq, kind)
        self.segments_up += 1
        self.bytes_up += size
        report.uploaded.append(segment.object_name)
        logger.info("godistcache: %s uploaded %s (%d bytes)", self.instance_id, segment.object_name, size)
        return segment

    def _push(self, cache: Any, tmp: str, report: SyncReport) -> None:
        path = os.path.join(tmp, "delta.godistcache")
        written = self._write(cache, path, "delta", self._since)
        if not (written.entries or written.tombstones or written.floor):
            os.unlink(path)
            return
        self._upload(path, "delta", written.size, report)
        self._prev = self._seq
        self._since = written.hlc
        self._deltas_since_base += 1

    def _compact(self, cache: Any, tmp: str, report: SyncReport) -> None:
        path = os.path.join(tmp, "base.godistcache")
        master = os.path.join(tmp, "master.godistcache")
        # One collection, in chunks (other threads run between them), for the base and the master.
        refs = frame_codec(cache).collect(cache, now_ns(), -1, BASE_CHUNK)
        try:
            written = self._write(cache, path, "base", -1, refs)
            # The seed-compatible master, for plain Cache.from_s3 and older readers.
            save_table(
                cache,
                master,
                keyring=self._keyring(cache),
                allow_pickle=self.allow_pickle,
                instance_id=self.instance_id,
                refs=refs,
            )
        finally:
            refs.release()
            del refs
        previous = self._base
        self._upload(path, "base", written.size, report)
        self._base = self._seq
        if self._since < 0:
            # The first base carries every local change so far: deltas go on from its cut.
            self._since = written.cut
            self._prev = self._seq
        self._deltas_since_base = 0
        report.compacted = True
        self.store.upload_master(master)
        self.bytes_up += os.path.getsize(master)
        report.uploaded.append(self.store.master_name)
        if previous:
            old = [s.object_name for s in self.store.list_segments(self.instance_id) if s.seq < previous]
            if old:
                self.store.delete_segments(old)
                logger.info(
                    "godistcache: %s deleted %d segments older than base %d", self.instance_id, len(old), previous
                )

    # -- pulling ------------------------------------------------------------------

    def pull_all(self) -> SyncReport:
        """Merge every instance's segments (this one's too) once, in this thread; upload nothing. For a bootstrap."""
        report = SyncReport()
        by_instance: dict[str, list[Segment]] = {}
        for s in self.store.list_segments():
            by_instance.setdefault(s.instance_id, []).append(s)
        with tempfile.TemporaryDirectory(prefix="godistcache-bootstrap-") as tmp:
            for instance, segments in by_instance.items():
                self._catch_up(instance, segments, tmp, report)
        return report

    def _pull(self, tmp: str, report: SyncReport) -> None:
        by_peer: dict[str, list[Segment]] = {}
        for s in self.store.list_segments():
            if s.instance_id != self.instance_id:
                by_peer.setdefault(s.instance_id, []).append(s)
            elif self._started and s.seq > self._seq:
                raise ConfigurationError(
                    f"another process syncs as {self.instance_id!r} (it wrote {s.object_name}): each instance "
                    "needs its own id (S3Store(instance_id=...) or GODISTCACHE_INSTANCE_ID); this one stops uploading "
                    "until that is fixed"
                )
        for peer, segments in by_peer.items():
            self._catch_up(peer, segments, tmp, report)

    def _catch_up(self, peer: str, segments: list[Segment], tmp: str, report: SyncReport) -> None:
        """Merge peer's segments after the last one merged, in order: its deltas while they continue, else a base."""
        at = self.peers.get(peer, 0)
        new = sorted((s for s in segments if s.seq > at and s.object_name not in self._bad), key=lambda s: s.seq)
        if at == 0:  # first sight: from the newest base, if there is one
            newest = [s.seq for s in new if s.kind == "base"]
            if newest:
                new = [s for s in new if s.seq >= newest[-1]]
        i = 0
        force = False  # apply new[i] even if it is a base the deltas after it make unnecessary
        failed: set[int] = set()
        while i < len(new):
            s = new[i]
            if s.kind == "base" and not force and at != 0 and self._continues(new, i):
                i += 1  # the deltas after it may go on from where this instance is: the base isn't needed
                continue
            force = False
            if self._apply(s, at, tmp, report):
                at = self.peers[peer] = s.seq
                i += 1
                continue
            failed.add(i)
            # A gap (a deleted or damaged segment, or a delta that doesn't continue): the newest base after at.
            candidates = [
                j
                for j, t in enumerate(new)
                if t.kind == "base" and t.seq > at and j not in failed and t.object_name not in self._bad
            ]
            if not candidates:
                logger.info("godistcache: %s waits for a base of %s after segment %d", self.instance_id, peer, s.seq)
                return
            i = candidates[-1]
            force = True

    def _continues(self, new: list[Segment], i: int) -> bool:
        """True when the segments after new[i] include a delta (whose prev says whether the base can be skipped)."""
        return any(s.kind == "delta" for s in new[i + 1 :])

    def _apply(self, s: Segment, at: int, tmp: str, report: SyncReport) -> bool:
        """Download, check and merge one segment; False when it can't be (missing, damaged, or not continuing at)."""
        path = os.path.join(tmp, f"{s.instance_id}-{s.seq}.godistcache")
        try:
            size = self.store.download(s.object_name, path)
        except SyncError as exc:
            if exc.code in ("NoSuchKey", "NotFound"):
                logger.info(
                    "godistcache: %s: %s is gone (compacted); catching up from a base", self.instance_id, s.object_name
                )
                return False
            raise
        self.segments_down += 1
        self.bytes_down += size
        cache = self._cache_or_fail()
        try:
            try:
                segment = read_segment(
                    cache, path, allow_pickle=self.allow_pickle, expect=(s.instance_id, s.seq, s.kind)
                )
                if segment.kind == "delta" and segment.info.prev > at:
                    return False  # it continues a segment not merged here
                done = apply_segment(cache, segment)
            except (SnapshotError, DecryptionError, ConfigurationError) as exc:
                self._bad.add(s.object_name)
                self.skipped += 1
                report.skipped.append(s.object_name)
                logger.error("godistcache: %s skipped %s: %s", self.instance_id, s.object_name, exc)
                return False
        finally:
            del cache
            os.unlink(path)
        self.merged += done.merged
        self.tombstones += done.tombstones
        self.deleted += done.deleted
        self.last_lag = max(0.0, time.time() - done.info.hlc / 1e9)
        report.applied.append(s.object_name)
        report.merged += done.merged
        report.deleted += done.deleted
        return True
