"""The exceptions of godistcache, rooted at :class:`GoDistCacheError`.

The compiled core raises only built-in exceptions (KeyError, TypeError,
ValueError, RuntimeError); the Python layer raises these, chained ``from`` the
cause, and inherits a built-in where one fits so ``except ValueError`` keeps
working.
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "DecryptionError", "GoDistCacheError"]


class GoDistCacheError(Exception):
    """Base class of every error godistcache raises itself."""


class ConfigurationError(GoDistCacheError, ValueError):
    """A setting (an argument or a ``GODISTCACHE_`` environment variable) is missing or malformed."""


class DecryptionError(GoDistCacheError, ValueError):
    """A sealed value does not open: altered, moved to another key, unknown key id, or not sealed at all."""
