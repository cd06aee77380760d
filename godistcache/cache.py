"""``Cache``: the object users hold.

``Cache`` subclasses the hash table (compiled when available), so ``get``,
``put``, ``put_safe``, ``cache[key]`` and ``key in cache`` land directly on
compiled methods with no Python frame in between. This module adds only the
cold methods: views, ``repr`` and the rest of the mapping protocol.

Expiry uses Unix wall time in nanoseconds, so an expiry time means the same
thing in a snapshot moved to another process or machine. Every read compares
the entry's expiry with the clock: an expired entry is never returned, and is
freed when it is met (or by :meth:`Cache.expire`).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, MutableMapping, ValuesView
from typing import Any

from ._table import TTL, Table, own_methods

__all__ = ["Cache", "TTL"]

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


def _empty(cls: type[Table], default_ttl_ns: int) -> Table:
    table = cls()
    table._set_default_ttl_ns(default_ttl_ns)
    return table


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

    def copy(self) -> Any:
        """A shallow copy: same keys, values and expiry times, same default TTL."""
        table: Table = self  # type: ignore[assignment]
        new = _empty(type(table), table._default_ttl_ns)
        new.__setstate__(list(table._iter(3)))  # type: ignore[attr-defined]
        return new

    __copy__ = copy

    def __reduce__(self) -> tuple[Any, ...]:
        # The entries travel as state, restored after the new cache is in the
        # pickle memo, so a cache that holds itself pickles as a dict does.
        # Expiry times are absolute Unix ns: entries that have expired by the
        # time the pickle is loaded are not restored.
        table: Table = self  # type: ignore[assignment]
        return (_empty, (type(table), table._default_ttl_ns), list(table._iter(3)))

    def __setstate__(self, entries: list[tuple[Any, Any, int]]) -> None:
        table: Table = self  # type: ignore[assignment]
        for key, value, expires in entries:
            table._put_at(key, value, expires)

    def __repr__(self) -> str:
        # Counts only: values may be secrets and must not end up in logs.
        table: Table = self  # type: ignore[assignment]
        return f"<{type(self).__name__} entries={len(table)} default_ttl={table.default_ttl}>"


class Cache(_CacheMethods, Table, MutableMapping):  # type: ignore[type-arg]
    """A dict-fast local cache whose entries expire.

    Args:
        default_ttl: lifetime given to entries put without a TTL: seconds
            (int or float) or a timedelta; 0 or None means they never expire.

    Raises:
        TypeError, ValueError: default_ttl is not a valid TTL.

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

    __slots__ = ()


# The calls users make in hot loops, made as fast on Cache as on the bare table.
own_methods(Cache, ("get", "put", "put_safe", "exists", "delete", "delete_safe", "ttl"))
