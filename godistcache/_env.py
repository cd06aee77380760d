"""Defaults the environment gives, read where they are needed."""

from __future__ import annotations

import os


def default_instance_id() -> str:
    """This process's name in snapshots and object names: ``GODISTCACHE_INSTANCE_ID``, else the host name."""
    import socket

    return os.environ.get("GODISTCACHE_INSTANCE_ID") or socket.gethostname()
