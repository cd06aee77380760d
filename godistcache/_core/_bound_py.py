"""The size bound of the pure-Python table: S3-FIFO, step for step as ``_table_c`` does it.

:class:`BoundMethods` is a mixin of ``_table_py.Table``: ``max_size``,
``max_weight`` and ``weigher``, ``_set_bound`` (part of the table's contract),
and the policy the table calls as entries come, are read and go (``_touch``,
``_weigh``, ``_policy_insert``, ``_unlink``, ``_make_room``). It declares the
types of its state but not the slots: ``Table`` declares every slot, these
included, so its layout is the one it always had. Its methods take ``self`` as
:class:`_Host`, what they use of the table (mypy checks ``Table`` against it at
every call): typed as the mixin, whose ``__slots__`` is empty, their
assignments would be refused.

A bounded table keeps its entries in insertion order in ``_seq`` (a removed
entry leaves a hole until ``_compact``), each entry carrying the policy's four
fields after the table's four (``POL`` to ``HASH``). New keys enter the small
queue, or the main queue when the ghost filter remembers them (keys evicted
from the small queue); reads and overwrites are counted in ``POL``, and an entry
used while in the small queue moves to the main queue when the small hand reaches it. The
comment above ``Table._weigh`` in ``_table_c.pyx`` gives the reasons and the
numbers.
"""

from __future__ import annotations

import operator
import reprlib
import sys
from collections.abc import Hashable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ._listener_py import EVICTED, EXPIRED

__all__ = ["EXPIRES", "HASH", "KEY", "POL", "POS", "VALUE", "WEIGHT", "WRITTEN", "BoundMethods"]

#: An entry's fields, by index: the table's four, then a bounded table's four (the policy's).
VALUE, EXPIRES, WRITTEN, KEY, POL, WEIGHT, POS, HASH = range(8)

_INT64_MAX = (1 << 63) - 1
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


def _bound_arg(name: str, value: Any, limit: int, unbounded: int, minimum: int = 1) -> int:
    """A bound argument checked: an int from minimum to limit - 1, or None for unbounded."""
    if value is None:
        return unbounded
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    n = operator.index(value)
    if n < minimum or n >= limit:
        raise ValueError(f"{name} must be between {minimum} and {limit - 1}, got {value!r}")
    return n


class _Host(Protocol):
    """What the bound's methods use of the table they are mixed into, ``_table_py.Table``, and of each other."""

    _data: dict[Hashable, list[Any]]
    _min_expires: int
    _expired: int
    _version: int

    @property
    def _lock(self) -> AbstractContextManager[Any]: ...
    def _pop_entry(self, key: Hashable, entry: list[Any], cause: str) -> list[Any] | None: ...
    def _purge(self, now: int = 0) -> int: ...
    def _now(self) -> int: ...

    _timer: Any

    def clear(self) -> None: ...

    _bounded: bool
    _evicted: int
    _ghost: list[int]
    _ghost_buckets: int
    _ghost_ctr: int
    _main_hand: int
    _max_size: int
    _max_weight: int
    _nsmall: int
    _seq: list[list[Any] | None]
    _since_purge: int
    _small_hand: int
    _weigher: Any
    _weight: int

    def _reset_policy(self) -> None: ...
    def _compact(self) -> None: ...
    def _ghost_slot(self, h: int) -> tuple[int, int]: ...
    def _ghost_add(self, h: int) -> None: ...
    def _ghost_take(self, h: int) -> bool: ...
    def _small_victim(self, protect: list[Any], now: int) -> list[Any] | None: ...
    def _main_victim(self, protect: list[Any], now: int) -> list[Any] | None: ...
    def _evict_one(self, protect: list[Any], now: int) -> list[Any]: ...


