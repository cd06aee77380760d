"""``godistcache s3 ls``, ``pull`` and ``push``: snapshots in an S3-compatible object store."""

from __future__ import annotations

import argparse
import logging
from typing import Callable

from ..errors import SyncError
from ..s3 import S3Store
from ._common import Failed, plural, run_command, stat_header, transfer_bar

logger = logging.getLogger(__name__)


def _s3_command(args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """As run_command, and a SyncError (the store failed or refused) is status 1."""

    def run(ns: argparse.Namespace) -> int:
        try:
            return body(ns)
        except SyncError as exc:
            raise Failed(str(exc), 1) from exc

    return run_command(args, run)


def _s3_ls(args: argparse.Namespace) -> int:
    store = S3Store.from_env()
    backups = store.backups(args.instance)
    if not backups:
        who = f" of instance {args.instance}" if args.instance else ""
        logger.info("no backups%s under %s/%s_*%s", who, store.bucket, store.object_name, ".godistcache")
        return 0
    rows = [(b.object_name, b.instance_id, b.date.isoformat(), f"{b.size:,}") for b in backups]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for name, instance, day, size in rows:
        print(f"{name:<{widths[0]}}  {instance:<{widths[1]}}  {day:<{widths[2]}}  {size:>{widths[3]}}")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """``godistcache s3 ls [--instance ID]``: one line per dated backup."""
    return _s3_command(args, _s3_ls)


def _s3_pull(args: argparse.Namespace) -> int:
    store = S3Store.from_env()
    name = args.object or store.master_name
    with transfer_bar(args, "pull") as bar:
        size = store.download(name, args.file, progress=bar)
    print(f"pulled {store.bucket}/{name} to {args.file} ({plural(size, 'byte', 'bytes')})")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    """``godistcache s3 pull [--object NAME] FILE``: download an object (the master by default)."""
    return _s3_command(args, _s3_pull)


def _s3_push(args: argparse.Namespace) -> int:
    path: str = args.file
    stat_header(path)  # only snapshot files go up: SnapshotError (1) or OSError (2) otherwise
    store = S3Store.from_env()
    with transfer_bar(args, "push") as bar:
        name = store.upload(path, progress=bar)
    size = bar.total
    print(
        f"pushed {path} to {store.bucket}/{name} ({plural(size, 'byte', 'bytes')}); "
        f"{store.bucket}/{store.master_name} refreshed"
    )
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    """``godistcache s3 push FILE``: upload as this instance's backup of today and make it the master."""
    return _s3_command(args, _s3_push)
