"""The pure-Python twin of ``_table_c``: same names, same behaviour, slower.

It is the reference the compiled table is tested against, the core used when
``GODISTCACHE_NO_EXTENSIONS=1`` is set, and the source of the types.

Each key maps to a list ``[value, expires, written, key]`` (Unix ns;
``expires`` 0 for never, ``written`` 0 when unknown or not tracked; ``key`` the
stored key object, which on_evict is given), and in a bounded table also
``policy, weight, position, hash`` (see :meth:`Table._set_bound`). The list
is updated in place when a live key is overwritten, so
an iterator holding it sees the new value, as the compiled table's does.

The compiled table is atomic because it never lets the GIL go while the
table is inconsistent; Python code can't promise that, so this twin takes a
re-entrant lock in every method instead. Entries it removes are kept alive
until its own bookkeeping is done, so a value's ``__del__`` that uses the
cache finds it consistent, as in the compiled table.
"""

from __future__ import annotations

import datetime
import logging
import math
import operator
import reprlib
import sys
import threading
import time
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Union

from ._sync_py import SyncMethods

__all__ = ["CLOCK_RESOLUTION_NS", "MAX_TTL_NS", "Table", "TTL", "clock_uses_tsc", "now_ns", "own_methods", "ttl_to_ns"]

#: What a TTL may be: seconds as int or float, or a timedelta.
TTL = Union[int, float, datetime.timedelta]

#: Longest TTL: 2**62 ns, about 146 years, so that now + ttl fits in int64.
MAX_TTL_NS = 1 << 62
_MAX_TTL_S = MAX_TTL_NS // 1_000_000_000

#: Resolution of the wall clock used for expiry, in nanoseconds.
CLOCK_RESOLUTION_NS = int(time.get_clock_info("time").resolution * 1e9) or 1

_INT64_MAX = (1 << 63) - 1
_MAX_LOOKUP_RESTARTS = 16
_MAX_SIZE = 1 << 31  # the compiled table's limit, kept here so both accept the same bounds
_NO_BOUND = sys.maxsize
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_NO_PURGE_YET = sys.maxsize // 2

# The size bound (S3-FIFO), as in _table_c: see the comment above Table._weigh there.
_POL_FREQ = 3
_POL_MAIN = 4
_SMALL_SHARE = 20
_SECOND_CHANCES = 64
_PURGE_SHARE = 4
_VALUE, _EXPIRES, _WRITTEN, _KEY, _POL, _WEIGHT, _POS, _HASH = range(8)

# What on_evict's third argument says.
EXPIRED = "expired"
EVICTED = "evicted"
DELETED = "deleted"
REPLACED = "replaced"

_logger = logging.getLogger("godistcache")
_fake_now = 0


def now_ns() -> int:
    """Return the table's clock: Unix time in nanoseconds."""
    return _fake_now or time.time_ns()


def clock_uses_tsc() -> bool:
    """Always False: the pure-Python table reads ``time.time_ns()``."""
    return False


def _set_clock(now_ns: int | None = None) -> None:
    """Freeze the table's clock at ``now_ns`` (int, Unix ns), or unfreeze it with None.

    A test hook: it affects every table of this module.
    """
    global _fake_now
    if now_ns is None:
        _fake_now = 0
    else:
        if now_ns <= 0:
            raise ValueError(f"now_ns must be > 0, got {now_ns!r}")
        _fake_now = now_ns


def own_methods(cls: type, names: Iterable[str]) -> None:
    """Nothing to do for the pure-Python table (the compiled one rebinds C methods)."""


def _float_ttl_ns(d: float, ttl: object) -> int:
    if d != d:
        raise ValueError(f"ttl must be a number of seconds, got {ttl!r}")
    if d < 0:
        raise ValueError(f"ttl must be >= 0, got {ttl!r}")
    if d == 0 or d == float("inf"):
        return 0
    d = d * 1e9 + 0.5  # nearest ns, computed as the compiled table does
    if d >= MAX_TTL_NS:  # before floor(), which raises on inf
        raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
    ns = math.floor(d)
    return ns if ns > 0 else 1


def _int_ttl_ns(ttl: int) -> int:
    if ttl < 0:
        raise ValueError(f"ttl must be >= 0, got {ttl!r}")
    if ttl > _MAX_TTL_S:
        raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
    return ttl * 1_000_000_000


