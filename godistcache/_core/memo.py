"""Picks memoize's compiled hit path, ``_memo_c``, if there is one.

It has no pure-Python twin: without it (``GODISTCACHE_NO_EXTENSIONS=1``, or a
failed import) ``godistcache.memo`` keeps its Python wrapper for every call,
which is the reference behaviour. ``MemoFunction`` is None then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from ._compat import NO_EXTENSIONS, warn_fallback

#: The compiled memoized function (``_memo_c.MemoFunction``), or None.
MemoFunction: Optional[Callable[..., Any]] = None


def plain_get(cache: Any) -> bool:
    """Whether ``cache.get`` is the compiled table's own (never, without the compiled module)."""
    return False


CORE = "py"
if not TYPE_CHECKING and not NO_EXTENSIONS:  # type checkers see the None above: there is no twin to show
    try:
        from ._memo_c import MemoFunction, plain_get

        CORE = "c"
    except ImportError as exc:  # pragma: no cover - exercised by installs without a compiler
        warn_fallback("memoize hit path", exc)

__all__ = ["CORE", "MemoFunction", "plain_get"]
