"""The value codec's format, version 1: the type tags, the limits, and what encoder and decoder share.

The format is specified in ``docs/value-format.md``. The encoder is
``_encode_py``, the decoder ``_codec_py`` (the twin's surface, with ``encode``),
the decode budget ``_budget``; the compiled twin ``_codec_c`` matches them byte
for byte.
"""

from __future__ import annotations

import decimal

__all__ = [
    "FORMAT_VERSION",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_VARINT_BYTES",
    "PICKLE_REFUSED",
    "T_BIGINT",
    "T_BYTEARRAY",
    "T_BYTES",
    "T_DATE",
    "T_DATETIME",
    "T_DECIMAL",
    "T_DICT",
    "T_FALSE",
    "T_FLOAT",
    "T_FROZENSET",
    "T_INT",
    "T_LIST",
    "T_NONE",
    "T_PICKLE",
    "T_PICKLE_REF",
    "T_SET",
    "T_STR",
    "T_TIMEDELTA",
    "T_TRUE",
    "T_TUPLE",
    "T_UUID",
    "TZ_FIXED",
    "TZ_NAIVE",
    "TZ_ZONEINFO",
    "UINT64_MAX",
    "Pickled",
    "decimal_str",
]

#: Version of the wire format the codec reads and writes.
FORMAT_VERSION = 1

#: Deepest container nesting encode writes and decode accepts.
MAX_DEPTH = 1000

# The tag byte that starts each item (the table in docs/value-format.md).
T_NONE = 0x00
T_FALSE = 0x01
T_TRUE = 0x02
T_INT = 0x03
T_BIGINT = 0x04
T_FLOAT = 0x05
T_STR = 0x06
T_BYTES = 0x07
T_BYTEARRAY = 0x08
T_TUPLE = 0x09
T_LIST = 0x0A
T_DICT = 0x0B
T_SET = 0x0C
T_FROZENSET = 0x0D
T_DATETIME = 0x0E
T_DATE = 0x0F
T_TIMEDELTA = 0x10
T_DECIMAL = 0x11
T_UUID = 0x12
T_PICKLE_REF = 0x7E
T_PICKLE = 0x7F


class Pickled:
    """A pickled value read but not unpickled: what tools that must not run code see.

    ``data`` is the pickle's bytes, or None for an object of a snapshot
    frame's shared pickle (which can't be told apart without unpickling it).
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes | None) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        return type(other) is Pickled and other.data == self.data

    def __hash__(self) -> int:
        return hash((Pickled, self.data))

    def __repr__(self) -> str:
        size = "" if self.data is None else f" {len(self.data)} bytes,"
        return f"<Pickled{size} not unpickled>"


# A datetime's tz byte.
TZ_NAIVE = 0
TZ_FIXED = 1
TZ_ZONEINFO = 2

# Tag 0x03 holds an int in int64; a varint is at most 2**64 - 1, in at most 10 bytes.
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
MAX_VARINT_BYTES = 10

#: The message of a pickle refused (both twins, the snapshot frames too), before ``(tag 0x7F at byte N)``.
PICKLE_REFUSED = "pickled value refused: pass allow_pickle=True only for data you trust"


def decimal_str(d: decimal.Decimal) -> str:
    """The one spelling of d the format has (encoder writes it, decoder accepts only it)."""
    # str(d) writes "e" when the thread's decimal context has capitals=0; the
    # format is str(d) in the default context, so the exponent is always "E".
    return str(d).replace("e", "E")
