"""Stampede protection: ``get_or_set`` and ``@cache.memoize``, with single flight.

When many callers miss the same key at once, the factory runs once: the
first caller runs it, the others wait for its outcome. Its value is stored
(with the TTL given) and returned to every caller; an exception reaches every
caller and nothing is stored, so the next call tries again.

Threads wait on a per-key event; coroutines (``async def`` functions under
``memoize``) await a per-key task of their event loop, so a cancelled caller
does not cancel the computation the others wait for.

Nothing waits in a circle. A module-wide wait-for record says which flight
each waiting thread waits for (and which flights each computing task awaits);
a caller whose wait would close a cycle (its own key, or a key whose owner
waits, directly or through others, for a key this caller is computing, in
any cache) computes the value itself instead of waiting.

``memoize`` keys (in ``_memo_keys``): a function reachable under its module
and qualified name keeps the key ``(module, qualname, *args)``, the same in
every process, so snapshots and synced entries hit; any other function (a
lambda, a closure, a nested or redefined function, a partial) gets a token of
its own, unique across processes, so two functions never share entries by
accident.

A memoized function has ``functools.lru_cache``'s ``cache_info()``,
``cache_clear()`` and ``cache_parameters()``, about its own entries: the
bookkeeping behind them is in ``_memo_info``.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy as _copy
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Optional, TypeVar, overload

from ._core.memo import MemoFunction, plain_get
from ._memo_info import CacheInfo, MemoEntries
from ._memo_keys import MAX_TYPED_HEADS, full_key, key_parts, unhashable_error

if TYPE_CHECKING:
    # For annotations (under TYPE_CHECKING): the type of a memoized function, and of one read from an instance.
    from ._memo_info import BoundMemoized as BoundMemoized
    from ._memo_info import Memoized as Memoized
    from ._memo_info import P, R

__all__ = ["CacheInfo", "MemoMethods"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_MISSING: Any = object()
_global_lock = threading.Lock()
_deepcopy = _copy.deepcopy
#: The head of a memoize key not yet resolved: nothing is ever stored under a key starting with it.
_UNRESOLVED: Any = object()


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


# The wait-for record, module-wide so that a cycle through two caches is seen too. Every check
# and the registration that follows it happen under one lock, so of the callers that would close
# a cycle, the last one always sees it.
_wait_lock = threading.Lock()
#: thread ident -> the flight that thread waits for.
_thread_waits: dict[int, _Flight] = {}
#: a computing task -> the flight tasks its computation awaits (with how many awaits of each).
_task_waits: dict[asyncio.Task[Any], dict[asyncio.Task[Any], int]] = {}
#: The flight task whose factory the running code belongs to; inherited by tasks the factory starts.
_computing: contextvars.ContextVar[Optional[asyncio.Task[Any]]] = contextvars.ContextVar(
    "godistcache_memo_computing", default=None
)


def _thread_wait_closes_cycle(flight: _Flight, me: int) -> bool:
    """Whether thread me waiting for flight would wait for itself (call with _wait_lock held)."""
    for _ in range(len(_thread_waits) + 1):  # live waits form chains, never loops: bounded anyway
        if flight.owner == me:
            return True
        nxt = _thread_waits.get(flight.owner)
        if nxt is None or nxt.done.is_set():  # a set flight's waiters are about to wake
            return False
        flight = nxt
    return False


def _task_wait_closes_cycle(task: asyncio.Task[Any], me: asyncio.Task[Any]) -> bool:
    """Whether the computation of me awaiting task would await itself (call with _wait_lock held)."""
    stack = [task]
    seen: set[asyncio.Task[Any]] = set()
    while stack:
        t = stack.pop()
        if t is me:
            return True
        if t in seen or t.done():
            continue
        seen.add(t)
        stack.extend(_task_waits.get(t, ()))
    return False


def _finish(
    wrapper: Callable[..., Any],
    func: Callable[..., Any],
    entries: MemoEntries,
    parameters: Callable[[], dict[str, Any]],
) -> Callable[..., Any]:
    """Give wrapper ``functools.lru_cache``'s introspection: cache_info, cache_clear, cache_parameters."""
    # functools.wraps has already copied func's metadata and set __wrapped__.
    w: Any = wrapper
    w.cache_info = entries.info
    w.cache_clear = entries.clear
    w.cache_parameters = parameters
    return wrapper


