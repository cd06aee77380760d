"""The pure-Python twin of ``_table_c``: same names, same behaviour, slower.

It is the reference the compiled table is tested against, the core used when
``GODISTCACHE_NO_EXTENSIONS=1`` is set, and the source of the types.

Each key maps to a list ``[value, expires, written, key]`` (Unix ns;
``expires`` 0 for never, ``written`` 0 when unknown or not tracked; ``key`` the
stored key object, which on_evict is given), and in a bounded table also
``policy, weight, position, hash`` (see :meth:`Table._set_bound`). The list
is updated in place when a live key is overwritten, so
an iterator holding it sees the new value, as the compiled table's does.

Its parts sit beside it: the size bound (``_bound_py``) and on_evict
(``_listener_py``) are mixins of :class:`Table`; TTL conversion is
``_ttl_py`` and the clock ``_clock_py``, whose names this module re-exports.

The compiled table is atomic because it never lets the GIL go while the
table is inconsistent; Python code can't promise that, so this twin takes a
re-entrant lock in every method instead. Entries it removes are kept alive
until its own bookkeeping is done, so a value's ``__del__`` that uses the
cache finds it consistent, as in the compiled table.
"""

from __future__ import annotations

import operator
import sys
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from time import time_ns
from typing import Any

from ._bound_py import EXPIRES, KEY, VALUE, WEIGHT, BoundMethods
from ._clock_py import CLOCK_RESOLUTION_NS, clock_uses_tsc, now_ns, timer_to_ns
from ._listener_py import DELETED, EVICTED, EXPIRED, REPLACED, FlushingLock, ListenerMethods
from ._sync_py import SyncMethods
from ._ttl_py import MAX_TTL_NS, TTL, ExpireAt, expire_at_to_ns, ttl_to_ns

__all__ = ["CLOCK_RESOLUTION_NS", "MAX_TTL_NS", "Table", "TTL", "clock_uses_tsc", "now_ns", "own_methods", "ttl_to_ns"]

_INT64_MAX = (1 << 63) - 1
_MAX_LOOKUP_RESTARTS = 16
_NO_DEFAULT: Any = object()  # pop's default when none was given


def own_methods(cls: type, names: Iterable[str]) -> None:
    """Nothing to do for the pure-Python table (the compiled one rebinds C methods)."""