def ttl_to_ns(ttl: object) -> int:
    """Normalise a TTL (seconds as int/float, or a timedelta) to nanoseconds; 0 means never."""
    tp = type(ttl)
    if tp is float:
        return _float_ttl_ns(ttl, ttl)  # type: ignore[arg-type]
    if tp is int:
        return _int_ttl_ns(ttl)  # type: ignore[arg-type]
    if isinstance(ttl, bool):
        raise TypeError("ttl must be seconds (int or float) or a timedelta, got bool")
    if isinstance(ttl, float):
        return _float_ttl_ns(float.__float__(ttl), ttl)
    if isinstance(ttl, int):
        return _int_ttl_ns(int(ttl))
    if isinstance(ttl, datetime.timedelta):
        ns = (ttl.days * 86400 + ttl.seconds) * 1_000_000_000 + ttl.microseconds * 1000
        if ns < 0:
            raise ValueError(f"ttl must be >= 0, got {ttl!r}")
        if ns >= MAX_TTL_NS:
            raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
        return ns
    if not isinstance(ttl, (str, bytes, bytearray, complex)):  # complex has a __float__ that raises on 3.9
        if hasattr(tp, "__index__"):
            return _int_ttl_ns(operator.index(ttl))  # type: ignore[arg-type]
        if hasattr(tp, "__float__"):
            return _float_ttl_ns(float(ttl), ttl)  # type: ignore[arg-type]
    raise TypeError(f"ttl must be seconds (int or float) or a timedelta, got {tp.__name__}")


def _bound_arg(name: str, value: Any, limit: int, unbounded: int) -> int:
    """A bound argument checked: an int from 1 to limit - 1, or None for unbounded."""
    if value is None:
        return unbounded
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    n = operator.index(value)
    if n < 1 or n >= limit:
        raise ValueError(f"{name} must be between 1 and {limit - 1}, got {value!r}")
    return n


def _notify(listener: Any, key: Any, value: Any, cause: str) -> None:
    try:
        listener(key, value, cause)
    except Exception:
        _logger.exception(
            "on_evict listener %r raised for an entry that left the cache (%s); the cache is not affected",
            listener,
            cause,
        )


class _FlushingLock:
    """The lock of a table with a listener: letting go of it last tells on_evict what left the table.

    Only one thread can be inside, so _depth counts the owner's nesting.
    """

    __slots__ = ("_depth", "_rlock", "_table")

    def __init__(self, table: Table) -> None:
        self._rlock = threading.RLock()
        self._table = table
        self._depth = 0

    def __enter__(self) -> None:
        self._rlock.acquire()
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        outermost = self._depth == 0
        self._rlock.release()
        if outermost and self._table._pending:
            self._table._flush()


