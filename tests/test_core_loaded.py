"""A wheel must never fall back to the pure-Python core silently (yarl ``test_quoting_c_loaded``)."""

from __future__ import annotations

import os

import pytest

import godistcache
from godistcache import _table

NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_compiled_core_loaded() -> None:
    import godistcache._table_c as table_c  # an ImportError here is the failure we look for

    assert godistcache.CORE == "c"
    assert _table.Table is table_c.Table
    assert table_c.Table in godistcache.Cache.__mro__


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_compiled_snapshot_codec_loaded() -> None:
    import godistcache._snapshot_c as snapshot_c
    from godistcache import _snapshot_file

    assert _snapshot_file._snapshot_c is snapshot_c
    assert _snapshot_file.frame_codec(godistcache.Cache()) is snapshot_c


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_compiled_sealing_loaded() -> None:
    import godistcache._crypt_c as crypt_c
    from godistcache import crypto

    assert crypto._crypt_c is crypt_c
    assert isinstance(godistcache.Keyring(bytes(32)), crypt_c.KeyringCore)


@pytest.mark.skipif(not NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is not set")
def test_no_extensions_selects_python_core() -> None:
    import godistcache._table_py as table_py

    assert godistcache.CORE == "py"
    assert table_py.Table in godistcache.Cache.__mro__


def test_public_cache_is_usable() -> None:
    cache = godistcache.Cache(default_ttl=60)
    cache.put("a", 1)
    cache["b"] = 2
    assert (cache.get("a"), "b" in cache, len(cache)) == (1, True, 2)
    assert isinstance(cache, godistcache.Cache)
