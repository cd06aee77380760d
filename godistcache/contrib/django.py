"""A Django cache backend on :class:`godistcache.Cache`.

Settings::

    CACHES = {
        "default": {
            "BACKEND": "godistcache.contrib.django.GodistCache",
            "LOCATION": "main",  # aliases naming the same LOCATION share one store
            "TIMEOUT": 300,  # Django's default; None: never expire
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

OPTIONS (all optional):

- ``MAX_ENTRIES``: the most entries the store holds (Django's default 300); None: no bound. Beyond it a
  put evicts one entry chosen by S3-FIFO; ``CULL_FREQUENCY`` is accepted and ignored (no batch cull).
- ``COPY``: True pickles each value on ``set`` and unpickles it on ``get``, as ``LocMemCache`` does, so a
  fetched object can be mutated without changing the cache and an unpicklable value raises on ``set``.
  False (the default) stores the object itself: faster, and a fetched object is the stored one.
- ``CIPHER_KEY``: the store's keys (as :class:`godistcache.Cache` takes them), for ``backend.store.put_crypt``
  and sealed snapshots.
- ``SNAPSHOT``: a snapshot file: loaded when the store is made, if it exists; written by
  :meth:`GodistCache.save` and at interpreter exit. ``ALLOW_PICKLE`` (default True) lets it hold values
  the snapshot codec has no native form for.

Timeouts are Django's: omitted means the alias's ``TIMEOUT``, None never expires, a number is seconds and
``<= 0`` expires now (the value is not stored, and an older one is deleted). godistcache's own
``ttl=0`` ("never") is never passed through.
"""

from __future__ import annotations

import atexit
import os
import pickle
import threading
from typing import Any, Optional

# Django has no type information (django-stubs is a mypy plugin needing settings): its names are Any here.
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache  # type: ignore[import-untyped,import-not-found,unused-ignore]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped,import-not-found,unused-ignore]

from ..cache import Cache
from ._timeouts import NEVER, seconds_to_ttl

__all__ = ["GodistCache"]

_MISSING = object()


class _Store:
    """One godistcache.Cache, the lock of its read-modify-write calls, and the settings it was made with."""

    __slots__ = ("cache", "lock", "settings", "snapshot")

    def __init__(self, settings: tuple[Any, ...], max_size: Optional[int], cipher_key: Any, snapshot: Any) -> None:
        self.settings = settings
        self.cache = Cache(max_size=max_size, cipher_key=cipher_key)
        self.lock = threading.Lock()
        self.snapshot: Optional[str] = None if snapshot is None else os.fspath(snapshot)


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


def _store_for(location: str, options: dict[str, Any]) -> _Store:
    max_entries = options.get("MAX_ENTRIES", 300)
    if max_entries is not None:
        try:
            max_entries = int(max_entries)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"OPTIONS['MAX_ENTRIES'] must be an int or None, got {max_entries!r}") from exc
        if max_entries < 1:
            raise ImproperlyConfigured(f"OPTIONS['MAX_ENTRIES'] must be >= 1, got {max_entries}")
    cipher_key = options.get("CIPHER_KEY")
    snapshot = options.get("SNAPSHOT")
    allow_pickle = bool(options.get("ALLOW_PICKLE", True))
    settings = (max_entries, cipher_key, snapshot, allow_pickle)
    with _stores_lock:
        store = _stores.get(location)
        if store is not None:
            if store.settings != settings:
                raise ImproperlyConfigured(
                    f"cache LOCATION {location!r} is already open with other OPTIONS "
                    "(MAX_ENTRIES, CIPHER_KEY, SNAPSHOT, ALLOW_PICKLE must agree): give it another LOCATION"
                )
            return store
        store = _Store(settings, max_entries, cipher_key, snapshot)
        if store.snapshot is not None:
            if os.path.exists(store.snapshot):
                store.cache.load(store.snapshot, allow_pickle=allow_pickle)
            atexit.register(_save_at_exit, store)
        _stores[location] = store
        return store


def _save_at_exit(store: _Store) -> None:
    if store.snapshot is not None:
        store.cache.save(store.snapshot, allow_pickle=store.settings[3])


