"""Stampede protection: ``get_or_set`` and ``@cache.memoize``, with single flight.

When many callers miss the same key at once, the factory runs once: the
first caller runs it, the others wait for its outcome. Its value is stored
(with the TTL given) and returned to every caller; an exception reaches every
caller and nothing is stored, so the next call tries again.

Threads wait on a per-key event; coroutines (``async def`` functions under
``memoize``) await a per-key task of their event loop, so a cancelled caller
does not cancel the computation the others wait for. A factory that calls
back into the cache, even for the key it is computing, runs on: a nested call
for a key its own thread is already computing runs the new factory directly
instead of waiting for itself.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Awaitable, Hashable
from typing import Any, Callable, Optional, TypeVar, Union, overload

__all__ = ["MemoMethods"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_MISSING: Any = object()
_KWARGS_MARK = object()
_global_lock = threading.Lock()


class _Flight:
    """One computation of a key that other threads may wait for."""

    __slots__ = ("done", "error", "owner", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.owner = threading.get_ident()
        self.value: Any = None
        self.error: Optional[BaseException] = None


class _Flights:
    """The computations in progress of one cache: threads' and each event loop's."""

    __slots__ = ("lock", "tasks", "threads")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: dict[Hashable, _Flight] = {}
        self.tasks: dict[tuple[int, Hashable], asyncio.Task[Any]] = {}


def _default_key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    key: tuple[Any, ...] = (fn.__module__, fn.__qualname__, *args)
    if kwargs:
        key += (_KWARGS_MARK, *sorted(kwargs.items()))
    try:
        hash(key)
    except TypeError as exc:
        raise TypeError(
            f"memoize: the arguments of {fn.__qualname__} are not hashable ({exc}); pass key=... to build a key"
        ) from None
    return key


class MemoMethods:
    """``get_or_set`` and ``memoize``, for a cache class with a ``_flights`` slot."""

    __slots__ = ()

    _flights: _Flights

    def _flight_table(self) -> _Flights:
        try:
            return self._flights
        except AttributeError:
            with _global_lock:
                try:
                    return self._flights
                except AttributeError:
                    self._flights = _Flights()  # type: ignore[misc]  # the slot is the concrete class's
                    return self._flights

    def get_or_set(self, key: Hashable, factory: Callable[[], T], ttl: Any = None) -> T:
        """The live value under key; on a miss, factory() is stored under key (with ttl) and returned.

        Concurrent misses of one key run factory once; the other callers
        wait and get its value, or its exception (which is not stored).

        Raises:
            Whatever factory raises.
        """
        cache: Any = self
        value = cache.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        flights = self._flight_table()
        with flights.lock:
            flight = flights.threads.get(key)
            if flight is None:
                flight = flights.threads[key] = _Flight()
                leader = True
            else:
                leader = False
        if not leader:
            if flight.owner == threading.get_ident():
                # The factory of this very key called back: compute, don't wait for ourselves.
                value = factory()
                cache.put(key, value, ttl)
                return value
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[no-any-return]
        try:
            # Another caller may have stored it between our miss and taking the lead.
            value = cache.get(key, _MISSING)
            if value is _MISSING:
                value = factory()
                cache.put(key, value, ttl)
            flight.value = value
            return value  # type: ignore[no-any-return]
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with flights.lock:
                if flights.threads.get(key) is flight:
                    del flights.threads[key]
            flight.done.set()

    async def aget_or_set(self, key: Hashable, factory: Callable[[], Awaitable[T]], ttl: Any = None) -> T:
        """``get_or_set`` for coroutines: on a miss, ``await factory()``, once per key and event loop.

        The factory runs in a task of its own: a caller that is cancelled
        stops waiting without cancelling it for the others.
        """
        cache: Any = self
        value = cache.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        flights = self._flight_table()
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        with flights.lock:
            task = flights.tasks.get(slot)
            if task is None or task.done():

                async def compute() -> Any:
                    try:
                        result = await factory()
                        cache.put(key, result, ttl)
                        return result
                    finally:
                        with flights.lock:
                            if flights.tasks.get(slot) is task_ref[0]:
                                del flights.tasks[slot]

                task_ref: list[Any] = [None]
                task = loop.create_task(compute())
                task_ref[0] = task
                flights.tasks[slot] = task
        return await asyncio.shield(task)

    @overload
    def memoize(self, fn: F, *, ttl: Any = None, key: Optional[Callable[..., Hashable]] = None) -> F: ...

    @overload
    def memoize(
        self, fn: None = None, *, ttl: Any = None, key: Optional[Callable[..., Hashable]] = None
    ) -> Callable[[F], F]: ...

    def memoize(
        self, fn: Optional[F] = None, *, ttl: Any = None, key: Optional[Callable[..., Hashable]] = None
    ) -> Union[F, Callable[[F], F]]:
        """Decorate a function (or an ``async def`` one) so that its results are cached.

        Use as ``@cache.memoize`` or ``@cache.memoize(ttl=60, key=...)``.

        Args:
            ttl: lifetime of each result, as for :meth:`put` (None: the
                cache's default TTL).
            key: a function of the call's arguments returning the cache key;
                by default the function's module and qualified name with the
                arguments (which must then be hashable).

        Concurrent calls that miss the same key run the function once (see
        :meth:`get_or_set`); an exception is raised to every caller and not
        cached.
        """

        def decorate(func: F) -> F:
            make_key = key

            def key_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
                return make_key(*args, **kwargs) if make_key is not None else _default_key(func, args, kwargs)

            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    return await self.aget_or_set(key_of(args, kwargs), lambda: func(*args, **kwargs), ttl)

                return async_wrapper  # type: ignore[return-value]

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return self.get_or_set(key_of(args, kwargs), lambda: func(*args, **kwargs), ttl)

            return wrapper  # type: ignore[return-value]

        if fn is not None:
            return decorate(fn)
        return decorate
