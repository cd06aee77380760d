"""File access shared by snapshots, downloads and exports: opening for reading, atomic writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

from .errors import SnapshotError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["STALE_AGE", "atomic_write", "fsync_dir", "open_regular"]

#: A temporary file of an earlier save is removed only once it is at least this many seconds old (and unlocked).
STALE_AGE = 10.0
#: The random part ``tempfile.mkstemp`` puts between prefix and suffix (``tempfile._RandomNameSequence``).
_RANDOM = r"[a-z0-9_]{8}"
_SUFFIX = ".tmp"

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

# Temporary files this process is writing right now: with flock emulated by per-process fcntl locks (NFS),
# another thread of this process could otherwise take one for stale.
_active: set[str] = set()
_active_lock = threading.Lock()


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return f"not a regular file (mode {stat.S_IFMT(mode):#o})"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open path for reading in binary mode, refusing anything that is not a regular file.

    A FIFO blocks ``open()`` until a writer comes and a device can be read
    forever, so the file is opened non-blocking (where ``O_NONBLOCK`` exists),
    its type checked on the descriptor (no race with a rename), and only a
    regular file is switched back to blocking reads. Symbolic links to a
    regular file are followed.

    Raises:
        SnapshotError: path is a FIFO, device or socket (the message says which).
        IsADirectoryError: path is a directory (as ``open()`` raises it).
        OSError: path can't be opened.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    nonblock = getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(name, flags | nonblock)
    except OSError as exc:
        # Linux refuses to open a socket (ENXIO): say what it is rather than "No such device or address".
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.stat(name).st_mode):
                raise SnapshotError(f"{name}: not a regular file: it is a socket", path=name) from exc
        raise
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)  # as open() says it
        if not stat.S_ISREG(mode):
            raise SnapshotError(f"{name}: not a regular file: it is {_kind(mode)}", path=name)
        if nonblock and fcntl is not None:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~nonblock)
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def fsync_dir(directory: str) -> None:
    """Make a rename in directory durable (a no-op where directories can't be opened, as on Windows)."""
    if os.name != "posix":  # pragma: no cover - Windows has no directory fsync
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale(directory: str, name: str, now: float) -> list[str]:
    """Remove the temporary files of earlier writes to name that were left behind (a process killed mid-save).

    A file is removed only if its name is exactly one of ours for this target,
    it is a regular file of this user, at least :data:`STALE_AGE` seconds old,
    not being written by this process, and nobody holds its lock: a writer
    holds an exclusive ``flock`` on its temporary file from just after creating
    it until it is renamed, and a killed writer's lock is gone with it. The age
    covers the instant between creation and lock. Returns the paths removed.
    """
    assert fcntl is not None
    pattern = re.compile(re.escape(f".{name}.") + _RANDOM + re.escape(_SUFFIX))
    removed: list[str] = []
    try:
        candidates = [e for e in os.scandir(directory) if pattern.fullmatch(e.name)]
    except OSError:
        return removed
    for entry in candidates:
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_uid != os.geteuid()
                or now - st.st_mtime < STALE_AGE
                or entry.path in _active
            ):
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises OSError while a live writer holds it
                held = os.fstat(fd)
                now_there = os.stat(entry.path, follow_symlinks=False)
                if (held.st_dev, held.st_ino) == (now_there.st_dev, now_there.st_ino) == (st.st_dev, st.st_ino):
                    os.unlink(entry.path)
                    removed.append(entry.path)
            finally:
                os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", **open_args: Any) -> Iterator[IO[Any]]:
    """A file to write that replaces path only once it is complete.

    The file is created next to path under a temporary name
    ``.<name>.<random>.tmp`` (mode 0600, by ``mkstemp``); when the block ends
    it is flushed, fsynced and renamed over path, and the directory is
    fsynced. If the block raises, the temporary file is removed and path is
    left as it was. Every I/O error is raised.

    Temporary files that earlier writes to the same path left behind (the
    writer was killed) are removed first, where ``fcntl.flock`` exists (not
    on Windows): see :func:`_remove_stale`.
    """
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=_SUFFIX, dir=directory)
    lock_fd = -1
    with _active_lock:
        _active.add(tmp)
    try:
        try:
            f = open(fd, mode, **open_args)
        except BaseException:
            os.close(fd)  # open() raised (a bad mode or argument) without taking the descriptor
            raise
        with f:
            if fcntl is not None:
                # A descriptor of its own keeps the lock until after the rename, however f is closed.
                lock_fd = os.dup(fd)
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _remove_stale(directory, name, time.time())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)
        with _active_lock:
            _active.discard(tmp)
    fsync_dir(directory)
