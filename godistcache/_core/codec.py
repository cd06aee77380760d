"""Picks the value codec: the compiled ``_codec_c`` or its pure-Python twin ``_codec_py``.

``GODISTCACHE_NO_EXTENSIONS=1`` in the environment forces the pure-Python one.
Type checkers always see the pure-Python twin, which is also the reference for
the wire format (its module docstring holds the format table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._codec_py import FORMAT_VERSION, MAX_DEPTH
from ._compat import NO_EXTENSIONS, warn_fallback

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
        warn_fallback("codec", exc)

__all__ = ["CORE", "FORMAT_VERSION", "MAX_DEPTH", "decode", "encode"]
