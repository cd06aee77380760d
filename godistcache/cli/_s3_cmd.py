"""``godistcache s3 ls``, ``pull`` and ``push``: snapshots and segments in an S3-compatible object store."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
from collections.abc import Callable
from typing import Any, Optional

from ..errors import SyncError
from ..s3 import Backup, S3Store, Segment
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


def _when(moment: Optional[datetime.datetime]) -> Optional[str]:
    """A store's write time as ISO 8601 in UTC (``2026-11-24T10:00:05Z``), or None."""
    if moment is None:
        return None
    utc = moment.astimezone(datetime.timezone.utc) if moment.tzinfo is not None else moment
    return utc.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _chain(segments: list[Segment]) -> dict[str, Any]:
    """One instance's segments summed up: its newest base, the deltas after it, the bytes in all."""
    bases = [s.seq for s in segments if s.kind == "base"]
    newest = max(bases) if bases else None
    after = [s for s in segments if s.kind == "delta" and (newest is None or s.seq > newest)]
    return {
        "newest_base": newest,
        "deltas_after": len(after),
        "segments": len(segments),
        "bytes": sum(s.size for s in segments),
    }


def _by_instance(segments: list[Segment]) -> dict[str, list[Segment]]:
    grouped: dict[str, list[Segment]] = {}
    for s in segments:
        grouped.setdefault(s.instance_id, []).append(s)
    return grouped


def _print_segments(store: S3Store, segments: list[Segment]) -> None:
    """Each instance's segments, one line each (seq, kind, size, modified), then a line that sums them up."""
    rows = {s.object_name: (str(s.seq), s.kind, f"{s.size:,}", _when(s.last_modified) or "-") for s in segments}
    # One set of column widths for every instance, so that the columns line up down the page.
    widths = [max(len(row[i]) for row in rows.values()) for i in range(3)]
    for n, (instance, mine) in enumerate(_by_instance(segments).items()):
        if n:
            print()
        print(f"segments of {instance} ({store.bucket}/{store.object_name}/{instance}/):")
        for s in mine:
            seq, kind, size, when = rows[s.object_name]
            print(f"  {seq:>{widths[0]}}  {kind:<{widths[1]}}  {size:>{widths[2]}}  {when}")
        chain = _chain(mine)
        if chain["newest_base"] is None:
            head = f"no base, {plural(chain['deltas_after'], 'delta', 'deltas')}"
        else:
            head = f"newest base {chain['newest_base']}, {plural(chain['deltas_after'], 'delta', 'deltas')} after it"
        total = f"{plural(chain['segments'], 'segment', 'segments')}, {plural(chain['bytes'], 'byte', 'bytes')}"
        print(f"  {instance}: {head}; {total}")


def _ls_json(backups: list[Backup], segments: list[Segment]) -> str:
    def backup(b: Backup) -> dict[str, Any]:
        return {**dataclasses.asdict(b), "date": b.date.isoformat(), "last_modified": _when(b.last_modified)}

    def segment(s: Segment) -> dict[str, Any]:
        return {**dataclasses.asdict(s), "last_modified": _when(s.last_modified)}

    return json.dumps(
        {
            "backups": [backup(b) for b in backups],
            "segments": [segment(s) for s in segments],
            "instances": {i: _chain(mine) for i, mine in _by_instance(segments).items()},
        },
        indent=2,
    )


def _s3_ls(args: argparse.Namespace) -> int:
    store = S3Store.from_env()
    backups = store.backups(args.instance)
    segments = store.list_segments(args.instance)
    if args.json:
        print(_ls_json(backups, segments))
        return 0
    who = f" of instance {args.instance}" if args.instance else ""
    if not backups:
        logger.info("no backups%s under %s/%s_*%s", who, store.bucket, store.object_name, ".godistcache")
    else:
        rows = [(b.object_name, b.instance_id, b.date.isoformat(), f"{b.size:,}") for b in backups]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for name, instance, day, size in rows:
            print(f"{name:<{widths[0]}}  {instance:<{widths[1]}}  {day:<{widths[2]}}  {size:>{widths[3]}}")
    if not segments:
        logger.info("no segments%s under %s/%s/", who, store.bucket, store.object_name)
        return 0
    if backups:
        print()
    _print_segments(store, segments)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """``godistcache s3 ls [--instance ID] [--json]``: one line per dated backup, then each instance's segments."""
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
