"""Snapshot files in an S3-compatible object store (AWS S3, MinIO, SeaweedFS, ...).

:class:`S3Store` keeps a cache's snapshot files (:meth:`Cache.save`) in one
bucket, through the ``minio`` client, with this layout::

    <object>_<instance>_<YYYY-MM-DD>.godistcache       each instance's backup of the day (UTC)
    <object>.godistcache                              the master: the newest upload or compaction
    <object>/<instance>/<seq:020d>-base.godistcache    a base segment: every entry that instance holds
    <object>/<instance>/<seq:020d>-delta.godistcache   a delta segment: its changes since an earlier one

An instance writes only its own dated objects, its own segments and the
master; it never overwrites another instance's objects, and
:meth:`S3Store.prune` and :meth:`S3Store.delete_segments` delete only its
own. Every failure to talk to the store raises :class:`SyncError` naming the
endpoint, bucket, object and cause (wrong credentials, missing bucket or
object, unreachable endpoint, ...). The access key and the secret key appear
in no log record, repr or exception message.

    >>> store = S3Store.from_env()                       # doctest: +SKIP
    >>> cache.save("/tmp/cache.godistcache")             # doctest: +SKIP
    >>> store.upload("/tmp/cache.godistcache")           # doctest: +SKIP
    'cache_web-1_2026-11-24.godistcache'
    >>> store.download_master("/tmp/master.godistcache")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn, Optional

from . import _telemetry
from ._env import default_instance_id
from ._files import atomic_write, open_regular
from ._progress import Progress, TransferProgress
from ._s3_config import Hidden, args_from_env, parse_endpoint
from ._s3_errors import sync_error
from ._s3_names import (
    DATE_RE,
    INSTANCE_RE,
    OBJECT_RE,
    Backup,
    Segment,
    check_instance_id,
    parse_segment_name,
    segment_name,
    utc_today,
)
from ._snapshot_file import SUFFIX
from .errors import ConfigurationError, SyncError

__all__ = ["SUFFIX", "Backup", "S3Store", "Segment"]

logger = logging.getLogger(__name__)

#: Above this size S3 copies no object in one request; compose_object does it in parts.
_MAX_COPY = 5 * 1024**3
_CHUNK = 1024 * 1024
#: Default timeouts: a silent or unreachable endpoint fails one request within
#: (retries + 1) * (connect + read) = 2 * (2 + 3) = 10 s (urllib3 waits no backoff before the first retry).
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
RETRIES = 1
_BACKOFF = 0.2
#: A server-side copy may answer only once it is done; its read timeout grows by a second per this many bytes.
#: SeaweedFS copied 256 MB in 1.18 s on the test machine (217 MB/s): 20 MB/s leaves room for slower stores.
_COPY_RATE = 20 * 1024**2
#: A DeleteObjects request names at most this many objects (the S3 limit; minio batches by it too).
_DELETE_BATCH = 1000
#: ...and may answer only once it has deleted them all: its read timeout grows by a second per this many names.
_DELETE_RATE = 500

# The read timeout this thread's requests use instead of the store's, while set (_patient).
_override = threading.local()


def _pool_manager(**kwargs: Any) -> Any:
    """A urllib3 PoolManager whose timeout a thread can change for its own requests (minio passes none)."""
    import urllib3

    class PoolManager(urllib3.PoolManager):
        def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> Any:  # type: ignore[override]
            timeout = getattr(_override, "timeout", None)
            if timeout is not None:
                kw.setdefault("timeout", timeout)
            return super().urlopen(method, url, redirect, **kw)

    return PoolManager(**kwargs)


def _last_modified(headers: Any) -> Optional[datetime.datetime]:
    """The ``Last-Modified`` time in an answer's headers (UTC), or None if there is none (a PUT's usually has none)."""
    import email.utils

    text = headers.get("last-modified") if headers is not None else None
    if not text:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)


class S3Store:
    """Snapshot files of one cache in one S3 bucket, as one instance sees them.

    Args:
        endpoint: the server, as ``host[:port]`` or as a URL ``https://host[:port]`` /
            ``http://host[:port]`` (nothing after the port).
        bucket: the bucket; it must exist (it is never created).
        access_key: the access key id. Never logged or shown.
        secret_key: the secret key. Never logged or shown.
        secure: use HTTPS. None (the default) takes it from the endpoint's
            scheme, and is True for a bare ``host:port``; a value given
            explicitly wins over the scheme.
        object_name: the name the objects start with (``"cache"`` gives
            ``cache.godistcache`` and ``cache_<instance>_<date>.godistcache``);
            may hold ``/``-separated folders.
        instance_id: this instance's name in its backups' names; None takes
            ``GODISTCACHE_INSTANCE_ID``, else the host name.
        region: the bucket's region; None asks the server once per bucket.
        connect_timeout: seconds to wait for a TCP connection (and, as
            urllib3 does, for each send of a request's body to make progress).
        read_timeout: seconds the server may stay silent: a limit on each
            read, not on a whole transfer, so a large download or upload that
            keeps moving never times out.
        retries: how many times a failed request (connection error, timeout,
            HTTP 500/502/503/504) is retried: at once, then after 0.4 s,
            0.8 s, ... A ``Retry-After`` header is not obeyed (a server could
            stall the caller for hours with it).

    With the defaults, a request to an endpoint that is unreachable, or that
    accepts connections and never answers, fails within
    :attr:`max_request_seconds` = (retries + 1) × (connect_timeout +
    read_timeout) = 10 s, plus the time to resolve the host name.

    Raises:
        ConfigurationError: a malformed endpoint, bucket, object name or instance id, or no credentials.
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        secure: Optional[bool] = None,
        object_name: str = "cache",
        instance_id: Optional[str] = None,
        region: Optional[str] = None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        retries: int = RETRIES,
    ) -> None:
        import certifi
        import urllib3
        from minio import Minio
        from minio.helpers import check_bucket_name

        host, use_tls = parse_endpoint(endpoint, secure)
        if not access_key or not secret_key:
            raise ConfigurationError("S3 credentials are missing: both access_key and secret_key are needed")
        try:
            check_bucket_name(bucket)
        except ValueError:
            raise ConfigurationError(f"not a valid S3 bucket name: {bucket!r}") from None
        object_name = object_name.strip()
        if object_name.endswith(SUFFIX):
            object_name = object_name[: -len(SUFFIX)]
        if not OBJECT_RE.fullmatch(object_name):
            raise ConfigurationError(
                f"not a valid object name: {object_name!r} (letters, digits, '.', '_', '-', and '/' between folders)"
            )
        for label, seconds in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
                raise ConfigurationError(f"{label} must be a number of seconds > 0, got {seconds!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"retries must be an int >= 0, got {retries!r}")
        if instance_id is None:
            instance_id = check_instance_id(default_instance_id(), "the instance id")
        else:
            instance_id = check_instance_id(instance_id, "instance_id")

        self.endpoint = host
        self.secure = use_tls
        self.bucket = bucket
        self.object_name = object_name
        self.instance_id = instance_id
        self.region = region
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.retries = retries
        self._access_key = Hidden(access_key)
        self._secret_key = Hidden(secret_key)
        http = _pool_manager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries,
                connect=retries,
                read=retries,
                backoff_factor=_BACKOFF,
                status_forcelist=[500, 502, 503, 504],
                respect_retry_after_header=False,
            ),
        )
        self._client = Minio(
            host, access_key=access_key, secret_key=secret_key, secure=use_tls, region=region, http_client=http
        )

    @classmethod
    def from_env(
        cls,
        environ: Optional[Mapping[str, str]] = None,
        **overrides: Any,
    ) -> S3Store:
        """A store configured by the environment, as the original godistcache was.

        ``GODISTCACHE_S3_ENDPOINT``, ``GODISTCACHE_S3_BUCKET``,
        ``GODISTCACHE_S3_ACCESS_KEY`` and ``GODISTCACHE_S3_SECRET_KEY`` are
        required; ``GODISTCACHE_S3_OBJECT`` (default ``cache``),
        ``GODISTCACHE_S3_SSL`` (true/false; default: the endpoint's scheme, else
        true), ``GODISTCACHE_INSTANCE_ID`` (default: the host name),
        ``GODISTCACHE_S3_CONNECT_TIMEOUT`` and ``GODISTCACHE_S3_READ_TIMEOUT``
        (seconds) and ``GODISTCACHE_S3_RETRIES`` are optional. An empty
        variable counts as unset.

        Args:
            environ: where to read the variables; None is ``os.environ``.
            **overrides: constructor arguments (``endpoint=``, ``bucket=``,
                ``access_key=``, ``secret_key=``, ``secure=``, ``object_name=``,
                ``instance_id=``, ``region=``, ``connect_timeout=``, ...) that
                win over the environment; a variable overridden need not be set.

        Raises:
            ConfigurationError: a required variable is unset or empty (the
                message names every one missing), or a value is malformed.
        """
        return cls(**args_from_env(os.environ if environ is None else environ, overrides))

    @property
    def max_request_seconds(self) -> float:
        """The longest one request takes when the endpoint is unreachable or silent (not counting DNS).

        Each try waits at most connect_timeout to connect and read_timeout for
        an answer; urllib3 retries at once, then after 2 × 0.2 s, 4 × 0.2 s, ...
        """
        backoffs = sum(_BACKOFF * 2 ** (n - 1) for n in range(2, self.retries + 1))
        return float((self.retries + 1) * (self.connect_timeout + self.read_timeout) + backoffs)

    @contextlib.contextmanager
    def _patient(self, read_timeout: float) -> Iterator[None]:
        """This thread's requests wait read_timeout seconds for each read, for the block."""
        import urllib3

        previous = getattr(_override, "timeout", None)
        _override.timeout = urllib3.Timeout(connect=self.connect_timeout, read=max(read_timeout, self.read_timeout))
        try:
            yield
        finally:
            _override.timeout = previous

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return (
            f"S3Store(endpoint={scheme}://{self.endpoint!s}, bucket={self.bucket!r}, "
            f"object_name={self.object_name!r}, instance_id={self.instance_id!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "an S3Store holds credentials and does not pickle; make one in each process (S3Store.from_env())"
        )

    # ------------------------------------------------------------------ names

    @property
    def url(self) -> str:
        """``http(s)://host:port`` of the endpoint."""
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @property
    def master_name(self) -> str:
        """The master object: ``<object>.godistcache``."""
        return self.object_name + SUFFIX

    def backup_name(self, date: Optional[datetime.date] = None) -> str:
        """This instance's backup object for date (default: today, UTC).

        Named ``<object>_<instance>_<YYYY-MM-DD>.godistcache``.
        """
        day = utc_today() if date is None else date
        return f"{self.object_name}_{self.instance_id}_{day.isoformat()}{SUFFIX}"

    def parse_backup_name(self, object_name: str) -> Optional[tuple[str, datetime.date]]:
        """(instance id, date) of a backup object's name, or None if it is not one of this store's backups."""
        prefix = self.object_name + "_"
        if not (object_name.startswith(prefix) and object_name.endswith(SUFFIX)):
            return None
        middle = object_name[len(prefix) : -len(SUFFIX)]
        instance, sep, day = middle.rpartition("_")
        if not sep or not INSTANCE_RE.fullmatch(instance) or not DATE_RE.fullmatch(day):
            return None
        try:
            return instance, datetime.date.fromisoformat(day)
        except ValueError:
            return None

    def segment_name(self, seq: int, kind: str, instance_id: Optional[str] = None) -> str:
        """The name of a segment: ``<object>/<instance>/<seq:020d>-<kind>.godistcache``.

        Args:
            seq: the segment's number, an int >= 1 and < 10**20 (zero-padded to 20 digits,
                so that an instance's segments sort by number).
            kind: ``"base"`` or ``"delta"``.
            instance_id: whose segment; None is this instance.

        Raises:
            ValueError: seq or kind is out of range, or instance_id can't be part of an object name.
        """
        return segment_name(self.object_name, self.instance_id if instance_id is None else instance_id, seq, kind)

    def parse_segment_name(self, object_name: str) -> Optional[tuple[str, int, str]]:
        """(instance id, seq, kind) of a segment's name, or None if it is not one of this store's segments.

        Never raises: backups, the master, other object names' objects and
        malformed names all give None.
        """
        return parse_segment_name(self.object_name, object_name)

    # ------------------------------------------------------------------ errors

    def _scrub(self, text: str) -> str:
        for secret in (self._secret_key.reveal(), self._access_key.reveal()):
            if secret:
                text = text.replace(secret, "***")
        return text

    @contextlib.contextmanager
    def _sync(self, operation: str, object_name: Optional[str] = None) -> Iterator[None]:
        """Turn minio's and urllib3's exceptions into SyncError (OSError of local files pass through)."""
        import urllib3.exceptions
        from minio.error import MinioException

        try:
            yield
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            err = sync_error(operation, object_name, exc, url=self.url, bucket=self.bucket, scrub=self._scrub)
            logger.debug("%s", err)
            raise err from exc

    # ------------------------------------------------------------------ transfers

    def check(self) -> None:
        """Check that the endpoint answers, the credentials are accepted and the bucket exists.

        Raises:
            SyncError: they are not (the message says which).
        """
        with self._sync("check"):
            # A listing, not bucket_exists: a HEAD hides the error code of wrong credentials.
            for _ in self._client.list_objects(self.bucket, prefix=self.object_name):
                break

    def upload(self, path: str | os.PathLike[str], *, progress: Optional[Progress] = None) -> str:
        """Upload a snapshot file as this instance's backup of today, then make it the master.

        The file goes to ``<object>_<instance>_<YYYY-MM-DD>.godistcache``
        (today in UTC; a second upload the same day replaces the first),
        then ``<object>.godistcache`` is refreshed from it by a server-side
        copy. No other object is written.

        Args:
            path: the local snapshot file (see :meth:`Cache.save`).
            progress: called with (bytes sent, file size) as the upload goes.

        Returns:
            The dated object's name.

        Raises:
            SyncError: the store refused or could not be reached; if the copy
                to the master failed, the dated backup is in place.
            OSError: the file can't be read.
        """
        with _telemetry.span("upload", path=os.fspath(path), bucket=self.bucket) as span:
            name, size = self._upload(path, progress)
            _telemetry.set_attributes(span, object=name, bytes=size)
        _telemetry.count("bytes", size, "upload")
        return name

    def _upload(self, path: str | os.PathLike[str], progress: Optional[Progress]) -> tuple[str, int]:
        """upload's work: (the dated object's name, bytes sent)."""
        from minio.commonconfig import ComposeSource, CopySource

        name = self.backup_name()
        master = self.master_name
        size, _ = self._put_file(path, name, progress)
        # Only reached once the server took the whole upload: a copy that is silent while it works is no dead store.
        with self._sync("copy to the master", master), self._patient(self.read_timeout + size / _COPY_RATE):
            if size > _MAX_COPY:
                self._client.compose_object(self.bucket, master, [ComposeSource(self.bucket, name)])
            else:
                self._client.copy_object(self.bucket, master, CopySource(self.bucket, name))
        logger.debug("S3: uploaded %s/%s (%d bytes), master %s refreshed", self.bucket, name, size, master)
        return name, size

    def _put_file(
        self, path: str | os.PathLike[str], name: str, progress: Optional[Progress]
    ) -> tuple[int, Optional[datetime.datetime]]:
        """PUT the file at path as object name: (bytes sent, the write time if the store's answer gave one)."""
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            watcher = TransferProgress(progress, size) if progress is not None else None
            if progress is not None:
                progress(0, size)
            logger.debug("S3 upload: %s (%d bytes) to %s/%s at %s", os.fspath(path), size, self.bucket, name, self.url)
            with self._sync("upload", name):
                result = self._client.put_object(
                    self.bucket, name, f, size, content_type="application/octet-stream", progress=watcher
                )
        if watcher is not None:
            watcher.finish()
        return size, _last_modified(result.http_headers)

    def upload_master(self, path: str | os.PathLike[str], *, progress: Optional[Progress] = None) -> str:
        """Upload a snapshot file as the master (``<object>.godistcache``) directly, with no dated backup.

        Compaction writes the master this way, so that a plain
        :meth:`Cache.from_s3` and older readers find a whole snapshot.

        Args:
            path: the local snapshot file.
            progress: called with (bytes sent, file size) as the upload goes.

        Returns:
            The master's name.

        Raises:
            SyncError: the store refused or could not be reached.
            OSError: the file can't be read.
        """
        name = self.master_name
        with _telemetry.span("upload_master", path=os.fspath(path), bucket=self.bucket, object=name) as span:
            size, _ = self._put_file(path, name, progress)
            _telemetry.set_attributes(span, bytes=size)
        _telemetry.count("bytes", size, "upload")
        logger.debug("S3: uploaded the master %s/%s (%d bytes)", self.bucket, name, size)
        return name

    def download(self, object_name: str, path: str | os.PathLike[str], *, progress: Optional[Progress] = None) -> int:
        """Download an object to a local file, atomically.

        The bytes go to a temporary file (mode 0600) in path's directory,
        which is fsynced and renamed over path: path is never left holding
        part of an object, and is untouched if the download fails.

        Args:
            object_name: the object, e.g. :attr:`master_name` or a :class:`Backup`'s.
            path: the local file to write.
            progress: called with (bytes received, object size) as the download goes.

        Returns:
            The number of bytes written.

        Raises:
            SyncError: the object does not exist, the store refused or could
                not be reached, or the connection broke before the end.
            OSError: the local file can't be written.
        """
        with _telemetry.span("download", object=object_name, bucket=self.bucket, path=os.fspath(path)) as span:
            size = self._download(object_name, path, progress)
            _telemetry.set_attributes(span, bytes=size)
        _telemetry.count("bytes", size, "download")
        return size

    def _download(self, object_name: str, path: str | os.PathLike[str], progress: Optional[Progress]) -> int:
        target = os.path.abspath(os.fspath(path))
        done = 0
        with atomic_write(target, "wb") as out:
            with self._sync("download", object_name):
                response = self._client.get_object(self.bucket, object_name)
                try:
                    total = int(response.headers.get("content-length") or 0)
                    logger.debug(
                        "S3 download: %s/%s (%d bytes) at %s to %s", self.bucket, object_name, total, self.url, target
                    )
                    if progress is not None:
                        progress(0, total)
                    for chunk in response.stream(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, max(total, done))
                finally:
                    response.close()
                    response.release_conn()
            if total and done != total:
                raise SyncError(
                    f"S3 download failed at {self.url}, bucket {self.bucket!r}, object {object_name!r}: "
                    f"the connection ended after {done} of {total} bytes",
                    code="Truncated",
                    endpoint=self.url,
                    bucket=self.bucket,
                    object_name=object_name,
                    operation="download",
                )
        logger.debug("S3: downloaded %s/%s (%d bytes) to %s", self.bucket, object_name, done, target)
        return done

    def download_master(self, path: str | os.PathLike[str], *, progress: Optional[Progress] = None) -> int:
        """Download the master (``<object>.godistcache``) to path, atomically; as :meth:`download`."""
        return self.download(self.master_name, path, progress=progress)

    # ------------------------------------------------------------------ segments

    def upload_segment(
        self, path: str | os.PathLike[str], seq: int, kind: str, *, progress: Optional[Progress] = None
    ) -> Segment:
        """Upload a snapshot file as this instance's segment number seq: one PUT, no master copy.

        The file goes to ``<object>/<instance>/<seq:020d>-<kind>.godistcache``
        (a segment uploaded again under the same number replaces the first).

        Args:
            path: the local segment file.
            seq: its number, an int >= 1 and < 10**20.
            kind: ``"base"`` or ``"delta"``.
            progress: called with (bytes sent, file size) as the upload goes.

        Returns:
            The segment uploaded (its ``last_modified`` is None unless the store's answer said).

        Raises:
            ValueError: seq or kind is out of range (before anything is sent).
            SyncError: the store refused or could not be reached.
            OSError: the file can't be read.
        """
        name = self.segment_name(seq, kind)
        with _telemetry.span(
            "upload_segment", path=os.fspath(path), bucket=self.bucket, object=name, kind=kind, seq=seq
        ) as span:
            size, written = self._put_file(path, name, progress)
            _telemetry.set_attributes(span, bytes=size)
        _telemetry.count("bytes", size, "upload")
        logger.debug("S3: uploaded segment %s/%s (%d bytes)", self.bucket, name, size)
        return Segment(name, self.instance_id, seq, kind, size, written)

    def list_segments(self, instance_id: Optional[str] = None) -> list[Segment]:
        """The segments in the bucket, of every instance or of one, sorted by instance then seq.

        One recursive listing of ``<object>/`` (or ``<object>/<instance_id>/``):
        one request per 1,000 objects under that prefix. Objects whose names
        are not segments (see :meth:`parse_segment_name`) are ignored.

        Raises:
            SyncError: the listing failed.
        """
        prefix = f"{self.object_name}/" if instance_id is None else f"{self.object_name}/{instance_id}/"
        found = []
        with _telemetry.span("list_segments", bucket=self.bucket, prefix=prefix) as span:
            with self._sync("list", prefix):
                for obj in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
                    name = obj.object_name
                    parsed = None if name is None else self.parse_segment_name(name)
                    if name is None or parsed is None:
                        continue
                    instance, seq, kind = parsed
                    if instance_id is not None and instance != instance_id:
                        continue
                    found.append(Segment(name, instance, seq, kind, int(obj.size or 0), obj.last_modified))
            found.sort(key=lambda s: (s.instance_id, s.seq, s.kind))
            _telemetry.set_attributes(span, segments=len(found), bytes=sum(s.size for s in found))
        logger.debug("S3: %d segment(s) under %s/%s at %s", len(found), self.bucket, prefix, self.url)
        return found

    def delete_segments(self, object_names: Iterable[str]) -> list[str]:
        """Delete segments of this instance, in batches of up to 1,000 names per request.

        Every name is checked before anything is deleted: only this
        instance's segments can go, never another instance's, never a backup
        or the master. A name given twice is deleted once; a name already
        gone counts as deleted (S3 says so).

        Args:
            object_names: the segments' object names (:attr:`Segment.object_name`).

        Returns:
            The names deleted, in the order given.

        Raises:
            TypeError: object_names is a single str.
            ValueError: a name is not one of this instance's segments (the message names it).
            SyncError: a request failed, or the store refused to delete some names (the
                message names them); the batches before it are deleted.
        """
        from minio.deleteobjects import DeleteObject

        if isinstance(object_names, str):
            raise TypeError(f"object_names must be an iterable of object names, not one str: {object_names!r}")
        names = list(dict.fromkeys(object_names))
        for name in names:
            parsed = self.parse_segment_name(name) if isinstance(name, str) else None
            if parsed is None:
                raise ValueError(f"{name!r} is not a segment of {self.object_name!r}: only segments are deleted here")
            if parsed[0] != self.instance_id:
                raise ValueError(
                    f"{name!r} is a segment of instance {parsed[0]!r}, not of this instance "
                    f"({self.instance_id!r}): an instance deletes only its own segments"
                )
        if not names:
            return []
        refused: list[Any] = []
        with _telemetry.span("delete_segments", bucket=self.bucket, segments=len(names)):
            for start in range(0, len(names), _DELETE_BATCH):
                batch = names[start : start + _DELETE_BATCH]
                logger.debug("S3 delete: %d segment(s) from %s/%s at %s", len(batch), self.bucket, batch[0], self.url)
                # The answer comes once every name is deleted: a store busy deleting is not a dead one.
                with self._sync("delete", batch[0]), self._patient(self.read_timeout + len(batch) / _DELETE_RATE):
                    refused.extend(self._client.remove_objects(self.bucket, [DeleteObject(n) for n in batch]))
        if refused:
            raise self._refused(refused, len(names))
        logger.debug("S3: deleted %d segment(s) of %s", len(names), self.instance_id)
        return names

    def _refused(self, errors: list[Any], asked: int) -> SyncError:
        """The SyncError of a DeleteObjects answer that named errors (minio DeleteError: name, code, message)."""
        shown = ", ".join(f"{e.name!r} ({e.code}: {self._scrub(e.message or 'refused')})" for e in errors[:5])
        more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
        err = SyncError(
            f"S3 delete failed at {self.url}, bucket {self.bucket!r}: {len(errors)} of {asked} segment(s) "
            f"not deleted: {shown}{more}",
            code=errors[0].code,
            endpoint=self.url,
            bucket=self.bucket,
            object_name=errors[0].name,
            operation="delete",
        )
        logger.debug("%s", err)
        return err

    # ------------------------------------------------------------------ backups

    def backups(self, instance_id: Optional[str] = None) -> list[Backup]:
        """The dated backups in the bucket, of every instance or of one, sorted by instance then date.

        Objects whose names are not ``<object>_<instance>_<YYYY-MM-DD>.godistcache`` are ignored.

        Raises:
            SyncError: the listing failed.
        """
        found = []
        with self._sync("list", self.object_name + "_*" + SUFFIX):
            for obj in self._client.list_objects(self.bucket, prefix=self.object_name + "_", recursive=True):
                name = obj.object_name
                parsed = None if name is None else self.parse_backup_name(name)
                if name is None or parsed is None:
                    continue
                instance, day = parsed
                if instance_id is not None and instance != instance_id:
                    continue
                found.append(Backup(name, instance, day, int(obj.size or 0), obj.last_modified))
        found.sort(key=lambda b: (b.instance_id, b.date, b.object_name))
        return found

    def newest_per_instance(self) -> dict[str, Backup]:
        """Each instance's newest backup (latest date, then latest write), by instance id."""
        newest: dict[str, Backup] = {}
        epoch = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
        for b in self.backups():
            have = newest.get(b.instance_id)
            if have is None or (b.date, b.last_modified or epoch) > (have.date, have.last_modified or epoch):
                newest[b.instance_id] = b
        return newest

    def prune(self, keep_days: int, *, today: Optional[datetime.date] = None) -> list[str]:
        """Delete this instance's backups dated more than keep_days days before today (UTC).

        Only this instance's dated backups are candidates: never the master,
        never another instance's. This instance's newest backup is kept
        whatever its age, so an instance that stopped uploading still has one.

        Args:
            keep_days: backups dated today - keep_days or later are kept (0 keeps today's only).
            today: the day to count from; None is today in UTC.

        Returns:
            The names of the objects deleted.

        Raises:
            ValueError: keep_days < 0.
            SyncError: the listing or a deletion failed (the ones before it are deleted).
        """
        if keep_days < 0:
            raise ValueError(f"keep_days must be >= 0, got {keep_days}")
        cutoff = (utc_today() if today is None else today) - datetime.timedelta(days=keep_days)
        mine = self.backups(self.instance_id)
        if not mine:
            return []
        newest = max(mine, key=lambda b: b.date)
        deleted = []
        for b in mine:
            if b.date < cutoff and b is not newest and b.instance_id == self.instance_id:
                with self._sync("delete", b.object_name):
                    self._client.remove_object(self.bucket, b.object_name)
                deleted.append(b.object_name)
        if deleted:
            logger.info(
                "S3: pruned %d backup(s) of %s older than %s", len(deleted), self.instance_id, cutoff.isoformat()
            )
        return deleted
