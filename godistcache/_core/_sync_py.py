"""Change capture for sync in the pure-Python table: stamps, origins, tombstones, merges.

The twin of the "sync" section of ``_table_c.pyx`` (read its comment for the
design): same names, same decisions. :class:`SyncMethods` is a mixin of
``_table_py.Table``, which calls :meth:`SyncMethods._stamp` for every write of a
table that tracks write times and keeps ``_origins`` (key -> origin index,
only for entries merged from a peer) in ``_store``.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable
from typing import Any, Optional

from ._clock_py import now_ns
from ._listener_py import DELETED, EXPIRED

__all__ = ["MAX_AHEAD_NS", "MAX_ORIGINS", "SyncMethods"]

#: Most instances a syncing table tells apart (origin ids it keeps).
MAX_ORIGINS = 1 << 16
#: A peer's stamp more than this far ahead of the local clock is refused (see ``_table_c``).
MAX_AHEAD_NS = 3600 * 1_000_000_000
_INT64_MAX = (1 << 63) - 1


class SyncMethods:
    """Stamps (hybrid logical clock), origins, tombstones and the clear floor of a syncing table."""

    __slots__ = (
        "_floor",
        "_floor_origin",
        "_hlc",
        "_origin_ids",
        "_origin_index",
        "_origins",
        "_skew",
        "_sync",
        "_tombs",
    )

    _hlc: int
    _skew: int
    _sync: bool
    _origin_ids: list[str]
    _origin_index: dict[str, int]
    _origins: dict[Hashable, int]
    _tombs: dict[Hashable, tuple[int, int]]
    _floor: int
    _floor_origin: int
    _lock: Any
    _timer: Any

    def _stamp(self, written: int, now: int) -> int:
        """The stamp of a write: given (it advances the clock), or the clock's next (the table's clock if not syncing).

        A write time is the table's clock (a timer's reading when it has one, read before storing);
        a sync stamp is always wall time.
        """
        if not self._sync:
            if written >= 0:
                return written
            return now if now or self._timer is not None else now_ns()
        if written >= 0:
            if written > self._hlc:
                self._hlc = written
            return written
        s = (now if now and self._timer is None else now_ns()) + self._skew
        if s <= self._hlc:
            s = self._hlc + 1
        self._hlc = s
        return s

    def _track_changes(self, instance_id: str) -> None:
        """Keep what sync needs from now on: stamps, origins, tombstones, the clear floor (see ``_table_c``)."""
        if not isinstance(instance_id, str):
            raise TypeError(f"instance_id must be a str, got {type(instance_id).__qualname__}")
        with self._lock:
            if self._sync:
                if self._origin_ids[0] != instance_id:
                    raise ValueError(f"this table already syncs as {self._origin_ids[0]!r}, not {instance_id!r}")
                return
            if not instance_id:
                raise ValueError("instance_id must not be empty")
            self._track_writes()  # type: ignore[attr-defined]
            self._origin_ids = [instance_id]
            self._origin_index = {instance_id: 0}
            self._origins = {}
            self._tombs = {}
            self._sync = True

    @property
    def _syncs(self) -> Optional[str]:
        """This instance's id once :meth:`_track_changes` was called, else None."""
        return self._origin_ids[0] if self._sync else None

    def _set_skew(self, skew_ns: int) -> None:
        """Add skew_ns to the wall clock for this table's stamps: a test hook for a machine whose clock is off."""
        self._skew = operator.index(skew_ns)

    def _origin_of(self, instance_id: str) -> int:
        if not isinstance(instance_id, str):
            raise TypeError(f"an origin must be a str, got {type(instance_id).__qualname__}")
        o = self._origin_index.get(instance_id)
        if o is not None:
            return o
        n = len(self._origin_ids)
        if n >= MAX_ORIGINS:
            raise ValueError(f"more than {MAX_ORIGINS} instances wrote to this cache")
        if not instance_id:
            raise ValueError("an origin's instance id must not be empty")
        self._origin_ids.append(instance_id)
        self._origin_index[instance_id] = n
        return n

    def _add_origins(self, ids: list[str]) -> None:
        """Register the instance ids a segment names, all or none: ValueError if the table can't tell them apart."""
        self._check_sync()
        with self._lock:
            new = [i for i in dict.fromkeys(ids) if i not in self._origin_index]
            if len(self._origin_ids) + len(new) > MAX_ORIGINS:
                raise ValueError(f"more than {MAX_ORIGINS} instances would have written to this cache")
            for i in new:
                self._origin_of(i)

    def _newer(self, s1: int, o1: int, s2: int, o2: int) -> bool:
        if s1 != s2:
            return s1 > s2
        if o1 == o2:
            return False
        return self._origin_ids[o1] > self._origin_ids[o2]

    def _entry_order(self, key: Hashable, entry: list[Any]) -> tuple[int, int]:
        return entry[2], self._origins.get(key, 0)

    def _check_sync(self) -> None:
        if not self._sync:
            raise ValueError("only a syncing table merges (see _track_changes)")

    def _merge_entry(self, key: Hashable, value: Any, expires_ns: int, stamp: int, origin: str) -> bool:
        """Merge a peer's write (Unix ns expiry, 0: never; its stamp; the peer's instance id); True when stored."""
        self._check_sync()
        expires = operator.index(expires_ns)
        s = operator.index(stamp)
        with self._lock:
            o = self._origin_of(origin)
            now = self._now()  # type: ignore[attr-defined]
            if s > (now if self._timer is None else now_ns()) + MAX_AHEAD_NS:
                return False
            if s > self._hlc:
                self._hlc = s
            if expires and expires <= now:
                return False
            if self._floor and not self._newer(s, o, self._floor, self._floor_origin):
                return False
            t = self._tombs.get(key)
            if t is not None and not self._newer(s, o, t[0], t[1]):
                return False
            entry = self._find_live(key)  # type: ignore[attr-defined]
            if entry is not None and not self._newer(s, o, *self._entry_order(key, entry)):
                return False
            self._store(key, value, expires, now, s, o)  # type: ignore[attr-defined]
        return True

    def _merge_tomb(self, key: Hashable, stamp: int, origin: str) -> bool:
        """A peer deleted key at stamp: keep the tombstone, drop an entry written before it. True when one was."""
        self._check_sync()
        s = operator.index(stamp)
        with self._lock:
            o = self._origin_of(origin)
            if s > now_ns() + MAX_AHEAD_NS:
                return False
            if s > self._hlc:
                self._hlc = s
            if self._floor and not self._newer(s, o, self._floor, self._floor_origin):
                return False
            t = self._tombs.get(key)
            if t is None or self._newer(s, o, t[0], t[1]):
                self._tombs[key] = (s, o)
            entry = self._lookup(key)  # type: ignore[attr-defined]
            if entry is None or not self._newer(s, o, *self._entry_order(key, entry)):
                return False
            live = not entry[1] or entry[1] > self._now()  # type: ignore[attr-defined]
            dead = self._pop_entry(key, entry, DELETED if live else EXPIRED)  # type: ignore[attr-defined]
            if dead is None:
                return False
            if live:
                self._version += 1  # type: ignore[attr-defined]
                self._deletes += 1  # type: ignore[attr-defined]
            else:
                self._expired += 1  # type: ignore[attr-defined]
        return live

    def _merge_floor(self, stamp: int, origin: str) -> int:
        """A peer cleared its cache at stamp: drop every entry and tombstone written before. Returns entries dropped."""
        self._check_sync()
        s = operator.index(stamp)
        grave = []
        with self._lock:
            o = self._origin_of(origin)
            if s > now_ns() + MAX_AHEAD_NS:
                return 0
            if s > self._hlc:
                self._hlc = s
            if self._floor and not self._newer(s, o, self._floor, self._floor_origin):
                return 0
            self._floor = s
            self._floor_origin = o
            self._tombs = {k: t for k, t in self._tombs.items() if self._newer(t[0], t[1], s, o)}
            for key, entry in list(self._data.items()):  # type: ignore[attr-defined]
                if not self._newer(*self._entry_order(key, entry), s, o):
                    dead = self._pop_entry(key, entry, DELETED)  # type: ignore[attr-defined]
                    if dead is not None:
                        grave.append(dead)
            if grave:
                self._deletes += len(grave)  # type: ignore[attr-defined]
                self._version += 1  # type: ignore[attr-defined]
        return len(grave)

    def _floor_of(self) -> Optional[tuple[int, str]]:
        """(stamp, instance id) of the latest clear seen, or None."""
        if not self._sync or not self._floor:
            return None
        return self._floor, self._origin_ids[self._floor_origin]

    def _tombstones(self, since: int = -1, until: Optional[int] = None) -> list[tuple[Any, int, str]]:
        """Tombstones as [(key, stamp, instance id)]; with since >= 0, only local ones stamped in (since, until]."""
        if not self._sync:
            return []
        lo = operator.index(since)
        hi = _INT64_MAX if until is None else operator.index(until)
        ids = self._origin_ids
        with self._lock:
            if lo < 0:
                return [(k, t[0], ids[t[1]]) for k, t in self._tombs.items()]
            return [(k, t[0], ids[0]) for k, t in self._tombs.items() if t[1] == 0 and lo < t[0] <= hi]

    def _prune_tombs(self, before: int) -> int:
        """Forget tombstones stamped before ``before``; return how many."""
        if not self._sync:
            return 0
        b = operator.index(before)
        with self._lock:
            n = len(self._tombs)
            self._tombs = {k: t for k, t in self._tombs.items() if t[0] >= b}
            return n - len(self._tombs)

    def _stamp_info(self, key: Hashable) -> Optional[tuple[int, str]]:
        """(stamp, instance id) of key's live entry in a syncing table, or None."""
        with self._lock:
            entry = self._find_live(key)  # type: ignore[attr-defined]
            if entry is None or not self._sync:
                return None
            return entry[2], self._origin_ids[self._origins.get(key, 0)]
