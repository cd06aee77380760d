# cython: language_level=3, embedsignature=True, binding=False, boundscheck=False, wraparound=False, freethreading_compatible=True
"""The compiled sealing core: the twin of ``godistcache._core._seal_py``
(``KeyringCore`` and ``CryptMethods.put_crypt``/``get_crypt``).

Only the framing is here: the kind byte and payload of a plaintext, the
associated data that binds a value to its cache key, the nonce, and the blob
``0x01 | key id (4) | nonce (12) | ciphertext + tag``. AES-GCM itself is
``cryptography``'s ``AESGCM``, called through its ``encrypt``/``decrypt``
(with ``bytes`` arguments: ``cryptography`` 48 reads ``bytes`` directly,
while any other buffer, and so the writable output of
``encrypt_into``/``decrypt_into``, costs it about 100 ns more than the copy
it would save). Their C functions are called directly when AESGCM's methods
are plain method descriptors (as they are), else through the bound methods.

Both twins write and read the same bytes: a value sealed by either opens
with the other.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from godistcache._core._codec_c cimport (
    Buffer, Reader, buffer_append, buffer_byte, buffer_free, buffer_init, reader_init,
    _decode_item, _encode_item,
)
from godistcache._core._table_c cimport Table

import os as _os
import types as _types

from cryptography.exceptions import InvalidTag

from godistcache.errors import DecryptionError

__all__ = ["KeyringCore", "aad", "own_sealed_methods"]


cdef extern from "Python.h":
    ctypedef struct PyMethodDef:
        const char *ml_name
        void *ml_meth
        int ml_flags
    ctypedef struct PyMethodDescrObject:
        PyTypeObject *d_type "d_common.d_type"
        PyMethodDef *d_method
    ctypedef struct PyMemberDef:
        const char *name
        int type
        Py_ssize_t offset
        int flags
    ctypedef struct PyMemberDescrObject:
        PyTypeObject *d_type "d_common.d_type"
        PyMemberDef *d_member
    int PyType_IsSubtype(PyTypeObject *a, PyTypeObject *b)
    object PyDescr_NewMethod(PyTypeObject *tp, PyMethodDef *meth)
    object PyObject_Vectorcall(object callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
    size_t PY_VECTORCALL_ARGUMENTS_OFFSET
    object PyObject_VectorcallMethod(object name, PyObject *const *args, size_t nargsf, PyObject *kwnames)
    object PyUnicode_AsEncodedString(object s, const char *encoding, const char *errors)
    bint PyUnicode_IS_COMPACT_ASCII(object s)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    void *PyUnicode_DATA(object s)
    int METH_FASTCALL
    int METH_KEYWORDS

cdef extern from "structmember.h":
    int T_OBJECT_EX

# Scratch bytes objects. Every seal and open hands AESGCM three bytes objects
# that live only for that call (nonce, associated data, plaintext or
# ciphertext): three allocations, about 20 ns of a ~450 ns open on the
# machine the benchmark ran on. So each kind has a slot holding one bytes object of
# SCRATCH_CAP bytes, which a call takes out of its slot (no other call, in
# this thread or another, can then get it), sizes and fills, and gives back
# after AESGCM returned, only if no reference to it remains but ours: a bytes
# object that anything else ever held is never written again. Until a bytes
# object is shared it is the caller's to fill (PyBytes_FromStringAndSize(NULL,
# n) relies on that); its size only ever shrinks below what was allocated.
# Not on other Python implementations: there every call allocates.
cdef extern from "gdc.h":
    bint GDC_FREE_THREADED      # the GIL is off (3.13t+): see gdc.h


cdef extern from *:
    """
    #ifndef _Py_COMP_DIAG_PUSH
    #define _Py_COMP_DIAG_PUSH
    #define _Py_COMP_DIAG_IGNORE_DEPR_DECLS
    #define _Py_COMP_DIAG_POP
    #endif
    #define GDC_SCRATCH_CAP 256
    #define GDC_SCRATCH_SLOTS 3
    /* Not in the free-threaded build: two threads would share one object, and
     * a reference count read there is not the whole story (shared counts). */
    #if CYTHON_COMPILING_IN_CPYTHON && !defined(Py_GIL_DISABLED)
    #define GDC_SCRATCH 1
    #else
    #define GDC_SCRATCH 0
    #endif
    static PyObject *gdc_scratch[GDC_SCRATCH_SLOTS];

    /* A new reference to a bytes object of size n, not shared, for the caller to fill. */
    static PyObject *gdc_scratch_take(int slot, Py_ssize_t n)
    {
        PyObject *s;
    #if GDC_SCRATCH
        if (n <= GDC_SCRATCH_CAP) {
            s = gdc_scratch[slot];
            gdc_scratch[slot] = NULL;
            if (s == NULL || Py_REFCNT(s) != 1) {
                Py_XDECREF(s);  /* shared after all: not ours to write, and never freed here */
                s = PyBytes_FromStringAndSize(NULL, GDC_SCRATCH_CAP);
                if (s == NULL)
                    return NULL;
            }
            Py_SET_SIZE(s, n);
            PyBytes_AS_STRING(s)[n] = 0;
    _Py_COMP_DIAG_PUSH
    _Py_COMP_DIAG_IGNORE_DEPR_DECLS
            ((PyBytesObject *)s)->ob_shash = -1;
    _Py_COMP_DIAG_POP
            return s;
        }
    #endif
        return PyBytes_FromStringAndSize(NULL, n);
    }

    /* Take back a reference gdc_scratch_take(slot, n) gave: kept for reuse if it is the last one. */
    static void gdc_scratch_give(int slot, PyObject *s, Py_ssize_t n)
    {
    #if GDC_SCRATCH
        if (n <= GDC_SCRATCH_CAP && Py_REFCNT(s) == 1 && gdc_scratch[slot] == NULL) {
            gdc_scratch[slot] = s;
            return;
        }
    #endif
        Py_DECREF(s);  /* a bytes object: freeing it runs no Python code */
    }

    /* gdc_scratch_take(slot, n), or NULL after giving back other (from other_slot, other_n). */
    static PyObject *gdc_scratch_take_or_release(int slot, Py_ssize_t n, int other_slot, PyObject *other,
                                                 Py_ssize_t other_n)
    {
        PyObject *s = gdc_scratch_take(slot, n);
        if (s == NULL)
            gdc_scratch_give(other_slot, other, other_n);
        return s;
    }
    """
    int SCRATCH_NONCE "0"
    char *gdc_bytes_data "PyBytes_AS_STRING"(PyObject *s) noexcept
    int SCRATCH_AAD "1"
    int SCRATCH_DATA "2"
    PyObject *gdc_scratch_take(int slot, Py_ssize_t n) except NULL
    void gdc_scratch_give(int slot, PyObject *s, Py_ssize_t n) noexcept
    PyObject *gdc_scratch_take_or_release(int slot, Py_ssize_t n, int other_slot, PyObject *other,
                                          Py_ssize_t other_n) except NULL


cdef extern from *:
    """
    static inline unsigned int gdc_crypt_version_tag(PyTypeObject *tp) { return tp->tp_version_tag; }

    /* fn(self, a, b, c) if fn (a METH_FASTCALL | METH_KEYWORDS function of
     * self's type, checked by the caller), else bound(a, b, c). */
    static PyObject *gdc_crypt_call3(void *fn, PyObject *self, PyObject *bound, PyObject *a, PyObject *b,
                                     PyObject *c)
    {
        PyObject *args[4];
        args[0] = NULL;  /* free: a bound method may put its self there */
        args[1] = a;
        args[2] = b;
        args[3] = c;
        if (fn != NULL)
            return ((PyObject *(*)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *))fn)(self, args + 1, 3, NULL);
        return PyObject_Vectorcall(bound, args + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }

    /* -1, with the exception a call that returned NULL left pending. */
    static int gdc_crypt_pending(void)
    {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "AESGCM returned NULL without an exception");
        return -1;
    }

    /* p[0:n] decoded as UTF-8 with "surrogatepass": an ASCII run (the common
     * case) is copied straight into a new compact ASCII str. */
    static PyObject *gdc_crypt_utf8(const char *p, Py_ssize_t n)
    {
        const unsigned char *u = (const unsigned char *)p;
        Py_ssize_t i = 0;
        uint64_t acc = 0, w;
        PyObject *s;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, u + i, 8);
            acc |= w;
        }
        for (; i < n; i++)
            acc |= u[i];
        if (acc & UINT64_C(0x8080808080808080))
            return PyUnicode_DecodeUTF8(p, n, "surrogatepass");
        s = PyUnicode_New(n, 127);
        if (s != NULL)
            memcpy(PyUnicode_DATA(s), p, (size_t)n);
        return s;
    }
    static inline PyObject *gdc_crypt_call_fastcall(void *meth, PyObject *self, PyObject *const *args,
                                                    Py_ssize_t nargs)
    {
        return ((PyObject *(*)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *))meth)(self, args, nargs, NULL);
    }
    """
    unsigned int gdc_crypt_version_tag(PyTypeObject *tp) noexcept
    object gdc_crypt_utf8(const char *p, Py_ssize_t n)
    PyObject *gdc_crypt_call3(void *fn, PyObject *self, PyObject *bound, PyObject *a, PyObject *b,
                              PyObject *c) noexcept
    int gdc_crypt_pending() except -1
    object gdc_crypt_call_fastcall(void *meth, PyObject *self, PyObject *const *args, Py_ssize_t nargs)


cdef enum:
    FORMAT_VERSION = 1
    ID_SIZE = 4
    NONCE_SIZE = 12
    TAG_SIZE = 16
    HEADER_SIZE = 1 + ID_SIZE + NONCE_SIZE
    MIN_BLOB = HEADER_SIZE + TAG_SIZE
    KIND_BYTES = 0
    KIND_STR = 1
    KIND_CODEC = 2

cdef uint64_t COUNTER_LIMIT = (<uint64_t>1) << 32

# Associated data: this prefix and the codec encoding of the cache key (as
# _seal_py.aad builds it).
cdef bytes _AAD_PREFIX = b"godistcache/value/v1\0"
cdef enum:
    AAD_PREFIX_SIZE = 21
cdef const char *AAD_PREFIX_C = b"godistcache/value/v1\0"

cdef object _urandom = _os.urandom
cdef object _InvalidTag = InvalidTag
cdef object _DecryptionError = DecryptionError


# --- keys and nonces --------------------------------------------------------

cdef inline void _put_be64(unsigned char *p, uint64_t v) noexcept:
    cdef int i
    for i in range(8):
        p[i] = <unsigned char>(v >> (56 - 8 * i))


cdef inline void _put_be32(unsigned char *p, uint64_t v) noexcept:
    p[0] = <unsigned char>(v >> 24)
    p[1] = <unsigned char>(v >> 16)
    p[2] = <unsigned char>(v >> 8)
    p[3] = <unsigned char>v


cdef uint64_t _draw_prefix() except? 0:
    cdef bytes raw = _urandom(8)
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(raw)
    cdef uint64_t v = 0
    cdef int i
    if PyBytes_GET_SIZE(raw) != 8:
        raise RuntimeError("os.urandom(8) did not return 8 bytes")
    for i in range(8):
        v = (v << 8) | p[i]
    if v == 0:
        v = 1  # 0 is the error return; one prefix less out of 2**64 changes nothing
    return v


cdef int _open_failed(const unsigned char *blob) except -1:
    """Raise for the pending exception of AESGCM.decrypt: DecryptionError for InvalidTag."""
    try:
        gdc_crypt_pending()
    except _InvalidTag as exc:
        raise _DecryptionError(
            f"sealed value with key id {(<bytes>blob[1:1 + ID_SIZE]).hex()} failed authentication: "
            "it was altered, or sealed for another cache key"
        ) from exc
    return 0


cdef void *_method_fn(tuple objs, str name) except? NULL:
    """The METH_FASTCALL | METH_KEYWORDS C function of method name, if every object's
    type is one type that has it as a plain method descriptor (AESGCM's are); else NULL."""
    cdef PyTypeObject *tp
    if not objs:
        return NULL
    cls = type(objs[0])
    for obj in objs:
        if type(obj) is not cls:
            return NULL
    descr = getattr(cls, name, None)
    if type(descr) is not _method_descriptor:
        return NULL
    tp = (<PyMethodDescrObject *>descr).d_type
    if not PyType_IsSubtype(<PyTypeObject *>cls, tp):
        return NULL
    return _fastcall_of(descr)


cdef class KeyringCore:
    """The compiled seal/open of a :class:`~godistcache.crypto.Keyring` and its nonce source.

    ``Keyring`` subclasses it and calls :meth:`_setup` once, from ``__init__``.
    """

    cdef object _encrypt        # the newest key's bound AESGCM.encrypt; None before _setup
    cdef tuple _decrypts        # bound AESGCM.decrypt per key, oldest first
    cdef tuple _aead_objs       # the AESGCM per key, oldest first
    cdef void *_decrypt_fn      # the C function of AESGCM.decrypt, if every key's type has it; else NULL
    cdef object _seal_aead      # the newest key's AESGCM
    cdef void *_encrypt_fn      # the C function of its encrypt, or NULL
    cdef unsigned char *_kids   # 4 bytes per key, oldest first
    cdef Py_ssize_t _nkeys
    cdef unsigned char _header[1 + ID_SIZE]    # version byte and the newest key id
    cdef uint64_t _prefix       # the nonce's first 8 bytes
    cdef uint64_t _count        # the next count (its last 4 bytes); COUNTER_LIMIT: exhausted
    cdef uint64_t _epoch        # bumped whenever _prefix is replaced
    cdef str _ids_text          # "key ids 1a2b3c4d, ..." for error messages

    def __cinit__(self, *args, **kwargs):
        self._encrypt = None
        self._decrypts = ()
        self._aead_objs = ()
        self._decrypt_fn = NULL
        self._seal_aead = None
        self._encrypt_fn = NULL
        self._kids = NULL
        self._nkeys = 0
        self._ids_text = ""
        self._count = COUNTER_LIMIT  # no nonce before _setup draws a prefix

    def __dealloc__(self):
        PyMem_Free(self._kids)

    @cython.critical_section
    def _setup(self, aeads, ids_text):
        """Take the keys: ``aeads`` maps each 4-byte key id to its AESGCM, oldest first."""
        cdef Py_ssize_t n = len(aeads), i = 0
        cdef unsigned char *kids
        if self._encrypt is not None:
            raise RuntimeError("a keyring's keys are set once")
        if n == 0:
            raise ValueError("no keys")
        for kid in aeads:
            if type(kid) is not bytes or PyBytes_GET_SIZE(kid) != ID_SIZE:
                raise ValueError("key ids are 4 bytes")
        decrypts = tuple([aead.decrypt for aead in aeads.values()])
        aead_objs = tuple(aeads.values())
        decrypt_fn = _method_fn(aead_objs, "decrypt")
        encrypt_fn = _method_fn(aead_objs[n - 1:], "encrypt")
        encrypt = list(aeads.values())[n - 1].encrypt
        prefix = _draw_prefix()
        kids = <unsigned char *>PyMem_Malloc(<size_t>(n * ID_SIZE))
        if kids == NULL:
            raise MemoryError()
        for kid in aeads:
            if i == n:
                break
            memcpy(kids + i * ID_SIZE, PyBytes_AS_STRING(kid), ID_SIZE)
            i += 1
        if i != n or len(decrypts) != n or len(aead_objs) != n:
            PyMem_Free(kids)
            raise RuntimeError("the keys changed while they were being read")
        # From here on no Python code runs: the keyring is whole or untouched.
        self._kids = kids
        self._nkeys = n
        self._decrypts = decrypts
        self._aead_objs = aead_objs
        self._decrypt_fn = decrypt_fn
        self._seal_aead = aead_objs[n - 1]
        self._encrypt_fn = encrypt_fn
        self._header[0] = FORMAT_VERSION
        memcpy(self._header + 1, kids + (n - 1) * ID_SIZE, ID_SIZE)
        self._ids_text = str(ids_text)
        self._prefix = prefix
        self._count = 0
        self._epoch += 1
        self._encrypt = encrypt

    # The nonce: within a process no nonce repeats under one key. A nonce is
    # the 8-byte random prefix and a 4-byte big-endian count. Taking a count
    # (_take_nonce's fast path) is C code that calls nothing and so cannot
    # let another thread run: under the GIL every seal gets a count of its
    # own, paired with the prefix current at that moment. Before the count
    # would wrap, a new random prefix is drawn; os.urandom may release the
    # GIL, so the drawing thread installs its prefix (with the count reset,
    # in one step that again runs no Python code) only if no other thread
    # renewed meanwhile (_epoch unchanged), and every thread then takes a
    # count afresh: no thread pairs a new prefix with an old count, and no
    # count is handed out twice under one prefix. A forked child gets a new
    # prefix too (crypto.py resets every live keyring after fork), so parent
    # and child never continue one sequence. Across processes (or keyrings)
    # holding the same key, the prefixes are independent 64-bit random draws:
    # with P prefixes ever drawn under a key, the chance that any two collide
    # is about P**2 / 2**65 (1e-8 for 600,000 of them). Each prefix covers at
    # most 2**32 messages, so P grows by one per process (or keyring) and per
    # 2**32 seals: a key is worn out long before that bound matters.
    #
    # With the GIL off (3.14t), the count and prefix are taken inside a
    # critical section on the keyring: the same one-step guarantee, now
    # against threads that really run at once. os.urandom suspends it, as it
    # released the GIL, which the epoch check above already allows for.
    @cython.critical_section
    cdef inline int _take_nonce(self, unsigned char *out) except -1:
        cdef uint64_t n = self._count
        if n < COUNTER_LIMIT:
            self._count = n + 1
            _put_be64(out, self._prefix)
            _put_be32(out + 8, n)
            return 0
        return self._take_nonce_renewing(out)

    @cython.critical_section
    cdef int _take_nonce_renewing(self, unsigned char *out) except -1:
        cdef uint64_t n, epoch, prefix
        if self._encrypt is None:
            raise ValueError("this keyring has no keys (Keyring.__init__ was not called)")
        while True:
            n = self._count
            if n < COUNTER_LIMIT:
                self._count = n + 1
                _put_be64(out, self._prefix)
                _put_be32(out + 8, n)
                return 0
            epoch = self._epoch
            prefix = _draw_prefix()  # may release the GIL
            if self._epoch == epoch:
                self._prefix = prefix
                self._count = 0
                self._epoch = epoch + 1

    cdef bytes _seal(self, PyObject *plaintext, PyObject *aad):
        """The blob of plaintext sealed for aad (both borrowed, any bytes-like object)."""
        cdef unsigned char nonce[NONCE_SIZE]
        cdef PyObject *nonce_obj
        cdef PyObject *res
        cdef Py_ssize_t n
        cdef bytes blob
        cdef char *p
        if self._encrypt is None:
            raise ValueError("this keyring has no keys (Keyring.__init__ was not called)")
        self._take_nonce(nonce)
        nonce_obj = gdc_scratch_take(SCRATCH_NONCE, NONCE_SIZE)
        memcpy(gdc_bytes_data(nonce_obj), nonce, NONCE_SIZE)
        res = gdc_crypt_call3(self._encrypt_fn, <PyObject *>self._seal_aead, <PyObject *>self._encrypt,
                              nonce_obj, plaintext, aad)
        gdc_scratch_give(SCRATCH_NONCE, nonce_obj, NONCE_SIZE)
        if res == NULL:
            gdc_crypt_pending()
        ct = <object>res
        Py_DECREF(ct)  # the reference res carried: ct now holds the only one
        if type(ct) is not bytes:
            raise TypeError(f"AESGCM.encrypt returned a {type(ct).__qualname__}, not bytes")
        n = PyBytes_GET_SIZE(ct)
        # The blob in one allocation: header, nonce, ciphertext and tag.
        blob = PyBytes_FromStringAndSize(NULL, HEADER_SIZE + n)
        p = PyBytes_AS_STRING(blob)
        memcpy(p, self._header, 1 + ID_SIZE)
        memcpy(p + 1 + ID_SIZE, nonce, NONCE_SIZE)
        memcpy(p + HEADER_SIZE, PyBytes_AS_STRING(ct), <size_t>n)
        return blob

    cdef bytes _open(self, const unsigned char *blob, Py_ssize_t n, PyObject *aad):
        """The plaintext of the blob at blob (n bytes, kept alive by the caller) sealed for aad."""
        cdef Py_ssize_t i
        cdef PyObject *nonce_obj
        cdef PyObject *ct_obj
        cdef PyObject *res
        cdef object decrypt = None
        if n < MIN_BLOB:
            raise _DecryptionError(
                f"sealed value too short: {n} bytes, a sealed value has at least {<int>MIN_BLOB}")
        if blob[0] != FORMAT_VERSION:
            raise _DecryptionError(f"unknown sealed value format {blob[0]}, expected {<int>FORMAT_VERSION}")
        i = self._nkeys - 1  # the newest first: it sealed most values
        while i >= 0:
            if memcmp(self._kids + i * ID_SIZE, blob + 1, ID_SIZE) == 0:
                decrypt = self._decrypts[i]
                break
            i -= 1
        if decrypt is None:
            if self._encrypt is None:
                raise ValueError("this keyring has no keys (Keyring.__init__ was not called)")
            raise _DecryptionError(
                f"sealed with key id {(<bytes>blob[1:1 + ID_SIZE]).hex()}, "
                f"which this keyring does not have ({self._ids_text})")
        nonce_obj = gdc_scratch_take(SCRATCH_NONCE, NONCE_SIZE)
        memcpy(gdc_bytes_data(nonce_obj), blob + 1 + ID_SIZE, NONCE_SIZE)
        ct_obj = gdc_scratch_take_or_release(SCRATCH_DATA, n - HEADER_SIZE, SCRATCH_NONCE, nonce_obj, NONCE_SIZE)
        memcpy(gdc_bytes_data(ct_obj), blob + HEADER_SIZE, <size_t>(n - HEADER_SIZE))
        res = gdc_crypt_call3(self._decrypt_fn, <PyObject *>self._aead_objs[i], <PyObject *>decrypt,
                              nonce_obj, ct_obj, aad)
        gdc_scratch_give(SCRATCH_DATA, ct_obj, n - HEADER_SIZE)
        gdc_scratch_give(SCRATCH_NONCE, nonce_obj, NONCE_SIZE)
        if res == NULL:
            _open_failed(blob)
        plaintext = <object>res
        Py_DECREF(plaintext)  # the reference res carried: plaintext now holds the only one
        if type(plaintext) is not bytes:
            raise TypeError(f"AESGCM.decrypt returned a {type(plaintext).__qualname__}, not bytes")
        return <bytes>plaintext

    def seal(self, plaintext, aad):
        """Encrypt and authenticate plaintext, bound to aad, with the newest key.

        Returns:
            ``0x01 | key id | nonce | ciphertext and tag``.
        """
        return self._seal(<PyObject *>plaintext, <PyObject *>aad)

    def open(self, blob, aad):
        """Check and decrypt a blob made by :meth:`seal` with the same aad.

        Raises:
            DecryptionError: the blob is too short, of an unknown version,
                sealed with a key this keyring does not have, or fails
                authentication (tampered, or sealed with another aad).
        """
        if type(blob) is not bytes:
            blob = bytes(memoryview(blob))  # a bytes-like object; anything else: TypeError
        return self._open(<const unsigned char *>PyBytes_AS_STRING(blob), PyBytes_GET_SIZE(blob), <PyObject *>aad)

    @cython.critical_section
    def _nonce_state(self):
        """(prefix, next count): for tests."""
        return self._prefix, self._count

    @cython.critical_section
    def _set_nonce_state(self, prefix, count):
        """Set the prefix and the next count: for tests of the renewal."""
        cdef uint64_t p = prefix, c = count
        if self._encrypt is None:
            raise ValueError("this keyring has no keys")
        if c > COUNTER_LIMIT:
            raise ValueError("count out of range")
        self._prefix = p
        self._count = c
        self._epoch += 1

    @cython.critical_section
    def _reset_nonces(self):
        """Draw a new prefix and restart the count (after fork)."""
        cdef uint64_t prefix
        if self._encrypt is None:
            return
        prefix = _draw_prefix()
        self._prefix = prefix
        self._count = 0
        self._epoch += 1


# --- put_crypt / get_crypt ----------------------------------------------------

cdef int _aad_into(Buffer *b, object key) except -1:
    """The associated data binding a sealed value to key: as cache._aad builds it."""
    buffer_append(b, PyBytes_AS_STRING(_AAD_PREFIX), PyBytes_GET_SIZE(_AAD_PREFIX))
    try:
        _encode_item(b, key, 0, None)  # no pickle: a key must encode natively
    except TypeError as exc:
        raise TypeError(
            "a sealed value is bound to its key, which must be encodable without pickle "
            f"(str, bytes, int, float, tuple, ...); got {type(key).__qualname__}"
        ) from exc
    return 0


cdef inline PyObject *_take_aad(object key, Py_ssize_t *size) except NULL:
    """A new reference to a scratch bytes object (SCRATCH_AAD) holding key's associated data."""
    cdef Py_ssize_t n
    cdef PyObject *out
    cdef char *p
    if type(key) is str and PyUnicode_IS_COMPACT_ASCII(key) and PyUnicode_GET_LENGTH(key) < 0x80:
        # The codec's encoding of such a str: 0x06, one length byte, the bytes.
        n = PyUnicode_GET_LENGTH(key)
        size[0] = AAD_PREFIX_SIZE + 2 + n
        out = gdc_scratch_take(SCRATCH_AAD, size[0])
        p = gdc_bytes_data(out)
        memcpy(p, AAD_PREFIX_C, AAD_PREFIX_SIZE)
        p[AAD_PREFIX_SIZE] = 0x06
        p[AAD_PREFIX_SIZE + 1] = <char>n
        memcpy(p + AAD_PREFIX_SIZE + 2, PyUnicode_DATA(key), <size_t>n)
        return out
    return _take_aad_encoded(key, size)


cdef PyObject *_take_aad_encoded(object key, Py_ssize_t *size) except NULL:
    # Apart from _take_aad: its Buffer makes a big stack frame.
    cdef Buffer b
    cdef PyObject *out
    buffer_init(&b)
    try:
        _aad_into(&b, key)
        size[0] = b.len
        out = gdc_scratch_take(SCRATCH_AAD, b.len)
        memcpy(gdc_bytes_data(out), b.data, <size_t>b.len)
        return out
    finally:
        buffer_free(&b)


cdef bytes _aad(object key):
    cdef Buffer b
    buffer_init(&b)
    try:
        _aad_into(&b, key)
        return PyBytes_FromStringAndSize(<char *>b.data, b.len)
    finally:
        buffer_free(&b)


cdef PyObject *_take_kind_and(char kind, const void *payload, Py_ssize_t n, Py_ssize_t *size) except NULL:
    cdef PyObject *out
    cdef char *p
    size[0] = n + 1
    out = gdc_scratch_take(SCRATCH_DATA, n + 1)
    p = gdc_bytes_data(out)
    p[0] = kind
    memcpy(p + 1, payload, <size_t>n)
    return out


cdef PyObject *_take_plaintext(object value, bint allow_pickle, Py_ssize_t *size) except NULL:
    """A new reference to a scratch bytes object (SCRATCH_DATA) holding value's plaintext:
    a kind byte, then the payload, as _seal_py.CryptMethods.put_crypt builds it."""
    cdef Buffer b
    cdef type tp = type(value)
    if tp is str:
        if PyUnicode_IS_COMPACT_ASCII(value):
            return _take_kind_and(KIND_STR, PyUnicode_DATA(value), PyUnicode_GET_LENGTH(value), size)
        raw = PyUnicode_AsEncodedString(value, "utf-8", "surrogatepass")
        return _take_kind_and(KIND_STR, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), size)
    if tp is bytes:
        return _take_kind_and(KIND_BYTES, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), size)
    buffer_init(&b)
    try:
        buffer_byte(&b, KIND_CODEC)
        _encode_item(&b, value, 0, True if allow_pickle else None)
        return _take_kind_and(KIND_CODEC, b.data + 1, b.len - 1, size)
    finally:
        buffer_free(&b)


