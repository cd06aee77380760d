"""The pure-Python sealing core: the twin of ``_seal_c``, writing and reading the same blobs.

A sealed blob is (see :mod:`godistcache.crypto` for the key ids)::

    0x01 | key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext + 16-byte tag

and the plaintext of a sealed cache value is a kind byte (0 bytes, 1 str, 2
codec) and the payload, sealed with :func:`aad` of its cache key as associated
data. :class:`KeyringCore` seals and opens blobs (``Keyring`` subclasses the
twin in use); :class:`CryptMethods` holds ``put_crypt`` and ``get_crypt``, which
``own_sealed_methods`` of the compiled twin replaces by C ones.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigurationError, DecryptionError

if TYPE_CHECKING:
    from .table import TTL

__all__ = ["FORMAT_VERSION", "CryptMethods", "KeyringCore", "aad", "own_sealed_methods"]

#: The version byte every sealed blob starts with.
FORMAT_VERSION = 1
_VERSION_BYTE = bytes((FORMAT_VERSION,))
_NONCE_SIZE = 12
_TAG_SIZE = 16
_HEADER_SIZE = 1 + 4 + _NONCE_SIZE  # version, key id, nonce
_MIN_BLOB = _HEADER_SIZE + _TAG_SIZE
_COUNTER_LIMIT = 1 << 32

_MISSING: Any = object()

# Plaintext of a sealed value: a kind byte, then the payload.
_KIND_BYTES = b"\x00"
_KIND_STR = b"\x01"
_KIND_CODEC = b"\x02"

# Associated data: this prefix and the codec encoding of the cache key, so a
# blob moved to another key (or into a snapshot's frame) does not open.
_AAD_PREFIX = b"godistcache/value/v1\0"
# The codec's encoding of a str shorter than 128 UTF-8 bytes is 0x06, one
# length byte, the bytes: built here for those keys without a codec call.
_AAD_SHORT_STR = tuple(_AAD_PREFIX + bytes((0x06, n)) for n in range(0x80))

_codec_module: ModuleType | None = None


def _codec() -> ModuleType:
    """The value codec, imported on first use: only values other than str/bytes need it."""
    global _codec_module
    if _codec_module is None:
        from . import codec

        _codec_module = codec
    return _codec_module


def aad(key: Hashable) -> bytes:
    """The associated data binding a sealed value to its cache key."""
    if type(key) is str:
        raw = key.encode("utf-8", "surrogatepass")
        if len(raw) < 0x80:
            return _AAD_SHORT_STR[len(raw)] + raw
    try:
        return _AAD_PREFIX + bytes(_codec().encode(key))
    except TypeError as exc:
        raise TypeError(
            "a sealed value is bound to its key, which must be encodable without pickle "
            f"(str, bytes, int, float, tuple, ...); got {type(key).__qualname__}"
        ) from exc


class KeyringCore:
    """Seal, open and the nonce source of a :class:`~godistcache.crypto.Keyring`.

    ``Keyring`` subclasses the twin in use and calls :meth:`_setup` once, from ``__init__``.
    """

    __slots__ = ("_id_text", "_lock", "_nonces", "_open_aeads", "_seal_aead", "_seal_header")

    _id_text: str
    _lock: threading.Lock
    _nonces: tuple[int, Iterator[int]]
    _open_aeads: dict[bytes, AESGCM]
    _seal_aead: AESGCM
    _seal_header: bytes

    def _setup(self, aeads: dict[bytes, AESGCM], id_text: str) -> None:
        """Take the keys: ``aeads`` maps each 4-byte key id to its AESGCM, oldest first."""
        if hasattr(self, "_seal_aead"):
            raise RuntimeError("a keyring's keys are set once")
        if not aeads:
            raise ValueError("no keys")
        self._open_aeads = dict(aeads)
        newest = list(aeads)[-1]
        self._seal_header = _VERSION_BYTE + newest
        self._id_text = id_text
        self._lock = threading.Lock()
        self._nonces = self._new_nonce_source()
        self._seal_aead = aeads[newest]

    @staticmethod
    def _new_nonce_source() -> tuple[int, Iterator[int]]:
        # A nonce is an 8-byte random prefix and a 4-byte counter, as one int.
        return int.from_bytes(os.urandom(8), "big") << 32, itertools.count()

    def _renew(self, counter: Iterator[int]) -> tuple[int, int]:
        """A nonce prefix and count after ``counter`` ran out (see :meth:`seal`)."""
        with self._lock:
            if self._nonces[1] is counter:
                self._nonces = self._new_nonce_source()
            prefix, counter = self._nonces
        n = next(counter)
        if n >= _COUNTER_LIMIT:  # 2**32 seals by other threads since the lock: try again
            return self._renew(counter)
        return prefix, n

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt and authenticate plaintext, bound to aad, with the newest key.

        Returns:
            ``0x01 | key id | nonce | ciphertext and tag``.
        """
        # The nonce: within a process no nonce repeats under one key. next()
        # on an itertools.count is atomic under the GIL, so every seal gets a
        # count of its own, and the 8-byte random prefix is replaced (under a
        # lock, once) before the 4-byte count would wrap; (prefix, counter)
        # is swapped as one tuple, so no thread pairs a new prefix with an old
        # count. A forked child gets a new prefix too (_reset_nonces, called
        # for every live keyring after fork), so parent and child never
        # continue one sequence. Across processes (or keyrings)
        # holding the same key, the prefixes are independent 64-bit random draws:
        # with P prefixes ever drawn under a key, the chance that any two collide
        # is about P**2 / 2**65 (1e-8 for 600,000 of them). Each prefix covers at
        # most 2**32 messages, so P grows by one per process (or keyring) and per
        # 2**32 seals: a key is worn out long before that bound matters.
        # (_seal_c.KeyringCore keeps the same nonces in C.)
        prefix, counter = self._nonces
        n = next(counter)
        if n >= _COUNTER_LIMIT:
            prefix, n = self._renew(counter)
        nonce = (prefix | n).to_bytes(_NONCE_SIZE, "big")
        return self._seal_header + nonce + self._seal_aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """Check and decrypt a blob made by :meth:`seal` with the same aad.

        Raises:
            DecryptionError: the blob is too short, of an unknown version,
                sealed with a key this keyring does not have, or fails
                authentication (tampered, or sealed with another aad).
        """
        if type(blob) is not bytes:
            blob = bytes(memoryview(blob))  # a bytes-like object; anything else: TypeError
        if len(blob) < _MIN_BLOB:
            raise DecryptionError(f"sealed value too short: {len(blob)} bytes, a sealed value has at least {_MIN_BLOB}")
        if blob[0] != FORMAT_VERSION:
            raise DecryptionError(f"unknown sealed value format {blob[0]}, expected {FORMAT_VERSION}")
        kid = blob[1:5]
        aead = self._open_aeads.get(kid)
        if aead is None:
            raise DecryptionError(f"sealed with key id {kid.hex()}, which this keyring does not have ({self._id_text})")
        try:
            return aead.decrypt(blob[5:_HEADER_SIZE], blob[_HEADER_SIZE:], aad)
        except InvalidTag as exc:
            raise DecryptionError(
                f"sealed value with key id {kid.hex()} failed authentication: it was altered, "
                "or sealed for another cache key"
            ) from exc

    def _nonce_state(self) -> tuple[int, int]:
        """(prefix, next count): for tests."""
        prefix, counter = self._nonces
        return prefix >> 32, int(repr(counter)[len("count(") : -1])  # count(n): n, without taking one

    def _set_nonce_state(self, prefix: int, count: int) -> None:
        """Set the prefix and the next count: for tests of the renewal."""
        if not 0 <= count <= _COUNTER_LIMIT or not 0 <= prefix < 1 << 64:
            raise ValueError("prefix or count out of range")
        self._nonces = (prefix << 32, itertools.count(count))

    def _reset_nonces(self) -> None:
        """Draw a new prefix and restart the count (after fork)."""
        if hasattr(self, "_nonces"):
            self._lock = threading.Lock()  # a thread of the parent may have held it: the child has none
            self._nonces = self._new_nonce_source()


