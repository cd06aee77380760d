"""An :class:`~godistcache.s3.S3Store`'s settings: endpoint and flag parsing, the environment, hidden secrets."""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Mapping
from typing import Any, Optional

from ._s3_names import check_instance_id
from .errors import ConfigurationError

__all__ = ["Hidden", "args_from_env", "parse_bool", "parse_endpoint"]

ENV = "GODISTCACHE_S3_"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class Hidden:
    """A secret that shows as ``'***'`` in reprs, ``vars()`` and tracebacks' locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def parse_endpoint(endpoint: str, secure: Optional[bool]) -> tuple[str, bool]:
    """(``host[:port]``, secure) for an endpoint given as a URL or as ``host[:port]``."""
    text = endpoint.strip()
    if not text:
        raise ConfigurationError("the S3 endpoint is empty")
    if "://" in text:
        url = urllib.parse.urlsplit(text)
        scheme = url.scheme.lower()
        if scheme not in ("http", "https"):
            raise ConfigurationError(f"the S3 endpoint's scheme must be http or https, not {url.scheme!r}")
        if url.username is not None or url.password is not None:
            # Never echo it: the URL holds a credential.
            raise ConfigurationError(
                "the S3 endpoint must not hold credentials (user:password@): give access_key and secret_key"
            )
        if url.path not in ("", "/") or url.query or url.fragment:
            raise ConfigurationError(
                f"the S3 endpoint must be scheme://host[:port] only, without a path or query: {text!r}"
            )
        if not url.hostname:
            raise ConfigurationError(f"the S3 endpoint has no host: {text!r}")
        try:
            url.port  # noqa: B018  (validates the port)
        except ValueError:
            raise ConfigurationError(f"the S3 endpoint's port is not a number in 1..65535: {text!r}") from None
        return url.netloc, (scheme == "https") if secure is None else secure
    if "@" in text:
        raise ConfigurationError(
            "the S3 endpoint must not hold credentials (user:password@): give access_key and secret_key"
        )
    if "/" in text or "?" in text or "#" in text:
        raise ConfigurationError(f"the S3 endpoint must be host[:port] or scheme://host[:port]: {text!r}")
    try:
        urllib.parse.urlsplit("//" + text).port  # noqa: B018  (validates the port)
    except ValueError:
        raise ConfigurationError(f"the S3 endpoint's port is not a number in 1..65535: {text!r}") from None
    return text, True if secure is None else secure


def parse_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false (also 1/0, yes/no, on/off), got {value!r}")


def args_from_env(env: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of :meth:`S3Store.from_env`: env's variables, then overrides over them.

    Raises:
        ConfigurationError: as :meth:`S3Store.from_env`.
    """

    def get(var: str) -> Optional[str]:
        value = env.get(var, "")
        return value if value.strip() else None

    args: dict[str, Any] = {}
    missing = []
    for param, var in (
        ("endpoint", ENV + "ENDPOINT"),
        ("bucket", ENV + "BUCKET"),
        ("access_key", ENV + "ACCESS_KEY"),
        ("secret_key", ENV + "SECRET_KEY"),
    ):
        if param in overrides:
            continue
        value = get(var)
        if value is None:
            missing.append(var)
        else:
            args[param] = value.strip()
    if missing:
        raise ConfigurationError(f"S3 is not configured: set {', '.join(missing)}")
    obj = get(ENV + "OBJECT")
    if obj is not None:
        args["object_name"] = obj
    ssl = get(ENV + "SSL")
    if ssl is not None and "secure" not in overrides:
        args["secure"] = parse_bool(ENV + "SSL", ssl)
    for param, var, parse in (
        ("connect_timeout", ENV + "CONNECT_TIMEOUT", float),
        ("read_timeout", ENV + "READ_TIMEOUT", float),
        ("retries", ENV + "RETRIES", int),
    ):
        text = get(var)
        if text is not None and param not in overrides:
            try:
                args[param] = parse(text.strip())
            except ValueError:
                kind = "a whole number" if parse is int else "a number of seconds"
                raise ConfigurationError(f"{var} must be {kind}, got {text!r}") from None
    instance = get("GODISTCACHE_INSTANCE_ID")
    if "instance_id" not in overrides:
        if instance is not None:
            args["instance_id"] = check_instance_id(instance.strip(), "GODISTCACHE_INSTANCE_ID")
        else:
            args["instance_id"] = check_instance_id(socket.gethostname(), "the host name (the default instance id)")
    args.update(overrides)
    return args
