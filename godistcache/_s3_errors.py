"""What went wrong talking to an object store, as a :class:`~godistcache.errors.SyncError` that says why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from .errors import SyncError

__all__ = ["CAUSES", "sync_error"]

#: S3 error codes and what they mean, for SyncError messages.
CAUSES = {
    "InvalidAccessKeyId": "wrong credentials: the server does not know the access key",
    "SignatureDoesNotMatch": "wrong credentials: the secret key does not match the access key",
    "AccessDenied": "access denied: the credentials are not allowed to do this",
    "InvalidToken": "wrong credentials: the session token is not valid",
    "ExpiredToken": "wrong credentials: the session token has expired",
    "RequestTimeTooSkewed": "this machine's clock is too far from the server's",
    "NoSuchBucket": "the bucket does not exist",
    "NoSuchKey": "the object does not exist",
    "NoSuchObject": "the object does not exist",
    "ResourceNotFound": "the object does not exist",
}


def sync_error(
    operation: str,
    object_name: Optional[str],
    exc: BaseException,
    *,
    url: str,
    bucket: str,
    scrub: Callable[[str], str],
) -> SyncError:
    """A SyncError for exc, raised by minio or urllib3 during operation at url's bucket; scrub hides secrets in text."""
    import urllib3.exceptions
    from minio.error import InvalidResponseError, S3Error, ServerError

    code: str
    where = f"{url}, bucket {bucket!r}" + (f", object {object_name!r}" if object_name else "")
    if isinstance(exc, S3Error):
        code = exc.code or "S3Error"
        cause = CAUSES.get(code)
        if code == "NoSuchBucket":
            cause = f"the bucket {bucket!r} does not exist"
        elif code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
            cause = f"the object {object_name!r} does not exist" if object_name else cause
        if cause is None:
            cause = scrub(exc.message or "the server refused the request")
        cause = f"{cause} ({code})"
    elif isinstance(exc, ServerError):
        code = f"HTTP {exc.status_code}"
        cause = f"the server failed (HTTP {exc.status_code})"
    elif isinstance(exc, InvalidResponseError):
        code = "InvalidResponse"
        cause = f"the server's answer is not S3 (is this an S3 endpoint?): {scrub(str(exc))[:200]}"
    elif isinstance(exc, urllib3.exceptions.HTTPError):
        reason: BaseException = exc
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            reason = exc.reason
        text = scrub(str(reason))
        detail = text.split(": ", 1)[-1][:200]
        # Order matters: urllib3's NewConnectionError is a ConnectTimeoutError too.
        if isinstance(reason, urllib3.exceptions.SSLError):
            code = "TLSError"
            cause = f"unreachable: TLS failed ({detail}); is secure right?"
        elif "refused" in text.lower():
            code = "ConnectionRefused"
            cause = "unreachable: connection refused (nothing listens there)"
        elif isinstance(reason, urllib3.exceptions.NameResolutionError):
            code = "NameResolution"
            cause = "unreachable: the host name does not resolve"
        elif isinstance(reason, urllib3.exceptions.NewConnectionError):
            code = "ConnectionFailed"
            cause = f"unreachable: {detail}"
        elif isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
            code = "ConnectTimeout"
            cause = "unreachable: timed out connecting"
        elif isinstance(reason, urllib3.exceptions.ReadTimeoutError):
            code = "ReadTimeout"
            cause = "the server stopped answering (read timed out)"
        else:
            code = type(reason).__name__
            cause = f"the connection failed: {type(reason).__name__}: {text[:200]}"
    else:
        code = type(exc).__name__
        cause = f"{type(exc).__name__}: {scrub(str(exc))[:200]}"
    # Only the server's and urllib3's words are scrubbed (above): this module's own never hold a secret.
    message = f"S3 {operation} failed at {where}: {cause}"
    return SyncError(
        message,
        code=code,
        endpoint=url,
        bucket=bucket,
        object_name=object_name,
        operation=operation,
    )
