"""Files that are not snapshots (FIFOs, devices, directories) are refused without blocking,
and temporary files left by writers killed mid-save are removed by later saves to the same path.

Every call that could block runs under a guard (a thread joined with a timeout, or a subprocess
with a timeout), so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest

from godistcache import Cache, snapshot
from godistcache._files import STALE_AGE, atomic_write, open_regular
from godistcache.errors import SnapshotError
from godistcache.s3 import S3Store

from .conftest import outcome_within

posix_only = pytest.mark.skipif(
    os.name != "posix" or not hasattr(os, "mkfifo"), reason="FIFOs, devices and flock are POSIX"
)
GUARD = 20.0  # seconds before a call counts as hung


def _guarded(call: Callable[[], Any], fifo: Optional[Path] = None) -> Optional[BaseException]:
    """The exception call raises (None if it returns); fails the test if it blocks for GUARD seconds."""

    def release() -> None:
        # Release the reader stuck in open(): a writer arrives and leaves at once.
        assert fifo is not None
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    return outcome_within(call, GUARD, release if fifo is not None else None)


def _readers(path: Path) -> dict[str, Callable[[], Any]]:
    """Every library call that opens a file for reading."""
    store = S3Store("127.0.0.1:9", "bucket", "access", "secret", secure=False)
    return {
        "load": lambda: Cache().load(path),
        "from_file": lambda: Cache.from_file(path),
        "inspect": lambda: snapshot.inspect(path),
        "verify": lambda: snapshot.verify(path),
        "export_json": lambda: snapshot.export_json(path, io.StringIO()),
        "created_ns": lambda: snapshot.created_ns(path),
        "s3 upload": lambda: store.upload(path),
    }


@posix_only
@pytest.mark.parametrize("call", list(_readers(Path("x"))))
def test_fifo_is_refused_without_blocking(tmp_path: Path, call: str) -> None:
    fifo = tmp_path / "pipe.godistcache"
    os.mkfifo(fifo)
    exc = _guarded(_readers(fifo)[call], fifo)
    assert isinstance(exc, SnapshotError), exc
    assert str(fifo) in str(exc) and "not a regular file" in str(exc) and "FIFO" in str(exc)
    assert exc.path == str(fifo)


@posix_only
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("call", list(_readers(Path("x"))))
def test_character_device_is_refused(call: str) -> None:
    exc = _guarded(_readers(Path("/dev/zero"))[call])
    assert isinstance(exc, SnapshotError), exc
    assert "/dev/zero: not a regular file: it is a character device" in str(exc)


@posix_only
@pytest.mark.parametrize("call", list(_readers(Path("x"))))
def test_directory_is_refused(tmp_path: Path, call: str) -> None:
    exc = _guarded(_readers(tmp_path)[call])
    assert isinstance(exc, IsADirectoryError), exc  # what open() raises: a directory was always refused so
    assert exc.filename == str(tmp_path)


@posix_only
def test_socket_is_refused(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(SnapshotError, match="it is a socket"):
            open_regular(path)


@posix_only
def test_symlink_to_a_snapshot_loads(tmp_path: Path) -> None:
    c = Cache()
    c["a"] = 1
    c.save(tmp_path / "real.godistcache")
    os.symlink(tmp_path / "real.godistcache", tmp_path / "link.godistcache")
    assert Cache.from_file(tmp_path / "link.godistcache")["a"] == 1
    assert snapshot.verify(tmp_path / "link.godistcache").entries == 1
    with open_regular(tmp_path / "link.godistcache") as f:  # reads block again: a full read returns everything
        assert f.read() == (tmp_path / "real.godistcache").read_bytes()


@posix_only
@pytest.mark.parametrize("command", [["inspect"], ["verify"], ["export", "--json", "-o", "out.json"]])
def test_cli_on_a_fifo_fails_at_once(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "pipe.godistcache"
    os.mkfifo(fifo)
    args = [sys.executable, "-m", "godistcache", command[0], str(fifo), *command[1:]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("GODISTCACHE_AES_CIPHER_KEY", None)
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"godistcache {command[0]} blocked on a FIFO")
    assert done.returncode == 1, done.stderr
    assert f"{fifo}: not a regular file: it is a FIFO" in done.stderr
    assert not (tmp_path / "out.json").exists()


# ------------------------------------------------------------------ stale temporary files

#: Saves a cache to argv[1] and stops mid-save (after the first frame) until killed.
BLOCKED_SAVER = textwrap.dedent(
    """
    import sys, time
    from godistcache import Cache

    c = Cache()
    for i in range(50_000):
        c[f"k{i}"] = "x" * 40

    def progress(done, total):
        if 0 < done < total:
            print("mid-save", flush=True)
            time.sleep(3600)

    c.save(sys.argv[1], progress=progress)
    """
)


def _temp_files(directory: Path, target: str) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(f".{target}.") and p.name.endswith(".tmp"))


def _age(path: Path, seconds: float = STALE_AGE + 60) -> None:
    """Make path look written that many seconds ago."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


