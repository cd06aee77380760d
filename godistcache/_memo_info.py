"""The bookkeeping behind ``cache_info()`` and ``cache_clear()`` of a memoized function.

A memoized function shares its cache with other functions and with the
user's own keys, so unlike ``functools.lru_cache`` it cannot count or clear
"its" dict. Each wrapper keeps a registry of the keys it stored instead:
``cache_clear()`` costs as much as that function's own entries, never a scan
of the whole cache, and ``cache_info().currsize`` counts those keys still live.

The registry would grow without end as entries expire or are evicted, so it
is pruned of keys no longer in the cache whenever it doubles since the last
prune: an amortised O(1) per miss, and never more than twice the live count
plus a constant.

Keys built from the function's own identity (the default, without
``namespace=`` or ``key=``) are written by no one else, so the registry holds
the key only. Keys that may be shared (``namespace=``, ``key=``) keep the
value stored too: ``cache_clear()`` deletes such a key only while it still
holds that very object, so a put by another function or by the user survives.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

__all__ = ["CacheInfo", "MemoEntries"]

if TYPE_CHECKING:  # ParamSpec and Self came in Python 3.10 and 3.11; type checkers ship typing_extensions
    from collections.abc import Callable
    from typing import Protocol, TypeVar, overload

    from typing_extensions import ParamSpec, Self

    P = ParamSpec("P")
    R = TypeVar("R", covariant=True)

    class Memoized(Protocol[P, R]):
        """The type of a memoized function, for type checkers: its signature and lru_cache's introspection.

        At run time the wrapper is a plain function (``functools.wraps`` of the
        original) carrying these attributes; this class only describes it.
        """

        @property
        def __wrapped__(self) -> Callable[P, R]: ...

        def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

        @overload
        def __get__(self, instance: None, owner: Optional[type] = None) -> Self: ...
        @overload
        def __get__(self, instance: object, owner: Optional[type] = None) -> BoundMemoized[R]: ...
        def __get__(self, instance: object, owner: Optional[type] = None) -> Any: ...

        def cache_info(self) -> CacheInfo: ...

        def cache_clear(self) -> None: ...

        def cache_parameters(self) -> dict[str, Any]: ...

    class BoundMemoized(Protocol[R]):
        """A memoized method read from an instance: a bound method, whose attributes are the function's."""

        def __call__(self, *args: Any, **kwargs: Any) -> R: ...

        def cache_info(self) -> CacheInfo: ...

        def cache_clear(self) -> None: ...

        def cache_parameters(self) -> dict[str, Any]: ...


#: The registry is pruned no earlier than at this many keys.
_MIN_PRUNE = 256


class CacheInfo(NamedTuple):
    """``functools.lru_cache``'s ``CacheInfo``, for one memoized function."""

    hits: int
    misses: int
    maxsize: Optional[int]
    currsize: int


def _count_of(counter: itertools.count[int]) -> int:
    # itertools.count keeps its next value to itself; its repr, "count(N)", is the only public window.
    return int(repr(counter)[6:-1])


class MemoEntries:
    """The hit and miss counters and the registry of stored keys of one memoized function.

    The counters are ``itertools.count`` objects: ``next()`` on one is a
    single C call, atomic under the GIL, so the hit path takes no lock. The
    wrapper binds their ``__next__`` once, so they are never replaced:
    ``clear()`` moves the base they are read from instead.
    """

    __slots__ = ("_base", "_cache", "_keys", "_limit", "_lock", "fast", "hits", "misses", "shared")

    def __init__(self, cache: Any, shared: bool) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._keys: dict[Any, Any] = {}
        self._limit = _MIN_PRUNE
        self.shared = shared
        self.hits = itertools.count()
        self.misses = itertools.count()
        self._base = (0, 0)
        #: The compiled wrapper (``_memo_c.MemoFunction``) whose C hit path counts its own hits, or None.
        self.fast: Any = None

    def _hit_count(self) -> int:
        fast = self.fast
        return _count_of(self.hits) + (fast._fast_hits if fast is not None else 0)

    def stored(self, key: Any, value: Any) -> None:
        """Record that this function stored value under key (after the put)."""
        with self._lock:
            self._keys[key] = value if self.shared else None
            if len(self._keys) >= self._limit:
                self._prune()

    def _prune(self) -> None:
        # Call with _lock held.
        cache = self._cache
        self._keys = {k: v for k, v in self._keys.items() if k in cache}
        self._limit = max(2 * len(self._keys), _MIN_PRUNE)

    def info(self) -> CacheInfo:
        """The counters, the cache's max_size and the number of this function's live entries."""
        with self._lock:
            currsize = sum(map(self._cache.__contains__, self._keys))
            if 2 * currsize < len(self._keys):  # mostly dead: prune now rather than at the next doubling
                self._prune()
            hits, misses = self._base
        return CacheInfo(self._hit_count() - hits, _count_of(self.misses) - misses, self._cache.max_size, currsize)

    def clear(self) -> None:
        """Delete this function's entries from the cache and reset the counters."""
        with self._lock:
            keys = self._keys
            self._keys = {}
            self._limit = _MIN_PRUNE
            self._base = (self._hit_count(), _count_of(self.misses))
        cache = self._cache
        if not self.shared:
            for key in keys:
                cache.delete(key)
            return
        missing = object()
        for key, value in keys.items():
            # Another function or the user may have written this key since: leave their value alone.
            if cache.get(key, missing) is value:
                cache.delete(key)
