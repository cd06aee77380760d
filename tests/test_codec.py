"""The value codec on both twins: round trips, exact bytes, golden files, hostile input, parity.

Every behaviour test takes ``codec`` and so runs on the compiled twin (id ``c``,
``godistcache._core._codec_c``) and on the pure-Python reference (id ``py``,
``godistcache._core._codec_py``). Values are compared with :func:`norm`, which keeps
exact types and float bits, so ``1 == True`` or ``(1,) == [1]`` never pass a test.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import fractions
import importlib
import os
import pathlib
import re
import struct
import time
import tracemalloc
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from godistcache._core import _codec_py

from .conftest import golden_script

NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")

# A missing or broken compiled codec fails the suite (unless
# GODISTCACHE_NO_EXTENSIONS is set): a wheel must never fall back silently.
C_CODEC_REQUIRED = True

try:
    _codec_c: ModuleType | None = importlib.import_module("godistcache._core._codec_c")
    _C_IMPORT_ERROR: ImportError | None = None
except ImportError as exc:
    _codec_c = None
    _C_IMPORT_ERROR = exc

if _codec_c is not None:
    C_SKIP_REASON = ""
elif NO_EXTENSIONS:
    C_SKIP_REASON = "GODISTCACHE_NO_EXTENSIONS is set and godistcache._core._codec_c is not built"
elif not C_CODEC_REQUIRED:
    C_SKIP_REASON = f"compiled codec godistcache._core._codec_c not built yet ({_C_IMPORT_ERROR})"
else:
    C_SKIP_REASON = ""  # required: the fixture's import fails the test

_CODEC_PARAMS = [
    pytest.param("c", id="c", marks=pytest.mark.skipif(bool(C_SKIP_REASON), reason=C_SKIP_REASON or "-")),
    pytest.param("py", id="py"),
]


@pytest.fixture(scope="module", params=_CODEC_PARAMS)
def codec(request: pytest.FixtureRequest) -> ModuleType:
    """The codec twin under test (parametrised: ``c``, ``py``)."""
    return importlib.import_module(f"godistcache._core._codec_{request.param}")


@pytest.fixture(scope="module")
def twins() -> tuple[ModuleType, ModuleType]:
    """Both twins at once, (c, py), for parity tests."""
    if C_SKIP_REASON:
        pytest.skip(C_SKIP_REASON)
    return importlib.import_module("godistcache._core._codec_c"), _codec_py


# --------------------------------------------------------------------------- helpers


GOLDEN = golden_script("make_codec_golden")
GOLDEN_VALUES: dict[str, Any] = GOLDEN.golden_values()
GOLDEN_DIR: pathlib.Path = GOLDEN.GOLDEN_DIR


def _zone(key: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


PARIS = _zone("Europe/Paris")
needs_tzdata = pytest.mark.skipif(PARIS is None, reason="no time zone data (tzdata) for Europe/Paris")


def norm(x: Any) -> Any:
    """A structure equal for two values iff they are the same value of exactly the same types.

    Floats compare by bits (so nan == nan and -0.0 != 0.0), dicts by ordered items,
    sets regardless of order, datetimes and other scalars by type and repr (which
    shows tzinfo names, fold, Decimal exponents and NaN payloads).
    """
    t = type(x)
    if t is float:
        return (t, struct.pack("<d", x))
    if t is list or t is tuple:
        return (t, tuple(norm(i) for i in x))
    if t is dict:
        return (t, tuple((norm(k), norm(v)) for k, v in x.items()))
    if t is set or t is frozenset:
        return (t, tuple(sorted(repr(norm(i)) for i in x)))
    if t in (datetime.datetime, datetime.date, datetime.timedelta, decimal.Decimal, uuid.UUID):
        return (t, repr(x))
    return (t, x)


def assert_same(got: Any, expected: Any) -> None:
    assert norm(got) == norm(expected), f"{got!r} != {expected!r}"


def assert_rejected(codec: ModuleType, data: bytes, match: str | None = None, **kwargs: Any) -> ValueError:
    """``codec.decode(data)`` raises ValueError whose message says at which byte."""
    with pytest.raises(ValueError, match=match) as info:
        codec.decode(data, **kwargs)
    assert "at byte" in str(info.value), str(info.value)
    return info.value


def decode_or_reject(codec: ModuleType, data: bytes) -> tuple[bool, Any]:
    """Decode hostile bytes: (True, value) or (False, message); anything but ValueError propagates."""
    try:
        return True, codec.decode(data)
    except ValueError as exc:
        assert "at byte" in str(exc), f"{data!r}: {exc}"
        return False, str(exc)


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def svarint(n: int) -> bytes:
    return uvarint(n << 1 if n >= 0 else ((-n) << 1) - 1)


def tstr(s: str) -> bytes:
    b = s.encode("utf-8", "surrogatepass")
    return b"\x06" + uvarint(len(b)) + b


def depth(x: Any) -> int:
    """How many containers deep ``x`` is (iteratively: == on 1000 levels would recurse too deep)."""
    levels = 0
    while type(x) in (list, tuple):
        levels += 1
        if not x:
            break
        x = x[0]
    return levels


def nested_list(levels: int) -> list[Any]:
    """A list ``levels`` containers deep: nested_list(1) == []."""
    x: list[Any] = []
    for _ in range(levels - 1):
        x = [x]
    return x


# --------------------------------------------------------------------------- sample values


def _extra_values() -> dict[str, Any]:
    utc = datetime.timezone.utc
    values: dict[str, Any] = {
        "int_2p1000": 2**1000,
        "int_minus_2p1000": -(2**1000),
        "int_10p400": 10**400,
        "int_2p64_minus_1": 2**64 - 1,
        "int_minus_2p64": -(2**64),
        "float_snan_bits": struct.unpack("<d", struct.pack("<Q", 0x7FF0_0000_0000_0001))[0],
        "float_negative_nan": struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_0000_0000))[0],
        "float_max": 1.7976931348623157e308,
        "str_long": "é" * 70_000,
        "str_all_surrogates": "".join(map(chr, range(0xD800, 0xE000, 7))),
        "bytes_long": bytes(range(256)) * 300,
        "list_long": list(range(-3000, 3000)),
        "set_many": set(range(500)) | {"a", "b", None, 2.5, (1, "x")},
        "frozenset_many": frozenset(map(str, range(300))),
        "dict_nan_keys": {float("nan"): 1, float("nan"): 2},
        "dict_nested": {"a": {"b": {"c": [(), [], {}, set(), frozenset()]}}},
        "tuple_of_containers": ([1], {2: 3}, {4}, frozenset({5}), (6,)),
        "bool_int_keys": {True: "t", 2: "i", False: "f"},
        "datetime_utc_aware_max": datetime.datetime.max.replace(tzinfo=utc),
        "datetime_minus_offset_name_surrogate": datetime.datetime(
            2000, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-12), "\ud800\U0001f600")
        ),
        "datetime_offset_named_like_default": datetime.datetime(
            2000, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1), "UTC+01:00")
        ),
        "datetime_utc_named": datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(0), "Z")),
        "timedelta_microsecond": datetime.timedelta(microseconds=-1),
        "decimal_long": decimal.Decimal("-" + "9" * 500 + "E-700"),
        "decimal_nan_payload": decimal.Decimal("-NaN123"),
        "decimal_snan": decimal.Decimal("sNaN"),
        "decimal_0e": decimal.Decimal("0E-7"),
        "uuid_max": uuid.UUID(int=2**128 - 1),
    }
    if PARIS is not None:
        values["datetime_zoneinfo_list"] = [
            datetime.datetime(2024, 7, 1, tzinfo=PARIS),
            datetime.datetime(2024, 7, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
        ]
    return values


SAMPLES: dict[str, Any] = {**GOLDEN_VALUES, **_extra_values()}
SAMPLE_IDS = sorted(SAMPLES)


def kitchen_sink() -> list[Any]:
    """One value holding one of almost everything, small enough to flip every byte of."""
    skip = {"str_200_chars", "bytes_all", "datetime_min", "datetime_max", "date_min", "date_max"}
    return [v for k, v in GOLDEN_VALUES.items() if k not in skip]


# --------------------------------------------------------------------------- basics and exact bytes


def test_constants(codec: ModuleType) -> None:
    assert (codec.FORMAT_VERSION, codec.MAX_DEPTH) == (1, 1000)


def test_selector_exports_one_twin() -> None:
    from godistcache._core import codec as _codec

    assert (_codec.FORMAT_VERSION, _codec.MAX_DEPTH) == (1, 1000)
    chosen = _codec_c if _codec.CORE == "c" else _codec_py
    assert chosen is not None
    assert (_codec.encode, _codec.decode) == (chosen.encode, chosen.decode)
    if NO_EXTENSIONS:
        assert _codec.CORE == "py"


@pytest.mark.skipif(NO_EXTENSIONS or not C_CODEC_REQUIRED, reason="the compiled codec is not required (yet)")
def test_compiled_codec_loaded() -> None:
    from godistcache._core import codec as _codec

    assert _codec.CORE == "c", f"compiled codec failed to import: {_C_IMPORT_ERROR}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "00"),
        (False, "01"),
        (True, "02"),
        (0, "0300"),
        (-1, "0301"),
        (1, "0302"),
        (63, "037e"),
        (-64, "037f"),
        (64, "038001"),
        (2**63 - 1, "03feffffffffffffffff01"),
        (-(2**63), "03ffffffffffffffffff01"),
        (2**63, "040008" + "00" * 7 + "80"),
        (-(2**63) - 1, "040108" + "01" + "00" * 6 + "80"),
        (2**64, "040009" + "00" * 8 + "01"),
        (1.0, "05000000000000f03f"),
        (-0.0, "050000000000000080"),
        ("", "0600"),
        ("é\U0001f600", "0606c3a9f09f9880"),
        ("\ud800", "0603eda080"),
        (b"ab", "07026162"),
        (bytearray(b"ab"), "08026162"),
        ((), "0900"),
        ([1, (None,)], "0a020302090100"),
        ({"a": 1, 2: "b"}, "0b0206016103020304060162"),
        ({7}, "0c01030e"),
        (frozenset(), "0d00"),
        (datetime.date(2024, 2, 29), "0fd01f021d"),
        (datetime.timedelta(days=-1, seconds=86399, microseconds=999999), "1001ffa205bf843d"),
        (datetime.datetime(2024, 2, 29, 1, 2, 3, 4, fold=1), "0ed01f021d0102030401" + "00"),
        (
            datetime.datetime(2024, 2, 29, tzinfo=datetime.timezone(datetime.timedelta(hours=-1))),
            "0ed01f021d0000000000" + "01" + "01f086050006" + "00",
        ),
        (
            datetime.datetime(2024, 2, 29, tzinfo=datetime.timezone(datetime.timedelta(hours=1), "CET")),
            "0ed01f021d0000000000" + "01" + "00901c0006" + "03434554",
        ),
        (decimal.Decimal("-1.50E+3"), "11082d312e3530452b33"),
        (uuid.UUID(int=1), "12" + "00" * 15 + "01"),
    ],
    ids=repr,
)
def test_exact_bytes(codec: ModuleType, value: Any, expected: str) -> None:
    assert codec.encode(value).hex() == expected
    assert_same(codec.decode(bytes.fromhex(expected)), value)


@needs_tzdata
def test_exact_bytes_zoneinfo(codec: ModuleType) -> None:
    value = datetime.datetime(2024, 2, 29, tzinfo=PARIS)
    expected = bytes.fromhex("0ed01f021d000000000002") + tstr("Europe/Paris")
    assert codec.encode(value) == expected
    got = codec.decode(expected)
    assert_same(got, value)
    assert got.tzinfo is PARIS  # ZoneInfo(key) is cached: the same object comes back


@needs_tzdata
@pytest.mark.parametrize("key", ["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata"])
def test_round_trip_zoneinfo(codec: ModuleType, key: str) -> None:
    zone = zoneinfo.ZoneInfo(key)
    for value in (
        datetime.datetime(2021, 11, 7, 1, 30, fold=1, tzinfo=zone),
        datetime.datetime(1, 1, 1, tzinfo=zone),
        datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=zone),
    ):
        got = codec.decode(codec.encode(value))
        assert_same(got, value)
        assert got.tzinfo is zone and got.fold == value.fold


def test_decode_accepts_every_buffer_type(codec: ModuleType) -> None:
    data = codec.encode({"k": [1, 2.5]})
    for buf in (data, bytearray(data), memoryview(data), memoryview(b"xx" + data + b"yy")[2:-2]):
        assert codec.decode(buf) == {"k": [1, 2.5]}


def test_encode_returns_bytes(codec: ModuleType) -> None:
    assert type(codec.encode([1])) is bytes


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", SAMPLE_IDS)
def test_round_trip(codec: ModuleType, name: str) -> None:
    value = SAMPLES[name]
    assert_same(codec.decode(codec.encode(value)), value)


def test_round_trip_keeps_container_types(codec: ModuleType) -> None:
    value = [(1, [2]), frozenset({(3,)}), {4: (5,)}, bytearray(b"6"), b"7"]
    got = codec.decode(codec.encode(value))
    assert [type(x) for x in got] == [tuple, frozenset, dict, bytearray, bytes]
    assert type(got[0][1]) is list and type(got[2][4]) is tuple


def test_round_trip_keeps_dict_order(codec: ModuleType) -> None:
    value = {k: None for k in ("z", 3, "a", (1,), 2.5)}
    assert list(codec.decode(codec.encode(value))) == list(value)


def test_fixed_offset_name_is_kept(codec: ModuleType) -> None:
    offset = datetime.timedelta(hours=2)
    named = codec.decode(codec.encode(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone(offset, "EET"))))
    unnamed = codec.decode(codec.encode(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone(offset))))
    assert (named.tzname(), unnamed.tzname()) == ("EET", "UTC+02:00")
    assert codec.decode(codec.encode(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))).tzinfo is (
        datetime.timezone.utc
    )


def test_decimal_ignores_context_capitals(codec: ModuleType) -> None:
    value = decimal.Decimal("1.5E+7")
    with decimal.localcontext() as ctx:
        ctx.capitals = 0
        ctx.traps[decimal.InvalidOperation] = False
        data = codec.encode(value)
        assert data == b"\x11\x061.5E+7"
        assert_same(codec.decode(data), value)
        assert_rejected(codec, b"\x11\x03abc")
        assert_rejected(codec, b"\x11\x061.5e+7")


def test_nan_bits_survive(codec: ModuleType) -> None:
    for bits in (0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FF8_0000_DEAD_BEEF, 0x7FF0_0000_0000_0001):
        nan = struct.unpack("<d", struct.pack("<Q", bits))[0]
        got = codec.decode(codec.encode(nan))
        assert struct.unpack("<Q", struct.pack("<d", got))[0] == bits


_OFFSETS = st.timedeltas(
    min_value=-datetime.timedelta(hours=24) + datetime.timedelta(microseconds=1),
    max_value=datetime.timedelta(hours=24) - datetime.timedelta(microseconds=1),
)
_TZINFOS = st.one_of(
    st.none(),
    _OFFSETS.map(datetime.timezone),
    st.builds(datetime.timezone, _OFFSETS, st.text(st.characters(exclude_categories=()), min_size=1, max_size=5)),
    *([st.sampled_from([PARIS, zoneinfo.ZoneInfo("UTC"), zoneinfo.ZoneInfo("America/New_York")])] if PARIS else []),
)
# Plain st.characters() leaves surrogates out; the codec must carry lone ones (surrogatepass).
_TEXT = st.text(
    st.one_of(st.characters(exclude_categories=()), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
)
_HASHABLE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    _TEXT,
    st.binary(),
    st.dates(),
    st.timedeltas(),
    st.uuids(),
)
_SCALARS = st.one_of(
    _HASHABLE_SCALARS,
    st.binary().map(bytearray),
    st.datetimes(timezones=_TZINFOS, allow_imaginary=True),
    st.decimals(allow_nan=True, allow_infinity=True),
)
_HASHABLE = st.recursive(_HASHABLE_SCALARS, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=6)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(_HASHABLE, inner, max_size=5),
        st.sets(_HASHABLE, max_size=5),
        st.frozensets(_HASHABLE, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_VALUES)
def test_hypothesis_round_trip(codec: ModuleType, value: Any) -> None:
    data = codec.encode(value)
    got = codec.decode(data)
    assert_same(got, value)
    assert len(codec.encode(got)) == len(data)


# --------------------------------------------------------------------------- non-native values


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


Point = collections.namedtuple("Point", "x y")


class Plain:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return type(other) is Plain and other.x == self.x

    def __hash__(self) -> int:
        return hash(self.x)


class FixedTz(datetime.tzinfo):
    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(hours=3)

    def dst(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(0)

    def tzname(self, dt: datetime.datetime | None) -> str:
        return "+03"

    def __eq__(self, other: object) -> bool:
        return type(other) is FixedTz

    def __hash__(self) -> int:
        return 0


NON_NATIVE: dict[str, Any] = {
    "Color": Color.RED,
    "Name": Name("x"),
    "Point": Point(1, [2]),
    "OrderedDict": collections.OrderedDict(a=1),
    "defaultdict": collections.defaultdict(list, a=[1]),
    "Plain": Plain(3),
    "Fraction": fractions.Fraction(1, 3),
    "complex": 1 + 2j,
    "time": datetime.time(1, 2),
    "range": range(3),
}


@pytest.mark.parametrize("qualname", sorted(NON_NATIVE))
def test_non_native_refused_without_pickle(codec: ModuleType, qualname: str) -> None:
    value = NON_NATIVE[qualname]
    message = f"cannot encode {qualname} without allow_pickle=True"
    with pytest.raises(TypeError) as info:
        codec.encode(value)
    assert str(info.value) == message
    with pytest.raises(TypeError) as info:
        codec.encode({"deep": [1, (value,)]})
    assert str(info.value) == message


def test_datetime_with_foreign_tzinfo_refused_without_pickle(codec: ModuleType) -> None:
    with pytest.raises(TypeError, match="^cannot encode datetime without allow_pickle=True$"):
        codec.encode(datetime.datetime(2020, 1, 1, tzinfo=FixedTz()))


@pytest.mark.parametrize("qualname", sorted(NON_NATIVE))
def test_non_native_round_trips_with_pickle(codec: ModuleType, qualname: str) -> None:
    value = NON_NATIVE[qualname]
    data = codec.encode([value, 1], allow_pickle=True)
    assert data[2] == 0x7F
    got = codec.decode(data, allow_pickle=True)
    assert type(got[0]) is type(value) and got[0] == value and got[1] == 1
    if qualname == "Point":
        assert type(got[0].y) is list


def test_foreign_tzinfo_datetime_round_trips_with_pickle(codec: ModuleType) -> None:
    value = datetime.datetime(2020, 1, 1, tzinfo=FixedTz())
    data = codec.encode(value, allow_pickle=True)
    assert data[0] == 0x7F
    got = codec.decode(data, allow_pickle=True)
    assert got == value and type(got.tzinfo) is FixedTz


def test_pickled_dict_key_and_set_item(codec: ModuleType) -> None:
    value = {Plain(1): frozenset({Plain(2)}), "s": {Color.RED}}
    got = codec.decode(codec.encode(value, allow_pickle=True), allow_pickle=True)
    assert got == value and type(next(iter(got["s"]))) is Color


# --------------------------------------------------------------------------- depth and cycles

DEPTH_MESSAGE = "value nested deeper than 1000 levels (a cycle?)"


def test_encode_depth_limit(codec: ModuleType) -> None:
    assert depth(codec.decode(codec.encode(nested_list(1000)))) == 1000
    for too_deep in (nested_list(1001), [nested_list(1000)], {"k": nested_list(1000)}, (nested_list(1000),)):
        with pytest.raises(ValueError) as info:
            codec.encode(too_deep)
        assert str(info.value) == DEPTH_MESSAGE


def test_encode_cycles(codec: ModuleType) -> None:
    a: list[Any] = []
    a.append(a)
    d: dict[str, Any] = {}
    d["self"] = [d]
    for value in (a, d, (a,)):
        with pytest.raises(ValueError) as info:
            codec.encode(value)
        assert str(info.value) == DEPTH_MESSAGE


def test_decode_depth_limit(codec: ModuleType) -> None:
    assert depth(codec.decode(b"\x0a\x01" * 999 + b"\x0a\x00")) == 1000
    assert depth(codec.decode(b"\x09\x01" * 1000 + b"\x00")) == 1000
    assert_rejected(codec, b"\x0a\x01" * 1000 + b"\x0a\x00", match="nested deeper than 1000")
    assert_rejected(codec, b"\x0b\x01\x00" * 1001 + b"\x00", match="nested deeper than 1000")
    assert_rejected(codec, b"\x0a\x01" * 100_000 + b"\x00", match="nested deeper than 1000")


# --------------------------------------------------------------------------- golden files


def test_golden_files_match_values() -> None:
    names = {p.stem for p in GOLDEN_DIR.glob("*.bin")}
    expected = set(GOLDEN_VALUES) | ({"datetime_zoneinfo", "datetime_zoneinfo_fold"} if PARIS is None else set())
    assert names == expected, "run tests/golden/make_codec_golden.py and check in the new files"


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN_DIR.glob("*.bin")))
def test_golden(codec: ModuleType, name: str) -> None:
    if name not in GOLDEN_VALUES:
        pytest.skip("no time zone data (tzdata) for this golden file")
    data = (GOLDEN_DIR / f"{name}.bin").read_bytes()
    value = GOLDEN_VALUES[name]
    assert_same(codec.decode(data), value)
    assert codec.encode(value) == data


# --------------------------------------------------------------------------- hostile input


def test_every_truncation_is_rejected(codec: ModuleType) -> None:
    data = codec.encode(kitchen_sink())
    for cut in range(len(data)):
        assert_rejected(codec, data[:cut])


@pytest.mark.parametrize("name", ["bigint_10p40", "str_non_bmp", "datetime_named_offset", "decimal_exponent", "uuid"])
def test_every_truncation_of_scalars_is_rejected(codec: ModuleType, name: str) -> None:
    data = codec.encode(GOLDEN_VALUES[name])
    for cut in range(len(data)):
        assert_rejected(codec, data[:cut])


def _flips(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        for mask in (0x01, 0x80, 0xFF):
            yield data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]
        for byte in (0x00, 0x7F):
            if data[i] != byte:
                yield data[:i] + bytes([byte]) + data[i + 1 :]


def test_every_byte_flip_is_decoded_or_rejected(codec: ModuleType) -> None:
    data = codec.encode(kitchen_sink())
    accepted = 0
    for flipped in _flips(data):
        ok, _ = decode_or_reject(codec, flipped)
        accepted += ok
    assert accepted  # flipping a payload byte of a str or int still decodes


@pytest.mark.parametrize(
    "name", ["datetime_named_offset", "bigint_minus_10p40", "decimal_snan_payload", "dict_mixed_keys", "float_nan"]
)
def test_every_byte_value_at_every_position(codec: ModuleType, name: str) -> None:
    data = codec.encode(GOLDEN_VALUES[name])
    for i in range(len(data)):
        for byte in range(256):
            decode_or_reject(codec, data[:i] + bytes([byte]) + data[i + 1 :])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=_VALUES, edits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 255)), max_size=4)
)
def test_edited_encodings_are_decoded_or_rejected(
    codec: ModuleType, value: Any, edits: list[tuple[int, int, int]]
) -> None:
    data = bytearray(codec.encode(value))
    for kind, where, byte in edits:
        i = where % (len(data) + 1)
        if kind == 0:
            data.insert(i, byte)
        elif kind == 1 and i < len(data):
            del data[i]
        elif i < len(data):
            data[i] = byte
    decode_or_reject(codec, bytes(data))


@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=64))
def test_random_bytes_are_decoded_or_rejected(codec: ModuleType, data: bytes) -> None:
    decode_or_reject(codec, data)


@settings(max_examples=200, deadline=None)
@given(prefix=st.sampled_from(sorted({bytes([t]) for t in range(0x13)} | {b"\x0e\xd0\x1f\x02\x1d"})), rest=st.binary())
def test_random_payloads_are_decoded_or_rejected(codec: ModuleType, prefix: bytes, rest: bytes) -> None:
    decode_or_reject(codec, prefix + rest)


HUGE_DECLARATIONS = {
    "list_2p60": b"\x0a" + uvarint(2**60) + b"\x00" * 8,
    "tuple_2p64_minus_1": b"\x09" + uvarint(2**64 - 1) + b"\x00",
    "dict_2p63": b"\x0b" + uvarint(2**63) + b"\x00" * 8,
    "dict_2p64_minus_1": b"\x0b" + uvarint(2**64 - 1) + b"\x00" * 8,
    "dict_count_needs_2n": b"\x0b\x03" + b"\x00" * 5,
    "set_2p40": b"\x0c" + uvarint(2**40) + b"\x00",
    "frozenset_2p62": b"\x0d" + uvarint(2**62),
    "str_2p62": b"\x06" + uvarint(2**62) + b"abc",
    "bytes_2p64_minus_1": b"\x07" + uvarint(2**64 - 1) + b"abc",
    "bytearray_2p32": b"\x08" + uvarint(2**32) + b"abc",
    "bigint_2p62": b"\x04\x00" + uvarint(2**62) + b"\x01",
    "decimal_2p62": b"\x11" + uvarint(2**62) + b"1",
    "tz_name_2p62": b"\x0e\xd0\x1f\x02\x1d\x00\x00\x00\x00\x00\x01\x00\x00\x00\x06" + uvarint(2**62),
    "zone_key_2p62": b"\x0e\xd0\x1f\x02\x1d\x00\x00\x00\x00\x00\x02\x06" + uvarint(2**62) + b"x",
    "pickle_2p62_allowed": b"\x7f" + uvarint(2**62) + b"x",
    "nested_lists_claiming_much": (b"\x0a" + uvarint(2**50)) * 5 + b"\x00",
}


@pytest.mark.parametrize("name", sorted(HUGE_DECLARATIONS))
def test_huge_declared_sizes_fail_fast(codec: ModuleType, name: str) -> None:
    data = HUGE_DECLARATIONS[name]
    tracemalloc.start()
    try:
        started = time.perf_counter()
        assert_rejected(codec, data, allow_pickle=name.endswith("allowed"))
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 1_000_000


BAD_VARINTS = {
    "eleven_bytes": b"\x03" + b"\x80" * 10 + b"\x01",
    "ten_bytes_over_2p64": b"\x03" + b"\xff" * 9 + b"\x02",
    "ten_bytes_last_0x7f": b"\x03" + b"\xff" * 9 + b"\x7f",
    "trailing_zero_group": b"\x03\x80\x00",
    "padded_one": b"\x03\x81\x80\x00",
    "padded_length": b"\x06\x81\x00a",
    "padded_count": b"\x0a\x80\x00",
    "padded_datetime_field": b"\x0e\xd0\x1f\x82\x00\x1d\x00\x00\x00\x00\x00\x00",
    "endless_continuation": b"\x0a" + b"\xff" * 1000,
}


@pytest.mark.parametrize("name", sorted(BAD_VARINTS))
def test_bad_varints_rejected(codec: ModuleType, name: str) -> None:
    assert_rejected(codec, BAD_VARINTS[name], match="varint")


def test_widest_varints_accepted(codec: ModuleType) -> None:
    assert codec.decode(b"\x03" + b"\xff" * 9 + b"\x01") == -(2**63)
    assert codec.decode(b"\x03" + b"\xfe" + b"\xff" * 8 + b"\x01") == 2**63 - 1


_DT = b"\x0e\xd0\x1f\x02\x1d"  # 2024-02-29
_TIME = b"\x00\x00\x00\x00\x00"  # 00:00:00.000000, fold 0

MALFORMED = {
    "empty": b"",
    "unknown_tag_0x13": b"\x13",
    "unknown_tag_0x7e": b"\x7e",
    "unknown_tag_0x80": b"\x80",
    "unknown_tag_0xff": b"\xff",
    "unknown_tag_in_list": b"\x0a\x02\x00\x20",
    "trailing_byte": b"\x03\x02\x00",
    "trailing_after_container": b"\x0a\x00\x0a\x00",
    "two_values": b"\x00\x00",
    "float_7_bytes": b"\x05" + b"\x00" * 7,
    "uuid_15_bytes": b"\x12" + b"\x00" * 15,
    "utf8_invalid_start": b"\x06\x01\xff",
    "utf8_cut_sequence": b"\x06\x01\xc3",
    "utf8_overlong": b"\x06\x02\xc0\xaf",
    "utf8_above_max": b"\x06\x04\xf4\x90\x80\x80",
    "bigint_fits_int64": b"\x04\x00\x01\x05",
    "bigint_minus_2p63": b"\x04\x01\x08" + (2**63).to_bytes(8, "little"),
    "bigint_leading_zero": b"\x04\x00\x0a" + (2**64).to_bytes(9, "little") + b"\x00",
    "bigint_zero_length": b"\x04\x00\x00",
    "bigint_sign_2": b"\x04\x02\x09" + (2**64).to_bytes(9, "little"),
    "decimal_lowercase_nan": b"\x11\x03nan",
    "decimal_underscore": b"\x11\x031_0",
    "decimal_space": b"\x11\x02 1",
    "decimal_word": b"\x11\x03abc",
    "decimal_empty": b"\x11\x00",
    "decimal_non_ascii": b"\x11\x02\xc3\xa9",
    "decimal_huge_exponent": b"\x11\x1a1E+99999999999999999999999",
    "decimal_noncanonical_exponent": b"\x11\x031e5",
    "date_month_13": b"\x0f\xd0\x1f\x0d\x01",
    "date_day_0": b"\x0f\xd0\x1f\x01\x00",
    "date_feb_30": b"\x0f\xd0\x1f\x02\x1e",
    "date_year_0": b"\x0f\x00\x01\x01",
    "date_year_10000": b"\x0f" + svarint(10000) + b"\x01\x01",
    "date_year_negative": b"\x0f" + svarint(-5) + b"\x01\x01",
    "date_year_int64_max": b"\x0f" + svarint(2**63 - 1) + b"\x01\x01",
    "date_month_2p64_minus_1": b"\x0f\xd0\x1f" + uvarint(2**64 - 1) + b"\x01",
    "datetime_hour_24": _DT + b"\x18\x00\x00\x00\x00\x00",
    "datetime_minute_60": _DT + b"\x00\x3c\x00\x00\x00\x00",
    "datetime_second_60": _DT + b"\x00\x00\x3c\x00\x00\x00",
    "datetime_microsecond_1e6": _DT + b"\x00\x00\x00" + uvarint(10**6) + b"\x00\x00",
    "datetime_fold_2": _DT + b"\x00\x00\x00\x00\x02\x00",
    "datetime_tz_byte_3": _DT + _TIME + b"\x03",
    "datetime_no_tz_byte": _DT + _TIME,
    "datetime_offset_24h": _DT + _TIME + b"\x01\x02\x00\x00" + tstr(""),
    "datetime_offset_minus_24h": _DT + _TIME + b"\x01\x01\x00\x00" + tstr(""),
    "datetime_offset_seconds_86400": _DT + _TIME + b"\x01\x00" + uvarint(86400) + b"\x00" + tstr(""),
    "datetime_offset_us_1e6": _DT + _TIME + b"\x01\x00\x00" + uvarint(10**6) + tstr(""),
    "datetime_tz_name_not_str": _DT + _TIME + b"\x01\x00\x00\x00\x07\x00",
    "datetime_tz_name_missing": _DT + _TIME + b"\x01\x00\x00\x00",
    "datetime_tz_name_bad_utf8": _DT + _TIME + b"\x01\x00\x00\x00\x06\x01\xff",
    "datetime_zone_key_not_str": _DT + _TIME + b"\x02\x00",
    "datetime_zone_unknown": _DT + _TIME + b"\x02" + tstr("No/Such_Zone"),
    "datetime_zone_empty": _DT + _TIME + b"\x02" + tstr(""),
    "datetime_zone_absolute": _DT + _TIME + b"\x02" + tstr("/etc/passwd"),
    "datetime_zone_escape": _DT + _TIME + b"\x02" + tstr("../../../../../../etc/passwd"),
    "datetime_zone_directory": _DT + _TIME + b"\x02" + tstr("America"),
    "datetime_zone_not_tzif": _DT + _TIME + b"\x02" + tstr("zone.tab"),
    "datetime_zone_nul": _DT + _TIME + b"\x02" + tstr("Europe/\x00Paris"),
    "datetime_zone_surrogate": _DT + _TIME + b"\x02" + tstr("\udc80"),
    "timedelta_seconds_86400": b"\x10\x00" + uvarint(86400) + b"\x00",
    "timedelta_us_1e6": b"\x10\x00\x00" + uvarint(10**6),
    "timedelta_days_over_max": b"\x10" + svarint(10**9) + b"\x00\x00",
    "timedelta_days_under_min": b"\x10" + svarint(-(10**9)) + b"\x00\x00",
    "dict_list_key": b"\x0b\x01\x0a\x00\x00",
    "dict_dict_key": b"\x0b\x01\x0b\x00\x00",
    "dict_set_key": b"\x0b\x01\x0c\x00\x00",
    "dict_bytearray_key": b"\x0b\x01\x08\x00\x00",
    "dict_tuple_with_list_key": b"\x0b\x01\x09\x01\x0a\x00\x00",
    "dict_second_key_unhashable": b"\x0b\x02\x00\x00\x0a\x00\x00",
    "set_list_item": b"\x0c\x01\x0a\x00",
    "frozenset_dict_item": b"\x0d\x01\x0b\x00",
    "set_snan_item": b"\x0c\x01\x11\x04sNaN",
    "nested_unhashable_in_list": b"\x0a\x02\x00\x0c\x01\x0a\x00",
    "pickle_refused": b"\x7f\x00",
    "pickle_refused_nested": b"\x0a\x02\x00\x7f\x01\x4e",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_rejected(codec: ModuleType, name: str) -> None:
    assert_rejected(codec, MALFORMED[name])


def test_repeated_keys_are_not_an_error(codec: ModuleType) -> None:
    got = codec.decode(b"\x0b\x02\x03\x02\x00\x05" + struct.pack("<d", 1.0) + b"\x02")
    assert norm(got) == norm({1: True})
    assert norm(codec.decode(b"\x0d\x02\x03\x02\x02")) == norm(frozenset({1}))


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"\x03\x02\x00", 2),  # trailing byte
        (b"\x0a\x02\x00\x13", 3),  # unknown tag inside a list
        (b"\x0a\x02\x00\x0c\x01\x0a\x00", 5),  # unhashable set item
        (b"\x0b\x02\x00\x00\x0a\x00\x00", 4),  # unhashable dict key
        (b"\x0a\x01\x7f\x01\x4e", 2),  # refused pickle
    ],
)
def test_error_names_the_offset(codec: ModuleType, data: bytes, offset: int) -> None:
    assert re.search(rf"at byte {offset}\b", str(assert_rejected(codec, data)))


class _Mkdir:
    """Pickles to a call of ``os.mkdir(path)``: loading it has a visible side effect."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return os.mkdir, (self.path,)


