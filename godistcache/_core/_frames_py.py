"""The pure-Python twin of ``_frames_c``: cache entries to frame payloads and back.

``godistcache.snapshot`` owns the file format (header, frames, checksums,
sealing, atomic writes); the twins do only the per-entry work inside a frame,
which is where the time goes. An entries frame's payload is::

    uvarint(P) | [uvarint(len) | pickle of a list of P objects, if P > 0] | entries

and an entry is::

    key item | value item | uvarint(expires - created_ns, or 0: never)
        [| uvarint(created_ns - written + 1, or 0: unknown), in files with write times]

with the items in the value codec's format (``docs/value-format.md``). Keys and values
the codec has no native form for (saved with ``allow_pickle=True``) are
collected per frame and pickled together, once, as one list; their items are
pickle references (tag 0x7E) to its indexes. One pickle per frame rather than
one per value is what makes such values as fast as pickling the whole dict
(a class is written once per frame, not once per value), and objects shared
between the values of a frame stay shared, as in a pickle of the dict. ``created_ns`` is
the snapshot's creation time, which is also the cut-off: only entries live at
that instant are written, so every saved expiry is later than it and the
delta of a saved expiring entry is at least 1.

This twin works with either table (it uses only ``_iter`` and ``_put_at``);
the compiled one needs the compiled table.
"""

from __future__ import annotations

import contextlib
import pickle
from binascii import crc32
from collections.abc import Iterable
from typing import Any, Optional

from ._budget import COST_ENTRY, UNLIMITED, DecodeBudgetError
from ._codec_py import decode_at, read_uvarint
from ._encode_py import encode_into, put_uvarint
from ._value_format import PICKLE_REFUSED, Pickled

__all__ = [
    "OPAQUE",
    "REFUSE",
    "UNPICKLE",
    "Refs",
    "collect",
    "crc32",
    "decode_frame",
    "encode_frame",
    "merge",
    "merge_sync",
    "refs_of",
]

#: decode_frame modes: what happens to a frame's pickled objects.
REFUSE = 0
UNPICKLE = 1
OPAQUE = 2

_INT64_MAX = (1 << 63) - 1

Entry = tuple[Any, Any, int, int]  # key, value, expires_ns, written_ns
Sink = Any  # a table, a list of entries, or None


class Refs(list):  # type: ignore[type-arg]
    """What :func:`collect` returns: (key, value, expires_ns, written_ns) tuples, with the cut's clock and origins.

    ``hlc``: the table's clock at the cut (no stamp is later); ``origin_ids``:
    the instance id of each entry's origin, in order (None: the table doesn't sync).
    """

    hlc: int = 0
    hlc0: int = 0
    origin_ids: Optional[list[str]] = None
    origins: list[str]

    def release(self) -> None:
        """Drop every reference (as the compiled Refs does, which lets other threads run between chunks)."""
        del self[:]
        self.origins = []

    def group(self) -> list[tuple[str, int, int]]:
        """Order the entries by origin (stably) and return [(instance id, start, stop)], for a table that syncs."""
        if self.origin_ids is None:
            raise ValueError("these refs are of a table that does not sync: they have no origins")
        rank = {o: i for i, o in enumerate(self.origin_ids)}
        order = sorted(range(len(self)), key=lambda i: rank[self.origins[i]])
        self[:] = [self[i] for i in order]
        self.origins = [self.origins[i] for i in order]
        ranges: list[tuple[str, int, int]] = []
        for i, origin in enumerate(self.origins):
            if ranges and ranges[-1][0] == origin:
                ranges[-1] = (origin, ranges[-1][1], i + 1)
            else:
                ranges.append((origin, i, i + 1))
        return ranges


