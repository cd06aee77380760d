"""The names cachetools users reach for: maxsize, currsize, getsizeof, __missing__, subclass state, cached()."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest


def test_maxsize_and_currsize(cache_cls: type[Any]) -> None:
    unbounded = cache_cls()
    unbounded.put("a", 1)
    assert unbounded.maxsize is None and unbounded.currsize == 1
    sized = cache_cls()
    sized._set_bound(10)
    for i in range(25):
        sized.put(i, i)
    assert sized.maxsize == 10 and sized.currsize == 10 == len(sized)
    weighed = cache_cls()
    weighed._set_bound(None, 100, lambda k, v: len(v))
    weighed.put("a", "x" * 30)
    weighed.put("b", "y" * 20)
    assert weighed.maxsize == 100 and weighed.currsize == 50 and len(weighed) == 2
    assert weighed.getsizeof("z" * 7) == 7 and unbounded.getsizeof(object()) == 1


def test_maxsize_and_currsize_are_read_only(cache_cls: type[Any]) -> None:
    c = cache_cls()
    with pytest.raises(AttributeError):
        c.maxsize = 3
    with pytest.raises(AttributeError):
        c.currsize = 3


def test_a_subclass_missing_answers_a_miss(cache_cls: type[Any]) -> None:
    class Defaulting(cache_cls):  # type: ignore[misc, valid-type]
        def __missing__(self, key: Any) -> Any:
            value = self[key] = f"made {key}"
            return value

    c = Defaulting()
    assert c["k"] == "made k" and c.get("k") == "made k"  # stored by __missing__, as dict subclasses do
    assert c.get("other") is None  # get() does not call it, as in dict
    with pytest.raises(KeyError):
        cache_cls()["k"]  # no __missing__: a KeyError as before


def test_subclass_attributes_survive_copy_deepcopy_and_pickle(cache_classes: dict[str, type[Any]]) -> None:
    for base in cache_classes.values():
        cls = type("Tagged", (base,), {"__module__": __name__})
        globals()["Tagged"] = cls  # pickle finds the class by name
        c = cls(60)
        c.tag = ["owner"]
        c.put("k", [1])
        for other in (c.copy(), copy.copy(c), copy.deepcopy(c), pickle.loads(pickle.dumps(c))):
            assert type(other) is cls and other.tag == ["owner"] and other.get("k") == [1]
            assert other.default_ttl == 60.0
        assert c.copy().tag is c.tag and copy.deepcopy(c).tag is not c.tag


def test_a_cache_without_attributes_pickles_as_before(cache_classes: dict[str, type[Any]]) -> None:
    for cls in cache_classes.values():
        c = cls()
        c.put("k", 1)
        assert type(c.__reduce__()[2]) is list  # the 0.1.0 state: readable by 0.1.0


def test_cachetools_cached_with_info(cache_cls: type[Any]) -> None:
    cachetools = pytest.importorskip("cachetools")
    cache = cache_cls()
    cache._set_bound(100)
    calls = []

    @cachetools.cached(cache=cache, info=True)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert [square(i % 5) for i in range(20)] == [(i % 5) ** 2 for i in range(20)]
    assert calls == [0, 1, 2, 3, 4]
    info = square.cache_info()
    # cachetools asks maxsize only of its own Cache subclasses; of any other mapping it reports None and len().
    assert (info.hits, info.misses, info.maxsize, info.currsize) == (15, 5, None, 5)
    square.cache_clear()
    assert len(cache) == 0
