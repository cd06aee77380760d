"""How an object store's snapshot objects are named, and :class:`Backup`, one instance's dated backup.

Layout (see :mod:`godistcache.s3`)::

    <object>_<instance>_<YYYY-MM-DD>.godistcache   each instance's backup of the day (UTC)
    <object>.godistcache                          the master: a server-side copy of the newest upload
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Optional

__all__ = ["Backup"]


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
