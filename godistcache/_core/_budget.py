"""The decode budget: what the value codec's decoder charges for the objects it makes, and its limit.

Lengths checked against the bytes left bound what an input *holds*, not what
it *expands to*: an empty set is 2 bytes of input and 216 of memory. So every
object the decoder makes is charged an approximation of its CPython size (the
``COST_*`` constants and the ``cost_*`` functions below: the object, plus 8
bytes per list or tuple slot and a fixed cost per set item or dict pair;
objects CPython shares, such as small ints, ``()``, one-character strs, cost
nothing but their slot), and the decoder refuses, with
:class:`DecodeBudgetError` (a ValueError), any input whose charges pass
``DECODE_EXPANSION`` times its size plus ``DECODE_ALLOWANCE``. The charges are
a function of the input alone, so both twins refuse exactly the same inputs.
Containers are charged when their header is read, before anything is
allocated for them. Data the caller trusts (``allow_pickle=True``: it may run
code anyway) is not budgeted, nor is a pickle's own expansion.

``_codec_c`` charges the same amounts, from C constants of its own.
"""

from __future__ import annotations

import datetime
import sys
import sysconfig
from typing import Any, Optional

from ._value_format import (
    T_BIGINT,
    T_BYTES,
    T_DATE,
    T_DATETIME,
    T_DECIMAL,
    T_DICT,
    T_FROZENSET,
    T_LIST,
    T_PICKLE,
    T_TIMEDELTA,
    T_TUPLE,
    T_UUID,
    Pickled,
)

__all__ = [
    "COST_BIGINT",
    "COST_BYTEARRAY",
    "COST_BYTES",
    "COST_DATE",
    "COST_DATETIME",
    "COST_DECIMAL",
    "COST_DICT",
    "COST_DICT_PAIR",
    "COST_DICT_SMALL",
    "COST_ENTRY",
    "COST_FLOAT",
    "COST_LIST",
    "COST_PICKLED",
    "COST_SET",
    "COST_SET_ITEM",
    "COST_STR",
    "COST_STR_WIDE",
    "COST_TIMEDELTA",
    "COST_TIMEZONE",
    "COST_TUPLE",
    "COST_UUID",
    "OBJECT_EXTRA",
    "TUPLE_EXTRA",
    "DECODE_ALLOWANCE",
    "DECODE_EXPANSION",
    "UNLIMITED",
    "DecodeBudgetError",
    "budget_for",
    "budget_message",
    "cost_blob",
    "cost_container",
    "cost_int",
    "cost_other",
    "cost_str",
    "over_budget",
]

#: Added to each object's charge: the free-threaded build's object header is 16 bytes larger (gdc.h).
OBJECT_EXTRA = 16 if sysconfig.get_config_var("Py_GIL_DISABLED") else 0
#: Untrusted input may cost at most this many bytes of Python objects per byte (20 on the free-threaded build,
#: whose objects are larger: the same files load on both)...
DECODE_EXPANSION = 20 if OBJECT_EXTRA else 16
#: ...plus this much, so that small inputs (a value nested MAX_DEPTH deep) always decode.
DECODE_ALLOWANCE = 1 << 20

# What decoded objects are charged, in bytes: CPython 3.11+ sizes on 64-bit
# (sys.getsizeof, rounded up), plus OBJECT_EXTRA per object. Shared objects
# (None, bools, ints -5..256, (), frozenset(), "" and one-character strs, b""
# and one-byte bytes) cost 0.
COST_FLOAT = 24 + OBJECT_EXTRA
COST_STR = 49 + OBJECT_EXTRA  # + len for ASCII; a non-ASCII str is charged as if 4 bytes per input byte
COST_STR_WIDE = 76 + OBJECT_EXTRA
COST_BYTES = 33 + OBJECT_EXTRA  # + len
COST_BYTEARRAY = 64 + OBJECT_EXTRA  # + len
COST_BIGINT = 32 + OBJECT_EXTRA  # + 2 per byte
#: What a tuple adds from 3.14, which caches its hash in it (gdc.h's GDC_TUPLE_EXTRA).
TUPLE_EXTRA = 8 if sys.version_info >= (3, 14) else 0
COST_TUPLE = 40 + OBJECT_EXTRA + TUPLE_EXTRA  # + 8 per item
COST_LIST = 56 + 2 * OBJECT_EXTRA  # + 8 per item; the extra twice, as for dicts
# + COST_DICT_SMALL for 1 to 5 pairs, else COST_DICT_PAIR per pair; the extra twice (measured on 3.14t)
COST_DICT = 64 + 2 * OBJECT_EXTRA
COST_DICT_SMALL = 160 + OBJECT_EXTRA  # the keys table: its own allocation
COST_DICT_PAIR = 48
COST_SET = 216 + OBJECT_EXTRA  # + COST_SET_ITEM per item beyond 4 (the first 4 fit in the object)
COST_SET_ITEM = 32
COST_DATE = 32 + OBJECT_EXTRA
COST_DATETIME = 56 + OBJECT_EXTRA
COST_TIMEZONE = 96 + OBJECT_EXTRA  # + the name, as a str
COST_TIMEDELTA = 40 + OBJECT_EXTRA
COST_DECIMAL = 104 + OBJECT_EXTRA  # + len
COST_UUID = 104 + OBJECT_EXTRA
COST_PICKLED = 88 + OBJECT_EXTRA  # + len
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


def budget_for(size: int) -> int:
    """The decode budget of an input of size bytes."""
    return DECODE_EXPANSION * size + DECODE_ALLOWANCE


def cost_int(v: int) -> int:
    """What an int in int64 costs: CPython caches -5..256 and stores 30 bits per digit."""
    if -5 <= v <= 256:
        return 0
    a = -v if v < 0 else v
    return 28 if a < (1 << 30) else 32 if a < (1 << 60) else 36


def cost_str(s: str, n: int) -> int:
    """What a str decoded from n bytes of UTF-8 costs."""
    if n <= 1:
        return 0
    return COST_STR + n if s.isascii() else COST_STR_WIDE + 4 * n


def cost_blob(tag: int, n: int) -> int:
    if tag == T_BYTES:
        return 0 if n <= 1 else COST_BYTES + n
    return COST_BYTEARRAY + n


def cost_container(tag: int, count: int) -> int:
    """What a container of count items costs, charged when its header is read."""
    if tag == T_LIST:
        return COST_LIST + 8 * count
    if tag == T_TUPLE:
        return COST_TUPLE + 8 * count if count else 0
    if tag == T_DICT:
        return COST_DICT + (0 if not count else COST_DICT_SMALL if count <= 5 else COST_DICT_PAIR * count)
    if tag == T_FROZENSET and not count:
        return 0
    return COST_SET + (COST_SET_ITEM * count if count > 4 else 0)


def cost_other(tag: int, value: Any, size: int) -> int:
    """What a scalar read by the decoder's _read_scalar costs; size: the item's bytes, tag included."""
    if tag == T_BIGINT:
        return COST_BIGINT + 2 * size
    if tag == T_DATETIME:
        return COST_DATETIME + (COST_TIMEZONE + size if type(value.tzinfo) is datetime.timezone else 0)
    if tag == T_DATE:
        return COST_DATE
    if tag == T_TIMEDELTA:
        return COST_TIMEDELTA
    if tag == T_DECIMAL:
        return COST_DECIMAL + size
    if tag == T_UUID:
        return COST_UUID
    if type(value) is Pickled and tag == T_PICKLE:
        return COST_PICKLED + size
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
