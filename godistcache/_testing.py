"""``Cache`` on a chosen core, for the tests and benchmarks that run every behaviour on both.

:func:`cache_class` gives ``godistcache.Cache`` itself for the core the
selectors picked, and for the other core a class built the same way on that
core's table, with its own hot methods and (compiled) sealed methods. Such a
class lives in this module (``CCache`` or ``PyCache``), so its instances
pickle, and unpickle in a process that has not built it yet.
"""

from __future__ import annotations

import types
from typing import Any

from ._core import CORES, twins
from ._core.table import HOT_METHODS, Table
from .cache import Cache
from .errors import no_keyring

__all__ = ["cache_class"]

_NAMES = {"c": "CCache", "py": "PyCache"}
_built: dict[str, type[Cache]] = {}


def cache_class(core: str) -> type[Cache]:
    """``Cache`` standing on core ``"c"`` (compiled) or ``"py"`` (pure-Python).

    Raises:
        ValueError: core is neither ``"c"`` nor ``"py"``.
        ImportError: core is ``"c"`` and the compiled modules do not import.
    """
    if core not in _NAMES:
        raise ValueError(f"core must be 'c' or 'py', got {core!r}")
    if core == CORES["table"]:
        return Cache
    cls = _built.get(core)
    if cls is None:
        cls = _built[core] = _build(core)
    return cls


def _build(core: str) -> type[Cache]:
    parts = twins(core)
    bases = tuple(parts.table.Table if base is Table else base for base in Cache.__bases__)
    name = _NAMES[core]
    namespace: dict[str, Any] = {"__slots__": Cache.__slots__, "__module__": __name__, "__qualname__": name}
    cell = types.CellType()
    for attr, value in vars(Cache).items():
        # Cache's own Python methods and properties; not its slots, nor the
        # compiled descriptors own_methods gave it (they belong to its table).
        if isinstance(value, types.FunctionType):
            namespace[attr] = _with_class_cell(value, cell)
        elif isinstance(value, (property, classmethod, staticmethod)) or attr == "__doc__":
            namespace[attr] = value
    cls: type[Cache] = type(name, bases, namespace)
    cell.cell_contents = cls
    parts.table.own_methods(cls, HOT_METHODS)
    parts.seal.own_sealed_methods(cls, no_keyring)
    globals()[name] = cls
    return cls


def _with_class_cell(func: types.FunctionType, cell: types.CellType) -> types.FunctionType:
    """func, its ``__class__`` (what zero-argument ``super()`` reads) taken from cell instead."""
    if "__class__" not in func.__code__.co_freevars:
        return func
    closure = tuple(
        cell if var == "__class__" else old for var, old in zip(func.__code__.co_freevars, func.__closure__ or ())
    )
    new = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, closure)
    new.__kwdefaults__ = func.__kwdefaults__
    new.__qualname__, new.__doc__, new.__annotations__ = func.__qualname__, func.__doc__, func.__annotations__
    return new


def __getattr__(name: str) -> type[Cache]:
    # Unpickling a CCache or PyCache in a process that has not built it yet.
    for core, class_name in _NAMES.items():
        if name == class_name and core != CORES["table"]:
            return cache_class(core)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
