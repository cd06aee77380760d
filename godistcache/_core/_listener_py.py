"""on_evict for the pure-Python table: the causes it is told, and how it is told them outside the lock.

:class:`ListenerMethods` is a mixin of ``_table_py.Table`` (the ``on_evict``
property and ``_flush``); ``Table`` declares the slots (``_on_evict``,
``_pending``, ``_lock``), and the methods take ``self`` as :class:`_Host`, as
``_bound_py`` explains. The table queues what leaves it in ``_pending`` while
it holds its lock; a table with a listener holds a :class:`FlushingLock`,
which hands the queue to the listener once the outermost ``with`` lets go,
when the table is consistent again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

__all__ = ["DELETED", "EVICTED", "EXPIRED", "REPLACED", "FlushingLock", "ListenerMethods"]

# What on_evict's third argument says.
EXPIRED = "expired"
EVICTED = "evicted"
DELETED = "deleted"
REPLACED = "replaced"

_logger = logging.getLogger("godistcache")


def _notify(listener: Any, key: Any, value: Any, cause: str) -> None:
    try:
        listener(key, value, cause)
    except Exception:
        _logger.exception(
            "on_evict listener %r raised for an entry that left the cache (%s); the cache is not affected",
            listener,
            cause,
        )


class _Host(Protocol):
    """What the listener's methods, and the lock, use of the table they serve (``_table_py.Table``)."""

    _on_evict: Any
    _pending: list[tuple[Any, Any, str]]
    _lock: threading.RLock | FlushingLock

    def _flush(self) -> None: ...


class FlushingLock:
    """The lock of a table with a listener: letting go of it last tells on_evict what left the table.

    Only one thread can be inside, so _depth counts the owner's nesting.
    """

    __slots__ = ("_depth", "_rlock", "_table")

    def __init__(self, table: _Host) -> None:
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


class ListenerMethods:
    """on_evict, mixed into ``_table_py.Table`` (see the module docstring)."""

    __slots__ = ()

    # The listener's state, in Table's slots.
    _on_evict: Any
    _pending: list[tuple[Any, Any, str]]  # (key, value, cause) to tell on_evict, outside the lock

    def _flush(self: _Host) -> None:
        """Tell on_evict what left the table, outside the lock; each exception is logged."""
        batch, self._pending = self._pending, []  # one bytecode swap each: no lock needed
        listener = self._on_evict
        for key, value, cause in batch:
            if listener is not None:
                _notify(listener, key, value, cause)

    @property
    def on_evict(self: _Host) -> Any:
        """on_evict(key, value, cause), told of every entry that leaves the cache, or None.

        cause is "expired", "evicted" (by the size bound), "deleted" (delete,
        del, pop, clear) or "replaced" (overwritten: value is the old one). It
        is called once the cache is consistent again, outside its lock, so it
        may use the cache; an exception it raises is logged (logger
        "godistcache") and dropped. Set it before threads share the cache: this
        core changes its lock when a listener comes or goes (None to a listener,
        or back; one listener replacing another is safe at any time).
        """
        return self._on_evict

    @on_evict.setter
    def on_evict(self: _Host, listener: Any) -> None:
        if listener is not None and not callable(listener):
            raise TypeError(f"on_evict must be callable or None, got {type(listener).__name__}")
        with self._lock:
            had = self._on_evict is not None
            self._on_evict = listener
            if (listener is not None) != had:  # a listener replacing another keeps the lock threads may be waiting on
                self._lock = threading.RLock() if listener is None else FlushingLock(self)