class GodistCache(BaseCache):  # type: ignore[misc]
    """Django's cache API over a :class:`godistcache.Cache` shared by every alias with the same LOCATION.

    Args:
        location: the LOCATION setting: the name of the store.
        params: the rest of the alias's settings (TIMEOUT, KEY_PREFIX, VERSION, KEY_FUNCTION, OPTIONS).

    Raises:
        ImproperlyConfigured: an OPTIONS value is invalid, or the LOCATION is open with other store OPTIONS.
    """

    pickle_protocol = pickle.HIGHEST_PROTOCOL

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = dict(params.get("OPTIONS") or {})
        self._copy = bool(options.pop("COPY", False))
        options.pop("CULL_FREQUENCY", None)
        unknown = set(options) - {"MAX_ENTRIES", "CIPHER_KEY", "SNAPSHOT", "ALLOW_PICKLE"}
        if unknown:
            raise ImproperlyConfigured(f"unknown OPTIONS for {type(self).__name__}: {', '.join(sorted(unknown))}")
        self._store = _store_for(location or "", options)
        self._cache = self._store.cache
        self._lock = self._store.lock

    @property
    def store(self) -> Cache:
        """The :class:`godistcache.Cache` behind this alias (its keys are made keys: see ``make_key``)."""
        return self._cache

    def _ttl(self, timeout: Any) -> Optional[float]:
        """The godistcache TTL of a Django timeout, or None when the entry expires now."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return NEVER
        return seconds_to_ttl(timeout)

    def _encode(self, value: Any) -> Any:
        return pickle.dumps(value, self.pickle_protocol) if self._copy else value

    def _decode(self, stored: Any) -> Any:
        return pickle.loads(stored) if self._copy else stored

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> bool:
        """Store value under key unless key holds a live value; return whether it was absent."""
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        stored = self._encode(value)  # outside the lock: pickling may run user code
        with self._lock:
            if key in self._cache:
                return False
            if ttl is not None:
                self._cache.put(key, stored, ttl)
            return True

    def get(self, key: Any, default: Any = None, version: Optional[int] = None) -> Any:
        """The value stored under key, else default."""
        key = self.make_and_validate_key(key, version=version)
        stored = self._cache.get(key, _MISSING)
        return default if stored is _MISSING else self._decode(stored)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> None:
        """Store value under key; a timeout <= 0 deletes key instead."""
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        stored = self._encode(value)
        with self._lock:
            if ttl is None:
                self._cache.delete(key)
            else:
                self._cache.put(key, stored, ttl)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> bool:
        """Give key a new timeout; return whether it held a live value."""
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl(timeout)
        with self._lock:
            stored = self._cache.get(key, _MISSING)
            if stored is _MISSING:
                return False
            if ttl is None:
                self._cache.delete(key)
            else:
                self._cache.put(key, stored, ttl)
            return True

    def delete(self, key: Any, version: Optional[int] = None) -> bool:
        """Delete key; return whether it held a live value."""
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            return bool(self._cache.delete(key))

    def has_key(self, key: Any, version: Optional[int] = None) -> bool:
        """Whether key holds a live value."""
        key = self.make_and_validate_key(key, version=version)
        return key in self._cache

    def incr(self, key: Any, delta: int = 1, version: Optional[int] = None) -> Any:
        """Add delta to the value under key, keeping its expiry; return the new value.

        Raises:
            ValueError: key holds no live value.
        """
        key = self.make_and_validate_key(key, version=version)
        with self._lock:
            stored = self._cache.get(key, _MISSING)
            if stored is _MISSING:
                raise ValueError(f"Key '{key}' not found")
            new_value = self._decode(stored) + delta
            try:
                remaining = self._cache.ttl(key)
            except KeyError:  # expired between the two reads
                raise ValueError(f"Key '{key}' not found") from None
            self._cache.put(key, self._encode(new_value), NEVER if remaining is None else remaining)
        return new_value

    def get_many(self, keys: Any, version: Optional[int] = None) -> dict[Any, Any]:
        """The live values of keys, by the keys as given."""
        found = {}
        for key in keys:
            stored = self._cache.get(self.make_and_validate_key(key, version=version), _MISSING)
            if stored is not _MISSING:
                found[key] = self._decode(stored)
        return found

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> list[Any]:
        """Store every item of data; return the keys that failed (none: they raise instead)."""
        for key, value in data.items():
            self.set(key, value, timeout, version=version)
        return []

    def delete_many(self, keys: Any, version: Optional[int] = None) -> None:
        """Delete every key of keys."""
        made = [self.make_and_validate_key(key, version=version) for key in keys]
        with self._lock:
            for key in made:
                self._cache.delete(key)

    def clear(self) -> None:
        """Delete every entry of the store, whatever its prefix or version."""
        with self._lock:
            self._cache.clear()

    def save(self) -> int:
        """Write the store to its SNAPSHOT file now; return the number of entries written.

        Raises:
            ImproperlyConfigured: the alias has no SNAPSHOT option.
        """
        if self._store.snapshot is None:
            raise ImproperlyConfigured("this cache has no OPTIONS['SNAPSHOT'] file to save to")
        with self._lock:
            return self._cache.save(self._store.snapshot, allow_pickle=self._store.settings[3])
