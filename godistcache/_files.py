"""Atomic file writes, shared by snapshots, downloads and exports."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_write", "fsync_dir"]


def fsync_dir(directory: str) -> None:
    """Make a rename in directory durable (a no-op where directories can't be opened, as on Windows)."""
    if os.name != "posix":  # pragma: no cover - Windows has no directory fsync
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", **open_args: Any) -> Iterator[IO[Any]]:
    """A file to write that replaces path only once it is complete.

    The file is created next to path under a temporary name (mode 0600, by
    ``mkstemp``); when the block ends it is flushed, fsynced and renamed over
    path, and the directory is fsynced. If the block raises, the temporary
    file is removed and path is left as it was. Every I/O error is raised.
    """
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with open(fd, mode, **open_args) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
