"""Picks the hash table: the compiled ``_table_c`` or its pure-Python twin.

``GODISTCACHE_NO_EXTENSIONS=1`` in the environment forces the pure-Python one.
Type checkers always see the pure-Python twin, which defines the types.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")

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
        logging.getLogger("godistcache").warning(
            "godistcache: the compiled core failed to import (%s); using the pure-Python core, "
            "several times slower. Set GODISTCACHE_NO_EXTENSIONS=1 to choose it on purpose.",
            exc,
        )
    from ._table_py import TTL

__all__ = ["CORE", "MAX_TTL_NS", "NO_EXTENSIONS", "TTL", "Table", "now_ns", "own_methods", "ttl_to_ns"]