class CryptMethods:
    """The pure-Python ``put_crypt`` and ``get_crypt``, for a table class with a ``_keyring`` slot.

    A class on the compiled table gets compiled ones from ``_seal_c.own_sealed_methods``,
    which write and read the same blobs.
    """

    __slots__ = ()

    _keyring: Any  # a KeyringCore (the cache's Keyring), or None; typed by the class that holds the slot
    # The table's methods these use (the class also stands on a table).
    put: Callable[..., None]
    get: Callable[..., Any]

    @staticmethod
    def _no_keyring() -> Exception:
        """The error put_crypt and get_crypt raise when the cache has no keyring (a subclass says how to give one)."""
        return ConfigurationError("this cache has no cipher key")

    def put_crypt(self, key: Hashable, value: Any, ttl: TTL | None = None, *, allow_pickle: bool = False) -> None:
        """Store value under key sealed with AES-256-GCM: only the keyring's holders can read it.

        The table holds the sealed bytes; the cache key is bound into the
        seal (as associated data), so a sealed value copied under another key
        does not open.

        Args:
            key: the cache key; it must be encodable without pickle (str,
                bytes, int, float, tuple of those, ...).
            value: str and bytes are sealed as they are; other values are
                encoded with the value codec first.
            ttl: as for :meth:`put`.
            allow_pickle: pickle values the codec has no native form for.

        Raises:
            ConfigurationError: the cache has no keyring.
            TypeError: key not encodable, or value not encodable without
                allow_pickle=True.
        """
        keyring = self._keyring
        if keyring is None:
            raise self._no_keyring()
        tp = type(value)
        if tp is str:
            plaintext = _KIND_STR + value.encode("utf-8", "surrogatepass")
        elif tp is bytes:
            plaintext = _KIND_BYTES + value
        else:
            plaintext = _KIND_CODEC + bytes(_codec().encode(value, allow_pickle=allow_pickle))
        self.put(key, keyring.seal(plaintext, aad(key)), ttl)

    def get_crypt(self, key: Hashable, default: Any = None) -> Any:
        """Open the value :meth:`put_crypt` stored under key.

        A value that was pickled (``put_crypt(..., allow_pickle=True)``) is
        unpickled: the seal has been checked first, and only a holder of one
        of the keyring's keys can make a seal that checks, so the pickle came
        from a holder of the key.

        Returns:
            The value, or default when key has no live entry.

        Raises:
            ConfigurationError: the cache has no keyring.
            DecryptionError: the entry is not a sealed value, was altered or
                moved from another key, or was sealed with a key this
                keyring does not have.
            TypeError: key not encodable without pickle.
        """
        keyring = self._keyring
        if keyring is None:
            raise self._no_keyring()
        blob = self.get(key, _MISSING)
        if blob is _MISSING:
            return default
        if type(blob) is not bytes:
            raise DecryptionError(
                f"the value under this key is a {type(blob).__qualname__}, "
                "not a sealed value (stored with put, not put_crypt?)"
            )
        plaintext = keyring.open(blob, aad(key))
        kind = plaintext[:1]
        if kind == _KIND_STR:
            return plaintext[1:].decode("utf-8", "surrogatepass")
        if kind == _KIND_BYTES:
            return plaintext[1:]
        if kind == _KIND_CODEC:
            try:
                return _codec().decode(memoryview(plaintext)[1:], allow_pickle=True)
            except ValueError as exc:
                raise DecryptionError(f"sealed value opened but its payload does not decode: {exc}") from exc
        raise DecryptionError(f"sealed value opened but is of unknown kind {kind.hex() or 'empty'}")


def own_sealed_methods(cls: type, no_keyring: Callable[[], Exception]) -> bool:
    """Nothing to do for the pure-Python twin: its methods are :class:`CryptMethods`' own. Returns False."""
    return False
