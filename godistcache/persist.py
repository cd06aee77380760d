"""``Persister``: a daemon thread that snapshots a cache and uploads it, every interval.

Made by :meth:`Cache.persist_to_s3`. Each cycle saves the cache to a
temporary snapshot file and hands it to the store's ``upload``. A cycle
pauses other threads only while the cache's entries are collected (one pass
copying references, no Python code: about 8 ms for a million entries on the
machine the figures were taken on); the encoding goes frame by frame, and
other threads run between frames, during the upload and while the
references are released.

The thread holds the cache by weak reference: a cache nobody else holds is
collected, and its persister's thread ends. A failed cycle is logged
(``logging``, logger ``godistcache.persist``), counted, and retried after a
backoff that doubles from ``min_backoff`` up to the interval; it never ends
the thread. :meth:`Persister.stop` ends it after a final upload.
"""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any, Optional, Protocol, Union

from . import _telemetry
from ._progress import Progress
from ._s3_names import Backup, Segment

__all__ = ["Persister", "SegmentStore", "Store"]

logger = logging.getLogger(__name__)


class Store(Protocol):
    """An object store of snapshot files, as a persister and a bootstrap use it.

    :class:`~godistcache.s3.S3Store` is one.

    A :class:`Persister` calls only ``upload`` (and ``prune``, given
    ``keep_days``); :meth:`Cache.from_s3` calls ``download_master``, or
    ``newest_per_instance`` and ``download``.
    """

    def upload(self, path: Union[str, os.PathLike[str]], *, progress: Optional[Progress] = None) -> str:
        """Upload the snapshot file at path as this instance's backup, and make it the master; return its name."""
        ...

    def download(
        self, object_name: str, path: Union[str, os.PathLike[str]], *, progress: Optional[Progress] = None
    ) -> int:
        """Download an object to a local file, atomically; return the bytes written."""
        ...

    def download_master(self, path: Union[str, os.PathLike[str]], *, progress: Optional[Progress] = None) -> int:
        """Download the master snapshot (the newest upload of any instance) to path, atomically."""
        ...

    def newest_per_instance(self) -> dict[str, Backup]:
        """Each instance's newest backup, by instance id."""
        ...

    def prune(self, keep_days: int, *, today: Optional[datetime.date] = None) -> list[str]:
        """Delete this instance's backups older than keep_days days (never its newest); return their names."""
        ...


class SegmentStore(Store, Protocol):
    """An object store that also keeps each instance's base and delta segments, for incremental sync.

    :class:`~godistcache.s3.S3Store` is one. Segments are named
    ``<object>/<instance>/<seq:020d>-<kind>.godistcache``, kind ``base`` or ``delta``.
    """

    @property
    def instance_id(self) -> str:
        """This instance's id: the one in the names of the segments it uploads and may delete."""
        ...

    @property
    def master_name(self) -> str:
        """The master snapshot's object name (a compaction rewrites it)."""
        ...

    def segment_name(self, seq: int, kind: str, instance_id: Optional[str] = None) -> str:
        """The object name of a segment (of this instance by default); ValueError on a bad seq or kind."""
        ...

    def parse_segment_name(self, object_name: str) -> Optional[tuple[str, int, str]]:
        """(instance id, seq, kind) of a segment's object name, or None if it is not one; never raises."""
        ...

    def upload_segment(
        self, path: Union[str, os.PathLike[str]], seq: int, kind: str, *, progress: Optional[Progress] = None
    ) -> Segment:
        """Upload the file at path as this instance's segment seq of kind (one PUT, no master copy)."""
        ...

    def list_segments(self, instance_id: Optional[str] = None) -> list[Segment]:
        """Every instance's segments (or one's) in one listing, sorted by instance id then seq."""
        ...

    def delete_segments(self, object_names: Iterable[str]) -> list[str]:
        """Delete this instance's segments (ValueError for anyone else's), batched; return the names deleted."""
        ...

    def upload_master(self, path: Union[str, os.PathLike[str]], *, progress: Optional[Progress] = None) -> str:
        """Upload the file at path as the master snapshot directly; return the master's name."""
        ...