class _Saver:
    """A process blocked in the middle of a save, until killed."""

    def __init__(self, path: Path) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        env.pop("GODISTCACHE_AES_CIPHER_KEY", None)
        self.proc = subprocess.Popen([sys.executable, "-c", BLOCKED_SAVER, str(path)], stdout=subprocess.PIPE, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == b"mid-save", line

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def saver() -> Any:
    started: list[_Saver] = []

    def start(path: Path) -> _Saver:
        started.append(_Saver(path))
        return started[-1]

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.kill()


def _small_cache() -> Cache:
    c = Cache()
    c["a"] = 1
    return c


@posix_only
def test_save_removes_temp_file_of_a_killed_save(tmp_path: Path, saver: Any) -> None:
    path = tmp_path / "c.godistcache"
    saver(path).kill()
    [left] = _temp_files(tmp_path, path.name)
    _small_cache().save(path)
    assert _temp_files(tmp_path, path.name) == [left], "a temp file younger than STALE_AGE is kept"
    _age(left)
    _small_cache().save(path)
    assert _temp_files(tmp_path, path.name) == []
    assert Cache.from_file(path)["a"] == 1


@posix_only
def test_many_killed_saves_leave_at_most_the_young_ones(tmp_path: Path, saver: Any) -> None:
    path = tmp_path / "c.godistcache"
    for _ in range(3):
        saver(path).kill()
        for left in _temp_files(tmp_path, path.name):
            _age(left)
    assert len(_temp_files(tmp_path, path.name)) == 1  # each save cleared the one before
    with atomic_write(path) as f:
        f.write(b"data")
    assert _temp_files(tmp_path, path.name) == []


@posix_only
def test_temp_file_of_a_live_save_is_kept(tmp_path: Path, saver: Any) -> None:
    path = tmp_path / "c.godistcache"
    live = saver(path)
    [busy] = _temp_files(tmp_path, path.name)
    _age(busy)  # old, but its writer is alive and holds the lock
    _small_cache().save(path)
    assert _temp_files(tmp_path, path.name) == [busy]
    live.kill()
    _small_cache().save(path)
    assert _temp_files(tmp_path, path.name) == []


@posix_only
def test_temp_file_of_a_save_in_this_process_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.godistcache"
    with atomic_write(path) as outer:
        outer.write(b"outer")
        [busy] = _temp_files(tmp_path, path.name)
        _age(busy)
        with atomic_write(path) as inner:
            inner.write(b"inner")
        assert busy.exists()
    assert path.read_bytes() == b"outer"
    assert _temp_files(tmp_path, path.name) == []


@posix_only
def test_unrelated_files_are_never_removed(tmp_path: Path) -> None:
    path = tmp_path / "c.godistcache"
    keep = [
        ".other.godistcache.abcdefgh.tmp",  # another target's temp file
        ".c.godistcache.abcdefg.tmp",  # 7 random characters: not mkstemp's
        ".c.godistcache.abcdefghi.tmp",
        ".c.godistcache.ABCDEFGH.tmp",
        ".c.godistcache.abcdefgh.tmp.bak",
        "c.godistcache.abcdefgh.tmp",
        ".c.godistcache.abcdefgh.temp",
        ".x.c.godistcache.abcdefgh.tmp",
        "notes.txt",
    ]
    for name in keep:
        (tmp_path / name).write_bytes(b"user data")
    (tmp_path / ".c.godistcache.dir_here.tmp").mkdir()  # our pattern, but a directory
    os.symlink(tmp_path / "notes.txt", tmp_path / ".c.godistcache.linkhere.tmp")  # our pattern, but a link
    os.mkfifo(tmp_path / ".c.godistcache.fifohere.tmp")  # our pattern, but a FIFO (must not block either)
    stale = tmp_path / ".c.godistcache.abcdefgh.tmp"
    stale.write_bytes(b"left by a killed save")
    everything = [*keep, ".c.godistcache.dir_here.tmp", ".c.godistcache.linkhere.tmp", ".c.godistcache.fifohere.tmp"]
    for name in [*everything, stale.name]:
        _age(tmp_path / name)
    assert _guarded(lambda: _small_cache().save(path)) is None
    assert sorted(os.listdir(tmp_path)) == sorted([*everything, path.name])
    assert all((tmp_path / name).read_bytes() == b"user data" for name in keep)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd")
def test_bad_open_arguments_leak_no_descriptor_or_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(ValueError, match="mode"):
            with atomic_write(target, mode="bogus"):
                pass  # pragma: no cover - open() raises first
    assert len(os.listdir("/proc/self/fd")) == before
    assert os.listdir(tmp_path) == []
