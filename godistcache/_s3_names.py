"""How an object store's snapshot objects are named: :class:`Backup` (a dated backup), :class:`Segment`.

Layout (see :mod:`godistcache.s3`)::

    <object>_<instance>_<YYYY-MM-DD>.godistcache    each instance's backup of the day (UTC)
    <object>.godistcache                           the master: the newest upload, or the newest compaction
    <object>/<instance>/<seq:020d>-base.godistcache    a base segment: every entry that instance holds
    <object>/<instance>/<seq:020d>-delta.godistcache   a delta segment: its changes since an earlier segment

``cache_`` (a backup) and ``cache/`` (a segment) never share a prefix, and a
backup's name ends in a date where a segment's ends in ``-base`` or ``-delta``,
so neither parser takes the other's names.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Optional

from .errors import ConfigurationError

__all__ = [
    "DATE_RE",
    "INSTANCE_RE",
    "KINDS",
    "MAX_SEQ",
    "OBJECT_RE",
    "Backup",
    "Segment",
    "check_instance_id",
    "check_segment",
    "parse_segment_name",
    "segment_name",
    "utc_today",
]

#: An instance id: it becomes part of object names, so no "/" and nothing a shell or URL must quote.
INSTANCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: The object name (a prefix of every object): may have "/"-separated folders.
OBJECT_RE = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
#: The date in a backup's name.
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: A segment's kinds: a base holds every entry of its instance, a delta only its changes.
KINDS = ("base", "delta")
#: Segment numbers are below this: 20 digits, zero-padded, so that names sort in number order.
MAX_SEQ = 10**20
_SEQ_DIGITS = 20
#: What follows ``<object>/`` in a segment's name.
_SEGMENT_RE = re.compile(
    rf"(?P<instance>{INSTANCE_RE.pattern})/(?P<seq>\d{{{_SEQ_DIGITS}}})-(?P<kind>base|delta)\.godistcache"
)


@dataclass(frozen=True)
class Backup:
    """One instance's dated backup in the bucket.

    Attributes:
        object_name: the object's full name, ``<object>_<instance>_<YYYY-MM-DD>.godistcache``.
        instance_id: the instance that wrote it.
        date: the UTC date in its name.
        size: its size in bytes.
        last_modified: when the store last wrote it (UTC), if the store says.
    """

    object_name: str
    instance_id: str
    date: datetime.date
    size: int
    last_modified: Optional[datetime.datetime]


@dataclass(frozen=True)
class Segment:
    """One instance's base or delta segment in the bucket.

    Attributes:
        object_name: the object's full name, ``<object>/<instance>/<seq:020d>-<kind>.godistcache``.
        instance_id: the instance that wrote it.
        seq: its number in that instance's sequence (>= 1; later segments have larger numbers).
        kind: ``"base"`` (every entry the instance held) or ``"delta"`` (its changes since an earlier segment).
        size: its size in bytes.
        last_modified: when the store last wrote it (UTC), if the store says (the answer to an upload does not).
    """

    object_name: str
    instance_id: str
    seq: int
    kind: str
    size: int
    last_modified: Optional[datetime.datetime]


def check_segment(seq: int, kind: str) -> None:
    """Check a segment's number and kind.

    Raises:
        ValueError: seq is not an int in [1, 10**20), or kind is not ``"base"`` or ``"delta"``.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < MAX_SEQ:
        raise ValueError(f"a segment's seq must be an int >= 1 and < 10**20, got {seq!r}")
    if kind not in KINDS:
        raise ValueError(f"a segment's kind must be 'base' or 'delta', got {kind!r}")


def segment_name(object_name: str, instance_id: str, seq: int, kind: str) -> str:
    """``<object_name>/<instance_id>/<seq:020d>-<kind>.godistcache``.

    Raises:
        ValueError: seq or kind is out of range (see :func:`check_segment`), or instance_id
            can't be part of an object name (a :class:`ConfigurationError`).
    """
    check_segment(seq, kind)
    check_instance_id(instance_id, "instance_id")
    return f"{object_name}/{instance_id}/{seq:0{_SEQ_DIGITS}d}-{kind}.godistcache"


def parse_segment_name(object_name: str, name: str) -> Optional[tuple[str, int, str]]:
    """(instance id, seq, kind) of a segment of object_name, or None when name is not one (never raises)."""
    prefix = object_name + "/"
    if not name.startswith(prefix):
        return None
    match = _SEGMENT_RE.fullmatch(name, len(prefix))
    if match is None:
        return None
    seq = int(match["seq"])
    if seq < 1:
        return None
    return match["instance"], seq, match["kind"]


def utc_today() -> datetime.date:
    """Today in UTC: the date in the name of the backup uploaded now."""
    return datetime.datetime.now(datetime.timezone.utc).date()


def check_instance_id(instance_id: str, where: str) -> str:
    """instance_id, when it can be part of an object name; where names its source in the error.

    Raises:
        ConfigurationError: it can't.
    """
    if not INSTANCE_RE.fullmatch(instance_id):
        raise ConfigurationError(
            f"{where} {instance_id!r} can't be part of an object name: use 1 to 128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (set GODISTCACHE_INSTANCE_ID or pass instance_id=)"
        )
    return instance_id
