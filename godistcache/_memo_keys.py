"""The keys of ``memoize``: a function's identity, its arguments, their types.

A function reachable under its module and qualified name keeps the key
``(module, qualname, *args)``, the same in every process, so snapshots and
synced entries hit; any other function (a lambda, a closure, a nested or
redefined function, a partial) gets a token of its own, unique across
processes, so two functions never share entries by accident. Calls with
keyword arguments, typed calls and those tokens take the form
``(module, (qualname, token, kwargs, types), *args)``. These shapes travel in
snapshots and sync segments: they change only with a format version.
"""

from __future__ import annotations

import inspect
import itertools
import os
import sys
from collections.abc import Callable, Hashable
from typing import Any, Optional

__all__ = ["MAX_TYPED_HEADS", "full_key", "key_parts", "unhashable_error"]

_tokens = itertools.count()
# A fresh nonce per process (and per forked child): unstable keys travel in snapshots, and a
# counter alone would give another process's function the same token.
_process_nonce = os.urandom(8).hex()


def _after_fork_in_child() -> None:
    global _process_nonce
    _process_nonce = os.urandom(8).hex()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

#: (module, qualname) -> the function whose entries the stable key ``(module, qualname, *args)`` holds in this
#: process: the first one to use it. A function later defined under the same name (a redefinition, a reload)
#: gets a token instead, so it never hits entries of the code it replaced.
_stable_names: dict[tuple[str, str], Callable[..., Any]] = {}

_MAX_WRAPPERS = 64


def _is_reachable(func: Callable[..., Any], module: str, qualname: str) -> bool:
    """Whether ``module.qualname`` names func, directly or through decorators that set ``__wrapped__``."""
    obj: Any = sys.modules.get(module)
    if obj is None:
        return False
    try:
        for part in qualname.split("."):
            obj = inspect.getattr_static(obj, part)  # static: no property or module __getattr__ runs
        for _ in range(_MAX_WRAPPERS):
            if obj is func:
                return True
            if isinstance(obj, (classmethod, staticmethod)):
                obj = obj.__func__
            else:
                obj = inspect.getattr_static(obj, "__wrapped__")
    except AttributeError:
        return False
    return False


def key_parts(func: Callable[..., Any], namespace: Optional[Hashable]) -> tuple[Any, Optional[str], Optional[str]]:
    """The family of func's entries: (namespace or module, qualname or None, token or None).

    Call with the caller's lock held (it claims stable names).
    """
    if namespace is not None:
        return namespace, None, None
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        if "<" not in qualname and _is_reachable(func, module, qualname):
            if _stable_names.setdefault((module, qualname), func) is func:
                return module, qualname, None
    else:
        module = module if isinstance(module, str) else None
        qualname = type(func).__qualname__
    return module, qualname, f"{_process_nonce}:{next(_tokens)}"


def _type_tag(cls: type) -> Hashable:
    qualname = cls.__qualname__
    if "<" in qualname:
        return cls  # a local class has no name that tells it apart; it is unstable anyway
    return f"{cls.__module__}.{qualname}"


class _TypeTags(dict[type, Hashable]):
    """type -> its tag, built once per named class: a typed call looks its tags up in C."""

    __slots__ = ()

    def __missing__(self, cls: type) -> Hashable:
        tag = _type_tag(cls)
        if tag is not cls and len(self) < _MAX_TYPE_TAGS:  # a local class is its own tag: never kept alive here
            self[cls] = tag
        return tag


_MAX_TYPE_TAGS = 4096
#: Per typed memoized function: how many tuples of argument types keep their key head.
MAX_TYPED_HEADS = 256
_type_tags = _TypeTags()
_tag_of = _type_tags.__getitem__


def full_key(parts: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any], typed: bool) -> tuple[Any, ...]:
    """The key of a call with keyword arguments, a typed call, or a call of an unstable function.

    Its second item is a tuple, so it never equals a plain key, whose second item is a str or None.
    """
    first, qualname, token = parts
    if not kwargs:
        items: tuple[tuple[str, Any], ...] = ()
    elif len(kwargs) == 1:
        items = tuple(kwargs.items())
    else:
        items = tuple(sorted(kwargs.items()))
    types: tuple[Hashable, ...] = ()
    if typed:
        types = tuple(map(_tag_of, map(type, args)))
        if items:
            types += tuple(map(_tag_of, map(type, [v for _, v in items])))
    return (first, (qualname, token, items, types)) + args


def _name_of(func: Callable[..., Any]) -> str:
    name = getattr(func, "__qualname__", None)
    return name if isinstance(name, str) else type(func).__qualname__


def unhashable_error(func: Callable[..., Any], key: Any, custom: bool, exc: TypeError) -> TypeError:
    """A clear TypeError when key is not hashable, else exc itself (raised by a key's ``__eq__``)."""
    try:
        hash(key)
    except TypeError as why:
        if custom:
            return TypeError(f"memoize: key= of {_name_of(func)} must return a hashable key, got {why}")
        return TypeError(
            f"memoize: the arguments of {_name_of(func)} are not hashable ({why}); pass key=... to build a key"
        )
    return exc
