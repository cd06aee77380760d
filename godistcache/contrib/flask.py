"""A Flask-Caching backend on :class:`godistcache.Cache`.

Configuration::

    app.config["CACHE_TYPE"] = "godistcache.contrib.flask.GodistCache"
    app.config["CACHE_DEFAULT_TIMEOUT"] = 300  # 0: never expire, as in every Flask-Caching backend
    app.config["CACHE_THRESHOLD"] = 10_000  # the most entries held, as SimpleCache reads it
    app.config["CACHE_OPTIONS"] = {"copy": False, "cipher_key": None}
    cache = flask_caching.Cache(app)

Timeouts are Flask-Caching's (cachelib's): omitted or None means the default timeout, 0 never expires, a
negative number expires now (the value is not stored, an older one is deleted), a positive number or a
timedelta is seconds. ``inc``/``dec`` are atomic, start a missing key at 0 and keep a present key's expiry.
"""

from __future__ import annotations

import pickle
import threading
from typing import Any, Optional

from flask import Flask  # type: ignore[import-not-found,unused-ignore]
from flask_caching.backends.base import BaseCache  # type: ignore[import-not-found,unused-ignore]

from ..cache import Cache
from ._timeouts import NEVER, seconds_to_ttl

__all__ = ["GodistCache"]

_MISSING = object()


class GodistCache(BaseCache):  # type: ignore[misc,unused-ignore]  # BaseCache is Any without flask_caching
    """Flask-Caching's (cachelib's) cache API over a :class:`godistcache.Cache` of its own.

    Args:
        default_timeout: seconds, or a timedelta, for entries set without a timeout; 0: never expire.
        ignore_delete_many_errors: False makes ``delete_many`` raise RuntimeError when a key survives it.
        threshold: the most entries held (an S3-FIFO choice is evicted beyond it); 0 or None: no bound.
        copy: pickle values on ``set`` and unpickle them on ``get`` (as SimpleCache does), so a fetched
            object can be mutated without changing the cache; False stores the object itself.
        cipher_key: the store's keys (as :class:`godistcache.Cache` takes them).
    """

    pickle_protocol = pickle.HIGHEST_PROTOCOL

    def __init__(
        self,
        default_timeout: Any = 300,
        ignore_delete_many_errors: bool = False,
        threshold: Optional[int] = None,
        copy: bool = False,
        cipher_key: Any = None,
    ) -> None:
        super().__init__(default_timeout=default_timeout, ignore_delete_many_errors=ignore_delete_many_errors)
        self._cache = Cache(max_size=threshold or None, cipher_key=cipher_key)
        self._copy = copy
        self._lock = threading.Lock()

    @classmethod
    def factory(cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> GodistCache:
        """Make the backend from the app's config, as ``flask_caching.Cache`` does for ``CACHE_TYPE``.

        CACHE_THRESHOLD bounds the entries; ``kwargs`` holds default_timeout, ignore_delete_many_errors and
        CACHE_OPTIONS.
        """
        kwargs.setdefault("threshold", config.get("CACHE_THRESHOLD"))
        return cls(*args, **kwargs)

    @property
    def store(self) -> Cache:
        """The :class:`godistcache.Cache` behind this backend."""
        return self._cache

    def _ttl(self, timeout: Any) -> Optional[float]:
        """The godistcache TTL of a Flask-Caching timeout, or None when the entry expires now."""
        seconds = self._normalize_timeout(timeout)
        if seconds == 0:
            return NEVER
        return seconds_to_ttl(seconds)

    def _encode(self, value: Any) -> Any:
        return pickle.dumps(value, self.pickle_protocol) if self._copy else value

    def _decode(self, stored: Any) -> Any:
        return pickle.loads(stored) if self._copy else stored

    def get(self, key: str) -> Any:
        """The value stored under key, else None."""
        stored = self._cache.get(key, _MISSING)
        return None if stored is _MISSING else self._decode(stored)

    def get_many(self, *keys: str) -> list[Any]:
        """The values of keys, None for each key without one."""
        return [self.get(key) for key in keys]

    def set(self, key: str, value: Any, timeout: Any = None) -> bool:
        """Store value under key; a negative timeout deletes key instead. Returns True."""
        ttl = self._ttl(timeout)
        stored = self._encode(value)
        with self._lock:
            if ttl is None:
                self._cache.delete(key)
            else:
                self._cache.put(key, stored, ttl)
        return True

    def add(self, key: str, value: Any, timeout: Any = None) -> bool:
        """Store value under key unless key holds a live value; return whether it was absent."""
        ttl = self._ttl(timeout)
        stored = self._encode(value)
        with self._lock:
            if key in self._cache:
                return False
            if ttl is not None:
                self._cache.put(key, stored, ttl)
            return True

    def set_many(self, mapping: dict[str, Any], timeout: Any = None) -> list[Any]:
        """Store every item of mapping; return the keys stored (all of them)."""
        return [key for key, value in mapping.items() if self.set(key, value, timeout)]

    def delete(self, key: str) -> bool:
        """Delete key; return whether it held a live value."""
        with self._lock:
            return bool(self._cache.delete(key))

    def has(self, key: str) -> bool:
        """Whether key holds a live value."""
        return key in self._cache

    def clear(self) -> bool:
        """Delete every entry; returns True."""
        with self._lock:
            self._cache.clear()
        return True

    def inc(self, key: str, delta: int = 1) -> Any:
        """Add delta to the value under key (0 when missing), keeping its expiry; return the new value."""
        with self._lock:
            stored = self._cache.get(key, _MISSING)
            if stored is _MISSING:
                value = delta
                ttl = self._ttl(None)
            else:
                value = (self._decode(stored) or 0) + delta
                try:
                    remaining = self._cache.ttl(key)
                except KeyError:  # expired between the two reads
                    remaining = self._ttl(None)
                ttl = NEVER if remaining is None else remaining
            if ttl is None:
                self._cache.delete(key)
            else:
                self._cache.put(key, self._encode(value), ttl)
        return value

    def dec(self, key: str, delta: int = 1) -> Any:
        """Subtract delta from the value under key (0 when missing); return the new value."""
        return self.inc(key, -delta)
