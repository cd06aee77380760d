# cython: language_level=3, embedsignature=True, binding=False, freethreading_compatible=True
"""The compiled value codec: the twin of ``godistcache._core._codec_py``.

The pure-Python twin defines the wire format, version 1 (``docs/value-format.md``;
the code: ``_codec_py``, ``_encode_py``, ``_value_format`` and the decode budget
``_budget``); this module writes the same bytes and reads the same bytes, with
the same errors, only faster. Neither
the encoder nor the decoder recurses: the containers open at any moment (at
most MAX_DEPTH) sit in an array of frames, so nesting costs no C stack and a
thread with a small stack handles the deepest value too.

What keeps the interpreter safe whatever the input:
- Every length and count is checked against the bytes left before anything
  is allocated or read, so a reader never moves past ``end``.
- Items are dispatched on exact types, which only CPython's own C code
  implements; Python code runs only in pickle, Decimal, UUID and ZoneInfo
  calls, and the encoder never trusts a container's size across them.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize, PyByteArray_GET_SIZE
from cpython.datetime cimport (
    datetime_day, datetime_fold, datetime_hour, datetime_microsecond, datetime_minute,
    datetime_month, datetime_new, datetime_second, datetime_tzinfo, datetime_year,
    date_day, date_month, date_new, date_year, import_datetime,
    timedelta_days, timedelta_microseconds, timedelta_seconds,
)
from cpython.dict cimport PyDict_Next, PyDict_Size
from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.list cimport PyList_AsTuple, PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport Py_INCREF
from cpython.set cimport PyFrozenSet_New
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from libc.limits cimport INT_MAX, INT_MIN
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

import datetime as _datetime
import decimal as _decimal
import pickle as _pickle
import uuid as _uuid
import zoneinfo as _zoneinfo

from godistcache._core import _budget, _value_format

__all__ = ["DECODE_ALLOWANCE", "DECODE_EXPANSION", "FORMAT_VERSION", "MAX_DEPTH", "DecodeBudgetError", "decode", "encode"]

#: Version of the wire format this module reads and writes.
FORMAT_VERSION = _value_format.FORMAT_VERSION

#: Deepest container nesting encode writes and decode accepts.
MAX_DEPTH = _value_format.MAX_DEPTH

DECODE_EXPANSION = _budget.DECODE_EXPANSION
DECODE_ALLOWANCE = _budget.DECODE_ALLOWANCE
DecodeBudgetError = _budget.DecodeBudgetError


cdef extern from "gdc.h":
    bint GDC_FREE_THREADED      # the GIL is off (3.13t+): see gdc.h


cdef extern from "Python.h":
    PyTypeObject PyLong_Type
    PyTypeObject PyUnicode_Type
    PyTypeObject PyFloat_Type
    PyTypeObject PyBool_Type
    PyTypeObject PyBytes_Type
    PyTypeObject PyByteArray_Type
    PyTypeObject PyTuple_Type
    PyTypeObject PyList_Type
    PyTypeObject PyDict_Type
    PyTypeObject PySet_Type
    PyTypeObject PyFrozenSet_Type
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    bint PyUnicode_IS_COMPACT_ASCII(object o) noexcept
    bint PyUnicode_IS_ASCII(object o) noexcept
    Py_ssize_t PyUnicode_GET_LENGTH(object o) noexcept
    int PyUnicode_KIND(object o) noexcept
    void *PyUnicode_DATA(object o) noexcept
    # Unchecked: NULL is handled where they are called.
    PyObject *PyUnicode_DecodeUTF8(const char *s, Py_ssize_t size, const char *errors)
    int PyDict_SetItem(object d, object k, object v)
    int PySet_Add(object s, object k)
    void _incref "Py_INCREF"(PyObject *o) noexcept
    void _decref "Py_DECREF"(PyObject *o) noexcept
    void _xdecref "Py_XDECREF"(PyObject *o) noexcept
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    PyObject *_iter_next "PyIter_Next"(PyObject *o)
    PyObject *_err_occurred "PyErr_Occurred"()

cdef extern from *:
    """
    /* Strings made by the legacy (pre-PEP 393) API need this before their
     * kind and data are read; from 3.12 on there are none, and it is
     * a deprecated no-op. */
    static inline int gdc_codec_str_ready(PyObject *s)
    {
    #if PY_VERSION_HEX < 0x030C0000
        return PyUnicode_READY(s);
    #else
        (void)s;
        return 0;
    #endif
    }
    """
    int gdc_codec_str_ready(object s) except -1

cdef extern from *:
    """
    /* A dict with room for n items: no resizes while it fills. The function
     * is private; where it is gone, a plain dict. */
    static inline PyObject *gdc_codec_dict_presized(Py_ssize_t n)
    {
    #if PY_VERSION_HEX < 0x030D0000
        return _PyDict_NewPresized(n);
    #else
        (void)n;
        return PyDict_New();
    #endif
    }
    """
    dict gdc_codec_dict_presized(Py_ssize_t n)


cdef enum:
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

    TZ_NAIVE = 0
    TZ_FIXED = 1
    TZ_ZONEINFO = 2

    C_MAX_DEPTH = 1000
    INLINE_FRAMES = 8       # containers open at once before a frame array is allocated

    # The decode budget's charges: the same as _budget's COST_* (its docstring says why).
    C_ALLOWANCE = 1 << 20
    COST_DICT_PAIR = 48
    COST_SET_ITEM = 32

# Charges per object, with the free-threaded build's larger object header (gdc.h's GDC_OBJECT_EXTRA).
cdef extern from "gdc.h":
    enum:
        C_EXPANSION "(GDC_OBJECT_EXTRA ? 20 : 16)"
        COST_FLOAT "(24 + GDC_OBJECT_EXTRA)"
        COST_STR "(49 + GDC_OBJECT_EXTRA)"
        COST_STR_WIDE "(76 + GDC_OBJECT_EXTRA)"
        COST_BYTES "(33 + GDC_OBJECT_EXTRA)"
        COST_BYTEARRAY "(64 + GDC_OBJECT_EXTRA)"
        COST_BIGINT "(32 + GDC_OBJECT_EXTRA)"
        COST_TUPLE "(40 + GDC_OBJECT_EXTRA + GDC_TUPLE_EXTRA)"
        COST_LIST "(56 + 2 * GDC_OBJECT_EXTRA)"
        COST_DICT "(64 + 2 * GDC_OBJECT_EXTRA)"
        COST_DICT_SMALL "(160 + GDC_OBJECT_EXTRA)"
        COST_SET "(216 + GDC_OBJECT_EXTRA)"
        COST_DATE "(32 + GDC_OBJECT_EXTRA)"
        COST_DATETIME "(56 + GDC_OBJECT_EXTRA)"
        COST_TIMEZONE "(96 + GDC_OBJECT_EXTRA)"
        COST_TIMEDELTA "(40 + GDC_OBJECT_EXTRA)"
        COST_DECIMAL "(104 + GDC_OBJECT_EXTRA)"
        COST_UUID "(104 + GDC_OBJECT_EXTRA)"
        COST_PICKLED "(88 + GDC_OBJECT_EXTRA)"


_DEPTH_MESSAGE = f"value nested deeper than {MAX_DEPTH} levels (a cycle?)"
_PICKLE_REFUSED = _value_format.PICKLE_REFUSED

import_datetime()

cdef object _DateTime = _datetime.datetime
cdef object _Date = _datetime.date
cdef object _TimeDelta = _datetime.timedelta
cdef object _TimeZone = _datetime.timezone
cdef object _ZoneInfo = _zoneinfo.ZoneInfo
cdef object _Decimal = _decimal.Decimal
cdef object _UUID = _uuid.UUID
cdef object _pickle_dumps = _pickle.dumps
cdef object _pickle_loads = _pickle.loads
cdef object _Pickled = _value_format.Pickled
cdef object _DecodeBudgetError = _budget.DecodeBudgetError
cdef object _budget_message = _budget.budget_message
assert (C_MAX_DEPTH, C_EXPANSION, C_ALLOWANCE, COST_ENTRY) == (
    _value_format.MAX_DEPTH, _budget.DECODE_EXPANSION, _budget.DECODE_ALLOWANCE, _budget.COST_ENTRY)
assert (COST_FLOAT, COST_LIST, COST_PICKLED, COST_SET_ITEM, COST_TUPLE) == (
    _budget.COST_FLOAT, _budget.COST_LIST, _budget.COST_PICKLED, _budget.COST_SET_ITEM, _budget.COST_TUPLE)

_CONTAINER_NAMES = ("tuple", "list", "dict", "set", "frozenset")   # tags 0x09..0x0D


# --- encode -----------------------------------------------------------------

cdef inline uint64_t _zigzag(int64_t v) noexcept:
    return (<uint64_t>v << 1) ^ <uint64_t>(v >> 63)


cdef Py_ssize_t _utf8_size(int kind, const void *data, Py_ssize_t n) noexcept:
    # Lone surrogates take three bytes, as "surrogatepass" writes them.
    cdef Py_ssize_t i, size = n
    cdef const unsigned char *p1
    cdef const unsigned short *p2
    cdef const unsigned int *p4
    cdef unsigned int c
    if kind == 1:
        p1 = <const unsigned char *>data
        for i in range(n):
            size += p1[i] >> 7
    elif kind == 2:
        p2 = <const unsigned short *>data
        for i in range(n):
            c = p2[i]
            if c >= 0x80:
                size += 1 if c < 0x800 else 2
    else:
        p4 = <const unsigned int *>data
        for i in range(n):
            c = p4[i]
            if c >= 0x80:
                size += 1 if c < 0x800 else (2 if c < 0x10000 else 3)
    return size


cdef unsigned char *_utf8_write(unsigned char *out, int kind, const void *data, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    cdef unsigned int c
    for i in range(n):
        if kind == 1:
            c = (<const unsigned char *>data)[i]
        elif kind == 2:
            c = (<const unsigned short *>data)[i]
        else:
            c = (<const unsigned int *>data)[i]
        if c < 0x80:
            out[0] = <unsigned char>c
            out += 1
        elif c < 0x800:
            out[0] = <unsigned char>(0xC0 | (c >> 6))
            out[1] = <unsigned char>(0x80 | (c & 0x3F))
            out += 2
        elif c < 0x10000:
            out[0] = <unsigned char>(0xE0 | (c >> 12))
            out[1] = <unsigned char>(0x80 | ((c >> 6) & 0x3F))
            out[2] = <unsigned char>(0x80 | (c & 0x3F))
            out += 3
        else:
            out[0] = <unsigned char>(0xF0 | (c >> 18))
            out[1] = <unsigned char>(0x80 | ((c >> 12) & 0x3F))
            out[2] = <unsigned char>(0x80 | ((c >> 6) & 0x3F))
            out[3] = <unsigned char>(0x80 | (c & 0x3F))
            out += 4
    return out


cdef int _encode_str(Buffer *b, object s) except -1:
    """A str item: s.encode("utf-8", "surrogatepass"), written straight from
    the string's own storage (PyUnicode_AsUTF8AndSize would keep a UTF-8 copy
    alive inside every non-ASCII str it saw, and raises on surrogates)."""
    cdef Py_ssize_t n, size
    cdef int kind
    cdef const void *data
    if PyUnicode_IS_COMPACT_ASCII(s):
        n = PyUnicode_GET_LENGTH(s)
        buffer_reserve(b, 1 + MAX_VARINT + n)
        buffer_byte_unsafe(b, T_STR)
        buffer_uvarint_unsafe(b, <uint64_t>n)
        memcpy(b.data + b.len, PyUnicode_DATA(s), <size_t>n)
        b.len += n
        return 0
    gdc_codec_str_ready(s)
    n = PyUnicode_GET_LENGTH(s)
    kind = PyUnicode_KIND(s)
    data = PyUnicode_DATA(s)
    size = _utf8_size(kind, data, n)
    buffer_reserve(b, 1 + MAX_VARINT + size)
    buffer_byte_unsafe(b, T_STR)
    buffer_uvarint_unsafe(b, <uint64_t>size)
    b.len = _utf8_write(b.data + b.len, kind, data, n) - b.data
    return 0


cdef int _encode_float(Buffer *b, double d) except -1:
    cdef uint64_t u
    cdef unsigned char *p
    cdef int i
    memcpy(&u, &d, 8)
    buffer_reserve(b, 9)
    p = b.data + b.len
    p[0] = T_FLOAT
    for i in range(8):      # little-endian whatever the host; one store on x86
        p[1 + i] = <unsigned char>(u >> (8 * i))
    b.len += 9
    return 0


cdef int _encode_bytes(Buffer *b, unsigned char tag, const char *data, Py_ssize_t n) except -1:
    buffer_reserve(b, 1 + MAX_VARINT + n)
    buffer_byte_unsafe(b, tag)
    buffer_uvarint_unsafe(b, <uint64_t>n)
    memcpy(b.data + b.len, data, <size_t>n)
    b.len += n
    return 0


cdef int _encode_bigint(Buffer *b, object obj) except -1:
    # Rare, so plain Python: _PyLong_AsByteArray changed signature in 3.13.
    neg = obj < 0
    a = -obj if neg else obj
    data = a.to_bytes((a.bit_length() + 7) >> 3, "little")
    buffer_reserve(b, 2)
    buffer_byte_unsafe(b, T_BIGINT)
    buffer_byte_unsafe(b, 1 if neg else 0)
    return _encode_bytes_payload(b, data)


cdef inline int _encode_bytes_payload(Buffer *b, bytes data) except -1:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    buffer_uvarint(b, <uint64_t>n)
    return buffer_append(b, PyBytes_AS_STRING(data), n)


cdef int _encode_datetime(Buffer *b, object obj, object pickler) except -1:
    cdef int kind
    tz = datetime_tzinfo(obj)
    if tz is None:
        kind = TZ_NAIVE
    elif type(tz) is _TimeZone:
        kind = TZ_FIXED
    elif type(tz) is _ZoneInfo and tz.key is not None:
        kind = TZ_ZONEINFO
    else:
        return _encode_pickle(b, obj, pickler)
    buffer_reserve(b, 1 + 8 * MAX_VARINT + 1)
    buffer_byte_unsafe(b, T_DATETIME)
    buffer_uvarint_unsafe(b, _zigzag(datetime_year(obj)))
    buffer_uvarint_unsafe(b, <uint64_t>datetime_month(obj))
    buffer_uvarint_unsafe(b, <uint64_t>datetime_day(obj))
    buffer_uvarint_unsafe(b, <uint64_t>datetime_hour(obj))
    buffer_uvarint_unsafe(b, <uint64_t>datetime_minute(obj))
    buffer_uvarint_unsafe(b, <uint64_t>datetime_second(obj))
    buffer_uvarint_unsafe(b, <uint64_t>datetime_microsecond(obj))
    buffer_uvarint_unsafe(b, <uint64_t>datetime_fold(obj))
    buffer_byte_unsafe(b, <unsigned char>kind)
    if kind == TZ_FIXED:
        offset = tz.utcoffset(None)
        _encode_timedelta_fields(b, offset)
        # timezones compare by offset only; the pickle arguments carry the name
        args = tz.__getinitargs__()
        return _encode_str(b, args[1] if len(args) > 1 else "")
    if kind == TZ_ZONEINFO:
        key = tz.key
        if not isinstance(key, str):    # ZoneInfo.from_file(f, key=...) takes anything
            raise TypeError(f"ZoneInfo key must be a str, got {type(key).__qualname__}")
        return _encode_str(b, key)
    return 0


cdef int _encode_timedelta_fields(Buffer *b, object td) except -1:
    buffer_reserve(b, 3 * MAX_VARINT)
    buffer_uvarint_unsafe(b, _zigzag(timedelta_days(td)))
    buffer_uvarint_unsafe(b, <uint64_t>timedelta_seconds(td))
    buffer_uvarint_unsafe(b, <uint64_t>timedelta_microseconds(td))
    return 0


cdef int _encode_pickle(Buffer *b, object obj, object pickler) except -1:
    # pickler: a list (a snapshot frame's) takes obj, and the item refers to
    # it by its index; otherwise false (None, False) refuses, true pickles
    # obj in place.
    cdef Py_ssize_t index
    if type(pickler) is not list and not pickler:
        raise TypeError(f"cannot encode {type(obj).__qualname__} without allow_pickle=True")
    if type(pickler) is list:
        index = len(<list>pickler)
        (<list>pickler).append(obj)
        buffer_reserve(b, 1 + MAX_VARINT)
        buffer_byte_unsafe(b, T_PICKLE_REF)
        buffer_uvarint_unsafe(b, <uint64_t>index)
        return 0
    data = _pickle_dumps(obj, protocol=5)
    buffer_byte(b, T_PICKLE)
    return _encode_bytes_payload(b, data)


cdef inline str _decimal_str(object d):
    # str(d) writes "e" when the thread's decimal context has capitals=0; the
    # format is str(d) in the default context, so the exponent is always "E".
    return str(d).replace("e", "E")


cdef int _encode_other(Buffer *b, object obj, object pickler) except -1:
    """The types whose payload takes Python calls, then pickle or refusal."""
    t = type(obj)
    if t is _DateTime:
        return _encode_datetime(b, obj, pickler)
    if t is _Date:
        buffer_reserve(b, 1 + 3 * MAX_VARINT)
        buffer_byte_unsafe(b, T_DATE)
        buffer_uvarint_unsafe(b, _zigzag(date_year(obj)))
        buffer_uvarint_unsafe(b, <uint64_t>date_month(obj))
        buffer_uvarint_unsafe(b, <uint64_t>date_day(obj))
        return 0
    if t is _TimeDelta:
        buffer_byte(b, T_TIMEDELTA)
        return _encode_timedelta_fields(b, obj)
    if t is _Decimal:
        s = _decimal_str(obj)
        buffer_byte(b, T_DECIMAL)
        return _encode_bytes_payload(b, s.encode("ascii"))
    if t is _UUID:
        data = obj.bytes
        buffer_byte(b, T_UUID)
        return buffer_append(b, PyBytes_AS_STRING(data), 16)
    return _encode_pickle(b, obj, pickler)


# A container being written, kept in an array rather than on the C stack (so
# a thread with a small stack encodes MAX_DEPTH levels too). Its items come
# from a tuple (a tuple itself, or a list's snapshot, as the Python twin
# takes), a dict read with PyDict_Next, or a set's iterator.
ctypedef struct EncFrame:
    PyObject *obj           # owned: the tuple, dict or set iterator
    PyObject *value         # owned: a dict value due after its key, or NULL
    Py_ssize_t pos          # next tuple index, or the PyDict_Next position
    Py_ssize_t n            # items (a dict's pairs) the header announced
    Py_ssize_t done         # dict pairs or set items handed out so far
    unsigned char tag


cdef int _encode_scalar(Buffer *b, object obj, PyTypeObject *t, object pickler) except -1:
    cdef int overflow = 0
    cdef long long v
    if t == &PyUnicode_Type:
        return _encode_str(b, obj)
    if t == &PyLong_Type:
        v = PyLong_AsLongLongAndOverflow(obj, &overflow)
        if overflow:
            return _encode_bigint(b, obj)
        buffer_reserve(b, 1 + MAX_VARINT)
        buffer_byte_unsafe(b, T_INT)
        buffer_uvarint_unsafe(b, _zigzag(v))
        return 0
    if t == &PyFloat_Type:
        return _encode_float(b, PyFloat_AS_DOUBLE(obj))
    if obj is None:
        return buffer_byte(b, T_NONE)
    if t == &PyBool_Type:
        return buffer_byte(b, T_TRUE if obj is True else T_FALSE)
    if t == &PyBytes_Type:
        return _encode_bytes(b, T_BYTES, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj))
    if t == &PyByteArray_Type:
        return _encode_bytes(b, T_BYTEARRAY, PyByteArray_AS_STRING(obj), PyByteArray_GET_SIZE(obj))
    return _encode_other(b, obj, pickler)


cdef inline int _container_tag(PyTypeObject *t) noexcept:
    if t == &PyTuple_Type:
        return T_TUPLE
    if t == &PyList_Type:
        return T_LIST
    if t == &PyDict_Type:
        return T_DICT
    if t == &PySet_Type:
        return T_SET
    if t == &PyFrozenSet_Type:
        return T_FROZENSET
    return 0


cdef int _propagate() except -1:
    return -1       # the error is already set


cdef void _free_enc_frames(EncFrame *frames, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        _xdecref(frames[i].obj)
        _xdecref(frames[i].value)


cdef int _encode_item(Buffer *b, object obj, int depth, object pickler) except -1:
    cdef EncFrame small[INLINE_FRAMES]
    cdef EncFrame *frames = small
    cdef EncFrame *grown
    cdef EncFrame *f
    cdef Py_ssize_t nframes = 0, cap = INLINE_FRAMES, n
    cdef PyTypeObject *t
    cdef int tag
    cdef PyObject *kp
    cdef PyObject *vp
    item = obj
    try:
        while True:
            t = Py_TYPE(item)
            tag = _container_tag(t)
            if not tag:
                _encode_scalar(b, item, t, pickler)
            else:
                if depth + nframes >= C_MAX_DEPTH:
                    raise ValueError(_DEPTH_MESSAGE)
                if tag == T_LIST:
                    source = PyList_AsTuple(item)
                elif tag == T_SET or tag == T_FROZENSET:
                    source = iter(item)
                else:
                    source = item
                n = PyTuple_GET_SIZE(source) if tag == T_LIST else len(item)
                buffer_reserve(b, 1 + MAX_VARINT)
                buffer_byte_unsafe(b, <unsigned char>tag)
                buffer_uvarint_unsafe(b, <uint64_t>n)
                if n:
                    if nframes == cap:
                        if frames == small:
                            grown = <EncFrame *>PyMem_Malloc(<size_t>(2 * cap) * sizeof(EncFrame))
                            if grown != NULL:
                                memcpy(grown, small, <size_t>cap * sizeof(EncFrame))
                        else:
                            grown = <EncFrame *>PyMem_Realloc(frames, <size_t>(2 * cap) * sizeof(EncFrame))
                        if grown == NULL:
                            raise MemoryError()
                        frames = grown
                        cap *= 2
                    f = &frames[nframes]
                    f.obj = <PyObject *>source
                    _incref(f.obj)
                    f.value = NULL
                    f.pos = 0
                    f.n = n
                    f.done = 0
                    f.tag = <unsigned char>tag
                    nframes += 1

            # The next item: from the innermost container that has one left.
            while nframes:
                f = &frames[nframes - 1]
                if f.tag == T_TUPLE or f.tag == T_LIST:
                    if f.pos < PyTuple_GET_SIZE(<object>f.obj):
                        item = <object>PyTuple_GET_ITEM(<object>f.obj, f.pos)
                        f.pos += 1
                        break
                elif f.tag == T_DICT:
                    if f.value != NULL:
                        item = <object>f.value
                        _decref(f.value)
                        f.value = NULL
                        break
                    if PyDict_Next(<object>f.obj, &f.pos, &kp, &vp):
                        # the header holds the count: a dict that changes size
                        # meanwhile (a pickled object's doing) cannot be written
                        if PyDict_Size(<object>f.obj) != f.n or f.done == f.n:
                            raise RuntimeError("dictionary changed size during iteration")
                        item = <object>kp
                        f.value = vp
                        _incref(vp)
                        f.done += 1
                        break
                    if f.done != f.n or PyDict_Size(<object>f.obj) != f.n:
                        raise RuntimeError("dictionary changed size during iteration")
                else:
                    # The set iterator raises itself if the set changes size.
                    nxt = _iter_next(f.obj)
                    if nxt != NULL:
                        item = <object>nxt
                        _decref(nxt)
                        if f.done == f.n:
                            raise RuntimeError("Set changed size during iteration")
                        f.done += 1
                        break
                    if _err_occurred() != NULL:
                        _propagate()
                    if f.done != f.n:
                        raise RuntimeError("Set changed size during iteration")
                _decref(f.obj)
                f.obj = NULL
                nframes -= 1
            else:
                return 0
    finally:
        if nframes:
            _free_enc_frames(frames, nframes)
        if frames != small:
            PyMem_Free(frames)


def encode(obj, *, allow_pickle=False):
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
    cdef Buffer b
    buffer_init(&b)
    try:
        _encode_item(&b, obj, 0, True if allow_pickle else None)
        return PyBytes_FromStringAndSize(<char *>b.data, b.len)
    finally:
        buffer_free(&b)


# --- decode -----------------------------------------------------------------

cdef inline Py_ssize_t _off(Reader *r, const unsigned char *p) noexcept:
    return p - r.start


cdef object _over_budget(Reader *r, const unsigned char *start):
    return _DecodeBudgetError(f"over the decode budget by {-r.budget} bytes, at byte {_off(r, start)}",
                              -r.budget, _off(r, start))


cdef inline Py_ssize_t _cost_int(int64_t v) noexcept:
    # CPython caches -5..256 and stores 30 bits per digit.
    if -5 <= v <= 256:
        return 0
    if -(1 << 30) < v < (1 << 30):
        return 28
    if -(1LL << 60) < v < (1LL << 60):
        return 32
    return 36


cdef inline Py_ssize_t _cost_container(unsigned char tag, Py_ssize_t count) noexcept:
    if tag == T_LIST:
        return COST_LIST + 8 * count
    if tag == T_TUPLE:
        return COST_TUPLE + 8 * count if count else 0
    if tag == T_DICT:
        return COST_DICT + (0 if not count else COST_DICT_SMALL if count <= 5 else COST_DICT_PAIR * count)
    if tag == T_FROZENSET and not count:
        return 0
    return COST_SET + (COST_SET_ITEM * count if count > 4 else 0)


cdef int _read_uvarint(Reader *r, uint64_t *out) except -1:
    cdef const unsigned char *p = r.pos
    cdef const unsigned char *start = p
    cdef uint64_t n = 0, c
    cdef int shift = 0
    while True:
        if p >= r.end:
            raise ValueError(f"truncated varint: input ends inside it, at byte {_off(r, start)}")
        c = p[0]
        p += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            if c == 0 and p - start > 1:
                raise ValueError(f"non-canonical varint: trailing zero group, at byte {_off(r, start)}")
            if shift == 63 and c > 1:
                raise ValueError(f"varint over 2**64 - 1, at byte {_off(r, start)}")
            r.pos = p
            out[0] = n
            return 0
        shift += 7
        if p - start >= MAX_VARINT:
            raise ValueError(f"varint longer than {MAX_VARINT} bytes, at byte {_off(r, start)}")


cdef inline int _read_svarint(Reader *r, int64_t *out) except -1:
    cdef uint64_t z
    _read_uvarint(r, &z)
    out[0] = <int64_t>(z >> 1) ^ -<int64_t>(z & 1)
    return 0


cdef Py_ssize_t _read_len(Reader *r, str what, const unsigned char *start) except -1:
    """A byte length, checked against the bytes that remain."""
    cdef uint64_t n
    cdef Py_ssize_t left
    if r.pos < r.end and r.pos[0] < 0x80:
        n = r.pos[0]
        r.pos += 1
    else:
        _read_uvarint(r, &n)
    left = r.end - r.pos
    if n > <uint64_t>left:
        raise ValueError(f"truncated {what}: {n} bytes declared, {left} remain, at byte {_off(r, start)}")
    return <Py_ssize_t>n


# Short ASCII strings decoded lately, by a hash of their bytes: values and
# keys repeat ("One", field names), and a str from here costs no allocation
# and, as a dict key, no hashing (its hash is cached in the object). Owned
# references; only touched with the GIL held, so not used at all with the GIL
# off (3.14t), where a slot could be replaced, and its str freed, between
# another thread's read of it and its new reference.
cdef enum:
    STR_CACHE_SLOTS = 1024
    STR_CACHE_MAXLEN = 16

cdef PyObject *_str_cache[STR_CACHE_SLOTS]


cdef inline object _read_short_ascii(const unsigned char *p, Py_ssize_t n):
    """The str of n <= STR_CACHE_MAXLEN bytes, or None when they are not all ASCII."""
    cdef uint32_t h = 2166136261u
    cdef unsigned char c, high = 0
    cdef Py_ssize_t i
    cdef PyObject *cached
    for i in range(n):      # FNV-1a
        c = p[i]
        high |= c
        h = (h ^ c) * 16777619u
    if high & 0x80:
        return None
    h ^= h >> 15
    cdef PyObject **slot = &_str_cache[h & (STR_CACHE_SLOTS - 1)]
    cached = slot[0]
    if cached != NULL and PyUnicode_GET_LENGTH(<object>cached) == n \
            and memcmp(PyUnicode_DATA(<object>cached), p, <size_t>n) == 0:
        return <object>cached
    s = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(s), p, <size_t>n)
    _incref(<PyObject *>s)
    slot[0] = <PyObject *>s
    _xdecref(cached)
    return s


cdef object _read_utf8(Reader *r, Py_ssize_t n, const unsigned char *start):
    if n <= STR_CACHE_MAXLEN and not GDC_FREE_THREADED:
        result = _read_short_ascii(r.pos, n)
        if result is not None:
            r.pos += n
            return result
    cdef PyObject *s = PyUnicode_DecodeUTF8(<const char *>r.pos, n, "surrogatepass")
    if s == NULL:
        _bad_utf8(r, n, start)
    r.pos += n
    result = <object>s
    _decref(s)
    return result


cdef int _bad_utf8(Reader *r, Py_ssize_t n, const unsigned char *start) except -1:
    if not PyErr_ExceptionMatches(UnicodeDecodeError):
        return -1       # MemoryError: let it through
    PyErr_Clear()
    # Decode again in Python for the reason, the same words as the Python twin's.
    try:
        PyBytes_FromStringAndSize(<const char *>r.pos, n).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 in str ({exc.reason}), at byte {_off(r, start)}") from None
    raise SystemError("UTF-8 decoding failed once and then succeeded")


cdef object _read_str_item(Reader *r, str what):
    """An item that must be a str (a time zone name or key)."""
    cdef const unsigned char *start = r.pos
    if r.pos >= r.end:
        raise ValueError(f"truncated datetime: {what} str expected, input ended, at byte {_off(r, start)}")
    if r.pos[0] != T_STR:
        raise ValueError(
            f"{what} must be a str item (tag 0x06), got tag 0x{r.pos[0]:02X}, at byte {_off(r, start)}")
    r.pos += 1
    n = _read_len(r, "str", start)
    return _read_utf8(r, n, start)


cdef object _read_timedelta(Reader *r, const unsigned char *start, str what):
    cdef int64_t days
    cdef uint64_t seconds, microseconds
    _read_svarint(r, &days)
    _read_uvarint(r, &seconds)
    _read_uvarint(r, &microseconds)
    if seconds >= 86400 or microseconds >= 1000000:
        raise ValueError(
            f"invalid {what}: seconds must be < 86400 and microseconds < 1000000, "
            f"got {seconds} and {microseconds}, at byte {_off(r, start)}")
    try:
        return _TimeDelta(days, seconds, microseconds)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid {what} ({exc}), at byte {_off(r, start)}") from None


cdef object _read_datetime(Reader *r, const unsigned char *start):
    cdef int64_t year
    cdef uint64_t f[7]
    cdef int i
    cdef unsigned char kind
    _read_svarint(r, &year)
    for i in range(7):
        _read_uvarint(r, &f[i])
    if r.pos >= r.end:
        raise ValueError(f"truncated datetime: tz byte expected, input ended, at byte {_off(r, start)}")
    kind = r.pos[0]
    r.pos += 1
    tz = None
    if kind == TZ_FIXED:
        offset = _read_timedelta(r, start, "datetime offset")
        name = _read_str_item(r, "time zone name")
        try:
            tz = _TimeZone(offset, name) if name else _TimeZone(offset)
        except ValueError as exc:
            raise ValueError(f"invalid datetime offset ({exc}), at byte {_off(r, start)}") from None
    elif kind == TZ_ZONEINFO:
        key = _read_str_item(r, "time zone key")
        try:
            tz = _ZoneInfo(key)
        except Exception as exc:  # ZoneInfoNotFoundError is a KeyError; bad files are ValueError or OSError
            raise ValueError(
                f"unknown time zone key {key!r} ({type(exc).__name__}), at byte {_off(r, start)}") from None
    elif kind != TZ_NAIVE:
        raise ValueError(f"datetime tz byte must be 0, 1 or 2, got {kind}, at byte {_off(r, r.pos - 1)}")
    try:
        if INT_MIN <= year <= INT_MAX and f[0] <= INT_MAX and f[1] <= INT_MAX and f[2] <= INT_MAX \
                and f[3] <= INT_MAX and f[4] <= INT_MAX and f[5] <= INT_MAX and f[6] <= INT_MAX:
            return datetime_new(<int>year, <int>f[0], <int>f[1], <int>f[2], <int>f[3], <int>f[4],
                                <int>f[5], tz, <int>f[6])
        # the constructor's own OverflowError, for the message
        return _DateTime(year, f[0], f[1], f[2], f[3], f[4], f[5], tz, fold=f[6])
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid datetime ({exc}), at byte {_off(r, start)}") from None


cdef object _read_date(Reader *r, const unsigned char *start):
    cdef int64_t year
    cdef uint64_t month, day
    _read_svarint(r, &year)
    _read_uvarint(r, &month)
    _read_uvarint(r, &day)
    try:
        if INT_MIN <= year <= INT_MAX and month <= INT_MAX and day <= INT_MAX:
            return date_new(<int>year, <int>month, <int>day)
        return _Date(year, month, day)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid date ({exc}), at byte {_off(r, start)}") from None


cdef object _read_bigint(Reader *r, const unsigned char *start):
    cdef unsigned char sign
    cdef Py_ssize_t n
    if r.pos >= r.end:
        raise ValueError(f"truncated int: sign byte expected, input ended, at byte {_off(r, start)}")
    sign = r.pos[0]
    if sign > 1:
        raise ValueError(f"int sign byte must be 0 or 1, got {sign}, at byte {_off(r, r.pos)}")
    r.pos += 1
    n = _read_len(r, "int", start)
    if n == 0 or r.pos[n - 1] == 0:
        raise ValueError(f"non-canonical big int: empty or leading zero byte, at byte {_off(r, start)}")
    v = int.from_bytes(PyBytes_FromStringAndSize(<const char *>r.pos, n), "little")
    if sign:
        v = -v
    if -(1 << 63) <= v < (1 << 63):
        raise ValueError(f"non-canonical big int: {v} fits in tag 0x03, at byte {_off(r, start)}")
    r.pos += n
    return v


cdef object _read_decimal(Reader *r, const unsigned char *start):
    cdef Py_ssize_t n = _read_len(r, "Decimal", start)
    raw = PyBytes_FromStringAndSize(<const char *>r.pos, n)
    try:
        s = raw.decode("ascii")
        d = _Decimal(s)
    except (ValueError, ArithmeticError):
        d = None
    # Only str(d) is a valid payload: "1_0", " 1" or "nan" would parse but are not canonical.
    if d is None or _decimal_str(d) != s:
        raise ValueError(f"invalid Decimal string {raw[:40]!r}, at byte {_off(r, start)}")
    r.pos += n
    return d


cdef object _read_other(Reader *r, unsigned char tag, const unsigned char *start, object unpickler):
    """The payload of a scalar item whose tag is at start, past the common ones."""
    cdef Py_ssize_t n
    cdef uint64_t index
    if tag == T_BIGINT:
        value = _read_bigint(r, start)
        r.budget -= COST_BIGINT + 2 * (r.pos - start)
        return value
    if tag == T_DATETIME:
        value = _read_datetime(r, start)
        r.budget -= COST_DATETIME
        if type(datetime_tzinfo(value)) is _TimeZone:
            r.budget -= COST_TIMEZONE + (r.pos - start)
        return value
    if tag == T_DATE:
        r.budget -= COST_DATE
        return _read_date(r, start)
    if tag == T_TIMEDELTA:
        r.budget -= COST_TIMEDELTA
        return _read_timedelta(r, start, "timedelta")
    if tag == T_DECIMAL:
        value = _read_decimal(r, start)
        r.budget -= COST_DECIMAL + (r.pos - start)
        return value
    if tag == T_UUID:
        n = r.end - r.pos
        if n < 16:
            raise ValueError(f"truncated UUID: 16 bytes expected, {n} remain, at byte {_off(r, start)}")
        value = _UUID(bytes=PyBytes_FromStringAndSize(<const char *>r.pos, 16))
        r.pos += 16
        r.budget -= COST_UUID
        return value
    if tag == T_PICKLE_REF:
        if type(unpickler) is not list:
            if not unpickler:
                raise ValueError(f"{_PICKLE_REFUSED} (tag 0x7E at byte {_off(r, start)})")
            raise ValueError(f"pickle reference outside a snapshot frame, at byte {_off(r, start)}")
        _read_uvarint(r, &index)
        if index >= <uint64_t>len(<list>unpickler):
            raise ValueError(
                f"pickle reference {index} out of range: the frame has {len(<list>unpickler)}, at byte {_off(r, start)}")
        return (<list>unpickler)[<Py_ssize_t>index]
    if tag == T_PICKLE:
        if type(unpickler) is list:
            raise ValueError(f"pickle item inside a snapshot frame, at byte {_off(r, start)}")
        if not unpickler:
            raise ValueError(f"{_PICKLE_REFUSED} (tag 0x7F at byte {_off(r, start)})")
        n = _read_len(r, "pickle", start)
        data = PyBytes_FromStringAndSize(<const char *>r.pos, n)
        if unpickler is _Pickled:
            r.pos += n
            r.budget -= COST_PICKLED + (r.pos - start)
            return _Pickled(data)
        try:
            value = _pickle_loads(data)
        except Exception as exc:
            raise ValueError(
                f"invalid pickled value ({type(exc).__name__}: {exc}), at byte {_off(r, start)}") from exc
        r.pos += n
        return value
    raise ValueError(f"unknown tag 0x{tag:02X}, at byte {_off(r, start)}")


cdef int _unhashable(Reader *r, str what, object obj, const unsigned char *at) except -1:
    # The pending error is TypeError from hash(), or something a pickled
    # object's __hash__ raised, which passes through.
    if not PyErr_ExceptionMatches(TypeError):
        return -1
    PyErr_Clear()
    raise ValueError(f"unhashable {what} of type {type(obj).__qualname__}, at byte {_off(r, at)}")


cdef inline object _read_scalar(Reader *r, unsigned char tag, const unsigned char *start, object unpickler):
    """The payload of a non-container item whose tag (at start) was just read."""
    cdef unsigned char c
    cdef int64_t v
    cdef Py_ssize_t n
    cdef uint64_t u
    cdef double d
    cdef int i
    if tag == T_INT:
        if r.pos < r.end and r.pos[0] < 0x80:
            c = r.pos[0]
            r.pos += 1
            v = (c >> 1) ^ -<int64_t>(c & 1)
            if v < -5:
                r.budget -= 28
            return PyLong_FromLongLong(v)
        _read_svarint(r, &v)
        r.budget -= _cost_int(v)
        return PyLong_FromLongLong(v)
    if tag == T_STR:
        n = _read_len(r, "str", start)
        value = _read_utf8(r, n, start)
        if n > 1:
            r.budget -= COST_STR + n if PyUnicode_IS_ASCII(value) else COST_STR_WIDE + 4 * n
        return value
    if tag == T_FLOAT:
        n = r.end - r.pos
        if n < 8:
            raise ValueError(f"truncated float: 8 bytes expected, {n} remain, at byte {_off(r, start)}")
        u = 0
        for i in range(8):
            u |= (<uint64_t>r.pos[i]) << (8 * i)
        memcpy(&d, &u, 8)
        r.pos += 8
        r.budget -= COST_FLOAT
        return PyFloat_FromDouble(d)
    if tag == T_NONE:
        return None
    if tag == T_FALSE:
        return False
    if tag == T_TRUE:
        return True
    if tag == T_BYTES:
        n = _read_len(r, "bytes", start)
        r.pos += n
        if n > 1:
            r.budget -= COST_BYTES + n
        return PyBytes_FromStringAndSize(<const char *>r.pos - n, n)
    if tag == T_BYTEARRAY:
        n = _read_len(r, "bytearray", start)
        r.pos += n
        r.budget -= COST_BYTEARRAY + n
        return PyByteArray_FromStringAndSize(<const char *>r.pos - n, n)
    return _read_other(r, tag, start, unpickler)


# A container being filled. The decoder keeps these in an array rather than
# on the C stack: a thread with a small stack decodes MAX_DEPTH levels too.
ctypedef struct Frame:
    PyObject *obj                   # owned: the tuple, list, dict or set being filled
    PyObject *key                   # owned: a dict key waiting for its value, or NULL
    uint64_t due                    # items still to come (a dict's pairs count twice)
    Py_ssize_t index                # next slot of a tuple or list
    const unsigned char *start      # the container's tag
    const unsigned char *key_at     # the pending key's tag
    unsigned char tag

cdef void _free_frames(Frame *frames, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        _xdecref(frames[i].obj)
        _xdecref(frames[i].key)


cdef object _empty_container(unsigned char tag):
    if tag == T_TUPLE:
        return ()
    if tag == T_LIST:
        return []
    if tag == T_DICT:
        return {}
    if tag == T_SET:
        return set()
    return frozenset()


cdef object _decode_item(Reader *r, int depth, object unpickler):
    cdef Frame small[INLINE_FRAMES]
    cdef Frame *frames = small
    cdef Frame *grown
    cdef Frame *f
    cdef Py_ssize_t nframes = 0, cap = INLINE_FRAMES
    cdef const unsigned char *start
    cdef unsigned char tag
    cdef uint64_t count, due
    cdef Py_ssize_t left
    try:
        while True:
            start = r.pos
            if start >= r.end:
                if nframes:
                    f = &frames[nframes - 1]
                    raise ValueError(
                        f"truncated {_CONTAINER_NAMES[f.tag - T_TUPLE]}: {f.due} more items expected, "
                        f"input ended, at byte {_off(r, start)}")
                raise ValueError(f"empty input: an item expected, at byte {_off(r, start)}")
            tag = start[0]
            r.pos += 1
            if T_TUPLE <= tag <= T_FROZENSET:
                if depth + nframes >= C_MAX_DEPTH:
                    raise ValueError(f"value nested deeper than {MAX_DEPTH} levels, at byte {_off(r, start)}")
                _read_uvarint(r, &count)
                left = r.end - r.pos
                # Every item takes at least a byte: a count the input cannot
                # hold is refused before anything is allocated.
                if count > <uint64_t>left or (tag == T_DICT and 2 * count > <uint64_t>left):
                    raise ValueError(
                        f"truncated {_CONTAINER_NAMES[tag - T_TUPLE]}: {count} items declared "
                        f"but only {left} bytes remain, at byte {_off(r, start)}")
                r.budget -= _cost_container(tag, <Py_ssize_t>count)
                if r.budget < 0:    # before anything is allocated for it
                    raise _over_budget(r, start)
                if count:
                    if nframes == cap:
                        if frames == small:
                            grown = <Frame *>PyMem_Malloc(<size_t>(2 * cap) * sizeof(Frame))
                            if grown != NULL:
                                memcpy(grown, small, <size_t>cap * sizeof(Frame))
                        else:
                            grown = <Frame *>PyMem_Realloc(frames, <size_t>(2 * cap) * sizeof(Frame))
                        if grown == NULL:
                            raise MemoryError()
                        frames = grown
                        cap *= 2
                    if tag == T_TUPLE:
                        container = PyTuple_New(<Py_ssize_t>count)
                    elif tag == T_LIST:
                        container = PyList_New(<Py_ssize_t>count)
                    elif tag == T_DICT:
                        container = gdc_codec_dict_presized(<Py_ssize_t>count)
                    else:
                        container = set()
                    f = &frames[nframes]
                    f.obj = <PyObject *>container
                    _incref(f.obj)
                    f.key = NULL
                    f.due = 2 * count if tag == T_DICT else count
                    f.index = 0
                    f.start = start
                    f.key_at = NULL
                    f.tag = tag
                    nframes += 1
                    continue
                value = _empty_container(tag)
            else:
                value = _read_scalar(r, tag, start, unpickler)
                if r.budget < 0:
                    raise _over_budget(r, start)

            # Hand the finished item to the containers it completes, innermost first.
            while nframes:
                f = &frames[nframes - 1]
                tag = f.tag
                if tag == T_TUPLE:
                    Py_INCREF(value)
                    PyTuple_SET_ITEM(<object>f.obj, f.index, value)
                    f.index += 1
                elif tag == T_LIST:
                    Py_INCREF(value)
                    PyList_SET_ITEM(<object>f.obj, f.index, value)
                    f.index += 1
                elif tag == T_DICT:
                    if f.due & 1:
                        key = <object>f.key
                        _decref(f.key)
                        f.key = NULL
                        if PyDict_SetItem(<object>f.obj, key, value) < 0:
                            _unhashable(r, "dict key", key, f.key_at)
                    else:
                        f.key = <PyObject *>value
                        _incref(f.key)
                        f.key_at = start
                else:
                    if PySet_Add(<object>f.obj, value) < 0:
                        _unhashable(r, "set item", value, start)
                f.due -= 1
                if f.due:
                    break
                value = <object>f.obj
                _decref(f.obj)
                f.obj = NULL
                start = f.start
                nframes -= 1
                if tag == T_FROZENSET:
                    value = PyFrozenSet_New(value)   # from a set, as the Python twin does: same order
            else:
                return value
    finally:
        if nframes:
            _free_frames(frames, nframes)
        if frames != small:
            PyMem_Free(frames)


cdef object _decode_all(const unsigned char *data, Py_ssize_t n, object unpickler):
    cdef Reader r
    reader_init(&r, data, n)
    if not unpickler:   # untrusted: budgeted
        limit = min(_budget.budget_for(n), PY_SSIZE_T_MAX)
        r.budget = limit
        try:
            value = _decode_item(&r, 0, unpickler)
        except _DecodeBudgetError as exc:
            where = f"the item at byte {exc.offset}"
            msg = _budget_message("the value", n, limit, limit + exc.overdraft, where)
            raise _DecodeBudgetError(msg, exc.overdraft, exc.offset) from None
    else:
        value = _decode_item(&r, 0, unpickler)
    if r.pos != r.end:
        raise ValueError(f"trailing bytes: {r.end - r.pos} after the value, at byte {_off(&r, r.pos)}")
    return value


def decode(data, *, allow_pickle=False):
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
    cdef Py_buffer view
    if type(data) is bytes:
        return _decode_all(<const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                           True if allow_pickle else None)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, bytearray or memoryview, got {type(data).__qualname__}")
    if isinstance(data, memoryview) and not data.c_contiguous:
        data = bytes(data)
    # Holding the buffer pins a bytearray's size while pickle or ZoneInfo code runs.
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return _decode_all(<const unsigned char *>view.buf, view.len, True if allow_pickle else None)
    finally:
        PyBuffer_Release(&view)