class Table(SyncMethods):
    """Hash table with a per-entry absolute expiry, checked on every read."""

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
        "_track",
        "_version",
        "__weakref__",
    )

    _data: dict[Hashable, list[Any]]
    _default_ttl: float
    _default_ttl_ns: int
    _hits: int  # get and [] that found a live entry
    _lock: threading.RLock | _FlushingLock
    _lookup_depth: int
    _min_expires: int
    _misses: int  # get and [] that did not
    _puts: int  # entries written (new or replaced)
    _deletes: int  # live entries deleted
    _expired: int  # expired entries freed
    _reentrant_changes: int
    _reentrant_limit: int
    _sweep_keys: list[Hashable]
    _track: bool
    _version: int
    _bounded: bool
    _evicted: int  # entries evicted by the size bound
    _ghost: list[int]  # fingerprints of keys evicted from the small queue, buckets of 4
    _ghost_buckets: int
    _ghost_ctr: int
    _main_hand: int
    _max_size: int
    _max_weight: int
    _nsmall: int
    _on_evict: Any
    _pending: list[tuple[Any, Any, str]]  # (key, value, cause) to tell on_evict, outside the lock
    _seq: list[list[Any] | None]  # a bounded table's entries in insertion order; None: removed
    _since_purge: int
    _small_hand: int
    _weigher: Any
    _weight: int

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
        self._bounded = False
        self._evicted = 0
        self._ghost = []
        self._ghost_buckets = 0
        self._ghost_ctr = 0
        self._max_size = _NO_BOUND
        self._max_weight = _INT64_MAX
        self._weigher = None
        self._on_evict = None
        self._pending = []
        self._reset_policy()
        return self

    def _reset_policy(self) -> None:
        self._seq = []
        self._nsmall = 0
        self._small_hand = 0
        self._main_hand = 0
        self._since_purge = _NO_PURGE_YET
        self._weight = 0
        self._ghost = [0] * len(self._ghost)
        self._ghost_ctr = 0

    def __init__(self, default_ttl: TTL | None = 0) -> None:
        self.default_ttl = default_ttl

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
                self._pending.append((current[_KEY], current[_VALUE], cause))
        return current

    def _flush(self) -> None:
        """Tell on_evict what left the table, outside the lock; each exception is logged."""
        batch, self._pending = self._pending, []  # one bytecode swap each: no lock needed
        listener = self._on_evict
        for key, value, cause in batch:
            if listener is not None:
                _notify(listener, key, value, cause)

    def _find_live(self, key: Hashable) -> list[Any] | None:
        entry = self._lookup(key)
        if entry is None:
            return None
        expires = entry[1]
        if expires and expires <= now_ns():
            # Removing an expired entry changes nothing anyone can see: no version bump.
            self._expired += 1
            dead = self._pop_entry(key, entry, EXPIRED)  # noqa: F841 - released on return, after the table is consistent
            return None
        return entry

    def _touch(self, entry: list[Any]) -> None:
        if entry[_POL] & _POL_FREQ != _POL_FREQ:
            entry[_POL] += 1

    def _put(self, key: Hashable, value: Any, ttl_ns: int) -> None:
        if ttl_ns:
            now = now_ns()
            self._store(key, value, now + ttl_ns, now)
        else:
            self._store(key, value, 0, 0)

    def _store(self, key: Hashable, value: Any, expires: int, now: int, written: int = -1, origin: int = 0) -> None:
        """Store key with an absolute expiry (0: never); now is the clock, or 0 if not read yet.

        A table that tracks write times records written as the entry's stamp
        (-1: the clock's next; see ``_sync_py``), a syncing one origin (0:
        written here; else a peer's, merged).
        """
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
            if not (old and old <= (now or now_ns())):
                self._changed()
                old_value = entry[0]
                entry[0] = value
                entry[1] = expires
                entry[2] = written
                self._puts += 1
                if expires and expires < self._min_expires:
                    self._min_expires = expires
                if self._on_evict is not None:
                    self._pending.append((entry[_KEY], old_value, REPLACED))
                if self._bounded:
                    self._touch(entry)
                    self._weight += w - entry[_WEIGHT]
                    entry[_WEIGHT] = w
                    self._make_room(entry)
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
            self._make_room(entry)
        del old_value  # released last, as the compiled table does

    def _delete(self, key: Hashable) -> bool:
        entry = self._lookup(key)
        if entry is None:
            return False
        expires = entry[1]
        live = not expires or expires > now_ns()
        dead = self._pop_entry(key, entry, DELETED if live else EXPIRED)
        if dead is None:
            return False
        if live:
            self._version += 1
            self._deletes += 1
            if self._sync:  # a local delete: its tombstone goes out with the next delta
                self._tombs[key] = (self._stamp(-1, 0), 0)
        else:
            self._expired += 1
        return live

    def _purge(self, now: int = 0) -> int:
        now = now or now_ns()
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

    # -- the size bound: S3-FIFO, step for step as _table_c does it ---------------

    def _weigh(self, key: Hashable, value: Any) -> int:
        w = self._weigher(key, value)
        if isinstance(w, bool) or not isinstance(w, int):
            raise TypeError(f"weigher must return an int, got {type(w).__name__} for key {reprlib.repr(key)}")
        if w < 0:
            raise ValueError(f"weigher returned {w} for key {reprlib.repr(key)}: weights must be >= 0")
        if w > self._max_weight:
            raise ValueError(
                f"key {reprlib.repr(key)} weighs {w}, more than max_weight={self._max_weight}: it can't be stored"
            )
        return int(w)

    def _policy_insert(self, entry: list[Any], h: int) -> None:
        if self._ghost_buckets and self._ghost_take(h):
            entry[_POL] = _POL_MAIN
        else:
            self._nsmall += 1
        self._weight += entry[_WEIGHT]
        self._seq.append(entry)

    def _unlink(self, entry: list[Any]) -> None:
        if not entry[_POL] & _POL_MAIN:
            self._nsmall -= 1
        self._weight -= entry[_WEIGHT]
        self._seq[entry[_POS]] = None
        if len(self._seq) > 64 and len(self._seq) > 3 * len(self._data):
            self._compact()

    def _compact(self) -> None:
        # Drops the holes; each hand keeps its place in the order, as a resize does in _table_c.
        seq: list[list[Any] | None] = []
        small_hand = main_hand = -1
        for i, entry in enumerate(self._seq):
            if i == self._small_hand:
                small_hand = len(seq)
            if i == self._main_hand:
                main_hand = len(seq)
            if entry is not None:
                entry[_POS] = len(seq)
                seq.append(entry)
        self._small_hand = small_hand if small_hand >= 0 else len(seq)
        self._main_hand = main_hand if main_hand >= 0 else len(seq)
        self._seq = seq

    def _ghost_slot(self, h: int) -> tuple[int, int]:
        m = ((h & _MASK64) * _GOLDEN) & _MASK64
        fp = m & 0xFFFFFFFF
        return 4 * ((m >> 32) & (self._ghost_buckets - 1)), fp or 1

    def _ghost_add(self, h: int) -> None:
        if not self._ghost_buckets:
            want = self._max_size if self._max_size != _NO_BOUND else len(self._data)
            slots = 64
            while slots < want // 2:
                slots <<= 1
            self._ghost = [0] * slots
            self._ghost_buckets = slots // 4
        base, fp = self._ghost_slot(h)
        bucket = self._ghost[base : base + 4]
        if fp in bucket:
            return
        if 0 in bucket:
            self._ghost[base + bucket.index(0)] = fp
            return
        self._ghost[base + (self._ghost_ctr & 3)] = fp
        self._ghost_ctr = (self._ghost_ctr + 1) & 0xFFFFFFFF

    def _ghost_take(self, h: int) -> bool:
        base, fp = self._ghost_slot(h)
        for j in range(base, base + 4):
            if self._ghost[j] == fp:
                self._ghost[j] = 0
                return True
        return False

    def _small_victim(self, protect: list[Any], now: int) -> list[Any] | None:
        seq = self._seq
        i = self._small_hand
        advancing = True
        while i < len(seq):
            entry = seq[i]
            i += 1
            if entry is None or entry[_POL] & _POL_MAIN:
                if advancing:
                    self._small_hand = i
                continue
            if entry is protect:
                advancing = False
                continue
            if entry[_EXPIRES] and entry[_EXPIRES] <= now:
                return entry
            if entry[_POL] & _POL_FREQ:
                entry[_POL] = _POL_MAIN
                self._nsmall -= 1
                if advancing:
                    self._small_hand = i
                continue
            return entry
        return None

    def _main_victim(self, protect: list[Any], now: int) -> list[Any] | None:
        nmain = len(self._data) - self._nsmall
        pos = protect[_POS]
        if protect[_POL] & _POL_MAIN and pos < len(self._seq) and self._seq[pos] is protect:
            nmain -= 1
        if nmain <= 0:
            return None
        seq = self._seq
        i = self._main_hand
        spared = 0
        for _ in range((_SECOND_CHANCES + 2) * (len(seq) + 1)):
            if i >= len(seq):
                i = 0
            entry = seq[i]
            i += 1
            if entry is None or not entry[_POL] & _POL_MAIN or entry is protect:
                continue
            expired = entry[_EXPIRES] and entry[_EXPIRES] <= now
            if entry[_POL] & _POL_FREQ and spared < _SECOND_CHANCES and not expired:
                entry[_POL] -= 1
                spared += 1
                continue
            self._main_hand = i
            return entry
        return None

    def _evict_one(self, protect: list[Any], now: int) -> list[Any]:
        cap = self._max_size if self._max_size != _NO_BOUND else len(self._data)
        victim = None
        if self._nsmall and (self._nsmall * _SMALL_SHARE >= cap or self._nsmall == len(self._data)):
            victim = self._small_victim(protect, now)
        if victim is None:
            victim = self._main_victim(protect, now)
            if victim is None:
                victim = self._small_victim(protect, now)
                if victim is None:
                    raise RuntimeError("cache over its bound with no entry to evict (a bug: please report it)")
        expired = bool(victim[_EXPIRES] and victim[_EXPIRES] <= now)
        small = not victim[_POL] & _POL_MAIN
        self._pop_entry(victim[_KEY], victim, EXPIRED if expired else EVICTED)
        if expired:
            self._expired += 1
        else:
            self._evicted += 1
            self._version += 1
            if small:
                self._ghost_add(victim[_HASH])
        return victim

    def _make_room(self, protect: list[Any]) -> None:
        """Free entries (never protect) until the table fits its bounds (see _table_c's _make_room)."""
        if len(self._data) <= self._max_size and self._weight <= self._max_weight:
            return
        now = now_ns()
        cap = self._max_size if self._max_size != _NO_BOUND else len(self._data)
        grave = []  # released once the table is consistent
        if now >= self._min_expires and self._since_purge >= max(cap // _PURGE_SHARE, 1):
            self._purge(now)
        self._since_purge += 1
        while len(self._data) > self._max_size or self._weight > self._max_weight:
            grave.append(self._evict_one(protect, now))

    # -- public API ------------------------------------------------------------

    def put(self, key: Hashable, value: Any, ttl: TTL | None = None) -> None:
        """Store value under key.

        Args:
            key: any hashable.
            value: any object, stored by reference.
            ttl: seconds (int or float) or a timedelta; None uses the default
                TTL, 0 means never expire.

        Raises:
            TypeError: key unhashable, or ttl of the wrong type.
            ValueError: ttl negative, NaN or too large.
        """
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
                raise KeyError(key)
            self._hits += 1
            if self._bounded:
                self._touch(entry)
            return entry[0]

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
            now = now_ns()
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
            now = now_ns()
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
            if self._min_expires != _INT64_MAX and self._min_expires <= now_ns():
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
                now = now_ns()
                self._pending.extend(
                    (k, e[_VALUE], EXPIRED if e[_EXPIRES] and e[_EXPIRES] <= now else DELETED) for k, e in old.items()
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
                now = now_ns()
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
            if expires and expires <= now_ns():
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

    # -- bounds and the listener ----------------------------------------------

    def _set_bound(self, max_size: int | None = None, max_weight: int | None = None, weigher: Any = None) -> None:
        """Bound an empty table: at most max_size entries, at most max_weight in weight.

        weigher(key, value) -> int gives each entry's weight; it is required
        with max_weight and allowed only with it. None lifts a bound.
        """
        if self._data:
            raise ValueError("bounds can only be set on an empty cache")
        size = _bound_arg("max_size", max_size, _MAX_SIZE, _NO_BOUND)
        weight = _bound_arg("max_weight", max_weight, _INT64_MAX, _INT64_MAX)
        if max_weight is not None:
            if weigher is None:
                raise TypeError("max_weight needs a weigher(key, value) -> int")
            if not callable(weigher):
                raise TypeError(f"weigher must be callable, got {type(weigher).__name__}")
        elif weigher is not None:
            raise TypeError("a weigher needs max_weight")
        with self._lock:
            self.clear()
            self._max_size = size
            self._max_weight = weight
            self._weigher = weigher
            self._bounded = size != _NO_BOUND or weight != _INT64_MAX
            self._ghost = []
            self._ghost_buckets = 0
            self._reset_policy()

    @property
    def max_size(self) -> int | None:
        """The most entries the cache holds (None: no bound)."""
        return None if self._max_size == _NO_BOUND else self._max_size

    @property
    def max_weight(self) -> int | None:
        """The most total weight the cache holds (None: no bound)."""
        return None if self._max_weight == _INT64_MAX else self._max_weight

    @property
    def weigher(self) -> Any:
        """weigher(key, value) -> int, the weight of an entry (None without max_weight)."""
        return self._weigher

    @property
    def on_evict(self) -> Any:
        """on_evict(key, value, cause), told of every entry that leaves the cache, or None.

        cause is "expired", "evicted" (by the size bound), "deleted" (delete,
        del, pop, clear) or "replaced" (overwritten: value is the old one). It
        is called once the cache is consistent again, outside its lock, so it
        may use the cache; an exception it raises is logged (logger
        "godistcache") and dropped. Set it before threads share the cache: this
        core changes its lock when a listener comes or goes.
        """
        return self._on_evict

    @on_evict.setter
    def on_evict(self, listener: Any) -> None:
        if listener is not None and not callable(listener):
            raise TypeError(f"on_evict must be callable or None, got {type(listener).__name__}")
        with self._lock:
            self._on_evict = listener
            self._lock = threading.RLock() if listener is None else _FlushingLock(self)

    def __sizeof__(self) -> int:
        return object.__sizeof__(self) + sys.getsizeof(self._data) + 72 * len(self._data)
