"""Sealed values: keys, keyrings, AES-256-GCM seal/open, put_crypt/get_crypt on both cores."""

from __future__ import annotations

import base64
import copy
import datetime
import decimal
import fractions
import hashlib
import itertools
import os
import pickle
import subprocess
import sys
import threading
import uuid
import warnings
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import godistcache
from godistcache import crypto
from godistcache._core import CORES, _seal_py, twins
from godistcache._core._seal_py import CryptMethods
from godistcache._core._seal_py import aad as _aad
from godistcache.cache import Cache
from godistcache.crypto import ENV_IV, ENV_KEY, Keyring, key_id, parse_key
from godistcache.errors import ConfigurationError, DecryptionError, GoDistCacheError

# Three distinct keys, and the Go original's documented example key (32 ASCII characters).
RAW_A = bytes(range(32))
RAW_B = bytes(range(100, 132))
RAW_C = hashlib.sha256(b"key c").digest()
GO_KEY = "KwSHE3K0jrMB6MSiQsD9DBLxZx23FHFA"

HEADER = 1 + 4 + 12


def key_forms(raw: bytes) -> list[Any]:
    """Every accepted spelling of one key."""
    b64 = base64.b64encode(raw).decode()
    return [
        raw,
        bytearray(raw),
        memoryview(raw),
        raw.hex(),
        raw.hex().upper(),
        b64,
        base64.urlsafe_b64encode(raw).decode(),
    ]


def spellings(raw: bytes) -> list[bytes]:
    """How a key's material could leak into text: raw, hex, base64 (and their str forms)."""
    out = [raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]
    return out + [repr(raw).encode()]


