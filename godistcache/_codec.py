"""Picks the value codec: the compiled ``_codec_c`` or its pure-Python twin.

``GODISTCACHE_NO_EXTENSIONS=1`` in the environment forces the pure-Python one.
Type checkers always see the pure-Python twin, which is also the reference for
the wire format (its module docstring holds the format table).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ._codec_py import FORMAT_VERSION, MAX_DEPTH

NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._codec_py import decode, encode

    CORE = "py"
else:
    try:
        from ._codec_c import decode, encode

        CORE = "c"
    except ImportError as exc:  # pragma: no cover - exercised by installs without a compiler
        from ._codec_py import decode, encode

        CORE = "py"
        logging.getLogger("godistcache").warning(
            "godistcache: the compiled codec failed to import (%s); using the pure-Python codec, "
            "several times slower. Set GODISTCACHE_NO_EXTENSIONS=1 to choose it on purpose.",
            exc,
        )

__all__ = ["CORE", "FORMAT_VERSION", "MAX_DEPTH", "NO_EXTENSIONS", "decode", "encode"]
