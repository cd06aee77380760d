"""Picks the hash table: the compiled ``_table_c`` or its pure-Python twin.

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
        warn_fallback("core", exc)
    from ._table_py import TTL

__all__ = ["CORE", "MAX_TTL_NS", "NO_EXTENSIONS", "TTL", "Table", "now_ns", "own_methods", "ttl_to_ns"]
