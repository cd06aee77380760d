# cython: language_level=3
# Declarations of the compiled table, so other compiled modules (the snapshot
# codec) can walk its entries directly.

from cpython.object cimport PyObject
from libc.stdint cimport int64_t, uint32_t, uint64_t


ctypedef struct Entry:
    PyObject *key          # NULL: deleted
    PyObject *value
    Py_hash_t hash
    int64_t expires        # Unix ns; 0: never


cdef class Table:
    cdef Entry *_entries       # dense, in insertion order
    cdef int64_t *_written     # each entry's write time (Unix ns, 0 unknown), beside _entries; NULL unless _track
    cdef bint _track           # write times are kept
    cdef readonly uint64_t _hits     # get and [] that found a live entry
    cdef readonly uint64_t _misses   # get and [] that did not
    cdef readonly uint64_t _puts     # entries written (new or replaced)
    cdef readonly uint64_t _deletes  # live entries deleted
    cdef readonly uint64_t _expired  # expired entries freed
    cdef Py_ssize_t _sweep_pos # the sweeper's cursor into _entries
    cdef uint32_t *_index      # low bits: 0 empty, 1 deleted, else entry + 2; high bits: hash tag
    cdef Py_ssize_t _size      # index slots, a power of two
    cdef int _shift            # 64 - log2(_size)
    cdef uint32_t _idxmask     # bits of a slot that hold entry + 2
    cdef Py_ssize_t _usable    # capacity of _entries
    cdef Py_ssize_t _nentries  # filled prefix of _entries
    cdef Py_ssize_t _used      # entries not deleted (live, or expired not yet freed)
    cdef int64_t _min_expires  # lower bound of every expiry in the table
    cdef readonly int64_t _default_ttl_ns
    cdef uint64_t _version     # bumped when the live key set or the layout changes
    cdef object _default_ttl
    cdef object __weakref__

    cdef int _eq_slow(self, Entry *ep, object key) except -1
    cdef int _store_at(self, object key, object value, int64_t expires, int64_t written) except -1
    cdef int64_t _written_of(self, object key) except -2
    cdef int _resize(self, Py_ssize_t minused) except -1
    cdef int _delete(self, object key) except -1
    cdef Py_ssize_t _purge(self) except -1
    cdef int _bury(self, Py_ssize_t ix, list grave) except -1
    cdef Py_ssize_t _find_free(self, Py_hash_t h) noexcept
    cdef Py_ssize_t _slot_of_entry(self, Py_ssize_t ix) noexcept
    cdef void _unlink_slot(self, Py_ssize_t slot) noexcept
    cdef void _drop_slot(self, Py_ssize_t slot) noexcept
    cdef void _free_arrays(self) noexcept
    cdef void _clear_all(self) noexcept
