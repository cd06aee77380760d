# cython: language_level=3, embedsignature=True, binding=False, freethreading_compatible=True
"""The compiled twin of ``godistcache._core._frames_py``: cache entries to frame payloads and back.

Same functions, same bytes, same errors; the entry layout is described in
``_frames_py``. It walks the compiled table's entry array directly
(``collect``, ``merge``) and stores decoded entries without a Python call
per entry (``decode_frame``).

``collect`` runs no Python code: it only copies and increfs pointers, so
the references it returns are one consistent cut of the table, taken in a
single pass that other threads can't interleave with. Encoding happens
afterwards, frame by frame, and the caller writes each frame out (releasing
the GIL) before asking for the next: other threads are paused for one
frame's worth of encoding at a time, not for the whole cache.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport INT64_MAX, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from godistcache._core._codec_c cimport (
    COST_ENTRY, Buffer, Reader, _decode_item, _encode_item, _over_budget, _read_uvarint,
    buffer_free, buffer_init, buffer_uvarint, reader_init,
)
from godistcache._core._table_c cimport Entry, Table

import pickle as _pickle

from godistcache._core._budget import DecodeBudgetError
from godistcache._core._value_format import PICKLE_REFUSED as _PICKLE_REFUSED, Pickled
from godistcache._core._frames_py import OPAQUE, REFUSE, UNPICKLE
from godistcache._core._table_c import now_ns as _now_ns

cdef object _pickle_dumps = _pickle.dumps
cdef object _pickle_loads = _pickle.loads

__all__ = ["OPAQUE", "REFUSE", "UNPICKLE", "collect", "decode_frame", "encode_frame", "merge"]


cdef extern from "Python.h":
    void _incref "Py_INCREF"(PyObject *o) noexcept
    void _decref "Py_DECREF"(PyObject *o) noexcept

cdef extern from *:
    """
    #include <stdlib.h>
    #if !defined(_WIN32)
    #include <sys/mman.h>
    #endif
    /* The reference array is allocated with the GIL released, so with no
     * Python allocator (PyMem_* needs the GIL): blocks of 2 MiB and more
     * come from mmap with transparent huge pages (a million references
     * fault in a dozen pages, not six thousand), smaller ones from malloc. */
    static void *gdc_refs_alloc(size_t nbytes)
    {
    #if !defined(_WIN32) && defined(MAP_ANONYMOUS)
        if (nbytes >= ((size_t)2 << 20)) {
            void *p = mmap(NULL, nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                return NULL;
    #  if defined(MADV_HUGEPAGE)
            (void)madvise(p, nbytes, MADV_HUGEPAGE);
    #  endif
            return p;
        }
    #endif
        return malloc(nbytes ? nbytes : 1);
    }

    static void gdc_refs_free(void *p, size_t nbytes)
    {
        if (p == NULL)
            return;
    #if !defined(_WIN32) && defined(MAP_ANONYMOUS)
        if (nbytes >= ((size_t)2 << 20)) {
            munmap(p, nbytes);
            return;
        }
    #endif
        free(p);
    }
    """
    void *gdc_refs_alloc(size_t nbytes) noexcept nogil
    void gdc_refs_free(void *p, size_t nbytes) noexcept nogil

cdef extern from *:
    """
    /* Let a thread waiting for the GIL have it, called with the GIL released.
     * Releasing and at once retaking it is not enough: CPython's waiter asks
     * for the GIL only after a switch interval (5 ms) in which no one took it,
     * and the retaking counts as a switch, so a loop that does that every 2 ms
     * kept a reader waiting until the loop ended. 50 microseconds is time for
     * the waiter, woken by the release, to take it. */
    #if defined(_WIN32)
    #include <windows.h>
    static void gdc_yield(void) { Sleep(0); }
    #else
    #include <time.h>
    static void gdc_yield(void)
    {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    #endif
    """
    void gdc_yield() noexcept nogil

cdef extern from *:
    """
    /* CRC-32 (zlib's: reflected, polynomial 0xEDB88320), slicing by 8, with
     * the GIL held. zlib.crc32 and binascii.crc32 let the GIL go on buffers
     * over 5 KiB: beside a thread calling get in a loop, every frame of a
     * save then waited a switch interval (5 ms) to get it back. This costs
     * about a quarter of a millisecond per 128 KiB frame. A checksum, not a
     * cipher: the sealed format's integrity is AES-GCM's, from cryptography. */
    static uint32_t gdc_crc_table[8][256];

    static void gdc_crc_init(void)
    {
        uint32_t i, c;
        int k;
        for (i = 0; i < 256; i++) {
            c = i;
            for (k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            gdc_crc_table[0][i] = c;
        }
        for (i = 0; i < 256; i++) {
            c = gdc_crc_table[0][i];
            for (k = 1; k < 8; k++) {
                c = gdc_crc_table[0][c & 0xff] ^ (c >> 8);
                gdc_crc_table[k][i] = c;
            }
        }
    }

    static uint32_t gdc_crc32(uint32_t crc, const unsigned char *p, size_t n)
    {
        uint32_t (*t)[256] = gdc_crc_table;
        crc = ~crc;
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        while (n >= 8) {
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + 4, 4);
            a ^= crc;
            crc = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^ t[4][a >> 24]
                ^ t[3][b & 0xff] ^ t[2][(b >> 8) & 0xff] ^ t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
            p += 8;
            n -= 8;
        }
    #endif
        while (n--)
            crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
    }
    """
    void gdc_crc_init() noexcept
    uint32_t gdc_crc32(uint32_t crc, const unsigned char *p, size_t n) noexcept

gdc_crc_init()


def crc32(data, uint32_t crc=0):
    """zlib.crc32(data, crc), computed with the GIL held (see above); data is bytes or any contiguous buffer."""
    cdef const unsigned char[::1] view
    if type(data) is bytes:
        return gdc_crc32(crc, <const unsigned char *>PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data))
    view = memoryview(data).cast("B")
    if view.shape[0] == 0:
        return crc
    return gdc_crc32(crc, &view[0], <size_t>view.shape[0])


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define gdc_prefetch(p) __builtin_prefetch((const void *)(p), 1, 3)
    #else
    #define gdc_prefetch(p) ((void)(p))
    #endif
    """
    void gdc_prefetch(const void *p) noexcept nogil

cdef enum:
    PREFETCH_AHEAD = 8        # entries whose key and value headers are fetched ahead of the increfs
    RELEASE_CHUNK = 65536     # references released between two chances for other threads to run


ctypedef struct Ref:
    PyObject *key
    PyObject *value
    int64_t expires
    int64_t written         # Unix ns; 0: unknown or not tracked
    uint32_t origin         # index into the Refs' origin_ids (0: this instance); 0 unless the table syncs


@cython.final
@cython.auto_pickle(False)
cdef class Refs:
    """Strong references to a table's live entries at one instant; made by :func:`collect`."""
    cdef Ref *refs
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef readonly int64_t hlc          # the table's clock at the cut: no stamp in the refs is later
    cdef readonly int64_t hlc0         # its clock when the collection began (= hlc unless collected in chunks)
    cdef readonly list origin_ids      # origin index -> instance id at the cut (None: the table doesn't sync)

    def __cinit__(self):
        self.refs = NULL
        self.n = 0
        self.cap = 0
        self.hlc = 0
        self.hlc0 = 0
        self.origin_ids = None

    cdef int _reserve(self, Py_ssize_t cap) except -1:
        cdef Ref *p
        if cap <= self.cap:
            return 0
        p = <Ref *>gdc_refs_alloc(<size_t>cap * sizeof(Ref))
        if p == NULL:
            raise MemoryError()
        memset(p, 0, <size_t>cap * sizeof(Ref))
        if self.n:
            memcpy(p, self.refs, <size_t>self.n * sizeof(Ref))
        gdc_refs_free(self.refs, <size_t>self.cap * sizeof(Ref))
        self.refs = p
        self.cap = cap
        return 0

    @cython.critical_section
    def group(self):
        """Order the refs by origin (stably) and return [(instance id, start, stop)], for a table that syncs.

        A counting sort of the reference array with the GIL released: no
        reference count changes, so other threads run meanwhile.
        """
        if self.origin_ids is None:
            raise ValueError("these refs are of a table that does not sync: they have no origins")
        cdef Py_ssize_t norigins = len(self.origin_ids), i, n = self.n
        cdef Py_ssize_t *starts = <Py_ssize_t *>gdc_refs_alloc(<size_t>(norigins + 1) * sizeof(Py_ssize_t))
        cdef Ref *out = NULL
        cdef Ref *old
        cdef bint bad = False
        if starts == NULL:
            raise MemoryError()
        try:
            with nogil:
                memset(starts, 0, <size_t>(norigins + 1) * sizeof(Py_ssize_t))
                for i in range(n):
                    if self.refs[i].origin >= <uint32_t>norigins:
                        bad = True
                        break
                    starts[self.refs[i].origin + 1] += 1
                if not bad:
                    for i in range(norigins):
                        starts[i + 1] += starts[i]
                    out = <Ref *>gdc_refs_alloc(<size_t>(self.cap if self.cap else 1) * sizeof(Ref))
                    if out != NULL:
                        for i in range(n):
                            out[starts[self.refs[i].origin]] = self.refs[i]
                            starts[self.refs[i].origin] += 1
            if bad:
                raise ValueError("an origin out of range")
            if out == NULL:
                raise MemoryError()
            old = self.refs
            self.refs = out
            with nogil:   # unmapping a large array takes milliseconds: not while holding the GIL
                gdc_refs_free(old, <size_t>self.cap * sizeof(Ref))
            # starts[o] is now the end of origin o's run
            ranges = []
            for i in range(norigins):
                lo = starts[i - 1] if i > 0 else 0
                if starts[i] > lo:
                    ranges.append((self.origin_ids[i], lo, starts[i]))
            return ranges
        finally:
            gdc_refs_free(starts, <size_t>(norigins + 1) * sizeof(Py_ssize_t))

    def __dealloc__(self):
        cdef Py_ssize_t i
        cdef Ref *refs = self.refs
        cdef size_t nbytes = <size_t>self.cap * sizeof(Ref)
        for i in range(self.n):
            _decref(self.refs[i].key)
            _decref(self.refs[i].value)
        self.n = 0
        self.refs = NULL
        self.cap = 0
        with nogil:   # unmapping a large array takes milliseconds: not while holding the GIL
            gdc_refs_free(refs, nbytes)

    @cython.critical_section
    def release(self):
        """Drop every reference, letting other threads run between chunks (the refs are empty after)."""
        cdef Py_ssize_t i, n = self.n
        # Back to front, so that self.n always counts the references still held.
        while n > 0:
            for i in range(n - 1, max(n - RELEASE_CHUNK, 0) - 1, -1):
                self.n = i
                _decref(self.refs[i].key)
                _decref(self.refs[i].value)
            n = self.n
            if n:
                with nogil:
                    gdc_yield()

    def __len__(self):
        return self.n

    @cython.critical_section
    def __getitem__(self, Py_ssize_t i):
        if i < 0:
            i += self.n
        if i < 0 or i >= self.n:
            raise IndexError("Refs index out of range")
        return (<object>self.refs[i].key, <object>self.refs[i].value, self.refs[i].expires, self.refs[i].written)


def refs_of(entries):
    """Refs holding the given (key, value, expires_ns, written_ns) tuples, for encode_frame (tombstones)."""
    cdef Refs r = Refs.__new__(Refs)
    cdef list items = list(entries)
    cdef Py_ssize_t i
    cdef Ref *ref
    r._reserve(len(items) if items else 1)
    for item in items:
        key, value, expires, written = item
        ref = &r.refs[r.n]
        ref.expires = expires
        ref.written = written
        ref.origin = 0
        _incref(<PyObject *>key)
        _incref(<PyObject *>value)
        ref.key = <PyObject *>key
        ref.value = <PyObject *>value
        r.n += 1
    return r


@cython.critical_section
def collect(Table table not None, int64_t now, int64_t since=-1, Py_ssize_t chunk=0):
    """References to the entries of table live at ``now``, in table order.

    since >= 0: only the entries written here (origin 0) stamped after
    since: a syncing table's local changes. The refs' ``hlc`` is the
    table's clock at the cut, and ``origin_ids`` its instance ids.

    chunk > 0: not one cut but chunks of that many entry slots, other
    threads running in between (a million entries otherwise pause them for
    about 15 ms). Entries written meanwhile may be in or out, with their
    new or old value: ``hlc0`` is the clock before the first chunk, so a
    sync segment's cut is there (every change after it goes out again).
    If the table is resized or cleared in between, the collection starts
    over; after three restarts it finishes in one go.
    """
    cdef Refs r = Refs.__new__(Refs)
    cdef Py_ssize_t i, k = 0, n, cap
    cdef Ref *p
    cdef Entry *ep
    # The array is allocated and its pages touched with the GIL released, so
    # that the pause below is only the pass over the entries; the table may
    # grow meanwhile, hence the loop.
    while r.cap < (table._nentries if table._nentries > 0 else 1):
        cap = table._nentries + table._nentries // 8 + 1
        gdc_refs_free(r.refs, <size_t>r.cap * sizeof(Ref))
        r.refs = NULL
        r.cap = 0
        with nogil:
            p = <Ref *>gdc_refs_alloc(<size_t>cap * sizeof(Ref))
            if p != NULL:
                memset(p, 0, <size_t>cap * sizeof(Ref))
        if p == NULL:
            raise MemoryError()
        r.refs = p
        r.cap = cap
    r.hlc0 = table._hlc
    if chunk <= 0:
        chunk = PY_SSIZE_T_MAX
    cdef uint64_t moves = table._moves
    cdef Py_ssize_t start = 0, end, restarts = 0
    while True:
        n = min(table._nentries, r.cap)
        if start >= n:
            break
        end = start + chunk if chunk < n - start else n
        ep = table._entries
        # No Python code runs in this loop: the table can't change under it.
        for i in range(start, end):
            if since >= 0 and (table._origin_at(i) != 0 or table._stamp_of(i) <= since):
                continue
            if i + PREFETCH_AHEAD < end and ep[i + PREFETCH_AHEAD].key != NULL:
                gdc_prefetch(ep[i + PREFETCH_AHEAD].key)
                gdc_prefetch(ep[i + PREFETCH_AHEAD].value)
            if ep[i].key != NULL and (ep[i].expires == 0 or ep[i].expires > now):
                _incref(ep[i].key)
                _incref(ep[i].value)
                r.refs[k].key = ep[i].key
                r.refs[k].value = ep[i].value
                r.refs[k].expires = ep[i].expires
                r.refs[k].written = table._written[i] if table._written != NULL else 0
                r.refs[k].origin = table._origin_at(i)
                k += 1
                r.n = k
        start = end
        if start >= min(table._nentries, r.cap):
            break
        with nogil:
            gdc_yield()   # other threads run
        if table._moves != moves or table._nentries < start:
            # Resized, compacted or cleared: the entries moved. Start over (the refs taken are dropped).
            r.release()
            k = 0
            start = 0
            moves = table._moves
            restarts += 1
            if restarts >= 3:
                chunk = PY_SSIZE_T_MAX
            if table._nentries > r.cap:
                return collect(table, now, since)
    r.n = k
    r.hlc = table._hlc
    if table._sync:
        r.origin_ids = list(table._origin_ids)
    return r


cdef str _where(Py_ssize_t i, object key):
    # The key's type, not its value: messages end up in logs.
    return f"entry {i} (key of type {type(key).__qualname__})"


@cython.critical_section
def encode_frame(Refs refs not None, Py_ssize_t start, Py_ssize_t target, int64_t created_ns, bint allow_pickle,
                 bint write_times=False, int64_t stamp_base=-1, Py_ssize_t stop=-1):
    """Encode refs[start:stop] (stop -1: the end) until the payload reaches target bytes or the entries run out.

    Write times are written as their distance below stamp_base (-1: created_ns).

    Returns (payload, number of entries in it). An entry that does not encode
    raises TypeError or ValueError naming its position and key type.
    """
    cdef Buffer b, head
    cdef Py_ssize_t i = start, n_data = 0
    cdef Ref *ref
    cdef list objects = [] if allow_pickle else None
    cdef bytes data = None
    cdef char *out
    if stop < 0:
        stop = refs.n
    if start < 0 or start > stop or stop > refs.n:
        raise IndexError(f"start {start}, stop {stop} out of range for {refs.n} entries")
    cdef int64_t base = created_ns if stamp_base < 0 else stamp_base
    buffer_init(&b)
    buffer_init(&head)
    try:
        while i < stop:
            ref = &refs.refs[i]
            # refs holds a reference to both for as long as this call runs.
            key = <object>ref.key
            try:
                _encode_item(&b, key, 0, objects)
                _encode_item(&b, <object>ref.value, 0, objects)
            except TypeError as exc:
                raise TypeError(f"{_where(i, key)}: {exc}") from exc
            except ValueError as exc:
                raise ValueError(f"{_where(i, key)}: {exc}") from exc
            buffer_uvarint(&b, <uint64_t>(ref.expires - created_ns) if ref.expires else 0)
            if write_times:
                # 0: unknown; a write time after the cut (the clock stepped back) is written as the cut.
                buffer_uvarint(&b, 0 if ref.written == 0 else (
                    <uint64_t>(base - ref.written) + 1 if ref.written <= base else 1))
            i += 1
            if b.len >= target:
                break
        buffer_uvarint(&head, <uint64_t>len(objects) if objects else 0)
        if objects:
            try:
                data = _pickle_dumps(objects, protocol=5)
            except Exception as exc:
                raise TypeError(f"entries {start} to {i - 1}: a key or value does not pickle: {exc}") from exc
            n_data = PyBytes_GET_SIZE(data)
            buffer_uvarint(&head, <uint64_t>n_data)
        result = PyBytes_FromStringAndSize(NULL, head.len + n_data + b.len)
        out = PyBytes_AS_STRING(result)
        memcpy(out, head.data, <size_t>head.len)
        if n_data:
            memcpy(out + head.len, PyBytes_AS_STRING(data), <size_t>n_data)
        memcpy(out + head.len + n_data, b.data, <size_t>b.len)
        return result, i - start
    finally:
        buffer_free(&b)
        buffer_free(&head)


def decode_frame(payload, Py_ssize_t count, int64_t created_ns, int64_t now, int mode, sink, bint write_times=False,
                 budget=None, int64_t stamp_base=-1):
    """Decode the count entries of one frame's payload into sink (a table, a list or None).

    mode: what the frame's pickled objects become: REFUSE (an error),
    UNPICKLE (the objects), OPAQUE (``Pickled(None)`` placeholders). budget:
    bytes of objects the frame may still make, or None (trusted); see
    ``_frames_py.decode_frame``. Returns (entries live at ``now``, entries
    skipped as expired, budget left or None). Raises ValueError naming the
    entry and the byte offset within the payload (DecodeBudgetError when the budget ran out).
    """
    cdef Reader r
    cdef Py_ssize_t i
    cdef Py_ssize_t live = 0, expired = 0
    cdef uint64_t delta, age
    cdef int64_t expires, written
    cdef const unsigned char *at
    cdef Table table = None
    cdef list out = None
    cdef uint64_t n_objects, size
    cdef Py_ssize_t n_payload
    if type(payload) is not bytes:
        raise TypeError(f"payload must be bytes, got {type(payload).__qualname__}")
    cdef int64_t base = created_ns if stamp_base < 0 else stamp_base
    if mode != REFUSE and mode != UNPICKLE and mode != OPAQUE:
        raise ValueError(f"mode must be REFUSE, UNPICKLE or OPAQUE, got {mode}")
    if isinstance(sink, Table):
        table = <Table>sink
    elif type(sink) is list:
        out = <list>sink
    elif sink is not None:
        raise TypeError(f"sink must be a compiled table, a list or None, got {type(sink).__qualname__}")
    # payload is a bytes object this call holds: its buffer can't move.
    n_payload = PyBytes_GET_SIZE(payload)
    reader_init(&r, <const unsigned char *>PyBytes_AS_STRING(payload), n_payload)
    if budget is not None:
        r.budget = <Py_ssize_t>budget
    # The frame's pickled objects, as the decoder's unpickler argument.
    _read_uvarint(&r, &n_objects)
    if not n_objects:
        objects = None if mode == REFUSE else []
    elif mode == REFUSE:
        raise ValueError(f"{_PICKLE_REFUSED} (the frame holds {n_objects} pickled objects, at byte 0)")
    else:
        at = r.pos
        _read_uvarint(&r, &size)
        if size > <uint64_t>(r.end - r.pos) or n_objects > size:
            raise ValueError(f"pickled objects: {n_objects} in {size} bytes declared, "
                             f"{r.end - r.pos} bytes remain, at byte {at - r.start}")
        if mode == OPAQUE:
            objects = [Pickled(None)] * <Py_ssize_t>n_objects
        else:
            pickled = PyBytes_FromStringAndSize(<const char *>r.pos, <Py_ssize_t>size)
            try:
                objects = _pickle_loads(pickled)
            except Exception as exc:
                raise ValueError(
                    f"invalid pickled objects ({type(exc).__name__}: {exc}), at byte {at - r.start}") from exc
            if type(objects) is not list or len(objects) != n_objects:
                raise ValueError(f"pickled objects are not a list of {n_objects}, at byte {at - r.start}")
        r.pos += size
        r.budget -= 8 * <Py_ssize_t>n_objects
        if r.budget < 0:
            raise _over_budget(&r, r.start)
    for i in range(count):
        try:
            r.budget -= COST_ENTRY
            key = _decode_item(&r, 0, objects)
            value = _decode_item(&r, 0, objects)
            at = r.pos
            _read_uvarint(&r, &delta)
            age = 0
            if write_times:
                _read_uvarint(&r, &age)
        except DecodeBudgetError as exc:
            raise DecodeBudgetError(f"entry {i} of {count}: {exc}", exc.overdraft, exc.offset, i) from None
        except ValueError as exc:
            raise ValueError(f"entry {i} of {count}: {exc}") from None
        written = 0
        if age:
            if age - 1 > <uint64_t>base:
                raise ValueError(f"entry {i} of {count}: write time out of range, at byte {at - r.start}")
            written = base - <int64_t>(age - 1)
        expires = 0
        if delta:
            if delta > <uint64_t>(INT64_MAX - created_ns):
                raise ValueError(f"entry {i} of {count}: expiry out of range, at byte {at - r.start}")
            expires = created_ns + <int64_t>delta
            if expires <= now:
                expired += 1
                continue
        if table is not None:
            try:
                table._store_at(key, value, expires, written)
            except TypeError as exc:
                raise ValueError(f"entry {i} of {count}: unusable key of type {type(key).__qualname__} ({exc})") from None
        elif out is not None:
            out.append((key, value, expires))
        live += 1
    if r.pos != r.end:
        raise ValueError(f"trailing bytes: {r.end - r.pos} after the last of {count} entries, at byte {r.pos - r.start}")
    return live, expired, None if budget is None else r.budget


def merge(Table dst not None, Table src not None, bint newer=False):
    """Store every live entry of src into dst, with its expiry and write time.

    On a key both hold, src's entry wins; with newer, only if it was not
    written before dst's (write times, 0 when unknown).
    """
    # The entries are collected first: storing runs keys' __eq__, which may change src.
    cdef Refs refs = collect(src, src._now_ns())
    cdef Py_ssize_t i
    cdef Ref *ref
    for i in range(refs.n):
        ref = &refs.refs[i]
        if newer and dst._written_of(<object>ref.key) > ref.written:
            continue
        dst._store_at(<object>ref.key, <object>ref.value, ref.expires, ref.written)



def merge_sync(Table dst not None, Table src not None, str origin not None):
    """Merge every live entry of src, written by the instance origin, into the syncing dst: last writer wins.

    Returns (entries stored, entries refused as older than what dst knows of their keys).
    """
    if dst._syncs is None:
        raise ValueError("only a syncing table merges (see _track_changes)")
    # The entries are collected first: storing runs keys' __eq__, which may change src.
    cdef int64_t now = _now_ns()
    cdef Refs refs = collect(src, now)
    cdef uint32_t o = dst._origin_of(origin)
    cdef Py_ssize_t i, stored = 0
    cdef Ref *ref
    for i in range(refs.n):
        ref = &refs.refs[i]
        stored += dst._merge_at(<object>ref.key, <object>ref.value, ref.expires, ref.written, o, now)
    return stored, refs.n - stored