def assert_no_key_material(text: str | bytes, *raws: bytes) -> None:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    for raw in raws:
        for spelled in spellings(raw):
            assert spelled not in data
        # Nor a long stretch of it (half the key in hex is already too much).
        assert raw.hex()[:16].encode() not in data


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or IV from the environment running the tests; the IV warning not yet given."""
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_IV, raising=False)
    monkeypatch.setattr(crypto, "_iv_warned", False)


@pytest.fixture(scope="session")
def sealed_cls(cache_cls: type) -> type:
    """A Cache with sealed values on the core under test (c, py)."""
    return cache_cls


@pytest.fixture
def sealed(sealed_cls: type, request: pytest.FixtureRequest) -> Any:
    """A cache on the core under test whose keyring holds RAW_A; its timer is ``clock`` if the test has one."""
    if "clock" in request.fixturenames:
        return sealed_cls(cipher_key=RAW_A, timer=request.getfixturevalue("clock"))
    return sealed_cls(cipher_key=RAW_A)


# -- keys ---------------------------------------------------------------------


class TestParseKey:
    @pytest.mark.parametrize(
        "form", range(7), ids=["bytes", "bytearray", "memoryview", "hex", "HEX", "base64", "urlsafe"]
    )
    def test_every_form(self, form: int) -> None:
        for raw in (RAW_A, RAW_B, RAW_C):
            assert parse_key(key_forms(raw)[form]) == raw

    def test_go_form(self) -> None:
        assert parse_key(GO_KEY) == GO_KEY.encode("ascii")

    @pytest.mark.parametrize("n", [n for n in range(0, 100) if n != 32])
    def test_wrong_byte_lengths(self, n: int) -> None:
        with pytest.raises(ConfigurationError, match=rf"got {n} bytes$"):
            parse_key(os.urandom(n))

    @pytest.mark.parametrize("n", [n for n in range(0, 130) if n not in (32, 44, 64)])
    def test_wrong_str_lengths(self, n: int) -> None:
        key = ("K9a/" * 40)[:n]
        with pytest.raises(ConfigurationError, match=rf"got a str of {n} characters$") as info:
            parse_key(key)
        if n >= 8:
            assert key not in str(info.value)

    def test_64_characters_not_hex(self) -> None:
        key = RAW_A.hex()[:-1] + "g"
        with pytest.raises(ConfigurationError, match="64 characters that are not all hex digits") as info:
            parse_key(key)
        assert_no_key_material(str(info.value), RAW_A)
        assert key[:20] not in str(info.value)

    @pytest.mark.parametrize("n", [31, 33])
    def test_44_characters_base64_of_other_length(self, n: int) -> None:
        key = base64.b64encode(os.urandom(n)).decode()
        assert len(key) == 44
        with pytest.raises(ConfigurationError, match=f"base64 of {n} bytes") as info:
            parse_key(key)
        assert key not in str(info.value)

    @pytest.mark.parametrize("key", ["!" * 44, "é" * 44, base64.b64encode(RAW_A).decode()[:-1] + "*"])
    def test_44_characters_not_base64(self, key: str) -> None:
        with pytest.raises(ConfigurationError, match="44 characters that is not base64"):
            parse_key(key)

    def test_32_characters_not_ascii(self) -> None:
        key = "é" * 32
        with pytest.raises(ConfigurationError, match="32 characters whose UTF-8 is 64 bytes") as info:
            parse_key(key)
        assert key not in str(info.value)

    @pytest.mark.parametrize("key", [None, 12345, 3.5, [RAW_A], object()], ids=lambda k: type(k).__name__)
    def test_wrong_type(self, key: Any) -> None:
        with pytest.raises(ConfigurationError, match=f"got a {type(key).__qualname__}$"):
            parse_key(key)

    def test_error_family(self) -> None:
        with pytest.raises(ConfigurationError) as info:
            parse_key(b"short")
        assert isinstance(info.value, ValueError) and isinstance(info.value, GoDistCacheError)
        assert issubclass(DecryptionError, ValueError) and issubclass(DecryptionError, GoDistCacheError)
        assert godistcache.ConfigurationError is ConfigurationError
        assert godistcache.DecryptionError is DecryptionError
        assert godistcache.Keyring is Keyring


class TestKeyIds:
    def test_definition(self) -> None:
        for raw in (RAW_A, RAW_B, GO_KEY.encode()):
            assert key_id(raw) == hashlib.sha256(b"godistcache key id\0" + raw).digest()[:4]

    def test_same_key_same_id_in_every_form(self) -> None:
        assert {key_id(form) for form in key_forms(RAW_A)} == {key_id(RAW_A)}

    def test_distinct_keys_distinct_ids(self) -> None:
        assert len({key_id(raw) for raw in (RAW_A, RAW_B, RAW_C, GO_KEY)}) == 4

    def test_keyring_ids_oldest_first(self) -> None:
        ring = Keyring([RAW_A, RAW_B.hex(), GO_KEY])
        assert ring.key_ids == (key_id(RAW_A).hex(), key_id(RAW_B).hex(), key_id(GO_KEY).hex())

    def test_sealed_blob_names_the_newest_key(self) -> None:
        blob = Keyring([RAW_A, RAW_B]).seal(b"x", b"aad")
        assert blob[0] == 1 and blob[1:5] == key_id(RAW_B)
        assert len(blob) == HEADER + 1 + 16

    def test_duplicate_key_is_refused(self) -> None:
        with pytest.raises(ConfigurationError, match=f"key 2 .* key id {key_id(RAW_A).hex()}.* listed twice") as info:
            Keyring([RAW_A, RAW_B, RAW_A.hex()])
        assert_no_key_material(str(info.value), RAW_A, RAW_B)

    def test_no_key_is_refused(self) -> None:
        with pytest.raises(ConfigurationError, match="at least one key"):
            Keyring([])

    def test_bad_key_in_a_list_says_which(self) -> None:
        with pytest.raises(ConfigurationError, match=r"key 1 \(oldest first\): .*got 31 bytes"):
            Keyring([RAW_A, RAW_B[:31]])

    def test_keyring_of_a_keyring_is_a_type_error(self) -> None:
        with pytest.raises(TypeError):
            Keyring(Keyring(RAW_A))  # type: ignore[arg-type]


# -- seal and open ------------------------------------------------------------


class TestSealOpen:
    def test_round_trip(self) -> None:
        ring = Keyring(RAW_A)
        for plaintext in (b"", b"x", os.urandom(1000)):
            assert ring.open(ring.seal(plaintext, b"ad"), b"ad") == plaintext

    def test_other_aad_does_not_open(self) -> None:
        ring = Keyring(RAW_A)
        with pytest.raises(DecryptionError, match="failed authentication") as info:
            ring.open(ring.seal(b"x", b"ad"), b"ae")
        assert type(info.value.__cause__).__name__ == "InvalidTag"

    def test_nonces_unique_over_100k_seals(self) -> None:
        ring = Keyring(RAW_A)
        blobs = [ring.seal(b"", b"") for _ in range(100_000)]
        nonces = {b[5:HEADER] for b in blobs}
        assert len(nonces) == 100_000
        # One random prefix, then a big-endian count.
        assert len({n[:8] for n in nonces}) == 1
        assert [int.from_bytes(b[13:HEADER], "big") for b in blobs[:3]] == [0, 1, 2]

    def test_nonces_unique_across_threads(self) -> None:
        ring = Keyring(RAW_A)
        out: list[list[bytes]] = [[] for _ in range(4)]

        def work(i: int) -> None:
            out[i].extend(ring.seal(b"", b"")[5:HEADER] for _ in range(10_000))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(itertools.chain.from_iterable(out))) == 40_000

    def test_keyrings_of_one_key_draw_their_own_prefixes(self) -> None:
        prefixes = {Keyring(RAW_A).seal(b"", b"")[5:13] for _ in range(100)}
        assert len(prefixes) == 100

    def test_counter_exhaustion_draws_a_new_prefix(self) -> None:
        ring = Keyring(RAW_A)
        prefix, _ = ring._nonce_state()
        ring._set_nonce_state(prefix, 2**32 - 2)
        nonces = [ring.seal(b"", b"")[5:HEADER] for _ in range(4)]
        assert [n[8:] for n in nonces] == [b"\xff\xff\xff\xfe", b"\xff\xff\xff\xff", b"\0\0\0\0", b"\0\0\0\1"]
        assert nonces[0][:8] == nonces[1][:8] == prefix.to_bytes(8, "big")
        assert nonces[2][:8] == nonces[3][:8] != nonces[0][:8]
        assert all(ring.open(ring.seal(b"v", b"a"), b"a") == b"v" for _ in range(2))

    @pytest.mark.parametrize("n", range(HEADER + 16))
    def test_short_blob(self, n: int) -> None:
        with pytest.raises(DecryptionError, match=f"too short: {n} bytes"):
            Keyring(RAW_A).open(b"\x01" * n, b"")

    @pytest.mark.parametrize("version", [0, 2, 255])
    def test_unknown_version(self, version: int) -> None:
        ring = Keyring(RAW_A)
        blob = bytes([version]) + ring.seal(b"x", b"")[1:]
        with pytest.raises(DecryptionError, match=f"unknown sealed value format {version}, expected 1"):
            ring.open(blob, b"")

    def test_unknown_key_id(self) -> None:
        blob = Keyring(RAW_B).seal(b"x", b"")
        with pytest.raises(
            DecryptionError, match=f"^sealed with key id {key_id(RAW_B).hex()}, which this keyring does not have"
        ):
            Keyring(RAW_A).open(blob, b"")


class TestRotation:
    def test_old_key_opens_new_key_seals(self, sealed_cls: Any) -> None:
        old = sealed_cls(cipher_key=RAW_A)
        old.put_crypt("k", "old value")
        both = sealed_cls(cipher_key=[RAW_A, RAW_B])
        both.put("k", old.get("k"))
        assert both.get_crypt("k") == "old value"
        both.put_crypt("n", "new value")
        assert both.get("n")[1:5] == key_id(RAW_B)
        assert sealed_cls(cipher_key=RAW_B).copy().__class__ is sealed_cls
        new_only = sealed_cls(cipher_key=RAW_B)
        for k in ("k", "n"):
            new_only.put(k, both.get(k))
        assert new_only.get_crypt("n") == "new value"
        with pytest.raises(
            DecryptionError, match=f"sealed with key id {key_id(RAW_A).hex()}, which this keyring does not have"
        ):
            new_only.get_crypt("k")

    def test_rotating_the_keyring_of_a_cache(self, sealed: Any) -> None:
        sealed.put_crypt("k", b"v")
        sealed.keyring = [RAW_A, RAW_B]
        assert sealed.get_crypt("k") == b"v"
        sealed.put_crypt("k2", b"w")
        sealed.keyring = Keyring(RAW_B)
        assert sealed.get_crypt("k2") == b"w"
        with pytest.raises(DecryptionError, match="which this keyring does not have"):
            sealed.get_crypt("k")


# -- put_crypt / get_crypt ------------------------------------------------------


VALUES: list[Any] = [
    "",
    "plain text",
    "ünïcødé ✓ \U0001f600",
    "lone \ud800 surrogate",
    b"",
    b"\x00\xff" * 100,
    ("One", 7, 3.3),
    [1, "two", None, True, 2.5],
    {"a": 1, "b": [b"x"], 3: (4,)},
    {1, 2, 3},
    frozenset({"x"}),
    None,
    0,
    -(2**100),
    float("inf"),
    bytearray(b"ba"),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
    datetime.timedelta(days=3),
    decimal.Decimal("1.10"),
    uuid.UUID(int=12345),
]


class TestPutGetCrypt:
    @pytest.mark.parametrize("value", VALUES, ids=repr)
    def test_round_trip(self, sealed: Any, value: Any) -> None:
        sealed.put_crypt("k", value)
        got = sealed.get_crypt("k")
        assert got == value and type(got) is type(value)

    @pytest.mark.parametrize("value", ["secret text", b"secret bytes", ("secret", 1)], ids=repr)
    def test_table_holds_only_the_sealed_bytes(self, sealed: Any, value: Any) -> None:
        sealed.put_crypt("k", value)
        blob = sealed.get("k")
        assert type(blob) is bytes and blob[0] == 1 and blob[1:5] == key_id(RAW_A)
        assert b"secret" not in blob

    @pytest.mark.parametrize("key", ["k", "", "é" * 200, b"k", 1, -1.5, ("t", 1), None, True], ids=repr)
    def test_key_types(self, sealed: Any, key: Any) -> None:
        sealed.put_crypt(key, "v")
        assert sealed.get_crypt(key) == "v"

    def test_same_value_seals_differently(self, sealed: Any) -> None:
        sealed.put_crypt("a", "v")
        first = sealed.get("a")
        sealed.put_crypt("a", "v")
        assert sealed.get("a") != first

    def test_missing_key_gives_default(self, sealed: Any) -> None:
        assert sealed.get_crypt("nope") is None
        marker = object()
        assert sealed.get_crypt("nope", marker) is marker

    def test_ttl(self, sealed: Any, clock: Any) -> None:
        sealed.put_crypt("short", "v", ttl=1)
        sealed.put_crypt("long", "v", 10)
        sealed.put_crypt("delta", "v", ttl=datetime.timedelta(seconds=5))
        assert sealed.ttl("short") == 1.0
        clock.advance(1)
        assert sealed.get_crypt("short", "gone") == "gone"
        assert sealed.get_crypt("long") == "v" and sealed.get_crypt("delta") == "v"

    def test_default_ttl_applies(self, sealed_cls: Any, clock: Any) -> None:
        cache = sealed_cls(default_ttl=2, cipher_key=RAW_A)
        cache.put_crypt("k", "v")
        assert cache.ttl("k") == 2.0

    def test_bad_ttl_stores_nothing(self, sealed: Any) -> None:
        with pytest.raises(ValueError, match="ttl must be >= 0"):
            sealed.put_crypt("k", "v", ttl=-1)
        assert "k" not in sealed

    def test_unencodable_value_needs_allow_pickle(self, sealed: Any) -> None:
        with pytest.raises(TypeError, match="Fraction"):
            sealed.put_crypt("k", fractions.Fraction(1, 3))
        assert "k" not in sealed
        sealed.put_crypt("k", fractions.Fraction(1, 3), allow_pickle=True)
        assert sealed.get_crypt("k") == fractions.Fraction(1, 3)

    @pytest.mark.parametrize(
        "key", [object(), fractions.Fraction(1, 2), type("StrSub", (str,), {})("k")], ids=lambda k: type(k).__name__
    )
    def test_unencodable_key_is_a_type_error(self, sealed: Any, key: Any) -> None:
        name = type(key).__qualname__
        with pytest.raises(TypeError, match=f"sealed value is bound to its key.*got {name}$"):
            sealed.put_crypt(key, "v")
        assert key not in sealed
        sealed.put(key, b"x" * 40)
        with pytest.raises(TypeError, match=f"got {name}$"):
            sealed.get_crypt(key)

    def test_moved_to_another_key_does_not_open(self, sealed: Any) -> None:
        sealed.put_crypt("a", "for a")
        for other in ("b", b"a", ("a",), "a "):
            sealed.put(other, sealed.get("a"))
            with pytest.raises(DecryptionError, match="failed authentication"):
                sealed.get_crypt(other)
        sealed.put_crypt(1, "for int 1")
        sealed.put(1.0, sealed.get(1))  # same dict key: the entry keeps the key 1
        assert sealed.get_crypt(1) == "for int 1"
        sealed.put("1", sealed.get(1))
        with pytest.raises(DecryptionError):
            sealed.get_crypt("1")

    def test_moved_to_another_cache_with_the_key_opens(self, sealed_cls: Any, sealed: Any) -> None:
        sealed.put_crypt("a", "v")
        other = sealed_cls(cipher_key=RAW_A.hex())
        other.put("a", sealed.get("a"))
        assert other.get_crypt("a") == "v"

    def test_every_single_byte_flip_is_detected(self, sealed: Any) -> None:
        sealed.put_crypt("k", ("tuple", 1))
        blob = sealed.get("k")
        for i in range(len(blob)):
            for mask in (0x01, 0x80, 0xFF):
                bad = bytearray(blob)
                bad[i] ^= mask
                sealed.put("k", bytes(bad))
                with pytest.raises(DecryptionError):
                    sealed.get_crypt("k")
        for bad_blob in (blob[:-1], blob + b"\0", blob[:HEADER] + blob[HEADER + 1 :]):
            sealed.put("k", bad_blob)
            with pytest.raises(DecryptionError):
                sealed.get_crypt("k")
        sealed.put("k", blob)
        assert sealed.get_crypt("k") == ("tuple", 1)

    @pytest.mark.parametrize("value", ["plain str", b"plain bytes", b"\x01" + bytes(60), 42, None, ("t",)], ids=repr)
    def test_plain_put_value_is_not_a_sealed_value(self, sealed: Any, value: Any) -> None:
        sealed.put("k", value)
        with pytest.raises(DecryptionError):
            sealed.get_crypt("k")

    def test_plain_value_message(self, sealed: Any) -> None:
        sealed.put("k", 42)
        with pytest.raises(DecryptionError, match="is a int, not a sealed value"):
            sealed.get_crypt("k")

    def test_seal_of_unknown_kind_or_bad_payload(self, sealed: Any) -> None:
        # Only a key holder can make these: opened, then refused.

        ring = sealed.keyring
        sealed.put("k", ring.seal(b"\x09payload", _aad("k")))
        with pytest.raises(DecryptionError, match="unknown kind 09"):
            sealed.get_crypt("k")
        sealed.put("k", ring.seal(b"", _aad("k")))
        with pytest.raises(DecryptionError, match="unknown kind empty"):
            sealed.get_crypt("k")
        sealed.put("k", ring.seal(b"\x02\xee", _aad("k")))
        with pytest.raises(DecryptionError, match="does not decode") as info:
            sealed.get_crypt("k")
        assert isinstance(info.value.__cause__, ValueError)
        sealed.put("k", ring.seal(b"\x01\xff", _aad("k")))
        with pytest.raises(UnicodeDecodeError):
            sealed.get_crypt("k")

    def test_aad_matches_the_codec(self) -> None:
        from godistcache._core import codec as _codec

        for key in ["", "k", "é" * 63, "a" * 127, "a" * 128, "\ud800", b"k", 1, ("a", 1)]:
            assert _aad(key) == b"godistcache/value/v1\0" + _codec.encode(key)


# -- the compiled and the pure-Python twins -------------------------------------------

_crypt_c = twins("c").seal if CORES["seal"] == "c" else None
needs_c = pytest.mark.skipif(_crypt_c is None, reason="the compiled sealing core is not in use")
posix_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")

#: Keys of every shape the associated data has a path for (short ASCII str, the rest through the codec).
TWIN_KEYS: list[Any] = [
    "",
    "k",
    "a" * 127,
    "a" * 128,
    "é" * 63,
    "é" * 64,
    "\ud800",
    "✓" * 50,
    "x" * 100_000,
    b"",
    b"k" * 300,
    0,
    -1,
    2**100,
    1.5,
    float("nan"),
    None,
    True,
    ("a", 1, (b"b", None)),
    frozenset({1}),
]


class _PyRing(_seal_py.KeyringCore):
    """A keyring on the pure-Python sealing core, whichever core Keyring stands on."""

    __slots__ = ()


def py_ring(*raws: bytes) -> _PyRing:
    ring = _PyRing()
    ring._setup({key_id(raw): AESGCM(raw) for raw in raws}, "key ids " + ", ".join(key_id(r).hex() for r in raws))
    return ring


def expected_plaintext(value: Any) -> bytes:
    """What put_crypt seals for value, spelled out from the format."""
    from godistcache._core import codec as _codec

    if type(value) is str:
        return b"\x01" + value.encode("utf-8", "surrogatepass")
    if type(value) is bytes:
        return b"\x00" + value
    return b"\x02" + _codec.encode(value)


def nonce_of(blob: bytes) -> bytes:
    return blob[5:HEADER]


class TestTwins:
    @pytest.mark.parametrize("n", [0, 1, 50, 239, 240, 255, 256, 257, 5000])
    def test_seal_layers_open_each_other(self, n: int) -> None:
        plaintext, aad = os.urandom(n), os.urandom(n % 300)
        ring, twin = Keyring([RAW_B, RAW_A]), py_ring(RAW_B, RAW_A)
        assert twin.open(ring.seal(plaintext, aad), aad) == plaintext
        assert ring.open(twin.seal(plaintext, aad), aad) == plaintext
        # And the format spelled out: version, key id, nonce, AESGCM's ciphertext and tag.
        blob = ring.seal(plaintext, aad)
        assert blob[:5] == b"\x01" + key_id(RAW_A)
        assert AESGCM(RAW_A).decrypt(nonce_of(blob), blob[HEADER:], aad) == plaintext
        nonce = os.urandom(12)
        made = b"\x01" + key_id(RAW_B) + nonce + AESGCM(RAW_B).encrypt(nonce, plaintext, aad)
        assert ring.open(made, aad) == twin.open(made, aad) == plaintext

    def test_seal_layers_fail_alike(self) -> None:
        ring, twin = Keyring(RAW_A), py_ring(RAW_A)
        blob = ring.seal(b"x", b"ad")
        cases = [blob[:n] for n in (0, 1, HEADER, HEADER + 15)]
        cases += [b"\x02" + blob[1:], b"\x01" + key_id(RAW_C) + blob[5:], blob[:-1] + bytes([blob[-1] ^ 1])]
        for bad in cases:
            messages = []
            for r in (ring, twin):
                with pytest.raises(DecryptionError) as info:
                    r.open(bad, b"ad")
                messages.append(str(info.value))
            assert messages[0] == messages[1]

    def test_bytes_like_blobs_open_and_others_do_not(self) -> None:
        for ring in (Keyring(RAW_A), py_ring(RAW_A)):
            blob = ring.seal(b"v", b"a")
            assert ring.open(bytearray(blob), b"a") == ring.open(memoryview(blob), b"a") == b"v"
            for bad in ("text", 5, None, [1, 2]):
                with pytest.raises(TypeError):
                    ring.open(bad, b"a")  # type: ignore[arg-type]

    @needs_c
    def test_aad_is_the_same(self) -> None:
        for key in TWIN_KEYS:
            assert _crypt_c.aad(key) == _aad(key)

    @needs_c
    @pytest.mark.parametrize("key", TWIN_KEYS[:12], ids=lambda k: repr(k)[:20])
    def test_framings_open_each_other(self, key: Any) -> None:
        cache = Cache(cipher_key=RAW_A)
        assert type(vars(Cache)["put_crypt"]).__name__ == "method_descriptor"
        ring = cache.keyring
        for value in [*VALUES, "x" * 300, b"y" * 70_000]:
            cache.put_crypt(key, value)
            blob = cache.get(key)
            assert ring.open(blob, _aad(key)) == expected_plaintext(value)
            got = CryptMethods.get_crypt(cache, key)
            assert got == value and type(got) is type(value)
            CryptMethods.put_crypt(cache, key, value)
            assert ring.open(cache.get(key), _aad(key)) == expected_plaintext(value)
            got = cache.get_crypt(key)
            assert got == value and type(got) is type(value)

    @needs_c
    def test_across_processes(self) -> None:
        """Blobs of the pure-Python twin (GODISTCACHE_NO_EXTENSIONS=1) open here, and the other way round."""
        values = ["text", "ünï \ud800", b"\x00bytes", ("One", 1, 3.3), {"a": [1, None]}, 2**70]
        keys = ["k", "é" * 100, ("t", 2), b"b" * 200]
        here = Cache(cipher_key=RAW_A)
        for i, key in enumerate(keys):
            here.put_crypt(key, values[i])
        script = (
            "import sys, ast\n"
            "from godistcache import CORES, Cache\n"
            "assert CORES['seal'] == 'py' and type(Cache.put_crypt).__name__ == 'function'\n"
            "keys, values, blobs = ast.literal_eval(sys.stdin.read())\n"
            "cache = Cache(cipher_key=bytes(range(32)))\n"
            "opened = []\n"
            "for key, blob in zip(keys, blobs):\n"
            "    cache.put(key, blob)\n"
            "    opened.append(cache.get_crypt(key))\n"
            "for key, value in zip(keys, values):\n"
            "    cache.put_crypt(key, value)\n"
            "print(repr((opened, [cache.get(k) for k in keys])))\n"
        )
        env = dict(os.environ, GODISTCACHE_NO_EXTENSIONS="1", PYTHONPATH=os.pathsep.join(sys.path))
        payload = repr((keys, values, [here.get(k) for k in keys]))
        out = subprocess.run(
            [sys.executable, "-c", script],
            input=payload,
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        import ast

        opened_there, blobs_there = ast.literal_eval(out.stdout)
        assert opened_there == values[: len(keys)]
        for key, blob, value in zip(keys, blobs_there, values):
            here.put(key, blob)
            assert here.get_crypt(key) == value


class TestNonceUniqueness:
    def _put_from_threads(self, cache: Any, threads: int, each: int) -> list[bytes]:
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible
        try:
            start = threading.Barrier(threads)

            def work(t: int) -> None:
                start.wait()
                for i in range(each):
                    cache.put_crypt((t, i), "v")

            workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        finally:
            sys.setswitchinterval(switch)
        return [cache.get((t, i)) for t in range(threads) for i in range(each)]

    def test_put_crypt_from_threads_never_repeats_a_nonce(self, sealed: Any) -> None:
        blobs = self._put_from_threads(sealed, 8, 5_000)
        assert len({nonce_of(b) for b in blobs}) == len(blobs) == 40_000

    def test_public_cache_from_threads_never_repeats_a_nonce(self) -> None:
        cache = Cache(cipher_key=RAW_A)
        blobs = self._put_from_threads(cache, 8, 5_000)
        assert len({nonce_of(b) for b in blobs}) == 40_000
        assert all(cache.get_crypt((t, i)) == "v" for t in range(8) for i in range(5_000))

    def test_renewal_under_threads_never_repeats_a_nonce(self, sealed: Any) -> None:
        ring = sealed.keyring
        prefix, _ = ring._nonce_state()
        ring._set_nonce_state(prefix, 2**32 - 3_000)  # the count runs out while 8 threads seal
        blobs = self._put_from_threads(sealed, 8, 2_000)
        nonces = [nonce_of(b) for b in blobs]
        assert len(set(nonces)) == 16_000
        prefixes = {n[:8] for n in nonces}
        assert prefix.to_bytes(8, "big") in prefixes and 2 <= len(prefixes) <= 9
        assert all(int.from_bytes(n[8:], "big") < 13_000 for n in nonces if n[:8] != prefix.to_bytes(8, "big"))

    @posix_fork
    def test_a_forked_child_draws_a_new_prefix(self) -> None:
        ring = Keyring(RAW_A)
        ring.seal(b"", b"")
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.write(write, nonce_of(ring.seal(b"", b"")))
            finally:
                os._exit(0)
        os.close(write)
        child = os.read(read, 12)
        os.close(read)
        os.waitpid(pid, 0)
        parent = nonce_of(ring.seal(b"", b""))
        assert len(child) == 12 and child[:8] != parent[:8]
        assert child[8:] == b"\0\0\0\0" and parent[8:] == b"\0\0\0\1"


class TestHostileInput:
    def test_every_truncation(self, sealed: Any) -> None:
        sealed.put_crypt("k", "value")
        blob = sealed.get("k")
        for n in range(len(blob)):
            sealed.put("k", blob[:n])
            with pytest.raises(DecryptionError, match="too short" if n < HEADER + 16 else "failed authentication"):
                sealed.get_crypt("k")

    @pytest.mark.parametrize("kind", [bytearray, memoryview, str, int, type("BytesSub", (bytes,), {}), list])
    def test_values_not_bytes(self, sealed: Any, kind: Any) -> None:
        sealed.put_crypt("k", "value")
        blob = sealed.get("k")
        bad = blob.hex() if kind is str else len(blob) if kind is int else kind(blob)
        sealed.put("k", bad)
        with pytest.raises(DecryptionError, match=f"is a {type(bad).__qualname__}, not a sealed value"):
            sealed.get_crypt("k")

    def test_wrong_key_ids(self, sealed: Any) -> None:
        sealed.put_crypt("k", "value")
        blob = sealed.get("k")
        for kid in (b"\0\0\0\0", b"\xff" * 4, key_id(RAW_B), os.urandom(4)):
            sealed.put("k", blob[:1] + kid + blob[5:])
            with pytest.raises(
                DecryptionError, match=f"^sealed with key id {kid.hex()}, which this keyring does not have"
            ):
                sealed.get_crypt("k")

    @pytest.mark.parametrize(
        "key",
        ["é" * 1_000_000, b"\xff" * 5_000_000, ("x" * 100_000,) * 50, 2**10_000],
        ids=["str", "bytes", "tuple", "int"],
    )
    def test_huge_keys(self, sealed: Any, key: Any) -> None:
        sealed.put_crypt(key, "v")
        sealed.put_crypt(key, b"w" * 1_000_000)
        assert sealed.get_crypt(key) == b"w" * 1_000_000

    def test_key_nested_too_deep(self, sealed: Any) -> None:
        key: Any = ()
        for _ in range(10_000):
            key = (key,)
        with pytest.raises(ValueError):
            sealed.put_crypt(key, "v")
        assert len(sealed) == 0

    def test_unhashable_key(self, sealed: Any) -> None:
        with pytest.raises(TypeError):
            sealed.put_crypt([1], "v")
        with pytest.raises(TypeError):
            sealed.get_crypt([1])

    def test_reentrant_seal_while_encoding(self, sealed: Any) -> None:
        class Reenters:
            def __reduce__(self) -> Any:
                for i in range(3):
                    sealed.put_crypt(("inner", i), "x" * (100 * i))
                return (str, ("reduced",))

        sealed.put_crypt("outer", [Reenters(), "tail"], allow_pickle=True)
        assert sealed.get_crypt("outer") == ["reduced", "tail"]
        assert [sealed.get_crypt(("inner", i)) for i in range(3)] == ["", "x" * 100, "x" * 200]

    def test_overridden_put_and_get_are_honoured(self, sealed_cls: Any) -> None:
        calls: list[str] = []

        class Logged(sealed_cls):  # type: ignore[misc,valid-type]
            __slots__ = ()

            def put(self, key: Any, value: Any, ttl: Any = None) -> None:
                calls.append("put")
                super().put(key, value, ttl)

        cache = Logged(cipher_key=RAW_A)
        cache.put_crypt("k", "v")
        assert calls == ["put"] and cache.get_crypt("k") == "v"

        def get(self: Any, key: Any, default: Any = None) -> Any:
            calls.append("get")
            return sealed_cls.get(self, key, default)

        Logged.get = get  # after the first calls: the compiled methods must notice
        assert cache.get_crypt("k") == "v" and calls == ["put", "get"]
        del Logged.get
        assert cache.get_crypt("k") == "v" and calls == ["put", "get"]

    @needs_c
    def test_keyring_that_was_never_initialised(self) -> None:
        ring = Keyring.__new__(Keyring)
        with pytest.raises(ValueError, match="no keys"):
            ring.seal(b"x", b"")
        with pytest.raises(ValueError, match="no keys"):
            ring.open(b"\x01" * 40, b"")
        cache = Cache(cipher_key=RAW_A)
        cache._keyring = ring  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="no keys"):
            cache.put_crypt("k", "v")

    @needs_c
    def test_keys_are_set_once(self) -> None:
        ring = Keyring(RAW_A)
        with pytest.raises(RuntimeError, match="set once"):
            ring._setup({key_id(RAW_B): AESGCM(RAW_B)}, "")
        assert ring.open(ring.seal(b"x", b""), b"") == b"x" and ring.seal(b"", b"")[1:5] == key_id(RAW_A)

    @needs_c
    def test_cache_with_a_foreign_keyring_or_none_set(self) -> None:
        cache = Cache(cipher_key=RAW_A)
        cache._keyring = "not a keyring"  # type: ignore[attr-defined]
        with pytest.raises(TypeError, match="not a Keyring"):
            cache.put_crypt("k", "v")
        bare = Cache.__new__(Cache)  # __init__ never ran: the slot is empty
        with pytest.raises(ConfigurationError):
            bare.get_crypt("k")

    @needs_c
    def test_aeads_of_another_type_go_through_their_methods(self) -> None:
        class Fake:
            def __init__(self, result: Any) -> None:
                self.result = result

            def encrypt(self, nonce: bytes, data: bytes, aad: bytes) -> Any:
                return self.result

            def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> Any:
                if isinstance(self.result, Exception):
                    raise self.result
                return self.result

        for result, error in (
            (b"t" * 20, None),
            ("not bytes", TypeError),
            (None, TypeError),
            (KeyError("x"), KeyError),
        ):
            ring = Keyring.__new__(Keyring)
            ring._setup({b"abcd": Fake(result)}, "key ids 61626364")
            blob = b"\x01abcd" + bytes(12) + b"t" * 20
            if error is None:
                assert ring.seal(b"p", b"a")[:5] == b"\x01abcd" and ring.open(blob, b"a") == result
            else:
                with pytest.raises(error):
                    ring.open(blob, b"a")

    def test_values_handed_out_never_change(self, sealed: Any) -> None:
        held = []
        for i in range(200):
            value = bytes([i % 256]) * (i * 3)
            sealed.put_crypt(i, value)
            held.append((sealed.get_crypt(i), sealed.get(i), value))
        copies = [(bytes(a), bytes(b)) for a, b, _ in held]
        for i in range(200):
            sealed.put_crypt(i, "other " * (i % 50))
            sealed.get_crypt(i)
        assert [(a, b) for a, b, _ in held] == copies and all(a == v for a, _, v in held)

    @needs_c
    def test_methods_refuse_other_objects(self) -> None:
        for name in ("put_crypt", "get_crypt"):
            with pytest.raises(TypeError):
                getattr(Cache, name)({}, "k", "v")
        assert _crypt_c.own_sealed_methods(dict, None) is False
        assert _crypt_c.own_sealed_methods(godistcache.cache._CacheMethods, None) is False


class TestNoKeyring:
    def test_put_and_get_say_how_to_give_one(self, sealed_cls: Any) -> None:
        cache = sealed_cls()
        assert cache.keyring is None
        message = f"no cipher key: pass Cache\\(cipher_key=...\\).*{ENV_KEY}"
        with pytest.raises(ConfigurationError, match=message):
            cache.put_crypt("k", "v")
        with pytest.raises(ConfigurationError, match=message):
            cache.get_crypt("k")
        assert len(cache) == 0

    def test_plain_cache_still_works(self, sealed_cls: Any) -> None:
        cache = sealed_cls(5)
        cache.put("k", 1)
        assert cache.get("k") == 1 and cache.default_ttl == 5.0

    def test_give_one_later(self, sealed_cls: Any) -> None:
        cache = sealed_cls()
        cache.keyring = GO_KEY
        cache.put_crypt("k", "v")
        assert cache.get_crypt("k") == "v"
        cache.keyring = None
        with pytest.raises(ConfigurationError):
            cache.get_crypt("k")

    @pytest.mark.parametrize("bad", [b"short", "x" * 31, [], [RAW_A, RAW_A]], ids=repr)
    def test_wrong_keys_fail_at_construction(self, sealed_cls: Any, bad: Any) -> None:
        with pytest.raises(ConfigurationError):
            sealed_cls(cipher_key=bad)


# -- the environment ------------------------------------------------------------


class TestEnvironment:
    @pytest.mark.parametrize("form", [RAW_A.hex(), base64.b64encode(RAW_A).decode()], ids=["hex", "base64"])
    def test_one_key(self, sealed_cls: Any, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
        monkeypatch.setenv(ENV_KEY, form)
        cache = sealed_cls()
        assert cache.keyring.key_ids == (key_id(RAW_A).hex(),)
        cache.put_crypt("k", "v")
        assert sealed_cls(cipher_key=RAW_A).get_crypt("k", None) is None  # another, empty cache
        other = sealed_cls(cipher_key=RAW_A)
        other.put("k", cache.get("k"))
        assert other.get_crypt("k") == "v"

    def test_go_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_KEY, GO_KEY)
        assert Keyring.from_env().key_ids == (key_id(GO_KEY).hex(),)
        assert Cache().keyring is not None

    def test_go_key_with_a_comma_is_one_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        key = "abc,defghijklmnopqrstuvwxyz01234"
        monkeypatch.setenv(ENV_KEY, key)
        assert Keyring.from_env().key_ids == (key_id(key).hex(),)

    def test_several_keys_oldest_first(self, sealed_cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_KEY, ",".join([RAW_A.hex(), base64.b64encode(RAW_B).decode(), GO_KEY]))
        cache = sealed_cls()
        assert cache.keyring.key_ids == tuple(key_id(k).hex() for k in (RAW_A, RAW_B, GO_KEY))
        cache.put_crypt("k", "v")
        assert cache.get("k")[1:5] == key_id(GO_KEY)

    def test_argument_wins(self, sealed_cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_KEY, "not a key")
        assert sealed_cls(cipher_key=RAW_B).keyring.key_ids == (key_id(RAW_B).hex(),)

    @pytest.mark.parametrize("value", ["", "short", RAW_A.hex() + ",", RAW_A.hex() + "," + RAW_A.hex(), "x" * 64])
    def test_bad_values_fail_at_construction(
        self, sealed_cls: Any, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv(ENV_KEY, value)
        with pytest.raises(ConfigurationError, match=ENV_KEY) as info:
            sealed_cls()
        assert_no_key_material(str(info.value), RAW_A)
        if len(value) > 8:
            assert value not in str(info.value)

    def test_from_env_unset(self) -> None:
        with pytest.raises(ConfigurationError, match=f"{ENV_KEY} is not set"):
            Keyring.from_env()

    def test_unset_means_no_keyring(self, sealed_cls: Any) -> None:
        assert sealed_cls().keyring is None
        assert Cache().keyring is None

    def test_iv_is_ignored_with_one_warning(self, sealed_cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_KEY, RAW_A.hex())
        monkeypatch.setenv(ENV_IV, "0123456789abcdef")
        with pytest.warns(UserWarning, match=f"{ENV_IV} is ignored: a fixed IV is unsafe.*fresh nonce") as record:
            cache = sealed_cls()
        assert len(record) == 1
        assert record[0].filename == __file__  # blamed on the line that made the cache
        assert "0123456789abcdef" not in str(record[0].message)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            Keyring.from_env()  # once: no second warning
            sealed_cls()
        cache.put_crypt("k", "v")
        blob = cache.get("k")
        assert b"0123456789abcdef" not in blob

    def test_iv_warning_from_from_env_points_at_the_caller(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_KEY, RAW_A.hex())
        monkeypatch.setenv(ENV_IV, "x")
        with pytest.warns(UserWarning, match="fixed IV") as record:
            Keyring.from_env()
        assert record[0].filename == __file__


# -- secrecy of the keys ----------------------------------------------------------


class TestNoKeyMaterialLeaks:
    def test_reprs(self, sealed_cls: Any) -> None:
        for form in key_forms(RAW_A):
            ring = Keyring([form, RAW_B])
            text = repr(ring) + str(ring)
            assert_no_key_material(text, RAW_A, RAW_B)
            assert key_id(RAW_A).hex() in text and key_id(RAW_B).hex() in text
            cache = sealed_cls(cipher_key=ring)
            cache.put_crypt("k", "v")
            assert_no_key_material(repr(cache) + str(cache), RAW_A, RAW_B)
        ring = Keyring(GO_KEY)
        assert GO_KEY not in repr(ring) and GO_KEY[:8] not in repr(ring)

    def test_error_messages(self, sealed: Any) -> None:
        messages = []
        for bad in (RAW_A[:31], RAW_A + b"\0", RAW_A.hex()[:63], RAW_A.hex() + "0", "é" + GO_KEY[1:], GO_KEY[:31]):
            with pytest.raises(ConfigurationError) as info:
                parse_key(bad)
            messages.append(str(info.value))
        sealed.put_crypt("k", "v")
        sealed.put("other", sealed.get("k"))
        for key in ("other", "k"):
            if key == "k":
                sealed.keyring = RAW_B
            with pytest.raises(DecryptionError) as dinfo:
                sealed.get_crypt(key)
            messages.append(str(dinfo.value))
        text = "\n".join(messages)
        assert_no_key_material(text, RAW_A, RAW_B, GO_KEY.encode())
        assert GO_KEY[1:20] not in text

    def test_keyring_does_not_pickle(self) -> None:
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with pytest.raises(TypeError, match="does not pickle"):
                pickle.dumps(Keyring(RAW_A), protocol)

    def test_keyring_copies_are_itself(self) -> None:
        ring = Keyring(RAW_A)
        assert copy.copy(ring) is ring and copy.deepcopy(ring) is ring


# -- copies and pickles -------------------------------------------------------------


class TestCopyPickle:
    def test_copy_shares_the_keyring(self, sealed: Any, clock: Any) -> None:
        sealed.put_crypt("k", ("v", 1), ttl=5)
        for dup in (sealed.copy(), copy.copy(sealed), copy.deepcopy(sealed)):
            assert type(dup) is type(sealed)
            assert dup.keyring is sealed.keyring
            assert dup.get_crypt("k") == ("v", 1)
            assert dup.ttl("k") == 5.0

    def test_copy_of_a_cache_without_keyring(self, sealed_cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        cache = sealed_cls(3)
        monkeypatch.setenv(ENV_KEY, RAW_A.hex())  # a copy does not read the environment
        assert cache.copy().keyring is None and cache.copy().default_ttl == 3.0

    def test_deepcopy_of_a_cache_containing_itself(self, sealed: Any) -> None:
        sealed.put("self", sealed)
        dup = copy.deepcopy(sealed)
        assert dup.get("self") is dup and dup.keyring is sealed.keyring

    @pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
    def test_pickle_holds_no_key_and_unpickles_without_keyring(
        self, sealed_cls: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, protocol: int
    ) -> None:
        cache = sealed_cls(default_ttl=30, cipher_key=[RAW_B, RAW_A])
        cache.put_crypt("sealed", "secret value")
        cache.put("plain", 1)
        data = pickle.dumps(cache, protocol)
        assert_no_key_material(data, RAW_A, RAW_B)
        assert b"secret value" not in data
        monkeypatch.setenv(ENV_KEY, RAW_A.hex())  # not read by unpickling either
        loaded = pickle.loads(data)
        assert type(loaded) is type(cache)
        assert loaded.keyring is None
        assert loaded.default_ttl == 30.0 and loaded.get("plain") == 1
        assert loaded.ttl("sealed") == cache.ttl("sealed")
        with pytest.raises(ConfigurationError):
            loaded.get_crypt("sealed")
        loaded.keyring = RAW_A
        assert loaded.get_crypt("sealed") == "secret value"

    def test_public_cache_pickles_the_same_way(self, monkeypatch: pytest.MonkeyPatch) -> None:
        cache = Cache(cipher_key=RAW_A)
        cache.put_crypt("k", b"v")
        data = pickle.dumps(cache)
        assert_no_key_material(data, RAW_A)
        loaded = pickle.loads(data)
        assert type(loaded) is Cache and loaded.keyring is None
        loaded.keyring = RAW_A.hex()
        assert loaded.get_crypt("k") == b"v"


# -- the public class -------------------------------------------------------------------


class TestPublicCache:
    def test_slots_only(self) -> None:
        cache = Cache(cipher_key=RAW_A)
        assert not hasattr(cache, "__dict__")
        assert "_keyring" in Cache.__slots__
        with pytest.raises(AttributeError):
            cache.anything = 1  # type: ignore[attr-defined]

    def test_positional_default_ttl_and_keyword_only_key(self) -> None:
        assert Cache(7).default_ttl == 7.0
        with pytest.raises(TypeError):
            Cache(0, RAW_A)  # type: ignore[call-arg]

    def test_keyring_argument_is_shared(self) -> None:
        ring = Keyring(RAW_A)
        assert Cache(cipher_key=ring).keyring is ring

    def test_both_cores_agree(self, cache_classes: dict[str, type]) -> None:
        made = {name: cls(cipher_key=RAW_A) for name, cls in cache_classes.items()}
        for name, cache in made.items():
            cache.put_crypt(("k", 1), {"from": name})
        blobs = {name: cache.get(("k", 1)) for name, cache in made.items()}
        for cache in made.values():
            for name, blob in blobs.items():
                cache.put(("k", name), blob)
                with pytest.raises(DecryptionError):  # bound to the key ("k", 1)
                    cache.get_crypt(("k", name))
                cache.put(("k", 1), blob)
                assert cache.get_crypt(("k", 1)) == {"from": name}
