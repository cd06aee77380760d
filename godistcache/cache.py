"""``Cache``: the object users hold.

``Cache`` subclasses the hash table (compiled when available), so ``get``,
``put``, ``put_safe``, ``cache[key]`` and ``key in cache`` land directly on
compiled methods with no Python frame in between. This module adds only the
cold methods: views, ``repr`` and the rest of the mapping protocol.

Expiry uses Unix wall time in nanoseconds (unless the cache has a ``timer=``), so an expiry time means the same
thing in a snapshot moved to another process or machine. Every read compares
the entry's expiry with the clock: an expired entry is never returned, and is
freed when it is met (or by :meth:`Cache.expire`).

Each feature comes from a module of its own: sealed values
(:meth:`Cache.put_crypt`, :meth:`Cache.get_crypt`) from :mod:`.sealed`,
snapshots from :mod:`._snapshot_methods`, S3 bootstrap and persistence from
:mod:`.sync`, memoization from :mod:`.memo`.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Callable, ItemsView, Iterator, KeysView, MutableMapping, ValuesView
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._contract import CipherKeys, CoreTable
from ._core.seal import own_sealed_methods
from ._core.table import HOT_METHODS, TTL, Table, own_methods
from ._snapshot_methods import SnapshotMethods
from .errors import no_keyring
from .memo import MemoMethods
from .sealed import SealedMethods, as_keyring
from .sync import SyncMethods

__all__ = ["Cache", "CacheStats", "CipherKeys", "TTL"]

_MISSING: Any = object()

if TYPE_CHECKING:
    _MutableMapping = MutableMapping[Any, Any]
else:
    # Unsubscripted at run time: a subscripted base adds __orig_bases__, and the API
    # reference (pdoc) then takes Cache's own methods (get, put, put_crypt...) for inherited ones.
    _MutableMapping = MutableMapping


class _Restorable(CoreTable, Protocol):
    """A core table that takes its entries back from a pickle's state (as Cache does)."""

    def __setstate__(self, state: Any) -> None: ...


_T = TypeVar("_T", bound=_Restorable)


class _MappingTable(CoreTable, Protocol):
    """A core table that is a mapping (as Cache is): what the views need."""

    def __iter__(self) -> Iterator[Any]: ...
    def __getitem__(self, key: Any) -> Any: ...
    def __contains__(self, key: object) -> bool: ...


_M = TypeVar("_M", bound=_MappingTable)


class _KeysView(KeysView[Any]):
    __slots__ = ()
    _mapping: CoreTable

    def __iter__(self) -> Iterator[Any]:
        return self._mapping._iter(0)


class _ValuesView(ValuesView[Any]):
    __slots__ = ()
    _mapping: CoreTable

    def __iter__(self) -> Iterator[Any]:
        return self._mapping._iter(1)


class _ItemsView(ItemsView[Any, Any]):
    __slots__ = ()
    _mapping: CoreTable

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._mapping._iter(2)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        v = self._mapping.get(key, _MISSING)
        return v is not _MISSING and (v is value or v == value)


def _empty(
    cls: type[_T],
    default_ttl_ns: int,
    keyring: Any = None,
    bounds: tuple[Any, Any, Any] = (None, None, None),
    timer: Callable[[], Any] | None = None,
) -> _T:
    """An empty cache of cls with this default TTL, keyring, bounds (max_size, max_weight, weigher) and timer.

    For copies and unpickling. Not cls(): Cache() reads the environment,
    which a copy or an unpickled cache must not do.
    """
    table = cls.__new__(cls)
    table._set_default_ttl_ns(default_ttl_ns)
    if timer is not None:
        table._set_timer(timer)  # before any entry: their expiry times are in its frame
    if bounds != (None, None, None):
        table._set_bound(*bounds)
    if hasattr(cls, "_keyring"):  # the class has the slot (Cache does)
        setattr(table, "_keyring", keyring)  # noqa: B010  (cls is any core table class; only some have the slot)
    return table


def _attributes(table: Any) -> dict[str, Any]:
    """A subclass instance's own attributes (its ``__dict__``; Cache itself has none)."""
    return getattr(table, "__dict__", None) or {}


def _bounds(table: CoreTable) -> tuple[Any, Any, Any]:
    return (table.max_size, table.max_weight, table.weigher)


