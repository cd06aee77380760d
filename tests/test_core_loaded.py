"""A wheel must never fall back to a pure-Python twin silently (yarl ``test_quoting_c_loaded``)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import godistcache
from godistcache._core import codec, core_of, frames, seal, table, twins
from godistcache._testing import cache_class

NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")
PARTS = ("table", "codec", "frames", "seal")


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
@pytest.mark.parametrize("part", PARTS)
def test_compiled_twin_loaded(part: str) -> None:
    import importlib

    compiled = importlib.import_module(f"godistcache._core._{part}_c")  # an ImportError here is the failure we look for
    assert godistcache.CORES[part] == "c"
    assert getattr(twins("c"), part) is compiled


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_selectors_hand_out_the_compiled_twins() -> None:
    compiled = twins("c")
    assert godistcache.CORE == "c"
    assert table.Table is compiled.table.Table and compiled.table.Table in godistcache.Cache.__mro__
    assert codec.encode is compiled.codec.encode and codec.decode is compiled.codec.decode
    assert frames.decode_frame is compiled.frames.decode_frame and frames.collect is compiled.frames.collect
    assert isinstance(godistcache.Keyring(bytes(32)), compiled.seal.KeyringCore)
    assert seal.KeyringCore is compiled.seal.KeyringCore
    assert type(vars(godistcache.Cache)["put_crypt"]).__name__ == "method_descriptor"


@pytest.mark.skipif(not NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is not set")
def test_no_extensions_selects_python_twins() -> None:
    pure = twins("py")
    assert godistcache.CORE == "py"
    assert dict(godistcache.CORES) == dict.fromkeys(PARTS, "py")
    assert pure.table.Table in godistcache.Cache.__mro__
    assert isinstance(godistcache.Keyring(bytes(32)), pure.seal.KeyringCore)


def test_cores_is_read_only_and_agrees_with_core() -> None:
    assert set(godistcache.CORES) == set(PARTS)
    assert godistcache.CORES["table"] == godistcache.CORE
    with pytest.raises(TypeError):
        godistcache.CORES["table"] = "py"  # type: ignore[index]


def test_public_cache_is_usable() -> None:
    cache = godistcache.Cache(default_ttl=60)
    cache.put("a", 1)
    cache["b"] = 2
    assert (cache.get("a"), "b" in cache, len(cache)) == (1, True, 2)
    assert isinstance(cache, godistcache.Cache)


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_a_twin_that_falls_back_shows_in_cores(tmp_path: Path) -> None:
    """One compiled twin failing to import: CORE still says "c", CORES names the twin, and caches still work."""
    script = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, format='%(message)s')\n"
        "sys.modules['godistcache._core._frames_c'] = None  # its import fails, as a broken build's would\n"
        "import godistcache\n"
        "cache = godistcache.Cache()\n"
        "cache.put('k', 1)\n"
        "cache.save(sys.argv[1])\n"
        "print(godistcache.Cache.from_file(sys.argv[1]).get('k'))\n"
        "print(godistcache.CORE, sorted(godistcache.CORES.items()))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "x.godistcache")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    assert "the compiled snapshot frame codec failed to import" in out[0]
    assert out[1:] == ["1", "c [('codec', 'c'), ('frames', 'py'), ('seal', 'c'), ('table', 'c')]"]


def test_cache_class_is_cache_on_the_selected_core() -> None:
    assert cache_class(godistcache.CORE) is godistcache.Cache
    with pytest.raises(ValueError, match="core must be 'c' or 'py', got 'x'"):
        cache_class("x")


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_cache_class_on_the_other_core_is_a_whole_cache() -> None:
    other = cache_class("py")
    assert core_of(other()) == "py" and core_of(godistcache.Cache()) == "c"
    assert twins("py").table.Table in other.__mro__ and twins("c").table.Table not in other.__mro__
    public = {name for name in dir(godistcache.Cache) if not name.startswith("_")}
    assert public == {name for name in dir(other) if not name.startswith("_")}
    cache = other(60, cipher_key=bytes(32), max_size=10)  # Cache.__init__, its zero-argument super() included
    cache.put_crypt("k", "secret")
    assert (cache.get_crypt("k"), cache.max_size, len(cache)) == ("secret", 10, 1)
    with pytest.raises(TypeError, match="expected a godistcache cache or table, got dict"):
        core_of({})


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_cache_class_instances_unpickle_in_a_fresh_process() -> None:
    cache = cache_class("py")(60)
    cache.put("k", [1, 2])
    script = (
        "import pickle, sys\n"
        "cache = pickle.loads(sys.stdin.buffer.read())\n"
        "print(type(cache).__module__, type(cache).__qualname__, cache.get('k'))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", script], input=pickle.dumps(cache), capture_output=True, env=env, check=True, timeout=120
    ).stdout.decode()
    assert out.split() == ["godistcache._testing", "PyCache", "[1,", "2]"]


@pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set")
def test_memoize_hit_path_compiled() -> None:
    import importlib

    from godistcache._core import memo

    compiled = importlib.import_module("godistcache._core._memo_c")  # an ImportError here is the failure we look for
    assert memo.CORE == "c" and memo.MemoFunction is compiled.MemoFunction
    assert type(godistcache.Cache().memoize(len)) is compiled.MemoFunction
