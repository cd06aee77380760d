"""JSON export: the document ``godistcache export --json`` and :meth:`Cache.export_json` write.

:func:`godistcache.snapshot.export_json` writes it from a snapshot file (its
docstring gives the document's shape), :func:`dump_json` from a live cache;
both write it entry by entry with :class:`JsonWriter`.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import uuid
from typing import IO, Any

from ._contract import CoreTable
from ._core._value_format import Pickled
from ._snapshot_file import frame_codec, ns_to_datetime

__all__ = ["JsonWriter", "dump_json", "to_json"]


def to_json(obj: Any) -> Any:
    """A JSON-ready form of a decoded value; types JSON lacks become one-key ``{"$type": ...}`` objects."""
    t = type(obj)
    if obj is None or t is bool or t is int or t is str:
        return obj
    if t is float:
        if math.isfinite(obj):
            return obj
        return {"$float": repr(obj)}
    if t is list or t is tuple:
        return [to_json(x) for x in obj]
    if t is dict:
        if all(type(k) is str and not k.startswith("$") for k in obj):
            return {k: to_json(v) for k, v in obj.items()}
        return {"$dict": [[to_json(k), to_json(v)] for k, v in obj.items()]}
    if t is bytes or t is bytearray:
        return {"$bytes": base64.b64encode(obj).decode("ascii")}
    if t is set or t is frozenset:
        return {"$set": [to_json(x) for x in obj]}
    if t is datetime.datetime or t is datetime.date:
        return {"$" + t.__name__: obj.isoformat()}
    if t is datetime.timedelta:
        return {"$timedelta": obj.total_seconds()}
    if t is decimal.Decimal:
        return {"$decimal": str(obj)}
    if t is uuid.UUID:
        return {"$uuid": str(obj)}
    if t is Pickled:
        return {"$pickle": None if obj.data is None else base64.b64encode(obj.data).decode("ascii")}
    raise TypeError(f"no JSON form for {t.__qualname__}")


class JsonWriter:
    """The JSON document of :func:`~godistcache.snapshot.export_json`, written entry by entry."""

    def __init__(self, out: IO[str], created_ns: int, instance_id: str, sealed: bool) -> None:
        self.out = out
        self.written = 0
        created = json.dumps(ns_to_datetime(created_ns).isoformat())
        out.write(
            f'{{"format": "godistcache-json", "version": 1, "created": {created}, "created_ns": {created_ns}, '
            f'"instance_id": {json.dumps(instance_id)}, "sealed": {json.dumps(sealed)}, "entries": ['
        )

    def entry(self, key: Any, value: Any, expires: int) -> None:
        entry = {
            "key": to_json(key),
            "value": to_json(value),
            "expires": ns_to_datetime(expires).isoformat() if expires else None,
            "expires_ns": expires or None,
        }
        self.out.write(("\n  " if self.written == 0 else ",\n  ") + json.dumps(entry, ensure_ascii=False))
        self.written += 1

    def close(self) -> int:
        self.out.write("\n]}\n" if self.written else "]}\n")
        return self.written


def dump_json(table: CoreTable, out: IO[str], instance_id: str = "") -> int:
    """Write the live entries of a cache to out as the JSON document of :func:`~godistcache.snapshot.export_json`.

    Entries are read first (one consistent cut, as :meth:`Cache.save` takes),
    then written. Returns the number written.

    Raises:
        TypeError: a key or value has no JSON form (a type the value codec
            does not know); nothing has been written then.
    """
    now = table._now_ns()
    refs = frame_codec(table).collect(table, now)
    for i in range(len(refs)):
        key, value, _, _ = refs[i]
        try:
            to_json(key)
            to_json(value)
        except TypeError as exc:
            raise TypeError(f"entry {i} (key of type {type(key).__qualname__}): {exc}") from None
    writer = JsonWriter(out, now, instance_id, False)
    for i in range(len(refs)):
        writer.entry(*refs[i][:3])
    return writer.close()