cdef object _value_of(bytes plaintext):
    """The value a plaintext holds: as _seal_py.CryptMethods.get_crypt reads it."""
    cdef const char *p = PyBytes_AS_STRING(plaintext)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(plaintext)
    cdef Reader r
    if n >= 1:
        if p[0] == KIND_STR:
            return gdc_crypt_utf8(p + 1, n - 1)
        if p[0] == KIND_BYTES:
            return PyBytes_FromStringAndSize(p + 1, n - 1)
        if p[0] == KIND_CODEC:
            reader_init(&r, <const unsigned char *>p + 1, n - 1)
            try:
                value = _decode_item(&r, 0, True)  # unpickles: only a key holder made this
                if r.pos != r.end:
                    raise ValueError(f"trailing bytes: {r.end - r.pos} after the value, at byte {r.pos - r.start}")
            except ValueError as exc:
                raise _DecryptionError(f"sealed value opened but its payload does not decode: {exc}") from exc
            return value
    kind = (<bytes>plaintext[:1]).hex() or "empty"
    raise _DecryptionError(f"sealed value opened but is of unknown kind {kind}")


# The class put_crypt/get_crypt are installed on, and where its instances keep
# their keyring: the offset of the _keyring slot, and whether put/get are the
# compiled Table's own (then called directly, with no attribute lookup). Valid
# while the class's version tag is unchanged: CPython gives a class a new tag
# whenever it or a base is modified, so an assignment to Cache.put (or to
# _keyring) after the first call is seen. The class is held by reference,
# so the pointer never names another class.
cdef PyTypeObject *_cached_type = NULL
cdef unsigned int _cached_tag = 0
cdef Py_ssize_t _cached_offset = 0
cdef bint _cached_direct = False

