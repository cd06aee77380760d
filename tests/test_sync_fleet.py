"""A fleet of processes syncing through a real SeaweedFS converges to the last-writer-wins model of its history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Optional

import pytest

from .s3server import S3Server

pytestmark = pytest.mark.s3

WORKER = Path(__file__).with_name("fleet_worker.py")


def lww_model(logs: list[list[Any]]) -> list[list[Any]]:
    """The entries a last-writer-wins store holds after every logged operation of the fleet."""
    floor: Optional[tuple[int, str]] = None
    latest: dict[str, tuple[tuple[int, str], Any, int, bool]] = {}
    for op, key, value, expires, stamp, origin in logs:
        order = (stamp, origin)
        if op == "clear":
            floor = max(floor, order) if floor else order
            continue
        have = latest.get(key)
        if have is None or order > have[0]:
            latest[key] = (order, value, expires, op == "put")
    return sorted(
        [key, value, expires]
        for key, (order, value, expires, alive) in latest.items()
        if alive and (floor is None or order > floor)
    )


def run_fleet(s3server: S3Server, tmp_path: Path, *, cipher_key: Optional[bytes] = None, skew: int = 0) -> None:
    obj = f"fleet{uuid.uuid4().hex[:10]}"
    ids = ["alpha", "beta", "gamma"]
    procs = []
    for i, ident in enumerate(ids):
        cfg = {
            "url": s3server.url,
            "bucket": s3server.bucket,
            "access_key": s3server.access_key,
            "secret_key": s3server.secret_key,
            "object": obj,
            "id": ident,
            "fleet": ids,
            "dir": str(tmp_path),
            "interval": 0.5,
            "seconds": 4.0,
            "keys": 40,
            "seed": i,
            "clear_at": 60 if i == 1 else 0,
            "cipher_key": cipher_key.hex() if cipher_key else "",
            "skew_ns": skew if i == 2 else 0,
        }
        procs.append(
            subprocess.Popen([sys.executable, str(WORKER), json.dumps(cfg)], stderr=subprocess.PIPE, text=True)
        )
    try:
        for p in procs:
            _, err = p.communicate(timeout=180)
            assert p.returncode == 0, err[-3000:]
    finally:  # a failed or hung worker: stop the others too, and close every pipe (no warning in a later test)
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stderr is not None:
                p.stderr.close()
    logs = []
    for ident in ids:
        logs += json.loads((tmp_path / f"{ident}.log.json").read_text())
    assert sum(op == "clear" for op, *_ in logs) == 1
    assert sum(op == "del" for op, *_ in logs) > 10
    model = lww_model(logs)
    assert model, "the model holds nothing: the test would prove nothing"
    for ident in ids:
        dumped = json.loads((tmp_path / f"{ident}.state.json").read_text())
        assert dumped["skipped"] == 0
        assert dumped["applied"] > 0, f"{ident} merged no segment through fleet_worker's lock"
        assert dumped["state"] == model, ident


def test_three_processes_converge(s3server: S3Server, tmp_path: Path) -> None:
    run_fleet(s3server, tmp_path)


def test_three_sealed_processes_converge(s3server: S3Server, tmp_path: Path) -> None:
    run_fleet(s3server, tmp_path, cipher_key=os.urandom(32))


def test_a_clock_ten_seconds_ahead_does_not_break_convergence(s3server: S3Server, tmp_path: Path) -> None:
    run_fleet(s3server, tmp_path, skew=10 * 10**9)
