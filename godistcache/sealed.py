"""Sealed values: :meth:`Cache.put_crypt` and :meth:`Cache.get_crypt`, and the cache's keyring.

A sealed value is stored in the table as the bytes of an AES-256-GCM blob
(see :mod:`.crypto`), bound to its cache key, under the cache's keyring. The
sealing itself is the sealing core's (``godistcache._core.seal``: compiled, or
its pure-Python twin); this module is what a cache class inherits to have it.
"""

from __future__ import annotations

import os

from ._contract import CipherKeys
from ._core.seal import CryptMethods
from .crypto import ENV_KEY, Keyring
from .errors import no_keyring

__all__ = ["CipherKeys", "SealedMethods"]


def as_keyring(cipher_key: CipherKeys | None) -> Keyring | None:
    """The keyring a ``cipher_key`` argument names; None reads the environment."""
    if cipher_key is None:
        if ENV_KEY not in os.environ:
            return None
        # Frames above: as_keyring, Cache.__init__, the caller creating the cache.
        return Keyring.from_env(stacklevel=3)
    if isinstance(cipher_key, Keyring):
        return cipher_key
    return Keyring(cipher_key)


class SealedMethods(CryptMethods):
    """Sealed values, for a cache class with a ``_keyring`` slot that its ``__init__`` fills.

    ``put_crypt`` and ``get_crypt`` are the sealing core's pure-Python ones;
    ``godistcache._core.seal.own_sealed_methods`` gives a class on the compiled
    table compiled ones, which write and read the same blobs.
    """

    __slots__ = ()

    _keyring: Keyring | None
    _no_keyring = staticmethod(no_keyring)

    @property
    def keyring(self) -> Keyring | None:
        """The keys that seal and open values, or None.

        Set it to a key, keys oldest first, a :class:`Keyring`, or None (no
        keyring; unlike the constructor, None does not read the environment).
        """
        return self._keyring

    @keyring.setter
    def keyring(self, cipher_key: CipherKeys | None) -> None:
        # The slot is the concrete cache class's, which mypy can't see from a mixin.
        self._keyring = None if cipher_key is None else as_keyring(cipher_key)  # type: ignore[misc]
