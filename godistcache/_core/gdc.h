/* Small C helpers for the compiled core: the wall clock, large-table
 * allocation, and str fast paths. Everything here is static inline so each
 * extension module gets its own copy and nothing is exported. */
#ifndef GDC_H
#define GDC_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(_WIN32)
#  include <windows.h>
#else
#  include <time.h>
#  include <sys/mman.h>
#endif

/* The free-threaded build (3.13t+, GIL off): shared words that are read
 * without a lock are read and written with relaxed atomics, so a reader sees
 * a whole word (and ThreadSanitizer sees no data race). Plain accesses when
 * the GIL serialises them. */
#ifdef Py_GIL_DISABLED
#  define GDC_FREE_THREADED 1
#  define GDC_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#  define GDC_STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#else
#  define GDC_FREE_THREADED 0
#  define GDC_LOAD_RELAXED(p) (*(p))
#  define GDC_STORE_RELAXED(p, v) (*(p) = (v))
#endif

/* What the decode budget adds to its charge for each object it makes
 * (_budget.OBJECT_EXTRA): the free-threaded build's object header is 16
 * bytes larger (a float is 40 bytes there, not 24). */
#ifdef Py_GIL_DISABLED
#  define GDC_OBJECT_EXTRA 16
#else
#  define GDC_OBJECT_EXTRA 0
#endif
/* And a tuple, from 3.14, caches its hash in itself: 8 bytes more
 * (_budget.TUPLE_EXTRA). */
#if PY_VERSION_HEX >= 0x030E0000
#  define GDC_TUPLE_EXTRA 8
#else
#  define GDC_TUPLE_EXTRA 0
#endif

/* Unix wall time in nanoseconds. Wall time, not a monotonic clock, because
 * expiry times travel inside snapshots to other machines and processes. */
static inline int64_t gdc_wall_ns(void)
{
#if defined(_WIN32)
    FILETIME ft;
    ULARGE_INTEGER u;
    GetSystemTimePreciseAsFileTime(&ft);
    u.LowPart = ft.dwLowDateTime;
    u.HighPart = ft.dwHighDateTime;
    /* 100 ns ticks since 1601-01-01 */
    return ((int64_t)u.QuadPart - INT64_C(116444736000000000)) * 100;
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + (int64_t)ts.tv_nsec;
#endif
}

/* The expiry clock: gdc_wall_ns() extrapolated with the CPU's time-stamp
 * counter. clock_gettime(CLOCK_REALTIME) costs ~20 ns even through the vDSO
 * (it reads the TSC too, under a seqlock), which doubles the cost of a cache
 * hit; rdtsc alone costs less than half. The TSC is mapped to wall time by a
 * pair of readings and re-synchronised at least every millisecond, so the
 * clock follows the system clock (and its steps) to within microseconds.
 * Used only where the TSC is invariant (constant rate, runs in sleep states);
 * elsewhere, and whenever a reading looks wrong, it is plain gdc_wall_ns().
 * The state is per module: updated with the GIL held, or, when the GIL is
 * off, by one thread at a time under a sequence lock (gdc_tsc_publish). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#  define GDC_HAVE_TSC 1
#  include <x86intrin.h>
#  include <cpuid.h>
#else
#  define GDC_HAVE_TSC 0
#endif

typedef struct {
    int state;              /* 0 unknown, -1 TSC unusable, 1 no anchor, 3 anchored, 2 running */
    uint64_t tsc0;          /* counter at the last synchronisation */
    int64_t wall0;          /* wall time at the last synchronisation */
    uint64_t ns_per_tick_q32;   /* ns per tick, fixed point with 32 fraction bits */
    uint64_t max_ticks;     /* extrapolate at most this far past tsc0 (1 ms) */
    /* Free-threaded build only: a sequence lock. seq is odd while the one
     * thread holding `writing` republishes the fields; a reader that sees it
     * odd or changed falls back to gdc_wall_ns(). Under the GIL both stay 0. */
    uint32_t seq;
    int writing;
} gdc_tsc_clock_t;

static gdc_tsc_clock_t gdc_tsc_clock = {0, 0, 0, 0, 0, 0, 0};

#if GDC_HAVE_TSC
static int gdc_tsc_invariant(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
        return 0;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return (d >> 8) & 1;
}

