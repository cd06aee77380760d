"""The package's public names (issue 12): what users hold is importable from ``godistcache``, typed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import godistcache
from godistcache import snapshot


def test_result_types_are_exported(tmp_path: Path) -> None:
    cache = godistcache.Cache()
    cache.put("a", 1)
    assert type(cache.stats()) is godistcache.CacheStats
    cache.save(tmp_path / "c.godistcache")
    assert type(snapshot.inspect(tmp_path / "c.godistcache")) is godistcache.SnapshotInfo
    assert godistcache.Backup.__module__.startswith("godistcache.")
    for name in ("Backup", "CacheStats", "SnapshotInfo", "Store"):
        assert name in godistcache.__all__, name


def test_version_has_one_home() -> None:
    from godistcache._version import __version__

    assert godistcache.__version__ is __version__


def test_snapshot_surface_has_no_drivers() -> None:
    # The drivers (save, load_into, dump_json) are the cache's business: Cache.save, Cache.load, Cache.export_json.
    assert set(snapshot.__all__) == {
        "FORMAT_VERSION",
        "MAGIC",
        "SUFFIX",
        "Header",
        "Progress",
        "SnapshotInfo",
        "created_ns",
        "export_json",
        "inspect",
        "verify",
    }
    for name in ("save", "load_into", "dump_json"):
        assert not hasattr(snapshot, name), name


EXAMPLE = """
import godistcache
from godistcache import Cache, S3Store, Store


class MyCache(Cache):
    pass


def bootstrap(store: S3Store) -> MyCache:
    return MyCache.from_s3(store)


def make(path: str) -> MyCache:
    return MyCache.from_file(path)


def copied(cache: MyCache) -> MyCache:
    return cache.copy()


def as_store(store: S3Store) -> Store:
    return store


stats: godistcache.CacheStats = Cache().stats()
"""


@pytest.mark.slow
def test_constructors_return_the_class_for_mypy(tmp_path: Path) -> None:
    """from_s3, from_file and copy return the caller's class (they returned Any), and S3Store is a Store."""
    pytest.importorskip("mypy")
    example = tmp_path / "typed_example.py"
    example.write_text(EXAMPLE, encoding="utf-8")
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / ".mypy_cache"))
    root = str(Path(godistcache.__file__).resolve().parent.parent)
    if "site-packages" not in root:  # imported from a source tree: mypy ignores PYTHONPATH
        env["MYPYPATH"] = root
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--warn-return-any", str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
