"""``godistcache inspect``, ``verify`` and ``export``: snapshot files, read without loading them."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from typing import IO, Any, Optional, cast

from .. import snapshot
from .._files import atomic_write
from .._progress import ProgressBar
from ..crypto import Keyring
from ..snapshot import Header
from ._common import Failed, plural, progress_bar, run_command, stat_header

logger = logging.getLogger(__name__)


def _keyring_from_env(var: str) -> Optional[Keyring]:
    """The keyring in environment variable var (keys separated by commas, oldest first), or None if unset or empty.

    Keys are read from the environment only, never from the command line,
    where they would land in the shell's history and in ``ps``.
    """
    value = os.environ.get(var, "")
    return Keyring.from_variable(var, value) if value else None


def _key_id(header: Header) -> str:
    """The key id a file is sealed with, in hex ("" when not sealed)."""
    return header.key_id.hex() if header.key_id is not None else ""


def _no_key(var: str) -> str:
    return f"{var} is set but empty" if var in os.environ else f"{var} is not set"


def _required_keyring(args: argparse.Namespace, header: Header, path: str) -> Optional[Keyring]:
    """The keyring a sealed file needs (None for a file that is not sealed); Failed without one."""
    if not header.sealed:
        return None
    keyring = _keyring_from_env(args.key_env)
    if keyring is None:
        raise Failed(
            f"{path}: the snapshot is sealed with key id {_key_id(header)}: set {args.key_env} to that key "
            f"({_no_key(args.key_env)}; --key-env VAR names another variable)"
        )
    if _key_id(header) not in keyring.key_ids:
        raise Failed(
            f"{path}: the snapshot is sealed with key id {_key_id(header)}, which is not among the keys in "
            f"{args.key_env} (key ids {', '.join(keyring.key_ids)})"
        )
    return keyring


def _inspect(args: argparse.Namespace) -> int:
    path: str = args.file
    header, size = stat_header(path)
    keyring = None
    unread: Optional[str] = None  # why only the header was read
    if header.sealed:
        keyring = _keyring_from_env(args.key_env)
        kid = _key_id(header)
        if keyring is None:
            unread = f"sealed, and {_no_key(args.key_env)}"
        elif kid not in keyring.key_ids:
            unread = f"sealed with key id {kid}, which is not among {args.key_env}'s ({', '.join(keyring.key_ids)})"
            keyring = None
    with progress_bar(args, size, "inspect") as bar:
        info = snapshot.inspect(path, keyring, progress=bar)

    read_all = unread is None
    doc: dict[str, Any] = {
        "path": path,
        "format_version": header.version,
        "created": header.created.isoformat(),
        "created_ns": header.created_ns,
        "instance_id": header.instance_id,
        "sealed": header.sealed,
        "key_id": _key_id(header) if header.sealed else None,
        "entry_count": header.entry_count,
        "file_size": info.file_size,
        "frames": info.frames if read_all else None,
        "payload_bytes": info.payload_bytes if read_all else None,
        "live": info.live if read_all else None,
        "expired": info.expired if read_all else None,
        "pickled": info.pickled if read_all else None,
        "checked": "all" if read_all else "header",
        "authenticated": info.authenticated,
        "note": None if read_all else f"only the header could be read: {unread}",
    }
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0

    def count(n: Optional[int]) -> str:
        return "unknown" if n is None else f"{n:,}"

    if header.sealed:
        checked = "every frame authenticated" if read_all else "header only (checksum ok)"
    else:
        checked = "every frame checksummed"
    rows = [
        ("file", path),
        ("format version", str(header.version)),
        ("created", doc["created"]),
        ("instance id", header.instance_id or "(none)"),
        ("sealed", f"yes, key id {doc['key_id']}" if header.sealed else "no"),
        ("entries", f"{header.entry_count:,}"),
        ("file size", f"{info.file_size:,} bytes"),
        ("frames", count(doc["frames"])),
        ("payload bytes", count(doc["payload_bytes"])),
        ("live now", count(doc["live"])),
        ("expired now", count(doc["expired"])),
        ("pickled values", count(doc["pickled"])),
        ("checked", checked),
    ]
    if doc["note"] is not None:
        rows.append(("note", doc["note"]))
    width = max(len(name) for name, _ in rows) + 1
    print("\n".join(f"{name + ':':<{width}} {value}" for name, value in rows))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """``godistcache inspect FILE``: the header and what reading the file found."""
    return run_command(args, _inspect)


def _verify(args: argparse.Namespace) -> int:
    path: str = args.file
    header, size = stat_header(path)
    keyring = _required_keyring(args, header, path)
    with progress_bar(args, size, "verify") as bar:
        info = snapshot.verify(path, keyring, progress=bar)
    how = f"sealed with key id {_key_id(header)}" if header.sealed else "checksummed"
    print(f"OK: {plural(info.entries, 'entry', 'entries')} in {plural(info.frames, 'frame', 'frames')}, {how}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """``godistcache verify FILE``: one OK line, or FAILED and status 1."""
    return run_command(args, _verify, prefix="FAILED")


@contextlib.contextmanager
def _utf8_stdout() -> Iterator[IO[str]]:
    """sys.stdout, as a stream that writes UTF-8 whatever the locale (JSON is UTF-8)."""
    stream = sys.stdout
    try:
        utf8 = codecs.lookup(stream.encoding or "").name == "utf-8"
    except (LookupError, AttributeError):
        utf8 = False
    buffer = getattr(stream, "buffer", None)
    if utf8 or buffer is None:
        yield stream
        stream.flush()
        return
    stream.flush()
    # A StreamWriter has no buffer of its own and never closes stdout's.
    yield cast(IO[str], codecs.getwriter("utf-8")(buffer))
    buffer.flush()


def _export_to_file(path: str, output: str, keyring: Optional[Keyring], bar: ProgressBar) -> int:
    """export_json into output, through a temporary file renamed over it: never a half-written output."""
    with atomic_write(output, "w", encoding="utf-8", newline="\n") as f:
        return snapshot.export_json(path, f, keyring, progress=bar)


def _export(args: argparse.Namespace) -> int:
    path: str = args.file
    header, size = stat_header(path)
    keyring = _required_keyring(args, header, path)
    with progress_bar(args, size, "export") as bar:
        if args.output in (None, "-"):
            with _utf8_stdout() as out:
                n = snapshot.export_json(path, out, keyring, progress=bar)
            where = "stdout"
        else:
            n = _export_to_file(path, args.output, keyring, bar)
            where = args.output
    logger.info("export: %s to %s", plural(n, "entry", "entries"), where)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``godistcache export --json FILE [-o OUT]``: the live entries as one JSON document."""
    return run_command(args, _export)
