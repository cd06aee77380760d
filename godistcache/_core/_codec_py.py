"""The pure-Python twin of ``_codec_c``: the value codec's reference implementation, and its decoder.

The wire format (version 1), which the compiled twin matches byte for byte and
error for error, is specified in ``docs/value-format.md``. This module is the
twin's surface, the same names as ``_codec_c`` (``encode``, ``decode``,
``FORMAT_VERSION``, ``MAX_DEPTH``, ``DecodeBudgetError``, ``DECODE_EXPANSION``,
``DECODE_ALLOWANCE``), and holds the decoder; the rest sits beside it: the tags
and what both directions share in ``_value_format``, the encoder in
``_encode_py``, the decode budget in ``_budget``. It is the codec used when
``GODISTCACHE_NO_EXTENSIONS=1`` is set, and the source of the types.

The decoder trusts nothing: every length and count is checked against the bytes
that remain before anything is read, and every malformed input (truncated,
over-long or non-canonical varint, unknown tag, bad UTF-8, non-canonical big
int, timedelta or Decimal string, invalid date or time field, unknown time zone
key, unhashable dict key or set item, trailing bytes, refused pickle) raises
ValueError whose message ends with ``at byte <offset>``. It uses no recursion,
so depth is bounded by ``MAX_DEPTH``, not by the stack, and runs in time linear
in the input, except for hashing: int, float, Decimal, UUID and tuple hashes are
not randomised, so a crafted dict or set of colliding keys costs quadratic time,
as it does in any Python dict.

Memory is bounded too, by the decode budget (``_budget``): every object the
decoder makes is charged, and an input whose charges pass its budget is
refused with :class:`DecodeBudgetError` (a ValueError).
"""

from __future__ import annotations

import datetime
import decimal
import pickle
import struct
import uuid
import zoneinfo
from typing import Any, Union

from ._budget import (
    COST_FLOAT,
    DECODE_ALLOWANCE,
    DECODE_EXPANSION,
    UNLIMITED,
    DecodeBudgetError,
    budget_for,
    budget_message,
    cost_blob,
    cost_container,
    cost_int,
    cost_other,
    cost_str,
    over_budget,
)
from ._encode_py import encode
from ._value_format import (
    FORMAT_VERSION,
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_VARINT_BYTES,
    PICKLE_REFUSED,
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
    UINT64_MAX,
    Pickled,
    decimal_str,
)

__all__ = [
    "DECODE_ALLOWANCE",
    "DECODE_EXPANSION",
    "FORMAT_VERSION",
    "MAX_DEPTH",
    "DecodeBudgetError",
    "decode",
    "encode",
]

_unpack_double = struct.Struct("<d").unpack_from

_CONTAINER_NAMES = {
    T_TUPLE: "tuple",
    T_LIST: "list",
    T_DICT: "dict",
    T_SET: "set",
    T_FROZENSET: "frozenset",
}

# One shared empty frozenset, as the compiled twin returns: an empty set costs 216 bytes.
_EMPTY_FROZENSET: frozenset[Any] = frozenset()

_BLOB_NAMES = {T_STR: "str", T_BYTES: "bytes", T_BYTEARRAY: "bytearray"}

Buffer = Union[bytes, bytearray, memoryview]
#: What the decoder does with a pickle (see decode_at).
Unpickler = Union[None, bool, type, list[Any]]


