"""The pure-Python twin of ``_codec_c``: the value codec's reference implementation.

It defines the wire format (format version 1) that the compiled twin matches byte
for byte, is the codec used when ``GODISTCACHE_NO_EXTENSIONS=1`` is set, and is
the source of the types.

A value is encoded as one *item*: a tag byte followed by its payload. Integers in
payloads are unsigned LEB128 varints ("uvarint": 7 bits per byte, low groups
first, high bit = more; at most 10 bytes, at most 2**64 - 1, no trailing 0x00
group) or zigzag varints ("svarint": ``(n << 1) ^ (n >> 63)`` of an int64, then
uvarint). Multi-byte fixed fields are little-endian.

====  ==================  ==========================================================
tag   type (exact type)   payload
====  ==================  ==========================================================
0x00  None                -
0x01  False               -
0x02  True                -
0x03  int in int64        svarint(n)
0x04  int outside int64   sign byte (0 = positive, 1 = negative), uvarint(len),
                          len bytes of abs(n) little-endian, most significant byte
                          not zero
0x05  float               8 bytes IEEE-754 binary64 little-endian, bit for bit
0x06  str                 uvarint(len), ``s.encode("utf-8", "surrogatepass")``
0x07  bytes               uvarint(len), raw bytes
0x08  bytearray           uvarint(len), raw bytes
0x09  tuple               uvarint(count), count items
0x0A  list                uvarint(count), count items
0x0B  dict                uvarint(count), count (key item, value item) pairs in
                          iteration order
0x0C  set                 uvarint(count), count items in iteration order
0x0D  frozenset           uvarint(count), count items in iteration order
0x0E  datetime.datetime   svarint(year), uvarint(month), uvarint(day),
                          uvarint(hour), uvarint(minute), uvarint(second),
                          uvarint(microsecond), uvarint(fold), tz byte:
                          0 = naive;
                          1 = datetime.timezone: svarint(days), uvarint(seconds),
                          uvarint(microseconds) of ``utcoffset(None)``, then a str
                          item (tag 0x06) holding the name the timezone was given,
                          or an empty str when it was created without one;
                          2 = zoneinfo.ZoneInfo: a str item (tag 0x06) with its key
0x0F  datetime.date       svarint(year), uvarint(month), uvarint(day)
0x10  datetime.timedelta  svarint(days), uvarint(seconds), uvarint(microseconds)
0x11  decimal.Decimal     uvarint(len), ASCII bytes of ``str(d)`` in the default
                          context (exponent "E"); no other spelling is accepted
0x12  uuid.UUID           16 bytes: ``u.bytes``
0x7E  pickle reference    uvarint(index): object number index of the pickled list
                          that heads the snapshot frame holding the item; only in
                          snapshot frames (see ``godistcache._core._frames_py``)
0x7F  anything else       uvarint(len), ``pickle.dumps(obj, protocol=5)``; only
                          with ``allow_pickle=True``; never in snapshot frames
====  ==================  ==========================================================

Types are matched exactly: bool is never an int, and an IntEnum, a str subclass,
a namedtuple or an OrderedDict is "anything else", as is a datetime whose tzinfo
is neither None, a ``datetime.timezone`` nor a ``zoneinfo.ZoneInfo`` with a key.
A container nested more than ``MAX_DEPTH`` levels deep (which is what a cycle
becomes) is refused on both sides; a container holds its items one level deeper
than itself, and the outermost container is level 1.

Choices the table leaves open, made here and binding on both twins:

- A timezone's name is the one it was created with, read from
  ``tz.__getinitargs__()``: ``tz == timezone(offset)`` can't tell, since
  timezones compare by offset only. A name given as ``""`` decodes as no name.
- The offset and the timedelta are written normalised (0 <= seconds < 86400,
  0 <= microseconds < 10**6) and the decoder accepts nothing else.
- A big int, a Decimal or a varint has one valid spelling: the one ``encode``
  writes. A dict key or set item equal to an earlier one is not an error: as
  in a dict display, the first key stays and the last value wins.
- The pickle refusal message is the spec's, followed by ``(tag 0x7F at byte N)``.

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

Memory is bounded too (the *decode budget*). Lengths checked against the bytes
left bound what the input *holds*, not what it *expands to*: an empty set is 2
bytes of input and 216 of memory. So every object the decoder makes is charged
an approximation of its CPython size (see ``_cost_*`` and the charges below:
the object, plus 8 bytes per list or tuple slot and a fixed cost per set item
or dict pair; objects CPython shares, such as small ints, ``()``, one-character
strs, cost nothing but their slot), and the decoder refuses, with
:class:`DecodeBudgetError` (a ValueError), any input whose charges pass
``DECODE_EXPANSION`` times its size plus ``DECODE_ALLOWANCE``. The charges are
a function of the input alone, so both twins refuse exactly the same inputs.
Containers are charged when their header is read, before anything is
allocated for them. Data the caller trusts (``allow_pickle=True``: it may run
code anyway) is not budgeted, nor is a pickle's own expansion.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import pickle
import struct
import uuid
import zoneinfo
from typing import Any, Optional, Union

__all__ = [
    "DECODE_ALLOWANCE",
    "DECODE_EXPANSION",
    "FORMAT_VERSION",
    "MAX_DEPTH",
    "DecodeBudgetError",
    "decode",
    "encode",
]

#: Version of the wire format this module reads and writes.
FORMAT_VERSION = 1

#: Deepest container nesting encode writes and decode accepts.
MAX_DEPTH = 1000

#: Untrusted input may cost at most this many bytes of Python objects per byte...
DECODE_EXPANSION = 16
#: ...plus this much, so that small inputs (a value nested MAX_DEPTH deep) always decode.
DECODE_ALLOWANCE = 1 << 20

# What decoded objects are charged, in bytes: CPython 3.11+ sizes on 64-bit
# (sys.getsizeof, rounded up). Shared objects (None, bools, ints -5..256, (),
# frozenset(), "" and one-character strs, b"" and one-byte bytes) cost 0.
_COST_FLOAT = 24
_COST_STR = 49  # + len for ASCII; a non-ASCII str is charged as if 4 bytes per input byte
_COST_STR_WIDE = 76
_COST_BYTES = 33  # + len
_COST_BYTEARRAY = 64  # + len
_COST_BIGINT = 32  # + 2 per byte
_COST_TUPLE = 40  # + 8 per item
_COST_LIST = 56  # + 8 per item
_COST_DICT = 64  # + _COST_DICT_SMALL for 1 to 5 pairs, else _COST_DICT_PAIR per pair
_COST_DICT_SMALL = 160
_COST_DICT_PAIR = 48
_COST_SET = 216  # + _COST_SET_ITEM per item beyond 4 (the first 4 fit in the object)
_COST_SET_ITEM = 32
_COST_DATE = 32
_COST_DATETIME = 56
_COST_TIMEZONE = 96  # + the name, as a str
_COST_TIMEDELTA = 40
_COST_DECIMAL = 104  # + len
_COST_UUID = 104
_COST_PICKLED = 88  # + len
#: A snapshot entry stored in a table: its slot and index.
COST_ENTRY = 48
#: Charged when nothing is budgeted (trusted input): never reached.
UNLIMITED = 1 << 62


class DecodeBudgetError(ValueError):
    """The input would take more memory to decode than its size allows (see the module docstring).

    ``overdraft``: bytes charged beyond the budget the decoder was given when
    it stopped; ``offset``: where the item it stopped at starts; ``entry``:
    the snapshot entry it belongs to, if any.
    """

    def __init__(self, message: str, overdraft: int = 0, offset: int = 0, entry: Optional[int] = None) -> None:
        super().__init__(message)
        self.overdraft = overdraft
        self.offset = offset
        self.entry = entry


_T_NONE = 0x00
_T_FALSE = 0x01
_T_TRUE = 0x02
_T_INT = 0x03
_T_BIGINT = 0x04
_T_FLOAT = 0x05
_T_STR = 0x06
_T_BYTES = 0x07
_T_BYTEARRAY = 0x08
_T_TUPLE = 0x09
_T_LIST = 0x0A
_T_DICT = 0x0B
_T_SET = 0x0C
_T_FROZENSET = 0x0D
_T_DATETIME = 0x0E
_T_DATE = 0x0F
_T_TIMEDELTA = 0x10
_T_DECIMAL = 0x11
_T_UUID = 0x12
_T_PICKLE_REF = 0x7E
_T_PICKLE = 0x7F


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


_TZ_NAIVE = 0
_TZ_FIXED = 1
_TZ_ZONEINFO = 2

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1
_MAX_VARINT_BYTES = 10

_DEPTH_MESSAGE = f"value nested deeper than {MAX_DEPTH} levels (a cycle?)"
PICKLE_REFUSED = "pickled value refused: pass allow_pickle=True only for data you trust"

_pack_double = struct.Struct("<d").pack
_unpack_double = struct.Struct("<d").unpack_from

_SEQUENCE_TAGS: dict[type, int] = {list: _T_LIST, tuple: _T_TUPLE, set: _T_SET, frozenset: _T_FROZENSET}
_CONTAINER_NAMES = {
    _T_TUPLE: "tuple",
    _T_LIST: "list",
    _T_DICT: "dict",
    _T_SET: "set",
    _T_FROZENSET: "frozenset",
}

# One shared empty frozenset, as the compiled twin returns: an empty set costs 216 bytes.
_EMPTY_FROZENSET: frozenset[Any] = frozenset()

_BLOB_NAMES = {_T_STR: "str", _T_BYTES: "bytes", _T_BYTEARRAY: "bytearray"}

Buffer = Union[bytes, bytearray, memoryview]
#: What the encoder does with an object without a native form (see encode_into).
Pickler = Union[None, bool, list[Any]]
#: What the decoder does with a pickle (see decode_at).
Unpickler = Union[None, bool, type, list[Any]]


# --------------------------------------------------------------------------- encode


def put_uvarint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_svarint(out: bytearray, n: int) -> None:
    put_uvarint(out, n << 1 if n >= 0 else ((-n) << 1) - 1)


def _put_str(out: bytearray, s: str) -> None:
    b = s.encode("utf-8", "surrogatepass")
    out.append(_T_STR)
    put_uvarint(out, len(b))
    out += b


def _tz_name(tz: datetime.timezone) -> str:
    # ``tz == timezone(offset)`` can't tell a named timezone from an unnamed one:
    # timezones compare by offset only. The pickle arguments do carry the name.
    args: tuple[Any, ...] = tz.__getinitargs__()  # type: ignore[attr-defined]
    name: str = args[1] if len(args) > 1 else ""
    return name


def _decimal_str(d: decimal.Decimal) -> str:
    # str(d) writes "e" when the thread's decimal context has capitals=0; the
    # format is str(d) in the default context, so the exponent is always "E".
    return str(d).replace("e", "E")


def _put_datetime(out: bytearray, x: datetime.datetime) -> bool:
    """Append a datetime item; False (nothing written) when its tzinfo is not native."""
    tz = x.tzinfo
    if tz is None:
        tz_kind = _TZ_NAIVE
    elif type(tz) is datetime.timezone:
        tz_kind = _TZ_FIXED
    elif type(tz) is zoneinfo.ZoneInfo and tz.key is not None:
        tz_kind = _TZ_ZONEINFO
    else:
        return False
    out.append(_T_DATETIME)
    _put_svarint(out, x.year)
    out += bytes((x.month, x.day, x.hour, x.minute, x.second))
    put_uvarint(out, x.microsecond)
    out.append(x.fold)
    out.append(tz_kind)
    if tz_kind == _TZ_FIXED:
        assert isinstance(tz, datetime.timezone)
        offset = tz.utcoffset(None)
        _put_svarint(out, offset.days)
        put_uvarint(out, offset.seconds)
        put_uvarint(out, offset.microseconds)
        _put_str(out, _tz_name(tz))
    elif tz_kind == _TZ_ZONEINFO:
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
        out.append(_T_DATE)
        _put_svarint(out, x.year)
        out.append(x.month)
        out.append(x.day)
        return
    elif t is datetime.timedelta:
        assert isinstance(x, datetime.timedelta)
        out.append(_T_TIMEDELTA)
        _put_svarint(out, x.days)
        put_uvarint(out, x.seconds)
        put_uvarint(out, x.microseconds)
        return
    elif t is decimal.Decimal:
        assert isinstance(x, decimal.Decimal)
        b = _decimal_str(x).encode("ascii")
        out.append(_T_DECIMAL)
        put_uvarint(out, len(b))
        out += b
        return
    elif t is uuid.UUID:
        assert isinstance(x, uuid.UUID)
        out.append(_T_UUID)
        out += x.bytes
        return
    elif t is int:
        assert isinstance(x, int)
        a = -x if x < 0 else x
        out.append(_T_BIGINT)
        out.append(1 if x < 0 else 0)
        b = a.to_bytes((a.bit_length() + 7) >> 3, "little")
        put_uvarint(out, len(b))
        out += b
        return
    if type(pickler) is not list and not pickler:
        raise TypeError(f"cannot encode {t.__qualname__} without allow_pickle=True")
    if type(pickler) is list:
        out.append(_T_PICKLE_REF)
        put_uvarint(out, len(pickler))
        pickler.append(x)
        return
    b = pickle.dumps(x, protocol=5)
    out.append(_T_PICKLE)
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
                if _INT64_MIN <= x <= _INT64_MAX:
                    append(_T_INT)
                    n = x << 1 if x >= 0 else ((-x) << 1) - 1
                    if n < 0x80:
                        append(n)
                    else:
                        put_uvarint(out, n)
                else:
                    _put_other(out, x, pickler)
            elif t is str:
                b = x.encode("utf-8", "surrogatepass")
                append(_T_STR)
                n = len(b)
                if n < 0x80:
                    append(n)
                else:
                    put_uvarint(out, n)
                out += b
            elif t is float:
                append(_T_FLOAT)
                out += _pack_double(x)
            elif x is None:
                append(_T_NONE)
            elif t is bool:
                append(_T_TRUE if x else _T_FALSE)
            elif t is bytes or t is bytearray:
                append(_T_BYTES if t is bytes else _T_BYTEARRAY)
                put_uvarint(out, len(x))
                out += x
            elif t is dict or t in _SEQUENCE_TAGS:
                if len(stack) >= MAX_DEPTH:
                    raise ValueError(_DEPTH_MESSAGE)
                if t is dict:
                    append(_T_DICT)
                    # Size changes while we iterate raise RuntimeError on their own.
                    children: Any = itertools.chain.from_iterable(x.items())
                elif t is list:
                    append(_T_LIST)
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


# --------------------------------------------------------------------------- decode


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
            if n > _UINT64_MAX:
                raise ValueError(f"varint over 2**64 - 1, at byte {start}")
            return n, pos
        shift += 7
        if pos - start >= _MAX_VARINT_BYTES:
            raise ValueError(f"varint longer than {_MAX_VARINT_BYTES} bytes, at byte {start}")


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
    if buf[pos] != _T_STR:
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
    if tz_kind == _TZ_FIXED:
        offset, pos = _read_timedelta_fields(buf, pos, end, start, "datetime offset")
        name, pos = _read_str_item(buf, pos, end, "time zone name")
        try:
            tz = datetime.timezone(offset, name) if name else datetime.timezone(offset)
        except ValueError as exc:
            raise ValueError(f"invalid datetime offset ({exc}), at byte {start}") from None
    elif tz_kind == _TZ_ZONEINFO:
        key, pos = _read_str_item(buf, pos, end, "time zone key")
        try:
            tz = zoneinfo.ZoneInfo(key)
        except Exception as exc:  # ZoneInfoNotFoundError is a KeyError; bad files are ValueError or OSError
            raise ValueError(f"unknown time zone key {key!r} ({type(exc).__name__}), at byte {start}") from None
    elif tz_kind != _TZ_NAIVE:
        raise ValueError(f"datetime tz byte must be 0, 1 or 2, got {tz_kind}, at byte {pos - 1}")
    month, day, hour, minute, second, microsecond, fold = fields
    try:
        return datetime.datetime(year, month, day, hour, minute, second, microsecond, tz, fold=fold), pos
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid datetime ({exc}), at byte {start}") from None


def _read_scalar(buf: bytes, pos: int, end: int, tag: int, start: int, unpickler: Unpickler) -> tuple[Any, int]:
    """Read the payload of a non-container item whose tag is at ``start``."""
    if tag == _T_BIGINT:
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
        if _INT64_MIN <= v <= _INT64_MAX:
            raise ValueError(f"non-canonical big int: {v} fits in tag 0x03, at byte {start}")
        return v, pos + n
    if tag == _T_DATETIME:
        return _read_datetime(buf, pos, end, start)
    if tag == _T_DATE:
        year, pos = _read_svarint(buf, pos, end)
        month, pos = read_uvarint(buf, pos, end)
        day, pos = read_uvarint(buf, pos, end)
        try:
            return datetime.date(year, month, day), pos
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"invalid date ({exc}), at byte {start}") from None
    if tag == _T_TIMEDELTA:
        return _read_timedelta_fields(buf, pos, end, start, "timedelta")
    if tag == _T_DECIMAL:
        n, pos = _read_len(buf, pos, end, "Decimal", start)
        raw = buf[pos : pos + n]
        try:
            s = raw.decode("ascii")
            d = decimal.Decimal(s)
        except (ValueError, ArithmeticError):
            d = None
        # Only str(d) is a valid payload: "1_0", " 1" or "nan" would parse but are not canonical.
        if d is None or _decimal_str(d) != s:
            raise ValueError(f"invalid Decimal string {raw[:40]!r}, at byte {start}")
        return d, pos + n
    if tag == _T_UUID:
        if end - pos < 16:
            raise ValueError(f"truncated UUID: 16 bytes expected, {end - pos} remain, at byte {start}")
        return uuid.UUID(bytes=buf[pos : pos + 16]), pos + 16
    if tag == _T_PICKLE_REF:
        if type(unpickler) is not list:
            if not unpickler:
                raise ValueError(f"{PICKLE_REFUSED} (tag 0x7E at byte {start})")
            raise ValueError(f"pickle reference outside a snapshot frame, at byte {start}")
        index, pos = read_uvarint(buf, pos, end)
        if index >= len(unpickler):
            raise ValueError(f"pickle reference {index} out of range: the frame has {len(unpickler)}, at byte {start}")
        return unpickler[index], pos
    if tag == _T_PICKLE:
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


def _cost_int(v: int) -> int:
    """What an int in int64 costs: CPython caches -5..256 and stores 30 bits per digit."""
    if -5 <= v <= 256:
        return 0
    a = -v if v < 0 else v
    return 28 if a < (1 << 30) else 32 if a < (1 << 60) else 36


def _cost_str(s: str, n: int) -> int:
    """What a str decoded from n bytes of UTF-8 costs."""
    if n <= 1:
        return 0
    return _COST_STR + n if s.isascii() else _COST_STR_WIDE + 4 * n


def _cost_blob(tag: int, n: int) -> int:
    if tag == _T_BYTES:
        return 0 if n <= 1 else _COST_BYTES + n
    return _COST_BYTEARRAY + n


def _cost_container(tag: int, count: int) -> int:
    """What a container of count items costs, charged when its header is read."""
    if tag == _T_LIST:
        return _COST_LIST + 8 * count
    if tag == _T_TUPLE:
        return _COST_TUPLE + 8 * count if count else 0
    if tag == _T_DICT:
        return _COST_DICT + (0 if not count else _COST_DICT_SMALL if count <= 5 else _COST_DICT_PAIR * count)
    if tag == _T_FROZENSET and not count:
        return 0
    return _COST_SET + (_COST_SET_ITEM * count if count > 4 else 0)


def _cost_other(tag: int, value: Any, size: int) -> int:
    """What a scalar read by _read_scalar costs; size: the item's bytes, tag included."""
    if tag == _T_BIGINT:
        return _COST_BIGINT + 2 * size
    if tag == _T_DATETIME:
        return _COST_DATETIME + (_COST_TIMEZONE + size if type(value.tzinfo) is datetime.timezone else 0)
    if tag == _T_DATE:
        return _COST_DATE
    if tag == _T_TIMEDELTA:
        return _COST_TIMEDELTA
    if tag == _T_DECIMAL:
        return _COST_DECIMAL + size
    if tag == _T_UUID:
        return _COST_UUID
    if type(value) is Pickled and tag == _T_PICKLE:
        return _COST_PICKLED + size
    return 0  # a pickle reference (the object is the frame's), or unpickled (trusted: not budgeted)


