"""godistcache: a dict-fast local cache with expiry kept in C.

>>> from godistcache import Cache
>>> cache = Cache(default_ttl=300)
>>> cache.put("user:1", {"name": "Ada"})
>>> cache.get("user:1")
{'name': 'Ada'}
"""

from ._table import CORE
from .cache import TTL, Cache
from .crypto import Keyring
from .errors import (
    ConfigurationError,
    DecryptionError,
    GoDistCacheError,
    SnapshotAuthenticationError,
    SnapshotError,
    SyncError,
)
from .persist import Persister
from .s3 import S3Store
from ._version import __version__

__all__ = [
    "CORE",
    "TTL",
    "Cache",
    "ConfigurationError",
    "DecryptionError",
    "GoDistCacheError",
    "Keyring",
    "Persister",
    "S3Store",
    "SnapshotAuthenticationError",
    "SnapshotError",
    "SyncError",
    "__version__",
]