def read_uvarint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Read a uvarint at ``pos``; return (value, position after it)."""
    start = pos
    n = 0
    shift = 0
    while True:
        if pos >= end:
            raise ValueError(f"truncated varint: input ends inside it, at byte {start}")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0 and pos - start > 1:
                raise ValueError(f"non-canonical varint: trailing zero group, at byte {start}")
            if n > UINT64_MAX:
                raise ValueError(f"varint over 2**64 - 1, at byte {start}")
            return n, pos
        shift += 7
        if pos - start >= MAX_VARINT_BYTES:
            raise ValueError(f"varint longer than {MAX_VARINT_BYTES} bytes, at byte {start}")


def _read_svarint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    z, pos = read_uvarint(buf, pos, end)
    return (z >> 1) ^ -(z & 1), pos


def _read_len(buf: bytes, pos: int, end: int, what: str, start: int) -> tuple[int, int]:
    """Read a byte length and check that that many bytes remain."""
    n, pos = read_uvarint(buf, pos, end)
    if n > end - pos:
        raise ValueError(f"truncated {what}: {n} bytes declared, {end - pos} remain, at byte {start}")
    return n, pos


def _read_str_item(buf: bytes, pos: int, end: int, what: str) -> tuple[str, int]:
    """Read an item that must be a str (a time zone name or key)."""
    if pos >= end:
        raise ValueError(f"truncated datetime: {what} str expected, input ended, at byte {pos}")
    if buf[pos] != T_STR:
        raise ValueError(f"{what} must be a str item (tag 0x06), got tag 0x{buf[pos]:02X}, at byte {pos}")
    n, p = _read_len(buf, pos + 1, end, "str", pos)
    try:
        return buf[p : p + n].decode("utf-8", "surrogatepass"), p + n
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 in str ({exc.reason}), at byte {pos}") from None


def _read_timedelta_fields(buf: bytes, pos: int, end: int, start: int, what: str) -> tuple[datetime.timedelta, int]:
    days, pos = _read_svarint(buf, pos, end)
    seconds, pos = read_uvarint(buf, pos, end)
    microseconds, pos = read_uvarint(buf, pos, end)
    if seconds >= 86400 or microseconds >= 1_000_000:
        raise ValueError(
            f"invalid {what}: seconds must be < 86400 and microseconds < 1000000, "
            f"got {seconds} and {microseconds}, at byte {start}"
        )
    try:
        return datetime.timedelta(days, seconds, microseconds), pos
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid {what} ({exc}), at byte {start}") from None


def _read_datetime(buf: bytes, pos: int, end: int, start: int) -> tuple[datetime.datetime, int]:
    year, pos = _read_svarint(buf, pos, end)
    fields = []
    for _ in range(7):
        n, pos = read_uvarint(buf, pos, end)
        fields.append(n)
    if pos >= end:
        raise ValueError(f"truncated datetime: tz byte expected, input ended, at byte {start}")
    tz_kind = buf[pos]
    pos += 1
    tz: datetime.tzinfo | None = None
    if tz_kind == TZ_FIXED:
        offset, pos = _read_timedelta_fields(buf, pos, end, start, "datetime offset")
        name, pos = _read_str_item(buf, pos, end, "time zone name")
        try:
            tz = datetime.timezone(offset, name) if name else datetime.timezone(offset)
        except ValueError as exc:
            raise ValueError(f"invalid datetime offset ({exc}), at byte {start}") from None
    elif tz_kind == TZ_ZONEINFO:
        key, pos = _read_str_item(buf, pos, end, "time zone key")
        try:
            tz = zoneinfo.ZoneInfo(key)
        except Exception as exc:  # ZoneInfoNotFoundError is a KeyError; bad files are ValueError or OSError
            raise ValueError(f"unknown time zone key {key!r} ({type(exc).__name__}), at byte {start}") from None
    elif tz_kind != TZ_NAIVE:
        raise ValueError(f"datetime tz byte must be 0, 1 or 2, got {tz_kind}, at byte {pos - 1}")
    month, day, hour, minute, second, microsecond, fold = fields
    try:
        return datetime.datetime(year, month, day, hour, minute, second, microsecond, tz, fold=fold), pos
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid datetime ({exc}), at byte {start}") from None


def _read_scalar(buf: bytes, pos: int, end: int, tag: int, start: int, unpickler: Unpickler) -> tuple[Any, int]:
    """Read the payload of a non-container item whose tag is at ``start``."""
    if tag == T_BIGINT:
        if pos >= end:
            raise ValueError(f"truncated int: sign byte expected, input ended, at byte {start}")
        sign = buf[pos]
        if sign > 1:
            raise ValueError(f"int sign byte must be 0 or 1, got {sign}, at byte {pos}")
        n, pos = _read_len(buf, pos + 1, end, "int", start)
        if n == 0 or buf[pos + n - 1] == 0:
            raise ValueError(f"non-canonical big int: empty or leading zero byte, at byte {start}")
        v = int.from_bytes(buf[pos : pos + n], "little")
        if sign:
            v = -v
        if INT64_MIN <= v <= INT64_MAX:
            raise ValueError(f"non-canonical big int: {v} fits in tag 0x03, at byte {start}")
        return v, pos + n
    if tag == T_DATETIME:
        return _read_datetime(buf, pos, end, start)
    if tag == T_DATE:
        year, pos = _read_svarint(buf, pos, end)
        month, pos = read_uvarint(buf, pos, end)
        day, pos = read_uvarint(buf, pos, end)
        try:
            return datetime.date(year, month, day), pos
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"invalid date ({exc}), at byte {start}") from None
    if tag == T_TIMEDELTA:
        return _read_timedelta_fields(buf, pos, end, start, "timedelta")
    if tag == T_DECIMAL:
        n, pos = _read_len(buf, pos, end, "Decimal", start)
        raw = buf[pos : pos + n]
        try:
            s = raw.decode("ascii")
            d = decimal.Decimal(s)
        except (ValueError, ArithmeticError):
            d = None
        # Only str(d) is a valid payload: "1_0", " 1" or "nan" would parse but are not canonical.
        if d is None or decimal_str(d) != s:
            raise ValueError(f"invalid Decimal string {raw[:40]!r}, at byte {start}")
        return d, pos + n
    if tag == T_UUID:
        if end - pos < 16:
            raise ValueError(f"truncated UUID: 16 bytes expected, {end - pos} remain, at byte {start}")
        return uuid.UUID(bytes=buf[pos : pos + 16]), pos + 16
    if tag == T_PICKLE_REF:
        if type(unpickler) is not list:
            if not unpickler:
                raise ValueError(f"{PICKLE_REFUSED} (tag 0x7E at byte {start})")
            raise ValueError(f"pickle reference outside a snapshot frame, at byte {start}")
        index, pos = read_uvarint(buf, pos, end)
        if index >= len(unpickler):
            raise ValueError(f"pickle reference {index} out of range: the frame has {len(unpickler)}, at byte {start}")
        return unpickler[index], pos
    if tag == T_PICKLE:
        if type(unpickler) is list:
            raise ValueError(f"pickle item inside a snapshot frame, at byte {start}")
        if not unpickler:
            raise ValueError(f"{PICKLE_REFUSED} (tag 0x7F at byte {start})")
        n, pos = _read_len(buf, pos, end, "pickle", start)
        if unpickler is Pickled:
            return Pickled(buf[pos : pos + n]), pos + n
        try:
            return pickle.loads(buf[pos : pos + n]), pos + n
        except Exception as exc:
            raise ValueError(f"invalid pickled value ({type(exc).__name__}: {exc}), at byte {start}") from exc
    raise ValueError(f"unknown tag 0x{tag:02X}, at byte {start}")


class _Frame:
    """A container being decoded: what it is, what it holds so far, what is still due."""

    __slots__ = ("tag", "items", "remaining", "start", "key", "key_start")

    def __init__(self, tag: int, items: Any, remaining: int, start: int) -> None:
        self.tag = tag
        self.items = items
        self.remaining = remaining
        self.start = start
        self.key: Any = None
        self.key_start = 0


def decode(data: Buffer, *, allow_pickle: bool = False) -> Any:
    """Decode one value written by :func:`encode` (format version 1).

    Args:
        data: The encoded value: bytes, bytearray or memoryview, exactly one item.
        allow_pickle: Unpickle values stored with tag 0x7F. Only for data you
            trust: unpickling can run any code. Trusted data is not held to
            the decode budget either.

    Returns:
        The value, of exactly the types that were encoded.

    Raises:
        TypeError: ``data`` is not bytes, bytearray or memoryview.
        DecodeBudgetError: (a ValueError) without ``allow_pickle``, the value
            would take more than ``DECODE_EXPANSION`` bytes of memory per byte
            of ``data`` plus ``DECODE_ALLOWANCE``.
        ValueError: ``data`` is not exactly one valid item (truncated, trailing
            bytes, bad varint, unknown tag, invalid field, unhashable key, nesting
            deeper than ``MAX_DEPTH``, ...) or holds a pickle and ``allow_pickle``
            is false. The message ends with the byte offset of the fault.
    """
    if type(data) is bytes:
        buf = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        buf = bytes(data)
    else:
        raise TypeError(f"data must be bytes, bytearray or memoryview, got {type(data).__qualname__}")
    limit = UNLIMITED if allow_pickle else budget_for(len(buf))
    try:
        value, pos, _ = decode_at(buf, 0, len(buf), True if allow_pickle else None, limit)
    except DecodeBudgetError as exc:
        where = f"the item at byte {exc.offset}"
        msg = budget_message("the value", len(buf), limit, limit + exc.overdraft, where)
        raise DecodeBudgetError(msg, exc.overdraft, exc.offset) from None
    if pos != len(buf):
        raise ValueError(f"trailing bytes: {len(buf) - pos} after the value, at byte {pos}")
    return value


def decode_at(buf: bytes, pos: int, end: int, unpickler: Unpickler, budget: int = UNLIMITED) -> tuple[Any, int, int]:
    """Decode the item at buf[pos:end]; return it, the offset past it and the budget left.

    unpickler: a list (a snapshot frame's objects) resolves pickle
    references (tag 0x7E) and refuses pickle items (tag 0x7F); otherwise a
    false value (None, False) refuses both, the class :class:`Pickled` wraps a
    pickle item's bytes, unrun, and any other true value unpickles it.
    budget: bytes of objects still allowed (see ``_budget``);
    :class:`DecodeBudgetError` once the charges pass it.
    """
    stack: list[_Frame] = []
    while True:
        start = pos
        if pos >= end:
            if stack:
                raise ValueError(
                    f"truncated {_CONTAINER_NAMES[stack[-1].tag]}: "
                    f"{stack[-1].remaining} more items expected, input ended, at byte {pos}"
                )
            raise ValueError(f"empty input: an item expected, at byte {pos}")
        tag = buf[pos]
        pos += 1
        value: Any
        if tag == T_INT:
            b = buf[pos] if pos < end else 0x80
            if b < 0x80:
                pos += 1
                value = (b >> 1) ^ -(b & 1)
                if value < -5:
                    budget -= 28
            else:
                value, pos = _read_svarint(buf, pos, end)
                budget -= cost_int(value)
        elif tag == T_STR or tag == T_BYTES or tag == T_BYTEARRAY:
            b = buf[pos] if pos < end else 0x80
            if b < 0x80:
                pos += 1
                if b > end - pos:
                    raise ValueError(
                        f"truncated {_BLOB_NAMES[tag]}: {b} bytes declared, {end - pos} remain, at byte {start}"
                    )
                n = b
            else:
                n, pos = _read_len(buf, pos, end, _BLOB_NAMES[tag], start)
            if tag == T_STR:
                try:
                    value = buf[pos : pos + n].decode("utf-8", "surrogatepass")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"invalid UTF-8 in str ({exc.reason}), at byte {start}") from None
            elif tag == T_BYTES:
                value = buf[pos : pos + n]
            else:
                value = bytearray(buf[pos : pos + n])
            pos += n
            budget -= cost_str(value, n) if tag == T_STR else cost_blob(tag, n)
        elif tag == T_FLOAT:
            if end - pos < 8:
                raise ValueError(f"truncated float: 8 bytes expected, {end - pos} remain, at byte {start}")
            value = _unpack_double(buf, pos)[0]
            pos += 8
            budget -= COST_FLOAT
        elif tag == T_NONE:
            value = None
        elif tag == T_FALSE:
            value = False
        elif tag == T_TRUE:
            value = True
        elif T_TUPLE <= tag <= T_FROZENSET:
            if len(stack) >= MAX_DEPTH:
                raise ValueError(f"value nested deeper than {MAX_DEPTH} levels, at byte {start}")
            count, pos = read_uvarint(buf, pos, end)
            need = 2 * count if tag == T_DICT else count
            if need > end - pos:
                raise ValueError(
                    f"truncated {_CONTAINER_NAMES[tag]}: {count} items declared "
                    f"but only {end - pos} bytes remain, at byte {start}"
                )
            budget -= cost_container(tag, count)
            if budget < 0:  # before anything is allocated for it
                raise over_budget(budget, start)
            if tag == T_DICT:
                items: Any = {}
            elif tag == T_SET or tag == T_FROZENSET:
                items = set()
            else:
                # Sized up front, as the compiled twin does: appends would over-allocate past the charge.
                items = [None] * count
            if count:
                stack.append(_Frame(tag, items, need, start))
                continue
            value = () if tag == T_TUPLE else _EMPTY_FROZENSET if tag == T_FROZENSET else items
        else:
            value, pos = _read_scalar(buf, pos, end, tag, start, unpickler)
            budget -= cost_other(tag, value, pos - start)
        if budget < 0:
            raise over_budget(budget, start)

        # Hand the finished item to the containers it completes, innermost first.
        while stack:
            frame = stack[-1]
            ftag = frame.tag
            if ftag == T_LIST or ftag == T_TUPLE:
                frame.items[len(frame.items) - frame.remaining] = value
            elif ftag == T_DICT:
                if frame.remaining & 1:
                    try:
                        frame.items[frame.key] = value
                    except TypeError:
                        raise ValueError(
                            f"unhashable dict key of type {type(frame.key).__qualname__}, at byte {frame.key_start}"
                        ) from None
                    frame.key = None
                else:
                    frame.key = value
                    frame.key_start = start
            else:
                try:
                    frame.items.add(value)
                except TypeError:
                    raise ValueError(
                        f"unhashable set item of type {type(value).__qualname__}, at byte {start}"
                    ) from None
            frame.remaining -= 1
            if frame.remaining:
                break
            stack.pop()
            start = frame.start
            value = frame.items
            if ftag == T_TUPLE:
                value = tuple(value)
            elif ftag == T_FROZENSET:
                value = frozenset(value)
        else:
            return value, pos, budget