class BoundMethods:
    """The size bound, mixed into ``_table_py.Table`` (S3-FIFO; see the module docstring)."""

    __slots__ = ()

    # The bound's state, in Table's slots.
    _bounded: bool
    _evicted: int  # entries evicted by the size bound
    _ghost: list[int]  # fingerprints of keys evicted from the small queue, buckets of 4
    _ghost_buckets: int
    _ghost_ctr: int
    _main_hand: int
    _max_size: int
    _max_weight: int
    _nsmall: int
    _seq: list[list[Any] | None]  # a bounded table's entries in insertion order; None: removed
    _since_purge: int
    _small_hand: int
    _weigher: Any
    _weight: int

    def _init_bound(self: _Host) -> None:
        """Start unbounded (``Table.__new__``)."""
        self._bounded = False
        self._evicted = 0
        self._ghost = []
        self._ghost_buckets = 0
        self._ghost_ctr = 0
        self._max_size = _NO_BOUND
        self._max_weight = _INT64_MAX
        self._weigher = None
        self._reset_policy()

    def _reset_policy(self: _Host) -> None:
        self._seq = []
        self._nsmall = 0
        self._small_hand = 0
        self._main_hand = 0
        self._since_purge = _NO_PURGE_YET
        self._weight = 0
        self._ghost = [0] * len(self._ghost)
        self._ghost_ctr = 0

    def _touch(self: _Host, entry: list[Any]) -> None:
        if entry[POL] & _POL_FREQ != _POL_FREQ:
            entry[POL] += 1

    def _weigh(self: _Host, key: Hashable, value: Any) -> int:
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

    def _policy_insert(self: _Host, entry: list[Any], h: int) -> None:
        if self._ghost_buckets and self._ghost_take(h):
            entry[POL] = _POL_MAIN
        else:
            self._nsmall += 1
        self._weight += entry[WEIGHT]
        self._seq.append(entry)

    def _unlink(self: _Host, entry: list[Any]) -> None:
        if not entry[POL] & _POL_MAIN:
            self._nsmall -= 1
        self._weight -= entry[WEIGHT]
        self._seq[entry[POS]] = None
        if len(self._seq) > 64 and len(self._seq) > 3 * len(self._data):
            self._compact()

    def _compact(self: _Host) -> None:
        # Drops the holes; each hand keeps its place in the order, as a resize does in _table_c.
        seq: list[list[Any] | None] = []
        small_hand = main_hand = -1
        for i, entry in enumerate(self._seq):
            if i == self._small_hand:
                small_hand = len(seq)
            if i == self._main_hand:
                main_hand = len(seq)
            if entry is not None:
                entry[POS] = len(seq)
                seq.append(entry)
        self._small_hand = small_hand if small_hand >= 0 else len(seq)
        self._main_hand = main_hand if main_hand >= 0 else len(seq)
        self._seq = seq

    def _ghost_slot(self: _Host, h: int) -> tuple[int, int]:
        m = ((h & _MASK64) * _GOLDEN) & _MASK64
        fp = m & 0xFFFFFFFF
        return 4 * ((m >> 32) & (self._ghost_buckets - 1)), fp or 1

    def _ghost_add(self: _Host, h: int) -> None:
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

    def _ghost_take(self: _Host, h: int) -> bool:
        base, fp = self._ghost_slot(h)
        for j in range(base, base + 4):
            if self._ghost[j] == fp:
                self._ghost[j] = 0
                return True
        return False

    def _small_victim(self: _Host, protect: list[Any], now: int) -> list[Any] | None:
        seq = self._seq
        i = self._small_hand
        advancing = True
        while i < len(seq):
            entry = seq[i]
            i += 1
            if entry is None or entry[POL] & _POL_MAIN:
                if advancing:
                    self._small_hand = i
                continue
            if entry is protect:
                advancing = False
                continue
            if entry[EXPIRES] and entry[EXPIRES] <= now:
                return entry
            if entry[POL] & _POL_FREQ:
                entry[POL] = _POL_MAIN
                self._nsmall -= 1
                if advancing:
                    self._small_hand = i
                continue
            return entry
        return None

    def _main_victim(self: _Host, protect: list[Any], now: int) -> list[Any] | None:
        nmain = len(self._data) - self._nsmall
        pos = protect[POS]
        if protect[POL] & _POL_MAIN and pos < len(self._seq) and self._seq[pos] is protect:
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
            if entry is None or not entry[POL] & _POL_MAIN or entry is protect:
                continue
            expired = entry[EXPIRES] and entry[EXPIRES] <= now
            if entry[POL] & _POL_FREQ and spared < _SECOND_CHANCES and not expired:
                entry[POL] -= 1
                spared += 1
                continue
            self._main_hand = i
            return entry
        return None

    def _evict_one(self: _Host, protect: list[Any], now: int) -> list[Any]:
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
        expired = bool(victim[EXPIRES] and victim[EXPIRES] <= now)
        small = not victim[POL] & _POL_MAIN
        self._pop_entry(victim[KEY], victim, EXPIRED if expired else EVICTED)
        if expired:
            self._expired += 1
        else:
            self._evicted += 1
            self._version += 1
            if small:
                self._ghost_add(victim[HASH])
        return victim

    def _make_room(self: _Host, protect: list[Any], now: int = 0) -> None:
        """Free entries (never protect) until the table fits its bounds (see _table_c's _make_room).

        now: the table's clock, or 0 if not read yet.
        """
        if len(self._data) <= self._max_size and self._weight <= self._max_weight:
            return
        now = now if now or self._timer is not None else self._now()
        cap = self._max_size if self._max_size != _NO_BOUND else len(self._data)
        grave = []  # released once the table is consistent
        if now >= self._min_expires and self._since_purge >= max(cap // _PURGE_SHARE, 1):
            self._purge(now)
        self._since_purge += 1
        while len(self._data) > self._max_size or self._weight > self._max_weight:
            grave.append(self._evict_one(protect, now))

    def _set_bound(
        self: _Host, max_size: int | None = None, max_weight: int | None = None, weigher: Any = None
    ) -> None:
        """Bound an empty table: at most max_size entries, at most max_weight in weight.

        weigher(key, value) -> int gives each entry's weight; it is required
        with max_weight and allowed only with it. None lifts a bound.
        """
        if self._data:
            raise ValueError("bounds can only be set on an empty cache")
        size = _bound_arg("max_size", max_size, _MAX_SIZE, _NO_BOUND, 0)
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
    def max_size(self: _Host) -> int | None:
        """The most entries the cache holds (None: no bound)."""
        return None if self._max_size == _NO_BOUND else self._max_size

    @property
    def max_weight(self: _Host) -> int | None:
        """The most total weight the cache holds (None: no bound)."""
        return None if self._max_weight == _INT64_MAX else self._max_weight

    @property
    def weigher(self: _Host) -> Any:
        """weigher(key, value) -> int, the weight of an entry (None without max_weight)."""
        return self._weigher
