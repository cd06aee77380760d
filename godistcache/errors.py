"""The exceptions of godistcache, rooted at :class:`GoDistCacheError`.

The compiled core raises only built-in exceptions (KeyError, TypeError,
ValueError, RuntimeError); the Python layer raises these, chained ``from`` the
cause, and inherits a built-in where one fits so ``except ValueError`` keeps
working.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DecryptionError",
    "GoDistCacheError",
    "SnapshotAuthenticationError",
    "SnapshotError",
    "SyncError",
    "no_keyring",
]


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


class SyncError(GoDistCacheError):
    """Talking to the S3 object store failed (:mod:`godistcache.s3`).

    Wrong credentials, a missing bucket or object, an endpoint that can't be
    reached or that fails. The message names the endpoint, bucket and object
    and the cause, never a credential; the minio or urllib3 exception is the
    ``__cause__``.

    Attributes:
        code: the cause in one word: the S3 error code (``NoSuchBucket``,
            ``SignatureDoesNotMatch``, ...) or ``ConnectionRefused``,
            ``ConnectTimeout``, ``ReadTimeout``, ``TLSError``, ``HTTP 503``, ...
        endpoint: the endpoint's URL.
        bucket: the bucket.
        object_name: the object, or None.
        operation: what was being done (``upload``, ``download``, ``list``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        endpoint: str | None = None,
        bucket: str | None = None,
        object_name: str | None = None,
        operation: str | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.endpoint = endpoint
        self.bucket = bucket
        self.object_name = object_name
        self.operation = operation


def no_keyring() -> ConfigurationError:
    """The error of a cache asked to seal or open something while it has no keyring."""
    # The variable's name is crypto.ENV_KEY, spelled out: this module imports nothing of the package.
    return ConfigurationError(
        "this cache has no cipher key: pass Cache(cipher_key=...), set cache.keyring, "
        "or set GODISTCACHE_AES_CIPHER_KEY before the cache is created"
    )