cdef void *_table_put = NULL   # Table.put and Table.get: METH_FASTCALL | METH_KEYWORDS
cdef void *_table_get = NULL
cdef object _no_keyring = None  # cache._no_keyring: makes the ConfigurationError
cdef object _MISSING = object()
cdef object _member_descriptor = _types.MemberDescriptorType
cdef object _method_descriptor = type(Table.__dict__["get"])
cdef str _PUT = "put"
cdef str _GET = "get"
cdef str _KEYRING = "_keyring"


cdef void *_fastcall_of(object descr) noexcept:
    cdef PyMethodDef *d
    if type(descr) is not _method_descriptor:
        return NULL
    d = (<PyMethodDescrObject *>descr).d_method
    if d.ml_flags != (METH_FASTCALL | METH_KEYWORDS):
        return NULL
    return d.ml_meth


cdef int _learn_type(PyTypeObject *tp) except -1:
    """Fill the cache above for tp, or leave it empty if tp's slot cannot be read directly."""
    global _cached_type, _cached_tag, _cached_offset, _cached_direct
    cdef object cls = <object>tp
    cdef PyMemberDescrObject *m
    cdef Py_ssize_t offset = 0
    cdef bint direct
    cdef PyTypeObject *old
    descr = getattr(cls, _KEYRING, None)
    if type(descr) is _member_descriptor:
        m = <PyMemberDescrObject *>descr
        if (m.d_member.type == T_OBJECT_EX and m.d_member.offset > 0
                and PyType_IsSubtype(tp, m.d_type)):
            offset = m.d_member.offset
    direct = (_table_put != NULL and _table_get != NULL
              and _fastcall_of(getattr(cls, _PUT, None)) == _table_put
              and _fastcall_of(getattr(cls, _GET, None)) == _table_get)
    if offset == 0 or gdc_crypt_version_tag(tp) == 0:
        return 0  # read through getattr every time
    # No Python code runs from here to the end: the four fields change together.
    old = _cached_type
    Py_INCREF(cls)
    _cached_type = tp
    _cached_tag = gdc_crypt_version_tag(tp)
    _cached_offset = offset
    _cached_direct = direct
    Py_XDECREF(<PyObject *>old)
    return 0


