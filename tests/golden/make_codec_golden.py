"""Regenerate ``tests/golden/codec_v1/*.bin`` from :func:`golden_values` with the Python codec.

Run from anywhere: ``python tests/golden/make_codec_golden.py``. Every file is one
value encoded in format version 1; ``tests/test_codec.py`` checks that both codec
twins decode each file to its value and re-encode the value to exactly the file's
bytes, so bytes written today load in every later version. Never change a value
or its name once it is checked in: add new ones. Values are deterministic (no set
with more than one element, whose order depends on hashing).
"""

from __future__ import annotations

import datetime
import decimal
import pathlib
import struct
import sys
import uuid
import zoneinfo
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN_DIR = HERE / "codec_v1"

#: The zone used by the ZoneInfo golden value; it decodes only where tz data is installed.
ZONE_KEY = "Europe/Paris"

_tz = datetime.timezone
_td = datetime.timedelta


def golden_values() -> dict[str, Any]:
    """Every golden value by file stem. ZoneInfo values are left out when ``ZONE_KEY`` is unknown."""
    nan_payload = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    values: dict[str, Any] = {
        "none": None,
        "false": False,
        "true": True,
        "int_0": 0,
        "int_1": 1,
        "int_minus_1": -1,
        "int_63": 63,
        "int_64": 64,
        "int_minus_64": -64,
        "int_minus_65": -65,
        "int_300": 300,
        "int_int64_max": 2**63 - 1,
        "int_int64_min": -(2**63),
        "bigint_2p63": 2**63,
        "bigint_minus_2p63_minus_1": -(2**63) - 1,
        "bigint_2p64": 2**64,
        "bigint_10p40": 10**40,
        "bigint_minus_10p40": -(10**40),
        "float_0": 0.0,
        "float_minus_0": -0.0,
        "float_1_5": 1.5,
        "float_pi": 3.141592653589793,
        "float_inf": float("inf"),
        "float_minus_inf": float("-inf"),
        "float_nan": float("nan"),
        "float_nan_payload": nan_payload,
        "float_min_subnormal": 5e-324,
        "str_empty": "",
        "str_ascii": "hello, world",
        "str_bmp": "héllo wörld €",
        "str_non_bmp": "\U0001f600 \U00010348",
        "str_lone_surrogate": "a\ud800b\udfffc",
        "str_200_chars": "x" * 200,
        "bytes_empty": b"",
        "bytes_all": bytes(range(256)),
        "bytearray_empty": bytearray(),
        "bytearray_abc": bytearray(b"abc"),
        "tuple_empty": (),
        "tuple_mixed": (1, "a", None, 2.5),
        "list_empty": [],
        "list_nested": [[], [[]], [1, [2, [3]]]],
        "dict_empty": {},
        "dict_str_keys": {"b": 1, "a": [True, False], "c": {"d": None}},
        "dict_mixed_keys": {1: "int", "1": "str", (1, 2): "tuple", None: b"none", 2.5: "float"},
        "set_empty": set(),
        "set_one": {"only"},
        "frozenset_empty": frozenset(),
        "frozenset_one": frozenset({(1, 2)}),
        "datetime_naive": datetime.datetime(2024, 2, 29, 23, 59, 58, 999999),
        "datetime_naive_fold": datetime.datetime(2021, 10, 31, 2, 30, fold=1),
        "datetime_min": datetime.datetime.min,
        "datetime_max": datetime.datetime.max,
        "datetime_utc": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=_tz.utc),
        "datetime_plus_0530": datetime.datetime(2020, 1, 1, tzinfo=_tz(_td(hours=5, minutes=30))),
        "datetime_named_offset": datetime.datetime(2020, 6, 1, 12, tzinfo=_tz(_td(hours=-7), "PDT")),
        "datetime_offset_microseconds": datetime.datetime(
            1999, 12, 31, 23, 59, 59, tzinfo=_tz(-_td(hours=23, minutes=59, seconds=59, microseconds=1), "odd")
        ),
        "date": datetime.date(2024, 2, 29),
        "date_min": datetime.date.min,
        "date_max": datetime.date.max,
        "timedelta_zero": _td(),
        "timedelta_negative": _td(days=-3, seconds=5, microseconds=7),
        "timedelta_max": _td.max,
        "timedelta_min": _td.min,
        "decimal_1_10": decimal.Decimal("1.10"),
        "decimal_minus_0": decimal.Decimal("-0"),
        "decimal_exponent": decimal.Decimal("-1.5E-30"),
        "decimal_big_exponent": decimal.Decimal("7E+999999"),
        "decimal_nan": decimal.Decimal("NaN"),
        "decimal_snan_payload": decimal.Decimal("-sNaN42"),
        "decimal_inf": decimal.Decimal("-Infinity"),
        "uuid": uuid.UUID("12345678-9abc-4def-8123-456789abcdef"),
        "uuid_nil": uuid.UUID(int=0),
        "mixed": {
            "users": [
                {"id": 1, "name": "Ada", "joined": datetime.date(1815, 12, 10), "balance": decimal.Decimal("10.00")},
                {"id": 2, "name": "Grace", "tags": ("navy", "cobol"), "key": uuid.UUID(int=2**128 - 1)},
            ],
            "ttl": _td(minutes=5),
            "blob": b"\x00\xff",
        },
    }
    try:
        zone = zoneinfo.ZoneInfo(ZONE_KEY)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return values
    values["datetime_zoneinfo"] = datetime.datetime(2021, 3, 28, 1, 30, tzinfo=zone)
    values["datetime_zoneinfo_fold"] = datetime.datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=zone)
    return values


def main() -> None:
    """Write one ``<name>.bin`` per golden value, encoded by the pure-Python codec."""
    sys.path.insert(0, str(HERE.parent.parent))
    from godistcache._core._codec_py import encode

    values = golden_values()
    if "datetime_zoneinfo" not in values:
        sys.exit(f"no time zone data for {ZONE_KEY}: install tzdata before regenerating the golden files")
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, value in values.items():
        (GOLDEN_DIR / f"{name}.bin").write_bytes(encode(value))
    print(f"wrote {len(values)} files to {GOLDEN_DIR}")


if __name__ == "__main__":
    main()
