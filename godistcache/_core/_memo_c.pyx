# cython: language_level=3, embedsignature=True, binding=False, freethreading_compatible=True
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
from cpython.dict cimport PyDict_GetItem, PyDict_Next, PyDict_Size
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_CheckExact, PyUnicode_Compare
from libc.stdint cimport uint64_t

from godistcache._core._table_c cimport Table

cdef extern from "Python.h":
    PyObject *PyDict_SetDefault(object d, object key, object default) except NULL


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
    ctypedef PyObject *(*vectorcallfunc)(PyObject *, PyObject **, size_t, PyObject *)
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)
    object PyObject_Vectorcall(object callable, PyObject **args, size_t nargsf, PyObject *kwnames)

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

# Vectorcall: a call with keyword arguments reaches the function as their names (a constant tuple of the
# call site) and values, with no dict built for it (tp_call gets one), and a call the wrapper serves is passed
# on as it came. The type gets the flag and the offset of its instances' entry point once, at import.
cdef extern from *:
    """
    static inline void gdc_memo_set_vectorcall(PyTypeObject *tp, Py_ssize_t offset)
    {
        tp->tp_vectorcall_offset = offset;
        tp->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
        PyType_Modified(tp);
    }
    """
    void gdc_memo_set_vectorcall(PyTypeObject *tp, Py_ssize_t offset) noexcept

import copy as _copy

cdef object _deepcopy = _copy.deepcopy
cdef object _MISSING = object()
cdef object _UNSURE = object()
cdef tuple _NO_TYPES = ()
cdef PyMethodDef *_TABLE_GET = gdc_descr_method(Table.__dict__["get"])


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


cdef _Head _make_head(object first, object second):
    # Not _Head(first, second): that would call the type with an argument tuple, as Python does.
    cdef _Head head = _Head.__new__(_Head)
    head.acc = _head_acc(first, second)
    head.first = first
    head.second = second
    return head


cdef class MemoFunction:
    """A memoized function whose hits run in C; every other call goes to the Python wrapper.

    ``memo.py`` gives it the decorated function's metadata (``functools.wraps``)
    and lru_cache's introspection, as it does its Python wrapper.
    """

    cdef vectorcallfunc _vectorcall  # _vcall: the type's vectorcall entry point, per instance as CPython has it
    cdef Table _table
    # Written once by _set_head, before _ready (read with acquire order): never changed after.
    cdef object _first         # the plain key's first two items
    cdef object _second
    cdef Py_uhash_t _acc       # tuplehash's state after those two items
    cdef object _qualname      # the rest of the function's identity, for keyword calls' keys
    cdef object _token
    cdef int _ready
    cdef bint _copy
    cdef object _typed_head    # typed only: typed_head(args) -> the key's head (memo.py), else None
    cdef dict _heads           # typed only: type (one argument) or tuple of types -> _Head; only ever grows
    cdef Py_ssize_t _max_heads  # typed only: how many _heads keeps (each holds its types alive)
    cdef uint64_t _hits        # hits on the C path; the Python wrapper counts its own
    cdef object _slow          # the Python wrapper: the whole behaviour, for every call not settled here
    cdef object _miss          # miss(key, args, kwargs) of memo.py
    cdef dict __dict__
    cdef object __weakref__

    def __cinit__(self, Table table not None, slow, miss, bint copy, typed_head=None, Py_ssize_t max_heads=0):
        self._table = table
        self._slow = slow
        self._miss = miss
        self._copy = copy
        self._typed_head = typed_head
        self._heads = {}
        self._max_heads = max_heads
        self._ready = 0
        self._hits = 0
        self._vectorcall = <vectorcallfunc>_vcall

    def _set_head(self, tuple head not None, tuple parts not None):
        """Take the key's head and the function's identity, resolved by the first call.

        From now on plain and keyword calls run here. head is ``(first,
        second)`` of a plain key; parts is ``(first, qualname, token)``.
        """
        first, second = head
        _, qualname, token = parts
        acc = _head_acc(first, second)
        with cython.critical_section(self):
            if self._ready:
                return
            self._acc = acc
            self._first = first
            self._second = second
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
        if kwargs:
            second = _keyword_second(self, _dict_items(<PyObject *>kwargs)) if _keywords_here(self) else None
            return None if second is None else _key(self._first, second, args)
        if self._typed_head is not None:
            head = _typed_head_of(self, args)
            return _key(head.first, head.second, args)
        return _key(self._first, self._second, args) if gdc_memo_ready(&self._ready) else None

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