cdef inline bint _cached(PyTypeObject *tp) noexcept:
    # 0 is never a valid tag: CPython sets it when a class is modified. With the GIL off, never: the four
    # fields can't change together there, and the slot read below could race an assignment to _keyring.
    return not GDC_FREE_THREADED and tp == _cached_type and _cached_tag != 0 and gdc_crypt_version_tag(tp) == _cached_tag


cdef KeyringCore _keyring_of(object self, bint *direct):
    cdef PyTypeObject *tp = Py_TYPE(self)
    cdef PyObject *ring
    if not _cached(tp) and not GDC_FREE_THREADED:
        _learn_type(tp)
    if _cached(tp):
        direct[0] = _cached_direct
        ring = (<PyObject **>((<char *><PyObject *>self) + _cached_offset))[0]
        keyring = None if ring == NULL else <object>ring
    else:
        direct[0] = False
        keyring = getattr(self, _KEYRING, None)
    if keyring is None:
        raise _no_keyring()
    if not isinstance(keyring, KeyringCore):
        raise TypeError(f"the cache's keyring is a {type(keyring).__qualname__}, not a Keyring")
    return <KeyringCore>keyring


cdef object _put_crypt(object self, object key, object value, object ttl, bint allow_pickle):
    cdef bint direct
    cdef PyObject *args[4]
    cdef Py_ssize_t nargs = 3 if ttl is None else 4
    cdef Py_ssize_t pt_size, aad_size
    cdef PyObject *plaintext
    cdef PyObject *aad
    cdef KeyringCore ring = _keyring_of(self, &direct)
    # Both encodings (which may run Python code: pickle, Decimal, ...) before
    # any scratch object is taken.
    plaintext = _take_plaintext(value, allow_pickle, &pt_size)
    try:
        aad = _take_aad(key, &aad_size)
        try:
            blob = ring._seal(plaintext, aad)
        finally:
            gdc_scratch_give(SCRATCH_AAD, aad, aad_size)
    finally:
        gdc_scratch_give(SCRATCH_DATA, plaintext, pt_size)
    args[0] = <PyObject *>self
    args[1] = <PyObject *>key
    args[2] = <PyObject *>blob
    args[3] = <PyObject *>ttl
    if direct:
        gdc_crypt_call_fastcall(_table_put, <PyObject *>self, args + 1, nargs - 1)
    else:
        PyObject_VectorcallMethod(_PUT, args, <size_t>nargs, NULL)
    return None


