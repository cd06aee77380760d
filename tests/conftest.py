"""Fixtures shared by the test suite: the c/py core switch and a fake timer.

Every behaviour test takes ``cache_cls`` (or ``cache``) and so runs once on
the compiled core (id ``c``) and once on the pure-Python twin (id ``py``),
as multidict's ``tests/conftest.py`` does. The ``c`` run is skipped only when
``GODISTCACHE_NO_EXTENSIONS`` is set: an extension that fails to import must
fail the suite, never skip it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from types import ModuleType
from typing import Any, Optional

import pytest

from godistcache._core import twins
from godistcache._testing import cache_class

from .s3server import s3server  # noqa: F401  (the session S3 server fixture)

NO_EXTENSIONS = os.environ.get("GODISTCACHE_NO_EXTENSIONS", "") not in ("", "0")

#: A fixed Unix time (2023-11-14T22:13:20Z) in ns: tests that freeze the clock start here.
T0_NS = 1_700_000_000 * 1_000_000_000

CORE_NAMES = ("py",) if NO_EXTENSIONS else ("c", "py")

_CORE_PARAMS = [
    pytest.param(
        "c",
        id="c",
        marks=pytest.mark.skipif(NO_EXTENSIONS, reason="GODISTCACHE_NO_EXTENSIONS is set"),
    ),
    pytest.param("py", id="py"),
]


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Poll predicate() until it is true; fail the test after timeout seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.005)


def outcome_within(
    call: Any, seconds: float, on_timeout: Optional[Callable[[], None]] = None
) -> Optional[BaseException]:
    """The exception call() raises (None if it returns), run in a daemon thread.

    Fails the test if the call is still running after seconds, so a
    regression that hangs fails instead of hanging the suite; on_timeout
    (if given) runs first, to release the stuck thread.
    """
    import threading

    outcome: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if on_timeout is not None:
            on_timeout()
            thread.join(5)
        pytest.fail(f"the call was still blocked after {seconds} s")
    return outcome[0] if outcome else None


def golden_script(name: str) -> ModuleType:
    """The script ``tests/golden/<name>.py`` that makes (and describes) a set of golden files."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parent / "golden" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def core_module(name: str) -> ModuleType:
    """The table module of a core: ``godistcache._core._table_c`` or ``godistcache._core._table_py``."""
    return twins(name).table


@pytest.fixture(scope="session", params=_CORE_PARAMS)
def core(request: pytest.FixtureRequest) -> ModuleType:
    """The table module of the core under test (parametrised: ``c``, ``py``)."""
    return core_module(request.param)


@pytest.fixture(scope="session")
def cache_cls(core: ModuleType) -> type[Any]:
    """The Cache class for the core under test."""
    return cache_class(core.__name__.rsplit("_", 1)[1])  # godistcache._core._table_<core>


@pytest.fixture
def cache(cache_cls: type[Any], request: pytest.FixtureRequest) -> Any:
    """A new, empty cache on the core under test, with no default TTL; its timer is ``clock`` if the test has one."""
    if "clock" in request.fixturenames:
        return cache_cls(timer=request.getfixturevalue("clock"))
    return cache_cls()


@pytest.fixture(scope="session")
def cache_classes() -> dict[str, type[Any]]:
    """Every available core's Cache class at once, by core name."""
    return {name: cache_class(name) for name in CORE_NAMES}


class FrozenClock:
    """A fake timer for ``Cache(timer=clock)``: a Unix-ns instant moved only by the test.

    It returns exact seconds (a Fraction), so both cores read it to the ns.
    A pickled cache takes the test's clock along by reference: the clock the
    unpickled cache reads is the one the test moves.
    """

    def __init__(self, now_ns: int = T0_NS) -> None:
        self.now = now_ns

    def __call__(self) -> Fraction:
        return Fraction(self.now, 1_000_000_000)

    def __repr__(self) -> str:
        return f"FrozenClock({self.now})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_the_clock, ())

    def set(self, now_ns: int) -> None:
        """Move the clock to ``now_ns`` (Unix ns)."""
        self.now = now_ns

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (rounded to the ns)."""
        self.advance_ns(round(seconds * 1_000_000_000))

    def advance_ns(self, ns: int) -> None:
        """Move the clock forward by ``ns`` nanoseconds."""
        self.set(self.now + ns)


_clocks: list[FrozenClock] = []


def _the_clock() -> FrozenClock:
    """The running test's clock (what a pickled FrozenClock unpickles as)."""
    return _clocks[-1]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FrozenClock]:
    """A fake timer at ``T0_NS``, which every cache made during the test is given.

    The ``cache`` fixture passes it as ``timer=``; caches the test (or code it
    calls: a framework backend, a load) makes itself get it as their default
    ``timer``, for the test only.
    """
    frozen = FrozenClock()
    for name in CORE_NAMES:
        defaults = cache_class(name).__init__.__kwdefaults__
        monkeypatch.setitem(defaults, "timer", frozen)
    _clocks.append(frozen)
    try:
        yield frozen
    finally:
        _clocks.remove(frozen)


@pytest.fixture(scope="session", autouse=True)
def _away_from_the_source_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run the session in an empty directory, so no child process imports the source tree.

    ``python -c ...`` and ``python -m godistcache`` put the working directory
    first on sys.path: started from a checkout, a child would import the
    uncompiled ``godistcache/`` beside the tests (and fall back to the pure
    twins, slower and with a warning) instead of the installed build that
    ``--import-mode=importlib`` gives this process.
    """
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        yield
    finally:
        os.chdir(here)
