# cython: language_level=3, embedsignature=True, binding=False, freethreading_compatible=True
"""The compiled hash table: key, value and absolute expiry side by side in C.

Layout (like CPython's dict): a power-of-two index of uint32 slots, probed
linearly for a few slots and then in a sequence steered by every hash bit
(see _probe_next), pointing into a dense array of entries kept in insertion order.
An entry is {key, value, hash, expires}. A slot holds the entry number + 2 in
its low bits and a tag of hash bits in the bits the entry number leaves free,
so a probe that meets another key is rejected inside the index's cache line
without loading that key's entry: a hit costs one index line and one entry.

Invariants that keep the interpreter safe whatever the keys do:
- Python code (a key's __hash__/__eq__, a value's __del__) may run only where
  the table is consistent: every DECREF happens after the table is updated,
  and a lookup that called __eq__ checks that the table did not change under
  it, starting over if it did (another thread may have run meanwhile) and
  raising RuntimeError if it keeps changing.
- Resizing never calls Python code: hashes are stored.
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject, PyObject_RichCompareBool, Py_EQ
from cpython.float cimport PyFloat_CheckExact, PyFloat_AS_DOUBLE
from cpython.list cimport PyList_GET_ITEM
from cpython.long cimport PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_CheckExact
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport floor, isinf, isnan
from libc.stdint cimport INT64_MAX, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memset

from godistcache._core.clock cimport gdc_clock_resolution_ns, gdc_clock_uses_tsc, gdc_now_ns

import datetime as _datetime
import logging as _logging
import operator as _operator
import reprlib as _reprlib

_logger = _logging.getLogger("godistcache")


cdef extern from "Python.h":
    ctypedef int (*visitproc)(PyObject *, void *) noexcept
    ctypedef int (*traverseproc)(PyObject *, visitproc, void *) noexcept
    ctypedef int (*inquiry)(PyObject *) noexcept
    void _incref "Py_INCREF"(PyObject *o) noexcept
    void _decref "Py_DECREF"(PyObject *o) noexcept
    void _xdecref "Py_XDECREF"(PyObject *o) noexcept
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    Py_ssize_t PY_SSIZE_T_MAX

cdef extern from "Python.h":
    ctypedef struct PyMethodDef:
        pass
    object PyDescr_NewMethod(PyTypeObject *tp, PyMethodDef *meth)

cdef extern from "gdc.h":
    PyMethodDef *gdc_descr_method(object descr) noexcept
    Py_hash_t gdc_hash(object key) except? -1
    bint gdc_both_exact_str(PyObject *a, PyObject *b) noexcept
    bint gdc_str_eq(PyObject *a, PyObject *b) noexcept
    void *gdc_calloc(size_t nbytes) noexcept
    void *gdc_malloc(size_t nbytes) noexcept
    void gdc_free(void *p, size_t nbytes) noexcept
    void gdc_set_gc(PyTypeObject *tp, traverseproc trav, inquiry clear) noexcept
    traverseproc gdc_get_traverse(PyTypeObject *tp) noexcept
    inquiry gdc_get_clear(PyTypeObject *tp) noexcept
    uint64_t GDC_GOLDEN
    void gdc_prefetch(const void *p) noexcept nogil


cdef enum:
    MIN_SIZE = 8
    MIN_SHIFT = 61            # 64 - log2(MIN_SIZE)
    MIN_IDXMASK = 15          # entry + 2 <= MIN_SIZE + 1 fits in 4 bits
    LINEAR_PROBES = 16        # slots probed one after the other before the sequence jumps (see _probe_next)
    PERTURB_SHIFT = 5         # as CPython's dict
    SLOT_EMPTY = 0
    SLOT_DELETED = 1
    EQ_TABLE_CHANGED = 2
    MAX_LOOKUP_RESTARTS = 16
    POL_FREQ = 3              # an entry's policy byte: accesses since it was last looked at, 0 to 3...
    POL_MAIN = 4              # ...and whether it is in the main queue (else the small one)
    SMALL_SHARE = 20          # the small queue holds 1/20 of the entries
    SECOND_CHANCES = 64       # main entries one eviction may spare before it evicts regardless
    PURGE_SHARE = 4           # a full purge runs at most once per max_size/4 evicting stores

# What on_evict's third argument says.
EXPIRED = "expired"
EVICTED = "evicted"
DELETED = "deleted"
REPLACED = "replaced"
cdef object _EXPIRED = EXPIRED
cdef object _EVICTED = EVICTED
cdef object _DELETED = DELETED
cdef object _REPLACED = REPLACED
cdef Py_ssize_t _NO_PURGE_YET = PY_SSIZE_T_MAX // 2

cdef Py_ssize_t MAX_SIZE = (<Py_ssize_t>1) << 31   # uint32 slots hold entry + 2
#: Most instances a syncing table tells apart (origin ids it keeps).
MAX_ORIGINS = 1 << 16
#: A peer's stamp more than this far ahead of the local clock is refused (a clock gone wrong, or a forged
#: segment, would otherwise drag every instance's clock, and every later write's stamp, with it).
MAX_AHEAD_NS = 3600 * 1000000000
cdef int64_t _MAX_AHEAD_NS = MAX_AHEAD_NS

#: Longest TTL: 2**62 ns, about 146 years, so that now + ttl fits in int64.
MAX_TTL_NS = 1 << 62
cdef int64_t _MAX_TTL_NS = MAX_TTL_NS
cdef long long _MAX_TTL_S = MAX_TTL_NS // 1000000000

#: Resolution of the wall clock used for expiry, in nanoseconds.
CLOCK_RESOLUTION_NS = gdc_clock_resolution_ns()

# The index of an empty table: never written, because an empty table has no
# room (_usable == 0) and any insert resizes first. Lets clear() and a new
# table skip allocation entirely.
cdef uint32_t _EMPTY_INDEX[MIN_SIZE]

cdef object _NO_DEFAULT = object()   # pop's default when none was given

ctypedef struct _Snap:   # a live entry's objects, referenced, for Table._list
    PyObject *key
    PyObject *value
    int64_t expires
    int64_t written
    PyObject *origin

from godistcache._core._clock_py import timer_to_ns as _timer_to_ns

# A timer's reading in ns is an int64 (a put clamps now + ttl to INT64_MAX).
cdef double _TIMER_LIMIT = 9223372036854775808.0     # 2**63


cdef int64_t _timer_ns(Table t) except? -1:
    """The clock of a table with a timer: what the timer returns, as ns in its frame (see _clock_py)."""
    r = t._timer()
    cdef double d
    if PyFloat_CheckExact(r):
        d = PyFloat_AS_DOUBLE(r)
        if not isnan(d) and not isinf(d):
            d = floor(d * 1e9 + 0.5)     # nearest ns, as timer_to_ns
            if -_TIMER_LIMIT <= d < _TIMER_LIMIT:
                return <int64_t>d
    return _timer_to_ns(t._timer, r)     # ints, datetimes; raises for what is not a time


cdef inline int64_t _now(Table t) except? -1:
    # The clock expiry is decided by: the wall clock (Unix ns), or the table's timer. One pointer
    # compare when there is no timer; only a table with one calls Python.
    if t._timer is None:
        return gdc_now_ns()
    return _timer_ns(t)


def now_ns():
    """Return the wall clock: Unix time in nanoseconds (a table with a timer uses its timer instead)."""
    return gdc_now_ns()


def clock_uses_tsc():
    """True when the expiry clock is extrapolating the CPU time-stamp counter."""
    return gdc_clock_uses_tsc()


cdef inline uint64_t _mix(Py_hash_t h) noexcept nogil:
    # Fibonacci hashing spreads ints, whose hash is themselves, over the index.
    return <uint64_t>h * GDC_GOLDEN


cdef inline size_t _slot0(uint64_t m, int shift) noexcept nogil:
    # The first probe comes from the top bits of the mixed hash...
    return <size_t>(m >> shift)


cdef inline uint32_t _tag(uint64_t m, uint32_t idxmask) noexcept nogil:
    # ...and the tag from its low 32 bits, which the slot number never uses.
    return <uint32_t>m & ~idxmask


# The probe sequence. Every walker (lookup, insert, the slot of an entry,
# resize) follows this one sequence, or deleted slots and moved keys go astray.
#
# The first LINEAR_PROBES slots follow slot0 one after the other (16: a
# 64-byte cache line of uint32 slots). Nearly every lookup ends there, in one
# or two cache lines, and the hot loop in _lookup is plain linear probing's
# plus a count: at a load of 2/3 or less a run of 16 is rare, so a longer
# linear stretch costs less than the cache misses of earlier jumps.
#
# Linear probing alone let keys whose mixed hashes share their top bits
# (ints chosen by anyone: an int's hash is itself) pile into one cluster that
# every insert walked to its end: 20K such keys took 90x a dict. So after the
# linear slots the sequence is CPython dict's, i = 5 i + perturb + 1, with
# perturb the mixed hash shifted right 5 bits per step: the low bits, which
# slot0 does not use, come in at the first jump, all 64 within 13 jumps.
# m = hash * GOLDEN is a bijection, so two keys share the whole sequence only
# when their hashes are equal (which costs a dict as much), and sharing the
# first t jumps means sharing about 2 log2(size) + 5 (t - 1) bits of m: a
# crafted crowd thins out within a few jumps, and a lookup costs at most the
# linear slots more than a dict's. Once perturb is 0 the step is a
# full-period LCG (5 - 1 is a multiple of 4, 1 is odd), so every walk reaches
# an empty slot, of which the index always has one.
#
# No per-process random seed: it cannot separate equal hashes (the only
# sequences still shared), and a fixed mix keeps runs reproducible and the
# ghosts (which use m too) of both cores alike.

cdef struct Probe:
    size_t i           # the slot to look at
    size_t mask        # index size - 1
    uint64_t perturb   # hash bits not yet folded in
    int linear         # linear steps left


cdef inline void _probe_start(Probe *p, uint64_t m, int shift, size_t mask) noexcept nogil:
    p.i = _slot0(m, shift)
    p.mask = mask
    p.perturb = m
    p.linear = LINEAR_PROBES - 1


cdef inline void _probe_next(Probe *p) noexcept nogil:
    if p.linear > 0:
        p.linear -= 1
        p.i = (p.i + 1) & p.mask
    else:
        p.i = (p.i * 5 + <size_t>p.perturb + 1) & p.mask
        p.perturb >>= PERTURB_SHIFT


# --- TTL normalisation -------------------------------------------------------

cdef int64_t _float_ttl_ns(double d, object ttl) except -1:
    if isnan(d):
        raise ValueError(f"ttl must be a number of seconds, got {ttl!r}")
    if d < 0:
        raise ValueError(f"ttl must be >= 0, got {ttl!r}")
    if d == 0 or isinf(d):
        return 0
    d = floor(d * 1e9 + 0.5)       # nearest ns: 1.001 s is 1_001_000_000 ns, not ..._999
    if d >= <double>_MAX_TTL_NS:
        raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
    cdef int64_t ns = <int64_t>d
    return ns if ns > 0 else 1


cdef int64_t _int_ttl_ns(object ttl) except -1:
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(ttl, &overflow)
    if overflow < 0 or (overflow == 0 and v < 0):
        raise ValueError(f"ttl must be >= 0, got {ttl!r}")
    if overflow > 0 or v > _MAX_TTL_S:
        raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
    return v * 1000000000


cdef int64_t _ttl_ns_slow(object ttl) except -1:
    if isinstance(ttl, bool):
        raise TypeError("ttl must be seconds (int or float) or a timedelta, got bool")
    if isinstance(ttl, float):
        return _float_ttl_ns(PyFloat_AS_DOUBLE(ttl), ttl)
    if isinstance(ttl, int):
        return _int_ttl_ns(int(ttl))
    if isinstance(ttl, _datetime.timedelta):
        ns = (ttl.days * 86400 + ttl.seconds) * 1000000000 + ttl.microseconds * 1000
        if ns < 0:
            raise ValueError(f"ttl must be >= 0, got {ttl!r}")
        if ns >= _MAX_TTL_NS:
            raise ValueError(f"ttl must be at most {_MAX_TTL_S} seconds, got {ttl!r}")
        return ns
    if not isinstance(ttl, (str, bytes, bytearray, complex)):  # complex has a __float__ that raises on 3.9
        tp = type(ttl)
        if hasattr(tp, "__index__"):
            return _int_ttl_ns(_operator.index(ttl))
        if hasattr(tp, "__float__"):
            return _float_ttl_ns(float(ttl), ttl)
    raise TypeError(
        f"ttl must be seconds (int or float) or a timedelta, got {type(ttl).__name__}")


cdef inline int64_t _ttl_ns(object ttl) except -1:
    if PyFloat_CheckExact(ttl):
        return _float_ttl_ns(PyFloat_AS_DOUBLE(ttl), ttl)
    if PyLong_CheckExact(ttl):
        return _int_ttl_ns(ttl)
    return _ttl_ns_slow(ttl)


from godistcache._core._ttl_py import expire_at_to_ns as _expire_at_to_ns


def ttl_to_ns(ttl):
    """Normalise a TTL (seconds as int/float, or a timedelta) to nanoseconds; 0 means never."""
    return _ttl_ns(ttl)


cdef Py_ssize_t _lookup_slow(Table t, object key, Py_hash_t h, Py_ssize_t *free_slot) except -2:
    """_lookup once an equal hash needs __eq__.

    Walks the whole probe sequence from its start, compares, and starts over
    if the table changes under a comparison.
    """
    cdef uint64_t m = _mix(h)
    cdef Probe p
    cdef uint32_t idxmask, tag, v, low
    cdef Py_ssize_t first_deleted
    cdef Entry *ep
    cdef int attempt, eq
    for attempt in range(MAX_LOOKUP_RESTARTS):
        _probe_start(&p, m, t._shift, <size_t>t._size - 1)
        idxmask = t._idxmask
        tag = _tag(m, idxmask)
        first_deleted = -1
        while True:
            v = t._index[p.i]
            low = v & idxmask
            if low == SLOT_EMPTY:
                if free_slot != NULL:
                    free_slot[0] = first_deleted if first_deleted >= 0 else <Py_ssize_t>p.i
                return -1
            if low == SLOT_DELETED:
                if first_deleted < 0:
                    first_deleted = <Py_ssize_t>p.i
            elif (v ^ tag) <= idxmask:
                ep = &t._entries[low - 2]
                if ep.key == <PyObject *>key:
                    return <Py_ssize_t>p.i
                if ep.hash == h:
                    eq = t._eq_slow(ep, key)
                    if eq == 1:
                        return <Py_ssize_t>p.i
                    if eq == EQ_TABLE_CHANGED:
                        break       # the probe sequence is stale: start over
            _probe_next(&p)
    raise RuntimeError(
        f"cache changed during every one of {MAX_LOOKUP_RESTARTS} attempts to compare keys "
        "(a key's __eq__ that modifies the cache?)")


cdef Py_ssize_t _lookup_far(Table t, object key, Py_hash_t h, Py_ssize_t *free_slot,
                            size_t last, Py_ssize_t first_deleted) except -2:
    """_lookup past the linear slots (last: the last of them), out of line to keep _lookup small."""
    cdef uint64_t m = _mix(h)
    cdef Probe p
    cdef uint32_t idxmask = t._idxmask
    cdef uint32_t tag = _tag(m, idxmask)
    cdef uint32_t v, low
    cdef Entry *ep
    _probe_start(&p, m, t._shift, <size_t>t._size - 1)
    p.i = last
    p.linear = 0
    while True:
        _probe_next(&p)
        v = t._index[p.i]
        low = v & idxmask
        if low == SLOT_EMPTY:
            if free_slot != NULL:
                free_slot[0] = first_deleted if first_deleted >= 0 else <Py_ssize_t>p.i
            return -1
        if low == SLOT_DELETED:
            if first_deleted < 0:
                first_deleted = <Py_ssize_t>p.i
        elif (v ^ tag) <= idxmask:
            ep = &t._entries[low - 2]
            if ep.key == <PyObject *>key:
                return <Py_ssize_t>p.i
            if ep.hash == h:
                return _lookup_slow(t, key, h, free_slot)


# The hot paths are inline module functions, not methods: Cython calls a cdef
# method of a subclassable type through its vtable, which the C compiler
# cannot inline.

cdef inline Py_ssize_t _lookup(Table t, object key, Py_hash_t h, Py_ssize_t *free_slot) except -2:
    """Index slot holding key, or -1; *free_slot gets where key would go.

    The common path, small enough to inline: it walks the linear slots of the
    probe sequence and settles every probe that needs no __eq__ (the very key
    object, or another tag); the first probe that does hands the whole lookup
    to _lookup_slow (two exact str are compared here: that runs no Python
    code), and the end of the linear slots hands the rest of the sequence to
    _lookup_far.
    """
    cdef uint64_t m = _mix(h)
    cdef size_t mask = <size_t>t._size - 1
    cdef size_t i = _slot0(m, t._shift)
    cdef uint32_t idxmask = t._idxmask
    cdef uint32_t tag = _tag(m, idxmask)
    cdef Py_ssize_t first_deleted = -1
    cdef uint32_t v, low
    cdef Entry *ep
    cdef int n
    for n in range(LINEAR_PROBES):      # the sequence's linear slots: see _probe_next
        v = t._index[i]
        low = v & idxmask
        if low == SLOT_EMPTY:
            if free_slot != NULL:
                free_slot[0] = first_deleted if first_deleted >= 0 else <Py_ssize_t>i
            return -1
        if low == SLOT_DELETED:
            if first_deleted < 0:
                first_deleted = <Py_ssize_t>i
        elif (v ^ tag) <= idxmask:
            ep = &t._entries[low - 2]
            if ep.key == <PyObject *>key:
                return <Py_ssize_t>i
            if ep.hash == h:
                if not gdc_both_exact_str(ep.key, <PyObject *>key):
                    return _lookup_slow(t, key, h, free_slot)
                if gdc_str_eq(ep.key, <PyObject *>key):     # an equal str, another object: no Python code
                    return <Py_ssize_t>i
        i = (i + 1) & mask
    return _lookup_far(t, key, h, free_slot, (i - 1) & mask, first_deleted)


cdef inline Entry *_entry_at(Table t, Py_ssize_t slot) noexcept:
    return &t._entries[(t._index[slot] & t._idxmask) - 2]


cdef inline Py_ssize_t _find_live(Table t, object key) except -2:
    """Entry index of a live key, or -1; frees the entry if it has expired."""
    cdef int64_t now = 0
    if t._timer is not None:
        now = _timer_ns(t)     # Python code: before the lookup, whose slot it could invalidate
    cdef Py_hash_t h = gdc_hash(key)
    return _live_at(t, _lookup(t, key, h, NULL), now)


cdef inline Py_ssize_t _live_at(Table t, Py_ssize_t slot, int64_t now) except -2:
    """Entry index of the entry at index slot (-1: none) if live, else -1; frees the entry if it has expired.

    now: the timer's reading, taken before the lookup that found slot (unused without a timer).
    """
    if slot < 0:
        return -1
    cdef Entry *ep = _entry_at(t, slot)
    if ep.expires != 0 and ep.expires <= (gdc_now_ns() if t._timer is None else now):
        t._expired += 1
        t._drop_slot(slot, _EXPIRED)
        return -1
    return ep - t._entries


cdef inline void _touch(Table t, Py_ssize_t ix) noexcept:
    # A read or an overwrite of a bounded table's entry: one more access, up to 3.
    cdef uint8_t p = t._pol[ix]
    if (p & POL_FREQ) != POL_FREQ:
        t._pol[ix] = p + 1


cdef inline int64_t _stamp(Table t, int64_t written, int64_t now) noexcept:
    # The stamp of a write: given (a merge or a load: it advances the clock), or the hybrid logical
    # clock's next, the wall clock unless that is not past the latest stamp given or seen. A write
    # time is the table's clock (a timer's reading when it has one: snapshots keep it in that frame,
    # and a timer table read it before storing); a sync stamp is always wall time.
    if not t._sync:
        if written >= 0:
            return written
        return now if now or t._timer is not None else gdc_now_ns()
    if written >= 0:
        if written > t._hlc:
            t._hlc = written
        return written
    cdef int64_t s = (now if now and t._timer is None else gdc_now_ns()) + t._skew
    if s <= t._hlc:
        s = t._hlc + 1
    t._hlc = s
    return s


cdef inline int _put(Table self, object key, object value, int64_t ttl_ns) except -1:
    cdef int64_t now
    if ttl_ns:
        now = _now(self)
        if now > INT64_MAX - ttl_ns:    # only a timer reads that late
            return _store(self, key, value, INT64_MAX, now)
        return _store(self, key, value, now + ttl_ns, now)
    return _store(self, key, value, 0, 0)

cdef inline int _store(Table self, object key, object value, int64_t expires, int64_t now,
                       int64_t written=-1, uint32_t origin=0) except -1:
    """Store key with an absolute expiry (0: never); now is the clock, or 0 if not read yet.

    A table that tracks write times records written as the entry's (-1: now),
    before any reference is released: a finaliser may change the table; a
    syncing table records origin (0: written here; else a peer's, merged).
    A bounded or listened table ends in _store_tail, which evicts to fit and
    notifies.
    """
    cdef int64_t w = 0
    if now == 0 and self._timer is not None:
        # Python code that may raise: read before the lookup and before the table changes, not when evicting.
        now = _timer_ns(self)
    if self._slow:    # one flag read on an unbounded table
        if self._max_size == 0:
            return _store_nothing(self, key, value)
        if self._weigher is not None:
            w = self._weigh(key, value)     # Python code: before the table is looked at
    cdef Py_hash_t h = gdc_hash(key)
    if self._slow and self._ghost_buckets != 0:
        # A new key looks for its ghost once stored (_policy_insert): fetch the bucket during the lookup.
        gdc_prefetch(&self._ghost[4 * <size_t>((_mix(h) >> 32) & <uint64_t>(self._ghost_buckets - 1))])
    cdef Py_ssize_t free_slot = -1
    cdef Py_ssize_t slot = _lookup(self, key, h, &free_slot)
    cdef Py_ssize_t ix
    cdef Entry *ep
    cdef PyObject *old_key = NULL
    cdef PyObject *old_value = NULL
    cdef PyObject *k1
    cdef PyObject *v1
    if slot >= 0:
        ep = _entry_at(self, slot)
        if ep.expires != 0 and ep.expires <= (now if now or self._timer is not None else gdc_now_ns()):
            # An expired entry is gone: the key comes back as a new one, at the end.
            old_key = ep.key
            old_value = ep.value
            self._expired += 1
            self._unlink_slot(slot)
            free_slot = slot
        else:
            old_value = ep.value
            _incref(<PyObject *>value)
            ep.value = <PyObject *>value
            ep.expires = expires
            self._puts += 1
            if expires != 0 and expires < self._min_expires:
                self._min_expires = expires
            ix = ep - self._entries
            self._last_ix = ix
            if self._written != NULL:
                self._written[ix] = _stamp(self, written, now)
                if self._origin != NULL:
                    self._origin[ix] = origin
            if self._slow:
                if self._pol != NULL:
                    _touch(self, ix)
                    if self._weights != NULL:
                        self._weight += w - self._weights[ix]
                        self._weights[ix] = w
                old_key = ep.key
                _incref(old_key)
                return _store_tail(self, ix, old_key, old_value, _REPLACED, now)
            _decref(old_value)
            return 0
    if self._nentries >= self._usable:
        try:
            self._resize(self._used * 3)
        except BaseException:
            _xdecref(old_key)
            _xdecref(old_value)
            raise
        free_slot = self._find_free(h)
    ep = &self._entries[self._nentries]
    _incref(<PyObject *>key)
    _incref(<PyObject *>value)
    ep.key = <PyObject *>key
    ep.value = <PyObject *>value
    ep.hash = h
    ep.expires = expires
    self._puts += 1
    if self._written != NULL:
        self._written[self._nentries] = _stamp(self, written, now)
        if self._origin != NULL:
            self._origin[self._nentries] = origin
    self._index[free_slot] = <uint32_t>(self._nentries + 2) | _tag(_mix(h), self._idxmask)
    ix = self._nentries
    self._last_ix = ix
    self._nentries += 1
    self._used += 1
    self._version += 1
    if expires != 0 and expires < self._min_expires:
        self._min_expires = expires
    if self._slow:
        if self._pol != NULL:
            if self._weights != NULL:
                self._weights[ix] = w
                self._weight += w
            Table._policy_insert(self, ix, h)
            if (self._used > self._max_size and self._on_evict is None and self._weights == NULL
                    and _evict_quiet(self, ix, now if now or self._timer is not None else gdc_now_ns(), &k1, &v1)):
                # The common store into a full table: one entry out and nobody to tell, without _store_tail's
                # generality; the references go in the order _store_tail releases them.
                _xdecref(old_key)
                _xdecref(old_value)
                _decref(k1)
                _decref(v1)
                return 0
        return _store_tail(self, ix, old_key, old_value, _EXPIRED, now)
    _xdecref(old_key)
    _xdecref(old_value)
    return 0


cdef int _store_nothing(Table self, object key, object value) except -1:
    """A store into a table of max_size 0: nothing is kept; the entry counts as evicted, and on_evict hears of it."""
    gdc_hash(key)       # an unhashable key is refused, as by any table
    self._evicted += 1
    if self._on_evict is not None:
        self._notify(key, value, _EVICTED)
    return 0


cdef int _store_tail(Table self, Py_ssize_t ix, PyObject *old_key, PyObject *old_value,
                     object cause, int64_t now) except -1:
    """The end of a store into a bounded or listened table, which now holds entry ix.

    Evicts until the table fits its bounds (never entry ix), then, with the
    table consistent, tells the listener what left it (old_key/old_value,
    owned references or NULL, left for cause) and releases it all. now is
    the clock, or 0 if not read yet.
    """
    cdef PyObject *k1 = NULL
    cdef PyObject *v1 = NULL
    cdef int evicted1 = 0
    grave = None
    try:
        if self._bounded and (self._used > self._max_size or self._weight > self._max_weight):
            grave = self._make_room(ix, now if now or self._timer is not None else gdc_now_ns(), &k1, &v1, &evicted1)
        if self._on_evict is not None:
            if old_value != NULL:
                self._notify(<object>old_key, <object>old_value, cause)
            if k1 != NULL:
                self._notify(<object>k1, <object>v1, _EVICTED if evicted1 else _EXPIRED)
            if grave is not None:
                self._deliver(grave)
    finally:
        _xdecref(old_key)
        _xdecref(old_value)
        _xdecref(k1)
        _xdecref(v1)
    return 0


cdef bint _evict_quiet(Table t, Py_ssize_t protect, int64_t now, PyObject **k, PyObject **v) noexcept:
    """_make_room's work when it is one eviction and no purge: unlink one entry, its references to *k, *v.

    For a table bounded by entries alone, over its bound by one. Returns False, having changed nothing,
    when that is not the case, a purge is due or no entry can go: the caller then takes the general path.
    The usual victim, the small queue's oldest entry when it was never accessed, is found and unlinked
    here in line; any other goes through _pick_victim and _take_victim.
    """
    if t._used - 1 != t._max_size or (now >= t._min_expires and t._since_purge >= max(t._max_size // PURGE_SHARE, 1)):
        return False
    cdef Py_ssize_t i = t._small_hand, n = t._nentries
    cdef Entry *entries = t._entries
    cdef uint8_t *pol = t._pol
    cdef Entry *ep
    cdef Probe p
    cdef uint64_t m
    cdef uint32_t fp
    cdef uint32_t *b
    if t._nsmall > 0 and t._nsmall * SMALL_SHARE >= t._max_size:
        # _small_victim's first steps: the hand passes entries gone or in the main queue
        while i < n and (entries[i].key == NULL or (pol[i] & POL_MAIN)):
            i += 1
        t._small_hand = i
        if i < n and i != protect and pol[i] == 0:
            ep = &entries[i]
            k[0] = ep.key
            v[0] = ep.value
            m = _mix(ep.hash)
            _probe_start(&p, m, t._shift, <size_t>t._size - 1)
            while (t._index[p.i] & t._idxmask) != <uint32_t>(i + 2):
                _probe_next(&p)
            t._index[p.i] = SLOT_DELETED
            ep.key = NULL
            ep.value = NULL
            t._used -= 1
            t._nsmall -= 1
            t._since_purge += 1
            if ep.expires != 0 and ep.expires <= now:
                t._expired += 1
                return True
            t._evicted += 1
            t._version += 1
            if t._ghost_buckets == 0:
                Table._ghost_add(t, ep.hash)
                return True
            # _ghost_add's work
            fp = _fingerprint(m)
            b = &t._ghost[4 * <size_t>((m >> 32) & <uint64_t>(t._ghost_buckets - 1))]
            if b[0] != fp and b[1] != fp and b[2] != fp and b[3] != fp:
                if b[0] == 0:
                    b[0] = fp
                elif b[1] == 0:
                    b[1] = fp
                elif b[2] == 0:
                    b[2] = fp
                elif b[3] == 0:
                    b[3] = fp
                else:
                    b[t._ghost_ctr & 3] = fp
                    t._ghost_ctr += 1
            # The next store's victim is most likely the next entry: start fetching what evicting it reads
            # (its index slot, its ghost bucket, its key), which a large table keeps in no cache.
            i += 1
            if i < n and entries[i].key != NULL:
                m = _mix(entries[i].hash)
                gdc_prefetch(&t._index[_slot0(m, t._shift)])
                gdc_prefetch(&t._ghost[4 * <size_t>((m >> 32) & <uint64_t>(t._ghost_buckets - 1))])
                gdc_prefetch(entries[i].key)
            return True
    i = _pick_victim(t, protect, now)
    if i < 0:
        return False
    t._since_purge += 1
    _take_victim(t, i, now, k, v)
    return True


cdef inline Py_ssize_t _pick_victim(Table t, Py_ssize_t protect, int64_t now) noexcept:
    """The entry S3-FIFO frees next (never protect): the small queue's while it is large enough; -1: none."""
    cdef Py_ssize_t ix = -1
    cdef Py_ssize_t cap = t._max_size if t._max_size != PY_SSIZE_T_MAX else t._used
    if t._nsmall > 0 and (t._nsmall * SMALL_SHARE >= cap or t._nsmall == t._used):
        ix = Table._small_victim(t, protect, now)
    if ix < 0:
        ix = Table._main_victim(t, protect, now)
        if ix < 0:
            ix = Table._small_victim(t, protect, now)
    return ix


cdef inline int _take_victim(Table t, Py_ssize_t ix, int64_t now, PyObject **k, PyObject **v) noexcept:
    """Unlink entry ix, handing its references to *k and *v; 1 when evicted, 0 when it had expired."""
    cdef Entry *ep = &t._entries[ix]
    cdef bint expired = ep.expires != 0 and ep.expires <= now
    cdef bint small = not (t._pol[ix] & POL_MAIN)
    cdef Py_hash_t h = ep.hash
    k[0] = ep.key
    v[0] = ep.value
    Table._unlink_slot(t, Table._slot_of_entry(t, ix))
    if expired:
        t._expired += 1
        return 0
    t._evicted += 1
    t._version += 1
    if small:
        Table._ghost_add(t, h)
    return 1


cdef inline uint32_t _fingerprint(uint64_t m) noexcept nogil:
    # The ghost's bucket comes from bits 32 and up of the mixed hash, its fingerprint from the rest.
    cdef uint32_t fp = <uint32_t>m
    return fp if fp != 0 else 1


def _bound_arg(name, value, limit, unbounded, minimum=1):
    """A bound argument checked: an int from minimum to limit - 1, or None for unbounded."""
    if value is None:
        return unbounded
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    n = _operator.index(value)
    if n < minimum or n >= limit:
        raise ValueError(f"{name} must be between {minimum} and {limit - 1}, got {value!r}")
    return n


# --- the table ---------------------------------------------------------------

cdef class Table:
    """Hash table with a per-entry absolute expiry, compared in C on every read."""

    def __cinit__(self, *args, **kwargs):
        self._ghost = NULL
        self._set_empty()
        self._default_ttl_ns = 0
        self._version = 0
        self._default_ttl = 0.0
        self._written = NULL
        self._track = False
        self._moves = 0
        self._sync = False
        self._origin = NULL
        self._hlc = 0
        self._skew = 0
        self._floor = 0
        self._floor_origin = 0
        self._hits = 0
        self._misses = 0
        self._puts = 0
        self._deletes = 0
        self._expired = 0
        self._sweep_pos = 0
        self._bounded = False
        self._slow = False
        self._pol = NULL
        self._weights = NULL
        self._ghost_buckets = 0
        self._max_size = PY_SSIZE_T_MAX
        self._max_weight = INT64_MAX
        self._evicted = 0
        self._timer = None

    @cython.critical_section
    def __init__(self, default_ttl=0, *, timer=None):
        self.default_ttl = default_ttl
        self._set_timer(timer)

    def _set_timer(self, timer):
        """Decide expiry by timer (see :attr:`timer`), or by the wall clock with None."""
        if timer is not None and not callable(timer):
            raise TypeError(f"timer must be a callable or None, got {type(timer).__name__}")
        self._timer = timer

    @property
    def timer(self):
        """The callable that gives this table the time for every expiry decision, or None: Unix time."""
        return self._timer

    def _now_ns(self):
        """This table's clock in ns: Unix time, or the timer's reading in the timer's frame."""
        return _now(self)

    def __dealloc__(self):
        self._clear_all()
        self._drop_ghost()

    cdef void _set_empty(self) noexcept:
        """The state of an empty table, with no arrays but the ghosts (which it clears)."""
        self._entries = NULL
        self._index = _EMPTY_INDEX
        self._size = MIN_SIZE
        self._shift = MIN_SHIFT
        self._idxmask = MIN_IDXMASK
        self._usable = 0
        self._nentries = 0
        self._used = 0
        self._min_expires = INT64_MAX
        self._weight = 0
        self._nsmall = 0
        self._small_hand = 0
        self._main_hand = 0
        self._since_purge = _NO_PURGE_YET
        if self._ghost != NULL:
            memset(self._ghost, 0, <size_t>self._ghost_buckets * 4 * sizeof(uint32_t))
        self._ghost_ctr = 0

    cdef void _drop_ghost(self) noexcept:
        if self._ghost != NULL:
            gdc_free(self._ghost, <size_t>self._ghost_buckets * 4 * sizeof(uint32_t))
            self._ghost = NULL
            self._ghost_buckets = 0

    @property
    @cython.critical_section
    def default_ttl(self):
        """TTL in seconds given to entries put without one; 0.0 means they never expire."""
        return self._default_ttl

    @default_ttl.setter
    @cython.critical_section
    def default_ttl(self, value):
        self._set_default_ttl_ns(0 if value is None else _ttl_ns(value))

    @cython.critical_section
    def _set_default_ttl_ns(self, ns):
        """Set the default TTL in nanoseconds (0: never); copies use it to lose nothing."""
        if ns < 0 or ns > _MAX_TTL_NS:
            raise ValueError(f"ns must be between 0 and {_MAX_TTL_NS}, got {ns!r}")
        self._default_ttl_ns = ns
        self._default_ttl = ns / 1e9

    # -- lookup ------------------------------------------------------------

    cdef int _eq_slow(self, Entry *ep, object key) except -1:
        """1 equal, 0 not, EQ_TABLE_CHANGED when __eq__ changed the table under us."""
        cdef PyObject *startkey = ep.key
        if gdc_both_exact_str(startkey, <PyObject *>key):
            return gdc_str_eq(startkey, <PyObject *>key)
        cdef Entry *entries = self._entries
        cdef uint64_t version = self._version
        cdef object stored = <object>startkey   # keeps the key alive through __eq__
        cdef int r = PyObject_RichCompareBool(stored, key, Py_EQ)
        # __eq__ may run Python code, which may switch threads: like dict, look
        # again when the table changed; ep may point into freed memory by now.
        if self._entries != entries or self._version != version or ep.key != startkey:
            return EQ_TABLE_CHANGED
        return r

    @cython.critical_section
    def _probe_count(self, h):
        """Index slots a lookup of hash h visits before it meets an entry of hash h or an empty slot.

        A test hook: it walks the probe sequence every lookup walks, so a test
        can count probes where timing would be noise. Costs the hot path nothing.
        """
        cdef Py_hash_t hh = h
        cdef Probe p
        cdef uint32_t low
        cdef Py_ssize_t n = 1
        _probe_start(&p, _mix(hh), self._shift, <size_t>self._size - 1)
        while True:
            low = self._index[p.i] & self._idxmask
            if low == SLOT_EMPTY or (low != SLOT_DELETED and self._entries[low - 2].hash == hh):
                return n
            _probe_next(&p)
            n += 1

    cdef Py_ssize_t _slot_of_entry(self, Py_ssize_t ix) noexcept:
        cdef Probe p
        _probe_start(&p, _mix(self._entries[ix].hash), self._shift, <size_t>self._size - 1)
        while (self._index[p.i] & self._idxmask) != <uint32_t>(ix + 2):
            _probe_next(&p)
        return <Py_ssize_t>p.i

    cdef void _unlink_slot(self, Py_ssize_t slot) noexcept:
        """Remove the entry at slot; the caller owns its key and value references."""
        cdef Entry *ep = _entry_at(self, slot)
        cdef Py_ssize_t ix
        if self._pol != NULL:
            ix = ep - self._entries
            if not (self._pol[ix] & POL_MAIN):
                self._nsmall -= 1
            if self._weights != NULL:
                self._weight -= self._weights[ix]
        self._index[slot] = SLOT_DELETED
        ep.key = NULL
        ep.value = NULL
        self._used -= 1

    cdef int _drop_slot(self, Py_ssize_t slot, object cause) except -1:
        """Remove the entry at slot, tell the listener it left for cause, release it."""
        cdef Entry *ep = _entry_at(self, slot)
        cdef PyObject *k = ep.key
        cdef PyObject *v = ep.value
        self._unlink_slot(slot)
        if self._on_evict is not None:
            try:
                self._notify(<object>k, <object>v, cause)
            finally:
                _decref(k)
                _decref(v)
            return 0
        _decref(k)
        _decref(v)
        return 0

    # -- the listener ------------------------------------------------------------

    cdef int _notify(self, object key, object value, object cause) except -1:
        """Call on_evict(key, value, cause); an exception it raises is logged, not raised."""
        listener = self._on_evict
        if listener is None:
            return 0
        try:
            listener(key, value, cause)
        except Exception:
            _logger.exception("on_evict listener %r raised for an entry that left the cache (%s); "
                              "the cache is not affected", listener, cause)
        return 0

    cdef int _deliver(self, list grave) except -1:
        """Notify the listener of each (key, value, cause) triple in grave, in order."""
        cdef Py_ssize_t i
        for i in range(0, len(grave) - 2, 3):
            self._notify(grave[i], grave[i + 1], grave[i + 2])
        return 0

    # -- the size bound: S3-FIFO --------------------------------------------------
    #
    # Entries sit in _entries in insertion order, and that order is the queue
    # order: a new key goes to the small queue (its policy byte 0), or to the
    # main queue when its fingerprint is among the ghosts (keys recently
    # evicted from the small queue). Reads and overwrites count accesses, up
    # to 3, in the policy byte. To evict, the small queue is served first while
    # it holds 1/20 of the entries or more: its oldest entry moves to the main
    # queue if it was accessed, else is evicted and becomes a ghost. The main
    # queue is a clock: its hand spares an accessed entry (one access fewer),
    # and evicts the first one with none, or after SECOND_CHANCES spared, the
    # next one. Whichever queue is scanned, an expired entry met is freed
    # instead. Entries stay where they are: queue moves are bits, and a resize
    # keeps the order, so the policy needs no links.

    cdef int64_t _weigh(self, object key, object value) except -1:
        w = self._weigher(key, value)
        if isinstance(w, bool) or not isinstance(w, int):
            raise TypeError(f"weigher must return an int, got {type(w).__name__} for key {_reprlib.repr(key)}")
        if w < 0:
            raise ValueError(f"weigher returned {w} for key {_reprlib.repr(key)}: weights must be >= 0")
        if w > self._max_weight:
            raise ValueError(f"key {_reprlib.repr(key)} weighs {w}, more than max_weight={self._max_weight}: "
                             "it can't be stored")
        return w

    cdef int _policy_insert(self, Py_ssize_t ix, Py_hash_t h) noexcept:
        if self._ghost_buckets != 0 and Table._ghost_take(self, h):
            self._pol[ix] = POL_MAIN
        else:
            self._pol[ix] = 0
            self._nsmall += 1
        return 0

    cdef int _ghost_add(self, Py_hash_t h) noexcept:
        """Remember h's fingerprint; a full bucket gives up a slot chosen round-robin."""
        cdef Py_ssize_t want, slots = 64
        if self._ghost_buckets == 0:
            want = self._max_size if self._max_size != PY_SSIZE_T_MAX else self._used
            while slots < want // 2:
                slots <<= 1
            self._ghost = <uint32_t *>gdc_calloc(<size_t>slots * sizeof(uint32_t))
            if self._ghost == NULL:
                return 0        # no ghosts: new keys all start in the small queue
            self._ghost_buckets = slots // 4
        cdef uint64_t m = _mix(h)
        cdef uint32_t fp = _fingerprint(m)
        cdef uint32_t *b = &self._ghost[4 * <size_t>((m >> 32) & <uint64_t>(self._ghost_buckets - 1))]
        cdef int j
        for j in range(4):
            if b[j] == fp:
                return 0
        for j in range(4):
            if b[j] == 0:
                b[j] = fp
                return 0
        b[self._ghost_ctr & 3] = fp
        self._ghost_ctr += 1
        return 0

    cdef bint _ghost_take(self, Py_hash_t h) noexcept:
        cdef uint64_t m = _mix(h)
        cdef uint32_t fp = _fingerprint(m)
        cdef uint32_t *b = &self._ghost[4 * <size_t>((m >> 32) & <uint64_t>(self._ghost_buckets - 1))]
        cdef int j
        for j in range(4):
            if b[j] == fp:
                b[j] = 0
                return True
        return False

    cdef Py_ssize_t _small_victim(self, Py_ssize_t protect, int64_t now) noexcept:
        """The small queue's entry to free (expired, or not accessed), promoting accessed ones; -1: none."""
        cdef Py_ssize_t i = self._small_hand
        cdef bint advancing = True      # the hand never passes an entry still in the small queue
        cdef Entry *ep
        cdef uint8_t p
        while i < self._nentries:
            ep = &self._entries[i]
            p = self._pol[i]
            if ep.key == NULL or (p & POL_MAIN):
                i += 1
                if advancing:
                    self._small_hand = i
                continue
            if i == protect:
                advancing = False
                i += 1
                continue
            if ep.expires != 0 and ep.expires <= now:
                return i
            if p & POL_FREQ:
                self._pol[i] = POL_MAIN
                self._nsmall -= 1
                i += 1
                if advancing:
                    self._small_hand = i
                continue
            return i
        return -1

    cdef Py_ssize_t _main_victim(self, Py_ssize_t protect, int64_t now) noexcept:
        """The main queue's entry to free: the clock hand's next unspared one; -1: none but protect."""
        cdef Py_ssize_t nmain = self._used - self._nsmall
        if 0 <= protect < self._nentries and self._entries[protect].key != NULL and (self._pol[protect] & POL_MAIN):
            nmain -= 1
        if nmain <= 0:
            return -1
        cdef Py_ssize_t i = self._main_hand
        cdef int spared = 0
        cdef Entry *ep
        cdef uint8_t p
        # Ends: a main entry other than protect exists, and at most SECOND_CHANCES
        # are spared, so it is found within SECOND_CHANCES + 1 turns of the clock.
        cdef Py_ssize_t budget = (SECOND_CHANCES + 2) * (self._nentries + 1)
        while budget > 0:
            budget -= 1
            if i >= self._nentries:
                i = 0
            ep = &self._entries[i]
            p = self._pol[i]
            if ep.key == NULL or not (p & POL_MAIN) or i == protect:
                i += 1
                continue
            if (p & POL_FREQ) and spared < SECOND_CHANCES and not (ep.expires != 0 and ep.expires <= now):
                self._pol[i] = p - 1
                spared += 1
                i += 1
                continue
            self._main_hand = i + 1
            return i
        return -1

    cdef int _evict_one(self, Py_ssize_t protect, int64_t now, PyObject **k, PyObject **v) except -1:
        """Unlink one entry other than protect, handing its references to *k and *v.

        Returns 1 when it was evicted, 0 when it had expired.
        """
        cdef Py_ssize_t ix = _pick_victim(self, protect, now)
        if ix < 0:
            raise RuntimeError("cache over its bound with no entry to evict (a bug: please report it)")
        return _take_victim(self, ix, now, k, v)

    cdef object _make_room(self, Py_ssize_t protect, int64_t now, PyObject **k1, PyObject **v1,
                           int *evicted1):
        """Free entries (never protect) until the table fits its bounds.

        The first entry evicted goes to *k1, *v1 (owned references; *evicted1
        is 0 if it had expired instead); the others, and a purge's, go to the
        list returned as (key, value, cause) triples, or None when there are none.

        Expired entries go first: when one may have expired, every expired
        entry is freed by a full purge, run at most once per max_size/4 stores
        that had to make room (so it costs O(1) per store); in between, the
        scans free the expired entries they meet instead of live ones.
        """
        cdef Py_ssize_t cap = self._max_size if self._max_size != PY_SSIZE_T_MAX else self._used
        cdef PyObject *k
        cdef PyObject *v
        cdef list grave = None
        cdef int evicted
        if now >= self._min_expires and self._since_purge >= max(cap // PURGE_SHARE, 1):
            grave = []
            self._purge_into(now, grave)
        self._since_purge += 1
        while self._used > self._max_size or self._weight > self._max_weight:
            evicted = self._evict_one(protect, now, &k, &v)
            if k1[0] == NULL and grave is None:     # the first to leave: told first
                k1[0] = k
                v1[0] = v
                evicted1[0] = evicted
                continue
            try:
                if grave is None:
                    grave = []
                grave.append(<object>k)
                grave.append(<object>v)
                grave.append(_EVICTED if evicted else _EXPIRED)
            finally:
                _decref(k)
                _decref(v)
        return grave

    # -- mutation ------------------------------------------------------------

    cdef int _resize(self, Py_ssize_t minsize) except -1:
        cdef Py_ssize_t newsize = MIN_SIZE
        cdef int shift = MIN_SHIFT
        while newsize < minsize:
            newsize <<= 1
            shift -= 1
        if newsize > MAX_SIZE:
            raise MemoryError(f"cache cannot hold more than {(MAX_SIZE * 2) // 3} entries")
        cdef Py_ssize_t usable = (newsize * 2) // 3
        cdef uint32_t *index = <uint32_t *>gdc_calloc(<size_t>newsize * sizeof(uint32_t))
        cdef Entry *entries = <Entry *>gdc_malloc(<size_t>usable * sizeof(Entry))
        cdef int64_t *written = NULL
        cdef uint32_t *origin = NULL
        cdef uint8_t *pol = NULL
        cdef int64_t *weights = NULL
        if self._track:
            written = <int64_t *>gdc_malloc(<size_t>usable * sizeof(int64_t))
        if self._sync:
            origin = <uint32_t *>gdc_malloc(<size_t>usable * sizeof(uint32_t))
        if self._bounded:
            pol = <uint8_t *>gdc_malloc(<size_t>usable)
            if self._weigher is not None:
                weights = <int64_t *>gdc_malloc(<size_t>usable * sizeof(int64_t))
        if (index == NULL or entries == NULL or (self._track and written == NULL)
                or (self._sync and origin == NULL)
                or (self._bounded and pol == NULL) or (self._weigher is not None and weights == NULL)):
            gdc_free(index, <size_t>newsize * sizeof(uint32_t))
            gdc_free(entries, <size_t>usable * sizeof(Entry))
            gdc_free(written, <size_t>usable * sizeof(int64_t))
            gdc_free(origin, <size_t>usable * sizeof(uint32_t))
            gdc_free(pol, <size_t>usable)
            gdc_free(weights, <size_t>usable * sizeof(int64_t))
            raise MemoryError()
        # entry + 2 <= usable + 1 < 2 * newsize: one bit more than the slot number
        cdef uint32_t idxmask = <uint32_t>min(<uint64_t>newsize * 2 - 1, <uint64_t>0xFFFFFFFF)
        cdef size_t mask = <size_t>newsize - 1
        cdef Probe p
        cdef uint64_t m
        cdef Py_ssize_t j = 0, k
        cdef Py_ssize_t small_hand = -1, main_hand = -1   # the hands keep their place in the order
        cdef Entry *ep
        for k in range(self._nentries):
            if k == self._small_hand:
                small_hand = j
            if k == self._main_hand:
                main_hand = j
            ep = &self._entries[k]
            if ep.key == NULL:
                continue
            entries[j] = ep[0]
            if written != NULL:
                written[j] = self._written[k] if self._written != NULL else 0
            if origin != NULL:
                origin[j] = self._origin[k] if self._origin != NULL else 0
            if pol != NULL:
                pol[j] = self._pol[k]
                if weights != NULL:
                    weights[j] = self._weights[k]
            m = _mix(ep.hash)
            _probe_start(&p, m, shift, mask)
            while index[p.i] != SLOT_EMPTY:
                _probe_next(&p)
            index[p.i] = <uint32_t>(j + 2) | _tag(m, idxmask)
            j += 1
        self._free_arrays()
        self._entries = entries
        self._written = written
        self._origin = origin
        self._pol = pol
        self._weights = weights
        self._small_hand = small_hand if small_hand >= 0 else j
        self._main_hand = main_hand if main_hand >= 0 else j
        self._index = index
        self._size = newsize
        self._shift = shift
        self._idxmask = idxmask
        self._usable = usable
        self._nentries = j
        self._version += 1
        self._moves += 1
        return 0

    cdef void _free_arrays(self) noexcept:
        if self._entries != NULL:
            gdc_free(self._entries, <size_t>self._usable * sizeof(Entry))
            gdc_free(self._index, <size_t>self._size * sizeof(uint32_t))
        self._free_side_arrays()

    cdef void _free_side_arrays(self) noexcept:
        """Free the arrays beside the entries (write times, policy bytes, weights), sized by _usable."""
        if self._written != NULL:
            gdc_free(self._written, <size_t>self._usable * sizeof(int64_t))
            self._written = NULL
        if self._origin != NULL:
            gdc_free(self._origin, <size_t>self._usable * sizeof(uint32_t))
            self._origin = NULL
        if self._pol != NULL:
            gdc_free(self._pol, <size_t>self._usable)
            self._pol = NULL
        if self._weights != NULL:
            gdc_free(self._weights, <size_t>self._usable * sizeof(int64_t))
            self._weights = NULL

    cdef Py_ssize_t _find_free(self, Py_hash_t h) noexcept:
        cdef Probe p
        _probe_start(&p, _mix(h), self._shift, <size_t>self._size - 1)
        while (self._index[p.i] & self._idxmask) > SLOT_DELETED:
            _probe_next(&p)
        return <Py_ssize_t>p.i

    cdef int _delete(self, object key, PyObject **value=NULL) except -1:
        """Remove key; 1 when a live entry was removed, 0 when none was there.

        value: if not NULL, gets a new reference to the removed live entry's value.
        """
        cdef int64_t now = _now(self)    # a timer is Python code: before the lookup
        cdef Py_hash_t h = gdc_hash(key)
        cdef Py_ssize_t slot = _lookup(self, key, h, NULL)
        if slot < 0:
            return 0
        cdef int64_t expires = _entry_at(self, slot).expires
        cdef bint live = expires == 0 or expires > now
        if live:
            if value != NULL:
                value[0] = _entry_at(self, slot).value
                _incref(value[0])
            self._version += 1
            self._deletes += 1
            if self._sync:    # a local delete: its tombstone goes out with the next delta
                self._tombs[key] = (_stamp(self, -1, 0), 0)
        else:
            self._expired += 1
        self._drop_slot(slot, _DELETED if live else _EXPIRED)
        return live

    cdef Py_ssize_t _purge(self) except -1:
        """Free every expired entry; return how many."""
        cdef list grave = []     # references released only once the table is consistent
        cdef Py_ssize_t n = self._purge_into(_now(self), grave)
        if n and self._on_evict is not None:
            self._deliver(grave)
        return n

    cdef Py_ssize_t _purge_into(self, int64_t now, list grave) except -1:
        """Free every entry expired at now into grave; return how many."""
        if now < self._min_expires:
            return 0
        self._since_purge = 0
        cdef int64_t newmin = INT64_MAX
        cdef Py_ssize_t ix, n = 0
        cdef Entry *ep
        for ix in range(self._nentries):
            ep = &self._entries[ix]
            if ep.key == NULL or ep.expires == 0:
                continue
            if ep.expires > now:
                if ep.expires < newmin:
                    newmin = ep.expires
                continue
            self._bury(ix, grave, _EXPIRED)
            n += 1
        self._min_expires = newmin
        self._expired += n
        return n

    cdef int _bury(self, Py_ssize_t ix, list grave, object cause) except -1:
        """Remove entry ix; (key, value, cause) go to grave, released by the caller once the table is consistent."""
        cdef Entry *ep = &self._entries[ix]
        cdef PyObject *k = ep.key
        cdef PyObject *v = ep.value
        grave.append(<object>k)
        grave.append(<object>v)
        grave.append(cause)
        self._unlink_slot(self._slot_of_entry(ix))
        _decref(k)
        _decref(v)
        return 0

    cdef void _clear_all(self) noexcept:
        cdef Entry *entries = self._entries
        cdef Py_ssize_t n = self._nentries, i
        cdef Py_ssize_t usable = self._usable, size = self._size
        cdef uint32_t *index = self._index
        self._free_side_arrays()
        self._set_empty()
        self._version += 1
        self._moves += 1
        if entries == NULL:
            return
        # The table is already empty: values' finalisers may use it freely.
        for i in range(n):
            _xdecref(entries[i].key)
            _xdecref(entries[i].value)
        gdc_free(entries, <size_t>usable * sizeof(Entry))
        gdc_free(index, <size_t>size * sizeof(uint32_t))

    # -- public API ------------------------------------------------------------

    @cython.critical_section
    def put(self, key, value, ttl=None, *, expire_at=None):
        """Store value under key.

        Args:
            key: any hashable.
            value: any object, stored by reference.
            ttl: seconds (int or float) or a timedelta; None uses the default
                TTL, 0 means never expire.
            expire_at: instead of a ttl, when the entry expires: a datetime
                (naive: local time) or Unix seconds. A time already past stores
                an entry that is expired at once (it replaces the old value, and
                is never returned).

        Raises:
            TypeError: key unhashable, ttl or expire_at of the wrong type, or both given.
            ValueError: ttl negative, NaN or too large; expire_at NaN or too far.
        """
        if expire_at is not None:
            self._put_until(key, value, ttl, expire_at)
            return
        _put(self, key, value, self._default_ttl_ns if ttl is None else _ttl_ns(ttl))

    @cython.critical_section
    def _put_until(self, key, value, ttl, expire_at):
        if ttl is not None:
            raise TypeError("give ttl or expire_at, not both")
        cdef int64_t now = _now(self)
        _store(self, key, value, _expire_at_to_ns(expire_at, now), now)

    @cython.critical_section
    def put_safe(self, key, value, ttl=None):
        """Store value under key, then read it back.

        Returns:
            True when the value read back is the very object stored and live.
        """
        cdef int64_t ttl_ns = self._default_ttl_ns if ttl is None else _ttl_ns(ttl)
        cdef int64_t now = 0, expires = 0
        cdef uint64_t expired = self._expired
        cdef Py_ssize_t n = self._nentries
        if ttl_ns:      # as _put
            now = _now(self)
            expires = INT64_MAX if now > INT64_MAX - ttl_ns else now + ttl_ns
        _store(self, key, value, expires, now)
        cdef Py_ssize_t ix = self._last_ix
        cdef Entry *ep
        if (PyUnicode_CheckExact(key) and self._timer is None and 0 <= ix < self._nentries
                and self._entries[ix].key == <PyObject *>key):
            # The read back without a second lookup: an exact str's hash and equality run no Python code, so
            # a lookup would find the entry the store wrote, as long as that entry still holds this very key
            # (Python code the store ran, a finaliser or a listener, may have changed the table since).
            ep = &self._entries[ix]
            if not self._slow and ix == n and self._expired == expired:
                # A new key appended with nothing released or evicted: no Python code ran since the clock was
                # read, so the whole call is one step at that reading, when the entry (ttl > 0) is live.
                return ep.value == <PyObject *>value
            if ep.expires != 0 and ep.expires <= gdc_now_ns():
                self._expired += 1
                self._drop_slot(self._slot_of_entry(ix), _EXPIRED)
                return False
            return ep.value == <PyObject *>value
        ix = _find_live(self, key)
        return ix >= 0 and self._entries[ix].value == <PyObject *>value

    @cython.critical_section
    def get(self, key, default=None):
        """Return the live value stored under key, else default."""
        cdef Py_ssize_t ix = _find_live(self, key)
        if ix < 0:
            self._misses += 1
            return default
        self._hits += 1
        if self._pol != NULL:
            _touch(self, ix)
        return <object>self._entries[ix].value

    @cython.critical_section
    cdef object _get_parts(self, object first, object second, tuple args, Py_hash_t h, object default,
                           object unsure):
        """get((first, second, *args), default), h being that key's hash, without building the key.

        memoize's hit path. A stored key is compared item by item, as tuples
        compare. Returns unsure, having counted nothing, when a key of hash h is
        not an exact tuple or a compare changed the table: the caller then
        builds the key and calls get.
        """
        cdef Py_ssize_t n = PyTuple_GET_SIZE(args) + 2, i, ln
        cdef uint64_t m = _mix(h)
        cdef uint32_t idxmask = self._idxmask
        cdef uint32_t tag = _tag(m, idxmask)
        cdef uint32_t v, low
        cdef Probe p
        cdef Entry *ep
        cdef Entry *entries
        cdef uint64_t version
        cdef PyObject *stored
        cdef PyObject *mine
        cdef object hold
        cdef int eq = 1
        cdef int64_t now = 0
        if self._timer is not None:
            now = _timer_ns(self)     # Python code: before the probe, whose slot it could invalidate
        _probe_start(&p, m, self._shift, <size_t>self._size - 1)
        while True:
            v = self._index[p.i]
            low = v & idxmask
            if low == SLOT_EMPTY:
                self._misses += 1
                return default
            if low != SLOT_DELETED and (v ^ tag) <= idxmask and self._entries[low - 2].hash == h:
                ep = &self._entries[low - 2]
                stored = ep.key
                if not PyTuple_CheckExact(<object>stored):
                    return unsure
                hold = <object>stored   # keeps the key alive through __eq__
                entries = self._entries
                version = self._version
                ln = min(n, PyTuple_GET_SIZE(<object>stored))
                eq = 1
                for i in range(ln):     # tuple == tuple: items in order up to the first unequal, then lengths
                    mine = <PyObject *>first if i == 0 else <PyObject *>second if i == 1 else \
                        PyTuple_GET_ITEM(args, i - 2)
                    if PyTuple_GET_ITEM(hold, i) == mine:
                        continue
                    eq = PyObject_RichCompareBool(<object>PyTuple_GET_ITEM(hold, i), <object>mine, Py_EQ)
                    if self._entries != entries or self._version != version or ep.key != stored:
                        return unsure
                    if not eq:
                        break
                if eq and ln == n and PyTuple_GET_SIZE(hold) == n:
                    break
            _probe_next(&p)
        cdef Py_ssize_t ix = _live_at(self, <Py_ssize_t>p.i, now)
        if ix < 0:
            self._misses += 1
            return default
        self._hits += 1
        if self._pol != NULL:
            _touch(self, ix)
        return <object>self._entries[ix].value

    @cython.critical_section
    def __getitem__(self, key):
        cdef Py_ssize_t ix = _find_live(self, key)
        if ix < 0:
            self._misses += 1
            if type(self) is not Table:
                missing = getattr(type(self), "__missing__", None)
                if missing is not None:   # as dict does: a subclass's __missing__ answers a miss of self[key]
                    return missing(self, key)
            raise KeyError(key)
        self._hits += 1
        if self._pol != NULL:
            _touch(self, ix)
        return <object>self._entries[ix].value

    @cython.critical_section
    def __setitem__(self, key, value):
        _put(self, key, value, self._default_ttl_ns)

    @cython.critical_section
    def __delitem__(self, key):
        if not self._delete(key):
            raise KeyError(key)

    @cython.critical_section
    def __contains__(self, key):
        return _find_live(self, key) >= 0

    @cython.critical_section
    def exists(self, key):
        """Return True when key holds a live entry."""
        return _find_live(self, key) >= 0

    @cython.critical_section
    def delete(self, key):
        """Remove key. Returns True when a live entry was removed."""
        return self._delete(key) == 1

    @cython.critical_section
    def pop(self, key, default=_NO_DEFAULT):
        """Remove key and return its value, in one step; default, or KeyError without one, when it has none.

        As ``dict.pop``, and atomic: ``MutableMapping.pop`` reads and then
        deletes, and another thread deleting in between made it raise
        KeyError even with a default (or return a value it didn't remove).
        """
        return self._pop(key, default)

    cdef object _pop(self, object key, object default):
        """pop's work, for pop and popitem: a C call, so popitem runs no subclass's pop and stays one step."""
        cdef PyObject *value = NULL
        if self._delete(key, &value) == 1:
            self._hits += 1
            result = <object>value
            _decref(value)   # result holds the reference _delete gave
            return result
        self._misses += 1
        if default is _NO_DEFAULT:
            raise KeyError(key)
        return default

    @cython.critical_section
    def popitem(self):
        """Remove and return the oldest live (key, value) pair, in one step; KeyError when there is none."""
        cdef _TableIter it = _TableIter._new(self, 0)
        try:
            key = it._next(self)
        except StopIteration:
            raise KeyError("popitem(): cache is empty") from None
        return key, self._pop(key, _NO_DEFAULT)

    @cython.critical_section
    def setdefault(self, key, default=None):
        """self[key] if key has a live entry, else store default (with the default TTL) and return it; one step."""
        cdef Py_ssize_t ix = _find_live(self, key)
        if ix >= 0:
            self._hits += 1
            if self._pol != NULL:
                _touch(self, ix)
            return <object>self._entries[ix].value
        self._misses += 1
        self[key] = default
        return default

    @cython.critical_section
    def delete_safe(self, key):
        """Remove key, then check it is gone.

        Returns:
            True exactly when the key held a live entry and no longer does.
        """
        cdef bint removed = self._delete(key)
        return removed and _find_live(self, key) < 0

    @cython.critical_section
    def ttl(self, key):
        """Remaining lifetime of key in seconds, or None when it never expires.

        Raises:
            KeyError: key has no live entry.
        """
        cdef int64_t now = _now(self)    # a timer is Python code: before the lookup
        cdef Py_ssize_t slot = _lookup(self, key, gdc_hash(key), NULL)
        if slot < 0:
            raise KeyError(key)
        cdef int64_t expires = _entry_at(self, slot).expires
        if expires == 0:
            return None
        if expires <= now:
            self._expired += 1
            self._drop_slot(slot, _EXPIRED)
            raise KeyError(key)
        return (expires - now) / 1e9

    @cython.critical_section
    def expire(self):
        """Free every expired entry now. Returns how many were freed."""
        return self._purge()

    @cython.critical_section
    def _sweep(self, Py_ssize_t max_entries):
        """Free the expired entries among the next max_entries slots of a round-robin cursor.

        Bounded work for a background sweeper: one call visits at most
        max_entries entry slots. Returns (entries freed, True when the cursor
        came back to the start: a full pass is done).
        """
        cdef int64_t now = _now(self)
        cdef Py_ssize_t ix, end, freed = 0
        cdef Entry *ep
        cdef list grave = []     # references released only once the table is consistent
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        if self._sweep_pos >= self._nentries:   # a resize compacted the entries: start over
            self._sweep_pos = 0
        end = min(self._sweep_pos + max_entries, self._nentries)
        for ix in range(self._sweep_pos, end):
            ep = &self._entries[ix]
            if ep.key == NULL or ep.expires == 0 or ep.expires > now:
                continue
            self._bury(ix, grave, _EXPIRED)
            freed += 1
        self._expired += freed
        self._sweep_pos = end if end < self._nentries else 0
        if freed and self._on_evict is not None:
            self._deliver(grave)
        return freed, self._sweep_pos == 0

    @cython.critical_section
    def __len__(self):
        if self._min_expires != INT64_MAX and self._min_expires <= _now(self):
            self._purge()
        return self._used

    @cython.critical_section
    def count(self):
        """Number of live entries (same as len())."""
        return len(self)

    @cython.critical_section
    def clear(self):
        """Remove every entry (on_evict hears of each: "deleted", or "expired")."""
        if self._sync:    # a local clear: every write stamped before it is gone, everywhere
            self._floor = _stamp(self, -1, 0)
            self._floor_origin = 0
            self._tombs.clear()
        if self._on_evict is None:
            self._clear_all()
            return
        cdef int64_t now = _now(self)
        cdef list grave = []
        cdef Entry *ep
        cdef Py_ssize_t ix
        for ix in range(self._nentries):
            ep = &self._entries[ix]
            if ep.key != NULL:
                grave.append(<object>ep.key)
                grave.append(<object>ep.value)
                grave.append(_EXPIRED if ep.expires != 0 and ep.expires <= now else _DELETED)
        self._clear_all()
        self._deliver(grave)

    @cython.critical_section
    def __iter__(self):
        return _TableIter._new(self, 0)

    @cython.critical_section
    def _iter(self, int kind):
        """Iterator over live entries.

        kind 0: keys, 1: values, 2: (key, value), 3: (key, value, expires)
        with expires in Unix ns, 0 for never, 4: (key, value, expires, written)
        with written the write time in Unix ns, 0 when unknown or not tracked,
        5: (key, value, expires, written, origin) with origin the instance id
        the entry came from (see :meth:`_track_changes`; "" when not syncing).
        """
        if kind < 0 or kind > 5:
            raise ValueError(f"kind must be 0 to 5, got {kind}")
        return _TableIter._new(self, kind)

    @cython.critical_section
    def _list(self, int kind):
        """The live entries as :meth:`_iter` gives them, in a list taken in one step.

        For copy, deepcopy and pickle. A list built from :meth:`_iter` lets
        other threads write between two items (with the GIL off, or whenever
        an allocation runs a finaliser), and the iterator then raises "cache
        changed during iteration". Here one pass that runs no Python code
        takes a reference to every live entry's objects; the tuples are built
        from those afterwards.
        """
        if kind < 0 or kind > 5:
            raise ValueError(f"kind must be 0 to 5, got {kind}")
        cdef int64_t now = _now(self)     # a timer is Python code: before the pass
        cdef Py_ssize_t n = self._nentries, i, k = 0, j
        cdef _Snap *snap = <_Snap *>PyMem_Malloc(<size_t>(n if n > 0 else 1) * sizeof(_Snap))
        cdef Entry *ep
        cdef list out
        cdef _Snap *e
        if snap == NULL:
            raise MemoryError()
        for i in range(n):      # no Python code runs in this loop
            ep = &self._entries[i]
            if ep.key == NULL or (ep.expires != 0 and ep.expires <= now):
                continue
            e = &snap[k]
            e.key = ep.key
            e.value = ep.value
            e.expires = ep.expires
            e.written = self._written[i] if self._written != NULL else 0
            e.origin = NULL
            if kind == 5 and self._sync:
                e.origin = PyList_GET_ITEM(self._origin_ids, self._origin[i] if self._origin != NULL else 0)
                _incref(e.origin)
            _incref(e.key)
            _incref(e.value)
            k += 1
        j = 0
        try:
            out = [None] * k
            for j in range(k):
                e = &snap[j]
                key = <object>e.key
                value = <object>e.value
                if kind == 0:
                    out[j] = key
                elif kind == 1:
                    out[j] = value
                elif kind == 2:
                    out[j] = (key, value)
                elif kind == 3:
                    out[j] = (key, value, e.expires)
                elif kind == 4:
                    out[j] = (key, value, e.expires, e.written)
                else:
                    out[j] = (key, value, e.expires, e.written, <object>e.origin if e.origin != NULL else "")
                _decref(e.key)
                _decref(e.value)
                if e.origin != NULL:
                    _decref(e.origin)
                e.key = NULL
            return out
        finally:
            for i in range(j, k):   # what an error (MemoryError) left unbuilt
                e = &snap[i]
                if e.key != NULL:
                    _decref(e.key)
                    _decref(e.value)
                    if e.origin != NULL:
                        _decref(e.origin)
            PyMem_Free(snap)

    @cython.critical_section
    def _put_at(self, key, value, expires_ns, written_ns=None):
        """Store value under key with an absolute expiry (Unix ns; 0: never).

        written_ns: the write time to record (Unix ns, 0: unknown) when the
        table tracks write times; None records now.

        Returns:
            False, storing nothing, when expires_ns has already passed.
        """
        cdef int64_t expires = _operator.index(expires_ns)
        cdef int64_t written = -1 if written_ns is None else _operator.index(written_ns)
        cdef int64_t now = 0
        if expires < 0:
            raise ValueError(f"expires_ns must be >= 0, got {expires_ns!r}")
        if written_ns is not None and written < 0:
            raise ValueError(f"written_ns must be >= 0, got {written_ns!r}")
        if expires:
            now = _now(self)
            if expires <= now:
                return False
        _store(self, key, value, expires, now, written)
        return True

    @cython.critical_section
    cdef int _store_at(self, object key, object value, int64_t expires, int64_t written) except -1:
        """Store key with an absolute expiry (Unix ns, 0: never) the caller checked is in the future.

        written: the entry's write time (Unix ns, 0: unknown) if the table
        tracks write times; -1: now.
        """
        return _store(self, key, value, expires, 0, written)

    @cython.critical_section
    cdef int64_t _written_of(self, object key) except -2:
        """The write time of key's live entry (0: unknown), or -1 when it has none."""
        cdef Py_ssize_t ix = _find_live(self, key)
        if ix < 0:
            return -1
        if self._written == NULL:
            return 0
        return self._written[ix]

    @cython.critical_section
    def _write_time(self, key):
        """The write time of key's live entry (Unix ns, 0: unknown or not tracked), or -1 when it has none."""
        return self._written_of(key)

    @property
    @cython.critical_section
    def _tracks_writes(self):
        """True once write times are kept (see :meth:`_track_writes`)."""
        return self._track

    @cython.critical_section
    def _track_writes(self):
        """Keep each entry's write time (Unix ns) from now on; entries already there get 0, unknown.

        Costs 8 bytes per entry slot and a clock reading per write. Merges
        of snapshots use the times: the later write wins.
        """
        if self._track:
            return
        if self._entries != NULL:
            self._written = <int64_t *>gdc_calloc(<size_t>self._usable * sizeof(int64_t))
            if self._written == NULL:
                raise MemoryError()
        self._track = True

    @cython.critical_section
    def _swap(self, Table other not None):
        """Exchange all entries with other; each keeps its default TTL.

        A load decodes into a fresh table and swaps it in only once the whole
        file has checked out, so a bad file leaves the cache as it was.
        """
        if other is self:
            return
        if (self._max_size != other._max_size or self._max_weight != other._max_weight
                or (self._weigher is None) != (other._weigher is None)):
            raise ValueError("can only swap entries with a table of the same bounds")
        if self._sync != other._sync or (self._sync and self._origin_ids[0] != other._origin_ids[0]):
            raise ValueError("can only swap entries with a table that syncs as the same instance, or neither syncs")
        self._entries, other._entries = other._entries, self._entries
        self._written, other._written = other._written, self._written
        # Origins go with the entries; tombstones, the floor and the clock stay: they are history, not entries.
        self._origin, other._origin = other._origin, self._origin
        self._origin_ids, other._origin_ids = other._origin_ids, self._origin_ids
        self._origin_index, other._origin_index = other._origin_index, self._origin_index
        self._hlc = other._hlc = max(self._hlc, other._hlc)
        self._pol, other._pol = other._pol, self._pol
        self._weights, other._weights = other._weights, self._weights
        self._ghost, other._ghost = other._ghost, self._ghost
        self._ghost_buckets, other._ghost_buckets = other._ghost_buckets, self._ghost_buckets
        self._ghost_ctr, other._ghost_ctr = other._ghost_ctr, self._ghost_ctr
        self._weight, other._weight = other._weight, self._weight
        self._nsmall, other._nsmall = other._nsmall, self._nsmall
        self._small_hand, other._small_hand = other._small_hand, self._small_hand
        self._main_hand, other._main_hand = other._main_hand, self._main_hand
        self._since_purge, other._since_purge = other._since_purge, self._since_purge
        self._track, other._track = other._track, self._track
        self._index, other._index = other._index, self._index
        self._size, other._size = other._size, self._size
        self._shift, other._shift = other._shift, self._shift
        self._idxmask, other._idxmask = other._idxmask, self._idxmask
        self._usable, other._usable = other._usable, self._usable
        self._nentries, other._nentries = other._nentries, self._nentries
        self._used, other._used = other._used, self._used
        self._min_expires, other._min_expires = other._min_expires, self._min_expires
        self._version += 1
        other._version += 1
        self._moves += 1
        other._moves += 1

    # -- sync: stamps, origins, tombstones, merges --------------------------------
    #
    # A syncing table (_track_changes) keeps, beside each entry, its stamp (the
    # _written array, from the hybrid logical clock _hlc) and its origin (0:
    # written here; else an index into _origin_ids, the peer it was merged
    # from). Writes are ordered by (stamp, origin's instance id): that is
    # last-writer-wins, and every instance that has seen the same writes holds
    # the same entries. A local delete leaves a tombstone (key -> (stamp,
    # origin)), a local clear raises the floor: entries and tombstones stamped
    # below it are gone. Expiry and eviction leave nothing: each instance
    # decides them itself. A merge (_merge_at, _merge_tomb, _merge_floor)
    # applies a peer's write only if it is newer than all this table knows of
    # the key, and records it with the peer's origin, so it is never sent out
    # again as a local change.

    @cython.critical_section
    def _track_changes(self, str instance_id not None):
        """Keep what sync needs from now on: stamps, origins, tombstones, the clear floor.

        instance_id names this instance: the origin of what is written here.
        Costs 12 bytes per entry slot (a stamp and an origin) and a
        tombstone per live key deleted (until :meth:`_prune_tombs`).
        Entries already there count as written here, stamped 0 (unknown)
        unless write times were already kept.
        """
        if self._sync:
            if self._origin_ids[0] != instance_id:
                raise ValueError(f"this table already syncs as {self._origin_ids[0]!r}, not {instance_id!r}")
            return
        if not instance_id:
            raise ValueError("instance_id must not be empty")
        self._track_writes()
        if self._entries != NULL:
            self._origin = <uint32_t *>gdc_calloc(<size_t>self._usable * sizeof(uint32_t))
            if self._origin == NULL:
                raise MemoryError()
        self._origin_ids = [instance_id]
        self._origin_index = {instance_id: 0}
        self._tombs = {}
        self._sync = True

    @property
    @cython.critical_section
    def _syncs(self):
        """This instance's id once :meth:`_track_changes` was called, else None."""
        return self._origin_ids[0] if self._sync else None

    @cython.critical_section
    def _set_skew(self, skew_ns):
        """Add skew_ns to the wall clock for this table's stamps: a test hook for a machine whose clock is off."""
        self._skew = _operator.index(skew_ns)

    cdef int64_t _stamp_of(self, Py_ssize_t ix) noexcept:
        return self._written[ix] if self._written != NULL else 0

    cdef uint32_t _origin_at(self, Py_ssize_t ix) noexcept:
        return self._origin[ix] if self._origin != NULL else 0

    @cython.critical_section
    cdef uint32_t _origin_of(self, str instance_id) except? 0xFFFFFFFF:
        """The origin index standing for instance_id, added if new."""
        o = self._origin_index.get(instance_id)
        if o is not None:
            return o
        cdef Py_ssize_t n = len(self._origin_ids)
        if n >= MAX_ORIGINS:
            raise ValueError(f"more than {MAX_ORIGINS} instances wrote to this cache")
        if not instance_id:
            raise ValueError("an origin's instance id must not be empty")
        self._origin_ids.append(instance_id)
        self._origin_index[instance_id] = n
        return <uint32_t>n

    @cython.critical_section
    def _add_origins(self, ids):
        """Register the instance ids a segment names, all or none: ValueError if the table can't tell them apart."""
        if not self._sync:
            raise ValueError("only a syncing table merges (see _track_changes)")
        new = [i for i in dict.fromkeys(ids) if i not in self._origin_index]
        if len(self._origin_ids) + len(new) > MAX_ORIGINS:
            raise ValueError(f"more than {MAX_ORIGINS} instances would have written to this cache")
        for i in new:
            self._origin_of(i)

    cdef int _newer(self, int64_t s1, uint32_t o1, int64_t s2, uint32_t o2) except -1:
        """1 when the write (s1, o1) comes after (s2, o2): a later stamp, or the same and a greater instance id."""
        if s1 != s2:
            return s1 > s2
        if o1 == o2:
            return 0
        return (<str>self._origin_ids[o1]) > (<str>self._origin_ids[o2])

    @cython.critical_section
    cdef int _merge_at(self, object key, object value, int64_t expires, int64_t stamp, uint32_t origin,
                       int64_t now) except -1:
        """Store a peer's write of key if it is the latest this table knows of; 1 when stored."""
        if stamp > (now if self._timer is None else gdc_now_ns()) + _MAX_AHEAD_NS:
            return 0              # from too far in the future: refused, and the clock not moved
        if stamp > self._hlc:
            self._hlc = stamp     # seen: a write made here after this merge stamps after it
        if expires != 0 and expires <= now:
            return 0              # expired entries never come back
        if self._floor and not self._newer(stamp, origin, self._floor, self._floor_origin):
            return 0              # a clear came after it
        if self._tombs:
            t = self._tombs.get(key)
            if t is not None and not self._newer(stamp, origin, (<tuple>t)[0], (<tuple>t)[1]):
                return 0          # a delete came after it
        cdef Py_ssize_t ix = _find_live(self, key)
        if ix >= 0 and not self._newer(stamp, origin, self._stamp_of(ix), self._origin_at(ix)):
            return 0              # what is here came after it (or is the same write)
        _store(self, key, value, expires, now, stamp, origin)
        return 1

    @cython.critical_section
    def _merge_entry(self, key, value, expires_ns, stamp, str origin not None):
        """Merge a peer's write (Unix ns expiry, 0: never; its stamp; the peer's instance id); True when stored."""
        if not self._sync:
            raise ValueError("only a syncing table merges (see _track_changes)")
        return self._merge_at(key, value, _operator.index(expires_ns), _operator.index(stamp),
                              self._origin_of(origin), _now(self)) == 1

    @cython.critical_section
    def _merge_tomb(self, key, stamp, str origin not None):
        """A peer deleted key at stamp: keep the tombstone, drop an entry written before it. True when one was."""
        if not self._sync:
            raise ValueError("only a syncing table merges (see _track_changes)")
        cdef int64_t s = _operator.index(stamp)
        cdef uint32_t o = self._origin_of(origin)
        cdef int64_t now = _now(self)    # a timer is Python code: before the lookup
        if s > gdc_now_ns() + _MAX_AHEAD_NS:
            return False
        if s > self._hlc:
            self._hlc = s
        if self._floor and not self._newer(s, o, self._floor, self._floor_origin):
            return False
        t = self._tombs.get(key)
        if t is None or self._newer(s, o, (<tuple>t)[0], (<tuple>t)[1]):
            self._tombs[key] = (s, o)
        cdef Py_ssize_t slot = _lookup(self, key, gdc_hash(key), NULL)
        if slot < 0:
            return False
        cdef Py_ssize_t ix = _entry_at(self, slot) - self._entries
        if not self._newer(s, o, self._stamp_of(ix), self._origin_at(ix)):
            return False
        cdef int64_t expires = self._entries[ix].expires
        cdef bint live = expires == 0 or expires > now
        if live:
            self._version += 1
            self._deletes += 1
        else:
            self._expired += 1
        self._drop_slot(slot, _DELETED if live else _EXPIRED)
        return live

    @cython.critical_section
    def _merge_floor(self, stamp, str origin not None):
        """A peer cleared its cache at stamp: drop every entry and tombstone written before. Returns entries dropped."""
        if not self._sync:
            raise ValueError("only a syncing table merges (see _track_changes)")
        cdef int64_t s = _operator.index(stamp)
        cdef uint32_t o = self._origin_of(origin)
        if s > gdc_now_ns() + _MAX_AHEAD_NS:
            return 0
        if s > self._hlc:
            self._hlc = s
        if self._floor and not self._newer(s, o, self._floor, self._floor_origin):
            return 0
        self._floor = s
        self._floor_origin = o
        self._tombs = {k: t for k, t in self._tombs.items() if self._newer((<tuple>t)[0], (<tuple>t)[1], s, o)}
        cdef list grave = []     # references released only once the table is consistent
        cdef Py_ssize_t ix, n = 0
        # No Python code runs in this loop (ids are str): the table can't change under it.
        for ix in range(self._nentries):
            if self._entries[ix].key == NULL or self._newer(self._stamp_of(ix), self._origin_at(ix), s, o):
                continue
            self._bury(ix, grave, _DELETED)
            n += 1
        if n:
            self._deletes += n
            self._version += 1
            if self._on_evict is not None:
                self._deliver(grave)
        return n

    @cython.critical_section
    def _floor_of(self):
        """(stamp, instance id) of the latest clear seen, or None."""
        if not self._sync or not self._floor:
            return None
        return self._floor, self._origin_ids[self._floor_origin]

    @cython.critical_section
    def _tombstones(self, since=-1, until=None):
        """Tombstones as [(key, stamp, instance id)]; with since >= 0, only local ones stamped in (since, until]."""
        if not self._sync:
            return []
        cdef int64_t lo = _operator.index(since)
        cdef int64_t hi = INT64_MAX if until is None else _operator.index(until)
        ids = self._origin_ids
        if lo < 0:
            return [(k, t[0], ids[t[1]]) for k, t in self._tombs.items()]
        return [(k, t[0], ids[0]) for k, t in self._tombs.items() if t[1] == 0 and lo < t[0] <= hi]

    @cython.critical_section
    def _prune_tombs(self, before):
        """Forget tombstones stamped before ``before``; return how many."""
        if not self._sync:
            return 0
        cdef int64_t b = _operator.index(before)
        cdef Py_ssize_t n = len(self._tombs)
        self._tombs = {k: t for k, t in self._tombs.items() if t[0] >= b}
        return n - len(self._tombs)

    @cython.critical_section
    def _stamp_info(self, key):
        """(stamp, instance id) of key's live entry in a syncing table, or None."""
        cdef Py_ssize_t ix = _find_live(self, key)
        if ix < 0 or not self._sync:
            return None
        return self._stamp_of(ix), self._origin_ids[self._origin_at(ix)]

    @cython.critical_section
    def __sizeof__(self):
        cdef size_t n = sizeof(Table)
        if self._entries != NULL:
            n += <size_t>self._usable * sizeof(Entry) + <size_t>self._size * sizeof(uint32_t)
        if self._written != NULL:
            n += <size_t>self._usable * sizeof(int64_t)
        if self._origin != NULL:
            n += <size_t>self._usable * sizeof(uint32_t)
        if self._pol != NULL:
            n += <size_t>self._usable
        if self._weights != NULL:
            n += <size_t>self._usable * sizeof(int64_t)
        n += <size_t>self._ghost_buckets * 4 * sizeof(uint32_t)
        return n

    # -- bounds and the listener ----------------------------------------------

    @cython.critical_section
    def _set_bound(self, max_size=None, max_weight=None, weigher=None):
        """Bound an empty table: at most max_size entries, at most max_weight in weight.

        weigher(key, value) -> int gives each entry's weight; it is required
        with max_weight and allowed only with it. None lifts a bound.
        """
        if self._used:
            raise ValueError("bounds can only be set on an empty cache")
        cdef Py_ssize_t size = _bound_arg("max_size", max_size, MAX_SIZE, PY_SSIZE_T_MAX, 0)
        cdef int64_t weight = _bound_arg("max_weight", max_weight, INT64_MAX, INT64_MAX)
        if max_weight is not None:
            if weigher is None:
                raise TypeError("max_weight needs a weigher(key, value) -> int")
            if not callable(weigher):
                raise TypeError(f"weigher must be callable, got {type(weigher).__name__}")
        elif weigher is not None:
            raise TypeError("a weigher needs max_weight")
        self._clear_all()       # drops arrays allocated without the policy's
        self._max_size = size
        self._max_weight = weight
        self._weigher = weigher
        self._bounded = size != PY_SSIZE_T_MAX or weight != INT64_MAX
        self._slow = self._bounded or self._on_evict is not None
        self._drop_ghost()

    @property
    @cython.critical_section
    def max_size(self):
        """The most entries the cache holds (None: no bound)."""
        return None if self._max_size == PY_SSIZE_T_MAX else self._max_size

    @property
    @cython.critical_section
    def max_weight(self):
        """The most total weight the cache holds (None: no bound)."""
        return None if self._max_weight == INT64_MAX else self._max_weight

    @property
    @cython.critical_section
    def weigher(self):
        """weigher(key, value) -> int, the weight of an entry (None without max_weight)."""
        return self._weigher

    @property
    @cython.critical_section
    def on_evict(self):
        """on_evict(key, value, cause), told of every entry that leaves the cache, or None.

        cause is "expired", "evicted" (by the size bound), "deleted" (delete,
        del, pop, clear) or "replaced" (overwritten: value is the old one). It
        is called once the cache is consistent again, so it may use the cache;
        an exception it raises is logged (logger "godistcache") and dropped.
        """
        return self._on_evict

    @on_evict.setter
    @cython.critical_section
    def on_evict(self, listener):
        if listener is not None and not callable(listener):
            raise TypeError(f"on_evict must be callable or None, got {type(listener).__name__}")
        self._on_evict = listener
        self._slow = self._bounded or listener is not None


@cython.final
@cython.auto_pickle(False)
cdef class _TableIter:
    cdef Table _table
    cdef Py_ssize_t _pos
    cdef uint64_t _version
    cdef int _kind

    @staticmethod
    cdef _TableIter _new(Table table, int kind):
        cdef _TableIter it = _TableIter.__new__(_TableIter)
        it._table = table
        it._pos = 0
        it._version = table._version
        it._kind = kind
        return it

    def __iter__(self):
        return self

    def __next__(self):
        # Both locked with the GIL off: the iterator's position and the table's entries.
        cdef Table t = self._table
        if t is None:
            raise StopIteration
        with cython.critical_section(self, t):
            return self._next(t)

    cdef object _next(self, Table t):
        if t._version != self._version:
            raise RuntimeError("cache changed during iteration")
        cdef int64_t now = _now(t)
        cdef Entry *ep
        while self._pos < t._nentries:
            ep = &t._entries[self._pos]
            self._pos += 1
            if ep.key == NULL or (ep.expires != 0 and ep.expires <= now):
                continue
            if self._kind == 0:
                return <object>ep.key
            if self._kind == 1:
                return <object>ep.value
            if self._kind == 2:
                return (<object>ep.key, <object>ep.value)
            if self._kind == 3:
                return (<object>ep.key, <object>ep.value, ep.expires)
            if self._kind == 4:
                return (<object>ep.key, <object>ep.value, ep.expires,
                        t._written[self._pos - 1] if t._written != NULL else 0)
            return (<object>ep.key, <object>ep.value, ep.expires,
                    t._written[self._pos - 1] if t._written != NULL else 0,
                    t._origin_ids[t._origin[self._pos - 1] if t._origin != NULL else 0] if t._sync else "")
        self._table = None
        raise StopIteration


# --- fast calls on subclasses -------------------------------------------------

_method_descriptor = type(Table.__dict__["get"])


def own_methods(cls, names):
    """Give the Table subclass ``cls`` its own descriptors for Table's methods ``names``.

    CPython's specialised call of a method descriptor (``obj.get(k)`` in a hot
    loop) requires ``type(obj)`` to be exactly the descriptor's class, so on a
    Python subclass every such call takes the generic path: about 8 ns more,
    a third of a cache hit. A descriptor made for ``cls`` from the same C
    function restores the fast path for instances of ``cls``.
    """
    if not isinstance(cls, type) or not issubclass(cls, Table):
        raise TypeError(f"cls must be a subclass of Table, got {cls!r}")
    for name in names:
        descr = Table.__dict__[name]
        if type(descr) is not _method_descriptor:
            raise TypeError(f"Table.{name} is not a method descriptor")
        setattr(cls, name, PyDescr_NewMethod(<PyTypeObject *>cls, gdc_descr_method(descr)))


# --- cyclic GC over the entries ----------------------------------------------

cdef traverseproc _cython_traverse = gdc_get_traverse(<PyTypeObject *>Table)
cdef inquiry _cython_clear = gdc_get_clear(<PyTypeObject *>Table)


cdef int _table_traverse(PyObject *o, visitproc visit, void *arg) noexcept:
    cdef Entry *entries = (<Table>o)._entries
    cdef Py_ssize_t n = (<Table>o)._nentries, i
    cdef int r
    for i in range(n):
        if entries[i].key != NULL:
            r = visit(entries[i].key, arg)
            if r:
                return r
            r = visit(entries[i].value, arg)
            if r:
                return r
    if _cython_traverse != NULL:
        return _cython_traverse(o, visit, arg)
    return 0


cdef int _table_clear(PyObject *o) noexcept:
    (<Table>o)._clear_all()
    if _cython_clear != NULL:
        return _cython_clear(o)
    return 0


gdc_set_gc(<PyTypeObject *>Table, _table_traverse, _table_clear)
