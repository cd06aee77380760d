"""Keys and sealing: AES-256-GCM through the ``cryptography`` package.

A :class:`Keyring` holds one or more 32-byte keys, oldest first. The newest
seals; any of them opens, so keys can rotate: add the new key at the end,
let old values expire or be rewritten, then drop the old key.

A sealed blob is::

    0x01 | key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext + 16-byte tag

The key id is the first 4 bytes of SHA-256(b"godistcache key id\\0" + key):
it names the key that sealed a blob without revealing anything usable about
it. Nothing here is hand-written cryptography: AES-GCM is ``AESGCM`` from
``cryptography``, the id is ``hashlib``, randomness is ``os.urandom``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import os
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._compat import NO_EXTENSIONS, warn_fallback
from .errors import ConfigurationError, DecryptionError

__all__ = ["ENV_IV", "ENV_KEY", "KEY_SIZE", "CipherKey", "Keyring", "key_id", "parse_key"]

#: Environment variable holding the key, or several separated by commas, oldest first.
ENV_KEY = "GODISTCACHE_AES_CIPHER_KEY"
#: The Go original's fixed IV: accepted and ignored, with a warning.
ENV_IV = "GODISTCACHE_AES_CIPHER_IV"
#: AES-256: 32-byte keys only.
KEY_SIZE = 32

#: One key: 32 raw bytes, or a str of 64 hex digits, base64 of 32 bytes, or 32 ASCII characters.
CipherKey = Union[bytes, bytearray, memoryview, str]

FORMAT_VERSION = 1
_VERSION_BYTE = bytes((FORMAT_VERSION,))
_ID_SIZE = 4
_NONCE_SIZE = 12
_TAG_SIZE = 16
_HEADER_SIZE = 1 + _ID_SIZE + _NONCE_SIZE
_MIN_BLOB = _HEADER_SIZE + _TAG_SIZE
_ID_DOMAIN = b"godistcache key id\0"
_COUNTER_LIMIT = 1 << 32

_KEY_FORMS = "32 bytes, or a str of 64 hex digits, 44 base64 characters (32 bytes) or 32 ASCII characters"
_iv_warned = False


def _bad_key(what: str) -> ConfigurationError:
    # Says what came in (its type and length), never the key material.
    return ConfigurationError(f"cipher key must be {_KEY_FORMS}; got {what}")


def parse_key(key: CipherKey) -> bytes:
    """Normalise a cipher key to its 32 raw bytes.

    Args:
        key: 32 bytes (bytes, bytearray or memoryview); or a str that is 64
            hex digits, the base64 (standard or URL-safe alphabet, padded) of
            32 bytes, or 32 characters whose UTF-8 is 32 bytes (the Go
            original's form, e.g. ``"KwSHE3K0jrMB6MSiQsD9DBLxZx23FHFA"``).

    Returns:
        The key's 32 bytes.

    Raises:
        ConfigurationError: anything else. The message gives the type and
            length that came in, never the key itself.
    """
    if isinstance(key, (bytes, bytearray, memoryview)):
        raw = bytes(key)
        if len(raw) != KEY_SIZE:
            raise _bad_key(f"{len(raw)} bytes")
        return raw
    if not isinstance(key, str):
        raise _bad_key(f"a {type(key).__qualname__}")
    n = len(key)
    if n == 2 * KEY_SIZE:
        try:
            return bytes.fromhex(key)
        except ValueError:
            raise _bad_key("a str of 64 characters that are not all hex digits") from None
    if n == 44:
        try:
            raw = base64.b64decode(key.replace("-", "+").replace("_", "/").encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise _bad_key("a str of 44 characters that is not base64") from None
        if len(raw) != KEY_SIZE:
            raise _bad_key(f"a str of 44 characters that is base64 of {len(raw)} bytes")
        return raw
    if n == KEY_SIZE:
        raw = key.encode("utf-8", "surrogatepass")
        if len(raw) != KEY_SIZE:
            raise _bad_key(f"a str of 32 characters whose UTF-8 is {len(raw)} bytes (use ASCII, hex or base64)")
        return raw
    raise _bad_key(f"a str of {n} characters")


def key_id(key: CipherKey) -> bytes:
    """The 4-byte id of a key: the first 4 bytes of SHA-256(b"godistcache key id\\0" + key)."""
    return hashlib.sha256(_ID_DOMAIN + parse_key(key)).digest()[:_ID_SIZE]


def _warn_iv(stacklevel: int) -> None:
    global _iv_warned
    if _iv_warned:
        return
    _iv_warned = True
    warnings.warn(
        f"{ENV_IV} is ignored: a fixed IV is unsafe (with AES-GCM, repeating a nonce under one key "
        "leaks the XOR of plaintexts and lets anyone forge tags), so every value is sealed with a "
        "fresh nonce of its own. Unset it to silence this warning.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


class _PyKeyringCore:
    """Seal, open and the nonce source of a :class:`Keyring`: the pure-Python twin of
    ``godistcache._crypt_c.KeyringCore``, which writes and reads the same blobs.

    ``Keyring`` subclasses the one in use and calls :meth:`_setup` once, from ``__init__``.
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
        # (godistcache._crypt_c.KeyringCore keeps the same nonces in C.)
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


_crypt_c: Any  # the compiled sealing core, or None
if TYPE_CHECKING or NO_EXTENSIONS:
    _KeyringCore = _PyKeyringCore
    _crypt_c = None
else:
    try:
        from . import _crypt_c
        from ._crypt_c import KeyringCore as _KeyringCore
    except ImportError as exc:  # pragma: no cover - exercised by installs without a compiler
        _KeyringCore = _PyKeyringCore
        _crypt_c = None
        warn_fallback("sealing core", exc)

#: Every keyring alive, so a forked child can give each a new nonce prefix.
_live_keyrings: weakref.WeakSet[Keyring] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The child starts as a copy of the parent, nonce source included: without
    # a new prefix, both would seal their next values under the same nonces.
    for ring in list(_live_keyrings):
        ring._reset_nonces()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Keyring(_KeyringCore):
    """AES-256-GCM keys, oldest first: the newest seals, any of them opens.

    Args:
        keys: one key, or a sequence of keys oldest first (see
            :func:`parse_key` for the forms a key may take).

    Raises:
        ConfigurationError: no key, a key of the wrong form, or two keys
            with the same key id (the same key twice).

    Thread-safe: sealing from several threads never repeats a nonce, nor
    does a forked child continue its parent's nonces (it draws a new prefix).
    A keyring never pickles (it would write its keys into the pickle), and
    its ``repr`` shows only key ids.
    """

    __slots__ = ("__weakref__", "_aeads", "_ids", "_raw")

    _aeads: dict[bytes, AESGCM]
    _ids: tuple[bytes, ...]
    _raw: dict[bytes, bytes]

    def __init__(self, keys: CipherKey | Iterable[CipherKey]) -> None:
        if isinstance(keys, (str, bytes, bytearray, memoryview)):
            keys = (keys,)
        elif isinstance(keys, Keyring):
            raise TypeError("Keyring() takes keys, not a Keyring: use the keyring itself")
        aeads: dict[bytes, AESGCM] = {}
        raws: dict[bytes, bytes] = {}
        for i, key in enumerate(keys):
            try:
                raw = parse_key(key)
            except ConfigurationError as exc:
                raise ConfigurationError(f"key {i} (oldest first): {exc}") from None
            kid = hashlib.sha256(_ID_DOMAIN + raw).digest()[:_ID_SIZE]
            if kid in aeads:
                raise ConfigurationError(f"key {i} (oldest first) has key id {kid.hex()}, as an earlier key: a key is listed twice")
            aeads[kid] = AESGCM(raw)
            raws[kid] = raw
        if not aeads:
            raise ConfigurationError("a keyring needs at least one key, got none")
        self._aeads = aeads
        self._raw = raws
        self._ids = tuple(aeads)
        self._setup(aeads, self._id_list())
        _live_keyrings.add(self)

    @classmethod
    def from_env(cls) -> Keyring:
        """The keyring named by ``GODISTCACHE_AES_CIPHER_KEY``.

        The variable holds one key, or several separated by commas, oldest
        first (a raw 32-character key that contains a comma can only be given
        alone: write it in hex or base64 to list it with others). If
        ``GODISTCACHE_AES_CIPHER_IV`` is set, warns once that it is ignored.

        Raises:
            ConfigurationError: the variable is unset or empty, or a key in it
                is malformed.
        """
        return cls._from_environ(stacklevel=2)

    @classmethod
    def _from_environ(cls, stacklevel: int) -> Keyring:
        """from_env, warning ``stacklevel`` frames above the caller."""
        if os.environ.get(ENV_IV):
            _warn_iv(stacklevel + 1)
        value = os.environ.get(ENV_KEY)
        if value is None:
            raise ConfigurationError(f"{ENV_KEY} is not set")
        if not value:
            raise ConfigurationError(f"{ENV_KEY} is set but empty")
        return cls._from_variable(ENV_KEY, value)

    @classmethod
    def _from_variable(cls, var: str, value: str) -> Keyring:
        """The keyring an environment variable's value names: one key, or several separated by commas."""
        # Every key form is at most 64 characters, so a longer value is a list.
        parts = value.split(",") if len(value) > 2 * KEY_SIZE else [value]
        try:
            return cls(parts)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{var}: {exc}") from None

    def _derive(self, kid: bytes | None, salt: bytes, info: bytes) -> AESGCM:
        """A one-use AES-256-GCM key: HKDF-SHA256 of key ``kid`` (None: the newest) over salt and info.

        Snapshot files are sealed under a key derived this way from a fresh
        random 32-byte salt, so each file has a key of its own and its frames
        can use plain counters as nonces.

        Raises:
            DecryptionError: this keyring has no key with id kid.
        """
        if kid is None:
            kid = self._ids[-1]
        raw = self._raw.get(kid)
        if raw is None:
            raise DecryptionError(f"sealed with key id {kid.hex()}, which this keyring does not have ({self._id_list()})")
        return AESGCM(HKDF(algorithm=SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(raw))

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The key ids in hex, oldest first; the last one seals."""
        return tuple(kid.hex() for kid in self._ids)

    def _id_list(self) -> str:
        return "key ids " + ", ".join(self.key_ids)

    def __repr__(self) -> str:
        return f"<Keyring {self._id_list()} (the last seals)>"

    def __reduce__(self) -> Any:
        raise TypeError("a Keyring holds key material and does not pickle: give the unpickled side its keys")

    def __copy__(self) -> Keyring:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Keyring:
        return self
