"""Picks the hash table: the compiled ``_table_c`` or its pure-Python twin ``_table_py``.

``GODISTCACHE_NO_EXTENSIONS=1`` in the environment forces the pure-Python one.
Type checkers always see the pure-Python twin, which defines the types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._compat import NO_EXTENSIONS, warn_fallback

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._table_py import MAX_TTL_NS, TTL, Table, now_ns, own_methods, ttl_to_ns

    CORE = "py"
else:
    try:
        from ._table_c import MAX_TTL_NS, Table, now_ns, own_methods, ttl_to_ns

        CORE = "c"
    except ImportError as exc:  # pragma: no cover - exercised by installs without a compiler
        from ._table_py import MAX_TTL_NS, Table, now_ns, own_methods, ttl_to_ns

        CORE = "py"
        warn_fallback("table", exc)
    from ._ttl_py import TTL

#: The calls users make in hot loops: a class on the table gets them as its own C methods (``own_methods``).
HOT_METHODS = ("get", "put", "put_safe", "exists", "delete", "delete_safe", "ttl")

__all__ = ["CORE", "HOT_METHODS", "MAX_TTL_NS", "TTL", "Table", "now_ns", "own_methods", "ttl_to_ns"]