/* One (tsc, wall) pair taken close together: 0 when no close pair was had. */
static int gdc_tsc_pair(uint64_t *tsc, int64_t *wall)
{
    int tries;
    for (tries = 0; tries < 4; tries++) {
        uint64_t t1 = __rdtsc();
        int64_t w = gdc_wall_ns();
        uint64_t t2 = __rdtsc();
        if (t2 > t1 && t2 - t1 < 20000) {   /* well under 20 us on any clock rate */
            *tsc = t1 + (t2 - t1) / 2;
            *wall = w;
            return 1;
        }
    }
    return 0;
}

/* Republish the clock's fields (n, a private copy). Free-threaded: inside
 * the sequence lock, which the caller holds through `writing`. */
static void gdc_tsc_publish(const gdc_tsc_clock_t *n)
{
    gdc_tsc_clock_t *c = &gdc_tsc_clock;
#if GDC_FREE_THREADED
    uint32_t s = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&c->seq, s + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
    GDC_STORE_RELAXED(&c->state, n->state);
    GDC_STORE_RELAXED(&c->tsc0, n->tsc0);
    GDC_STORE_RELAXED(&c->wall0, n->wall0);
    GDC_STORE_RELAXED(&c->ns_per_tick_q32, n->ns_per_tick_q32);
    GDC_STORE_RELAXED(&c->max_ticks, n->max_ticks);
#if GDC_FREE_THREADED
    __atomic_store_n(&c->seq, s + 2, __ATOMIC_RELEASE);
#endif
}

static int64_t gdc_tsc_resync_locked(void)
{
    gdc_tsc_clock_t n;
    uint64_t tsc;
    int64_t wall;
    double scale;
    /* Only this thread writes the fields now: plain (relaxed) reads of them are current. */
    n.state = GDC_LOAD_RELAXED(&gdc_tsc_clock.state);
    n.tsc0 = GDC_LOAD_RELAXED(&gdc_tsc_clock.tsc0);
    n.wall0 = GDC_LOAD_RELAXED(&gdc_tsc_clock.wall0);
    n.ns_per_tick_q32 = GDC_LOAD_RELAXED(&gdc_tsc_clock.ns_per_tick_q32);
    n.max_ticks = GDC_LOAD_RELAXED(&gdc_tsc_clock.max_ticks);
    if (n.state == 0) {
        n.state = gdc_tsc_invariant() ? 1 : -1;
        gdc_tsc_publish(&n);
    }
    if (n.state < 0 || !gdc_tsc_pair(&tsc, &wall))
        return gdc_wall_ns();
    if (n.state == 1 || tsc <= n.tsc0 || wall <= n.wall0) {
        /* no anchor yet, or the counter or the clock went back: anchor here */
        n.state = 3;
        n.max_ticks = 0;
        n.tsc0 = tsc;
        n.wall0 = wall;
        gdc_tsc_publish(&n);
        return wall;
    }
    if (tsc - n.tsc0 < 100000)     /* too short a window to measure the rate */
        return wall;
    scale = (double)(wall - n.wall0) / (double)(tsc - n.tsc0);
    if (scale > 0.02 && scale < 20.0) {     /* 50 MHz .. 50 GHz: else a clock step */
        n.ns_per_tick_q32 = (uint64_t)(scale * 4294967296.0);
        n.max_ticks = (uint64_t)(1e6 / scale);
        n.state = 2;
    } else {
        n.max_ticks = 0;
        n.state = 3;
    }
    n.tsc0 = tsc;
    n.wall0 = wall;
    gdc_tsc_publish(&n);
    return wall;
}

static int64_t gdc_tsc_resync(void)
{
#if GDC_FREE_THREADED
    int64_t now;
    /* One thread resynchronises; the others read the system clock meanwhile. */
    if (__atomic_exchange_n(&gdc_tsc_clock.writing, 1, __ATOMIC_ACQUIRE))
        return gdc_wall_ns();
    now = gdc_tsc_resync_locked();
    __atomic_store_n(&gdc_tsc_clock.writing, 0, __ATOMIC_RELEASE);
    return now;
#else
    return gdc_tsc_resync_locked();
#endif
}
#endif

