"""Active expiry: a daemon thread that frees a cache's expired entries, a bounded step at a time.

Made by ``Cache(sweep_interval=...)``. Every interval the thread makes one
pass over the cache's entries in steps of at most ``step`` entry slots
(``Table._sweep``); between two steps it sleeps at least as long as the step
ran (and at least ``PAUSE`` seconds), so a reader waits at most about one
step: a bare ``sleep(0)`` would hand the GIL over only to take it back before
the woken reader runs, which then waits a whole switch interval (5 ms). Without it, expired entries are freed
when they are met, by ``expire()``, or by ``len()``.

The thread holds the cache by weak reference: a cache nobody holds is
collected, and its sweeper's thread ends.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any, Optional

__all__ = ["DEFAULT_STEP", "PAUSE", "Sweeper"]

logger = logging.getLogger(__name__)

#: Entry slots visited per step: a step of this size takes about 0.1-0.5 ms.
DEFAULT_STEP = 8192

#: Shortest sleep between two steps, in seconds: long enough for a thread woken
#: by the GIL's release to take it (0.1 ms was not, on the figures' machine).
PAUSE = 0.0005


class Sweeper:
    """Frees the expired entries of a cache every ``interval`` seconds, from a daemon thread.

    Attributes:
        freed: entries freed so far.
        passes: full passes over the cache done so far.
    """

    def __init__(self, cache: Any, interval: float, *, step: int = DEFAULT_STEP, start: bool = True) -> None:
        if not interval > 0:
            raise ValueError(f"sweep_interval must be > 0 seconds, got {interval!r}")
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step!r}")
        self._cache = weakref.ref(cache)
        self.interval = float(interval)
        self.step = int(step)
        self.freed = 0
        self.passes = 0
        self._stop = threading.Event()
        # Wake the thread when the cache goes away, so that it ends at once.
        weakref.finalize(cache, self._stop.set)
        self._thread: Optional[threading.Thread] = None
        if start:
            self.start()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError("this sweeper was already started")
        self._thread = threading.Thread(target=self._run, name=f"godistcache-sweep-{id(self):x}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop the thread and wait up to timeout seconds for it."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Sweeper {state}, every {self.interval:g} s: {self.freed} freed in {self.passes} passes>"

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            if not self._sweep_pass():
                return
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _sweep_pass(self) -> bool:
        """One full pass; False when the cache is gone or the sweeper stopped."""
        while True:
            cache = self._cache()
            if cache is None:
                return False
            began = time.perf_counter()
            try:
                freed, done = cache._sweep(self.step)
            except Exception:  # a finaliser of a freed value raised: log it, go on
                logger.exception("godistcache: sweeping expired entries failed")
                done = False
                freed = 0
            del cache  # no strong reference between steps
            self.freed += freed
            if done:
                self.passes += 1
                return True
            if self._stop.is_set():
                return False
            time.sleep(max(PAUSE, time.perf_counter() - began))  # others run at least as long as the step did