def collect(table: Any, now: int, since: int = -1, chunk: int = 0) -> Refs:
    """References to the entries of table live at ``now``, in table order: (key, value, expires_ns, written_ns).

    since >= 0: only the entries written here stamped after since (a syncing table's local changes).
    chunk: accepted for the compiled twin's sake; this one always takes one cut (``hlc0 == hlc``).
    """
    lock = getattr(table, "_lock", None) or contextlib.nullcontext()  # the compiled table has none
    while True:
        with lock:  # one cut: the clock, the origins and the entries together
            hlc = table._hlc
            local = table._syncs
            entries = list(table._iter(5))
            if table._hlc == hlc:  # no write slipped in (a compiled table's entries are listed without a lock)
                break
    refs = Refs()
    refs.hlc = refs.hlc0 = hlc
    refs.origin_ids = None if local is None else list(dict.fromkeys([local] + [e[4] for e in entries]))
    refs.origins = []
    for key, value, expires, written, origin in entries:
        if expires and expires <= now:
            continue
        if since >= 0 and (origin != (local or "") or written <= since):
            continue
        refs.append((key, value, expires, written))
        refs.origins.append(origin)
    return refs


def refs_of(entries: Iterable[Entry]) -> Refs:
    """Refs holding the given (key, value, expires_ns, written_ns) tuples, for encode_frame (tombstones)."""
    refs = Refs(tuple(e) for e in entries)
    refs.origins = [""] * len(refs)
    return refs


def _where(i: int, key: Any) -> str:
    # The key's type, not its value: messages end up in logs.
    return f"entry {i} (key of type {type(key).__qualname__})"


