"""An S3 endpoint that is down or silent fails within the store's bound; a slow but live one does not.

The silent and slow endpoints are real servers on 127.0.0.1 run by the test (a socket that
accepts connections and never answers; an HTTP server that trickles its answer), so the
client's real timeouts and retries are exercised. Every call that could hang runs in a thread
joined with a bound, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from godistcache import Cache
from godistcache.errors import ConfigurationError, SyncError
from godistcache.persist import Persister
from godistcache.s3 import S3Store

from .conftest import outcome_within
from .s3server import S3Server

#: Seconds within which a dead store must fail (the defaults promise 10 s; the old ones took 120 s).
BOUND = 20.0


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("GODISTCACHE_"):
            monkeypatch.delenv(var)


class _Silent:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted += 1

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()
        self.thread.join(5)


@pytest.fixture
def silent() -> Iterator[_Silent]:
    server = _Silent()
    yield server
    server.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET: the server's body, in pieces a gap apart; anything else: 503 with a Retry-After of an hour."""

    protocol_version = "HTTP/1.1"
    body = b""
    pieces = 1
    gap = 0.0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        step = -(-len(self.body) // self.pieces)
        for start in range(0, len(self.body), step):
            time.sleep(self.gap)
            self.wfile.write(self.body[start : start + step])
            self.wfile.flush()

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(503)
        self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


@pytest.fixture
def http_server() -> Iterator[Callable[..., str]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(body: bytes = b"", pieces: int = 1, gap: float = 0.0) -> str:
        handler = type("Handler", (_Handler,), {"body": body, "pieces": pieces, "gap": gap})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _store(endpoint: str, **kw: Any) -> S3Store:
    return S3Store(endpoint, "bucket", "access", "secret", secure=False, instance_id="inst", **kw)


def _within(call: Callable[[], Any], bound: float = BOUND) -> Optional[BaseException]:
    """The exception call raises (None if it returns); fails the test if it takes bound seconds."""
    return outcome_within(call, bound)


def test_default_bound_is_ten_seconds() -> None:
    store = _store("127.0.0.1:9")
    assert (store.connect_timeout, store.read_timeout, store.retries) == (2.0, 3.0, 1)
    assert store.max_request_seconds == 10.0
    assert _store("127.0.0.1:9", retries=3, connect_timeout=1, read_timeout=1).max_request_seconds == pytest.approx(
        8 + 0.4 + 0.8
    )


def test_from_s3_on_a_silent_endpoint_fails_within_the_bound(silent: _Silent) -> None:
    exc = _within(lambda: Cache.from_s3(_store(f"127.0.0.1:{silent.port}")))
    assert isinstance(exc, SyncError), exc
    assert exc.code == "ReadTimeout" and f"127.0.0.1:{silent.port}" in str(exc)
    assert silent.accepted == 2  # the request and its one retry


def test_every_operation_on_a_silent_endpoint_fails_within_the_bound(silent: _Silent, tmp_path: Path) -> None:
    store = _store(f"127.0.0.1:{silent.port}", region="us-east-1", connect_timeout=1, read_timeout=1, retries=0)
    snap = tmp_path / "s.godistcache"
    Cache().save(snap)
    for call in (store.check, store.backups, lambda: store.upload(snap), lambda: store.download_master(tmp_path / "o")):
        exc = _within(call, 3 * store.max_request_seconds + 5)
        assert isinstance(exc, SyncError) and exc.code == "ReadTimeout", exc
    assert not (tmp_path / "o").exists()


def test_persister_on_a_silent_endpoint_stops_within_the_bound(silent: _Silent) -> None:
    cache = Cache()
    cache["a"] = 1
    store = _store(f"127.0.0.1:{silent.port}")
    persister = Persister(cache, store, interval=3600)
    persister.stop(timeout=BOUND)  # the final upload fails within store.max_request_seconds
    assert not persister.running
    assert persister.failures == 1 and isinstance(persister.last_error, SyncError)


def test_retry_after_is_not_obeyed(http_server: Callable[..., str], tmp_path: Path) -> None:
    snap = tmp_path / "s.godistcache"
    Cache().save(snap)
    store = _store(http_server(), region="us-east-1")
    exc = _within(lambda: store.upload(snap))  # the server says: come back in an hour
    assert isinstance(exc, SyncError), exc


def test_slow_download_outlasts_the_read_timeout(http_server: Callable[..., str], tmp_path: Path) -> None:
    body = os.urandom(256 * 1024)
    # Eight pieces 0.4 s apart: the transfer takes 3.2 s, three times the read timeout, never silent for 1 s.
    store = _store(http_server(body, pieces=8, gap=0.4), region="us-east-1", read_timeout=1.0, retries=0)
    began = time.monotonic()
    assert store.download("obj.godistcache", tmp_path / "out") == len(body)
    assert time.monotonic() - began >= 8 * 0.4
    assert (tmp_path / "out").read_bytes() == body


def test_silence_longer_than_the_read_timeout_fails(http_server: Callable[..., str], tmp_path: Path) -> None:
    store = _store(http_server(b"x" * 1000, pieces=2, gap=2.0), region="us-east-1", read_timeout=0.5, retries=0)
    exc = _within(lambda: store.download("obj.godistcache", tmp_path / "out"))
    assert isinstance(exc, SyncError) and exc.code == "ReadTimeout", exc
    assert not (tmp_path / "out").exists()


def test_server_side_copy_may_be_silent_for_longer(http_server: Callable[..., str], tmp_path: Path) -> None:
    # The master's copy answers when done: upload() waits read_timeout plus a second per 20 MB for it.
    store = _store(http_server(b"copied", pieces=1, gap=1.5), region="us-east-1", read_timeout=0.5, retries=0)
    with store._patient(0.5 + 40 * 1024**2 / (20 * 1024**2)):
        assert store.download("obj.godistcache", tmp_path / "out") == 6
    with pytest.raises(SyncError, match="read timed out"):
        store.download("obj.godistcache", tmp_path / "out")  # the store's own timeout again


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"read_timeout": 0}, "read_timeout must be a number of seconds > 0, got 0"),
        ({"connect_timeout": -1}, "connect_timeout must be a number of seconds > 0, got -1"),
        ({"read_timeout": float("inf")}, "read_timeout must be a number of seconds > 0, got inf"),
        ({"read_timeout": "3"}, "read_timeout must be a number of seconds > 0, got '3'"),
        ({"retries": -1}, "retries must be an int >= 0, got -1"),
        ({"retries": 1.5}, "retries must be an int >= 0, got 1.5"),
    ],
)
def test_bad_timeouts(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        _store("127.0.0.1:9", **kwargs)
    assert words in str(info.value)


def test_timeouts_from_env() -> None:
    env = {
        "GODISTCACHE_S3_ENDPOINT": "127.0.0.1:9",
        "GODISTCACHE_S3_BUCKET": "bucket",
        "GODISTCACHE_S3_ACCESS_KEY": "a",
        "GODISTCACHE_S3_SECRET_KEY": "s",
        "GODISTCACHE_INSTANCE_ID": "inst",
        "GODISTCACHE_S3_CONNECT_TIMEOUT": "0.5",
        "GODISTCACHE_S3_READ_TIMEOUT": "30",
        "GODISTCACHE_S3_RETRIES": "2",
    }
    store = S3Store.from_env(env)
    assert (store.connect_timeout, store.read_timeout, store.retries) == (0.5, 30.0, 2)
    assert S3Store.from_env(env, read_timeout=4).read_timeout == 4
    with pytest.raises(ConfigurationError, match="GODISTCACHE_S3_READ_TIMEOUT must be a number of seconds, got 'soon'"):
        S3Store.from_env({**env, "GODISTCACHE_S3_READ_TIMEOUT": "soon"})
    with pytest.raises(ConfigurationError, match="GODISTCACHE_S3_RETRIES must be a whole number, got '1.5'"):
        S3Store.from_env({**env, "GODISTCACHE_S3_RETRIES": "1.5"})


@pytest.mark.s3
def test_large_object_round_trip_with_default_timeouts(s3server: S3Server, tmp_path: Path) -> None:
    store = S3Store(
        s3server.url, s3server.bucket, s3server.access_key, s3server.secret_key, object_name="large", instance_id="big"
    )
    src = tmp_path / "big.godistcache"
    with open(src, "wb") as f:
        for _ in range(48):
            f.write(os.urandom(1 << 20))
    store.upload(src)  # multipart, then a server-side copy of 48 MB to the master
    assert store.download_master(tmp_path / "back") == 48 << 20
    assert hashlib.sha256((tmp_path / "back").read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
