"""How an object store's snapshot objects are named, and :class:`Backup`, one instance's dated backup.

Layout (see :mod:`godistcache.s3`)::

    <object>_<instance>_<YYYY-MM-DD>.godistcache   each instance's backup of the day (UTC)
    <object>.godistcache                          the master: a server-side copy of the newest upload
    <object>/<instance>/<seq>-base.godistcache    sync segments (see godistcache.syncer): a base,
    <object>/<instance>/<seq>-delta.godistcache   or a delta; seq zero-padded to 20 digits
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Optional

from .errors import ConfigurationError

__all__ = ["DATE_RE", "INSTANCE_RE", "OBJECT_RE", "SEGMENT_RE", "Backup", "Segment", "check_instance_id", "utc_today"]

#: An instance id: it becomes part of object names, so no "/" and nothing a shell or URL must quote.
INSTANCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: The object name (a prefix of every object): may have "/"-separated folders.
OBJECT_RE = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
#: The date in a backup's name.
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: A segment's name after ``<object>/``: instance, seq, kind.
SEGMENT_RE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]{0,127})/(\d{20})-(base|delta)\.godistcache")


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
    """One instance's sync segment in the bucket (see :mod:`godistcache.syncer`).

    Attributes:
        object_name: the object's full name, ``<object>/<instance>/<seq>-<kind>.godistcache``.
        instance_id: the instance that wrote it.
        seq: its number in that instance's chain (from 1).
        kind: "base" (every entry the instance held) or "delta" (its changes).
        size: its size in bytes.
        last_modified: when the store last wrote it (UTC), if the store says.
    """

    object_name: str
    instance_id: str
    seq: int
    kind: str
    size: int
    last_modified: Optional[datetime.datetime]


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