static inline int64_t gdc_now_ns(void)
{
#if GDC_HAVE_TSC
    gdc_tsc_clock_t *c = &gdc_tsc_clock;
#  if GDC_FREE_THREADED
    uint32_t s = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
    uint64_t tsc0 = __atomic_load_n(&c->tsc0, __ATOMIC_RELAXED);
    uint64_t max_ticks = __atomic_load_n(&c->max_ticks, __ATOMIC_RELAXED);
    uint64_t q32 = __atomic_load_n(&c->ns_per_tick_q32, __ATOMIC_RELAXED);
    int64_t wall0 = __atomic_load_n(&c->wall0, __ATOMIC_RELAXED);
    uint64_t d;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if ((s & 1) == 0 && __atomic_load_n(&c->seq, __ATOMIC_RELAXED) == s) {
        d = __rdtsc() - tsc0;
        if (d < max_ticks)
            return wall0 + (int64_t)((d * q32) >> 32);
    }
    return gdc_tsc_resync();
#  else
    uint64_t d = __rdtsc() - c->tsc0;
    /* d < max_ticks (1 ms), so d * ns_per_tick_q32 < 1e6 * 2**32: no overflow */
    if (d < c->max_ticks)
        return c->wall0 + (int64_t)((d * c->ns_per_tick_q32) >> 32);
    return gdc_tsc_resync();
#  endif
#else
    return gdc_wall_ns();
#endif
}

static inline int gdc_clock_uses_tsc(void)
{
    return GDC_LOAD_RELAXED(&gdc_tsc_clock.state) == 2;
}

static inline int64_t gdc_clock_resolution_ns(void)
{
#if defined(_WIN32)
    return 100;
#else
    struct timespec ts;
    if (clock_getres(CLOCK_REALTIME, &ts) != 0)
        return 1000;
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + (int64_t)ts.tv_nsec;
#endif
}

/* Tables of 2 MiB and up get their own zero-filled mapping and, on Linux,
 * transparent huge pages: a lookup in a table of a million entries touches
 * two random cache lines, and with 4 KiB pages each of them is also a TLB
 * miss. Smaller blocks come zeroed from PyMem_Calloc. */
#define GDC_BIG_BLOCK ((size_t)2 << 20)

static inline void *gdc_calloc(size_t nbytes)
{
#if !defined(_WIN32) && defined(MAP_ANONYMOUS)
    if (nbytes >= GDC_BIG_BLOCK) {
        void *p = mmap(NULL, nbytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
#  if defined(MADV_HUGEPAGE)
        (void)madvise(p, nbytes, MADV_HUGEPAGE);
#  endif
        return p;
    }
#endif
    return PyMem_Calloc(1, nbytes ? nbytes : 1);
}

/* Like gdc_calloc, but small blocks are not zeroed: for the entry array,
 * whose slots are written before they are read. */
static inline void *gdc_malloc(size_t nbytes)
{
#if !defined(_WIN32) && defined(MAP_ANONYMOUS)
    if (nbytes >= GDC_BIG_BLOCK)
        return gdc_calloc(nbytes);
#endif
    return PyMem_Malloc(nbytes ? nbytes : 1);
}

static inline void gdc_free(void *p, size_t nbytes)
{
    if (p == NULL)
        return;
#if !defined(_WIN32) && defined(MAP_ANONYMOUS)
    if (nbytes >= GDC_BIG_BLOCK) {
        munmap(p, nbytes);
        return;
    }
#endif
    PyMem_Free(p);
}

/* hash(key) without a function call for an exact str whose hash is cached. */
static inline Py_hash_t gdc_hash(PyObject *key)
{
    if (PyUnicode_CheckExact(key)) {
        Py_hash_t h = GDC_LOAD_RELAXED(&((PyASCIIObject *)key)->hash);
        if (h != -1)
            return h;
    }
    return PyObject_Hash(key);
}

/* 2**64 / golden ratio: multiplying by it spreads hashes over the index. */
#define GDC_GOLDEN UINT64_C(0x9E3779B97F4A7C15)

static inline int gdc_both_exact_str(PyObject *a, PyObject *b)
{
    return PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b);
}