cdef tuple _in_name_order(tuple items):
    """memo.py's items: the (name, value) pairs in name order when more than one.

    Names are distinct, so sorting the pairs (``sorted(kwargs.items())``) orders them by name alone.
    """
    cdef Py_ssize_t n = PyTuple_GET_SIZE(items)
    cdef object a, b
    if n == 2:
        a = <object>PyTuple_GET_ITEM(items, 0)
        b = <object>PyTuple_GET_ITEM(items, 1)
        if PyUnicode_Compare(<object>PyTuple_GET_ITEM(a, 0), <object>PyTuple_GET_ITEM(b, 0)) > 0:
            return (b, a)
    elif n > 2:
        pairs = list(items)
        PyList_Sort(pairs)
        return PyList_AsTuple(pairs)
    return items


cdef tuple _dict_items(PyObject *kwargs):
    """The keyword arguments' items as memo.py has them; None if a name is not an exact str."""
    cdef Py_ssize_t pos = 0, i = 0
    cdef PyObject *name
    cdef PyObject *value
    cdef tuple items = PyTuple_New(PyDict_Size(<object>kwargs))
    while PyDict_Next(<object>kwargs, &pos, &name, &value):
        if not PyUnicode_CheckExact(<object>name):
            return None  # the wrapper raises as Python does, or keys it as memo.py does
        pair = (<object>name, <object>value)
        Py_INCREF(pair)
        PyTuple_SET_ITEM(items, i, pair)
        i += 1
    return _in_name_order(items)


cdef tuple _vector_items(PyObject **values, tuple names):
    """The items of a vectorcall's keyword arguments (names, and values in that order); None as _dict_items."""
    cdef Py_ssize_t i, n = PyTuple_GET_SIZE(names)
    cdef tuple items = PyTuple_New(n)
    for i in range(n):
        name = <object>PyTuple_GET_ITEM(names, i)
        if not PyUnicode_CheckExact(name):
            return None
        pair = (name, <object>values[i])
        Py_INCREF(pair)
        PyTuple_SET_ITEM(items, i, pair)
    return _in_name_order(items)


cdef dict _vector_kwargs(PyObject **values, tuple names):
    cdef dict kwargs = {}
    cdef Py_ssize_t i
    for i in range(PyTuple_GET_SIZE(names)):
        kwargs[<object>PyTuple_GET_ITEM(names, i)] = <object>values[i]
    return kwargs


cdef _Head _typed_head_of(MemoFunction self, tuple args):
    """The head of a typed call's key (no keyword arguments): kept per tuple of argument types."""
    cdef PyObject *found
    cdef object types
    cdef object t
    cdef Py_ssize_t i, n
    n = PyTuple_GET_SIZE(args)
    if n == 1:  # a type is never a tuple: the two kinds of dict key never meet
        types = <object>Py_TYPE(PyTuple_GET_ITEM(args, 0))
    else:
        types = PyTuple_New(n)
        for i in range(n):
            t = <object>Py_TYPE(PyTuple_GET_ITEM(args, i))
            Py_INCREF(t)
            PyTuple_SET_ITEM(types, i, t)
    # Borrowed, and safe without the GIL too: an entry of _heads is never removed or replaced (setdefault
    # below: two threads making the head of the same types keep the first one stored).
    found = PyDict_GetItem(self._heads, types)
    if found != NULL:
        return <_Head>found
    typed = self._typed_head(args)  # resolves the function's identity on the first call
    head = _make_head(typed[0], typed[1])
    if PyDict_Size(self._heads) < self._max_heads:
        return <_Head>PyDict_SetDefault(self._heads, types, head)
    return head


cdef inline bint _keywords_here(MemoFunction self) noexcept:
    """Whether a call with keyword arguments runs here (not typed, the function's identity resolved)."""
    return self._typed_head is None and gdc_memo_ready(&self._ready)


cdef inline tuple _keyword_second(MemoFunction self, tuple items):
    """The second item of a keyword call's key, (qualname, token, items, ()); None when items is."""
    return None if items is None else (self._qualname, self._token, items, _NO_TYPES)


cdef inline object _lookup(MemoFunction self, object first, object second, tuple args, Py_hash_t h):
    """The value under (first, second, *args), h its hash (a hit, counted); else _MISSING or _UNSURE.

    _UNSURE: a compare changed the table, and the Python wrapper must serve the call.
    """
    value = self._table._get_parts(first, second, args, h, _MISSING, _UNSURE)
    if value is _MISSING or value is _UNSURE:
        return value
    gdc_count(&self._hits)
    return _deepcopy(value) if self._copy else value