cdef object _get_crypt(object self, object key, object default):
    cdef bint direct
    cdef PyObject *args[3]
    cdef Py_ssize_t aad_size
    cdef PyObject *aad
    cdef KeyringCore ring = _keyring_of(self, &direct)
    args[0] = <PyObject *>self
    args[1] = <PyObject *>key
    args[2] = <PyObject *>_MISSING
    if direct:
        blob = gdc_crypt_call_fastcall(_table_get, <PyObject *>self, args + 1, 2)
    else:
        blob = PyObject_VectorcallMethod(_GET, args, 3, NULL)
    if blob is _MISSING:
        return default
    if type(blob) is not bytes:
        raise _DecryptionError(
            f"the value under this key is a {type(blob).__qualname__}, not a sealed value "
            "(stored with put, not put_crypt?)"
        )
    aad = _take_aad(key, &aad_size)
    try:
        plaintext = ring._open(<const unsigned char *>PyBytes_AS_STRING(blob), PyBytes_GET_SIZE(blob), aad)
    finally:
        gdc_scratch_give(SCRATCH_AAD, aad, aad_size)
    return _value_of(plaintext)


cdef class _SealedMethodsC:
    # Never instantiated: its methods' C functions are what own_sealed_methods
    # installs on a cache class, and there `self` is an instance of that class.

    def put_crypt(self, key, value, ttl=None, *, bint allow_pickle=False):
        """Store value under key sealed with AES-256-GCM: only the keyring's holders can read it.

        The table holds the sealed bytes; the cache key is bound into the
        seal (as associated data), so a sealed value copied under another key
        does not open.

        Args:
            key: the cache key; it must be encodable without pickle (str,
                bytes, int, float, tuple of those, ...).
            value: str and bytes are sealed as they are; other values are
                encoded with the value codec first.
            ttl: as for :meth:`put`.
            allow_pickle: pickle values the codec has no native form for.

        Raises:
            ConfigurationError: the cache has no keyring.
            TypeError: key not encodable, or value not encodable without
                allow_pickle=True.
        """
        return _put_crypt(<object><PyObject *>self, key, value, ttl, allow_pickle)

    def get_crypt(self, key, default=None):
        """Open the value :meth:`put_crypt` stored under key.

        A value that was pickled (``put_crypt(..., allow_pickle=True)``) is
        unpickled: the seal has been checked first, and only a holder of one
        of the keyring's keys can make a seal that checks, so the pickle came
        from a holder of the key.

        Returns:
            The value, or default when key has no live entry.

        Raises:
            ConfigurationError: the cache has no keyring.
            DecryptionError: the entry is not a sealed value, was altered or
                moved from another key, or was sealed with a key this
                keyring does not have.
            TypeError: key not encodable without pickle.
        """
        return _get_crypt(<object><PyObject *>self, key, default)

    def __init__(self):
        raise TypeError("not instantiable")


_table_put = _fastcall_of(Table.__dict__["put"])
_table_get = _fastcall_of(Table.__dict__["get"])


def aad(key):
    """The associated data binding a sealed value to key (as ``_seal_py.aad``): for tests."""
    return _aad(key)


def own_sealed_methods(cls, no_keyring):
    """Give the cache class ``cls`` compiled ``put_crypt`` and ``get_crypt``.

    cls must subclass the compiled Table and keep its keyring in a
    ``_keyring`` slot. ``no_keyring()`` makes the error raised when that
    slot is None. Returns False (and changes nothing) for any other class.
    """
    global _no_keyring
    if not isinstance(cls, type) or not issubclass(cls, Table):
        return False
    if type(getattr(cls, _KEYRING, None)) is not _member_descriptor:
        return False
    if not callable(no_keyring):
        raise TypeError("no_keyring must be callable")
    _no_keyring = no_keyring
    for name in ("put_crypt", "get_crypt"):
        descr = _SealedMethodsC.__dict__[name]
        setattr(cls, name, PyDescr_NewMethod(<PyTypeObject *>cls, (<PyMethodDescrObject *>descr).d_method))
    return True