@dataclass(frozen=True)
class CacheStats:
    """What :meth:`Cache.stats` returns: counts since the cache was created.

    Attributes:
        hits, misses: ``get`` and ``cache[key]`` calls that found a live entry, and that did not.
        puts: entries written, new or replaced (``put``, ``put_safe``, ``cache[key] = v``, loads).
        deletes: live entries deleted (``delete``, ``del``, ...; ``clear()`` is not counted).
        expired: expired entries freed (when met, by ``expire()``, ``len()``, the sweeper, or
            in place of a live entry when the cache was full).
        evicted: live entries evicted to respect ``max_size`` or ``max_weight``.
        size: live entries now.
        weight: their total weight (0 without ``max_weight``).
    """

    hits: int
    misses: int
    puts: int
    deletes: int
    expired: int
    evicted: int
    size: int
    weight: int = 0

    @property
    def hit_ratio(self) -> float:
        """hits / (hits + misses), or 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class _CacheMethods:
    """The cold half of :class:`Cache`, shared by every core it can sit on."""

    __slots__ = ()

    def keys(self: _M) -> KeysView[Any]:
        """A view of the live keys, in insertion order."""
        return _KeysView(self)

    def values(self: _M) -> ValuesView[Any]:
        """A view of the live values, in insertion order."""
        return _ValuesView(self)

    def items(self: _M) -> ItemsView[Any, Any]:
        """A view of the live (key, value) pairs, in insertion order."""
        return _ItemsView(self)

    # -- the names cachetools users reach for ----------------------------------------

    @property
    def maxsize(self: CoreTable) -> int | None:
        """cachetools' name for the bound: ``max_weight`` when set, else ``max_size`` (None: unbounded). Read-only."""
        return self.max_weight if self.max_weight is not None else self.max_size

    @property
    def currsize(self: CoreTable) -> int:
        """cachetools' name for what the bound counts: the total weight with ``max_weight``, else ``len()``."""
        return self._weight if self.max_weight is not None else len(self)

    def getsizeof(self: CoreTable, value: Any) -> int:
        """cachetools' size of a value: the weigher's, called with key None, when there is one; else 1."""
        weigher = self.weigher
        return 1 if weigher is None else int(weigher(None, value))

    def stats(self: CoreTable) -> CacheStats:
        """Counts of hits, misses, puts, deletes, expired and evicted entries since the cache was created.

        The core keeps them as plain integers at every call, at no measurable
        cost; reading them takes one ``len()``.
        """
        size = len(self)  # frees expired entries first, and counts them
        return CacheStats(
            self._hits, self._misses, self._puts, self._deletes, self._expired, self._evicted, size, self._weight
        )

    def copy(self: _T) -> _T:
        """A shallow copy: same entries, expiry times, default TTL, bounds, timer and keyring; no on_evict listener.

        A subclass's instance attributes (its ``__dict__``) are copied too, shallowly.
        """
        new = _empty(type(self), self._default_ttl_ns, getattr(self, "_keyring", None), _bounds(self), self.timer)
        new.__setstate__((self._list(3), dict(_attributes(self))))
        return new

    __copy__ = copy

    def __deepcopy__(self: _T, memo: dict[int, Any]) -> _T:
        # The entries are copied deeply, the keyring is shared (it is immutable), the timer too (the same callable).
        new = _empty(type(self), self._default_ttl_ns, getattr(self, "_keyring", None), _bounds(self), self.timer)
        memo[id(self)] = new
        new.__setstate__(_copy.deepcopy((self._list(3), dict(_attributes(self))), memo))
        return new

    def __reduce__(self: CoreTable) -> tuple[Any, ...]:
        # The entries travel as state, restored after the new cache is in the
        # pickle memo, so a cache that holds itself pickles as a dict does.
        # Expiry times are absolute Unix ns: entries that have expired by the
        # time the pickle is loaded are not restored. A pickle never holds key
        # material: the unpickled cache has no keyring (it does not read the
        # environment either) and its sealed values stay sealed until one is
        # given, by setting cache.keyring. Bounds travel (the weigher must
        # pickle), an on_evict listener does not. A timer travels too, so it must pickle
        # (a lambda does not: pickling fails as for an unpicklable value).
        bounds = _bounds(self)
        timer = self.timer
        args: tuple[Any, ...] = (
            (type(self), self._default_ttl_ns)
            if bounds == (None, None, None) and timer is None
            else (type(self), self._default_ttl_ns, None, bounds)
        )
        if timer is not None:
            args += (timer,)
        attributes = _attributes(self)
        # A plain list of entries unless a subclass has instance attributes: pickles stay readable by 0.1.0.
        return (_empty, args, (self._list(3), dict(attributes)) if attributes else self._list(3))

    def __setstate__(self: CoreTable, state: Any) -> None:
        # state: the entries [(key, value, expires_ns)], or (entries, a subclass's instance attributes).
        entries, attributes = state if isinstance(state, tuple) else (state, None)
        if attributes:
            vars(self).update(attributes)
        for key, value, expires in entries:
            self._put_at(key, value, expires)

    def __repr__(self: CoreTable) -> str:
        # Counts only: values may be secrets and must not end up in logs.
        return f"<{type(self).__name__} entries={len(self)} default_ttl={self.default_ttl}>"


