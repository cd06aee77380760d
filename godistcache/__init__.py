"""godistcache: a dict-fast local cache with expiry kept in C.

>>> from godistcache import Cache
>>> cache = Cache(default_ttl=300)
>>> cache.put("user:1", {"name": "Ada"})
>>> cache.get("user:1")
{'name': 'Ada'}
"""

from ._core import CORES
from ._core.table import CORE
from ._version import __version__
from .cache import TTL, Cache, CacheStats
from .crypto import Keyring
from .errors import (
    ConfigurationError,
    DecryptionError,
    GoDistCacheError,
    SnapshotAuthenticationError,
    SnapshotError,
    SyncError,
)
from .persist import Persister, SegmentStore, Store
from .s3 import Backup, S3Store, Segment
from .snapshot import SnapshotInfo
from .syncer import Syncer, SyncReport

__all__ = [
    "CORE",
    "CORES",
    "TTL",
    "Backup",
    "Cache",
    "CacheStats",
    "ConfigurationError",
    "DecryptionError",
    "GoDistCacheError",
    "Keyring",
    "Persister",
    "S3Store",
    "Segment",
    "SegmentStore",
    "SnapshotAuthenticationError",
    "SnapshotError",
    "SnapshotInfo",
    "Store",
    "SyncError",
    "SyncReport",
    "Syncer",
    "__version__",
]
