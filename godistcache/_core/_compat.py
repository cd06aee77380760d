"""The switch every twin selector reads, and the warning each gives when it falls back.

Each selector (``table``, ``codec``, ``frames``, ``seal``) picks its compiled
module or its pure-Python twin; the imports themselves stay in each selector,
spelled out, so type checkers see the pure-Python twin.
"""

from __future__ import annotations

import logging
import os

#: ``GODISTCACHE_NO_EXTENSIONS=1`` forces the pure-Python twins.
NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")


def warn_fallback(what: str, exc: ImportError) -> None:
    """Log that the compiled ``what`` failed to import and its pure-Python twin is in use."""
    logging.getLogger("godistcache").warning(
        "godistcache: the compiled %s failed to import (%s); using the pure-Python %s, "
        "several times slower. Set GODISTCACHE_NO_EXTENSIONS=1 to choose it on purpose.",
        what,
        exc,
        what,
    )