class _Request:
    """A flush waiting for the next cycle's outcome."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None  # the cycle's result: an object name (Persister), a SyncReport (Syncer)
        self.error: Optional[BaseException] = None


class Persister:
    """Uploads snapshots of a cache to a store every ``interval`` seconds, from a daemon thread.

    Args:
        cache: the cache (held by weak reference).
        store: where snapshots go (a :class:`Store`; only ``upload``, and ``prune`` with keep_days, are called).
        interval: seconds between uploads (> 0).
        min_backoff: seconds before the first retry of a failed cycle; each
            further failure doubles it, up to ``interval``.
        allow_pickle, seal: as for :meth:`Cache.save`.
        keep_days: after each upload, delete this instance's backups older than
            this many days (``store.prune(keep_days)``); None keeps them all.
            A failed prune is logged, not counted as a failed cycle.
        final_flush: upload once more when stopped.
        start: start the thread now (otherwise call :meth:`start`).

    Attributes:
        uploads: cycles that uploaded.
        failures: cycles that failed (each is logged).
        last_error: the exception of the latest failed cycle, or None.
        last_success: ``time.time()`` of the latest upload, or None.
        last_object: the name the latest upload was stored under, or None.

    Use it as a context manager to stop it (with its final upload) on exit.
    """

    def __init__(
        self,
        cache: Any,
        store: Store,
        interval: float = 900.0,
        *,
        min_backoff: float = 1.0,
        allow_pickle: bool = False,
        seal: Optional[bool] = None,
        keep_days: Optional[int] = None,
        final_flush: bool = True,
        start: bool = True,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        if not min_backoff > 0:
            raise ValueError(f"min_backoff must be > 0 seconds, got {min_backoff!r}")
        self._cache = weakref.ref(cache)
        self.store = store
        self.interval = float(interval)
        self.min_backoff = float(min(min_backoff, interval))
        self.allow_pickle = allow_pickle
        self.seal = seal
        if keep_days is not None and keep_days < 0:
            raise ValueError(f"keep_days must be >= 0, got {keep_days!r}")
        self.keep_days = keep_days
        self.final_flush = final_flush
        self.uploads = 0
        self.failures = 0
        self.last_error: Optional[BaseException] = None
        self.last_success: Optional[float] = None
        self.last_object: Optional[str] = None
        self._consecutive = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._requests: list[_Request] = []
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        # Wake the thread when the cache goes away, so that it ends at once.
        weakref.finalize(cache, self._wake.set)
        _telemetry.watch(cache)
        if start:
            self.start()

    def start(self) -> None:
        """Start the thread (once)."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("this persister was already started")
            self._thread = threading.Thread(target=self._run, name=f"godistcache-persist-{id(self):x}", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def flush(self, timeout: Optional[float] = None) -> str:
        """Snapshot and upload now, and wait for it.

        Returns:
            The name the snapshot was stored under.

        Raises:
            RuntimeError: the persister is not running (stopped, or its cache
                was collected).
            TimeoutError: the upload did not finish within timeout seconds (it
                goes on in the background).
            Exception: whatever made this upload fail (also counted and logged).
        """
        request = _Request()
        with self._lock:
            if not self.running or self._stopping:
                raise RuntimeError("the persister is not running")
            self._requests.append(request)
        self._wake.set()
        if not request.done.wait(timeout):
            raise TimeoutError(f"the upload did not finish within {timeout} s")
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result  # type: ignore[no-any-return]

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop the thread, after a final upload if ``final_flush``; wait up to timeout seconds for it.

        A failed final upload is logged and counted like any other (see
        ``last_error``), not raised. Stopping twice is harmless.

        The thread ends once the cycle under way (if any) and the final upload
        are done; returning after timeout does not interrupt them (check
        :attr:`running`). Against an :class:`~godistcache.s3.S3Store` that is
        down or silent, each upload fails within ``store.max_request_seconds``
        (10 s by default), so a timeout of twice that plus the time of a save
        sees the thread end.
        """
        with self._lock:
            self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> Persister:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<Persister {state}, every {self.interval:g} s to {self.store!r}: "
            f"{self.uploads} uploads, {self.failures} failures>"
        )

    # -- the thread ------------------------------------------------------------

    def _run(self) -> None:
        delay = self.interval
        while True:
            self._wake.wait(delay)
            with self._lock:
                self._wake.clear()
                stopping = self._stopping
                requests, self._requests = self._requests, []
            if self._cache() is None:
                self._answer(requests, None, RuntimeError("the cache was garbage-collected"))
                logger.debug("godistcache: cache collected, persister to %r ends", self.store)
                return
            if stopping and not self.final_flush and not requests:
                return
            # A stop, a flush, or the interval (or backoff) is up: a cycle.
            result, error = self._cycle()
            self._answer(requests, result, error)
            if stopping:
                with self._lock:
                    late, self._requests = self._requests, []
                self._answer(late, None, RuntimeError("the persister stopped"))
                return
            delay = self.interval if self._consecutive == 0 else self._backoff()

    def _backoff(self) -> float:
        return float(min(self.interval, self.min_backoff * 2 ** (self._consecutive - 1)))

    @staticmethod
    def _answer(requests: list[_Request], result: Any, error: Optional[BaseException]) -> None:
        for request in requests:
            request.result = result
            request.error = error
            request.done.set()

    def _failed(self, exc: Exception, what: str) -> tuple[None, Exception]:
        """Count and log a failed cycle (what failed, for the log); returns (None, exc) for the thread."""
        self.failures += 1
        self._consecutive += 1
        self.last_error = exc
        logger.warning(
            "godistcache: %s failed (%s: %s); failure %d, next try in %.1f s",
            what,
            type(exc).__name__,
            exc,
            self._consecutive,
            self._backoff(),
        )
        return None, exc

    def _succeeded(self) -> None:
        """Note a cycle that worked: the backoff starts over."""
        self._consecutive = 0
        self.last_success = time.time()

    def _cycle(self) -> tuple[Any, Optional[BaseException]]:
        """Save and upload once; returns (object name, None) or (None, the error)."""
        try:
            with tempfile.TemporaryDirectory(prefix="godistcache-persist-") as tmp:
                path = os.path.join(tmp, "snapshot.godistcache")
                cache = self._cache()
                if cache is None:
                    raise RuntimeError("the cache was garbage-collected")
                try:
                    cache.save(path, allow_pickle=self.allow_pickle, seal=self.seal)
                finally:
                    del cache  # no strong reference while uploading
                name = self.store.upload(path)
        except Exception as exc:
            return self._failed(exc, f"persisting to {self.store!r}")
        self._succeeded()
        self.uploads += 1
        self.last_object = name
        logger.info("godistcache: persisted to %r as %s", self.store, name)
        if self.keep_days is not None:
            try:
                self.store.prune(self.keep_days)
            except Exception as exc:
                logger.warning(
                    "godistcache: pruning backups older than %d days at %r failed (%s: %s)",
                    self.keep_days,
                    self.store,
                    type(exc).__name__,
                    exc,
                )
        return name, None
