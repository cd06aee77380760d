# cython: language_level=3, embedsignature=True, binding=False, freethreading_compatible=True
"""memoize's hit path in C: a plain call that hits runs no Python frame.

``memo.py`` builds the memoized function; for a plain one (no ``key=``, not
``typed``, not ``async``) on a compiled cache whose ``get`` is the table's
own, the wrapper it returns is a :class:`MemoFunction`. A call without
keyword arguments hashes its key ``(first, second, *args)`` item by item as
``hash(tuple)`` does, without building it, and asks the table for it
(``Table._get_parts``), which compares stored keys item by item. Only a miss
builds the key, and hands it to the Python code (``miss``); every other case
(keyword arguments, the first call, which resolves the key's head, an
unhashable argument, a compare that changed the table) calls the Python
wrapper, which does what it always did.
"""

from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport uint64_t

from godistcache._core._table_c cimport Table

cdef extern from "Python.h":
    ctypedef struct PyMethodDef:
        pass
    ctypedef size_t Py_uhash_t
    object PyMethod_New(object func, object self)
    ctypedef PyObject *(*ternaryfunc)(PyObject *, PyObject *, PyObject *)
    object PyObject_Call(object callable, object args, object kwargs)

cdef extern from "gdc.h":
    Py_hash_t gdc_hash(object key) except? -1
    Py_uhash_t gdc_tuplehash_start() noexcept
    Py_uhash_t gdc_tuplehash_step(Py_uhash_t acc, Py_hash_t lane) noexcept
    Py_hash_t gdc_tuplehash_end(Py_uhash_t acc, Py_ssize_t length) noexcept
    void gdc_count(uint64_t *p) noexcept
    uint64_t gdc_count_read(uint64_t *p) noexcept
    PyMethodDef *gdc_cfunction_method(object f) noexcept
    PyMethodDef *gdc_descr_method(object descr) noexcept
    void gdc_set_call(PyTypeObject *tp, ternaryfunc call) noexcept

import copy as _copy

cdef object _deepcopy = _copy.deepcopy
cdef object _MISSING = object()
cdef object _UNSURE = object()
cdef PyMethodDef *_TABLE_GET = gdc_descr_method(Table.__dict__["get"])


def plain_get(cache):
    """Whether ``cache.get`` is the compiled table's own ``get`` (not a subclass's override)."""
    return isinstance(cache, Table) and gdc_cfunction_method(cache.get) == _TABLE_GET


def tuple_hash(first, second, tuple args):
    """``hash((first, second, *args))`` as :class:`MemoFunction` computes it, without the tuple (a test hook)."""
    cdef Py_uhash_t acc = gdc_tuplehash_step(gdc_tuplehash_step(gdc_tuplehash_start(), gdc_hash(first)),
                                             gdc_hash(second))
    return _args_hash(acc, args)


cdef inline Py_hash_t _args_hash(Py_uhash_t acc, tuple args) except? -1:
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(args)
    for i in range(n):
        acc = gdc_tuplehash_step(acc, gdc_hash(<object>PyTuple_GET_ITEM(args, i)))
    return gdc_tuplehash_end(acc, n + 2)


cdef class MemoFunction:
    """A memoized function whose plain hits run in C; every other call goes to the Python wrapper.

    ``memo.py`` gives it the decorated function's metadata (``functools.wraps``)
    and lru_cache's introspection, as it does its Python wrapper.
    """

    cdef Table _table
    cdef object _first         # the key's first two items, once the first call has resolved them
    cdef object _second
    cdef Py_uhash_t _acc       # tuplehash's state after those two items
    cdef bint _ready
    cdef bint _copy
    cdef uint64_t _hits        # hits on the C path; the Python wrapper counts its own
    cdef object _slow          # the Python wrapper: the whole behaviour, for every call not settled here
    cdef object _miss          # miss(key, args, kwargs) of memo.py
    cdef dict __dict__
    cdef object __weakref__

    def __cinit__(self, Table table not None, slow, miss, bint copy):
        self._table = table
        self._slow = slow
        self._miss = miss
        self._copy = copy
        self._ready = False
        self._hits = 0

    def _set_head(self, tuple head not None):
        """Take the key's first two items, resolved by the first call: from now on plain calls run here."""
        if self._ready:
            return
        first, second = head
        self._acc = gdc_tuplehash_step(gdc_tuplehash_step(gdc_tuplehash_start(), gdc_hash(first)),
                                       gdc_hash(second))
        self._first = first
        self._second = second
        self._ready = True

    @property
    def _fast_hits(self):
        """Hits counted on the C path."""
        return gdc_count_read(&self._hits)

    def __call__(self, *args, **kwargs):
        # The type's tp_call is _call (below), which Cython's __call__ cannot be: it makes a dict of the
        # keyword arguments on every call, empty or not. This one serves MemoFunction.__call__(f, ...).
        return _call(self, args, <PyObject *>kwargs if kwargs else NULL)

    def __get__(self, instance, owner):
        # As a function: read from an instance, a bound method.
        if instance is None:
            return self
        return PyMethod_New(self, instance)

    def __reduce__(self):
        # As a function: pickled by reference, as module.qualname.
        return self.__qualname__

    def __repr__(self):
        return f"<memoized function {self.__qualname__} at {id(self):#x}>"


cdef object _call(MemoFunction self, tuple args, PyObject *kwargs):
    """The call of a MemoFunction: its tp_call (kwargs: NULL when none)."""
    if kwargs != NULL or not self._ready:
        return PyObject_Call(self._slow, args, <object>kwargs if kwargs != NULL else None)
    cdef Py_hash_t h
    try:
        h = _args_hash(self._acc, args)
    except TypeError:
        return PyObject_Call(self._slow, args, None)  # an unhashable argument: the wrapper says which
    value = self._table._get_parts(self._first, self._second, args, h, _MISSING, _UNSURE)
    if value is _MISSING:
        return self._miss(_key(self._first, self._second, args), args, {})
    if value is _UNSURE:
        return PyObject_Call(self._slow, args, None)
    gdc_count(&self._hits)
    return _deepcopy(value) if self._copy else value


gdc_set_call(<PyTypeObject *>MemoFunction, <ternaryfunc>_call)


cdef tuple _key(object first, object second, tuple args):
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(args)
    cdef tuple key = PyTuple_New(n + 2)
    cdef PyObject *item
    Py_INCREF(first)
    PyTuple_SET_ITEM(key, 0, first)
    Py_INCREF(second)
    PyTuple_SET_ITEM(key, 1, second)
    for i in range(n):
        item = PyTuple_GET_ITEM(args, i)
        Py_INCREF(<object>item)
        PyTuple_SET_ITEM(key, i + 2, <object>item)
    return key