def test_pickle_refused_and_not_run(codec: ModuleType, tmp_path: pathlib.Path) -> None:
    target = tmp_path / "pwned"
    data = codec.encode({"x": [_Mkdir(str(target))]}, allow_pickle=True)
    refused = "pickled value refused: pass allow_pickle=True only for data you trust"
    assert_rejected(codec, data, match=refused)
    assert not target.exists()
    # The same bytes do run os.mkdir once allowed: the refusal above was what kept it from running.
    assert codec.decode(data, allow_pickle=True) == {"x": [None]}
    assert target.is_dir()


def test_bad_pickle_payload_is_value_error(codec: ModuleType) -> None:
    assert_rejected(codec, b"\x7f\x03abc", allow_pickle=True)
    assert_rejected(codec, b"\x7f\x00", allow_pickle=True)


# --------------------------------------------------------------------------- parity between the twins


@pytest.mark.parametrize("name", SAMPLE_IDS)
def test_parity(twins: tuple[ModuleType, ModuleType], name: str) -> None:
    c, py = twins
    value = SAMPLES[name]
    data = py.encode(value)
    assert c.encode(value) == data  # one object iterates in one order, so even big sets agree
    assert_same(c.decode(data), value)
    assert_same(py.decode(c.encode(value)), value)


@pytest.mark.parametrize("qualname", sorted(NON_NATIVE))
def test_parity_pickled(twins: tuple[ModuleType, ModuleType], qualname: str) -> None:
    c, py = twins
    value = [NON_NATIVE[qualname]]
    assert c.encode(value, allow_pickle=True) == py.encode(value, allow_pickle=True)


def test_parity_on_hostile_input(twins: tuple[ModuleType, ModuleType]) -> None:
    c, py = twins
    data = py.encode(kitchen_sink())
    hostile = [data[:cut] for cut in range(len(data))] + list(_flips(data)) + list(MALFORMED.values())
    for blob in hostile:
        (c_ok, c_got), (py_ok, py_got) = decode_or_reject(c, blob), decode_or_reject(py, blob)
        assert c_ok == py_ok, (blob, c_got, py_got)
        if c_ok:
            assert norm(c_got) == norm(py_got), blob


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_VALUES)
def test_hypothesis_parity(twins: tuple[ModuleType, ModuleType], value: Any) -> None:
    c, py = twins
    data = py.encode(value)
    assert c.encode(value) == data
    assert_same(c.decode(data), value)
    assert_same(py.decode(c.encode(value)), value)