cdef object _call(MemoFunction self, tuple args, PyObject *kwargs):
    """The call of a MemoFunction: its tp_call (kwargs: NULL when none)."""
    cdef _Head head
    cdef object first, second
    cdef Py_uhash_t acc
    cdef Py_hash_t h
    if kwargs != NULL and PyDict_Size(<object>kwargs) == 0:
        kwargs = NULL  # f(*args, **{}): a plain call, as the wrapper's `if kwargs` has it
    try:
        if kwargs == NULL:
            if self._typed_head is not None:
                head = _typed_head_of(self, args)
                first, second, acc = head.first, head.second, head.acc
            elif gdc_memo_ready(&self._ready):
                first, second, acc = self._first, self._second, self._acc
            else:
                return PyObject_Call(self._slow, args, None)
        else:
            second = _keyword_second(self, _dict_items(kwargs)) if _keywords_here(self) else None
            if second is None:
                return PyObject_Call(self._slow, args, <object>kwargs)
            first = self._first
            acc = _head_acc(first, second)
        h = _args_hash(acc, args)
    except TypeError:
        # an unhashable argument: the wrapper says which
        return PyObject_Call(self._slow, args, <object>kwargs if kwargs != NULL else None)
    value = _lookup(self, first, second, args, h)
    if value is _MISSING:
        return self._miss(_key(first, second, args), args, <object>kwargs if kwargs != NULL else {})
    if value is _UNSURE:
        return PyObject_Call(self._slow, args, <object>kwargs if kwargs != NULL else None)
    return value


cdef inline tuple _args_tuple(PyObject **argv, Py_ssize_t nargs):
    cdef tuple args = PyTuple_New(nargs)
    cdef Py_ssize_t i
    for i in range(nargs):
        Py_INCREF(<object>argv[i])
        PyTuple_SET_ITEM(args, i, <object>argv[i])
    return args


cdef object _vcall(PyObject *callable, PyObject **argv, size_t nargsf, PyObject *kwnames):
    """The vectorcall of a MemoFunction: as _call, the keyword arguments given as names and values."""
    cdef MemoFunction self = <MemoFunction>callable
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t nkw = PyTuple_GET_SIZE(<object>kwnames) if kwnames != NULL else 0
    cdef tuple args
    cdef _Head head
    cdef object first, second
    cdef Py_hash_t h
    if nkw == 0 and self._typed_head is None:  # a plain call: the hot path
        if not gdc_memo_ready(&self._ready):
            return PyObject_Vectorcall(self._slow, argv, nargsf, kwnames)
        args = _args_tuple(argv, nargs)
        try:
            h = _args_hash(self._acc, args)
        except TypeError:
            return PyObject_Vectorcall(self._slow, argv, nargsf, kwnames)  # the wrapper says which is unhashable
        # _lookup, written out: the compiler does not inline it, and this is the hottest path
        value = self._table._get_parts(self._first, self._second, args, h, _MISSING, _UNSURE)
        if value is _MISSING:
            return self._miss(_key(self._first, self._second, args), args, {})
        if value is not _UNSURE:
            gdc_count(&self._hits)
            return _deepcopy(value) if self._copy else value
    else:
        if nkw != 0 and not _keywords_here(self):  # typed, or the head not yet resolved
            return PyObject_Vectorcall(self._slow, argv, nargsf, kwnames)
        args = _args_tuple(argv, nargs)
        try:
            if nkw == 0:
                head = _typed_head_of(self, args)
                first, second = head.first, head.second
                h = _args_hash(head.acc, args)
            else:
                second = _keyword_second(self, _vector_items(argv + nargs, <tuple>kwnames))
                if second is None:
                    return PyObject_Vectorcall(self._slow, argv, nargsf, kwnames)
                first = self._first
                h = _args_hash(_head_acc(first, second), args)
        except TypeError:
            return PyObject_Vectorcall(self._slow, argv, nargsf, kwnames)
        value = _lookup(self, first, second, args, h)
        if value is _MISSING:
            return self._miss(_key(first, second, args), args,
                              _vector_kwargs(argv + nargs, <tuple>kwnames) if nkw else {})
    if value is _UNSURE:
        return PyObject_Vectorcall(self._slow, argv, nargsf, kwnames)
    return value


gdc_set_call(<PyTypeObject *>MemoFunction, <ternaryfunc>_call)


cdef _vectorcall_offset():
    # Where an instance holds its entry point: measured on one, as Cython names no struct to take offsetof of.
    cdef MemoFunction one = MemoFunction(Table(), None, None, False)
    return <char *>&one._vectorcall - <char *><PyObject *>one


gdc_memo_set_vectorcall(<PyTypeObject *>MemoFunction, _vectorcall_offset())


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