def over_budget(budget: int, start: int) -> DecodeBudgetError:
    """The error for a value whose charges passed the budget at the item at start."""
    return DecodeBudgetError(f"over the decode budget by {-budget} bytes, at byte {start}", -budget, start)


def budget_message(what: str, size: int, limit: int, charged: int, where: str) -> str:
    """The words of a DecodeBudgetError that knows its whole budget."""
    return (
        f"{what} would take more than {limit} bytes of memory, the decode budget of {size} bytes of input "
        f"({DECODE_EXPANSION} per byte + {DECODE_ALLOWANCE}): {charged} bytes of objects were due by {where}"
    )


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


def budget_for(size: int) -> int:
    """The decode budget of an input of size bytes."""
    return DECODE_EXPANSION * size + DECODE_ALLOWANCE


def decode_at(buf: bytes, pos: int, end: int, unpickler: Unpickler, budget: int = UNLIMITED) -> tuple[Any, int, int]:
    """Decode the item at buf[pos:end]; return it, the offset past it and the budget left.

    unpickler: a list (a snapshot frame's objects) resolves pickle
    references (tag 0x7E) and refuses pickle items (tag 0x7F); otherwise a
    false value (None, False) refuses both, the class :class:`Pickled` wraps a
    pickle item's bytes, unrun, and any other true value unpickles it.
    budget: bytes of objects still allowed (see the module docstring);
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
        if tag == _T_INT:
            b = buf[pos] if pos < end else 0x80
            if b < 0x80:
                pos += 1
                value = (b >> 1) ^ -(b & 1)
                if value < -5:
                    budget -= 28
            else:
                value, pos = _read_svarint(buf, pos, end)
                budget -= _cost_int(value)
        elif tag == _T_STR or tag == _T_BYTES or tag == _T_BYTEARRAY:
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
            if tag == _T_STR:
                try:
                    value = buf[pos : pos + n].decode("utf-8", "surrogatepass")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"invalid UTF-8 in str ({exc.reason}), at byte {start}") from None
            elif tag == _T_BYTES:
                value = buf[pos : pos + n]
            else:
                value = bytearray(buf[pos : pos + n])
            pos += n
            budget -= _cost_str(value, n) if tag == _T_STR else _cost_blob(tag, n)
        elif tag == _T_FLOAT:
            if end - pos < 8:
                raise ValueError(f"truncated float: 8 bytes expected, {end - pos} remain, at byte {start}")
            value = _unpack_double(buf, pos)[0]
            pos += 8
            budget -= _COST_FLOAT
        elif tag == _T_NONE:
            value = None
        elif tag == _T_FALSE:
            value = False
        elif tag == _T_TRUE:
            value = True
        elif _T_TUPLE <= tag <= _T_FROZENSET:
            if len(stack) >= MAX_DEPTH:
                raise ValueError(f"value nested deeper than {MAX_DEPTH} levels, at byte {start}")
            count, pos = read_uvarint(buf, pos, end)
            need = 2 * count if tag == _T_DICT else count
            if need > end - pos:
                raise ValueError(
                    f"truncated {_CONTAINER_NAMES[tag]}: {count} items declared "
                    f"but only {end - pos} bytes remain, at byte {start}"
                )
            budget -= _cost_container(tag, count)
            if budget < 0:  # before anything is allocated for it
                raise over_budget(budget, start)
            if tag == _T_DICT:
                items: Any = {}
            elif tag == _T_SET or tag == _T_FROZENSET:
                items = set()
            else:
                # Sized up front, as the compiled twin does: appends would over-allocate past the charge.
                items = [None] * count
            if count:
                stack.append(_Frame(tag, items, need, start))
                continue
            value = () if tag == _T_TUPLE else _EMPTY_FROZENSET if tag == _T_FROZENSET else items
        else:
            value, pos = _read_scalar(buf, pos, end, tag, start, unpickler)
            budget -= _cost_other(tag, value, pos - start)
        if budget < 0:
            raise over_budget(budget, start)

        # Hand the finished item to the containers it completes, innermost first.
        while stack:
            frame = stack[-1]
            ftag = frame.tag
            if ftag == _T_LIST or ftag == _T_TUPLE:
                frame.items[len(frame.items) - frame.remaining] = value
            elif ftag == _T_DICT:
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
            if ftag == _T_TUPLE:
                value = tuple(value)
            elif ftag == _T_FROZENSET:
                value = frozenset(value)
        else:
            return value, pos, budget
