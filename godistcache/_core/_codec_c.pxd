# cython: language_level=3
# Declarations of the compiled value codec, so other compiled modules (the
# snapshot writer) can encode into and decode from buffers of their own.
# The buffer helpers are inline here so each module gets its own copy; the
# item codecs are exported by _codec_c and called through its C-API table.

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport uint64_t
from libc.string cimport memcpy


cdef enum:
    BUFFER_INLINE = 240     # small values never touch the allocator
    MAX_VARINT = 10         # bytes of a 64-bit varint


# Never copy a Buffer by value: data may point into its own inline storage.
ctypedef struct Buffer:
    unsigned char *data
    Py_ssize_t len
    Py_ssize_t cap
    unsigned char small[BUFFER_INLINE]


ctypedef struct Reader:
    const unsigned char *pos
    const unsigned char *end
    const unsigned char *start     # error messages count offsets from here
    Py_ssize_t budget              # bytes of objects still allowed (the decode budget: _budget)


cdef inline void buffer_init(Buffer *b) noexcept:
    b.data = b.small
    b.len = 0
    b.cap = BUFFER_INLINE


cdef inline void buffer_free(Buffer *b) noexcept:
    if b.data != b.small:
        PyMem_Free(b.data)
    buffer_init(b)


cdef inline int buffer_grow(Buffer *b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t need, cap
    cdef unsigned char *p
    if extra > PY_SSIZE_T_MAX - b.len:
        raise MemoryError()
    need = b.len + extra
    cap = b.cap
    while cap < need:
        cap = need if cap > PY_SSIZE_T_MAX // 2 else cap * 2
    if b.data == b.small:
        p = <unsigned char *>PyMem_Malloc(<size_t>cap)
        if p != NULL:
            memcpy(p, b.small, <size_t>b.len)
    else:
        p = <unsigned char *>PyMem_Realloc(b.data, <size_t>cap)
    if p == NULL:
        raise MemoryError()
    b.data = p
    b.cap = cap
    return 0


cdef inline int buffer_reserve(Buffer *b, Py_ssize_t extra) except -1:
    if extra > b.cap - b.len:
        return buffer_grow(b, extra)
    return 0


# The *_unsafe writers need room reserved beforehand.

cdef inline void buffer_byte_unsafe(Buffer *b, unsigned char c) noexcept:
    b.data[b.len] = c
    b.len += 1


cdef inline void buffer_uvarint_unsafe(Buffer *b, uint64_t v) noexcept:
    cdef unsigned char *p = b.data + b.len
    while v >= 0x80:
        p[0] = <unsigned char>(v | 0x80)
        p += 1
        v >>= 7
    p[0] = <unsigned char>v
    b.len = p + 1 - b.data


cdef inline int buffer_byte(Buffer *b, unsigned char c) except -1:
    if b.len == b.cap:
        buffer_grow(b, 1)
    b.data[b.len] = c
    b.len += 1
    return 0


cdef inline int buffer_uvarint(Buffer *b, uint64_t v) except -1:
    buffer_reserve(b, MAX_VARINT)
    buffer_uvarint_unsafe(b, v)
    return 0


cdef inline int buffer_append(Buffer *b, const void *src, Py_ssize_t n) except -1:
    buffer_reserve(b, n)
    memcpy(b.data + b.len, src, <size_t>n)
    b.len += n
    return 0


cdef inline void reader_init(Reader *r, const unsigned char *data, Py_ssize_t n) noexcept:
    r.start = data
    r.pos = data
    r.end = data + n
    r.budget = PY_SSIZE_T_MAX     # not budgeted (trusted) unless the caller sets one


# Charged once per snapshot entry besides its key and value (_budget.COST_ENTRY).
cdef enum:
    COST_ENTRY = 48

# The DecodeBudgetError for a reader whose budget ran out at the item at start.
cdef object _over_budget(Reader *r, const unsigned char *start)


# Encode one item (tag and payload) onto b. depth counts the containers
# around obj: 0 for a top-level value. pickler: see _encode_py.encode_into.
cdef int _encode_item(Buffer *b, object obj, int depth, object pickler) except -1

# Decode one item at r.pos and advance past it. unpickler: see _codec_py.decode_at.
cdef object _decode_item(Reader *r, int depth, object unpickler)

# A uvarint at r.pos.
cdef int _read_uvarint(Reader *r, uint64_t *out) except -1
