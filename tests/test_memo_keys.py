"""memoize keys: distinct functions never share entries; module-level ones keep stable keys across processes."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from godistcache import Cache

from .conftest import CORE_NAMES

MODULE_CACHE = Cache()
calls: list[Any] = []


@MODULE_CACHE.memoize
def double(n: int) -> int:
    calls.append(("double", n))
    return 2 * n


@MODULE_CACHE.memoize
async def adouble(n: int) -> int:
    calls.append(("adouble", n))
    return 2 * n


class Shapes:
    @MODULE_CACHE.memoize
    def area(self, w: int) -> int:
        return w * w

    @staticmethod
    @MODULE_CACHE.memoize
    def perimeter(w: int) -> int:
        return 4 * w

    @classmethod
    @MODULE_CACHE.memoize
    def name(cls, w: int) -> str:
        return f"{cls.__name__}{w}"


def _plus(n: int, d: int) -> int:
    return n + d


# Two lambdas of one module and one statement: the same module and qualified name "<lambda>".
PLUS_ONE, PLUS_TWO = MODULE_CACHE.memoize(lambda n: n + 1), MODULE_CACHE.memoize(lambda n: n + 2)


def test_module_level_functions_keep_todays_key() -> None:
    MODULE_CACHE.clear()
    assert double(5) == 10 and double(5) == 10
    assert MODULE_CACHE[(__name__, "double", 5)] == 10
    assert asyncio.run(adouble(6)) == 12 and asyncio.run(adouble(6)) == 12
    assert MODULE_CACHE[(__name__, "adouble", 6)] == 12
    shapes = Shapes()
    assert shapes.area(3) == 9 and MODULE_CACHE[(__name__, "Shapes.area", shapes, 3)] == 9
    assert Shapes.perimeter(3) == 12 and MODULE_CACHE[(__name__, "Shapes.perimeter", 3)] == 12
    assert Shapes.name(3) == "Shapes3" and MODULE_CACHE[(__name__, "Shapes.name", Shapes, 3)] == "Shapes3"


def test_two_lambdas_of_one_module_do_not_share() -> None:
    MODULE_CACHE.clear()
    assert PLUS_ONE(1) == 2
    assert PLUS_TWO(1) == 3
    assert len(MODULE_CACHE) == 2


def test_the_issues_example_closures_from_one_factory() -> None:
    c = Cache()
    make = lambda k: c.memoize(lambda n: n * k)  # noqa: E731  (the issue's own words)
    assert make(2)(5) == 10
    assert make(3)(5) == 15


def test_closures_and_nested_functions_of_one_qualname_do_not_share() -> None:
    c = Cache()

    def factory(k: int) -> Callable[[int], int]:
        @c.memoize
        def times(n: int) -> int:
            return n * k

        return times

    twice, thrice = factory(2), factory(3)
    assert twice.__qualname__ == thrice.__qualname__
    assert twice(5) == 10 and thrice(5) == 15 and twice(5) == 10

    @c.memoize
    def f(n: int) -> str:
        return "first"

    first = f

    @c.memoize  # type: ignore[no-redef]
    def f(n: int) -> str:
        return "second"

    assert first(1) == "first" and f(1) == "second"
    # Two wrappers of one closure share, since it is one function.
    again = c.memoize(first.__wrapped__)  # type: ignore[attr-defined]
    assert again(1) == "first"


def test_async_closures_do_not_share() -> None:
    c = Cache()

    def factory(k: int) -> Callable[[int], Any]:
        @c.memoize
        async def times(n: int) -> int:
            await asyncio.sleep(0)
            return n * k

        return times

    async def main() -> list[int]:
        return [await factory(2)(5), await factory(3)(5)]

    assert asyncio.run(main()) == [10, 15]


def test_partials_and_callable_objects() -> None:
    c = Cache()
    plus_one = c.memoize(functools.partial(_plus, d=1))
    plus_two = c.memoize(functools.partial(_plus, d=2))
    assert plus_one(1) == 2 and plus_two(1) == 3 and plus_one(1) == 2

    class Times:
        def __init__(self, k: int) -> None:
            self.k = k

        def __call__(self, n: int) -> int:
            return n * self.k

    assert c.memoize(Times(2))(5) == 10 and c.memoize(Times(3))(5) == 15


@pytest.fixture
def module_in(tmp_path: Path) -> Iterator[Callable[[str, str], ModuleType]]:
    """Import a module written on the fly (importable by name, as a real one); removed after the test."""
    names: list[str] = []

    def load(name: str, source: str) -> ModuleType:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        names.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in names:
        sys.modules.pop(name, None)


REDEFINED = """
from godistcache import Cache

c = Cache()

@c.memoize
def f(x):
    return ("first", x)

first = f
{call}

