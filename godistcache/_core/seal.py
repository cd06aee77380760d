"""Picks the sealing core: the compiled ``_seal_c`` or its pure-Python twin ``_seal_py``.

``GODISTCACHE_NO_EXTENSIONS=1`` in the environment forces the pure-Python one.
Type checkers always see the pure-Python twin. Both write and read the same
blobs. ``CryptMethods`` (the pure-Python put_crypt and get_crypt) always comes
from the pure-Python twin: it is the base :class:`godistcache.sealed.SealedMethods`
builds on, and ``own_sealed_methods`` replaces its methods by compiled ones on a
class that stands on the compiled table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._compat import NO_EXTENSIONS, warn_fallback
from ._seal_py import CryptMethods

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._seal_py import KeyringCore, aad, own_sealed_methods

    CORE = "py"
else:
    try:
        from ._seal_c import KeyringCore, aad, own_sealed_methods

        CORE = "c"
    except ImportError as exc:  # pragma: no cover - exercised by installs without a compiler
        from ._seal_py import KeyringCore, aad, own_sealed_methods

        CORE = "py"
        warn_fallback("sealing core", exc)

__all__ = ["CORE", "CryptMethods", "KeyringCore", "aad", "own_sealed_methods"]