class Table(BoundMethods, ListenerMethods, SyncMethods):
    """Hash table with a per-entry absolute expiry, checked on every read."""

    # Every slot is here, the mixins' state too (they declare its types): the layout _table_c's Table has.
    __slots__ = (
        "_bounded",
        "_evicted",
        "_ghost",
        "_ghost_buckets",
        "_ghost_ctr",
        "_main_hand",
        "_max_size",
        "_max_weight",
        "_nsmall",
        "_on_evict",
        "_pending",
        "_seq",
        "_since_purge",
        "_small_hand",
        "_weigher",
        "_weight",
        "_data",
        "_default_ttl",
        "_default_ttl_ns",
        "_hits",
        "_lock",
        "_lookup_depth",
        "_min_expires",
        "_misses",
        "_puts",
        "_deletes",
        "_expired",
        "_reentrant_changes",
        "_reentrant_limit",
        "_sweep_keys",
        "_timer",
        "_track",
        "_version",
        "__weakref__",
    )

    _data: dict[Hashable, list[Any]]
    _default_ttl: float
    _default_ttl_ns: int
    _hits: int  # get and [] that found a live entry
    _lock: threading.RLock | FlushingLock
    _lookup_depth: int
    _min_expires: int
    _misses: int  # get and [] that did not
    _puts: int  # entries written (new or replaced)
    _deletes: int  # live entries deleted
    _expired: int  # expired entries freed
    _reentrant_changes: int
    _reentrant_limit: int
    _sweep_keys: list[Hashable]
    _timer: Callable[[], Any] | None
    _track: bool
    _version: int

    def __new__(cls, *args: Any, **kwargs: Any) -> Table:
        self = object.__new__(cls)
        self._data = {}
        self._default_ttl = 0.0
        self._default_ttl_ns = 0
        self._lock = threading.RLock()
        self._lookup_depth = 0
        self._min_expires = _INT64_MAX
        self._reentrant_changes = 0
        self._reentrant_limit = 0
        self._track = False
        self._timer = None
        self._sync = False
        self._hlc = 0
        self._skew = 0
        self._origin_ids = []
        self._origin_index = {}
        self._origins = {}
        self._tombs = {}
        self._floor = 0
        self._floor_origin = 0
        self._sweep_keys = []
        self._hits = 0
        self._misses = 0
        self._puts = 0
        self._deletes = 0
        self._expired = 0
        self._version = 0
        self._on_evict = None
        self._pending = []
        self._init_bound()
        return self

    def __init__(self, default_ttl: TTL | None = 0, *, timer: Callable[[], Any] | None = None) -> None:
        self.default_ttl = default_ttl
        self._set_timer(timer)

    def _set_timer(self, timer: Callable[[], Any] | None) -> None:
        """Decide expiry by timer (see :attr:`timer`), or by the wall clock with None."""
        if timer is not None and not callable(timer):
            raise TypeError(f"timer must be a callable or None, got {type(timer).__name__}")
        self._timer = timer

    @property
    def timer(self) -> Callable[[], Any] | None:
        """The callable that gives this table the time for every expiry decision, or None: Unix time."""
        return self._timer

    def _now(self) -> int:
        """The clock expiry is decided by: the wall clock (Unix ns), or the timer's reading (ns, its frame)."""
        timer = self._timer
        return time_ns() if timer is None else timer_to_ns(timer, timer())

    def _now_ns(self) -> int:
        """This table's clock in ns: Unix time, or the timer's reading in the timer's frame."""
        with self._lock:
            return self._now()

    @property
    def default_ttl(self) -> float:
        """TTL in seconds given to entries put without one; 0.0 means they never expire."""
        return self._default_ttl

    @default_ttl.setter
    def default_ttl(self, value: TTL | None) -> None:
        self._set_default_ttl_ns(0 if value is None else ttl_to_ns(value))

    def _set_default_ttl_ns(self, ns: int) -> None:
        """Set the default TTL in nanoseconds (0: never); copies use it to lose nothing."""
        if ns < 0 or ns > MAX_TTL_NS:
            raise ValueError(f"ns must be between 0 and {MAX_TTL_NS}, got {ns!r}")
        self._default_ttl_ns = ns
        self._default_ttl = ns / 1e9

    # -- internals: the lock is held ------------------------------------------

    def _changed(self) -> None:
        # dict.get starts a lookup over, without limit, when a key's __eq__
        # changed the dict, and those restarts can't be seen from here. So
        # changes made from inside a lookup are counted instead: a key whose
        # __eq__ changes the table once (even a lot) gets its answer, one that
        # changes it on every comparison runs out of budget and fails, as it
        # does in the compiled table.
        if self._lookup_depth:
            self._reentrant_changes += 1
            if self._reentrant_changes > self._reentrant_limit:
                raise RuntimeError(
                    f"cache changed during every one of {_MAX_LOOKUP_RESTARTS} attempts to compare keys "
                    "(a key's __eq__ that modifies the cache?)"
                )

    def _lookup(self, key: Hashable) -> list[Any] | None:
        # A key's __hash__/__eq__ may change the table: look again, as the
        # compiled table does, and give up after a few tries.
        if not self._lookup_depth:
            self._reentrant_changes = 0
            self._reentrant_limit = 1024 + 2 * len(self._data)
        self._lookup_depth += 1
        try:
            for _ in range(_MAX_LOOKUP_RESTARTS):
                version = self._version
                entry = self._data.get(key)
                if self._version == version:
                    return entry
        finally:
            self._lookup_depth -= 1
        raise RuntimeError(
            f"cache changed during every one of {_MAX_LOOKUP_RESTARTS} attempts to compare keys "
            "(a key's __eq__ that modifies the cache?)"
        )

    def _pop_entry(self, key: Hashable, entry: list[Any], cause: str) -> list[Any] | None:
        """Remove key if it still maps to entry; returns what was removed, for the caller to release.

        What was removed goes to on_evict with cause, once the lock is let go.
        """
        self._changed()
        current = self._data.pop(key, None)
        if current is not None and current is not entry:
            self._data[key] = current  # a key's __eq__ replaced it meanwhile: leave the new one
            return None
        if current is not None:
            if self._bounded:
                self._unlink(current)
            if self._on_evict is not None:
                self._pending.append((current[KEY], current[VALUE], cause))
        return current

    def _find_live(self, key: Hashable) -> list[Any] | None:
        entry = self._lookup(key)
        if entry is None:
            return None
        expires = entry[1]
        if expires and expires <= self._now():
            # Removing an expired entry changes nothing anyone can see: no version bump.
            self._expired += 1
            dead = self._pop_entry(key, entry, EXPIRED)  # noqa: F841 - released on return, after the table is consistent
            return None
        return entry

    def _put(self, key: Hashable, value: Any, ttl_ns: int) -> None:
        if ttl_ns:
            now = self._now()
            self._store(key, value, min(now + ttl_ns, _INT64_MAX), now)  # only a timer reads that late
        else:
            self._store(key, value, 0, 0)

    def _store(self, key: Hashable, value: Any, expires: int, now: int, written: int = -1, origin: int = 0) -> None:
        """Store key with an absolute expiry (0: never); now is the clock, or 0 if not read yet.

        A table that tracks write times records written as the entry's stamp
        (-1: the clock's next; see ``_sync_py``), a syncing one origin (0:
        written here; else a peer's, merged).
        """
        if self._bounded and self._max_size == 0:
            # Nothing is kept: the entry counts as evicted, and on_evict hears of it (as in _table_c).
            hash(key)  # an unhashable key is refused, as by any table
            self._evicted += 1
            if self._on_evict is not None:
                self._pending.append((key, value, EVICTED))
            return
        if not now and self._timer is not None:
            now = self._now()  # the timer may raise: read before the table changes, not when evicting
        w = self._weigh(key, value) if self._weigher is not None else 0
        written = self._stamp(written, now) if self._track else 0
        if self._sync:
            if origin:
                self._origins[key] = origin
            elif self._origins:
                self._origins.pop(key, None)
        entry = self._lookup(key)
        dead = None
        old_value = None
        if entry is not None:
            old = entry[1]
            if not (old and old <= (now if now or self._timer is not None else self._now())):
                self._changed()
                old_value = entry[0]
                entry[0] = value
                entry[1] = expires
                entry[2] = written
                self._puts += 1
                if expires and expires < self._min_expires:
                    self._min_expires = expires
                if self._on_evict is not None:
                    self._pending.append((entry[KEY], old_value, REPLACED))
                if self._bounded:
                    self._touch(entry)
                    self._weight += w - entry[WEIGHT]
                    entry[WEIGHT] = w
                    self._make_room(entry, now)
                return
            # An expired entry is gone: the key comes back as a new one, at the end.
            self._expired += 1
            dead = self._pop_entry(key, entry, EXPIRED)  # noqa: F841
        self._changed()
        if self._bounded:
            h = hash(key)
            entry = [value, expires, written, key, 0, w, len(self._seq), h]
            self._data[key] = entry
            self._policy_insert(entry, h)
        else:
            entry = self._data[key] = [value, expires, written, key]
        self._puts += 1
        self._version += 1
        if expires and expires < self._min_expires:
            self._min_expires = expires
        if self._bounded:
            self._make_room(entry, now)
        del old_value  # released last, as the compiled table does

    def _delete(self, key: Hashable, removed: list[Any] | None = None) -> bool:
        """Remove key; True when a live entry was removed (its value appended to removed, if given)."""
        entry = self._lookup(key)
        if entry is None:
            return False
        expires = entry[1]
        live = not expires or expires > self._now()
        dead = self._pop_entry(key, entry, DELETED if live else EXPIRED)
        if dead is None:
            return False
        if live:
            self._version += 1
            self._deletes += 1
            if self._sync:  # a local delete: its tombstone goes out with the next delta
                self._tombs[key] = (self._stamp(-1, 0), 0)
            if removed is not None:
                removed.append(dead[VALUE])
        else:
            self._expired += 1
        return live

    def _purge(self, now: int = 0) -> int:
        now = now or self._now()
        if now < self._min_expires:
            return 0
        self._since_purge = 0
        grave = []  # released only once the table is consistent
        for key, entry in list(self._data.items()):
            if entry[1] and entry[1] <= now:
                dead = self._pop_entry(key, entry, EXPIRED)
                if dead is not None:
                    grave.append(dead)
        self._min_expires = min((e[1] for e in list(self._data.values()) if e[1]), default=_INT64_MAX)
        self._expired += len(grave)
        return len(grave)

    # -- public API ------------------------------------------------------------

    def put(self, key: Hashable, value: Any, ttl: TTL | None = None, *, expire_at: ExpireAt | None = None) -> None:
        """Store value under key.

        Args:
            key: any hashable.
            value: any object, stored by reference.
            ttl: seconds (int or float) or a timedelta; None uses the default
                TTL, 0 means never expire.
            expire_at: instead of a ttl, when the entry expires: a datetime
                (naive: local time) or Unix seconds. A time already past stores
                an entry that is expired at once (it replaces the old value, and
                is never returned).

        Raises:
            TypeError: key unhashable, ttl or expire_at of the wrong type, or both given.
            ValueError: ttl negative, NaN or too large; expire_at NaN or too far.
        """
        if expire_at is not None:
            if ttl is not None:
                raise TypeError("give ttl or expire_at, not both")
            with self._lock:
                now = self._now()
                self._store(key, value, expire_at_to_ns(expire_at, now), now)
            return
        ttl_ns = self._default_ttl_ns if ttl is None else ttl_to_ns(ttl)
        with self._lock:
            self._put(key, value, ttl_ns)

    def put_safe(self, key: Hashable, value: Any, ttl: TTL | None = None) -> bool:
        """Store value under key, then read it back.

        Returns:
            True when the value read back is the very object stored and live.
        """
        ttl_ns = self._default_ttl_ns if ttl is None else ttl_to_ns(ttl)
        with self._lock:
            self._put(key, value, ttl_ns)
            entry = self._find_live(key)
            return entry is not None and entry[0] is value

    def get(self, key: Hashable, default: Any = None) -> Any:
        """Return the live value stored under key, else default."""
        with self._lock:
            entry = self._find_live(key)
            if entry is None:
                self._misses += 1
                return default
            self._hits += 1
            if self._bounded:
                self._touch(entry)
            return entry[0]

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            entry = self._find_live(key)
            if entry is None:
                self._misses += 1
            else:
                self._hits += 1
                if self._bounded:
                    self._touch(entry)
                return entry[0]
        missing = getattr(type(self), "__missing__", None)
        if missing is not None:  # as dict does: a subclass's __missing__ answers a miss of self[key]
            return missing(self, key)
        raise KeyError(key)

    def pop(self, key: Hashable, default: Any = _NO_DEFAULT) -> Any:
        """Remove key and return its value, in one step; default, or KeyError without one, when it has none."""
        removed: list[Any] = []
        with self._lock:
            if self._delete(key, removed):
                self._hits += 1
                return removed[0]
            self._misses += 1
        if default is _NO_DEFAULT:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[Any, Any]:
        """Remove and return the oldest live (key, value) pair, in one step; KeyError when there is none."""
        with self._lock:
            for key in self._iter(0):
                return key, Table.pop(self, key)  # the table's own pop, as the compiled core: not a subclass's
        raise KeyError("popitem(): cache is empty")

    def setdefault(self, key: Hashable, default: Any = None) -> Any:
        """self[key] if key has a live entry, else store default (with the default TTL) and return it; one step."""
        with self._lock:
            entry = self._find_live(key)
            if entry is not None:
                self._hits += 1
                if self._bounded:
                    self._touch(entry)
                return entry[0]
            self._misses += 1
            self[key] = default
            return default

    def __setitem__(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._put(key, value, self._default_ttl_ns)

    def __delitem__(self, key: Hashable) -> None:
        with self._lock:
            if not self._delete(key):
                raise KeyError(key)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return self._find_live(key) is not None

    def exists(self, key: Hashable) -> bool:
        """Return True when key holds a live entry."""
        with self._lock:
            return self._find_live(key) is not None

    def delete(self, key: Hashable) -> bool:
        """Remove key. Returns True when a live entry was removed."""
        with self._lock:
            return self._delete(key)

    def delete_safe(self, key: Hashable) -> bool:
        """Remove key, then check it is gone.

        Returns:
            True exactly when the key held a live entry and no longer does.
        """
        with self._lock:
            return self._delete(key) and self._find_live(key) is None

    def ttl(self, key: Hashable) -> float | None:
        """Remaining lifetime of key in seconds, or None when it never expires.

        Raises:
            KeyError: key has no live entry.
        """
        with self._lock:
            entry = self._lookup(key)
            if entry is None:
                raise KeyError(key)
            expires = entry[1]
            if not expires:
                return None
            now = self._now()
            if expires <= now:
                self._expired += 1
                dead = self._pop_entry(key, entry, EXPIRED)  # noqa: F841
                raise KeyError(key)
            return float(expires - now) / 1e9

    def expire(self) -> int:
        """Free every expired entry now. Returns how many were freed."""
        with self._lock:
            return self._purge()

    def _sweep(self, max_entries: int) -> tuple[int, bool]:
        """Free the expired entries among the next max_entries keys of a round-robin pass.

        Bounded work for a background sweeper. Returns (entries freed, True
        when a full pass is done).
        """
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        grave = []  # released only once the table is consistent
        with self._lock:
            if not self._sweep_keys:
                self._sweep_keys = list(self._data)
                self._sweep_keys.reverse()  # popped from the end: oldest first
            now = self._now()
            for _ in range(min(max_entries, len(self._sweep_keys))):
                key = self._sweep_keys.pop()
                entry = self._data.get(key)
                if entry is not None and entry[1] and entry[1] <= now:
                    dead = self._pop_entry(key, entry, EXPIRED)
                    if dead is not None:
                        grave.append(dead)
            self._expired += len(grave)
            return len(grave), not self._sweep_keys

    def __len__(self) -> int:
        with self._lock:
            if self._min_expires != _INT64_MAX and self._min_expires <= self._now():
                self._purge()
            return len(self._data)

    def count(self) -> int:
        """Number of live entries (same as len())."""
        return len(self)

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._changed()
            if self._sync:  # a local clear: every write stamped before it is gone, everywhere
                self._floor = self._stamp(-1, 0)
                self._floor_origin = 0
                self._tombs = {}
                self._origins = {}
            old = self._data
            if self._on_evict is not None:
                now = self._now()
                self._pending.extend(
                    (k, e[VALUE], EXPIRED if e[EXPIRES] and e[EXPIRES] <= now else DELETED) for k, e in old.items()
                )
            self._data = {}
            self._sweep_keys = []
            self._min_expires = _INT64_MAX
            self._version += 1
            self._reset_policy()
        del old  # values' finalisers run now, on an empty, consistent table

    def __iter__(self) -> Iterator[Any]:
        return self._iter(0)

    def _iter(self, kind: int) -> Iterator[Any]:
        """Iterator over live entries.

        kind 0: keys, 1: values, 2: (key, value), 3: (key, value, expires)
        with expires in Unix ns, 0 for never, 4: (key, value, expires, written)
        with written the write time in Unix ns, 0 when unknown or not tracked,
        5: (key, value, expires, written, origin) with origin the instance id
        the entry came from ("" when not syncing).
        """
        if kind not in (0, 1, 2, 3, 4, 5):
            raise ValueError(f"kind must be 0 to 5, got {kind}")
        with self._lock:
            return self._gen(kind, list(self._data.items()), self._version)

    def _list(self, kind: int) -> list[Any]:
        """The live entries as :meth:`_iter` gives them, in a list taken in one step (copy, deepcopy, pickle)."""
        if kind not in (0, 1, 2, 3, 4, 5):
            raise ValueError(f"kind must be 0 to 5, got {kind}")
        out: list[Any] = []
        with self._lock:  # other threads wait; built without _gen's version check, so a finaliser can't break it
            now = self._now()
            for key, entry in list(self._data.items()):
                value, expires, written = entry[0], entry[1], entry[2]
                if expires and expires <= now:
                    continue
                if kind == 0:
                    out.append(key)
                elif kind == 1:
                    out.append(value)
                elif kind == 2:
                    out.append((key, value))
                elif kind == 3:
                    out.append((key, value, expires))
                elif kind == 4:
                    out.append((key, value, expires, written))
                else:
                    origin = self._origin_ids[self._origins.get(key, 0)] if self._sync else ""
                    out.append((key, value, expires, written, origin))
        return out

    def _put_at(self, key: Hashable, value: Any, expires_ns: int, written_ns: int | None = None) -> bool:
        """Store value under key with an absolute expiry (Unix ns; 0: never).

        written_ns: the write time to record (Unix ns, 0: unknown) when the
        table tracks write times; None records now.

        Returns:
            False, storing nothing, when expires_ns has already passed.
        """
        expires = operator.index(expires_ns)
        if expires < 0:
            raise ValueError(f"expires_ns must be >= 0, got {expires_ns!r}")
        if expires >= 1 << 63:
            raise OverflowError(f"expires_ns must fit in 64 bits, got {expires_ns!r}")
        written = -1 if written_ns is None else operator.index(written_ns)
        if written_ns is not None and not 0 <= written < 1 << 63:
            raise ValueError(f"written_ns must be >= 0, got {written_ns!r}")
        with self._lock:
            now = 0
            if expires:
                now = self._now()
                if expires <= now:
                    return False
            self._store(key, value, expires, now, written)
            return True

    def _write_time(self, key: Hashable) -> int:
        """The write time of key's live entry (Unix ns, 0: unknown or not tracked), or -1 when it has none."""
        with self._lock:
            entry = self._find_live(key)
            return -1 if entry is None else int(entry[2])

    @property
    def _tracks_writes(self) -> bool:
        """True once write times are kept (see :meth:`_track_writes`)."""
        return self._track

    def _track_writes(self) -> None:
        """Keep each entry's write time (Unix ns) from now on; entries already there get 0, unknown."""
        self._track = True

    def _swap(self, other: Table) -> None:
        """Exchange all entries with other; each keeps its default TTL.

        A load decodes into a fresh table and swaps it in only once the whole
        file has checked out, so a bad file leaves the cache as it was.
        """
        if not isinstance(other, Table):
            raise TypeError(f"other must be a {Table.__qualname__}, got {type(other).__qualname__}")
        if other is self:
            return
        if (self._max_size, self._max_weight, self._weigher is None) != (
            other._max_size,
            other._max_weight,
            other._weigher is None,
        ):
            raise ValueError("can only swap entries with a table of the same bounds")
        if self._sync != other._sync or (self._sync and self._origin_ids[0] != other._origin_ids[0]):
            raise ValueError("can only swap entries with a table that syncs as the same instance, or neither syncs")
        with self._lock, other._lock:
            self._changed()
            other._changed()
            for name in ("_seq", "_nsmall", "_small_hand", "_main_hand", "_since_purge", "_weight", "_ghost",
                         "_ghost_buckets", "_ghost_ctr"):  # fmt: skip
                mine = getattr(self, name)
                setattr(self, name, getattr(other, name))
                setattr(other, name, mine)
            self._data, other._data = other._data, self._data
            self._track, other._track = other._track, self._track
            # Origins go with the entries; tombstones, the floor and the clock stay: they are history, not entries.
            self._origins, other._origins = other._origins, self._origins
            self._origin_ids, other._origin_ids = other._origin_ids, self._origin_ids
            self._origin_index, other._origin_index = other._origin_index, self._origin_index
            self._hlc = other._hlc = max(self._hlc, other._hlc)
            self._min_expires, other._min_expires = other._min_expires, self._min_expires
            self._version += 1
            other._version += 1

    def _gen(self, kind: int, snapshot: list[tuple[Hashable, list[Any]]], version: int) -> Iterator[Any]:
        for key, entry in snapshot:
            if self._version != version:
                raise RuntimeError("cache changed during iteration")
            expires = entry[1]
            if expires and expires <= self._now():
                continue
            if kind == 0:
                yield key
            elif kind == 1:
                yield entry[0]
            elif kind == 2:
                yield (key, entry[0])
            elif kind == 3:
                yield (key, entry[0], expires)
            elif kind == 4:
                yield (key, entry[0], expires, entry[2])
            else:
                yield (
                    key,
                    entry[0],
                    expires,
                    entry[2],
                    self._origin_ids[self._origins.get(key, 0)] if self._sync else "",
                )
        if self._version != version:
            raise RuntimeError("cache changed during iteration")

    def __sizeof__(self) -> int:
        return object.__sizeof__(self) + sys.getsizeof(self._data) + 72 * len(self._data)
