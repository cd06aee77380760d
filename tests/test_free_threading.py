"""Threads that really run at once: the core on the free-threaded build (3.14t) with the GIL off.

On a GIL build these run too (the switch interval made tiny), and check the
same consistency. ``scripts/test-free-threaded.sh`` runs the whole suite on
3.14t with ``PYTHON_GIL=0``; the tests here then also check that the GIL
really is off, and that importing godistcache doesn't turn it back on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import threading
import time
from types import ModuleType
from typing import Any

import pytest

from godistcache._stress import BOUND, stress

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_free_threaded = pytest.mark.skipif(not FREE_THREADED, reason="a free-threaded build (3.13t+) only")

#: Every module with compiled code godistcache imports: each must declare that it runs without the GIL.
_IMPORTS = """
import sys
import godistcache, godistcache.s3, godistcache.syncer
from godistcache._core import _codec_c, _frames_c, _memo_c, _seal_c, _table_c
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
c = godistcache.Cache(cipher_key=bytes(32), max_size=10)
c.put_crypt("k", 1)
assert c.get_crypt("k") == 1
print(sys._is_gil_enabled())
"""


@needs_free_threaded
def test_the_suite_runs_with_the_gil_off() -> None:
    # scripts/test-free-threaded.sh sets PYTHON_GIL=0; without it, an incompatible module would have turned it on.
    assert sys._is_gil_enabled() is False  # type: ignore[attr-defined]


@needs_free_threaded
def test_importing_godistcache_keeps_the_gil_off(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _IMPORTS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", done.stdout + done.stderr


def test_eight_threads_of_every_call_stay_consistent(cache_cls: Any) -> None:
    report = stress(cache_cls, seconds=float(os.environ.get("GODISTCACHE_STRESS_SECONDS", "2")), threads=8)
    # Every kind of call ran, and the bounded cache evicted while the others ran.
    assert len(report.ops) == 18, report.ops
    assert min(report.ops.values()) > 0, report.ops
    assert report.evictions > 0
    assert report.nonces == report.ops["seal"]


def test_copy_pickle_and_save_see_one_state_while_others_write(cache_cls: Any, core: ModuleType) -> None:
    # With the GIL off, a copy built item by item from an iterator met other threads' writes and raised
    # "cache changed during iteration": copies, deepcopies and pickles now take the entries in one step.
    import copy
    import pickle

    cache = cache_cls(max_size=BOUND)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                cache.put((seed, i % 500), (seed, i % 500))
                cache.delete((seed, (i + 250) % 500))
                i += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(s,)) for s in range(3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    for t in writers:
        t.start()
    try:
        deadline = time.monotonic() + 1.0
        rounds = 0
        while time.monotonic() < deadline:
            for other in (cache.copy(), copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
                assert len(other) <= BOUND
                assert all(v == k for k, v in other.items())
            rounds += 1
    finally:
        stop.set()
        for t in writers:
            t.join()
        sys.setswitchinterval(interval)
    assert errors == []
    assert rounds > 0


@pytest.mark.parametrize("kind", range(6))
def test_list_is_what_iteration_gives(cache_cls: Any, kind: int) -> None:
    cache = cache_cls()
    for i in range(50):
        cache.put(i, str(i), ttl=None if i % 2 else 60)
    cache.delete(7)
    assert cache._list(kind) == list(cache._iter(kind))
    with pytest.raises(ValueError, match="kind must be 0 to 5"):
        cache._list(6)


def test_pop_popitem_setdefault_are_one_step_each(cache_cls: Any) -> None:
    # MutableMapping's pop read and then deleted: another thread deleting in between made pop(key, default)
    # raise KeyError, and setdefault could return a value other than the one stored.
    cache = cache_cls()
    errors: list[BaseException] = []
    popped: list[Any] = []
    stop = threading.Event()

    def churn() -> None:
        try:
            while not stop.is_set():
                for i in range(50):
                    cache.put(i, ("v", i))
                    cache.delete(i - 1)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def take() -> None:
        try:
            while not stop.is_set():
                for i in range(50):
                    value = cache.pop(i, None)
                    if value is not None:
                        popped.append((i, value))
                    got = cache.setdefault(("d", i), ("d", i))
                    assert got == ("d", i)
                    cache.delete(("d", i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn), threading.Thread(target=take), threading.Thread(target=take)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    for t in threads:
        t.start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    sys.setswitchinterval(interval)
    assert errors == []
    assert popped and all(value == ("v", i) for i, value in popped)


def test_pop_popitem_setdefault_as_dict_has_them(cache_cls: Any) -> None:
    told: list[tuple[Any, Any, str]] = []
    cache = cache_cls(on_evict=lambda k, v, cause: told.append((k, v, cause)))
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3, ttl=60)
    assert cache.pop("a") == 1
    assert told == [("a", 1, "deleted")]
    with pytest.raises(KeyError):
        cache.pop("a")
    assert cache.pop("a", "dflt") == "dflt"
    assert cache.pop("a", None) is None
    assert cache.popitem() == ("b", 2)  # the oldest live entry first
    assert cache.setdefault("c", 99) == 3
    assert cache.setdefault("n") is None and "n" in cache
    assert cache.popitem() == ("c", 3)
    assert cache.popitem() == ("n", None)
    with pytest.raises(KeyError, match="empty"):
        cache.popitem()
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (5, 4)  # pops and setdefaults count as lookups, as self[key] did


def test_popitem_does_not_call_a_subclass_pop(cache_cls: Any) -> None:
    # As dict.popitem: the removal is the table's own, in the same step as finding the oldest entry, whatever
    # a subclass makes of pop (here one that would remove nothing and answer something else).
    class Sub(cache_cls):  # type: ignore[misc, valid-type]
        def pop(self, key: Any, default: Any = None) -> Any:
            return "not the value"

    cache = Sub()
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.popitem() == ("a", 1)
    assert "a" not in cache and list(cache.keys()) == ["b"]
    assert cache.pop("b") == "not the value" and "b" in cache