def _compiled(
    compiled: Any, func: Callable[..., Any], entries: MemoEntries, parameters: Callable[[], dict[str, Any]]
) -> Callable[..., Any]:
    """The compiled wrapper, with func's metadata and lru_cache's introspection; its C hits counted too."""
    functools.update_wrapper(compiled, func)
    entries.fast = compiled
    return _finish(compiled, func, entries, parameters)


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
        wait and get its value, or its exception (which is not stored). A
        caller whose wait would close a cycle (factories that need each
        other's keys, in one cache or several) runs factory itself instead.

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
            me = threading.get_ident()
            with _wait_lock:
                cycle = _thread_wait_closes_cycle(flight, me)
                if not cycle:
                    outer = _thread_waits.get(me)  # a signal handler may wait while its thread waits
                    _thread_waits[me] = flight
            if cycle:
                # Waiting would wait for ourselves (a factory asking, through any number of threads and
                # caches, for the key it computes): compute instead, as if there were no other caller.
                value = factory()
                cache.put(key, value, ttl)
                return value
            try:
                flight.done.wait()
            finally:
                with _wait_lock:
                    if outer is None:
                        del _thread_waits[me]
                    else:
                        _thread_waits[me] = outer
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
        stops waiting without cancelling it for the others. A factory that
        awaits, directly or through other flights and the tasks it starts,
        the key it computes gets it computed in place instead of waiting.
        """
        cache: Any = self
        value = cache.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        flights = self._flight_table()
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)

        async def compute() -> Any:
            task = asyncio.current_task()
            _computing.set(task)  # this task's own context, inherited by the tasks the factory starts
            try:
                result = await factory()
                cache.put(key, result, ttl)
                return result
            finally:
                with flights.lock:
                    if flights.tasks.get(slot) is task:
                        del flights.tasks[slot]

        # One slot belongs to one loop, hence to one thread, and nothing else runs on that loop until
        # we await: the lock guards the dict against other loops only. The task is made outside it, since
        # an eager task factory runs compute() (and its finally, which takes the lock) inside create_task.
        with flights.lock:
            task = flights.tasks.get(slot)
        if task is None or task.done():
            task = loop.create_task(compute())
            with flights.lock:
                if not task.done():
                    flights.tasks[slot] = task
        me = _computing.get()
        if me is None:  # not inside a factory: nothing can be waiting for this caller
            return await asyncio.shield(task)
        with _wait_lock:
            cycle = _task_wait_closes_cycle(task, me)
            if not cycle:
                edges = _task_waits.setdefault(me, {})
                edges[task] = edges.get(task, 0) + 1
        if cycle:
            task_value: T = await factory()
            cache.put(key, task_value, ttl)
            return task_value
        try:
            return await asyncio.shield(task)
        finally:
            with _wait_lock:
                edges = _task_waits[me]
                edges[task] -= 1
                if not edges[task]:
                    del edges[task]
                    if not edges:
                        del _task_waits[me]

    @overload
    def memoize(
        self,
        fn: Callable[P, R],
        *,
        ttl: Any = None,
        key: Optional[Callable[..., Hashable]] = None,
        namespace: Optional[Hashable] = None,
        typed: bool = False,
        copy: bool = False,
    ) -> Memoized[P, R]: ...

    @overload
    def memoize(
        self,
        fn: None = None,
        *,
        ttl: Any = None,
        key: Optional[Callable[..., Hashable]] = None,
        namespace: Optional[Hashable] = None,
        typed: bool = False,
        copy: bool = False,
    ) -> Callable[[Callable[P, R]], Memoized[P, R]]: ...

    def memoize(
        self,
        fn: Optional[Callable[..., Any]] = None,
        *,
        ttl: Any = None,
        key: Optional[Callable[..., Hashable]] = None,
        namespace: Optional[Hashable] = None,
        typed: bool = False,
        copy: bool = False,
    ) -> Any:
        """Decorate a function (or an ``async def`` one) so that its results are cached.

        Use as ``@cache.memoize`` or ``@cache.memoize(ttl=60, key=...)``.
        Put it below ``@classmethod``/``@staticmethod``.

        The default key is ``(module, qualname, *args)`` for a function
        reachable under its module and qualified name (a module-level
        function, a method of a module-level class): the same in every
        process, so snapshots and synced entries hit. Any other function (a
        lambda, a closure, a nested function, one redefined under a name
        already in use, a partial, a callable object) has a token of its own
        in its keys: two such functions never share entries. Calls with
        keyword arguments, typed calls and those tokens take the form
        ``(module, (qualname, token, kwargs, types), *args)``.

        Args:
            ttl: lifetime of each result, as for :meth:`put` (None: the
                cache's default TTL).
            key: a function of the call's arguments returning the cache key;
                by default the function's identity with the arguments (which
                must then be hashable).
            namespace: a hashable naming the family of the entries, in place
                of the function's identity: keys are ``(namespace, None,
                *args)``. Functions given the same namespace share entries,
                in every process; you promise that it names one computation.
            typed: as in ``functools.lru_cache``: when True, arguments of
                different types are cached apart (``f(1)``, ``f(1.0)`` and
                ``f(True)``); when False (the default) they share one entry.
            copy: when True, a hit returns a deep copy of the cached result
                and a miss stores a deep copy of it, so a caller that mutates
                its result never changes the cache (``copy.deepcopy``).

        Returns:
            The wrapper, with ``functools.lru_cache``'s introspection:
            ``cache_info()`` (hits, misses, maxsize: the cache's ``max_size``,
            currsize: this function's live entries), ``cache_clear()`` (removes
            this function's entries only, and resets its counters),
            ``cache_parameters()`` and ``__wrapped__``.

        Raises:
            TypeError: key= given with namespace= or typed=True, or a
                namespace that is not hashable.

        Concurrent calls that miss the same key run the function once (see
        :meth:`get_or_set`); an exception is raised to every caller and not
        cached.
        """
        if key is not None and (namespace is not None or typed):
            raise TypeError("memoize: key= builds the whole key; it cannot be combined with namespace= or typed=True")
        if namespace is not None:
            try:
                hash(namespace)
            except TypeError:
                raise TypeError(f"memoize: namespace must be hashable, got {type(namespace).__name__}") from None
        cache: Any = self
        get = cache.get

        def parameters() -> dict[str, Any]:
            return {"maxsize": cache.max_size, "typed": typed, "ttl": ttl, "namespace": namespace, "copy": copy}

        def decorate(func: F) -> F:
            make_key = key
            entries = MemoEntries(cache, shared=make_key is not None or namespace is not None)
            hits = entries.hits
            misses = entries.misses
            head: tuple[Any, ...] = ()  # the plain key's first two items, found on the first call
            fast: tuple[Any, ...] = (_UNRESOLVED,)  # head, once resolved, when plain calls use it as is
            parts: tuple[Any, ...] = ()
            compiled: Any = None  # the MemoFunction returned, when plain calls hit in C

            def resolve() -> None:
                # On the first call, not at decoration: the decorated function's name is bound only after.
                nonlocal head, fast, parts
                with _global_lock:
                    if not head:
                        parts = key_parts(func, namespace)
                        first, qualname, token = parts
                        head = (first, qualname) if token is None else full_key(parts, (), {}, False)
                        if make_key is None and not typed:
                            fast = head
                            if compiled is not None:
                                compiled._set_head(head, parts)

            # Typed calls without keyword arguments: the key's head for each tuple of argument types, built
            # once by full_key. Bounded, since each holds its types (a local class stays alive while kept).
            typed_heads: dict[tuple[type, ...], tuple[Any, ...]] = {}

            def typed_head(args: tuple[Any, ...]) -> tuple[Any, ...]:
                # The head of a typed call without keyword arguments (the compiled path keeps its own per types).
                if not head:
                    resolve()
                types = tuple([type(a) for a in args])
                found = typed_heads.get(types)
                if found is None:
                    found = full_key(parts, args, {}, True)[:2]
                    if len(typed_heads) < MAX_TYPED_HEADS:
                        typed_heads[types] = found
                return found

            def key_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                if make_key is not None:
                    return make_key(*args, **kwargs)
                if not head:
                    resolve()
                if typed:
                    if kwargs:
                        return full_key(parts, args, kwargs, True)
                    return typed_head(args) + args
                if kwargs:
                    first, qualname, token = parts
                    items = tuple(kwargs.items()) if len(kwargs) == 1 else tuple(sorted(kwargs.items()))
                    return (first, (qualname, token, items, ())) + args
                return head + args

            def unhashable(k: Any, exc: TypeError) -> TypeError:
                return unhashable_error(func, k, make_key is not None, exc)

            def factory(args: tuple[Any, ...], kwargs: dict[str, Any], made: list[Any]) -> Callable[[], Any]:
                def compute() -> Any:
                    value = func(*args, **kwargs)
                    if copy:
                        value = _deepcopy(value)
                    made.append(value)
                    return value

                return compute

            if inspect.iscoroutinefunction(func):

                def async_factory(
                    args: tuple[Any, ...], kwargs: dict[str, Any], made: list[Any]
                ) -> Callable[[], Awaitable[Any]]:
                    async def compute() -> Any:
                        value = await func(*args, **kwargs)
                        if copy:
                            value = _deepcopy(value)
                        made.append(value)
                        return value

                    return compute

                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    k = key_of(args, kwargs)
                    try:
                        value = get(k, _MISSING)
                    except TypeError as exc:
                        raise unhashable(k, exc) from None
                    if value is not _MISSING:
                        next(hits)
                        return _deepcopy(value) if copy else value
                    next(misses)
                    made: list[Any] = []
                    value = await self.aget_or_set(k, async_factory(args, kwargs, made), ttl)
                    if made:  # this call computed and stored it
                        entries.stored(k, value)
                    return _deepcopy(value) if copy else value

                return _finish(async_wrapper, func, entries, parameters)  # type: ignore[return-value]

            def miss(k: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                if k is _UNRESOLVED:
                    k = key_of(args, kwargs)
                    try:
                        value = get(k, _MISSING)
                    except TypeError as exc:
                        raise unhashable(k, exc) from None
                    if value is not _MISSING:
                        next(hits)
                        return _deepcopy(value) if copy else value
                next(misses)
                made: list[Any] = []
                value = self.get_or_set(k, factory(args, kwargs, made), ttl)
                if made:  # this call computed and stored it (a waiter gets the leader's value)
                    entries.stored(k, value)
                return _deepcopy(value) if copy else value

            if make_key is not None or typed:

                @functools.wraps(func)
                def keyed_wrapper(*args: Any, **kwargs: Any) -> Any:
                    k = key_of(args, kwargs)
                    try:
                        value = get(k, _MISSING)
                    except TypeError as exc:
                        raise unhashable(k, exc) from None
                    if value is not _MISSING:
                        next(hits)
                        return _deepcopy(value) if copy else value
                    return miss(k, args, kwargs)

                if make_key is None and MemoFunction is not None and plain_get(cache):
                    # Typed hits without keyword arguments in C, the head kept per tuple of argument types.
                    compiled = MemoFunction(cache, keyed_wrapper, miss, copy, typed_head, MAX_TYPED_HEADS)
                    return _compiled(compiled, func, entries, parameters)  # type: ignore[return-value]
                return _finish(keyed_wrapper, func, entries, parameters)  # type: ignore[return-value]

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                # The hit path of a plain call: a tuple, one lookup, a compare and a counter. Until the
                # first call has resolved the key's head, fast + args is a key nothing is stored under.
                k = key_of(args, kwargs) if kwargs else fast + args
                try:
                    value = get(k, _MISSING)
                except TypeError as exc:
                    raise unhashable(k, exc) from None
                if value is not _MISSING:
                    next(hits)
                    return _deepcopy(value) if copy else value
                return miss(_UNRESOLVED if k[0] is _UNRESOLVED else k, args, kwargs)

            if MemoFunction is not None and plain_get(cache):
                # Plain and keyword hits in C; the wrapper above serves every other call. Not when get is a
                # subclass's own.
                compiled = MemoFunction(cache, wrapper, miss, copy)
                return _compiled(compiled, func, entries, parameters)  # type: ignore[return-value]
            return _finish(wrapper, func, entries, parameters)  # type: ignore[return-value]

        if fn is not None:
            return decorate(fn)
        return decorate