class Cache(SyncMethods, SnapshotMethods, SealedMethods, MemoMethods, _CacheMethods, Table, _MutableMapping):
    """A dict-fast local cache whose entries expire.

    Args:
        default_ttl: lifetime given to entries put without a TTL: seconds
            (int or float) or a timedelta; 0 or None means they never expire.
        cipher_key: the keys of :meth:`put_crypt` and :meth:`get_crypt`: one
            key (32 bytes, or a str of 64 hex digits, base64 of 32 bytes or
            32 ASCII characters), several oldest first (the newest seals), or
            a :class:`~godistcache.crypto.Keyring`. None: the keys in
            ``GODISTCACHE_AES_CIPHER_KEY`` if it is set, else none.
        sweep_interval: free expired entries in the background: a daemon
            thread passes over the entries every this many seconds, in
            bounded steps (see :mod:`godistcache.sweep`). None: no sweeper;
            expired entries are freed when met, by :meth:`expire` or by
            ``len()``.
        max_size: hold at most this many entries; a put beyond it evicts
            one, chosen by S3-FIFO (expired entries go first). None: no bound.
            0: hold nothing (as cachetools' maxsize=0): every put is counted
            as evicted and on_evict hears of it.
        max_weight: hold at most this much total weight, each entry weighing
            ``weigher(key, value)`` (an int from 0 to max_weight, computed once
            per put). None: no bound. Both bounds may be set.
        weigher: required with max_weight, allowed only with it.
        on_evict: ``on_evict(key, value, cause)``, called for every entry that
            leaves the cache, with cause ``"expired"``, ``"evicted"``,
            ``"deleted"`` or ``"replaced"`` (the old value), once the cache is
            consistent again, so it may use the cache. Its exceptions are
            logged, not raised. Settable later as ``cache.on_evict``.
        timer: the clock of every expiry decision of this cache, as
            cachetools' ``timer=``: a callable returning seconds (int or
            float, in any frame: Unix time, ``time.monotonic``, a fake a test
            moves) or a datetime (aware; naive is local time, as
            ``datetime.timestamp()`` reads it). TTLs count from its reading,
            ``expire_at=`` is read in its frame, and so are the expiry times
            of snapshots the cache saves and loads (a timer returning Unix
            time keeps files interchangeable with caches without one). Its
            exceptions propagate, with the cache unchanged. None (the
            default): Unix time, read in C. Read-only as ``cache.timer``. A
            cache with a timer can't ``sync_with_s3``.

    Raises:
        TypeError, ValueError: default_ttl is not a valid TTL, sweep_interval
            is not positive, or a bound is not a positive int (or the weigher
            is missing, or given without max_weight), or timer is not callable.
            A timer's return that is not a time (not a real number or a
            datetime; NaN, infinite, or past the int64 range of ns) raises them
            where the cache reads it.
        ConfigurationError: a cipher key (given or from the environment) is
            malformed.

    Every method is atomic with respect to other threads (under the GIL).
    Iterating while the set of keys changes raises RuntimeError, as a dict
    does; entries that expire during iteration are skipped.

    Example:
        >>> cache = Cache(default_ttl=60)
        >>> cache.put("a", 1)
        >>> cache["b"] = 2
        >>> cache.get("a"), "b" in cache, len(cache)
        (1, True, 2)
    """

    __slots__ = ("_flights", "_keyring", "_sweeper")

    def __init__(
        self,
        default_ttl: TTL | None = 0,
        *,
        cipher_key: CipherKeys | None = None,
        sweep_interval: float | None = None,
        max_size: int | None = None,
        max_weight: int | None = None,
        weigher: Callable[[Any, Any], int] | None = None,
        on_evict: Callable[[Any, Any, str], object] | None = None,
        timer: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(default_ttl, timer=timer)
        if max_size is not None or max_weight is not None or weigher is not None:
            self._set_bound(max_size, max_weight, weigher)
        if on_evict is not None:
            self.on_evict = on_evict
        self._keyring = as_keyring(cipher_key)
        if sweep_interval is not None:
            from .sweep import Sweeper

            self._sweeper = Sweeper(self, sweep_interval)

    @property
    def sweeper(self) -> Any:
        """The :class:`~godistcache.sweep.Sweeper` started by ``sweep_interval``, or None."""
        return getattr(self, "_sweeper", None)


# The calls users make in hot loops, made as fast on Cache as on the bare table.
own_methods(Cache, HOT_METHODS)
own_sealed_methods(Cache, no_keyring)