def encode_frame(
    refs: list[Entry],
    start: int,
    target: int,
    created_ns: int,
    allow_pickle: bool,
    write_times: bool = False,
    stamp_base: int = -1,
    stop: int = -1,
) -> tuple[bytes, int]:
    """Encode refs[start:stop] (stop -1: the end) until the payload reaches target bytes or the entries run out.

    Write times are written as their distance below stamp_base (-1: created_ns).

    Returns:
        (payload, number of entries in it).

    Raises:
        TypeError, ValueError: an entry does not encode; the message names
            its position and key type.
    """
    if stop < 0:
        stop = len(refs)
    if not 0 <= start <= stop <= len(refs):
        raise IndexError(f"start {start}, stop {stop} out of range for {len(refs)} entries")
    base = created_ns if stamp_base < 0 else stamp_base
    out = bytearray()
    objects: list[Any] | None = [] if allow_pickle else None
    i = start
    n = stop
    while i < n:
        key, value, expires, written = refs[i]
        try:
            encode_into(out, key, objects)
            encode_into(out, value, objects)
        except TypeError as exc:
            raise TypeError(f"{_where(i, key)}: {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"{_where(i, key)}: {exc}") from exc
        put_uvarint(out, expires - created_ns if expires else 0)
        if write_times:
            # 0: unknown; a write time after the cut (the clock stepped back) is written as the cut.
            put_uvarint(out, 0 if written == 0 else (base - written + 1 if written <= base else 1))
        i += 1
        if len(out) >= target:
            break
    head = bytearray()
    put_uvarint(head, len(objects) if objects else 0)
    if objects:
        try:
            data = pickle.dumps(objects, protocol=5)
        except Exception as exc:
            raise TypeError(f"entries {start} to {i - 1}: a key or value does not pickle: {exc}") from exc
        put_uvarint(head, len(data))
        head += data
    return bytes(head + out), i - start


def decode_frame(
    payload: bytes,
    count: int,
    created_ns: int,
    now: int,
    mode: int,
    sink: Sink,
    write_times: bool = False,
    budget: int | None = None,
    stamp_base: int = -1,
) -> tuple[int, int, int | None]:
    """Decode the count entries of one frame's payload.

    Args:
        mode: what the frame's pickled objects become: REFUSE (an error),
            UNPICKLE (the objects), OPAQUE (``Pickled(None)`` placeholders).
        sink: a table (entries are stored with their expiry), a list
            ((key, value, expires_ns) tuples are appended) or None.
        budget: bytes of objects the frame may still make (the value codec's
            decode budget, shared by a file's frames; each entry is charged
            ``COST_ENTRY`` besides its key and value, each pickled object a
            list slot); None: not budgeted (trusted data).

    Returns:
        (entries live at ``now``, entries skipped because expired, budget left
        or None).

    Raises:
        DecodeBudgetError: the budget ran out; ``overdraft`` says by how much.
        ValueError: the payload is malformed; the message names the entry and
            the byte offset within the payload.
    """
    if type(payload) is not bytes:
        raise TypeError(f"payload must be bytes, got {type(payload).__qualname__}")
    base = created_ns if stamp_base < 0 else stamp_base
    end = len(payload)
    objects, pos = _read_objects(payload, end, mode)
    left = UNLIMITED if budget is None else budget
    if objects:
        left -= 8 * len(objects)
        if left < 0:
            raise DecodeBudgetError(f"over the decode budget by {-left} bytes, at byte 0", -left, 0)
    live = expired = 0
    for i in range(count):
        try:
            left -= COST_ENTRY
            key, pos, left = decode_at(payload, pos, end, objects, left)
            value, pos, left = decode_at(payload, pos, end, objects, left)
            at = pos
            delta, pos = read_uvarint(payload, pos, end)
            age = 0
            if write_times:
                age, pos = read_uvarint(payload, pos, end)
        except DecodeBudgetError as exc:
            raise DecodeBudgetError(f"entry {i} of {count}: {exc}", exc.overdraft, exc.offset, i) from None
        except ValueError as exc:
            raise ValueError(f"entry {i} of {count}: {exc}") from None
        written = 0
        if age:
            if age - 1 > base:
                raise ValueError(f"entry {i} of {count}: write time out of range, at byte {at}")
            written = base - (age - 1)
        expires = 0
        if delta:
            if delta > _INT64_MAX - created_ns:
                raise ValueError(f"entry {i} of {count}: expiry out of range, at byte {at}")
            expires = created_ns + delta
            if expires <= now:
                expired += 1
                continue
        if type(sink) is list:
            sink.append((key, value, expires))
        elif sink is not None:
            try:
                sink._put_at(key, value, expires, written)
            except TypeError as exc:
                raise ValueError(
                    f"entry {i} of {count}: unusable key of type {type(key).__qualname__} ({exc})"
                ) from None
        live += 1
    if pos != end:
        raise ValueError(f"trailing bytes: {end - pos} after the last of {count} entries, at byte {pos}")
    return live, expired, None if budget is None else left


def _read_objects(payload: bytes, end: int, mode: int) -> tuple[Any, int]:
    """The frame's pickled objects as the decoder's unpickler argument, and the offset of its first entry."""
    n, pos = read_uvarint(payload, 0, end)
    if not n:
        return (None if mode == REFUSE else []), pos
    if mode == REFUSE:
        raise ValueError(f"{PICKLE_REFUSED} (the frame holds {n} pickled objects, at byte 0)")
    at = pos
    size, pos = read_uvarint(payload, pos, end)
    if size > end - pos or n > size:
        raise ValueError(f"pickled objects: {n} in {size} bytes declared, {end - pos} bytes remain, at byte {at}")
    if mode == OPAQUE:
        return [Pickled(None)] * n, pos + size
    try:
        objects = pickle.loads(payload[pos : pos + size])
    except Exception as exc:
        raise ValueError(f"invalid pickled objects ({type(exc).__name__}: {exc}), at byte {at}") from exc
    if type(objects) is not list or len(objects) != n:
        raise ValueError(f"pickled objects are not a list of {n}, at byte {at}")
    return objects, pos + size


def merge_sync(dst: Any, src: Any, origin: str) -> tuple[int, int]:
    """Merge every live entry of src, written by the instance origin, into the syncing dst: last writer wins.

    Returns (entries stored, entries refused as older than what dst knows of their keys).
    """
    if dst._syncs is None:
        raise ValueError("only a syncing table merges (see _track_changes)")
    entries = list(src._iter(4))
    stored = 0
    for key, value, expires, written in entries:
        stored += dst._merge_entry(key, value, expires, written, origin)
    return stored, len(entries) - stored


def merge(dst: Any, src: Any, newer: bool = False) -> None:
    """Store every live entry of src into dst, with its expiry and write time.

    On a key both hold, src's entry wins; with newer, only if it was not
    written before dst's (write times, 0 when unknown).
    """
    for key, value, expires, written in list(src._iter(4)):
        if newer and dst._write_time(key) > written:
            continue
        dst._put_at(key, value, expires, written)
