# cython: language_level=3, embedsignature=True, binding=False
"""memoize's hit path in C: a plain, keyword or typed call that hits runs no Python frame.

``memo.py`` builds the memoized function; for one without ``key=`` and not
``async``, on a compiled cache whose ``get`` is the table's own, the wrapper
it returns is a :class:`MemoFunction`. A call hashes its key
``(first, second, *args)`` item by item as ``hash(tuple)`` does, without
building it, and asks the table for it (``Table._get_parts``), which compares
stored keys item by item. Only a miss builds the key, and hands it to the
Python code (``miss``). The key's head, ``(first, second)``, is the one
``memo.py``'s ``key_of`` gives (the shapes travel in snapshots):

- a plain call: the function's own, resolved by the first call;
- a call with keyword arguments: ``(first, (qualname, token, items, ()))``,
  items the ``(name, value)`` pairs in name order;
- a typed call without keyword arguments: the head ``memo.py`` makes for that
  tuple of argument types, kept here per tuple of types (bounded as there).

Every other case (the first call, which resolves the head, a typed call with
keyword arguments, a keyword that is not an exact str, an unhashable
argument, a compare that changed the table) calls the Python wrapper, which
does what it always did.
"""

cimport cython
from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_SetItem, PyDict_Size
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_CheckExact, PyUnicode_Compare
from libc.stdint cimport uint64_t

from godistcache._core._table_c cimport Table

cdef extern from "Python.h":
    ctypedef struct PyMethodDef:
        pass
    ctypedef size_t Py_uhash_t
    object PyMethod_New(object func, object self)
    ctypedef PyObject *(*ternaryfunc)(PyObject *, PyObject *, PyObject *)
    object PyObject_Call(object callable, object args, object kwargs)
    int PyList_Sort(object lst) except -1
    tuple PyList_AsTuple(object lst)
    PyTypeObject *Py_TYPE(PyObject *o)

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

# The head's publication: _set_head writes the head's fields, then the flag with release order; a call reads
# the flag with acquire order, so a thread that sees it set sees the fields too (free-threaded builds; under
# the GIL, plain loads and stores are enough).
cdef extern from *:
    """
    static inline int gdc_memo_ready(int *flag)
    {
    #ifdef Py_GIL_DISABLED
        return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
    #else
        return *flag;
    #endif
    }

    static inline void gdc_memo_publish(int *flag)
    {
    #ifdef Py_GIL_DISABLED
        __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
    #else
        *flag = 1;
    #endif
    }
    """
    int gdc_memo_ready(int *flag) noexcept
    void gdc_memo_publish(int *flag) noexcept

import copy as _copy

from godistcache._memo_keys import MAX_TYPED_HEADS as _MAX_TYPED_HEADS

cdef object _deepcopy = _copy.deepcopy
cdef object _MISSING = object()
cdef object _UNSURE = object()
cdef tuple _NO_TYPES = ()
cdef PyMethodDef *_TABLE_GET = gdc_descr_method(Table.__dict__["get"])
cdef Py_ssize_t MAX_TYPED_HEADS = _MAX_TYPED_HEADS


def plain_get(cache):
    """Whether ``cache.get`` is the compiled table's own ``get`` (not a subclass's override)."""
    return isinstance(cache, Table) and gdc_cfunction_method(cache.get) == _TABLE_GET


def tuple_hash(first, second, tuple args):
    """``hash((first, second, *args))`` as :class:`MemoFunction` computes it, without the tuple (a test hook)."""
    return _args_hash(_head_acc(first, second), args)


cdef inline Py_uhash_t _head_acc(object first, object second) except? 0:
    # 0 is a possible state, hence except? (a hash that raised is told by PyErr_Occurred)
    return gdc_tuplehash_step(gdc_tuplehash_step(gdc_tuplehash_start(), gdc_hash(first)), gdc_hash(second))


cdef inline Py_hash_t _args_hash(Py_uhash_t acc, tuple args) except? -1:
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(args)
    for i in range(n):
        acc = gdc_tuplehash_step(acc, gdc_hash(<object>PyTuple_GET_ITEM(args, i)))
    return gdc_tuplehash_end(acc, n + 2)


@cython.final
cdef class _Head:
    """A key's first two items and tuplehash's state after them: a typed call's head, per tuple of types."""

    cdef object first
    cdef object second
    cdef Py_uhash_t acc

    def __cinit__(self, first, second):
        self.acc = _head_acc(first, second)
        self.first = first
        self.second = second


