"""Regenerate ``tests/golden/pickle_v1/*.pickle``: pickles of a ``Cache``, as users make them.

Run from anywhere: ``python tests/golden/make_pickle_golden.py``. ``tests/test_copy_pickle.py``
checks that each file still unpickles to :func:`expected` (a pickle names the classes and
functions it needs by module path, so moving one of them breaks every pickle already
written). Never change a file once it is checked in: add new ones.
"""

from __future__ import annotations

import pathlib
import pickle
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN_DIR = HERE / "pickle_v1"

#: 2100-01-01T00:00:00Z and 2001-09-09T01:46:40Z in Unix ns: one entry outlives the tests, one expired long ago.
LATER_NS = 4_102_444_800 * 1_000_000_000
EXPIRED_NS = 1_000_000_000 * 1_000_000_000


def entries() -> list[tuple[Any, Any, int]]:
    """(key, value, expiry in Unix ns, 0 = never) of every golden cache, the expired one included."""
    return [
        ("a", 1, 0),
        (("t", 2), {"x": [1, 2.5, None]}, LATER_NS),
        (b"k", b"\x00\xff", 0),
        ("gone", "expired before the pickle loads", EXPIRED_NS),
    ]


def expected() -> dict[str, dict[str, Any]]:
    """What each golden pickle holds: its live entries with expiry, default TTL (ns) and bounds."""
    live = [e for e in entries() if e[2] != EXPIRED_NS]
    return {
        "plain": {"entries": live, "default_ttl_ns": 0, "max_size": None},
        "bounded": {"entries": live, "default_ttl_ns": 60_000_000_000, "max_size": 10},
    }


def build(name: str) -> Any:
    """The cache pickled as ``<name>.pickle``."""
    from godistcache import Cache

    spec = expected()[name]
    cache = Cache(spec["default_ttl_ns"] / 1e9, max_size=spec["max_size"])
    for key, value, expires in entries():
        cache._put_at(key, value, expires)
    return cache


def main() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name in expected():
        # Protocol 2: the oldest any supported Python reads, and what copyreg-era pickles look like.
        (GOLDEN_DIR / f"{name}.pickle").write_bytes(pickle.dumps(build(name), protocol=2))


if __name__ == "__main__":
    main()
