"""Regenerate ``tests/golden/snapshot_v1/*.godistcache``: snapshot files in format version 1.

Run from anywhere: ``python tests/golden/make_snapshot_golden.py``. The files are
written by :func:`build` with the pure-Python frame codec, a fixed creation time
and a fixed salt, so they are deterministic; ``tests/test_snapshot.py`` checks
that both cores load each file to :func:`golden_entries`, and that :func:`build`
with either core's frame codec reproduces every file byte for byte, so files
written today load in every later version. Never change an entry once it is
checked in: add new files.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import io
import pathlib
import sys
import uuid
from types import ModuleType
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN_DIR = HERE / "snapshot_v1"

#: 2023-11-14T22:13:20Z, the files' creation time.
CREATED_NS = 1_700_000_000 * 10**9
#: 2100-01-01T00:00:00Z: entries that expire do so long after any test run.
LATER_NS = 4_102_444_800 * 10**9
SALT = bytes(range(32, 64))
KEY = bytes(range(32))
INSTANCE_ID = "golden"
FRAME_TARGET = 48


def golden_entries(name: str) -> list[tuple[Any, Any, int, int]]:
    """(key, value, expires_ns, written_ns) of a golden file, in file order (written_ns 0: none kept)."""
    entries: list[tuple[Any, Any, int]] = [
        ("str", "héllo", 0),
        (b"bytes", b"\x00\xff", LATER_NS),
        (42, ("One", 42, 3.3), 0),
        ((1, "t"), [None, True, 2**70, -1.5], LATER_NS + 1),
        ("dict", {"a": 1, 2: frozenset({3})}, 0),
        ("when", datetime.datetime(2024, 2, 29, 12, 0, tzinfo=datetime.timezone.utc), 0),
        ("dec", decimal.Decimal("1.10"), 0),
        (uuid.UUID(int=7), datetime.timedelta(days=-1, seconds=5), 0),
    ]
    entries += [(f"n{i}", i, LATER_NS + i if i % 2 else 0) for i in range(12)]
    if name == "timed":
        # Write times: before the cut, at it, and unknown.
        return [(k, v, e, 0 if i % 3 == 2 else CREATED_NS - i * 1_000_000) for i, (k, v, e) in enumerate(entries)]
    if name == "pickled":
        # Objects only pickle can encode, of classes every Python has.
        entries += [
            ("fraction", fractions.Fraction(1, 3), 0),
            (fractions.Fraction(2, 3), [complex(1, 2), collections.OrderedDict(a=1)], LATER_NS),
        ]
    return [(k, v, e, 0) for k, v, e in entries]


#: File name: sealed.
FILES = {"plain": False, "sealed": True, "pickled": False, "timed": False}


def build(name: str, core: ModuleType) -> bytes:
    """The bytes of golden file name, its frames encoded by core (a ``godistcache._core._frames_*`` module)."""
    from godistcache import _snapshot_file as snapshot
    from godistcache.crypto import Keyring

    entries = golden_entries(name)
    keyring = Keyring(KEY) if FILES[name] else None
    timed = name == "timed"
    header = snapshot.build_header(
        CREATED_NS, len(entries), keyring.newest_id if keyring else None, SALT, INSTANCE_ID, write_times=timed
    )
    out = io.BytesIO()
    out.write(header)
    writer = snapshot.FrameWriter(out, header, keyring.derive(None, SALT, snapshot.KDF_INFO) if keyring else None)
    refs = _refs(core, entries)
    done = frames = 0
    while done < len(entries):
        payload, k = core.encode_frame(refs, done, FRAME_TARGET, CREATED_NS, name == "pickled", timed)
        writer.frame(snapshot.FRAME_ENTRIES, k, payload)
        done += k
        frames += 1
    writer.frame(snapshot.FRAME_END, 0, snapshot.END.pack(len(entries), frames))
    return out.getvalue()


def _refs(core: ModuleType, entries: list[tuple[Any, Any, int, int]]) -> Any:
    """The core's references to entries, in order, as ``collect`` makes them from a table."""
    from godistcache._core import _frames_py as _snapshot_py

    if core is _snapshot_py:
        return list(entries)
    from godistcache._core import _table_c

    table = _table_c.Table()
    table._track_writes()
    for key, value, expires, written in entries:
        table._put_at(key, value, expires, written)
    return core.collect(table, CREATED_NS)


def main() -> None:
    sys.path.insert(0, str(HERE.parent.parent))
    from godistcache._core import _frames_py as _snapshot_py

    GOLDEN_DIR.mkdir(exist_ok=True)
    for name in FILES:
        (GOLDEN_DIR / f"{name}.godistcache").write_bytes(build(name, _snapshot_py))
        print(f"wrote {name}.godistcache")


if __name__ == "__main__":
    main()