cdef class MemoFunction:
    """A memoized function whose hits run in C; every other call goes to the Python wrapper.

    ``memo.py`` gives it the decorated function's metadata (``functools.wraps``)
    and lru_cache's introspection, as it does its Python wrapper.
    """

    cdef Table _table
    # Written once by _set_head, before _ready (read with acquire order): never changed after.
    cdef _Head _plain          # the plain key's head
    cdef object _qualname      # the rest of the function's identity, for keyword calls' keys
    cdef object _token
    cdef int _ready
    cdef bint _copy
    cdef object _typed_head    # typed only: typed_head(args) -> the key's head (memo.py), else None
    cdef dict _heads           # typed only: type (one argument) or tuple of types -> _Head; only ever grows
    cdef uint64_t _hits        # hits on the C path; the Python wrapper counts its own
    cdef object _slow          # the Python wrapper: the whole behaviour, for every call not settled here
    cdef object _miss          # miss(key, args, kwargs) of memo.py
    cdef dict __dict__
    cdef object __weakref__

    def __cinit__(self, Table table not None, slow, miss, bint copy, typed_head=None):
        self._table = table
        self._slow = slow
        self._miss = miss
        self._copy = copy
        self._typed_head = typed_head
        self._heads = {}
        self._ready = 0
        self._hits = 0

    def _set_head(self, tuple head not None, tuple parts not None):
        """Take the key's head and the function's identity, resolved by the first call.

        From now on plain and keyword calls run here. head is ``(first,
        second)`` of a plain key; parts is ``(first, qualname, token)``.
        """
        first, second = head
        _, qualname, token = parts
        plain = _Head(first, second)
        with cython.critical_section(self):
            if self._ready:
                return
            self._plain = plain
            self._qualname = qualname
            self._token = token
            gdc_memo_publish(&self._ready)

    @property
    def _fast_hits(self):
        """Hits counted on the C path."""
        return gdc_count_read(&self._hits)

    def _key_of(self, *args, **kwargs):
        """The key a call with these arguments looks up, as the C path builds it; None when the wrapper would.

        A test hook, to hold the C path's keys to ``memo.py``'s.
        """
        head = _head_of(self, args, <PyObject *>kwargs if kwargs else NULL)
        return None if head is None else _key(head.first, head.second, args)

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


cdef tuple _kwarg_items(PyObject *kwargs):
    """memo.py's items: the (name, value) pairs, in name order when more than one; None if a name is not a str.

    Names are distinct, so sorting the pairs (as ``sorted(kwargs.items())``) orders them by name alone.
    """
    cdef Py_ssize_t pos = 0, i = 0, n = PyDict_Size(<object>kwargs)
    cdef PyObject *name
    cdef PyObject *value
    cdef tuple pair
    cdef tuple a
    cdef tuple b
    cdef object pairs = PyList_New(n) if n > 2 else None
    cdef tuple items = PyTuple_New(n) if n <= 2 else None
    while PyDict_Next(<object>kwargs, &pos, &name, &value):
        if not PyUnicode_CheckExact(<object>name):
            return None  # the wrapper raises as Python does, or keys it as memo.py does
        pair = (<object>name, <object>value)
        Py_INCREF(pair)
        if items is not None:
            PyTuple_SET_ITEM(items, i, pair)
        else:
            PyList_SET_ITEM(pairs, i, pair)
        i += 1
    if items is None:
        PyList_Sort(pairs)
        return PyList_AsTuple(pairs)
    if n == 2:
        a = <tuple>PyTuple_GET_ITEM(items, 0)
        b = <tuple>PyTuple_GET_ITEM(items, 1)
        if PyUnicode_Compare(<object>PyTuple_GET_ITEM(a, 0), <object>PyTuple_GET_ITEM(b, 0)) > 0:
            return (b, a)
    return items


cdef _Head _head_of(MemoFunction self, tuple args, PyObject *kwargs):
    """The head of the call's key, or None when the Python wrapper must serve the call."""
    cdef PyObject *found
    cdef object types
    cdef object t
    cdef Py_ssize_t i, n
    if self._typed_head is not None:
        if kwargs != NULL:
            return None
        n = PyTuple_GET_SIZE(args)
        if n == 1:  # a type is never a tuple: the two kinds of dict key never meet
            types = <object>Py_TYPE(PyTuple_GET_ITEM(args, 0))
        else:
            types = PyTuple_New(n)
            for i in range(n):
                t = <object>Py_TYPE(PyTuple_GET_ITEM(args, i))
                Py_INCREF(t)
                PyTuple_SET_ITEM(types, i, t)
        # Borrowed, and safe without the GIL too: entries are never removed from _heads.
        found = PyDict_GetItem(self._heads, types)
        if found != NULL:
            return <_Head>found
        typed = self._typed_head(args)  # resolves the function's identity on the first call
        head = _Head(typed[0], typed[1])
        if PyDict_Size(self._heads) < MAX_TYPED_HEADS:
            PyDict_SetItem(self._heads, types, head)
        return head
    if not gdc_memo_ready(&self._ready):
        return None
    if kwargs == NULL:
        return self._plain
    items = _kwarg_items(kwargs)
    if items is None:
        return None
    return _Head(self._plain.first, (self._qualname, self._token, items, _NO_TYPES))


cdef object _call(MemoFunction self, tuple args, PyObject *kwargs):
    """The call of a MemoFunction: its tp_call (kwargs: NULL when none)."""
    cdef _Head head
    cdef Py_hash_t h
    if kwargs != NULL and PyDict_Size(<object>kwargs) == 0:
        kwargs = NULL  # f(*args, **{}): a plain call, as the wrapper's `if kwargs` has it
    try:
        head = _head_of(self, args, kwargs)
        if head is None:
            return PyObject_Call(self._slow, args, <object>kwargs if kwargs != NULL else None)
        h = _args_hash(head.acc, args)
    except TypeError:
        # an unhashable argument: the wrapper says which
        return PyObject_Call(self._slow, args, <object>kwargs if kwargs != NULL else None)
    value = self._table._get_parts(head.first, head.second, args, h, _MISSING, _UNSURE)
    if value is _MISSING:
        return self._miss(_key(head.first, head.second, args), args, <object>kwargs if kwargs != NULL else {})
    if value is _UNSURE:
        return PyObject_Call(self._slow, args, <object>kwargs if kwargs != NULL else None)
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
