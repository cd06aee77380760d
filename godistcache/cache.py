"""``Cache``: the object users hold.

``Cache`` subclasses the hash table (compiled when available), so ``get``,
``put``, ``put_safe``, ``cache[key]`` and ``key in cache`` land directly on
compiled methods with no Python frame in between. This module adds only the
cold methods: views, ``repr`` and the rest of the mapping protocol.

Expiry uses Unix wall time in nanoseconds, so an expiry time means the same
thing in a snapshot moved to another process or machine. Every read compares
the entry's expiry with the clock: an expired entry is never returned, and is
freed when it is met (or by :meth:`Cache.expire`).

Sealed values (:meth:`Cache.put_crypt`, :meth:`Cache.get_crypt`) come from
:mod:`.sealed`, memoization from :mod:`.memo`.
"""

from __future__ import annotations

import copy as _copy
import os
from collections.abc import Callable, ItemsView, Iterator, KeysView, MutableMapping, ValuesView
from dataclasses import dataclass
from typing import IO, Any

from . import snapshot as _snapshot
from ._core.seal import own_sealed_methods
from ._core.table import HOT_METHODS, TTL, Table, own_methods
from ._env import default_instance_id
from .crypto import Keyring
from .memo import MemoMethods
from .persist import Persister, Store
from .sealed import CipherKeys, SealedMethods, as_keyring, no_keyring
from .snapshot import Progress

__all__ = ["Cache", "CacheStats", "CipherKeys", "TTL"]

_MISSING: Any = object()


class _KeysView(KeysView):  # type: ignore[type-arg]
    __slots__ = ()
    _mapping: Table

    def __iter__(self) -> Iterator[Any]:
        return self._mapping._iter(0)


class _ValuesView(ValuesView):  # type: ignore[type-arg]
    __slots__ = ()
    _mapping: Table

    def __iter__(self) -> Iterator[Any]:
        return self._mapping._iter(1)


class _ItemsView(ItemsView):  # type: ignore[type-arg]
    __slots__ = ()
    _mapping: Table

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._mapping._iter(2)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        v = self._mapping.get(key, _MISSING)
        return v is not _MISSING and (v is value or v == value)


def _empty(
    cls: type[Table], default_ttl_ns: int, keyring: Any = None, bounds: tuple[Any, Any, Any] = (None, None, None)
) -> Table:
    """An empty cache of cls with this default TTL, keyring and bounds (max_size, max_weight, weigher).

    For copies and unpickling. Not cls(): Cache() reads the environment,
    which a copy or an unpickled cache must not do.
    """
    table = cls.__new__(cls)
    table._set_default_ttl_ns(default_ttl_ns)
    if bounds != (None, None, None):
        table._set_bound(*bounds)
    if hasattr(cls, "_keyring"):  # the class has the slot (Cache does)
        table._keyring = keyring  # type: ignore[attr-defined]
    return table


def _bounds(table: Table) -> tuple[Any, Any, Any]:
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

    def keys(self) -> KeysView[Any]:
        """A view of the live keys, in insertion order."""
        return _KeysView(self)  # type: ignore[arg-type]

    def values(self) -> ValuesView[Any]:
        """A view of the live values, in insertion order."""
        return _ValuesView(self)  # type: ignore[arg-type]

    def items(self) -> ItemsView[Any, Any]:
        """A view of the live (key, value) pairs, in insertion order."""
        return _ItemsView(self)  # type: ignore[arg-type]

    def stats(self) -> CacheStats:
        """Counts of hits, misses, puts, deletes, expired and evicted entries since the cache was created.

        The core keeps them as plain integers at every call, at no measurable
        cost; reading them takes one ``len()``.
        """
        table: Any = self
        size = len(table)  # frees expired entries first, and counts them
        return CacheStats(
            table._hits, table._misses, table._puts, table._deletes, table._expired, table._evicted, size, table._weight
        )

    def copy(self) -> Any:
        """A shallow copy: same entries, expiry times, default TTL, bounds and keyring; no on_evict listener."""
        table: Table = self  # type: ignore[assignment]
        new = _empty(type(table), table._default_ttl_ns, getattr(self, "_keyring", None), _bounds(table))
        new.__setstate__(list(table._iter(3)))  # type: ignore[attr-defined]
        return new

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        # The entries are copied deeply, the keyring is shared (it is immutable).
        table: Table = self  # type: ignore[assignment]
        new = _empty(type(table), table._default_ttl_ns, getattr(self, "_keyring", None), _bounds(table))
        memo[id(self)] = new
        new.__setstate__(_copy.deepcopy(list(table._iter(3)), memo))  # type: ignore[attr-defined]
        return new

    def __reduce__(self) -> tuple[Any, ...]:
        # The entries travel as state, restored after the new cache is in the
        # pickle memo, so a cache that holds itself pickles as a dict does.
        # Expiry times are absolute Unix ns: entries that have expired by the
        # time the pickle is loaded are not restored. A pickle never holds key
        # material: the unpickled cache has no keyring (it does not read the
        # environment either) and its sealed values stay sealed until one is
        # given, by setting cache.keyring. Bounds travel (the weigher must
        # pickle), an on_evict listener does not.
        table: Table = self  # type: ignore[assignment]
        bounds = _bounds(table)
        args = (type(table), table._default_ttl_ns) if bounds == (None, None, None) else (type(table), table._default_ttl_ns, None, bounds)
        return (_empty, args, list(table._iter(3)))

    def __setstate__(self, entries: list[tuple[Any, Any, int]]) -> None:
        table: Table = self  # type: ignore[assignment]
        for key, value, expires in entries:
            table._put_at(key, value, expires)

    def __repr__(self) -> str:
        # Counts only: values may be secrets and must not end up in logs.
        table: Table = self  # type: ignore[assignment]
        return f"<{type(self).__name__} entries={len(table)} default_ttl={table.default_ttl}>"


