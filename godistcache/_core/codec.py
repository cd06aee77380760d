"""Picks the value codec: the compiled ``_codec_c`` or its pure-Python twin ``_codec_py``.

``GODISTCACHE_NO_EXTENSIONS=1`` in the environment forces the pure-Python one.
Type checkers always see the pure-Python twin, which is also the reference for
the wire format (specified in ``docs/value-format.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._compat import NO_EXTENSIONS, warn_fallback
from ._value_format import FORMAT_VERSION, MAX_DEPTH

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