/* Equality of two exact str objects: never runs Python code. */
static inline int gdc_str_eq(PyObject *a, PyObject *b)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    if (n != PyUnicode_GET_LENGTH(b) || PyUnicode_KIND(a) != PyUnicode_KIND(b))
        return 0;
    return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b),
                  (size_t)n * PyUnicode_KIND(a)) == 0;
}

/* The PyMethodDef behind a method descriptor, to make a new descriptor of
 * the same C function for a subclass (see _table_c.own_methods). */
static inline PyMethodDef *gdc_descr_method(PyObject *descr)
{
    return ((PyMethodDescrObject *)descr)->d_method;
}

/* Cython cannot declare tp_traverse/tp_clear itself; the table installs its
 * own at import, chaining to the ones Cython generated. */
static inline void gdc_set_gc(PyTypeObject *tp, traverseproc trav, inquiry clear)
{
    tp->tp_traverse = trav;
    tp->tp_clear = clear;
}
static inline traverseproc gdc_get_traverse(PyTypeObject *tp) { return tp->tp_traverse; }
static inline inquiry gdc_get_clear(PyTypeObject *tp) { return tp->tp_clear; }

/* hash(tuple) fed one item at a time, so the hash of (a, b, *args) needs no
 * tuple: CPython's tuplehash (xxHash-based, the same in 3.8 .. 3.14).
 * start, one step per item's hash (never -1), then end with the length. */
#if SIZEOF_PY_HASH_T > 4
#  define GDC_XXPRIME_1 ((Py_uhash_t)11400714785074694791ULL)
#  define GDC_XXPRIME_2 ((Py_uhash_t)14029467366897019727ULL)
#  define GDC_XXPRIME_5 ((Py_uhash_t)2870177450012600261ULL)
#  define GDC_XXROTATE(x) (((x) << 31) | ((x) >> 33))
#else
#  define GDC_XXPRIME_1 ((Py_uhash_t)2654435761UL)
#  define GDC_XXPRIME_2 ((Py_uhash_t)2246822519UL)
#  define GDC_XXPRIME_5 ((Py_uhash_t)374761393UL)
#  define GDC_XXROTATE(x) (((x) << 13) | ((x) >> 19))
#endif

static inline Py_uhash_t gdc_tuplehash_start(void) { return GDC_XXPRIME_5; }

static inline Py_uhash_t gdc_tuplehash_step(Py_uhash_t acc, Py_hash_t lane)
{
    acc += (Py_uhash_t)lane * GDC_XXPRIME_2;
    acc = GDC_XXROTATE(acc);
    return acc * GDC_XXPRIME_1;
}

static inline Py_hash_t gdc_tuplehash_end(Py_uhash_t acc, Py_ssize_t len)
{
    acc += (Py_uhash_t)len ^ (GDC_XXPRIME_5 ^ 3527539UL);
    if (acc == (Py_uhash_t)-1)
        return 1546275796;
    return (Py_hash_t)acc;
}

/* Counters bumped without a lock: a plain increment under the GIL, a relaxed
 * atomic add when the GIL is off (3.13t+). */
static inline void gdc_count(uint64_t *p)
{
#ifdef Py_GIL_DISABLED
    (void)__atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
#else
    *p += 1;
#endif
}

static inline uint64_t gdc_count_read(uint64_t *p)
{
#ifdef Py_GIL_DISABLED
    return __atomic_load_n(p, __ATOMIC_RELAXED);
#else
    return *p;
#endif
}

/* The PyMethodDef of a builtin (bound) method, or NULL: tells which C
 * function a bound method calls. */
static inline PyMethodDef *gdc_cfunction_method(PyObject *f)
{
    return PyCFunction_Check(f) ? ((PyCFunctionObject *)f)->m_ml : NULL;
}

/* Cython's __call__ builds a dict of keyword arguments on every call, even
 * when there are none: memoize's compiled function installs its own tp_call. */
static inline void gdc_set_call(PyTypeObject *tp, ternaryfunc call)
{
    tp->tp_call = call;
}

/* A hint that *p will be read soon: the bounded store fetches its next victim's lines ahead. */
#if defined(__GNUC__) || defined(__clang__)
#define gdc_prefetch(p) __builtin_prefetch((const void *)(p))
#else
#define gdc_prefetch(p) ((void)(p))
#endif

#endif /* GDC_H */
