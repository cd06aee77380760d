# cython: language_level=3
# Declarations of the compiled table, so other compiled modules (the snapshot
# codec) can walk its entries directly.

from cpython.object cimport PyObject
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t


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
    cdef Py_ssize_t _last_ix   # the entry the latest store wrote (put_safe reads it back; check its key)
    cdef uint64_t _version     # bumped when the live key set or the layout changes
    cdef readonly uint64_t _moves    # bumped when the entries move (resize, clear, swap): positions change
    cdef object _default_ttl
    cdef object _timer         # None: expiry by the wall clock; else a callable giving the time (see _now)
    cdef object __weakref__
    # -- change capture for sync (see "Sync" in _table_c.pyx); off unless _sync --
    cdef bint _sync            # local changes, tombstones and origins are kept
    cdef uint32_t *_origin     # each entry's origin: 0 written here, else an index into _origin_ids; NULL unless _sync
    cdef readonly int64_t _hlc # hybrid logical clock: the latest stamp given or seen
    cdef int64_t _skew         # ns added to the wall clock for stamps (a test hook for skewed machines)
    cdef list _origin_ids      # origin index -> instance id; [0] is this instance's
    cdef dict _origin_index    # instance id -> origin index
    cdef dict _tombs           # deleted key -> (stamp, origin)
    cdef readonly int64_t _floor     # stamp of the latest clear seen: older writes are gone
    cdef uint32_t _floor_origin
    # -- the size bound (S3-FIFO; see _table_c.pyx) and the listener --------
    cdef bint _bounded         # max_size or max_weight set
    cdef bint _slow            # bounded or a listener: stores take the out-of-line tail
    cdef uint8_t *_pol         # per entry slot: bits 0-1 frequency, bit 2 in main; NULL unless bounded
    cdef int64_t *_weights     # per entry slot weight; NULL unless a weigher
    cdef uint32_t *_ghost      # fingerprints of keys evicted from the small queue, buckets of 4
    cdef Py_ssize_t _ghost_buckets   # a power of two; 0 until the first ghost
    cdef uint32_t _ghost_ctr   # ghosts recorded: picks the slot a new ghost replaces
    cdef Py_ssize_t _max_size  # PY_SSIZE_T_MAX: no bound on entries
    cdef int64_t _max_weight   # INT64_MAX: no bound on weight
    cdef readonly int64_t _weight    # total weight of the entries
    cdef Py_ssize_t _nsmall    # entries in the small queue
    cdef Py_ssize_t _small_hand      # every entry before it is out of the small queue
    cdef Py_ssize_t _main_hand       # the main queue's clock hand
    cdef Py_ssize_t _since_purge     # stores that had to evict since the last full purge
    cdef object _weigher
    cdef object _on_evict
    cdef readonly uint64_t _evicted  # entries evicted by the size bound

    cdef int _eq_slow(self, Entry *ep, object key) except -1
    cdef object _get_parts(self, object first, object second, tuple args, Py_hash_t h, object default,
                           object unsure)
    cdef int _store_at(self, object key, object value, int64_t expires, int64_t written) except -1
    cdef int64_t _stamp_of(self, Py_ssize_t ix) noexcept
    cdef uint32_t _origin_at(self, Py_ssize_t ix) noexcept
    cdef int64_t _written_of(self, object key) except -2
    cdef int _resize(self, Py_ssize_t minused) except -1
    cdef int _delete(self, object key, PyObject **value=*) except -1
    cdef object _pop(self, object key, object default)
    cdef Py_ssize_t _purge(self) except -1
    cdef Py_ssize_t _purge_into(self, int64_t now, list grave) except -1
    cdef int _bury(self, Py_ssize_t ix, list grave, object cause) except -1
    cdef Py_ssize_t _find_free(self, Py_hash_t h) noexcept
    cdef Py_ssize_t _slot_of_entry(self, Py_ssize_t ix) noexcept
    cdef void _unlink_slot(self, Py_ssize_t slot) noexcept
    cdef int _drop_slot(self, Py_ssize_t slot, object cause) except -1
    cdef int _notify(self, object key, object value, object cause) except -1
    cdef int _deliver(self, list grave) except -1
    cdef int64_t _weigh(self, object key, object value) except -1
    cdef int _policy_insert(self, Py_ssize_t ix, Py_hash_t h) noexcept
    cdef Py_ssize_t _small_victim(self, Py_ssize_t protect, int64_t now) noexcept
    cdef Py_ssize_t _main_victim(self, Py_ssize_t protect, int64_t now) noexcept
    cdef int _evict_one(self, Py_ssize_t protect, int64_t now, PyObject **k, PyObject **v) except -1
    cdef object _make_room(self, Py_ssize_t protect, int64_t now, PyObject **k1, PyObject **v1, int *evicted1)
    cdef int _ghost_add(self, Py_hash_t h) noexcept
    cdef bint _ghost_take(self, Py_hash_t h) noexcept
    cdef void _free_arrays(self) noexcept
    cdef void _free_side_arrays(self) noexcept
    cdef void _set_empty(self) noexcept
    cdef void _drop_ghost(self) noexcept
    cdef void _clear_all(self) noexcept
    cdef uint32_t _origin_of(self, str instance_id) except? 0xFFFFFFFF
    cdef int _newer(self, int64_t s1, uint32_t o1, int64_t s2, uint32_t o2) except -1
    cdef int _merge_at(self, object key, object value, int64_t expires, int64_t stamp, uint32_t origin,
                       int64_t now) except -1