def _instance_id(given: str | None) -> str:
    """The name a writer puts in its snapshots: given, else ``GODISTCACHE_INSTANCE_ID``, else the host name."""
    return default_instance_id() if given is None else given


class _SnapshotMethods:
    """Snapshot files (:mod:`godistcache.snapshot`), for a cache class with ``_keyring``."""

    __slots__ = ()

    _keyring: Keyring | None

    def save(
        self,
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
        return _snapshot.save(
            self, path, keyring=keyring if seal else None, allow_pickle=allow_pickle, instance_id=_instance_id(instance_id), progress=progress
        )

    def load(
        self,
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
        return _snapshot.load_into(
            self, path, merge=merge, allow_pickle=allow_pickle, require_sealed=require_sealed, progress=progress
        )

    def export_json(self, out: IO[str], *, instance_id: str | None = None) -> int:
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
        return _snapshot.dump_json(self, out, _instance_id(instance_id))

    def persist_to_s3(self, store: Store, interval: float = 900.0, **options: Any) -> Persister:
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
        from .persist import Persister

        self._track_writes()  # type: ignore[attr-defined]
        return Persister(self, store, interval, **options)

    @classmethod
    def from_s3(
        cls,
        store: Any,
        default_ttl: TTL | None = 0,
        *,
        cipher_key: CipherKeys | None = None,
        merge_instances: bool = False,
        allow_pickle: bool = False,
        require_sealed: bool | None = None,
    ) -> Any:
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
        import tempfile

        cache = cls(default_ttl, cipher_key=cipher_key)  # type: ignore[call-arg]
        cache._track_writes()  # type: ignore[attr-defined]  # the entries keep their write times, for this cache's own uploads and merges
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
            paths.sort(key=_snapshot.created_ns)
            for path in paths:
                _snapshot.load_into(
                    cache, path, merge=True, newer=True, allow_pickle=allow_pickle, require_sealed=require_sealed
                )
        return cache

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        default_ttl: TTL | None = 0,
        *,
        cipher_key: CipherKeys | None = None,
        allow_pickle: bool = False,
        require_sealed: bool | None = None,
        progress: Progress | None = None,
    ) -> Any:
        """A new cache holding the entries of a snapshot file.

        ``default_ttl`` and ``cipher_key`` are as for the constructor (the
        keyring opens a sealed file and is the new cache's keyring); the other
        arguments are as for :meth:`load`.
        """
        cache = cls(default_ttl, cipher_key=cipher_key)  # type: ignore[call-arg]
        cache.load(path, allow_pickle=allow_pickle, require_sealed=require_sealed, progress=progress)
        return cache


class Cache(_SnapshotMethods, SealedMethods, MemoMethods, _CacheMethods, Table, MutableMapping):  # type: ignore[type-arg]
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
        max_weight: hold at most this much total weight, each entry weighing
            ``weigher(key, value)`` (an int from 0 to max_weight, computed once
            per put). None: no bound. Both bounds may be set.
        weigher: required with max_weight, allowed only with it.
        on_evict: ``on_evict(key, value, cause)``, called for every entry that
            leaves the cache, with cause ``"expired"``, ``"evicted"``,
            ``"deleted"`` or ``"replaced"`` (the old value), once the cache is
            consistent again, so it may use the cache. Its exceptions are
            logged, not raised. Settable later as ``cache.on_evict``.

    Raises:
        TypeError, ValueError: default_ttl is not a valid TTL, sweep_interval
            is not positive, or a bound is not a positive int (or the weigher
            is missing, or given without max_weight).
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
    ) -> None:
        super().__init__(default_ttl)
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
