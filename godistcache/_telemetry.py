"""OpenTelemetry spans and metrics when ``opentelemetry-api`` is installed; nothing at all otherwise.

Install it with ``pip install 'godistcache[otel]'`` and configure an SDK as
usual; godistcache only uses the API (tracer and meter ``godistcache``):

- spans ``godistcache.save``, ``godistcache.load``, ``godistcache.upload`` and
  ``godistcache.download``, with the path or object, entry counts and byte sizes
  as attributes, and the exception recorded when one fails;
- counters ``godistcache.snapshot.entries`` (entries saved and loaded, by
  ``operation``) and ``godistcache.transfer.bytes`` (bytes uploaded and
  downloaded, by ``operation``);
- for every cache that has a persister running: the observable gauge
  ``godistcache.entries`` (live entries) and the observable counters
  ``godistcache.hits`` and ``godistcache.misses`` (``get`` and ``cache[key]``
  calls that found a live entry, and that did not). The core counts those
  always (two integers per cache); they are read only when the SDK collects.

Without the package every call here is a no-op costing a function call; the
hot paths (``get``, ``put``) are never instrumented.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any, Optional

from ._version import __version__

_metrics: Any
_trace: Any
try:  # pragma: no cover - depends on what is installed
    from opentelemetry import metrics as _metrics  # type: ignore[no-redef,import-not-found,unused-ignore]
    from opentelemetry import trace as _trace  # type: ignore[no-redef,import-not-found,unused-ignore]
except ImportError:  # pragma: no cover
    _metrics = None
    _trace = None

__all__ = ["ENABLED", "count", "span", "watch"]

#: True when opentelemetry-api is importable.
ENABLED = _trace is not None

_NAME = "godistcache"
# Caches are mappings, so unhashable: kept by id, each entry removed when its cache dies.
_watched: dict[int, weakref.ref[Any]] = {}
_instruments: dict[str, Any] = {}


def _version() -> str:
    return __version__


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Optional[Any]]:
    """A span named ``godistcache.<name>`` around the block, or nothing; yields the span (or None)."""
    if _trace is None:
        yield None
        return
    tracer = _trace.get_tracer(_NAME, _version())
    clean = {f"godistcache.{k}": v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(f"godistcache.{name}", attributes=clean) as s:
        yield s


def set_attributes(s: Optional[Any], **attributes: Any) -> None:
    """Add attributes to a span from :func:`span` (None: nothing)."""
    if s is not None:
        s.set_attributes({f"godistcache.{k}": v for k, v in attributes.items() if v is not None})


def _instrument(name: str) -> Any:
    if name not in _instruments:
        meter = _metrics.get_meter(_NAME, _version())
        if name == "entries":
            _instruments[name] = meter.create_counter(
                "godistcache.snapshot.entries", unit="{entry}", description="entries saved to and loaded from snapshots"
            )
        else:
            _instruments[name] = meter.create_counter(
                "godistcache.transfer.bytes", unit="By", description="snapshot bytes uploaded and downloaded"
            )
    return _instruments[name]


def count(what: str, amount: int, operation: str) -> None:
    """Add amount to counter ``what`` ("entries" or "bytes") for operation (save, load, upload, download)."""
    if _metrics is None:
        return
    _instrument(what).add(amount, {"operation": operation})


def _observer(read: Any) -> Any:
    """An instrument callback observing the sum of read(cache) over the watched caches."""

    def observe(options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        total = 0
        for ref in list(_watched.values()):
            cache = ref()
            if cache is not None:
                total += read(cache)
        yield Observation(total)

    return observe


def watch(cache: Any) -> None:
    """Count cache in the ``godistcache.entries`` gauge for as long as it lives."""
    if _metrics is None:
        return
    if "gauge" not in _instruments:
        meter = _metrics.get_meter(_NAME, _version())
        _instruments["gauge"] = meter.create_observable_gauge(
            "godistcache.entries",
            callbacks=[_observer(len)],
            unit="{entry}",
            description="live entries of persisted caches",
        )
        meter.create_observable_counter(
            "godistcache.hits",
            callbacks=[_observer(lambda c: c._hits)],
            unit="{call}",
            description="get and [] calls that found a live entry, in persisted caches",
        )
        meter.create_observable_counter(
            "godistcache.misses",
            callbacks=[_observer(lambda c: c._misses)],
            unit="{call}",
            description="get and [] calls that found no live entry, in persisted caches",
        )
    key = id(cache)

    def forget(_: object) -> None:
        _watched.pop(key, None)

    _watched[key] = weakref.ref(cache, forget)
