"""The pure-Python twin's encoder: values to items of the value codec's format (``docs/value-format.md``).

``encode`` is part of the twin's surface and is re-exported by ``_codec_py``;
``encode_into`` and ``put_uvarint`` serve the snapshot frames (``_frames_py``).
Like the decoder, it does not recurse: the containers open at any moment (at
most ``MAX_DEPTH``) are a stack of iterators.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import pickle
import struct
import uuid
import zoneinfo
from typing import Any, Union

from ._value_format import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    T_BIGINT,
    T_BYTEARRAY,
    T_BYTES,
    T_DATE,
    T_DATETIME,
    T_DECIMAL,
    T_DICT,
    T_FALSE,
    T_FLOAT,
    T_FROZENSET,
    T_INT,
    T_LIST,
    T_NONE,
    T_PICKLE,
    T_PICKLE_REF,
    T_SET,
    T_STR,
    T_TIMEDELTA,
    T_TRUE,
    T_TUPLE,
    T_UUID,
    TZ_FIXED,
    TZ_NAIVE,
    TZ_ZONEINFO,
    decimal_str,
)

__all__ = ["Pickler", "encode", "encode_into", "put_uvarint"]

#: What the encoder does with an object without a native form (see encode_into).
Pickler = Union[None, bool, list[Any]]

_DEPTH_MESSAGE = f"value nested deeper than {MAX_DEPTH} levels (a cycle?)"

_pack_double = struct.Struct("<d").pack

_SEQUENCE_TAGS: dict[type, int] = {list: T_LIST, tuple: T_TUPLE, set: T_SET, frozenset: T_FROZENSET}


def put_uvarint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_svarint(out: bytearray, n: int) -> None:
    put_uvarint(out, n << 1 if n >= 0 else ((-n) << 1) - 1)


def _put_str(out: bytearray, s: str) -> None:
    b = s.encode("utf-8", "surrogatepass")
    out.append(T_STR)
    put_uvarint(out, len(b))
    out += b


def _tz_name(tz: datetime.timezone) -> str:
    # ``tz == timezone(offset)`` can't tell a named timezone from an unnamed one:
    # timezones compare by offset only. The pickle arguments do carry the name.
    args: tuple[Any, ...] = tz.__getinitargs__()  # type: ignore[attr-defined]
    name: str = args[1] if len(args) > 1 else ""
    return name


def _put_datetime(out: bytearray, x: datetime.datetime) -> bool:
    """Append a datetime item; False (nothing written) when its tzinfo is not native."""
    tz = x.tzinfo
    if tz is None:
        tz_kind = TZ_NAIVE
    elif type(tz) is datetime.timezone:
        tz_kind = TZ_FIXED
    elif type(tz) is zoneinfo.ZoneInfo and tz.key is not None:
        tz_kind = TZ_ZONEINFO
    else:
        return False
    out.append(T_DATETIME)
    _put_svarint(out, x.year)
    out += bytes((x.month, x.day, x.hour, x.minute, x.second))
    put_uvarint(out, x.microsecond)
    out.append(x.fold)
    out.append(tz_kind)
    if tz_kind == TZ_FIXED:
        assert isinstance(tz, datetime.timezone)
        offset = tz.utcoffset(None)
        _put_svarint(out, offset.days)
        put_uvarint(out, offset.seconds)
        put_uvarint(out, offset.microseconds)
        _put_str(out, _tz_name(tz))
    elif tz_kind == TZ_ZONEINFO:
        assert isinstance(tz, zoneinfo.ZoneInfo)
        if type(tz.key) is not str:  # ZoneInfo.from_file(f, key=123) accepts anything
            raise TypeError(f"ZoneInfo key must be a str, got {type(tz.key).__qualname__}")
        _put_str(out, tz.key)
    return True


def _put_other(out: bytearray, x: object, pickler: Pickler) -> None:
    """Append an item of a type with a fixed-size payload, or a pickle, or refuse."""
    t = type(x)
    if t is datetime.datetime:
        assert isinstance(x, datetime.datetime)
        if _put_datetime(out, x):
            return
    elif t is datetime.date:
        assert isinstance(x, datetime.date)
        out.append(T_DATE)
        _put_svarint(out, x.year)
        out.append(x.month)
        out.append(x.day)
        return
    elif t is datetime.timedelta:
        assert isinstance(x, datetime.timedelta)
        out.append(T_TIMEDELTA)
        _put_svarint(out, x.days)
        put_uvarint(out, x.seconds)
        put_uvarint(out, x.microseconds)
        return
    elif t is decimal.Decimal:
        assert isinstance(x, decimal.Decimal)
        b = decimal_str(x).encode("ascii")
        out.append(T_DECIMAL)
        put_uvarint(out, len(b))
        out += b
        return
    elif t is uuid.UUID:
        assert isinstance(x, uuid.UUID)
        out.append(T_UUID)
        out += x.bytes
        return
    elif t is int:
        assert isinstance(x, int)
        a = -x if x < 0 else x
        out.append(T_BIGINT)
        out.append(1 if x < 0 else 0)
        b = a.to_bytes((a.bit_length() + 7) >> 3, "little")
        put_uvarint(out, len(b))
        out += b
        return
    if type(pickler) is not list and not pickler:
        raise TypeError(f"cannot encode {t.__qualname__} without allow_pickle=True")
    if type(pickler) is list:
        out.append(T_PICKLE_REF)
        put_uvarint(out, len(pickler))
        pickler.append(x)
        return
    b = pickle.dumps(x, protocol=5)
    out.append(T_PICKLE)
    put_uvarint(out, len(b))
    out += b


def encode(obj: Any, *, allow_pickle: bool = False) -> bytes:
    """Encode a value into the codec's binary format (version 1).

    Args:
        obj: The value. None, bool, int, float, str, bytes, bytearray, tuple,
            list, dict, set, frozenset, datetime (naive, ``datetime.timezone`` or
            ``zoneinfo.ZoneInfo``), date, timedelta, Decimal and UUID are native,
            matched on exact type, at any position in the value.
        allow_pickle: Pickle (protocol 5) any other object instead of refusing it.

    Returns:
        The encoded bytes.

    Raises:
        TypeError: A non-native object was met and ``allow_pickle`` is false.
        ValueError: Containers are nested more than ``MAX_DEPTH`` levels deep,
            which is what a cycle becomes.
        RuntimeError: A dict or set changed size while it was being encoded.
    """
    out = bytearray()
    encode_into(out, obj, True if allow_pickle else None)
    return bytes(out)


def encode_into(out: bytearray, obj: Any, pickler: Pickler) -> None:
    """Append the item that encodes obj to out (what :func:`encode` returns).

    pickler: what becomes of objects without a native form: a list (a
    snapshot frame's) takes each, and the item is a reference to its index
    in the list (tag 0x7E); otherwise a false value (None, False) refuses
    them and a true one pickles each in place (tag 0x7F).
    """
    append = out.append
    stack: list[Any] = []
    it: Any = iter((obj,))
    while True:
        for x in it:
            t = type(x)
            if t is int:
                if INT64_MIN <= x <= INT64_MAX:
                    append(T_INT)
                    n = x << 1 if x >= 0 else ((-x) << 1) - 1
                    if n < 0x80:
                        append(n)
                    else:
                        put_uvarint(out, n)
                else:
                    _put_other(out, x, pickler)
            elif t is str:
                b = x.encode("utf-8", "surrogatepass")
                append(T_STR)
                n = len(b)
                if n < 0x80:
                    append(n)
                else:
                    put_uvarint(out, n)
                out += b
            elif t is float:
                append(T_FLOAT)
                out += _pack_double(x)
            elif x is None:
                append(T_NONE)
            elif t is bool:
                append(T_TRUE if x else T_FALSE)
            elif t is bytes or t is bytearray:
                append(T_BYTES if t is bytes else T_BYTEARRAY)
                put_uvarint(out, len(x))
                out += x
            elif t is dict or t in _SEQUENCE_TAGS:
                if len(stack) >= MAX_DEPTH:
                    raise ValueError(_DEPTH_MESSAGE)
                if t is dict:
                    append(T_DICT)
                    # Size changes while we iterate raise RuntimeError on their own.
                    children: Any = itertools.chain.from_iterable(x.items())
                elif t is list:
                    append(T_LIST)
                    # A snapshot, so that the count written matches the items written.
                    x = tuple(x)
                    children = iter(x)
                else:
                    append(_SEQUENCE_TAGS[t])
                    children = iter(x)
                put_uvarint(out, len(x))
                if x:
                    stack.append(it)
                    it = children
                    break
            else:
                _put_other(out, x, pickler)
        else:
            if not stack:
                return
            it = stack.pop()
