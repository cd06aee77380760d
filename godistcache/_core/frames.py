"""Picks the snapshot frame codec: the compiled ``_frames_c`` or its pure-Python twin ``_frames_py``.

``GODISTCACHE_NO_EXTENSIONS=1`` in the environment forces the pure-Python one.
Type checkers always see the pure-Python twin. The compiled codec reads the
compiled table's entries directly, so a cache on the pure-Python table takes
the pure-Python codec whatever is chosen here: :func:`godistcache._core.twins`
gives the codec that matches a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._compat import NO_EXTENSIONS, warn_fallback
from ._frames_py import OPAQUE, REFUSE, UNPICKLE

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._frames_py import collect, crc32, decode_frame, encode_frame, merge, merge_sync, refs_of

    CORE = "py"
else:
    try:
        from ._frames_c import collect, crc32, decode_frame, encode_frame, merge, merge_sync, refs_of

        CORE = "c"
    except ImportError as exc:  # pragma: no cover - exercised by installs without a compiler
        from ._frames_py import collect, crc32, decode_frame, encode_frame, merge, merge_sync, refs_of

        CORE = "py"
        warn_fallback("snapshot frame codec", exc)

__all__ = [
    "CORE",
    "OPAQUE",
    "REFUSE",
    "UNPICKLE",
    "collect",
    "crc32",
    "decode_frame",
    "encode_frame",
    "merge",
    "merge_sync",
    "refs_of",
]
