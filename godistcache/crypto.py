"""Keys and sealing: AES-256-GCM through the ``cryptography`` package.

A :class:`Keyring` holds one or more 32-byte keys, oldest first. The newest
seals; any of them opens, so keys can rotate: add the new key at the end,
let old values expire or be rewritten, then drop the old key.

A sealed blob is::

    0x01 | key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext + 16-byte tag

The key id is the first 4 bytes of SHA-256(b"godistcache key id\\0" + key):
it names the key that sealed a blob without revealing anything usable about
it. Sealing and opening blobs is the sealing core's (``godistcache._core.seal``);
this module holds the keys. Nothing here is hand-written cryptography: AES-GCM is ``AESGCM`` from
``cryptography``, the id is ``hashlib``, randomness is ``os.urandom``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import warnings
import weakref
from collections.abc import Iterable
from typing import Any, Union

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._core.seal import KeyringCore
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

_ID_SIZE = 4
_ID_DOMAIN = b"godistcache key id\0"

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


#: Every keyring alive, so a forked child can give each a new nonce prefix.
_live_keyrings: weakref.WeakSet[Keyring] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The child starts as a copy of the parent, nonce source included: without
    # a new prefix, both would seal their next values under the same nonces.
    for ring in list(_live_keyrings):
        ring._reset_nonces()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Keyring(KeyringCore):
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
                raise ConfigurationError(
                    f"key {i} (oldest first) has key id {kid.hex()}, as an earlier key: a key is listed twice"
                )
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
    def from_env(cls, *, stacklevel: int = 1) -> Keyring:
        """The keyring named by ``GODISTCACHE_AES_CIPHER_KEY``.

        The variable holds one key, or several separated by commas, oldest
        first (a raw 32-character key that contains a comma can only be given
        alone: write it in hex or base64 to list it with others). If
        ``GODISTCACHE_AES_CIPHER_IV`` is set, warns once that it is ignored.

        Args:
            stacklevel: which caller that warning names, as for
                ``warnings.warn`` (1: the caller of from_env; a wrapper passes more).

        Raises:
            ConfigurationError: the variable is unset or empty, or a key in it
                is malformed.
        """
        return cls._from_environ(stacklevel=stacklevel + 1)

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
        return cls.from_variable(ENV_KEY, value)

    @classmethod
    def from_variable(cls, var: str, value: str) -> Keyring:
        """The keyring an environment variable's value names: one key, or several separated by commas.

        Args:
            var: the variable's name, for error messages.
            value: its value.

        Raises:
            ConfigurationError: a key in value is malformed (the message names var).
        """
        # Every key form is at most 64 characters, so a longer value is a list.
        parts = value.split(",") if len(value) > 2 * KEY_SIZE else [value]
        try:
            return cls(parts)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{var}: {exc}") from None

    @property
    def newest_id(self) -> bytes:
        """The id (4 bytes) of the newest key, the one that seals."""
        return self._ids[-1]

    def derive(self, kid: bytes | None, salt: bytes, info: bytes) -> AESGCM:
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
            raise DecryptionError(
                f"sealed with key id {kid.hex()}, which this keyring does not have ({self._id_list()})"
            )
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
