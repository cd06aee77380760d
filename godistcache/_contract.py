"""The core table's internal contract, and what the feature mixins need of the assembled ``Cache``.

Both cores implement :class:`CoreTable` (``_table_c.Table`` in C,
``_table_py.Table`` in Python): besides the public mapping API, the Python
layer (``cache.py``, the snapshot modules, ``sweep.py``, ``sync.py``) uses
the underscored members below, and only these. A change to one of them is a
change to both cores. These protocols are for type checkers; nothing checks
them at run time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Optional, Protocol, Union

from ._core.table import TTL
from ._progress import Progress
from .crypto import CipherKey, Keyring

__all__ = ["CacheContract", "CipherKeys", "CoreTable"]

#: What ``cipher_key`` may be: one key, keys oldest first, or a Keyring.
CipherKeys = Union[CipherKey, Iterable[CipherKey], Keyring]


class CoreTable(Protocol):
    """The hash table with expiry, as the Python layer uses it."""

    # Counts since the table was created (Cache.stats()); _weight is the live weight.
    @property
    def _hits(self) -> int: ...
    @property
    def _misses(self) -> int: ...
    @property
    def _puts(self) -> int: ...
    @property
    def _deletes(self) -> int: ...
    @property
    def _expired(self) -> int: ...
    @property
    def _evicted(self) -> int: ...
    @property
    def _weight(self) -> int: ...

    @property
    def _default_ttl_ns(self) -> int:
        """The default TTL in ns (0: never expire)."""
        ...

    def _set_default_ttl_ns(self, ns: int) -> None:
        """Set the default TTL in ns, unchecked (copies and unpickling)."""
        ...

    @property
    def timer(self) -> Optional[Callable[[], Any]]:
        """The callable that gives the time for every expiry decision, or None: Unix time."""
        ...

    def _set_timer(self, timer: Optional[Callable[[], Any]]) -> None:
        """Decide expiry by timer, or by the wall clock with None."""
        ...

    def _now_ns(self) -> int:
        """The table's clock in ns: Unix time, or the timer's reading in its frame."""
        ...

    def _iter(self, kind: int) -> Iterator[Any]:
        """The live entries in insertion order: kind 0 keys, 1 values, 2 (key, value), 3 (key, value, expires_ns)."""
        ...

    def _list(self, kind: int) -> list[Any]:
        """What ``_iter(kind)`` gives, as a list taken in one step (no other thread writes in between)."""
        ...

    def _put_at(self, key: Hashable, value: Any, expires_ns: int, written_ns: Optional[int] = None) -> bool:
        """Store an entry with an absolute expiry (0: never) and write time; False if it had expired already."""
        ...

    @property
    def _tracks_writes(self) -> bool:
        """True once the table keeps each entry's write time."""
        ...

    def _track_writes(self) -> None:
        """Keep each entry's write time from now on (snapshots then carry them)."""
        ...

    @property
    def _syncs(self) -> Optional[str]:
        """This instance's id once the table keeps what sync needs (:meth:`_track_changes`), else None."""
        ...

    @property
    def _hlc(self) -> int:
        """The hybrid logical clock: the latest stamp given or seen (Unix ns)."""
        ...

    def _track_changes(self, instance_id: str) -> None:
        """Keep stamps, origins, tombstones and the clear floor from now on, as instance_id."""
        ...

    def _merge_entry(self, key: Hashable, value: Any, expires_ns: int, stamp: int, origin: str) -> bool:
        """Merge a peer's write: stored only if it is the latest this table knows of key."""
        ...

    def _merge_tomb(self, key: Hashable, stamp: int, origin: str) -> bool:
        """Merge a peer's delete of key; True when it removed an entry."""
        ...

    def _merge_floor(self, stamp: int, origin: str) -> int:
        """Merge a peer's clear; returns the entries it removed."""
        ...

    def _tombstones(self, since: int = -1, until: Optional[int] = None) -> list[tuple[Any, int, str]]:
        """Tombstones as (key, stamp, instance id): all, or the local ones stamped in (since, until]."""
        ...

    def _floor_of(self) -> Optional[tuple[int, str]]:
        """(stamp, instance id) of the latest clear seen, or None."""
        ...

    def _prune_tombs(self, before: int) -> int:
        """Forget tombstones stamped before ``before``."""
        ...

    def _swap(self, other: Any) -> None:
        """Exchange entries with other, a table of the same core and bounds (a load's replace)."""
        ...

    def _sweep(self, max_entries: int) -> tuple[int, bool]:
        """Free expired entries in at most max_entries slots: (freed, whether the pass is complete)."""
        ...

    def _set_bound(self, max_size: Optional[int] = None, max_weight: Optional[int] = None, weigher: Any = None) -> None:
        """Set the size and weight bounds (checked as the constructor checks them)."""
        ...

    @property
    def max_size(self) -> Optional[int]: ...
    @property
    def max_weight(self) -> Optional[int]: ...
    @property
    def weigher(self) -> Any: ...
    @property
    def default_ttl(self) -> float: ...

    def get(self, key: Hashable, default: Any = None) -> Any: ...
    def put(self, key: Hashable, value: Any, ttl: Optional[TTL] = None) -> None: ...
    def clear(self) -> None: ...
    def __len__(self) -> int: ...


class CacheContract(CoreTable, Protocol):
    """A core table assembled into a cache class: a keyring slot, the constructor, ``load``.

    The feature mixins (snapshots, sync) type ``self`` or ``cls`` with it,
    so that a method that makes a cache returns the caller's class.
    """

    def __init__(
        self,
        default_ttl: Optional[TTL] = 0,
        *,
        cipher_key: Optional[CipherKeys] = None,
        timer: Optional[Callable[[], Any]] = None,
    ) -> None: ...

    @property
    def _keyring(self) -> Optional[Keyring]: ...

    def load(
        self,
        path: Union[str, os.PathLike[str]],
        merge: bool = False,
        *,
        allow_pickle: bool = False,
        require_sealed: Optional[bool] = None,
        progress: Optional[Progress] = None,
    ) -> int: ...
