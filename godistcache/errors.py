"""The exceptions of godistcache, rooted at :class:`GoDistCacheError`.

The compiled core raises only built-in exceptions (KeyError, TypeError,
ValueError, RuntimeError); the Python layer raises these, chained ``from`` the
cause, and inherits a built-in where one fits so ``except ValueError`` keeps
working.
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "DecryptionError", "GoDistCacheError", "SnapshotAuthenticationError", "SnapshotError"]


class GoDistCacheError(Exception):
    """Base class of every error godistcache raises itself."""


class ConfigurationError(GoDistCacheError, ValueError):
    """A setting (an argument or a ``GODISTCACHE_`` environment variable) is missing or malformed."""


class DecryptionError(GoDistCacheError, ValueError):
    """A sealed value does not open: altered, moved to another key, unknown key id, or not sealed at all."""


class SnapshotError(GoDistCacheError, ValueError):
    """A snapshot file is not one this version can read, or is damaged.

    Bad magic, unsupported version, flags or codec, a truncated file, a
    checksum that does not match, a malformed entry. The message names the
    file, and where it went wrong: the frame number and byte offset.

    Attributes:
        path: the file, or None.
        frame: the frame number (0 is the first frame after the header), or
            None when the fault is in the header or the file as a whole.
        offset: the byte offset in the file where the faulty part starts, or None.
    """

    def __init__(self, message: str, *, path: str | None = None, frame: int | None = None, offset: int | None = None):
        super().__init__(message)
        self.path = path
        self.frame = frame
        self.offset = offset


class SnapshotAuthenticationError(SnapshotError, DecryptionError):
    """A sealed snapshot's frame fails authentication: altered, reordered, dropped, from another file or key.

    Both a :class:`SnapshotError` and a :class:`DecryptionError`.
    """