@c.memoize
def f(x):
    return ("second", x)
"""


@pytest.mark.parametrize("called_before", [True, False], ids=["called", "not-called"])
def test_a_redefined_module_level_function_does_not_share(
    module_in: Callable[[str, str], ModuleType], called_before: bool
) -> None:
    name = f"memo_redefined_{called_before}"
    mod = module_in(name, REDEFINED.format(call="first(1)" if called_before else ""))
    assert mod.f(1) == ("second", 1)
    assert mod.first(1) == ("first", 1)
    assert mod.f(1) == ("second", 1)
    # The name keeps its stable key for the function that used it first; the other gets a token.
    stable = (name, "f", 1)
    assert mod.c[stable] == (("first", 1) if called_before else ("second", 1))
    assert len(mod.c) == 2


def test_a_reloaded_module_does_not_hit_the_old_codes_entries(module_in: Callable[[str, str], ModuleType]) -> None:
    source = "from godistcache import Cache\nc = Cache()\n@c.memoize\ndef f(x):\n    return 1\n"
    mod = module_in("memo_reloaded", source)
    assert mod.f(0) == 1
    old_cache = mod.c
    # The new code keeps the module's cache (as a module that made it only once would).
    keep_cache = "c = globals()['c'] if 'c' in globals() else Cache()"
    new_source = source.replace("c = Cache()", keep_cache).replace("return 1", "return 2")
    Path(mod.__file__ or "").write_text(new_source)
    spec = importlib.util.spec_from_file_location("memo_reloaded", mod.__file__)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(mod)  # a reload: same module object, same cache, new code
    assert mod.c is old_cache
    assert mod.f(0) == 2


def test_typed() -> None:
    c = Cache()
    seen: list[Any] = []

    @c.memoize
    def loose(x: Any, *, y: Any = 0) -> str:
        seen.append(x)
        return type(x).__name__

    @c.memoize(typed=True)
    def strict(x: Any, *, y: Any = 0) -> str:
        return type(x).__name__ + "/" + type(y).__name__

    # Like functools.lru_cache: 1, 1.0 and True are equal keys unless typed.
    assert [loose(1), loose(1.0), loose(True)] == ["int", "int", "int"] and seen == [1]
    assert [strict(1), strict(1.0), strict(True)] == ["int/int", "float/int", "bool/int"]
    assert [strict(1, y=1), strict(1, y=1.0)] == ["int/int", "int/float"]
    assert strict(1) == "int/int"


def test_namespace_shares_on_purpose_and_argument_checks() -> None:
    c = Cache()
    square = c.memoize(namespace="square")(lambda n: n * n)
    also_square = c.memoize(namespace="square")(lambda n: -1)
    assert square(4) == 16 and also_square(4) == 16  # the user said these are one computation
    assert c[("square", None, 4)] == 16
    assert c.memoize(namespace=("v", 2))(lambda n, *, k=0: n + k)(1, k=2) == 3
    with pytest.raises(TypeError, match="namespace must be hashable, got list"):
        c.memoize(namespace=["x"])
    with pytest.raises(TypeError, match="key= builds the whole key"):
        c.memoize(key=lambda n: n, namespace="x")
    with pytest.raises(TypeError, match="key= builds the whole key"):
        c.memoize(key=lambda n: n, typed=True)
    with pytest.raises(TypeError, match="key= of .*<lambda> must return a hashable key, got unhashable type"):
        c.memoize(key=lambda n: [n])(lambda n: n)(1)


STABLE = """
from godistcache import Cache

c = Cache()
calls = []

@c.memoize
def square(x, *, plus=0):
    calls.append(x)
    return x * x + plus

def make(k):
    @c.memoize
    def times(n):
        calls.append(n)
        return n * k
    return times
"""

PROCESS = """
import sys
import memo_stable as m

path, mode = sys.argv[1], sys.argv[2]
if mode == "load":
    m.c.load(path)
results = [m.square(7), m.square(7, plus=1), m.make(3)(5)]
if mode == "save":
    m.c.save(path)
print(results, len(m.calls))
"""


@pytest.mark.parametrize("core", CORE_NAMES)
def test_stable_keys_across_processes(tmp_path: Path, core: str) -> None:
    (tmp_path / "memo_stable.py").write_text(STABLE)
    (tmp_path / "run.py").write_text(PROCESS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    env["GODISTCACHE_NO_EXTENSIONS"] = "1" if core == "py" else "0"
    snap = str(tmp_path / "memo.godistcache")

    def run(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, str(tmp_path / "run.py"), snap, mode], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run("save") == "[49, 50, 15] 3"
    # The module-level function hits the other process's entries, positional and keyword calls alike;
    # the closure (whose k could differ there) does not.
    assert run("load") == "[49, 50, 15] 1"
