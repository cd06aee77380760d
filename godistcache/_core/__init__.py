"""The compiled core and its pure-Python twins, side by side.

Each part is a compiled module, its pure-Python twin (same names, same
behaviour, the reference for both) and a selector that picks one::

    table    _table_c.pyx/.pxd   _table_py.py    the hash table with C-level expiry
    codec    _codec_c.pyx/.pxd   _codec_py.py    values <-> bytes
    frames   _frames_c.pyx/.pxd  _frames_py.py   cache entries <-> snapshot frame payloads
    seal     _seal_c.pyx/.pxd    _seal_py.py     AES-GCM blobs and put_crypt/get_crypt
    memo     _memo_c.pyx         (none)          memoize's hit path (else memo.py's Python wrapper)

A pure-Python twin too large for one concern has its parts beside it, each
one concern: the table's size bound (``_bound_py``), on_evict
(``_listener_py``), TTLs (``_ttl_py``) and clock (``_clock_py``); the codec's
format (``_value_format``), encoder (``_encode_py``) and decode budget
(``_budget``). The twin module keeps the compiled module's names.

``GODISTCACHE_NO_EXTENSIONS=1`` makes every selector pick the pure-Python
twin (``_compat``). :data:`CORES` says what each picked. :func:`table_class`
and :func:`core_of` tell which table a cache stands on (snapshots match it);
:func:`twins` gives the four modules of one core, to build a cache on the core
the selectors did not pick (``godistcache._testing.cache_class``).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from types import MappingProxyType, ModuleType

from . import _table_py, codec, frames, seal, table

__all__ = ["CORES", "Twins", "core_of", "table_class", "twins"]

#: What each selector picked: ``"c"`` (compiled) or ``"py"``, by part. Read-only.
CORES = MappingProxyType({"table": table.CORE, "codec": codec.CORE, "frames": frames.CORE, "seal": seal.CORE})

_PARTS = ("table", "codec", "frames", "seal")


@dataclass(frozen=True)
class Twins:
    """The four modules of one core (all compiled, or all pure-Python)."""

    table: ModuleType
    codec: ModuleType
    frames: ModuleType
    seal: ModuleType


_twins: dict[str, Twins] = {}


def twins(core: str) -> Twins:
    """The modules of core ``"c"`` (compiled) or ``"py"`` (pure-Python), whatever the selectors picked.

    Raises:
        ValueError: core is neither ``"c"`` nor ``"py"``.
        ImportError: core is ``"c"`` and a compiled module does not import.
    """
    if core not in ("c", "py"):
        raise ValueError(f"core must be 'c' or 'py', got {core!r}")
    found = _twins.get(core)
    if found is None:
        found = _twins[core] = Twins(*(importlib.import_module(f"{__name__}._{part}_{core}") for part in _PARTS))
    return found


def table_class(obj: object) -> type:
    """The table class (compiled or pure-Python) a table, or a cache standing on one, is built on.

    Raises:
        TypeError: obj stands on neither core's table.
    """
    if isinstance(obj, _table_py.Table):
        return _table_py.Table
    compiled = sys.modules.get(f"{__name__}._table_c")  # a compiled table exists only once its module is imported
    if compiled is not None and isinstance(obj, compiled.Table):
        return compiled.Table  # type: ignore[no-any-return]
    raise TypeError(f"expected a godistcache cache or table, got {type(obj).__qualname__}")


def core_of(obj: object) -> str:
    """The core a table, or a cache standing on one, is built on: ``"c"`` or ``"py"``.

    Raises:
        TypeError: obj stands on neither core's table.
    """
    return "py" if table_class(obj) is _table_py.Table else "c"
